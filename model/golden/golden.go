// Package golden holds test helpers for the parity tests against testdata/golden (written by
// train/make_golden.py): backends, golden cases, batched inputs and comparisons.
package golden

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/ml/device"
	"github.com/hitsr/hitsr/model"
)

// Root is the repository root seen from a package directory one level down.
const Root = ".."

// Backends opens the CPU backend and Vulkan device 0 (skipped with a log line if it fails);
// they are closed when t ends.
func Backends(t *testing.T) []ml.Backend {
	var bs []ml.Backend
	for _, spec := range []string{"cpu", "vulkan:0"} {
		b, _, err := device.Open(spec)
		if err != nil {
			t.Logf("%s not tested: %v", spec, err)
			continue
		}
		t.Cleanup(func() { b.Close() })
		bs = append(bs, b)
	}
	return bs
}

// Case is one golden io file and the weights file it was made with.
type Case struct {
	Name, Weights string
	IO            *model.File
}

// Cases loads tiny_io (required), shipped_io (if present, with its model file) and the
// config variants of model/testdata (make_variants.py).
func Cases(t *testing.T) []Case {
	var cs []Case
	add := func(name, io, weightsDir string) {
		f, err := model.ReadFile(io)
		if err != nil {
			t.Fatal(err)
		}
		w := filepath.Join(weightsDir, f.Meta["model"])
		if _, err := os.Stat(w); err != nil {
			t.Logf("%s not tested: %v", name, err)
			return
		}
		cs = append(cs, Case{name, w, f})
	}
	add("tiny", filepath.Join(Root, "testdata/golden/tiny_io.safetensors"), filepath.Join(Root, "testdata/golden"))
	if p := filepath.Join(Root, "testdata/golden/shipped_io.safetensors"); exists(t, p) {
		add("shipped", p, Root)
	}
	for _, v := range []string{"plain", "pure", "deep"} {
		d := filepath.Join(Root, "model/testdata")
		if p := filepath.Join(d, v+"_io.safetensors"); exists(t, p) {
			add(v, p, d)
		}
	}
	return cs
}

// Run runs test as a subtest backend/case for every backend and golden case.
func Run(t *testing.T, test func(t *testing.T, b ml.Backend, c Case)) {
	for _, b := range Backends(t) {
		for _, c := range Cases(t) {
			t.Run(b.Name()+"/"+c.Name, func(t *testing.T) { test(t, b, c) })
		}
	}
}

// Load uploads the weights at path to b, freed when the test ends.
func Load(t testing.TB, path string, b ml.Backend) *model.Weights {
	t.Helper()
	w, err := model.Load(path, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Free)
	return w
}

func exists(t *testing.T, p string) bool {
	_, err := os.Stat(p)
	if err != nil {
		t.Logf("not tested: %v", err)
	}
	return err == nil
}

// Get returns the golden tensor name or fails.
func (c Case) Get(t testing.TB, name string) *model.Host {
	h, ok := c.IO.Tensors[name]
	if !ok {
		t.Fatalf("%s: no golden tensor %s", c.Name, name)
	}
	return h
}

// Input uploads golden tensor name (batch 1) repeated B times along dim 0.
func (c Case) Input(t testing.TB, ctx *ml.Context, name string, B int) *ml.Tensor {
	h := c.Get(t, name)
	shape := append([]int{B}, h.Shape[1:]...)
	if h.I != nil {
		var d []int32
		for range B {
			d = append(d, h.I...)
		}
		return ctx.Input(ml.I32, shape, d)
	}
	var d []float32
	for range B {
		d = append(d, h.F...)
	}
	return ctx.Input(ml.F32, shape, d)
}

// Metric selects how a float comparison is scored.
type Metric int

const (
	Rel Metric = iota // max|a−b| / max|b| ≤ 1e-3
	MAE               // mean|a−b| ≤ 1/255 (images)
)

// Check compares x (B copies of golden tensor name) with the golden values, per copy.
func (c Case) Check(t testing.TB, ctx *ml.Context, x *ml.Tensor, name string, m Metric) {
	t.Helper()
	h := c.Get(t, name)
	if h.I != nil {
		got, err := ctx.Int32s(x)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got)%len(h.I) != 0 {
			t.Fatalf("%s: %d values, golden %d", name, len(got), len(h.I))
		}
		for i, v := range got {
			if w := h.I[i%len(h.I)]; v != w {
				t.Errorf("%s %s: tile %d token %d = %d, want %d", c.Name, name, i/len(h.I), i%len(h.I), v, w)
				return
			}
		}
		if testing.Verbose() {
			t.Logf("%s %s: %d ids equal", c.Name, name, len(got))
		}
		return
	}
	got, err := ctx.Floats(x)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c.CheckFloats(t, got, x.Shape(), name, m)
}

// CheckFloats is Check for host values got of the given shape (B copies of golden tensor name).
func (c Case) CheckFloats(t testing.TB, got []float32, shape []int, name string, m Metric) {
	t.Helper()
	h := c.Get(t, name)
	if len(got)%len(h.F) != 0 || fmt.Sprint(shape[1:]) != fmt.Sprint(h.Shape[1:]) {
		t.Fatalf("%s: shape %v, golden %v", name, shape, h.Shape)
	}
	n := len(h.F)
	for b := 0; b < len(got)/n; b++ {
		var maxd, maxb, sum float64
		for i, w := range h.F {
			dd := math.Abs(float64(got[b*n+i] - w))
			maxd, maxb, sum = max(maxd, dd), max(maxb, math.Abs(float64(w))), sum+dd
		}
		rel, mae := maxd/max(maxb, 1e-30), sum/float64(n)
		switch {
		case m == Rel && !(rel <= 1e-3):
			t.Errorf("%s %s tile %d: relative error %.3g > 1e-3", c.Name, name, b, rel)
		case m == MAE && !(mae <= 1.0/255):
			t.Errorf("%s %s tile %d: mean abs diff %.3g > 1/255", c.Name, name, b, mae)
		case b == 0 && testing.Verbose():
			t.Logf("%s %s: rel %.2g mae %.2g", c.Name, name, rel, mae)
		}
	}
}
