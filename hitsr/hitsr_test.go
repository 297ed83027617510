package hitsr

import (
	"math"
	"os"
	"slices"
	"testing"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/metrics"
	"github.com/hitsr/hitsr/ml/cpu"
	"github.com/hitsr/hitsr/resample"
)

const tinyModel = "../testdata/golden/tiny_model.safetensors"
const shippedModel = "../models/hitsr-tiny.safetensors"

func loadCPU(t testing.TB, path string) *Model {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skip(err)
	}
	m, err := LoadOn(path, cpu.New())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// smooth is a smooth RGB test image.
func smooth(w, h int) *imageio.Image {
	img := imageio.New(w, h, 3)
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				img.Pix[(c*h+y)*w+x] = float32(0.5 + 0.3*math.Sin(float64(x)*0.07+float64(c))*math.Cos(float64(y)*0.05))
			}
		}
	}
	return img
}

func TestStartsWindow(t *testing.T) {
	for _, tc := range []struct {
		L    int
		want []int
	}{{5, []int{0}}, {16, []int{0}}, {17, []int{0, 1}}, {28, []int{0, 12}}, {30, []int{0, 12, 14}}} {
		got := Starts(tc.L, 16, 4)
		if len(got) != len(tc.want) {
			t.Fatalf("Starts(%d) = %v, want %v", tc.L, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("Starts(%d) = %v, want %v", tc.L, got, tc.want)
			}
		}
	}
	w := Window(64, 8+1e-6)
	if w[0] != float32(0.5/(8+1e-6)) || w[31] != 1 || w[63] != w[0] {
		t.Fatalf("window %v", w)
	}
}

func TestSizes(t *testing.T) {
	m := loadCPU(t, tinyModel)
	for _, sz := range [][2]int{{1, 1}, {7, 5}, {17, 33}, {300, 8}} {
		img := smooth(sz[0], sz[1])
		out, err := m.Upscale(img, 1, 2, 4)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range []int{1, 2, 4} {
			o := out[i]
			if o.W != sz[0]*s || o.H != sz[1]*s || o.C != 3 {
				t.Fatalf("%v ×%d: got %d×%d×%d", sz, s, o.W, o.H, o.C)
			}
			for _, v := range o.Pix {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%v ×%d: non-finite output", sz, s)
				}
			}
		}
	}
}

func TestOnePassEqualsSeparate(t *testing.T) {
	m := loadCPU(t, tinyModel)
	m.Batch = 5 // several batches
	img := smooth(23, 19)
	both, err := m.Upscale(img, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []int{2, 4} {
		one, err := m.Upscale(img, s)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(one[0].Pix, both[i].Pix); d > 1e-5 {
			t.Fatalf("×%d: one pass vs separate differ by %g", s, d)
		}
	}
	// several images batched together equal each image alone
	img2 := smooth(9, 30)
	all, err := m.UpscaleImages([]*imageio.Image{img, img2}, 4)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := m.Upscale(img2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(all[1][0].Pix, alone[0].Pix); d > 1e-5 {
		t.Fatalf("batched images differ by %g", d)
	}
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// Both of the shipped model's networks predict a residual over bicubic: on a smooth image
// they stay close to it.
func TestShippedSmoke(t *testing.T) {
	m := loadCPU(t, shippedModel)
	img := smooth(20, 16)
	ref := resample.Resize(img.Pix, 3, img.H, img.W, img.H*4, img.W*4, resample.Bicubic)
	for _, mode := range []Mode{Fidelity, Full} {
		if !m.Has(mode) {
			t.Errorf("the shipped model has no %s network", mode)
			continue
		}
		m.Mode = mode
		out, err := m.Upscale(img, 4)
		if err != nil {
			t.Fatal(err)
		}
		if p := metrics.PSNRY(out[0].Pix, ref, img.H*4, img.W*4, 4); p < 30 {
			t.Errorf("shipped %s ×4 vs bicubic: %.2f dB", mode, p)
		}
	}
}

func TestUpscaleTo(t *testing.T) {
	m := loadCPU(t, tinyModel)
	img := smooth(11, 7)
	rgba := imageio.New(11, 7, 4)
	copy(rgba.Pix, img.Pix)
	for i := range rgba.Plane(3) {
		rgba.Plane(3)[i] = float32(i%11) / 10
	}
	outs, err := m.UpscaleTo(rgba, Target{Scale: 4}, Target{Scale: 3}, Target{W: 40, H: 20}, Target{Scale: 1.5}, Target{W: 60, H: 60})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]int{{44, 28}, {33, 21}, {40, 20}, {17, 11}, {60, 60}}
	for i, o := range outs {
		if o.W != want[i][0] || o.H != want[i][1] || o.C != 4 {
			t.Fatalf("target %d: %d×%d×%d, want %v×4", i, o.W, o.H, o.C, want[i])
		}
	}
	native, err := m.Upscale(img, 4)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(native[0].Pix, outs[0].Pix[:3*44*28]); d != 0 {
		t.Fatalf("native target differs from Upscale by %g", d)
	}
	for _, bad := range []Target{{Scale: 0}, {Scale: -1}, {Scale: 5000}, {W: 20000, H: 10}} {
		if _, err := m.UpscaleTo(img, bad); err == nil {
			t.Errorf("target %+v accepted", bad)
		}
	}
	if _, err := m.Upscale(img, 3); err == nil {
		t.Error("non-native scale accepted by Upscale")
	}
	if _, err := m.Upscale(&imageio.Image{W: 0, H: 0, C: 3}, 2); err == nil {
		t.Error("0×0 image accepted")
	}
}

// Tile reuse: a second frame that differs in one corner runs the model only on the tiles that
// see the change, and the result equals a fresh pass bit for bit.
func TestReuseTiles(t *testing.T) {
	fresh := loadCPU(t, tinyModel)
	m := loadCPU(t, tinyModel)
	m.ReuseTiles = true
	a := smooth(45, 31)
	b := &imageio.Image{W: a.W, H: a.H, C: 3, Pix: slices.Clone(a.Pix)}
	for c := 0; c < 3; c++ {
		for y := 0; y < 5; y++ {
			for x := 0; x < 5; x++ {
				b.Pix[(c*b.H+y)*b.W+x] = 1 - b.Pix[(c*b.H+y)*b.W+x]
			}
		}
	}
	if _, err := m.Upscale(a, 2, 4); err != nil {
		t.Fatal(err)
	}
	total := m.TilesRun
	got, err := m.Upscale(b, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if ran := m.TilesRun - total; ran == 0 || ran >= total || m.TilesReused != total-ran {
		t.Fatalf("second frame ran %d of %d tiles, reused %d", ran, total, m.TilesReused)
	}
	want, err := fresh.Upscale(b, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(got[i].Pix, want[i].Pix) {
			t.Fatalf("scale %d: reused output differs from a fresh pass (max %g)", i, maxDiff(got[i].Pix, want[i].Pix))
		}
	}
	// a different size starts a new cache
	reused := m.TilesReused
	if _, err := m.Upscale(smooth(20, 20), 2); err != nil || m.TilesReused != reused {
		t.Fatalf("other size: err %v, reused %d → %d", err, reused, m.TilesReused)
	}
}
