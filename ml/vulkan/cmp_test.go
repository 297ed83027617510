package vulkan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/ml/cpu"
)

// cmpCase builds the same graph on two backends from the same seeded inputs.
type cmpCase struct {
	name  string
	build func(c *ml.Context, in func(dt ml.DType, shape ...int) *ml.Tensor) *ml.Tensor
}

// runCmp compares the vulkan backend with the CPU backend (relative to the output's rms).
// generic disables the CPU-driver kernels (the path GPUs take).
func runCmp(t *testing.T, cases []cmpCase, tol float64, generic bool) {
	vb := open(t)
	if generic {
		vb.sg = 0
	}
	cb := cpu.New()
	defer cb.Close()
	eval := func(be ml.Backend, c cmpCase) ([]float32, error) {
		ctx := ml.NewContext(be)
		defer ctx.Close()
		rng := rand.New(rand.NewPCG(1, uint64(len(c.name))))
		in := func(dt ml.DType, shape ...int) *ml.Tensor {
			n := 1
			for _, d := range shape {
				n *= d
			}
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rng.Float64()*2 - 1)
			}
			return ctx.Input(dt, shape, v)
		}
		return ctx.Floats(c.build(ctx, in))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := eval(vb, c)
			if err != nil {
				t.Fatal(err)
			}
			want, err := eval(cb, c)
			if err != nil {
				t.Fatal(err)
			}
			rms := 0.0
			for _, w := range want {
				rms += float64(w) * float64(w)
			}
			rms = math.Sqrt(rms / float64(len(want)))
			bad, worst, at := 0, 0.0, 0
			for i := range want {
				e := math.Abs(float64(got[i]-want[i])) / (math.Abs(float64(want[i])) + rms + 1e-30)
				if !(e <= tol) {
					bad++
					if !(e <= worst) {
						worst, at = e, i
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d values off, worst %.3g at %d: got %v want %v", bad, len(want), worst, at, got[at], want[at])
			}
		})
	}
}

// TestCPUKernels covers the CPU-driver GEMM and conv variants (alignments, tails, batches,
// transposes, f16, bias) that the op suite's small shapes mostly route to generic kernels.
func TestCPUKernels(t *testing.T) { runCmp(t, gemmCases(), 2e-5, false) }

// TestGenericKernels runs the same cases through the kernels GPUs use.
func TestGenericKernels(t *testing.T) { runCmp(t, gemmCases(), 2e-5, true) }

func gemmCases() []cmpCase {
	var cases []cmpCase
	for _, s := range []struct{ m, k, n, batch int }{
		{1, 8, 8, 1}, {33, 24, 136, 1}, {70, 20, 12, 3}, {5, 132, 260, 2}, {129, 64, 129, 1},
	} {
		for _, tb := range []bool{false, true} {
			for _, dt := range []ml.DType{ml.F32, ml.F16} {
				for _, ta := range []bool{false, true} {
					cases = append(cases, cmpCase{fmt.Sprintf("mm_%v_tA%v_tB%v_%s", s, ta, tb, dt),
						func(c *ml.Context, in func(ml.DType, ...int) *ml.Tensor) *ml.Tensor {
							a := in(ml.F32, s.batch, s.m, s.k)
							if ta {
								a = in(ml.F32, s.batch, s.k, s.m)
							}
							b := in(dt, s.batch, s.k, s.n)
							if tb {
								b = in(dt, s.batch, s.n, s.k)
							}
							return c.MatMul(a, b, ta, tb)
						}})
				}
			}
		}
		cases = append(cases, cmpCase{fmt.Sprintf("linear_%v", s),
			func(c *ml.Context, in func(ml.DType, ...int) *ml.Tensor) *ml.Tensor {
				return c.Linear(in(ml.F32, s.batch, s.m, s.k), in(ml.F16, s.n, s.k), in(ml.F32, s.n))
			}})
	}
	for _, s := range []struct{ n, c, h, w, o int }{
		{1, 3, 8, 8, 16}, {2, 16, 5, 12, 40}, {1, 8, 3, 20, 33}, {1, 64, 16, 32, 64},
	} {
		for _, dt := range []ml.DType{ml.F32, ml.F16} {
			cases = append(cases, cmpCase{fmt.Sprintf("conv3x3_%v_%s", s, dt),
				func(c *ml.Context, in func(ml.DType, ...int) *ml.Tensor) *ml.Tensor {
					return c.Conv2D(in(ml.F32, s.n, s.c, s.h, s.w), in(dt, s.o, s.c, 3, 3), in(ml.F32, s.o), 1, 1)
				}})
		}
		cases = append(cases, cmpCase{fmt.Sprintf("conv1x1_%v", s),
			func(c *ml.Context, in func(ml.DType, ...int) *ml.Tensor) *ml.Tensor {
				return c.Conv2D(in(ml.F32, s.n, s.c, s.h, s.w), in(ml.F32, s.o, s.c, 1, 1), in(ml.F32, s.o), 1, 0)
			}}, cmpCase{fmt.Sprintf("conv3x3s2_%v", s),
			func(c *ml.Context, in func(ml.DType, ...int) *ml.Tensor) *ml.Tensor {
				return c.Conv2D(in(ml.F32, s.n, s.c, s.h, s.w), in(ml.F32, s.o, s.c, 3, 3), nil, 2, 1)
			}})
	}
	return cases
}

// TestSubWordLayout checks the word-owning copy paths: u8 and f16 slices, concats, permutes
// and in-place set_slice with regions that start and end inside 32-bit words.
func TestSubWordLayout(t *testing.T) {
	vb := open(t)
	cb := cpu.New()
	defer cb.Close()
	for _, dt := range []ml.DType{ml.U8, ml.F16} {
		eval := func(be ml.Backend) []float64 {
			c := ml.NewContext(be)
			defer c.Close()
			rng := rand.New(rand.NewPCG(3, 4))
			in := func(shape ...int) *ml.Tensor {
				n := 1
				for _, d := range shape {
					n *= d
				}
				if dt == ml.U8 {
					v := make([]uint8, n)
					for i := range v {
						v[i] = uint8(rng.IntN(256))
					}
					return c.Input(dt, shape, v)
				}
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(rng.IntN(2001)-1000) / 64
				}
				return c.Input(dt, shape, v)
			}
			x := in(3, 5, 7)
			dst := in(3, 9, 7)
			c.SetSlice(dst, c.Slice(x, 1, 1, 4), 1, 5)
			y := c.Concat(2, c.Permute(c.Slice(dst, 0, 1, 3), 0, 2, 1), in(2, 7, 3))
			y = c.Concat(0, y, in(1, 7, 12))
			var out []float64
			if dt == ml.U8 {
				v, err := c.Uint8s(y)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range v {
					out = append(out, float64(e))
				}
			} else {
				v, err := c.Floats(y)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range v {
					out = append(out, float64(e))
				}
			}
			return out
		}
		got, want := eval(vb), eval(cb)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: element %d = %v, want %v", dt, i, got[i], want[i])
			}
		}
	}
}

// TestExecuteErrors: a bad node fails the whole batch with an error naming the op.
func TestExecuteErrors(t *testing.T) {
	b := open(t)
	c := ml.NewContext(b)
	defer c.Close()
	x := c.Input(ml.F32, []int{4}, []float32{1, 2, 3, 4})
	y := c.Scale(x, 2)
	if err := c.Compute(); err != nil {
		t.Fatal(err)
	}
	n := &ml.Node{Op: ml.OpCast, Out: y, In: []*ml.Tensor{x}}
	if err := b.Execute([]*ml.Node{{Op: ml.OpScale, Out: y, In: []*ml.Tensor{x}, P: ml.Params{Scale: 3}}, n}); err != nil {
		t.Fatalf("cast f32→f32 failed: %v", err)
	}
	bad := &ml.Node{Op: ml.OpUnary, Out: y, In: []*ml.Tensor{x}, P: ml.Params{Unary: 9}}
	if err := b.Execute([]*ml.Node{bad}); err == nil || !strings.Contains(err.Error(), "unary") {
		t.Fatalf("bad unary: err = %v", err)
	}
}
