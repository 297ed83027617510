package vulkan

import (
	"math/rand/v2"
	"testing"

	"github.com/hitsr/hitsr/ml"
)

func randTensor(tb testing.TB, b ml.Backend, dt ml.DType, shape ...int) *ml.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range v {
		v[i] = float32(rng.Float64()*2 - 1)
	}
	t, err := ml.NewTensor(b, dt, shape, v)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ml.Free(b, t) })
	return t
}

// benchOp times one op per iteration (a fresh context: output alloc, record, one submit).
func benchOp(b *testing.B, be ml.Backend, flops float64, op func(c *ml.Context) *ml.Tensor) {
	run := func() {
		c := ml.NewContext(be)
		op(c)
		if err := c.Compute(); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	run() // pipelines
	b.ResetTimer()
	for range b.N {
		run()
	}
	if flops > 0 {
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
}

func benchMatMul(b *testing.B, m, k, n int, transB bool, dt ml.DType) {
	be := open(b)
	x := randTensor(b, be, ml.F32, m, k)
	w := randTensor(b, be, dt, k, n)
	if transB {
		w = randTensor(b, be, dt, n, k)
	}
	benchOp(b, be, 2*float64(m)*float64(k)*float64(n), func(c *ml.Context) *ml.Tensor { return c.MatMul(x, w, false, transB) })
}

func BenchmarkMatMul1024(b *testing.B)     { benchMatMul(b, 1024, 1024, 1024, false, ml.F32) }
func BenchmarkMatMul256x1024(b *testing.B) { benchMatMul(b, 256, 1024, 1024, false, ml.F32) }
func BenchmarkLinear1024(b *testing.B)     { benchMatMul(b, 1024, 1024, 1024, true, ml.F32) }
func BenchmarkLinear1024F16(b *testing.B)  { benchMatMul(b, 1024, 1024, 1024, true, ml.F16) }
func BenchmarkLinear194x256(b *testing.B)  { benchMatMul(b, 194, 256, 768, true, ml.F16) }

// BenchmarkConv3x3 is a 3×3 64→64 convolution on 256×256 (stride 1, pad 1, bias).
func BenchmarkConv3x3(b *testing.B) {
	be := open(b)
	x := randTensor(b, be, ml.F32, 1, 64, 256, 256)
	w := randTensor(b, be, ml.F32, 64, 64, 3, 3)
	bias := randTensor(b, be, ml.F32, 64)
	benchOp(b, be, 2*64*64*9*256*256, func(c *ml.Context) *ml.Tensor { return c.Conv2D(x, w, bias, 1, 1) })
}

// BenchmarkChain100 records 100 small dependent ops per Execute (per-dispatch overhead).
func BenchmarkChain100(b *testing.B) {
	be := open(b)
	x := randTensor(b, be, ml.F32, 1024)
	benchOp(b, be, 0, func(c *ml.Context) *ml.Tensor {
		y := x
		for range 100 {
			y = c.Scale(y, 1.0001)
		}
		return y
	})
}

// BenchmarkAttention194 is the model's attention shape: 4 heads of 64, 194 tokens, batch 4.
func BenchmarkAttention194(b *testing.B) {
	be := open(b)
	q := randTensor(b, be, ml.F32, 4, 4, 194, 64)
	k := randTensor(b, be, ml.F32, 4, 4, 194, 64)
	v := randTensor(b, be, ml.F32, 4, 4, 194, 64)
	benchOp(b, be, 4*16*194*194*64, func(c *ml.Context) *ml.Tensor { return c.Attention(q, k, v, nil, 194, 0.125) })
}
