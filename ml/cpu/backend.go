// Package cpu is the reference compute backend: Go loops spread over all cores, with GEMM
// (matmul, implicit-GEMM convolution, attention) in OpenBLAS.
package cpu

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/hitsr/hitsr/ml"
	"github.com/x448/float16"
)

// Backend runs ops on the host. F16 tensors are kept widened to float32 (values rounded to
// fp16), so results equal a device that stores fp16 and computes in fp32.
type Backend struct{}

// New returns the CPU backend.
func New() *Backend { return &Backend{} }

// buf is a tensor's host memory; exactly one slice is set, by dtype.
type buf struct {
	f []float32
	i []int32
	u []uint8
}

func (*Backend) Name() string      { return fmt.Sprintf("cpu (%d threads, OpenBLAS)", runtime.NumCPU()) }
func (*Backend) SupportsF16() bool { return false }
func (*Backend) Close() error      { return nil }
func (*Backend) Free(ml.Storage)   {}

func (*Backend) Alloc(dtype ml.DType, n int) (ml.Storage, error) {
	switch dtype {
	case ml.I32:
		return &buf{i: make([]int32, n)}, nil
	case ml.U8:
		return &buf{u: make([]uint8, n)}, nil
	}
	return &buf{f: make([]float32, n)}, nil
}

func (*Backend) Write(s ml.Storage, dtype ml.DType, data any) error {
	b := s.(*buf)
	switch d := data.(type) {
	case []float32:
		copy(b.f, d)
		if dtype == ml.F16 {
			roundF16(b.f)
		}
	case []int32:
		copy(b.i, d)
	case []uint8:
		copy(b.u, d)
	default:
		return fmt.Errorf("cpu: cannot write %T", data)
	}
	return nil
}

func (*Backend) Read(s ml.Storage, _ ml.DType, dst any) error {
	b := s.(*buf)
	switch d := dst.(type) {
	case []float32:
		copy(d, b.f)
	case []int32:
		copy(d, b.i)
	case []uint8:
		copy(d, b.u)
	default:
		return fmt.Errorf("cpu: cannot read into %T", dst)
	}
	return nil
}

func roundF16(v []float32) {
	for i, x := range v {
		v[i] = float16.Fromfloat32(x).Float32()
	}
}

func f(t *ml.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Storage().(*buf).f
}

func ints(t *ml.Tensor) []int32    { return t.Storage().(*buf).i }
func bytesOf(t *ml.Tensor) []uint8 { return t.Storage().(*buf).u }

// Execute runs the nodes in order.
func (be *Backend) Execute(nodes []*ml.Node) error {
	for _, n := range nodes {
		if err := be.run(n); err != nil {
			return fmt.Errorf("cpu: %s: %w", n.Op, err)
		}
	}
	return nil
}

func (be *Backend) run(n *ml.Node) error {
	in, out := n.In, n.Out
	switch n.Op {
	case ml.OpMatMul:
		matmul(n)
	case ml.OpConv2D:
		conv2d(n)
	case ml.OpGroupNorm:
		groupNorm(n)
	case ml.OpLayerNorm:
		layerNorm(n)
	case ml.OpUnary:
		unary(n)
	case ml.OpSoftmax:
		softmax(f(in[0]), f(out), in[0].Dim(-1))
	case ml.OpScale:
		s := n.P.Scale
		x, y := f(in[0]), f(out)
		parallel(len(y), 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				y[i] = x[i] * s
			}
		})
	case ml.OpAdd, ml.OpSub, ml.OpMul:
		binary(n)
	case ml.OpAttention:
		attention(n)
	case ml.OpUpsample:
		upsample(n)
	case ml.OpAreaDown:
		areaDown(n)
	case ml.OpNearestCode:
		nearestCode(n)
	case ml.OpGather:
		gather(n)
	case ml.OpArgmax:
		argmax(n)
	case ml.OpPixelShuffle, ml.OpConcat, ml.OpSlice, ml.OpSetSlice, ml.OpPermute:
		layout(n)
	case ml.OpCast:
		copy(f(out), f(in[0]))
		if out.DType() == ml.F16 {
			roundF16(f(out))
		}
	case ml.OpYUVToRGB:
		yuvToRGB(n)
	case ml.OpRGBToYUV:
		rgbToYUV(n)
	default:
		return fmt.Errorf("not implemented")
	}
	return nil
}

// parallel splits [0, n) into chunks of at least grain items across the cores.
func parallel(n, grain int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n/max(grain, 1) {
		workers = n / max(grain, 1)
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+step, n))
	}
	wg.Wait()
}
