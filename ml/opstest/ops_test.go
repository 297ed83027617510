package opstest

import (
	"fmt"
	"math"
	"testing"

	"github.com/hitsr/hitsr/ml"
)

func TestMatMul(t *testing.T) {
	var cases []opCase
	for _, s := range []struct {
		m, k, n     int
		ta, tb      bool
		lead, bLead []int // batch axes of a and b (b: equal, all-1 or absent = shared)
		half        bool
	}{
		{1, 1, 1, false, false, nil, nil, false},
		{1, 17, 3, false, true, nil, nil, false},
		{3, 64, 17, true, false, []int{2}, []int{2}, false},
		{17, 3, 129, true, true, []int{2, 3}, []int{2, 3}, false},
		{64, 129, 1, false, false, []int{3}, []int{1}, false},
		{129, 17, 64, false, true, []int{2, 2}, nil, false},
		{257, 64, 3, true, false, []int{2}, nil, true},
		{3, 257, 257, false, false, nil, nil, true},
		{17, 129, 17, true, true, []int{1, 2}, []int{1, 1}, true},
		{64, 64, 64, false, true, nil, nil, true},
	} {
		cases = append(cases, opCase{
			name: fmt.Sprintf("a%v_b%v_m%d_k%d_n%d_tA%v_tB%v_f16%v", s.lead, s.bLead, s.m, s.k, s.n, s.ta, s.tb, s.half),
			half: s.half,
			build: func(g *gen) *ml.Tensor {
				a := append(append([]int(nil), s.lead...), s.m, s.k)
				if s.ta {
					a = append(append([]int(nil), s.lead...), s.k, s.m)
				}
				b := append(append([]int(nil), s.bLead...), s.k, s.n)
				if s.tb {
					b = append(append([]int(nil), s.bLead...), s.n, s.k)
				}
				return g.ctx.MatMul(g.f32(a...), g.weight(b...), s.ta, s.tb)
			},
		})
	}
	for _, s := range []struct {
		x    []int
		n    int
		bias bool
		half bool
	}{
		{[]int{5, 17}, 33, true, false},
		{[]int{2, 3, 64}, 3, false, false},
		{[]int{129}, 1, true, false},
		{[]int{2, 7, 33}, 64, true, true},
	} {
		cases = append(cases, opCase{
			name: fmt.Sprintf("linear_x%v_n%d_bias%v_f16%v", s.x, s.n, s.bias, s.half),
			half: s.half,
			build: func(g *gen) *ml.Tensor {
				x, w := g.f32(s.x...), g.weight(s.n, s.x[len(s.x)-1])
				var bias *ml.Tensor
				if s.bias {
					bias = g.f32(s.n)
				}
				return g.ctx.Linear(x, w, bias)
			},
		})
	}
	runCases(t, cases)
}

func TestConv2D(t *testing.T) {
	var cases []opCase
	for _, s := range []struct {
		n, cin, h, w, cout, kh, kw, stride, pad int
		bias, half                              bool
	}{
		{1, 16, 7, 13, 33, 1, 1, 1, 0, true, false},
		{2, 3, 7, 13, 5, 1, 1, 2, 0, true, false},
		{2, 3, 7, 13, 16, 3, 3, 1, 1, true, false},
		{1, 33, 9, 8, 5, 3, 3, 2, 1, true, true},
		{1, 5, 3, 3, 3, 3, 3, 1, 0, false, false},
		{1, 16, 8, 10, 16, 3, 3, 2, 0, true, false},
		{1, 4, 6, 7, 3, 4, 4, 2, 1, true, false},
		{2, 5, 1, 9, 4, 1, 3, 1, 0, false, true},
		{1, 32, 17, 17, 64, 3, 3, 1, 1, true, true},
		{2, 5, 11, 9, 7, 5, 5, 1, 2, true, true},
		{1, 3, 180, 320, 16, 5, 5, 1, 2, true, false}, // a whole 320×180 frame
		{1, 8, 45, 79, 8, 3, 3, 1, 1, false, false},
	} {
		cases = append(cases, opCase{
			name: fmt.Sprintf("x%v_w%v_s%d_p%d_bias%v_f16%v", []int{s.n, s.cin, s.h, s.w},
				[]int{s.cout, s.cin, s.kh, s.kw}, s.stride, s.pad, s.bias, s.half),
			half: s.half,
			build: func(g *gen) *ml.Tensor {
				x, w := g.f32(s.n, s.cin, s.h, s.w), g.weight(s.cout, s.cin, s.kh, s.kw)
				var bias *ml.Tensor
				if s.bias {
					bias = g.f32(s.cout)
				}
				return g.ctx.Conv2D(x, w, bias, s.stride, s.pad)
			},
		})
	}
	runCases(t, cases)
}

func TestNorms(t *testing.T) {
	var cases []opCase
	for _, s := range []struct {
		x           []int
		groups      int // 0: layer_norm
		gamma, beta bool
		eps         float32
		lo, hi      float64 // input range (an offset mean stresses the variance)
	}{
		{[]int{2, 6, 5, 7}, 3, true, true, 1e-5, -1, 1},
		{[]int{1, 32, 8, 8}, 32, true, true, 1e-6, -1, 1},
		{[]int{1, 5, 3, 1}, 1, false, false, 1e-5, -1, 1},
		{[]int{2, 64, 9, 9}, 32, true, false, 1e-5, 3, 5},
		{[]int{1, 4, 1, 1}, 2, false, true, 1e-5, -1, 1},
		{[]int{7, 33}, 0, true, true, 1e-5, -1, 1},
		{[]int{2, 3, 64}, 0, true, true, 1e-6, 3, 5},
		{[]int{3, 1}, 0, true, true, 1e-5, -1, 1},
		{[]int{257}, 0, false, true, 1e-5, -1, 1},
		{[]int{2, 768}, 0, false, false, 1e-6, -1, 1},
	} {
		op := "layer_norm"
		if s.groups > 0 {
			op = fmt.Sprintf("group_norm%d", s.groups)
		}
		cases = append(cases, opCase{
			name: fmt.Sprintf("%s_x%v_gamma%v_beta%v_eps%g_range%g..%g", op, s.x, s.gamma, s.beta, s.eps, s.lo, s.hi),
			build: func(g *gen) *ml.Tensor {
				x := g.uniform(s.lo, s.hi, s.x...)
				c := s.x[len(s.x)-1]
				if s.groups > 0 {
					c = s.x[1]
				}
				var gamma, beta *ml.Tensor
				if s.gamma {
					gamma = g.uniform(0.5, 1.5, c)
				}
				if s.beta {
					beta = g.f32(c)
				}
				if s.groups > 0 {
					return g.ctx.GroupNorm(x, s.groups, gamma, beta, s.eps)
				}
				return g.ctx.LayerNorm(x, gamma, beta, s.eps)
			},
		})
	}
	runCases(t, cases)
}

func TestElementwise(t *testing.T) {
	var cases []opCase
	for _, shape := range [][]int{{1}, {3, 17}, {2, 3, 5, 7}, {4097}} {
		for _, op := range []string{"gelu", "silu", "relu", "softmax", "scale"} {
			cases = append(cases, opCase{
				name:  fmt.Sprintf("%s_%v", op, shape),
				exact: op == "relu",
				build: func(g *gen) *ml.Tensor {
					x := g.uniform(-8, 8, shape...)
					switch op {
					case "gelu":
						return g.ctx.GELU(x)
					case "silu":
						return g.ctx.SiLU(x)
					case "relu":
						return g.ctx.ReLU(x)
					case "softmax":
						return g.ctx.Softmax(g.ctx.Scale(x, 3)) // logits up to ±24
					}
					return g.ctx.Scale(x, -0.37)
				},
			})
		}
	}
	cases = append(cases, opCase{name: "softmax_[2 257]_large", build: func(g *gen) *ml.Tensor {
		return g.ctx.Softmax(g.uniform(50, 90, 2, 257))
	}})
	for _, s := range [][2][]int{
		{{3, 17}, {3, 17}},
		{{2, 3, 5, 7}, {1, 3, 1, 1}},
		{{5, 7}, {2, 3, 5, 7}},
		{{4, 1}, {1, 6}},
		{{1}, {3, 5}},
		{{2, 1, 5, 1}, {3, 1, 7}},
		{{2, 3, 129}, {129}},
	} {
		for _, op := range []string{"add", "sub", "mul"} {
			cases = append(cases, opCase{
				name: fmt.Sprintf("%s_%v_%v", op, s[0], s[1]),
				build: func(g *gen) *ml.Tensor {
					a, b := g.f32(s[0]...), g.f32(s[1]...)
					switch op {
					case "add":
						return g.ctx.Add(a, b)
					case "sub":
						return g.ctx.Sub(a, b)
					}
					return g.ctx.Mul(a, b)
				},
			})
		}
	}
	runCases(t, cases)
}

// kvInput is k or v [b, h, tk, d] with random values in the first kvLen positions and NaN
// after them: a kernel must not touch positions ≥ kvLen.
func kvInput(g *gen, b, h, tk, kvLen, d int) *ml.Tensor {
	v := g.floats(b*h*tk*d, -1, 1)
	for i := range v {
		if i/d%tk >= kvLen {
			v[i] = float32(math.NaN())
		}
	}
	return g.ctx.Input(ml.F32, []int{b, h, tk, d}, v)
}

func TestAttention(t *testing.T) {
	var cases []opCase
	for _, s := range []struct {
		b, h, tq, tk, kvLen, d int
		limits                 []int32
		qScale                 float64 // q range ±qScale: large values make peaked softmaxes
	}{
		{1, 2, 5, 5, 5, 8, nil, 1},
		{2, 1, 1, 17, 13, 16, nil, 1},
		{1, 2, 7, 19, 19, 64, ml.BlockCausalLimits([]int{1, 4, 9, 5}, 12, 7), 1},
		{1, 3, 12, 12, 12, 16, ml.BlockCausalLimits([]int{1, 2, 4, 5}, 0, 12), 2},
		{2, 2, 6, 33, 20, 8, []int32{0, 1, 5, 20, 40, 0}, 1},
		{1, 1, 33, 65, 65, 64, nil, 8},
		{1, 2, 17, 40, 31, 16, ml.BlockCausalLimits([]int{7, 9, 15}, 14, 17), 1},
	} {
		cases = append(cases, opCase{
			name: fmt.Sprintf("q%v_tk%d_kv%d_limits%v_q±%g", []int{s.b, s.h, s.tq, s.d}, s.tk, s.kvLen, s.limits, s.qScale),
			build: func(g *gen) *ml.Tensor {
				q := g.uniform(-s.qScale, s.qScale, s.b, s.h, s.tq, s.d)
				k, v := kvInput(g, s.b, s.h, s.tk, s.kvLen, s.d), kvInput(g, s.b, s.h, s.tk, s.kvLen, s.d)
				var lim *ml.Tensor
				if s.limits != nil {
					lim = g.ctx.Input(ml.I32, []int{s.tq}, s.limits)
				}
				return g.ctx.Attention(q, k, v, lim, s.kvLen, float32(1/math.Sqrt(float64(s.d))))
			},
		})
	}
	runCases(t, cases)
}

func TestResize(t *testing.T) {
	var cases []opCase
	for _, s := range []struct {
		x          []int
		outH, outW int
	}{
		{[]int{1, 2, 3, 4}, 7, 9},
		{[]int{2, 3, 5, 5}, 10, 10},
		{[]int{1, 1, 7, 13}, 3, 5},
		{[]int{1, 2, 6, 6}, 1, 1},
		{[]int{1, 1, 1, 1}, 5, 3},
		{[]int{1, 2, 4, 4}, 4, 4},
		{[]int{1, 3, 9, 6}, 16, 27},
		{[]int{1, 1, 10, 12}, 6, 5},
		{[]int{1, 2, 16, 16}, 13, 40},
		{[]int{1, 1, 30, 26}, 22, 22},      // nearest: floor(11·30/22) = 15 and floor(11·26/22) = 13 exactly
		{[]int{1, 3, 45, 79}, 90, 158},     // odd frame ×2
		{[]int{1, 3, 180, 320}, 720, 1280}, // a whole 320×180 frame ×4
	} {
		for _, mode := range []ml.Interp{ml.Nearest, ml.Bilinear, ml.Bicubic} {
			cases = append(cases, opCase{
				name: fmt.Sprintf("%s_%v_to_%dx%d", [...]string{"nearest", "bilinear", "bicubic"}[mode], s.x, s.outH, s.outW),
				build: func(g *gen) *ml.Tensor {
					return g.ctx.Upsample(g.f32(s.x...), s.outH, s.outW, mode)
				},
			})
		}
	}
	for _, s := range []struct {
		x          []int
		outH, outW int
	}{
		{[]int{1, 2, 8, 8}, 4, 4},
		{[]int{2, 3, 7, 13}, 3, 5},
		{[]int{1, 1, 6, 6}, 1, 1},
		{[]int{1, 2, 5, 5}, 5, 5},
		{[]int{1, 1, 16, 9}, 5, 4},
		{[]int{1, 3, 32, 24}, 13, 10},
	} {
		cases = append(cases, opCase{
			name: fmt.Sprintf("area_down_%v_to_%dx%d", s.x, s.outH, s.outW),
			build: func(g *gen) *ml.Tensor {
				return g.ctx.AreaDown(g.f32(s.x...), s.outH, s.outW)
			},
		})
	}
	runCases(t, cases)
}

// quantized is an F32 input whose values take few distinct levels (argmax ties).
func quantized(g *gen, levels int, shape ...int) *ml.Tensor {
	v := make([]float32, numel(shape))
	for i := range v {
		v[i] = float32(g.rng.IntN(levels)-levels/2) * 0.25
	}
	return g.ctx.Input(ml.F32, shape, v)
}

// uniforms is an F32 input of n values in [0, 1) on the 2⁻²⁴ grid (as the model's hash makes
// them), 0 and the largest among them.
func uniforms(g *gen, n int) *ml.Tensor {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(g.rng.IntN(1<<24)) / (1 << 24)
	}
	v[0], v[n-1] = 0, 1-1.0/(1<<24)
	return g.ctx.Input(ml.F32, []int{n}, v)
}

func TestIndexing(t *testing.T) {
	var cases []opCase
	for _, s := range []struct {
		m, c, v int
		dup     bool // codebook rows come in identical pairs: ties go to the lower index
		near    bool // x lies close to codebook rows (small distances)
		half    bool
	}{
		{1, 8, 3, false, false, false},
		{17, 16, 33, false, false, false},
		{64, 32, 257, false, true, false},
		{5, 4, 16, true, false, false},
		{33, 16, 64, false, true, true},
	} {
		cases = append(cases, opCase{
			name: fmt.Sprintf("nearest_code_x%v_codebook%v_dup%v_near%v_f16%v", []int{s.m, s.c}, []int{s.v, s.c}, s.dup, s.near, s.half),
			half: s.half,
			build: func(g *gen) *ml.Tensor {
				cb := g.floats(s.v*s.c, -1, 1)
				if s.dup {
					copy(cb[s.v/2*s.c:], cb[:s.v/2*s.c])
				}
				x := g.floats(s.m*s.c, -1, 1)
				if s.near {
					for i := range x {
						x[i] = cb[(i/s.c*7%s.v)*s.c+i%s.c] + 0.05*x[i]
					}
				}
				dt := ml.F32
				if g.half {
					dt = ml.F16
				}
				return g.ctx.NearestCode(g.ctx.Input(ml.F32, []int{s.m, s.c}, x), g.ctx.Input(dt, []int{s.v, s.c}, cb))
			},
		})
	}
	for _, s := range []struct {
		v, c int
		ids  []int
		half bool
	}{
		{10, 8, []int{5}, false},
		{33, 16, []int{2, 3}, false},
		{257, 64, []int{4, 6, 2}, false},
		{1, 3, []int{7}, false},
		{40, 24, []int{3, 5}, true},
	} {
		cases = append(cases, opCase{
			name:  fmt.Sprintf("gather_table%v_ids%v_f16%v", []int{s.v, s.c}, s.ids, s.half),
			half:  s.half,
			exact: true,
			build: func(g *gen) *ml.Tensor {
				return g.ctx.Gather(g.weight(s.v, s.c), g.ints(-3, s.v+3, s.ids...)) // includes out-of-range ids
			},
		})
	}
	for _, s := range []struct {
		shape  []int
		levels int // 0: continuous values
	}{
		{[]int{1}, 0},
		{[]int{3, 17}, 4},
		{[]int{2, 3, 257}, 0},
		{[]int{5, 1}, 0},
		{[]int{4, 1000}, 3},
		{[]int{2, 2, 2, 33}, 2},
	} {
		cases = append(cases, opCase{
			name: fmt.Sprintf("argmax_%v_levels%d", s.shape, s.levels),
			build: func(g *gen) *ml.Tensor {
				if s.levels > 0 {
					return g.ctx.Argmax(quantized(g, s.levels, s.shape...))
				}
				return g.ctx.Argmax(g.f32(s.shape...))
			},
		})
	}
	for _, s := range []struct {
		shape  []int
		levels int // 0: continuous values
		k      int
		t      float32
	}{
		{[]int{7}, 0, 3, 1},
		{[]int{3, 17}, 4, 5, 0.5}, // ties inside and at the edge of the top k
		{[]int{2, 3, 257}, 0, 8, 0.3},
		{[]int{5, 1}, 0, 1, 1},
		{[]int{4, 1000}, 3, 999, 2},
		{[]int{2, 2, 2, 33}, 2, 33, 1.7},
		{[]int{65, 16}, 0, 16, 0.05}, // a cold draw
		{[]int{9, 31}, 0, 1, 3},      // k = 1: argmax
	} {
		cases = append(cases, opCase{
			name: fmt.Sprintf("sample_topk_%v_levels%d_k%d_t%g", s.shape, s.levels, s.k, s.t),
			build: func(g *gen) *ml.Tensor {
				x := g.f32(s.shape...)
				if s.levels > 0 {
					x = quantized(g, s.levels, s.shape...)
				}
				return g.ctx.SampleTopK(g.ctx.Scale(x, 4), uniforms(g, x.Len()/x.Dim(-1)), s.k, s.t)
			},
		})
	}
	runCases(t, cases)
}

func TestLayout(t *testing.T) {
	var cases []opCase
	add := func(name string, build func(g *gen) *ml.Tensor) {
		cases = append(cases, opCase{name: name, exact: true, build: build})
	}
	for _, s := range []struct {
		x []int
		r int
	}{{[]int{1, 8, 3, 5}, 2}, {[]int{2, 9, 2, 3}, 3}, {[]int{1, 3, 4, 4}, 1}, {[]int{1, 16, 1, 1}, 4},
		{[]int{1, 12, 45, 79}, 2}, {[]int{1, 48, 180, 320}, 4}} { // whole frames
		add(fmt.Sprintf("pixel_shuffle_%v_r%d", s.x, s.r), func(g *gen) *ml.Tensor {
			return g.ctx.PixelShuffle(g.f32(s.x...), s.r)
		})
	}
	f16 := func(g *gen, shape ...int) *ml.Tensor {
		return g.ctx.Input(ml.F16, shape, g.floats(numel(shape), -1, 1))
	}
	for _, s := range []struct {
		dim    int
		shapes [][]int
		half   bool
	}{
		{0, [][]int{{2, 3}, {1, 3}, {4, 3}}, false},
		{1, [][]int{{2, 3, 4, 5}, {2, 1, 4, 5}}, false},
		{-1, [][]int{{3, 5, 2}, {3, 5, 7}}, false},
		{2, [][]int{{1, 2, 3, 4}, {1, 2, 1, 4}, {1, 2, 5, 4}}, false},
		{1, [][]int{{2, 3}, {2, 5}}, true},
	} {
		add(fmt.Sprintf("concat_dim%d_%v_f16%v", s.dim, s.shapes, s.half), func(g *gen) *ml.Tensor {
			var ts []*ml.Tensor
			for _, sh := range s.shapes {
				if s.half {
					ts = append(ts, f16(g, sh...))
				} else {
					ts = append(ts, g.f32(sh...))
				}
			}
			return g.ctx.Concat(s.dim, ts...)
		})
	}
	for _, s := range []struct {
		x               []int
		dim, start, end int
		half            bool
	}{
		{[]int{5, 7}, 0, 1, 4, false},
		{[]int{2, 3, 8, 5}, 2, 3, 8, false},
		{[]int{4, 9}, -1, 0, 1, false},
		{[]int{3, 6, 2}, 1, 2, 5, true},
	} {
		add(fmt.Sprintf("slice_%v_dim%d_%d:%d_f16%v", s.x, s.dim, s.start, s.end, s.half), func(g *gen) *ml.Tensor {
			x := g.f32(s.x...)
			if s.half {
				x = f16(g, s.x...)
			}
			return g.ctx.Slice(x, s.dim, s.start, s.end)
		})
	}
	add("set_slice_input_[3 10 4]_dim1_at8", func(g *gen) *ml.Tensor {
		dst := g.f32(3, 10, 4)
		g.ctx.SetSlice(dst, g.f32(3, 2, 4), 1, 8)
		return dst
	})
	add("set_slice_then_read_by_later_op", func(g *gen) *ml.Tensor {
		dst := g.f32(2, 5, 3)
		g.ctx.SetSlice(dst, g.f32(1, 5, 3), 0, 1)
		g.ctx.SetSlice(dst, g.f32(2, 5, 1), -1, 0)
		return g.ctx.Scale(dst, 2)
	})
	add("set_slice_into_view", func(g *gen) *ml.Tensor {
		dst := g.f32(2, 3, 8)
		g.ctx.SetSlice(g.ctx.Reshape(dst, 6, 8), g.f32(6, 3), 1, 2)
		return dst
	})
	add("set_slice_into_op_result", func(g *gen) *ml.Tensor {
		dst := g.ctx.Scale(g.f32(4, 6), 1)
		g.ctx.SetSlice(dst, g.f32(1, 6), 0, 3)
		return dst
	})
	for _, s := range []struct {
		x    []int
		perm []int
		half bool
	}{
		{[]int{2, 3, 4, 5}, []int{0, 2, 1, 3}, false},
		{[]int{2, 3, 4, 5}, []int{3, 2, 1, 0}, false},
		{[]int{3, 4}, []int{1, 0}, false},
		{[]int{1, 5, 1, 3}, []int{2, 3, 0, 1}, false},
		{[]int{7, 1, 9}, []int{2, 0, 1}, true},
		{[]int{17, 33}, []int{1, 0}, false},
	} {
		add(fmt.Sprintf("permute_%v_%v_f16%v", s.x, s.perm, s.half), func(g *gen) *ml.Tensor {
			x := g.f32(s.x...)
			if s.half {
				x = f16(g, s.x...)
			}
			return g.ctx.Permute(x, s.perm...)
		})
	}
	add("cast_f32_to_f16", func(g *gen) *ml.Tensor {
		special := []float32{0, float32(math.Copysign(0, -1)), 1, 1 + 0x1p-11, 1 + 3*0x1p-11, -(1 + 0x1p-11),
			65504, 65519, 65520, 70000, -70000, 1e-8, 6e-8, 1e-5, 1.5 * 0x1p-24, 2.5 * 0x1p-24, 0x1p-14, 0.1, -3.3}
		v := append(special, g.floats(100, -300, 300)...)
		return g.ctx.Cast(g.ctx.Input(ml.F32, []int{len(v)}, v), ml.F16)
	})
	add("cast_f16_to_f32", func(g *gen) *ml.Tensor {
		return g.ctx.Cast(f16(g, 7, 19), ml.F32)
	})
	runCases(t, cases)
}

var colorSpecs = []ml.ColorSpec{
	{Matrix: ml.BT601}, {Matrix: ml.BT601, FullRange: true}, {Matrix: ml.BT709}, {Matrix: ml.BT709, FullRange: true},
}

func TestYUV(t *testing.T) {
	var cases []opCase
	for _, cs := range colorSpecs {
		for _, s := range [][2]int{{1, 1}, {2, 2}, {7, 5}, {16, 9}, {33, 17}} {
			w, h := s[0], s[1]
			cases = append(cases, opCase{
				name: fmt.Sprintf("yuv420p_to_rgb_%s_%dx%d", cs, w, h),
				build: func(g *gen) *ml.Tensor {
					frame := make([]uint8, ml.YUV420Size(w, h))
					for i := range frame {
						frame[i] = uint8(g.rng.IntN(256))
					}
					return g.ctx.YUV420ToRGB(g.ctx.Input(ml.U8, []int{len(frame)}, frame), w, h, cs)
				},
			}, opCase{
				name: fmt.Sprintf("rgb_to_yuv420p_%s_%dx%d", cs, w, h),
				build: func(g *gen) *ml.Tensor {
					return g.ctx.RGBToYUV420(g.uniform(-0.1, 1.1, 1, 3, h, w), cs) // some out of [0, 1]
				},
			})
		}
	}
	runCases(t, cases)
}

// TestChains records multi-op graphs, compared with the composed reference.
func TestChains(t *testing.T) { runCases(t, chains) }

// chains are multi-op graphs (TestChains, TestRecycle).
var chains = []opCase{
	{name: "conv_groupnorm_silu_conv_residual_upsample", half: true, build: func(g *gen) *ml.Tensor {
		c := g.ctx
		x := g.f32(1, 8, 9, 11)
		h := c.Conv2D(x, g.weight(16, 8, 3, 3), g.f32(16), 1, 1)
		h = c.SiLU(c.GroupNorm(h, 4, g.uniform(0.5, 1.5, 16), g.f32(16), 1e-5))
		h = c.Conv2D(h, g.weight(8, 16, 3, 3), g.f32(8), 1, 1)
		return c.Upsample(c.Add(x, h), 18, 22, ml.Bilinear)
	}},
	{name: "transformer_block", build: func(g *gen) *ml.Tensor {
		const T, C, H, D = 10, 32, 2, 16
		c := g.ctx
		x := g.f32(1, T, C)
		qkv := c.Linear(c.LayerNorm(x, g.uniform(0.5, 1.5, C), g.f32(C), 1e-6), g.uniform(-0.3, 0.3, 3*C, C), g.f32(3*C))
		heads := c.Reshape(c.Permute(c.Reshape(qkv, T, 3*H, D), 1, 0, 2), 1, 3*H, T, D) // [1, 3H, T, D]
		q, k, v := c.Slice(heads, 1, 0, H), c.Slice(heads, 1, H, 2*H), c.Slice(heads, 1, 2*H, 3*H)
		lim := c.Input(ml.I32, []int{T}, ml.BlockCausalLimits([]int{1, 3, 6}, 0, T))
		a := c.Attention(q, k, v, lim, T, 1/float32(math.Sqrt(D)))
		a = c.Reshape(c.Permute(c.Reshape(a, H, T, D), 1, 0, 2), 1, -1, C)
		x = c.Add(x, c.Linear(a, g.uniform(-0.3, 0.3, C, C), nil))
		m := c.GELU(c.Linear(x, g.uniform(-0.3, 0.3, 4*C, C), g.f32(4*C)))
		return c.Add(x, c.Linear(m, g.uniform(-0.2, 0.2, C, 4*C), g.f32(C)))
	}},
	{name: "espcn_frame_x4_over_bicubic", build: func(g *gen) *ml.Tensor {
		// A whole odd-sized frame: 5×5 conv, ReLU, 3×3 conv, ReLU, 3×3 conv to 3·4² channels,
		// pixel shuffle ×4, added to the bicubic ×4 upsample.
		const H, W = 23, 37
		c := g.ctx
		x := g.uniform(0, 1, 1, 3, H, W)
		h := c.ReLU(c.Conv2D(x, g.weight(16, 3, 5, 5), g.f32(16), 1, 2))
		h = c.ReLU(c.Conv2D(h, g.weight(8, 16, 3, 3), g.f32(8), 1, 1))
		h = c.PixelShuffle(c.Conv2D(h, g.weight(48, 8, 3, 3), g.f32(48), 1, 1), 4)
		return c.Add(h, c.Upsample(x, 4*H, 4*W, ml.Bicubic))
	}},
	{name: "vq_quantize_residual", build: func(g *gen) *ml.Tensor {
		c := g.ctx
		x, cb := g.f32(17, 8), g.f32(33, 8)
		q := c.Gather(cb, c.NearestCode(x, cb))
		return c.Mul(c.Sub(x, q), c.Softmax(x))
	}},
	{name: "yuv_to_rgb_bicubic2x_to_yuv", build: func(g *gen) *ml.Tensor {
		const w, h = 9, 7
		frame := make([]uint8, ml.YUV420Size(w, h))
		for i := range frame {
			frame[i] = uint8(g.rng.IntN(256))
		}
		cs := ml.ColorSpec{Matrix: ml.BT709}
		rgb := g.ctx.YUV420ToRGB(g.ctx.Input(ml.U8, []int{len(frame)}, frame), w, h, cs)
		return g.ctx.RGBToYUV420(g.ctx.Upsample(rgb, 2*h, 2*w, ml.Bicubic), cs)
	}},
	{name: "kv_cache_two_steps", build: func(g *gen) *ml.Tensor {
		// A persistent cache (NaN beyond what is written) filled over two contexts, then
		// block-causal attention over the 14 positions in use.
		const B, H, D, Tmax, T1, T2 = 1, 2, 16, 24, 9, 5
		nan := make([]float32, B*H*Tmax*D)
		for i := range nan {
			nan[i] = float32(math.NaN())
		}
		kc := g.persistent(ml.F32, []int{B, H, Tmax, D}, nan)
		vc := g.persistent(ml.F32, []int{B, H, Tmax, D}, nan)
		g.ctx.SetSlice(kc, g.f32(B, H, T1, D), 2, 0)
		g.ctx.SetSlice(vc, g.f32(B, H, T1, D), 2, 0)
		g.compute()
		g.next()
		g.ctx.SetSlice(kc, g.f32(B, H, T2, D), 2, T1)
		g.ctx.SetSlice(vc, g.f32(B, H, T2, D), 2, T1)
		lim := g.ctx.Input(ml.I32, []int{T2}, ml.BlockCausalLimits([]int{4, 5, 3, 2}, T1, T2))
		return g.ctx.Attention(g.f32(B, H, T2, D), kc, vc, lim, T1+T2, 0.25)
	}},
}

func TestBlockCausalLimits(t *testing.T) {
	for _, tc := range []struct {
		blocks   []int
		start, n int
		want     []int32
	}{
		{[]int{1, 2, 3}, 0, 6, []int32{1, 3, 3, 6, 6, 6}},
		{[]int{1, 2, 3}, 2, 3, []int32{3, 6, 6}},
		{[]int{4, 5, 3, 2}, 9, 5, []int32{12, 12, 12, 14, 14}},
	} {
		if got := ml.BlockCausalLimits(tc.blocks, tc.start, tc.n); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("BlockCausalLimits(%v, %d, %d) = %v, want %v", tc.blocks, tc.start, tc.n, got, tc.want)
		}
	}
}
