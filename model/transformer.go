package model

import (
	"fmt"
	"math"
	"slices"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/tokenizer"
)

// Model is the tokenizer plus the block-causal next-scale transformer.
type Model struct {
	Cfg Config
	W   *Weights
	Tok *tokenizer.Tokenizer
}

// New builds a model on uploaded weights (the transformer must be present).
func New(w *Weights) (*Model, error) {
	if !w.Transformer {
		return nil, fmt.Errorf("model: weights hold no transformer")
	}
	tok, err := tokenizer.New(w.Cfg.Config, w.T, w.B)
	if err != nil {
		return nil, err
	}
	return &Model{Cfg: w.Cfg, W: w, Tok: tok}, nil
}

// Close frees the model's constants (not the weights).
func (m *Model) Close() { m.Tok.Close() }

func (m *Model) t(name string) *ml.Tensor { return m.W.T[name] }

// posLvl is area_down(pos, p) flattened row-major [p², width] plus lvl[level].
func (m *Model) posLvl(c *ml.Context, p, level int) *ml.Tensor {
	w, G := m.Cfg.Width, m.Cfg.Gmax()
	pos := tokenizer.AreaDown(c, c.Reshape(m.t("pos"), 1, w, G, G), p)
	pos = c.Permute(c.Reshape(pos, w, p*p), 1, 0)
	return c.Add(pos, c.Slice(m.t("lvl"), 0, level, level+1))
}

// tokens flattens a latent grid [B,z,p,p] to a sequence [B,p²,z].
func tokens(c *ml.Context, x *ml.Tensor) *ml.Tensor {
	return c.Permute(c.Reshape(x, x.Dim(0), x.Dim(1), -1), 0, 2, 1)
}

// EmbedCond embeds the condition cond [B,z (v1) or cond_ch (v2),Gmax,Gmax] → [B,Gmax²,width].
func (m *Model) EmbedCond(c *ml.Context, cond *ml.Tensor) *ml.Tensor {
	x := c.Linear(tokens(c, cond), m.t("cond_proj.weight"), m.t("cond_proj.bias"))
	return c.Add(x, m.posLvl(c, m.Cfg.Gmax(), 0))
}

// EmbedScale embeds 0-based scale k: start for k = 0, else word_embed(x_k) with x_k
// [B,z,p,p] the area-downsampled f̂ before scale k. Result [B,p²,width].
func (m *Model) EmbedScale(c *ml.Context, k int, xk *ml.Tensor, B int) *ml.Tensor {
	p := m.Cfg.Scales()[k]
	pl := m.posLvl(c, p, k+1)
	if k == 0 {
		zero := c.Input(ml.F32, []int{B, 1, 1}, make([]float32, B))
		return c.Add(c.Add(zero, c.Reshape(pl, 1, p*p, m.Cfg.Width)), m.t("start"))
	}
	x := c.Linear(tokens(c, xk), m.t("word_embed.weight"), m.t("word_embed.bias"))
	return c.Add(x, pl)
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
	pre := fmt.Sprintf("blocks.%d.", i)
	lin := func(x *ml.Tensor, name string) *ml.Tensor {
		return c.Linear(x, m.t(pre+name+".weight"), m.t(pre+name+".bias"))
	}
	ln := func(x *ml.Tensor, name string) *ml.Tensor {
		return c.LayerNorm(x, m.t(pre+name+".weight"), m.t(pre+name+".bias"), float32(cfg.Eps))
	}
	qkv := lin(ln(x, "ln1"), "attn.qkv")
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
	x = c.Add(x, lin(a, "attn.proj"))
	h := lin(c.GELU(lin(ln(x, "ln2"), "mlp.fc1")), "mlp.fc2")
	return c.Add(x, h)
}

// Head is head(ln_f(x)): logits [B,T,vocab].
func (m *Model) Head(c *ml.Context, x *ml.Tensor) *ml.Tensor {
	x = c.LayerNorm(x, m.t("ln_f.weight"), m.t("ln_f.bias"), float32(m.Cfg.Eps))
	return c.Linear(x, m.t("head.weight"), m.t("head.bias"))
}

// Forward is teacher forcing: cond [B,z,Gmax,Gmax], xs the K−1 inputs of scales 1..K−1
// (tokenizer.Replay). Returns the input sequence [B,T,width] and logits [B,Σp²,vocab].
func (m *Model) Forward(c *ml.Context, cond *ml.Tensor, xs []*ml.Tensor) (embed, logits *ml.Tensor) {
	cfg := m.Cfg
	B := cond.Dim(0)
	seq := []*ml.Tensor{m.EmbedCond(c, cond)}
	for k := 0; k < cfg.K(); k++ {
		var xk *ml.Tensor
		if k > 0 {
			xk = xs[k-1]
		}
		seq = append(seq, m.EmbedScale(c, k, xk, B))
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

// Generation holds the (not yet computed) results of one greedy pass.
type Generation struct {
	Cond   *ml.Tensor   // condition [B,z (v1) or cond_ch (v2),Gmax,Gmax]
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
	g := m.GenerateCond(c, m.Tok.CondLatent(c, lr), nseg)
	for n, fhat := range g.Fhat {
		var img *ml.Tensor
		if len(decode) == 0 || slices.Contains(decode, n) {
			img = m.Tok.DecodeSeg(c, fhat, g.Cond, n, lr)
		}
		g.Images = append(g.Images, img)
	}
	return g
}

// GenerateCond is Generate's transformer pass from a condition [B,cond channels,Gmax,Gmax]
// (v1: the condition latent; v2: the tiles' backbone features area-pooled to Gmax): tokens,
// logits and f̂ of segments 0..nseg−1 (≤ 0: all), no images. A run that stops early never
// computes the later segments' tokens, which the earlier ones do not depend on.
func (m *Model) GenerateCond(c *ml.Context, cond *ml.Tensor, nseg int) *Generation {
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
	x := m.EmbedCond(c, cond)
	for i := range kvs {
		x = m.block(c, i, x, kvs[i], 0, nil, i == len(kvs)-1)
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
		x = m.EmbedScale(c, k, xk, B)
		for i := range kvs {
			x = m.block(c, i, x, kvs[i], pos, nil, false)
		}
		pos += p * p
		logits := m.Head(c, x)
		ids := c.Argmax(logits)
		g.Logits, g.Tokens = append(g.Logits, logits), append(g.Tokens, ids)
		fhat = m.Tok.Add(c, fhat, k, ids)
		if cfg.LastOfSeg(k) {
			g.Fhat = append(g.Fhat, fhat)
		}
	}
	return g
}
