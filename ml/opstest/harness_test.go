package opstest

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/ml/device"
	"github.com/hitsr/hitsr/ml/vulkan"
	"github.com/hitsr/hitsr/vk"
)

var (
	openOnce sync.Once
	opened   []ml.Backend
	skipped  []string
)

// backends returns every backend on this machine (CPU, each Vulkan device including CPU
// drivers such as lavapipe), opened once for the whole run. On CPU drivers the portable (GPU)
// kernels are tested too.
func backends(t *testing.T) []ml.Backend {
	t.Helper()
	openOnce.Do(func() {
		opened, skipped = device.All()
		devs, _ := vk.Devices()
		for _, d := range devs {
			if d.Type != vk.DeviceCPU {
				continue
			}
			b, err := vulkan.NewWithOptions(fmt.Sprintf("vulkan:%d", d.Index), vulkan.Options{Portable: true})
			if err != nil {
				skipped = append(skipped, err.Error())
				continue
			}
			opened = append(opened, b)
		}
	})
	return opened
}

const (
	tolF32 = 1e-4 // max_i |r_i − x_i| / (|x_i| + rms(x)) against the float64 reference
	tolF16 = 2e-3 // the same, F16-weight cases against the reference on unrounded weights
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, b := range opened {
		b.Close()
	}
	os.Exit(code)
}

func TestBackendsOpen(t *testing.T) {
	for _, b := range backends(t) {
		t.Logf("backend %s (f16 storage %v)", b.Name(), b.SupportsF16())
	}
	for _, s := range skipped {
		t.Logf("not tested: %s", s)
	}
}

// baseSeed is fresh per run unless OPSTEST_SEED is set; each case derives its own from it.
var baseSeed = func() uint64 {
	if s, err := strconv.ParseUint(os.Getenv("OPSTEST_SEED"), 10, 64); err == nil {
		return s
	}
	return uint64(time.Now().UnixNano())
}()

func caseSeed(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return baseSeed ^ h.Sum64()
}

// poisonBackend fills every fresh allocation with NaN (f32/f16), a sentinel (i32) or 0xA5
// (u8), so an element a kernel fails to write fails the comparison.
type poisonBackend struct{ ml.Backend }

const poisonI32 = -0x5A5A5A5B

func (p poisonBackend) Alloc(dtype ml.DType, n int) (ml.Storage, error) {
	s, err := p.Backend.Alloc(dtype, n)
	if err != nil {
		return nil, err
	}
	var fill any
	switch dtype {
	case ml.I32:
		v := make([]int32, n)
		for i := range v {
			v[i] = poisonI32
		}
		fill = v
	case ml.U8:
		v := make([]uint8, n)
		for i := range v {
			v[i] = 0xA5
		}
		fill = v
	default:
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.NaN())
		}
		fill = v
	}
	return s, p.Backend.Write(s, dtype, fill)
}

// gen creates a case's inputs from a seeded generator, so that the reference and every backend
// see the same data.
type gen struct {
	ctx      *ml.Context
	rng      *rand.Rand
	half     bool          // weight() makes F16 tensors
	contexts []*ml.Context // every context used, closed by done
	persist  []*ml.Tensor  // persistent tensors, freed by done
	keep     []*ml.Tensor  // intermediates a case holds to read after its result (TestRecycle)
	err      error         // first error of an intermediate compute
}

func newGen(b ml.Backend, seed uint64, half bool) *gen {
	ctx := ml.NewContext(b)
	return &gen{ctx: ctx, rng: rand.New(rand.NewPCG(seed, 0x0b5e55ed)), half: half, contexts: []*ml.Context{ctx}}
}

// next switches to a fresh context on the same backend (e.g. the next step of a decode loop).
func (g *gen) next() {
	g.ctx = ml.NewContext(g.ctx.Backend())
	g.contexts = append(g.contexts, g.ctx)
}

// compute runs what is recorded so far (a case computing in steps); errors fail the case.
func (g *gen) compute() {
	if err := g.ctx.Compute(); err != nil && g.err == nil {
		g.err = err
	}
}

func (g *gen) done() {
	for _, c := range g.contexts {
		c.Close()
	}
	for _, t := range g.persist {
		ml.Free(g.ctx.Backend(), t)
	}
}

func (g *gen) floats(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*g.rng.Float64())
	}
	return v
}

// uniform is an F32 input with values uniform in [lo, hi).
func (g *gen) uniform(lo, hi float64, shape ...int) *ml.Tensor {
	return g.ctx.Input(ml.F32, shape, g.floats(numel(shape), lo, hi))
}

// f32 is an F32 input uniform in [-1, 1).
func (g *gen) f32(shape ...int) *ml.Tensor { return g.uniform(-1, 1, shape...) }

// weight is an input uniform in [-1, 1): F16 in half cases, F32 otherwise (same values drawn).
func (g *gen) weight(shape ...int) *ml.Tensor {
	dt := ml.F32
	if g.half {
		dt = ml.F16
	}
	return g.ctx.Input(dt, shape, g.floats(numel(shape), -1, 1))
}

// ints is an I32 input uniform in [lo, hi).
func (g *gen) ints(lo, hi int, shape ...int) *ml.Tensor {
	v := make([]int32, numel(shape))
	for i := range v {
		v[i] = int32(lo + g.rng.IntN(hi-lo))
	}
	return g.ctx.Input(ml.I32, shape, v)
}

// persistent uploads a persistent tensor (ml.NewTensor) freed when the case ends.
func (g *gen) persistent(dtype ml.DType, shape []int, data any) *ml.Tensor {
	t, err := ml.NewTensor(g.ctx.Backend(), dtype, shape, data)
	if err != nil {
		panic(err) // only for invalid test data
	}
	g.persist = append(g.persist, t)
	return t
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// opCase is one test: build records ops on g.ctx (it may Compute in between) and returns the
// tensor to compare.
type opCase struct {
	name  string
	half  bool    // uses g.weight: F16 weights, also compared with the unrounded reference
	exact bool    // no arithmetic: results must equal the reference exactly
	tol   float64 // error bound of float results (0: tolF32)
	build func(g *gen) *ml.Tensor
}

// runCases runs every case on every backend as subtests backend/case.
func runCases(t *testing.T, cases []opCase) {
	for _, b := range backends(t) {
		t.Run(b.Name(), func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					if err := check(b, c); err != nil {
						t.Errorf("%v\n(seed: rerun with OPSTEST_SEED=%d)", err, baseSeed)
					}
				})
			}
		})
	}
}

// result is a case's output as float64 with its shape and dtype; for a reference nearest_code
// or sample_topk result also its inputs (copies: the context is closed after the case).
type result struct {
	v       []float64
	shape   []int
	dtype   ml.DType
	codes   *codeInputs
	samples *sampleInputs
}

// sampleInputs are sample_topk's logits [rows, V], uniforms and parameters.
type sampleInputs struct {
	x, u []float64
	v, k int
	t    float64
}

// codeInputs are nearest_code's rows x [M, C] and codebook [V, C].
type codeInputs struct {
	x, cb []float64
	c, v  int
}

// evalRef runs a case on the reference backend.
func evalRef(c opCase, seed uint64, half bool) (result, error) {
	rb := NewRefBackend()
	g := newGen(rb, seed, half)
	defer g.done()
	out := c.build(g)
	if g.compute(); g.err != nil {
		return result{}, fmt.Errorf("reference: %w", g.err)
	}
	r := result{v: slices.Clone(rb.Values(out)), shape: out.Shape(), dtype: out.DType()}
	if n := rb.Producer(out); n != nil && n.Op == ml.OpNearestCode {
		r.codes = &codeInputs{slices.Clone(rb.Values(n.In[0])), slices.Clone(rb.Values(n.In[1])), n.In[0].Dim(1), n.In[1].Dim(0)}
	}
	if n := rb.Producer(out); n != nil && n.Op == ml.OpSampleTopK {
		r.samples = &sampleInputs{slices.Clone(rb.Values(n.In[0])), slices.Clone(rb.Values(n.In[1])),
			n.In[0].Dim(-1), n.P.TopK, float64(n.P.Temperature)}
	}
	return r, nil
}

// eval runs a case on a backend whose allocations are poisoned.
func eval(b ml.Backend, c opCase, seed uint64) (result, error) {
	g := newGen(poisonBackend{b}, seed, c.half)
	defer g.done()
	out := c.build(g)
	if g.err != nil {
		return result{}, g.err
	}
	v, err := values(g.ctx, out)
	return result{v: v, shape: out.Shape(), dtype: out.DType()}, err
}

// values reads a tensor of any dtype as float64.
func values(c *ml.Context, t *ml.Tensor) ([]float64, error) {
	var out []float64
	var err error
	switch t.DType() {
	case ml.I32:
		var v []int32
		v, err = c.Int32s(t)
		for _, x := range v {
			out = append(out, float64(x))
		}
	case ml.U8:
		var v []uint8
		v, err = c.Uint8s(t)
		for _, x := range v {
			out = append(out, float64(x))
		}
	default:
		var v []float32
		v, err = c.Floats(t)
		for _, x := range v {
			out = append(out, float64(x))
		}
	}
	return out, err
}

// check runs one case on b and compares it with the reference. A panic (in ml, a backend
// or the reference) fails only this case.
func check(b ml.Backend, c opCase) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	seed := caseSeed(c.name)
	want, err := evalRef(c, seed, c.half)
	if err != nil {
		return err
	}
	got, err := eval(b, c, seed)
	if err != nil {
		return err
	}
	tol := tolF32
	if c.tol > 0 {
		tol = c.tol
	}
	if err := compare(got, want, c.exact, tol); err != nil || !c.half || got.dtype != ml.F32 {
		return err
	}
	unrounded, err := evalRef(c, seed, false)
	if err != nil {
		return err
	}
	if err := compare(got, unrounded, false, tolF16); err != nil {
		return fmt.Errorf("against the unrounded f32 reference: %w", err)
	}
	return nil
}

// compare checks got against the reference: floats within tol (or exactly), i32 exactly
// (nearest_code may pick a near-tied code), u8 within 1 (or exactly).
func compare(got, want result, exact bool, tol float64) error {
	if fmt.Sprint(got.shape) != fmt.Sprint(want.shape) || got.dtype != want.dtype {
		return fmt.Errorf("result %s%v, reference %s%v", got.dtype, got.shape, want.dtype, want.shape)
	}
	switch {
	case want.dtype == ml.U8 && !exact:
		return compareAbs(got, want, 1)
	case want.codes != nil:
		return compareCodes(got, want)
	case want.samples != nil:
		return compareSamples(got, want)
	case want.dtype == ml.I32 || exact:
		return compareAbs(got, want, 0)
	}
	return compareRel(got, want, tol)
}

// relErr is the suite's float error measure: max_i |r_i − x_i| / (|x_i| + rms(x)), where for
// outputs of fewer than 8 elements rms(x) is at least 1e-2 (a lone dot product can cancel to
// near zero, and then its own size says nothing of the arithmetic's). NaN, or an infinity that
// does not match, counts as +Inf. It returns the worst index.
func relErr(got, want []float64) (worst float64, at int) {
	rms := 0.0
	for _, x := range want {
		if !math.IsInf(x, 0) {
			rms += x * x
		}
	}
	rms = math.Sqrt(rms / float64(len(want)))
	if len(want) < 8 {
		rms = max(rms, 1e-2)
	}
	for i, x := range want {
		e := math.Abs(got[i]-x) / (math.Abs(x) + rms + 1e-300)
		if got[i] == x {
			e = 0 // equal infinities
		} else if math.IsNaN(e) {
			e = math.Inf(1)
		}
		if e > worst || i == 0 {
			worst, at = e, i
		}
	}
	return worst, at
}

func compareRel(got, want result, tol float64) error {
	worst, at := relErr(got.v, want.v)
	if worst < tol {
		return nil
	}
	bad := 0
	for i := range want.v {
		if e, _ := relErr(got.v[i:i+1], want.v[i:i+1]); e >= tol {
			bad++
		}
	}
	return fmt.Errorf("error %.3g ≥ %g at %v: got %.8g, want %.8g (%d of %d elements beyond it)",
		worst, tol, coords(want.shape, at), got.v[at], want.v[at], bad, len(want.v))
}

func compareAbs(got, want result, tol float64) error {
	bad, at := 0, -1
	for i, x := range want.v {
		if !(math.Abs(got.v[i]-x) <= tol) && !(got.v[i] == x) {
			if bad++; at < 0 {
				at = i
			}
		}
	}
	if bad == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d elements differ by more than %g; first at %v: got %v, want %v",
		bad, len(want.v), tol, coords(want.shape, at), got.v[at], want.v[at])
}

// compareCodes accepts a different code only if its distance is within 1e-5 (relative) of
// the best one's.
func compareCodes(got, want result) error {
	x, cb, c, v := want.codes.x, want.codes.cb, want.codes.c, want.codes.v
	for m, w := range want.v {
		g := int(got.v[m])
		if g == int(w) {
			continue
		}
		if g < 0 || g >= v {
			return fmt.Errorf("row %d: code %d out of range 0..%d (want %d)", m, g, v-1, int(w))
		}
		dg, dw := CodeDistance(x[m*c:(m+1)*c], cb, g), CodeDistance(x[m*c:(m+1)*c], cb, int(w))
		if dg-dw > 1e-5*dw {
			return fmt.Errorf("row %d: code %d at distance %.8g, want %d at %.8g", m, g, dg, int(w), dw)
		}
	}
	return nil
}

// compareSamples accepts a different draw only next to the reference's in the top-k order and
// with u within 1e-5 of the cumulative weight between them (f32 rounding moves the boundary).
func compareSamples(got, want result) error {
	sp := want.samples
	for r, w := range want.v {
		g := int(got.v[r])
		if g == int(w) {
			continue
		}
		cdf, idx := SampleCDF(sp.x[r*sp.v:(r+1)*sp.v], sp.k, sp.t)
		jg, jw := slices.Index(idx, g), slices.Index(idx, int(w))
		if jg < 0 || jg-jw != 1 && jw-jg != 1 || math.Abs(cdf[min(jg, jw)]-sp.u[r]) > 1e-5 {
			return fmt.Errorf("row %d: drew %d (rank %d of top %d), want %d (rank %d) at u %.8g, cdf there %.8g",
				r, g, jg, sp.k, int(w), jw, sp.u[r], cdf[jw])
		}
	}
	return nil
}

// coords turns a flat index into a coordinate list for messages.
func coords(shape []int, i int) []int {
	c := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		c[d] = i % shape[d]
		i /= shape[d]
	}
	return c
}

// faultyBackend is a RefBackend with zeroed (not NaN) fresh memory that breaks the last
// node's result, to check the harness.
type faultyBackend struct {
	*RefBackend
	fault func(before, after []float64)
}

func (f faultyBackend) Alloc(dtype ml.DType, n int) (ml.Storage, error) {
	return &refBuf{dtype: dtype, v: make([]float64, n)}, nil
}

func (f faultyBackend) Execute(nodes []*ml.Node) error {
	out := nodes[len(nodes)-1].Out.Storage().(*refBuf).v
	before := append([]float64(nil), out...)
	if err := f.RefBackend.Execute(nodes); err != nil {
		return err
	}
	f.fault(before, out)
	return nil
}

// TestHarness checks that the comparison passes a correct backend and catches an unwritten
// element (through the poisoning), a small error, a wrong index and a wrong draw.
func TestHarness(t *testing.T) {
	conv := opCase{name: "conv", build: func(g *gen) *ml.Tensor {
		return g.ctx.Conv2D(g.f32(1, 3, 5, 6), g.weight(4, 3, 3, 3), nil, 1, 1)
	}}
	argmax := opCase{name: "argmax", build: func(g *gen) *ml.Tensor { return g.ctx.Argmax(g.f32(4, 9)) }}
	sample := opCase{name: "sample", build: func(g *gen) *ml.Tensor {
		return g.ctx.SampleTopK(g.f32(5, 9), uniforms(g, 5), 9, 1)
	}}
	none := func(_, _ []float64) {}
	for _, tc := range []struct {
		name    string
		c       opCase
		fault   func(before, after []float64)
		wantErr string // "" for none
	}{
		{"correct", conv, none, ""},
		{"unwritten", conv, func(before, after []float64) { after[9] = before[9] }, "got NaN"},
		{"off by 1e-3", conv, func(_, v []float64) { v[7] += 1e-3 * (math.Abs(v[7]) + 1) }, "at [0 0 1 1]"},
		{"correct index", argmax, none, ""},
		{"wrong index", argmax, func(_, v []float64) { v[2] = float64((int(v[2]) + 1) % 9) }, "first at [2]"},
		{"correct draw", sample, none, ""},
		{"wrong draw", sample, func(_, v []float64) { v[3] = float64((int(v[3]) + 4) % 9) }, "row 3: drew"},
	} {
		err := check(faultyBackend{NewRefBackend(), tc.fault}, tc.c)
		if err == nil && tc.wantErr != "" || err != nil && (tc.wantErr == "" || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: check returned %v, want an error containing %q", tc.name, err, tc.wantErr)
		}
	}
}
