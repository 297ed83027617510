// Package tokenizer is hitsr's conv VQ autoencoder and HIT nested residual quantization
// (docs/model.md §3-§4), recorded on an ml.Context and batched over tiles (dim 0 = tile).
package tokenizer

import (
	"fmt"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/model/nn"
)

// Tokenizer is the tokenizer's layers on a backend.
type Tokenizer struct {
	Cfg Config
	l   Layers
	one *ml.Tensor // constant [1] = 1
	b   ml.Backend
}

// New binds the uploaded weights w (by name, as declared by NewLayers) on backend b.
func New(cfg Config, w map[string]*ml.Tensor, b ml.Backend) (*Tokenizer, error) {
	l, err := nn.Bind(w, func(d *nn.Decl) Layers { return NewLayers(d, cfg) })
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	one, err := ml.NewTensor(b, ml.F32, []int{1}, []float32{1})
	if err != nil {
		return nil, err
	}
	return &Tokenizer{Cfg: cfg, l: l, one: one, b: b}, nil
}

// Close frees the tokenizer's own constants (not the weights).
func (t *Tokenizer) Close() { ml.Free(t.b, t.one) }

// forward is Res(c): x + conv2(act(conv1(act(x)))).
func (r ResBlock) forward(c *ml.Context, x *ml.Tensor) *ml.Tensor {
	h := r.Conv1.Forward(c, c.SiLU(x), 1)
	return c.Add(x, r.Conv2.Forward(c, c.SiLU(h), 1))
}

// Encode is E: images [B,3,S,S] in [0,1] → latents [B,z,S/f,S/f] (model v1).
func (t *Tokenizer) Encode(c *ml.Context, x *ml.Tensor) *ml.Tensor {
	e := t.l.Enc
	h := e.ConvIn.Forward(c, c.Sub(c.Scale(x, 2), t.one), 1)
	for _, lv := range e.Down {
		for _, r := range lv.Res {
			h = r.forward(c, h)
		}
		h = lv.Conv.Forward(c, h, 2)
	}
	h = e.Mid.forward(c, h)
	return e.ConvOut.Forward(c, c.SiLU(h), 1)
}

// Decode is D(f̂, cond, n): f̂ and cond [B,z,G,G] (cond unused for fidelity "pure"), lr
// [B,3,tile,tile] (cond only) → image [B,3,fG,fG].
func (t *Tokenizer) Decode(c *ml.Context, fhat, cond *ml.Tensor, n int, lr *ml.Tensor) *ml.Tensor {
	x := fhat
	if t.Cfg.Fidelity == FidelityCond {
		x = c.Concat(1, fhat, cond)
	}
	d := t.l.Dec
	h := d.ConvIn.Forward(c, x, 1)
	emb := c.Slice(d.SegEmb, 0, n, n+1)
	h = c.Add(h, c.Reshape(emb, 1, -1, 1, 1))
	h = d.Mid.forward(c, h)
	for l := len(d.Up) - 1; l >= 0; l-- {
		for _, r := range d.Up[l].Res {
			h = r.forward(c, h)
		}
		h = c.Upsample(h, 2*h.Dim(2), 2*h.Dim(3), ml.Nearest)
		h = d.Up[l].Conv.Forward(c, h, 1)
	}
	y := d.ConvOut.Forward(c, c.SiLU(h), 1)
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
