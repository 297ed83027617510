// Package tokenizer is hitsr's conv VQ autoencoder and HIT nested residual quantization
// (docs/model.md §3-§4), recorded on an ml.Context and batched over tiles (dim 0 = tile).
package tokenizer

import (
	"fmt"

	"github.com/hitsr/hitsr/ml"
)

// Tokenizer holds the autoencoder/quantizer weights (names as exported: enc.*, dec.*, quant.*).
type Tokenizer struct {
	Cfg Config
	W   map[string]*ml.Tensor
	one *ml.Tensor // constant [1] = 1
	b   ml.Backend
}

// New wraps uploaded weights (validated by the caller, e.g. model.Load) on backend b.
func New(cfg Config, w map[string]*ml.Tensor, b ml.Backend) (*Tokenizer, error) {
	one, err := ml.NewTensor(b, ml.F32, []int{1}, []float32{1})
	if err != nil {
		return nil, err
	}
	return &Tokenizer{Cfg: cfg, W: w, one: one, b: b}, nil
}

// Close frees the tokenizer's own constants (not the weights).
func (t *Tokenizer) Close() { ml.Free(t.b, t.one) }

func (t *Tokenizer) w(name string) *ml.Tensor {
	w, ok := t.W[name]
	if !ok {
		panic("tokenizer: missing weight " + name) // model.Load validates every name
	}
	return w
}

// conv is a named conv layer with bias; pad keeps the size at stride 1.
func (t *Tokenizer) conv(c *ml.Context, x *ml.Tensor, name string, stride int) *ml.Tensor {
	w := t.w(name + ".weight")
	return c.Conv2D(x, w, t.w(name+".bias"), stride, w.Dim(2)/2)
}

// res is Res(c): x + conv2(act(conv1(act(x)))).
func (t *Tokenizer) res(c *ml.Context, x *ml.Tensor, name string) *ml.Tensor {
	h := t.conv(c, c.SiLU(x), name+".conv1", 1)
	return c.Add(x, t.conv(c, c.SiLU(h), name+".conv2", 1))
}

// Encode is E: images [B,3,S,S] in [0,1] → latents [B,z,S/f,S/f].
func (t *Tokenizer) Encode(c *ml.Context, x *ml.Tensor) *ml.Tensor {
	h := t.conv(c, c.Sub(c.Scale(x, 2), t.one), "enc.conv_in", 1)
	for l := range t.Cfg.EncCh {
		for i := 0; i < t.Cfg.ResBlocks; i++ {
			h = t.res(c, h, fmt.Sprintf("enc.down.%d.res.%d", l, i))
		}
		h = t.conv(c, h, fmt.Sprintf("enc.down.%d.conv", l), 2)
	}
	h = t.res(c, h, "enc.mid")
	return t.conv(c, c.SiLU(h), "enc.conv_out", 1)
}

// Decode is D(f̂, cond, n): f̂ and cond [B,z,G,G] (cond unused for fidelity "pure"), lr
// [B,3,tile,tile] (cond only) → image [B,3,fG,fG].
func (t *Tokenizer) Decode(c *ml.Context, fhat, cond *ml.Tensor, n int, lr *ml.Tensor) *ml.Tensor {
	x := fhat
	if t.Cfg.Fidelity == FidelityCond {
		x = c.Concat(1, fhat, cond)
	}
	h := t.conv(c, x, "dec.conv_in", 1)
	emb := c.Slice(t.w("dec.seg_emb"), 0, n, n+1)
	h = c.Add(h, c.Reshape(emb, 1, -1, 1, 1))
	h = t.res(c, h, "dec.mid")
	for l := len(t.Cfg.EncCh) - 1; l >= 0; l-- {
		for i := 0; i < t.Cfg.ResBlocks; i++ {
			h = t.res(c, h, fmt.Sprintf("dec.up.%d.res.%d", l, i))
		}
		h = c.Upsample(h, 2*h.Dim(2), 2*h.Dim(3), ml.Nearest)
		h = t.conv(c, h, fmt.Sprintf("dec.up.%d.conv", l), 1)
	}
	y := t.conv(c, c.SiLU(h), "dec.conv_out", 1)
	if t.Cfg.Fidelity == FidelityCond {
		return c.Add(y, Resize(c, lr, y.Dim(2), ml.Bicubic))
	}
	return c.Scale(c.Add(y, t.one), 0.5)
}

// Resize interpolates x to s×s (identity when already s×s); Bicubic is plain (no antialias).
func Resize(c *ml.Context, x *ml.Tensor, s int, mode ml.Interp) *ml.Tensor {
	if x.Dim(2) == s && x.Dim(3) == s {
		return x
	}
	return c.Upsample(x, s, s, mode)
}

// AreaDown is F.interpolate(mode="area") to p×p (identity when already p×p).
func AreaDown(c *ml.Context, x *ml.Tensor, p int) *ml.Tensor {
	if x.Dim(2) == p && x.Dim(3) == p {
		return x
	}
	return c.AreaDown(x, p, p)
}

// CondLatent is c = E(bicubic_up(lr, 4·tile)) for lr [B,3,tile,tile].
func (t *Tokenizer) CondLatent(c *ml.Context, lr *ml.Tensor) *ml.Tensor {
	return t.Encode(c, Resize(c, lr, t.Cfg.Tile<<(t.Cfg.NSeg()-1), ml.Bicubic))
}

// DecodeSeg decodes segment n's f̂ with condition latent cond (at Gmax) and lr.
func (t *Tokenizer) DecodeSeg(c *ml.Context, fhat, cond *ml.Tensor, n int, lr *ml.Tensor) *ml.Tensor {
	cfg := t.Cfg
	if cfg.RQ == RQPlain {
		return AreaDown(c, t.Decode(c, fhat, cond, cfg.NSeg()-1, lr), cfg.Tile<<n)
	}
	return t.Decode(c, fhat, AreaDown(c, cond, cfg.G(n)), n, lr)
}
