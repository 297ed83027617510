// Package cpu is the compute backend on the host: Go loops spread over all cores, with GEMM
// (matmul, implicit-GEMM convolution, attention) in OpenBLAS.
package cpu

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

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

func (*Backend) Name() string {
	return fmt.Sprintf("cpu (%d threads, OpenBLAS %s)", runtime.NumCPU(), CoreName())
}
func (*Backend) SupportsF16() bool { return false }
func (*Backend) Close() error      { return nil }

func (*Backend) Alloc(dtype ml.DType, n int) (ml.Storage, error) { return alloc(dtype, n), nil }

// Free returns tensor memory to the pools. Nothing may use it afterwards: a Context clears a
// freed tensor's storage, and no op's worker outlives the op (see panics).
func (*Backend) Free(s ml.Storage) { release(s.(*buf)) }

// pools recycles tensor memory and op scratch by exact size (passes repeat the same shapes),
// sparing fresh memory's page faults and zeroing.
var pools sync.Map // poolKey → *sync.Pool of *buf

// poolKey is a size class; F16 shares F32's (both hold float32).
type poolKey struct {
	dtype ml.DType
	n     int
}

func pool(dtype ml.DType, n int) *sync.Pool {
	if dtype == ml.F16 {
		dtype = ml.F32
	}
	p, _ := pools.LoadOrStore(poolKey{dtype, n}, new(sync.Pool))
	return p.(*sync.Pool)
}

// alloc returns a buffer of n elements of dtype with undefined contents.
func alloc(dtype ml.DType, n int) *buf {
	if b := pool(dtype, n).Get(); b != nil {
		return b.(*buf)
	}
	switch dtype {
	case ml.I32:
		return &buf{i: make([]int32, n)}
	case ml.U8:
		return &buf{u: make([]uint8, n)}
	}
	return &buf{f: make([]float32, n)}
}

func release(b *buf) {
	switch {
	case b.i != nil:
		pool(ml.I32, len(b.i)).Put(b)
	case b.u != nil:
		pool(ml.U8, len(b.u)).Put(b)
	default:
		pool(ml.F32, len(b.f)).Put(b)
	}
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

// f, ints and bytesOf are a tensor's elements (its storage may be larger: reused memory).
func f(t *ml.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Storage().(*buf).f[:t.Len()]
}

func ints(t *ml.Tensor) []int32    { return t.Storage().(*buf).i[:t.Len()] }
func bytesOf(t *ml.Tensor) []uint8 { return t.Storage().(*buf).u[:t.Len()] }

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
		return unary(n)
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
	case ml.OpSampleTopK:
		sampleTopK(n)
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
	var p panics
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		wg.Go(func() {
			defer p.catch()
			fn(lo, min(lo+step, n))
		})
	}
	wg.Wait()
	p.rethrow()
}

// threads is how many workers each uses for n items.
func threads(n int) int { return max(1, min(runtime.GOMAXPROCS(0), n)) }

// each runs fn(w, i) for items i in 0..n−1 on threads(n) workers, handed out one at a time;
// w < threads(n) names the worker, for per-worker scratch.
func each(n int, fn func(w, i int)) {
	var next atomic.Int64
	var p panics
	run := func(w int) {
		defer p.catch()
		for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
			fn(w, i)
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < threads(n); w++ {
		wg.Go(func() { run(w) })
	}
	run(0)
	wg.Wait()
	p.rethrow()
}

// panics holds the first panic of an op's workers. It reaches the op's caller only after every
// worker has stopped: a worker left running while the caller unwinds (a recovered panic, then
// the context closed) would write into memory already reused, and a panic on a worker
// goroutine could not be recovered at all.
type panics struct {
	mu  sync.Mutex
	msg string
}

func (p *panics) catch() {
	if r := recover(); r != nil {
		p.mu.Lock()
		if p.msg == "" {
			p.msg = fmt.Sprintf("%v\n%s", r, debug.Stack())
		}
		p.mu.Unlock()
	}
}

func (p *panics) rethrow() {
	if p.msg != "" {
		panic(p.msg)
	}
}
