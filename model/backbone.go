package model

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hitsr/hitsr/ml"
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

func (c BackboneConfig) expected(m map[string][]int) {
	conv := func(name string, cout, cin, k int) {
		m[name+".weight"] = []int{cout, cin, k, k}
		m[name+".bias"] = []int{cout}
	}
	conv("bb.conv_in", c.Ch, 3, c.KIn)
	for i := 0; i < c.Blocks; i++ {
		conv(fmt.Sprintf("bb.block.%d", i), c.Ch, c.Ch, 3)
	}
	for _, s := range c.Scales {
		conv(fmt.Sprintf("bb.head.%d", s), 3*s*s, c.Ch, 3)
	}
}

// Backbone is the LR-resolution conv trunk with one depth-to-space head per scale.
type Backbone struct {
	Cfg BackboneConfig
	w   map[string]*ml.Tensor
	one *ml.Tensor // the constant 1 of x·2 − 1
	b   ml.Backend
}

// NewBackbone binds uploaded weights (Weights.Backbone must be set).
func NewBackbone(w *Weights) (*Backbone, error) {
	if w.Backbone == nil {
		return nil, fmt.Errorf("model: weights hold no backbone")
	}
	one, err := ml.NewTensor(w.B, ml.F32, []int{1}, []float32{1})
	if err != nil {
		return nil, err
	}
	return &Backbone{Cfg: *w.Backbone, w: w.T, one: one, b: w.B}, nil
}

// Close frees the backbone's constants (not the weights).
func (bb *Backbone) Close() { ml.Free(bb.b, bb.one) }

func (bb *Backbone) conv(c *ml.Context, x *ml.Tensor, name string) *ml.Tensor {
	w := bb.w[name+".weight"]
	return c.Conv2D(x, w, bb.w[name+".bias"], 1, w.Dim(2)/2)
}

// Features is the trunk [N, Ch, H, W] of x [N, 3, H, W] in [0, 1], after the final ReLU.
func (bb *Backbone) Features(c *ml.Context, x *ml.Tensor) *ml.Tensor {
	t := bb.conv(c, c.Sub(c.Scale(x, 2), bb.one), "bb.conv_in")
	for i := 0; i < bb.Cfg.Blocks; i++ {
		t = c.Add(t, bb.conv(c, c.ReLU(t), fmt.Sprintf("bb.block.%d", i)))
	}
	return c.ReLU(t)
}

// Head is output scale s from the trunk t: bicubic(x, s·H, s·W) + depth-to-space(head_s(t)).
func (bb *Backbone) Head(c *ml.Context, t, x *ml.Tensor, s int) *ml.Tensor {
	y := bb.conv(c, t, fmt.Sprintf("bb.head.%d", s))
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
