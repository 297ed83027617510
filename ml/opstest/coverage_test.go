package opstest

import (
	"sync"
	"testing"

	"github.com/hitsr/hitsr/ml"
)

// opSamples holds at least one small case per op and per activation. TestEveryOp runs them on
// every backend, so a new op (or activation) without a sample here, without a reference in
// Ref, or without a case on some backend fails.
var opSamples = []opCase{
	{name: "matmul", build: func(g *gen) *ml.Tensor { return g.ctx.MatMul(g.f32(2, 3, 4), g.f32(4, 5), false, false) }},
	{name: "conv2d", build: func(g *gen) *ml.Tensor {
		return g.ctx.Conv2D(g.f32(1, 3, 5, 6), g.f32(4, 3, 3, 3), g.f32(4), 1, 1)
	}},
	{name: "group_norm", build: func(g *gen) *ml.Tensor {
		return g.ctx.GroupNorm(g.f32(1, 4, 3, 3), 2, g.f32(4), g.f32(4), 1e-5)
	}},
	{name: "layer_norm", build: func(g *gen) *ml.Tensor { return g.ctx.LayerNorm(g.f32(3, 8), g.f32(8), g.f32(8), 1e-5) }},
	{name: "gelu", build: func(g *gen) *ml.Tensor { return g.ctx.GELU(g.uniform(-4, 4, 9)) }},
	{name: "silu", build: func(g *gen) *ml.Tensor { return g.ctx.SiLU(g.uniform(-4, 4, 9)) }},
	{name: "relu", build: func(g *gen) *ml.Tensor { return g.ctx.ReLU(g.uniform(-4, 4, 9)) }},
	{name: "softmax", build: func(g *gen) *ml.Tensor { return g.ctx.Softmax(g.f32(2, 7)) }},
	{name: "attention", build: func(g *gen) *ml.Tensor {
		return g.ctx.Attention(g.f32(1, 2, 3, 4), g.f32(1, 2, 5, 4), g.f32(1, 2, 5, 4), nil, 5, 0.5)
	}},
	{name: "add", build: func(g *gen) *ml.Tensor { return g.ctx.Add(g.f32(2, 3), g.f32(3)) }},
	{name: "sub", build: func(g *gen) *ml.Tensor { return g.ctx.Sub(g.f32(2, 3), g.f32(2, 1)) }},
	{name: "mul", build: func(g *gen) *ml.Tensor { return g.ctx.Mul(g.f32(2, 3), g.f32(2, 3)) }},
	{name: "scale", build: func(g *gen) *ml.Tensor { return g.ctx.Scale(g.f32(5), 3) }},
	{name: "upsample", build: func(g *gen) *ml.Tensor { return g.ctx.Upsample(g.f32(1, 2, 3, 4), 6, 8, ml.Bilinear) }},
	{name: "area_down", build: func(g *gen) *ml.Tensor { return g.ctx.AreaDown(g.f32(1, 2, 6, 8), 3, 4) }},
	{name: "nearest_code", build: func(g *gen) *ml.Tensor { return g.ctx.NearestCode(g.f32(4, 3), g.f32(6, 3)) }},
	{name: "gather", build: func(g *gen) *ml.Tensor { return g.ctx.Gather(g.f32(6, 3), g.ints(0, 6, 4)) }},
	{name: "argmax", build: func(g *gen) *ml.Tensor { return g.ctx.Argmax(g.f32(3, 5)) }},
	{name: "sample_topk", build: func(g *gen) *ml.Tensor { return g.ctx.SampleTopK(g.f32(3, 5), uniforms(g, 3), 3, 0.5) }},
	{name: "pixel_shuffle", exact: true, build: func(g *gen) *ml.Tensor { return g.ctx.PixelShuffle(g.f32(1, 8, 2, 3), 2) }},
	{name: "concat", exact: true, build: func(g *gen) *ml.Tensor { return g.ctx.Concat(1, g.f32(2, 3), g.f32(2, 4)) }},
	{name: "slice", exact: true, build: func(g *gen) *ml.Tensor { return g.ctx.Slice(g.f32(4, 3), 0, 1, 3) }},
	{name: "set_slice", exact: true, build: func(g *gen) *ml.Tensor {
		dst := g.f32(4, 3)
		g.ctx.SetSlice(dst, g.f32(2, 3), 0, 1)
		return dst
	}},
	{name: "permute", exact: true, build: func(g *gen) *ml.Tensor { return g.ctx.Permute(g.f32(2, 3, 4), 2, 0, 1) }},
	{name: "cast", exact: true, build: func(g *gen) *ml.Tensor { return g.ctx.Cast(g.f32(9), ml.F16) }},
	{name: "yuv420p_to_rgb", build: func(g *gen) *ml.Tensor {
		frame := make([]uint8, ml.YUV420Size(4, 2))
		for i := range frame {
			frame[i] = uint8(g.rng.IntN(256))
		}
		return g.ctx.YUV420ToRGB(g.ctx.Input(ml.U8, []int{len(frame)}, frame), 4, 2, ml.ColorSpec{Matrix: ml.BT709})
	}},
	{name: "rgb_to_yuv420p", build: func(g *gen) *ml.Tensor {
		return g.ctx.RGBToYUV420(g.uniform(0, 1, 1, 3, 2, 4), ml.ColorSpec{Matrix: ml.BT601})
	}},
}

// opsSeen is a backend that notes the ops (and activations) of every batch it executes.
type opsSeen struct {
	ml.Backend
	mu    sync.Mutex
	ops   [ml.NumOps]bool
	unary [ml.NumUnary]bool
}

func (s *opsSeen) Execute(nodes []*ml.Node) error {
	if err := s.Backend.Execute(nodes); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range nodes {
		s.ops[n.Op] = true
		if n.Op == ml.OpUnary {
			s.unary[n.P.Unary] = true
		}
	}
	return nil
}

// TestEveryOp runs the samples on every backend against the reference and checks that they
// executed every op and every activation there.
func TestEveryOp(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.Name(), func(t *testing.T) {
			seen := &opsSeen{Backend: b}
			for _, c := range opSamples {
				if err := check(seen, c); err != nil {
					t.Errorf("%s: %v", c.name, err)
				}
			}
			for op := range ml.NumOps {
				if !seen.ops[op] {
					t.Errorf("op %v: no sample ran it here (one failed above, or opSamples lacks one)", op)
				}
			}
			for u := range ml.NumUnary {
				if !seen.unary[u] {
					t.Errorf("activation %d: no sample ran it here (one failed above, or opSamples lacks one)", u)
				}
			}
		})
	}
}

// TestOpNames: every op has its own name.
func TestOpNames(t *testing.T) {
	seen := map[string]ml.Op{}
	for op := range ml.NumOps {
		name := op.String()
		if prev, dup := seen[name]; dup {
			t.Errorf("ops %d and %d are both named %q", prev, op, name)
		} else if name == "" {
			t.Errorf("op %d has no name", op)
		}
		seen[name] = op
	}
}
