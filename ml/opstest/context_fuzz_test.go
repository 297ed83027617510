package opstest

import (
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/ml/cpu"
)

// FuzzContext runs random op sequences (random small shapes, dtypes and parameters; nil,
// foreign, freed and invalid operands; Computes and reads in between) on the CPU and reference
// backends. Nothing may panic; an op given a nil required input fails the context naming the op;
// the first error sticks; and a context without error reads every result it produced.
func FuzzContext(f *testing.F) {
	// Seeds as step decodes them: an op byte, then its operands (pool index × 16; 0x0f is nil)
	// and parameters. 0x00 is an input (dtype, rank − 1, each side − 1, data seed), 0x1a a
	// weight, 0x17 Compute, 0x18 a read.
	for _, s := range []string{
		"",
		"00 00 01 01 02 05  00 00 01 01 02 06  08 00 10 00  17 18 20",                         // [2 3] + [2 3]
		"00 00 03 00 01 03 03 07  1a 03 02 01 02 02 00 09  04 00 10 0f 00 01  17 18 20",       // conv2d 3×3 pad 1
		"00 00 03 00 01 02 03 05  00 00 03 00 01 04 03 06  09 00 10 10 0f 01 07 03  17 18 20", // attention, limits
		"09 0f 0f 0f 0f 00 01",                                               // attention of nils
		"15 03 03 0f 01 05 01 00  16 00 00  17 18 10",                        // yuv420p → rgb → yuv420p
		"00 00 01 04 02 05  1a 01 03 02 01 08  0c 00 10  0d 10 20  17 18 30", // nearest_code, gather
	} {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	cpuB, ref := cpu.New(), NewRefBackend()
	defer cpuB.Close()
	f.Fuzz(func(t *testing.T, prog []byte) {
		for _, b := range []ml.Backend{cpuB, ref} {
			runProgram(t, b, prog)
		}
	})
}

// program reads a fuzz input as small integers; past its end every read is 0.
type program struct {
	b []byte
	i int
}

func (p *program) byte() int {
	if p.i >= len(p.b) {
		return 0
	}
	p.i++
	return int(p.b[p.i-1])
}

// n is in lo..hi, or now and then an edge value just outside it (or far outside).
func (p *program) n(lo, hi int) int {
	v := p.byte()
	if v >= 246 {
		return [...]int{lo - 1, hi + 1, 0, -1, math.MaxInt32, math.MinInt32, 1 << 40, -1 << 40, math.MaxInt, math.MinInt}[v-246]
	}
	return lo + v%(hi-lo+1)
}

func (p *program) bool() bool { return p.byte()&1 == 1 }

// shape has rank 1..4 and sides 1..5 (now and then a bad rank or side).
func (p *program) shape() []int {
	s := make([]int, max(p.n(1, 4), 0)%6)
	for i := range s {
		s[i] = p.n(1, 5)
	}
	return s
}

type runner struct {
	t       *testing.T
	p       *program
	c       *ml.Context
	pool    []*ml.Tensor // operands: inputs, persistent tensors and results
	persist []*ml.Tensor
	foreign *ml.Tensor // from another context
	freed   *ml.Tensor // a released persistent tensor
}

// operand picks a pool tensor, or nil, a foreign, freed or zero-value tensor.
func (r *runner) operand() *ml.Tensor {
	v := r.p.byte()
	switch {
	case v%16 == 15 || len(r.pool) == 0:
		return nil
	case v%16 == 14:
		return r.foreign
	case v%16 == 13:
		return r.freed
	case v%16 == 12:
		return &ml.Tensor{}
	}
	return r.pool[v/16%len(r.pool)]
}

// data returns values for n elements of dtype: small numbers, ids around a table's size, bytes,
// and now and then NaN, ±Inf or an extreme id.
func data(dtype ml.DType, n int, seed uint64) any {
	rng := rand.New(rand.NewPCG(seed, 1))
	switch dtype {
	case ml.I32:
		d := make([]int32, n)
		for i := range d {
			d[i] = int32(rng.IntN(12)) - 3
			if seed%7 == 0 && i == n-1 {
				d[i] = math.MaxInt32
			}
		}
		return d
	case ml.U8:
		d := make([]uint8, n)
		for i := range d {
			d[i] = uint8(rng.Uint32())
		}
		return d
	}
	d := make([]float32, n)
	for i := range d {
		d[i] = rng.Float32()*8 - 4
	}
	if n > 0 && seed%11 == 0 {
		d[rng.IntN(n)] = [...]float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[seed%3]
	}
	return d
}

// numelOK returns shape's element count and whether it is a valid shape of at most 2^16.
func numelOK(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 1 || d > 1<<16 {
			return 0, false
		}
		if n *= d; n > 1<<16 {
			return 0, false
		}
	}
	return n, len(shape) > 0 && len(shape) <= ml.MaxRank
}

// input records a context input of shape (bad shapes are passed through to fail the context).
func (r *runner) input(dtype ml.DType, shape []int) *ml.Tensor {
	n, ok := numelOK(shape)
	if !ok {
		n = 1
	}
	return r.c.Input(dtype, shape, data(dtype, n, uint64(r.p.byte())))
}

// like returns a shape near x's: the same, or with one side changed.
func (r *runner) like(x *ml.Tensor) []int {
	if x == nil || x.Rank() == 0 {
		return r.p.shape()
	}
	s := x.Shape()
	if v := r.p.byte(); v%4 == 0 {
		s[v/4%len(s)] = r.p.n(1, 5)
	}
	return s
}

func (r *runner) dtype() ml.DType { return ml.DType(r.p.byte() % 4) }

const nOps = 28

// step records one op; nilReq reports a nil required operand.
func (r *runner) step() (op string, out *ml.Tensor, nilReq bool) {
	p, c := r.p, r.c
	req := func(ts ...*ml.Tensor) {
		for _, t := range ts {
			nilReq = nilReq || t == nil
		}
	}
	switch code := p.byte() % nOps; code {
	case 0:
		return "input", r.input(r.dtype(), p.shape()), false
	case 1:
		x := r.operand()
		req(x)
		s := p.shape()
		if len(s) > 0 && p.bool() {
			s[p.byte()%len(s)] = -1
		}
		return "reshape", c.Reshape(x, s...), nilReq
	case 2:
		a, b := r.operand(), r.operand()
		req(a, b)
		return "matmul", c.MatMul(a, b, p.bool(), p.bool()), nilReq
	case 3:
		x, w, bias := r.operand(), r.operand(), r.operand()
		req(x, w)
		return "linear", c.Linear(x, w, bias), nilReq
	case 4:
		x, w, bias := r.operand(), r.operand(), r.operand()
		req(x, w)
		return "conv2d", c.Conv2D(x, w, bias, p.n(1, 3), p.n(0, 2)), nilReq
	case 5:
		x, g, b := r.operand(), r.operand(), r.operand()
		req(x)
		return "group_norm", c.GroupNorm(x, p.n(1, 4), g, b, 1e-5), nilReq
	case 6:
		x, g, b := r.operand(), r.operand(), r.operand()
		req(x)
		return "layer_norm", c.LayerNorm(x, g, b, 1e-5), nilReq
	case 7:
		x := r.operand()
		req(x)
		switch p.byte() % 5 {
		case 0:
			return "gelu", c.GELU(x), nilReq
		case 1:
			return "silu", c.SiLU(x), nilReq
		case 2:
			return "relu", c.ReLU(x), nilReq
		case 3:
			return "softmax", c.Softmax(x), nilReq
		}
		return "scale", c.Scale(x, float32(p.n(-2, 2))), nilReq
	case 8:
		a, b := r.operand(), r.operand()
		req(a, b)
		switch p.byte() % 3 {
		case 0:
			return "add", c.Add(a, b), nilReq
		case 1:
			return "sub", c.Sub(a, b), nilReq
		}
		return "mul", c.Mul(a, b), nilReq
	case 9:
		q, k, v, lim := r.operand(), r.operand(), r.operand(), r.operand()
		req(q, k, v)
		if q != nil && q.Rank() == 4 && p.bool() { // limits that fit q
			lim = r.input(ml.I32, []int{q.Dim(2)})
		}
		return "attention", c.Attention(q, k, v, lim, p.n(1, 5), 0.5), nilReq
	case 10:
		x := r.operand()
		req(x)
		return "upsample", c.Upsample(x, p.n(1, 12), p.n(1, 12), ml.Interp(p.byte()%4)), nilReq
	case 11:
		x := r.operand()
		req(x)
		return "area_down", c.AreaDown(x, p.n(1, 5), p.n(1, 5)), nilReq
	case 12:
		x, cb := r.operand(), r.operand()
		req(x, cb)
		return "nearest_code", c.NearestCode(x, cb), nilReq
	case 13:
		table, ids := r.operand(), r.operand()
		req(table, ids)
		return "gather", c.Gather(table, ids), nilReq
	case 14:
		x := r.operand()
		req(x)
		if p.bool() {
			u := r.operand()
			req(u)
			return "sample_topk", c.SampleTopK(x, u, p.n(0, 5), float32(p.n(-1, 2))), nilReq
		}
		return "argmax", c.Argmax(x), nilReq
	case 15:
		x := r.operand()
		req(x)
		return "pixel_shuffle", c.PixelShuffle(x, p.n(1, 3)), nilReq
	case 16:
		ts := make([]*ml.Tensor, p.byte()%4)
		for i := range ts {
			ts[i] = r.operand()
		}
		req(ts...)
		nilReq = nilReq || len(ts) == 0
		return "concat", c.Concat(p.n(-2, 3), ts...), nilReq
	case 17:
		x := r.operand()
		req(x)
		return "slice", c.Slice(x, p.n(-2, 3), p.n(0, 4), p.n(1, 5)), nilReq
	case 18:
		dst, src := r.operand(), r.operand()
		req(dst, src)
		c.SetSlice(dst, src, p.n(-2, 3), p.n(0, 4))
		return "set_slice", nil, nilReq
	case 19:
		x := r.operand()
		req(x)
		perm := make([]int, p.byte()%5)
		for i := range perm {
			perm[i] = p.n(0, 3)
		}
		return "permute", c.Permute(x, perm...), nilReq
	case 20:
		x := r.operand()
		req(x)
		return "cast", c.Cast(x, r.dtype()), nilReq
	case 21:
		w, h := p.n(1, 6), p.n(1, 6)
		frame := r.operand()
		if p.bool() {
			frame = r.input(ml.U8, []int{max(ml.YUV420Size(max(w, 0)%64, max(h, 0)%64), 1)})
		}
		req(frame)
		cs := ml.ColorSpec{Matrix: ml.Matrix(p.byte() % 2), FullRange: p.bool()}
		return "yuv420p_to_rgb", c.YUV420ToRGB(frame, w, h, cs), nilReq
	case 22:
		x := r.operand()
		req(x)
		return "rgb_to_yuv420p", c.RGBToYUV420(x, ml.ColorSpec{Matrix: ml.Matrix(p.byte() % 2)}), nilReq
	case 23:
		c.Compute()
		return "compute", nil, false
	case 24:
		r.read(r.operand())
		return "read", nil, false
	case 25:
		return "input", r.input(r.dtype(), r.like(r.operand())), false
	case 26: // a weight
		dt, s := ml.F32, p.shape()
		if p.bool() {
			dt = ml.F16
		}
		n, ok := numelOK(s)
		if !ok {
			return "weight", nil, false
		}
		w, err := ml.NewTensor(c.Backend(), dt, s, data(dt, n, uint64(p.byte())))
		if err != nil {
			r.t.Fatalf("weight %v: %v", s, err)
		}
		r.persist = append(r.persist, w)
		return "weight", w, false
	default:
		x := r.operand()
		req(x)
		return "group_norm", c.GroupNorm(x, p.n(1, 4), r.input(ml.F32, r.like(x)), nil, 1e-5), nilReq
	}
}

// read downloads x as its dtype's slice (errors are the context's to report).
func (r *runner) read(x *ml.Tensor) error {
	if x != nil && x.DType() == ml.I32 {
		_, err := r.c.Int32s(x)
		return err
	}
	if x != nil && x.DType() == ml.U8 {
		_, err := r.c.Uint8s(x)
		return err
	}
	_, err := r.c.Floats(x)
	return err
}

func runProgram(t *testing.T, b ml.Backend, prog []byte) {
	p := &program{b: prog}
	other := ml.NewContext(b)
	defer other.Close()
	freed, err := ml.NewTensor(b, ml.F32, []int{2}, []float32{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	ml.Free(b, freed)
	r := &runner{t: t, p: p, c: ml.NewContext(b), freed: freed,
		foreign: other.Input(ml.F32, []int{2, 2}, make([]float32, 4))}
	defer func() {
		r.c.Close()
		for _, w := range r.persist {
			ml.Free(b, w)
		}
	}()
	var first error
	for steps := 0; p.i < len(p.b) && steps < 64; steps++ {
		before := r.c.Err()
		op, out, nilReq := r.step()
		err := r.c.Err()
		switch {
		case before != nil && err != before:
			t.Fatalf("%s on %s replaced error %q with %v", op, b.Name(), before, err)
		case err != nil && err.Error() == "":
			t.Fatalf("%s on %s: empty error", op, b.Name())
		case nilReq && before == nil && (err == nil || !strings.Contains(err.Error(), op) && !strings.HasPrefix(err.Error(), "input:")):
			t.Fatalf("%s on %s with a nil input: error %v, want one naming the op (or an input it made)", op, b.Name(), err)
		}
		if first == nil {
			first = err
		}
		if _, ok := numelOK(shapeOf(out)); ok {
			r.pool = append(r.pool, out)
		}
	}
	if err := r.c.Compute(); err != first && first != nil {
		t.Fatalf("Compute on %s returned %v, not the first error %v", b.Name(), err, first)
	}
	if r.c.Err() != nil {
		return
	}
	for i, x := range r.pool {
		if err := r.read(x); err != nil {
			t.Fatalf("pool[%d] %v on %s: %v", i, x, b.Name(), err)
		}
	}
}

func shapeOf(x *ml.Tensor) []int {
	if x == nil {
		return nil
	}
	return x.Shape()
}
