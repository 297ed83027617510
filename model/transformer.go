package model

import (
	"fmt"
	"math"
	"slices"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/model/nn"
	"github.com/hitsr/hitsr/tokenizer"
)

// Model is the tokenizer plus the block-causal next-scale transformer.
type Model struct {
	Cfg Config
	W   *Weights
	Tok *tokenizer.Tokenizer
	tr  Transformer
}

// Transformer is the next-scale transformer's weights (docs/model.md §5).
type Transformer struct {
	CondProj  nn.Linear    // cond_proj: condition channels (v1 z, v2 cond_ch, ×cell² for cond "embed") → width
	WordEmbed nn.Linear    // word_embed: z → width
	Pos       *ml.Tensor   // pos [width, Gmax, Gmax]
	Start     *ml.Tensor   // start [width]
	Lvl       *ml.Tensor   // lvl [TCond>0 + K, width]: condition (prefix only), then each token scale
	Blocks    []Block      // blocks.i
	LnF       nn.LayerNorm // ln_f
	Head      nn.Linear    // head: width → vocab
}

// Block is one pre-norm transformer block: blocks.i.*.
type Block struct {
	LN1, LN2  nn.LayerNorm // ln1, ln2
	QKV, Proj nn.Linear    // attn.qkv (width → 3·width), attn.proj
	FC1, FC2  nn.Linear    // mlp.fc1 (width → mlp·width), mlp.fc2
}

func newTransformer(d *nn.Decl, c Config) Transformer {
	w := c.Width
	condIn := c.Z // v1: the condition latent; v2: the backbone's features
	if c.V2() {
		condIn = c.CondCh
	}
	if c.Cond == tokenizer.CondEmbed {
		condIn *= c.Cell() * c.Cell()
	}
	t := Transformer{
		CondProj:  d.Linear("cond_proj", w, condIn),
		WordEmbed: d.Linear("word_embed", w, c.Z),
		Pos:       d.Tensor("pos", w, c.Gmax(), c.Gmax()),
		Start:     d.Tensor("start", w),
		Lvl:       d.Tensor("lvl", c.K()+c.lvl0(), w),
		LnF:       d.LayerNorm("ln_f", w),
		Head:      d.Linear("head", c.Vocab, w),
	}
	for i := range c.Depth {
		b := d.Sub("blocks.%d", i)
		t.Blocks = append(t.Blocks, Block{
			LN1:  b.LayerNorm("ln1", w),
			LN2:  b.LayerNorm("ln2", w),
			QKV:  b.Linear("attn.qkv", 3*w, w),
			Proj: b.Linear("attn.proj", w, w),
			FC1:  b.Linear("mlp.fc1", c.MLP*w, w),
			FC2:  b.Linear("mlp.fc2", w, c.MLP*w),
		})
	}
	return t
}

// New builds a model on uploaded weights (the transformer must be present).
func New(w *Weights) (*Model, error) {
	if !w.Transformer {
		return nil, fmt.Errorf("model: weights hold no transformer")
	}
	tr, err := nn.Bind(w.T, func(d *nn.Decl) Transformer { return newTransformer(d, w.Cfg) })
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	tok, err := tokenizer.New(w.Cfg.Config, w.T, w.B)
	if err != nil {
		return nil, err
	}
	return &Model{Cfg: w.Cfg, W: w, Tok: tok, tr: tr}, nil
}

// Close frees the model's constants (not the weights).
func (m *Model) Close() { m.Tok.Close() }

// lvl0 is the lvl row of the first token scale (after the condition's, if it has one).
func (c Config) lvl0() int { return min(c.TCond(), 1) }

// posLvl is area_down(pos, p) flattened row-major [p², width] plus lvl[level].
func (m *Model) posLvl(c *ml.Context, p, level int) *ml.Tensor {
	w, G := m.Cfg.Width, m.Cfg.Gmax()
	pos := tokenizer.AreaDown(c, c.Reshape(m.tr.Pos, 1, w, G, G), p)
	pos = c.Permute(c.Reshape(pos, w, p*p), 1, 0)
	return c.Add(pos, c.Slice(m.tr.Lvl, 0, level, level+1))
}

// tokens flattens a latent grid [B,z,p,p] to a sequence [B,p²,z].
func tokens(c *ml.Context, x *ml.Tensor) *ml.Tensor {
	return c.Permute(c.Reshape(x, x.Dim(0), x.Dim(1), -1), 0, 2, 1)
}

// Condition is the transformer's condition from v2 tiles' features [B,cond_ch,tile,tile]: the
// features area-pooled to Gmax (cond "prefix") or the features themselves ("embed").
func (m *Model) Condition(c *ml.Context, feat *ml.Tensor) *ml.Tensor {
	if m.Cfg.Cond == tokenizer.CondEmbed {
		return feat
	}
	return tokenizer.AreaDown(c, feat, m.Cfg.Gmax())
}

// EmbedCond embeds the condition: for cond "prefix", cond [B,z (v1) or cond_ch (v2),Gmax,Gmax] →
// the condition tokens [B,Gmax²,width]; for "embed", the tiles' features [B,cond_ch,tile,tile] →
// space-to-depth by the cell (channel-major, then row, column in the cell) → cond_proj → the
// condition grid [B,width,Gmax,Gmax], run as one cell×cell convolution at stride cell (that input
// order is a conv weight's [width, cond_ch, cell, cell]).
func (m *Model) EmbedCond(c *ml.Context, cond *ml.Tensor) *ml.Tensor {
	if m.Cfg.Cond == tokenizer.CondPrefix {
		x := m.tr.CondProj.Forward(c, tokens(c, cond))
		return c.Add(x, m.posLvl(c, m.Cfg.Gmax(), 0))
	}
	s := m.Cfg.Cell()
	w := c.Reshape(m.tr.CondProj.Weight, m.Cfg.Width, cond.Dim(1), s, s)
	return c.Conv2D(cond, w, m.tr.CondProj.Bias, s, 0)
}

// EmbedScale embeds 0-based scale k: start for k = 0, else word_embed(x_k) with x_k
// [B,z,p,p] the area-downsampled f̂ before scale k; with a condition grid (cond "embed"), plus
// the grid area-pooled to p. Result [B,p²,width].
func (m *Model) EmbedScale(c *ml.Context, k int, xk *ml.Tensor, B int, grid *ml.Tensor) *ml.Tensor {
	p := m.Cfg.Scales()[k]
	pl := m.posLvl(c, p, k+m.Cfg.lvl0())
	var x *ml.Tensor
	if k == 0 {
		zero := c.Input(ml.F32, []int{B, 1, 1}, make([]float32, B))
		x = c.Add(c.Add(zero, c.Reshape(pl, 1, p*p, m.Cfg.Width)), m.tr.Start)
	} else {
		x = c.Add(m.tr.WordEmbed.Forward(c, tokens(c, xk)), pl)
	}
	if grid != nil {
		x = c.Add(x, tokens(c, tokenizer.AreaDown(c, grid, p)))
	}
	return x
}

// prefill embeds the condition: the condition tokens to run first (prefix), or the grid each
// scale adds (embed).
func (m *Model) prefill(c *ml.Context, cond *ml.Tensor) (seq, grid *ml.Tensor) {
	e := m.EmbedCond(c, cond)
	if m.Cfg.Cond == tokenizer.CondEmbed {
		return nil, e
	}
	return e, nil
}

// cache is one block's KV cache [B, heads, T, head size].
type cache struct{ k, v *ml.Tensor }

// block runs transformer block i on x [B,T,width]. With a cache, x's keys/values are written
// at position start and attention sees positions < start+T; otherwise limits (or none) apply.
// kvOnly stops after the cache write (the condition prefill's last block) and returns nil.
func (m *Model) block(c *ml.Context, i int, x *ml.Tensor, kv *cache, start int, limits *ml.Tensor, kvOnly bool) *ml.Tensor {
	cfg := m.Cfg
	B, T, w, H := x.Dim(0), x.Dim(1), cfg.Width, cfg.Heads
	d := w / H
	l := m.tr.Blocks[i]
	qkv := l.QKV.Forward(c, l.LN1.Forward(c, x, cfg.Eps))
	heads := func(j int) *ml.Tensor {
		return c.Permute(c.Reshape(c.Slice(qkv, 2, j*w, (j+1)*w), B, T, H, d), 0, 2, 1, 3)
	}
	k, v := heads(1), heads(2)
	n := T
	if kv != nil {
		c.SetSlice(kv.k, k, 2, start)
		c.SetSlice(kv.v, v, 2, start)
		k, v, n = kv.k, kv.v, start+T
		if kvOnly {
			return nil
		}
	}
	a := c.Attention(heads(0), k, v, limits, n, float32(1/math.Sqrt(float64(d))))
	a = c.Reshape(c.Permute(a, 0, 2, 1, 3), B, T, w)
	x = c.Add(x, l.Proj.Forward(c, a))
	h := l.FC2.Forward(c, c.GELU(l.FC1.Forward(c, l.LN2.Forward(c, x, cfg.Eps))))
	return c.Add(x, h)
}

// Head is head(ln_f(x)): logits [B,T,vocab].
func (m *Model) Head(c *ml.Context, x *ml.Tensor) *ml.Tensor {
	return m.tr.Head.Forward(c, m.tr.LnF.Forward(c, x, m.Cfg.Eps))
}

// Forward is teacher forcing: cond as for GenerateCond, xs the K−1 inputs of scales 1..K−1
// (tokenizer.Replay). Returns the input sequence [B,T,width] and logits [B,Σp²,vocab].
func (m *Model) Forward(c *ml.Context, cond *ml.Tensor, xs []*ml.Tensor) (embed, logits *ml.Tensor) {
	cfg := m.Cfg
	B := cond.Dim(0)
	pre, grid := m.prefill(c, cond)
	var seq []*ml.Tensor
	if pre != nil {
		seq = append(seq, pre)
	}
	for k := 0; k < cfg.K(); k++ {
		var xk *ml.Tensor
		if k > 0 {
			xk = xs[k-1]
		}
		seq = append(seq, m.EmbedScale(c, k, xk, B, grid))
	}
	embed = c.Concat(1, seq...)
	T := embed.Dim(1)
	limits := c.Input(ml.I32, []int{T}, ml.BlockCausalLimits(cfg.Blocks(), 0, T))
	x := embed
	for i := 0; i < cfg.Depth; i++ {
		x = m.block(c, i, x, nil, 0, limits, false)
	}
	return embed, m.Head(c, c.Slice(x, 1, cfg.TCond(), T))
}

// Generation holds the (not yet computed) results of one generation pass.
type Generation struct {
	Cond   *ml.Tensor   // the condition GenerateCond was given
	Tokens []*ml.Tensor // I32 [B,p_k²] per scale
	Logits []*ml.Tensor // [B,p_k²,vocab] per scale
	Fhat   []*ml.Tensor // f̂ per completed segment
	Images []*ml.Tensor // v1: [B,3,tile·2ⁿ,tile·2ⁿ] per completed segment (×1, ×2, ×4)
}

// Generate records one greedy KV-cache pass for lr tiles [B,3,tile,tile] (model v1), stopping
// after nseg segments (≤ 0: all) and decoding the listed segments (none listed: all; the others'
// Images are nil). Everything stays on the device: argmax → gather → φ → carry-up →
// area_down → next input; one Compute runs the whole pass.
func (m *Model) Generate(c *ml.Context, lr *ml.Tensor, nseg int, decode ...int) *Generation {
	g := m.GenerateCond(c, m.Tok.CondLatent(c, lr), nseg, Sampling{}, nil)
	for n, fhat := range g.Fhat {
		var img *ml.Tensor
		if len(decode) == 0 || slices.Contains(decode, n) {
			img = m.Tok.DecodeSeg(c, fhat, g.Cond, n, lr)
		}
		g.Images = append(g.Images, img)
	}
	return g
}

// GenerateCond is Generate's transformer pass from a condition (v1: the condition latent
// [B,z,Gmax,Gmax]; v2: Condition of the tiles' backbone features): tokens,
// logits and f̂ of segments 0..nseg−1 (≤ 0: all), no images. A run that stops early never
// computes the later segments' tokens, which the earlier ones do not depend on. Tokens are
// picked as s says; a sampled draw is keyed by the tile origins (one per batch item).
func (m *Model) GenerateCond(c *ml.Context, cond *ml.Tensor, nseg int, s Sampling, origins [][2]int) *Generation {
	cfg := m.Cfg
	if nseg <= 0 || nseg > cfg.NSeg() {
		nseg = cfg.NSeg()
	}
	B, H, d := cond.Dim(0), cfg.Heads, cfg.Width/cfg.Heads
	T := cfg.TCond() + cfg.NTokens()
	g := &Generation{Cond: cond}
	kvs := make([]*cache, cfg.Depth)
	zeros := make([]float32, B*H*T*d)
	for i := range kvs {
		kvs[i] = &cache{c.Input(ml.F32, []int{B, H, T, d}, zeros), c.Input(ml.F32, []int{B, H, T, d}, zeros)}
	}
	x, grid := m.prefill(c, cond)
	if x != nil {
		for i := range kvs {
			x = m.block(c, i, x, kvs[i], 0, nil, i == len(kvs)-1)
		}
	}
	pos := cfg.TCond()
	fhat := m.Tok.Fhat0(c, B)
	seg := cfg.SegOf()
	for k, p := range cfg.Scales() {
		if seg[k] >= nseg {
			break
		}
		fhat = m.Tok.Carry(c, fhat, k)
		var xk *ml.Tensor
		if k > 0 {
			xk = tokenizer.AreaDown(c, fhat, p)
		}
		x = m.EmbedScale(c, k, xk, B, grid)
		for i := range kvs {
			x = m.block(c, i, x, kvs[i], pos, nil, false)
		}
		pos += p * p
		logits := m.Head(c, x)
		ids := m.pick(c, logits, s, origins, k)
		g.Logits, g.Tokens = append(g.Logits, logits), append(g.Tokens, ids)
		fhat = m.Tok.Add(c, fhat, k, ids)
		if cfg.LastOfSeg(k) {
			g.Fhat = append(g.Fhat, fhat)
		}
	}
	return g
}

// pick is scale k's tokens from its logits [B,p²,vocab]: the argmax, or drawn as s says with
// each batch item's uniforms keyed by its tile origin.
func (m *Model) pick(c *ml.Context, logits *ml.Tensor, s Sampling, origins [][2]int, k int) *ml.Tensor {
	if s.Greedy() {
		return c.Argmax(logits)
	}
	n := logits.Dim(1)
	u := make([]float32, 0, len(origins)*n)
	for _, o := range origins {
		for i := range n {
			u = append(u, s.Uniform(o[0], o[1], k, i))
		}
	}
	return c.SampleTopK(logits, c.Input(ml.F32, []int{len(origins), n}, u), min(s.TopK, m.Cfg.Vocab), float32(s.Temperature))
}
