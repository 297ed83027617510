package model

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/model/nn"
)

// BackboneConfig is the fidelity backbone's config (docs/model.md §8), JSON in the safetensors
// metadata under "backbone".
type BackboneConfig struct {
	Ch     int   `json:"ch"`     // trunk channels
	Blocks int   `json:"blocks"` // residual blocks t + conv3×3(relu(t))
	KIn    int   `json:"k_in"`   // input conv kernel (odd)
	Scales []int `json:"scales"` // output scales, each with its own head (1, 2, 4)
}

const maxBackboneCh, maxBackboneBlocks = 1024, 256

// ParseBackboneConfig decodes and validates a backbone config JSON.
func ParseBackboneConfig(s string) (BackboneConfig, error) {
	var c BackboneConfig
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("backbone config: %w", err)
	}
	switch {
	case c.Ch < 1 || c.Ch > maxBackboneCh:
		return c, fmt.Errorf("backbone config: ch %d outside 1..%d", c.Ch, maxBackboneCh)
	case c.Blocks < 0 || c.Blocks > maxBackboneBlocks:
		return c, fmt.Errorf("backbone config: blocks %d outside 0..%d", c.Blocks, maxBackboneBlocks)
	case c.KIn < 1 || c.KIn%2 == 0 || c.KIn > 15:
		return c, fmt.Errorf("backbone config: k_in %d must be odd, 1..15", c.KIn)
	case len(c.Scales) == 0:
		return c, fmt.Errorf("backbone config: no scales")
	}
	for i, s := range c.Scales {
		if (s != 1 && s != 2 && s != 4 && s != 8) || slices.Index(c.Scales, s) != i {
			return c, fmt.Errorf("backbone config: scales %v must be distinct powers of two ≤ 8", c.Scales)
		}
	}
	return c, nil
}

// Radius is the LR context an output pixel depends on, per side: the halo of a split frame.
// Input conv, one 3×3 per block, the 3×3 head, and the bicubic skip's 2 taps (inside it).
func (c BackboneConfig) Radius() int { return c.KIn/2 + c.Blocks + 1 }

// BackboneLayers are the backbone's weights (docs/model.md §8): bb.*.
type BackboneLayers struct {
	ConvIn nn.Conv2D         // conv_in: k_in × k_in, 3 → ch
	Blocks []nn.Conv2D       // block.i: 3×3, ch → ch
	Heads  map[int]nn.Conv2D // head.s per output scale s: 3×3, ch → 3·s²
}

func newBackboneLayers(d *nn.Decl, c BackboneConfig) BackboneLayers {
	d = d.Sub("bb")
	l := BackboneLayers{ConvIn: d.Conv2D("conv_in", c.Ch, 3, c.KIn), Heads: map[int]nn.Conv2D{}}
	for i := range c.Blocks {
		l.Blocks = append(l.Blocks, d.Conv2D(fmt.Sprintf("block.%d", i), c.Ch, c.Ch, 3))
	}
	for _, s := range c.Scales {
		l.Heads[s] = d.Conv2D(fmt.Sprintf("head.%d", s), 3*s*s, c.Ch, 3)
	}
	return l
}

// expected adds the backbone's weights, name → shape, to m.
func (c BackboneConfig) expected(m map[string][]int) {
	maps.Copy(m, nn.Shapes(func(d *nn.Decl) { newBackboneLayers(d, c) }))
}

// Backbone is the LR-resolution conv trunk with one depth-to-space head per scale.
type Backbone struct {
	Cfg BackboneConfig
	l   BackboneLayers
	one *ml.Tensor // the constant 1 of x·2 − 1
	b   ml.Backend
}

// NewBackbone binds uploaded weights (Weights.Backbone must be set).
func NewBackbone(w *Weights) (*Backbone, error) {
	if w.Backbone == nil {
		return nil, fmt.Errorf("model: weights hold no backbone")
	}
	l, err := nn.Bind(w.T, func(d *nn.Decl) BackboneLayers { return newBackboneLayers(d, *w.Backbone) })
	if err != nil {
		return nil, fmt.Errorf("model: backbone: %w", err)
	}
	one, err := ml.NewTensor(w.B, ml.F32, []int{1}, []float32{1})
	if err != nil {
		return nil, err
	}
	return &Backbone{Cfg: *w.Backbone, l: l, one: one, b: w.B}, nil
}

// Close frees the backbone's constants (not the weights).
func (bb *Backbone) Close() { ml.Free(bb.b, bb.one) }

// Features is the trunk [N, Ch, H, W] of x [N, 3, H, W] in [0, 1], after the final ReLU.
func (bb *Backbone) Features(c *ml.Context, x *ml.Tensor) *ml.Tensor {
	t := bb.l.ConvIn.Forward(c, c.Sub(c.Scale(x, 2), bb.one), 1)
	for _, b := range bb.l.Blocks {
		t = c.Add(t, b.Forward(c, c.ReLU(t), 1))
	}
	return c.ReLU(t)
}

// Head is output scale s from the trunk t: bicubic(x, s·H, s·W) + depth-to-space(head_s(t)).
func (bb *Backbone) Head(c *ml.Context, t, x *ml.Tensor, s int) *ml.Tensor {
	y := bb.l.Heads[s].Forward(c, t, 1)
	if s == 1 {
		return c.Add(x, y)
	}
	return c.Add(c.Upsample(x, x.Dim(2)*s, x.Dim(3)*s, ml.Bicubic), c.PixelShuffle(y, s))
}

// Forward returns x at each requested scale (each must be one of Cfg.Scales) from one trunk pass.
func (bb *Backbone) Forward(c *ml.Context, x *ml.Tensor, scales ...int) []*ml.Tensor {
	t := bb.Features(c, x)
	out := make([]*ml.Tensor, len(scales))
	for i, s := range scales {
		out[i] = bb.Head(c, t, x, s)
	}
	return out
}
