package cpu

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/ml"
)

// invCase builds a graph over a batch: in makes a per-item input [B, shape...] (item i's values
// depend only on its id), shared a batch-independent input. The result's axis 0 is the item.
type invCase struct {
	name  string
	build func(c *ml.Context, in, shared func(shape ...int) *ml.Tensor) *ml.Tensor
}

func invCases() []invCase {
	linear := func(t, k, n int) invCase {
		return invCase{fmt.Sprintf("linear_T%d_K%d_N%d", t, k, n), func(c *ml.Context, in, sh func(...int) *ml.Tensor) *ml.Tensor {
			return c.Linear(in(t, k), sh(n, k), sh(n))
		}}
	}
	conv := func(cin, h, w, cout, k, stride, pad int) invCase {
		return invCase{fmt.Sprintf("conv_%dx%dx%d_to_%d_k%d_s%d_p%d", cin, h, w, cout, k, stride, pad),
			func(c *ml.Context, in, sh func(...int) *ml.Tensor) *ml.Tensor {
				return c.Conv2D(in(cin, h, w), sh(cout, cin, k, k), sh(cout), stride, pad)
			}}
	}
	return []invCase{
		linear(1, 256, 768), // one token per item (the transformer's first scale), four column blocks
		linear(9, 64, 33),
		linear(2100, 8, 128), // two row blocks per item
		{"matmul_per_item_b", func(c *ml.Context, in, sh func(...int) *ml.Tensor) *ml.Tensor {
			return c.MatMul(in(17, 24), in(24, 9), false, false)
		}},
		{"matmul_shared_b_transposed", func(c *ml.Context, in, sh func(...int) *ml.Tensor) *ml.Tensor {
			return c.MatMul(in(24, 17), sh(9, 24), true, true)
		}},
		conv(16, 40, 37, 64, 3, 1, 1), // shifted taps, two bands per image
		conv(8, 21, 67, 48, 3, 1, 1),  // shifted taps, rows written in place
		conv(3, 23, 31, 8, 5, 1, 2),
		conv(8, 33, 20, 16, 3, 2, 1), // im2col
		conv(16, 7, 9, 8, 1, 1, 0),
		{"attention_limits", func(c *ml.Context, in, sh func(...int) *ml.Tensor) *ml.Tensor {
			lim := c.Input(ml.I32, []int{17}, ml.BlockCausalLimits([]int{4, 5, 8}, 14, 17))
			return c.Attention(in(4, 17, 16), in(4, 40, 16), in(4, 40, 16), lim, 31, 0.25)
		}},
		{"nearest_code", func(c *ml.Context, in, sh func(...int) *ml.Tensor) *ml.Tensor {
			return c.NearestCode(in(16), sh(512, 16))
		}},
		{"transformer_mlp_softmax", func(c *ml.Context, in, sh func(...int) *ml.Tensor) *ml.Tensor {
			x := c.LayerNorm(in(13, 64), sh(64), sh(64), 1e-5)
			h := c.Linear(c.GELU(c.Linear(x, sh(256, 64), sh(256))), sh(64, 256), nil)
			return c.Softmax(c.Add(x, h))
		}},
		{"groupnorm_silu_upsample", func(c *ml.Context, in, sh func(...int) *ml.Tensor) *ml.Tensor {
			x := c.SiLU(c.GroupNorm(in(32, 5, 7), 8, sh(32), sh(32), 1e-5))
			return c.Upsample(x, 20, 28, ml.Bicubic)
		}},
	}
}

// batches are the compositions an item (id 0) is computed in: alone, then at various positions
// of batches of 2, 5 and 13 items.
var batches = [][]int{{0}, {1, 0}, {1, 2, 3, 0, 4}, {1, 2, 3, 4, 5, 6, 0, 7, 8, 9, 10, 11, 12}}

// runBatch computes a case over the items ids and returns item 0's result.
func runBatch(be ml.Backend, cs invCase, ids []int) ([]float32, error) {
	c := ml.NewContext(be)
	defer c.Close()
	numel := func(shape []int) int {
		n := 1
		for _, d := range shape {
			n *= d
		}
		return n
	}
	nIn, nShared := 0, 0
	in := func(shape ...int) *ml.Tensor {
		per := numel(shape)
		v := make([]float32, 0, len(ids)*per)
		for _, id := range ids {
			r := rand.New(rand.NewPCG(uint64(nIn), uint64(id)))
			for range per {
				v = append(v, float32(r.NormFloat64()))
			}
		}
		nIn++
		return c.Input(ml.F32, append([]int{len(ids)}, shape...), v)
	}
	shared := func(shape ...int) *ml.Tensor {
		r := rand.New(rand.NewPCG(1<<32+uint64(nShared), 7))
		nShared++
		v := make([]float32, numel(shape))
		for i := range v {
			v[i] = float32(r.NormFloat64() / 8)
		}
		return c.Input(ml.F32, shape, v)
	}
	out := cs.build(c, in, shared)
	var got []float32
	if out.DType() == ml.I32 {
		ids, err := c.Int32s(out)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			got = append(got, float32(id))
		}
	} else {
		var err error
		if got, err = c.Floats(out); err != nil {
			return nil, err
		}
	}
	per := len(got) / len(ids)
	at := slices.Index(ids, 0)
	return got[at*per : (at+1)*per], nil
}

// TestBatchInvariance: an item's result is bit-identical whether it is computed alone (on one
// thread) or at any position of a larger batch (on all threads), for GEMMs, convolutions,
// attention, VQ and the row-wise ops. (Video tile reuse relies on it.)
func TestBatchInvariance(t *testing.T) {
	t.Logf("openblas core: %s", CoreName())
	be := New()
	for _, cs := range invCases() {
		var alone []float32
		for i, ids := range batches {
			procs := runtime.GOMAXPROCS(0)
			if i == 0 {
				runtime.GOMAXPROCS(1)
			}
			got, err := runBatch(be, cs, ids)
			runtime.GOMAXPROCS(procs)
			if err != nil {
				t.Fatalf("%s: %v", cs.name, err)
			}
			if i == 0 {
				alone = got
				continue
			}
			if d, at := firstDiff(got, alone); at >= 0 {
				t.Errorf("%s: item at position %d of %d differs from the item alone: [%d] %v vs %v (Δ %.3g)",
					cs.name, slices.Index(ids, 0), len(ids), at, got[at], alone[at], d)
			}
		}
	}
}

func firstDiff(a, b []float32) (float64, int) {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return float64(a[i]) - float64(b[i]), i
		}
	}
	return 0, -1
}

// openblasCores are OpenBLAS's x86-64 kernel sets (OPENBLAS_CORETYPE values); a child run
// reports which one it got, so names this OpenBLAS does not know are skipped.
var openblasCores = []string{"Prescott", "Atom", "Core2", "Penryn", "Dunnington", "Nehalem", "Opteron",
	"Opteron_SSE3", "Barcelona", "Nano", "Sandybridge", "Bobcat", "Bulldozer", "Piledriver", "Haswell",
	"Steamroller", "Excavator", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"}

var coreLine = regexp.MustCompile(`openblas core: (\S+)`)

// TestBatchInvarianceCoreTypes reruns TestBatchInvariance (a child process: OpenBLAS reads
// OPENBLAS_CORETYPE when it loads) with the detected kernels and with each kernel set forced,
// skipping those this CPU cannot run (illegal instruction) or this OpenBLAS does not have.
// The default ("") run uses the detected kernels.
func TestBatchInvarianceCoreTypes(t *testing.T) {
	if os.Getenv("HITSR_INVARIANCE_CHILD") != "" {
		t.Skip("child run")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	cores := []string{""}
	if runtime.GOARCH == "amd64" {
		cores = append(cores, openblasCores...)
	}
	var ran []string
	for _, ct := range cores {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBatchInvariance$", "-test.v", "-test.count=1")
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "OPENBLAS_CORETYPE=") {
				cmd.Env = append(cmd.Env, e)
			}
		}
		cmd.Env = append(cmd.Env, "HITSR_INVARIANCE_CHILD=1")
		if ct != "" {
			cmd.Env = append(cmd.Env, "OPENBLAS_CORETYPE="+ct)
		}
		out, err := cmd.CombinedOutput()
		if err != nil && bytes.Contains(out, []byte("SIGILL: illegal instruction")) { // Go's report
			t.Logf("OPENBLAS_CORETYPE=%s: this CPU lacks its instructions (SIGILL)", ct)
			continue
		}
		m := coreLine.FindSubmatch(out)
		if m == nil {
			t.Errorf("OPENBLAS_CORETYPE=%s: child did not run: %v\n%s", ct, err, out)
			continue
		}
		if ct != "" && !strings.EqualFold(string(m[1]), ct) {
			t.Logf("OPENBLAS_CORETYPE=%s: not in this OpenBLAS (it runs %s)", ct, m[1])
			continue
		}
		if err != nil {
			t.Errorf("OPENBLAS_CORETYPE=%s (%s): %v\n%s", ct, m[1], err, out)
			continue
		}
		ran = append(ran, string(m[1]))
	}
	t.Logf("batch invariance holds with OpenBLAS kernels %v", ran)
}
