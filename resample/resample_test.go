package resample

import (
	"encoding/binary"
	"math"
	"os"
	"testing"
)

// Values from torch 1.13 F.interpolate on x = arange(8)²/49 (one row).
func TestTorchGolden(t *testing.T) {
	x := make([]float32, 8)
	for i := range x {
		x[i] = float32(i*i) / 49
	}
	check := func(name string, got []float32, want []float64) {
		for i := range want {
			if math.Abs(float64(got[i])-want[i]) > 1e-6 {
				t.Fatalf("%s[%d] = %v, torch %v", name, i, got[i], want[i])
			}
		}
	}
	check("aa 8→3", Resize(x, 1, 1, 8, 1, 3, BicubicAA),
		[]float64{0.021138641983270645, 0.2595624327659607, 0.7650055885314941})
	check("plain 8→11", Resize(x, 1, 1, 8, 1, 11, Bicubic),
		[]float64{-0.001556771108880639, 0.005724454298615456, 0.03566259890794754, 0.08695519715547562,
			0.1502188742160797, 0.24744901061058044, 0.37169593572616577, 0.4969046413898468,
			0.6477694511413574, 0.8643633127212524, 1.0202382802963257})
}

// TestTorchFile compares 2-D resizes with a file written by torch (HITSR_RESAMPLE_REF).
func TestTorchFile(t *testing.T) {
	p := os.Getenv("HITSR_RESAMPLE_REF")
	if p == "" {
		t.Skip("HITSR_RESAMPLE_REF not set")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f := make([]float32, len(b)/4)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	x, f := f[:3*37*53], f[3*37*53:]
	for _, c := range []struct {
		k      Kernel
		oh, ow int
	}{{BicubicAA, 13, 19}, {Bicubic, 80, 100}, {BicubicAA, 80, 100}} {
		n := 3 * c.oh * c.ow
		got, want := Resize(x, 3, 37, 53, c.oh, c.ow, c.k), f[:n]
		f = f[n:]
		d := 0.0
		for i := range got {
			d = max(d, math.Abs(float64(got[i]-want[i])))
		}
		t.Logf("%v %d×%d: max |Δ| %.2g", c.k, c.oh, c.ow, d)
		if d > 1e-5 {
			t.Errorf("%v: max diff %g", c.k, d)
		}
	}
}

func TestLanczosIdentityAndDC(t *testing.T) {
	x := make([]float32, 2*9*7)
	for i := range x {
		x[i] = 0.25
	}
	for _, sz := range [][2]int{{3, 2}, {20, 31}} {
		for _, v := range Resize(x, 2, 9, 7, sz[0], sz[1], Lanczos3) {
			if math.Abs(float64(v)-0.25) > 1e-6 {
				t.Fatalf("constant not preserved: %v", v)
			}
		}
	}
}
