package opstest

import (
	"fmt"
	"testing"

	"github.com/hitsr/hitsr/ml"
)

// TestKernelPaths covers the Vulkan backend's GEMM and convolution paths: its CPU-driver
// kernels (lavapipe) and, on the portable backend, the generic ones GPUs take, over the
// alignments, tails, batches, transposes, f16 weights and biases that select among them (the
// op suite's small shapes mostly reach the generic kernels). Bound 2e-5, as these shapes allow.
func TestKernelPaths(t *testing.T) {
	const tol = 2e-5
	var cases []opCase
	for _, s := range []struct{ m, k, n, batch int }{
		{1, 8, 8, 1}, {33, 24, 136, 1}, {70, 20, 12, 3}, {5, 132, 260, 2}, {129, 64, 129, 1},
	} {
		for _, tb := range []bool{false, true} {
			for _, half := range []bool{false, true} {
				for _, ta := range []bool{false, true} {
					cases = append(cases, opCase{name: fmt.Sprintf("mm_%v_tA%v_tB%v_f16%v", s, ta, tb, half), half: half, tol: tol,
						build: func(g *gen) *ml.Tensor {
							a := g.f32(s.batch, s.m, s.k)
							if ta {
								a = g.f32(s.batch, s.k, s.m)
							}
							b := g.weight(s.batch, s.k, s.n)
							if tb {
								b = g.weight(s.batch, s.n, s.k)
							}
							return g.ctx.MatMul(a, b, ta, tb)
						}})
				}
			}
		}
		cases = append(cases, opCase{name: fmt.Sprintf("linear_%v", s), half: true, tol: tol,
			build: func(g *gen) *ml.Tensor {
				return g.ctx.Linear(g.f32(s.batch, s.m, s.k), g.weight(s.n, s.k), g.f32(s.n))
			}})
	}
	for _, s := range []struct{ n, c, h, w, o int }{
		{1, 3, 8, 8, 16}, {2, 16, 5, 12, 40}, {1, 8, 3, 20, 33}, {1, 64, 16, 32, 64},
	} {
		for _, half := range []bool{false, true} {
			cases = append(cases, opCase{name: fmt.Sprintf("conv3x3_%v_f16%v", s, half), half: half, tol: tol,
				build: func(g *gen) *ml.Tensor {
					return g.ctx.Conv2D(g.f32(s.n, s.c, s.h, s.w), g.weight(s.o, s.c, 3, 3), g.f32(s.o), 1, 1)
				}})
		}
		cases = append(cases, opCase{name: fmt.Sprintf("conv1x1_%v", s), tol: tol,
			build: func(g *gen) *ml.Tensor {
				return g.ctx.Conv2D(g.f32(s.n, s.c, s.h, s.w), g.f32(s.o, s.c, 1, 1), g.f32(s.o), 1, 0)
			}}, opCase{name: fmt.Sprintf("conv3x3s2_%v", s), tol: tol,
			build: func(g *gen) *ml.Tensor {
				return g.ctx.Conv2D(g.f32(s.n, s.c, s.h, s.w), g.f32(s.o, s.c, 3, 3), nil, 2, 1)
			}})
	}
	runCases(t, cases)
}

// TestSubWordLayout covers the word-owning copy paths (u8 and f16 are packed in 32-bit words
// on Vulkan): slices, concats, permutes and in-place set_slice with regions that start and end
// inside words.
func TestSubWordLayout(t *testing.T) {
	var cases []opCase
	for _, dt := range []ml.DType{ml.U8, ml.F16} {
		cases = append(cases, opCase{name: "chain_" + dt.String(), exact: true, build: func(g *gen) *ml.Tensor {
			in := func(shape ...int) *ml.Tensor {
				if dt == ml.U8 {
					v := make([]uint8, numel(shape))
					for i := range v {
						v[i] = uint8(g.rng.IntN(256))
					}
					return g.ctx.Input(dt, shape, v)
				}
				v := make([]float32, numel(shape))
				for i := range v {
					v[i] = float32(g.rng.IntN(2001)-1000) / 64
				}
				return g.ctx.Input(dt, shape, v)
			}
			x := in(3, 5, 7)
			dst := in(3, 9, 7)
			g.ctx.SetSlice(dst, g.ctx.Slice(x, 1, 1, 4), 1, 5)
			y := g.ctx.Concat(2, g.ctx.Permute(g.ctx.Slice(dst, 0, 1, 3), 0, 2, 1), in(2, 7, 3))
			return g.ctx.Concat(0, y, in(1, 7, 12))
		}})
	}
	runCases(t, cases)
}
