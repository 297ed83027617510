package plugin

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/imageio"
)

const tiny = "../testdata/golden/tiny_model.safetensors"

func gradient(w, h, c int) *imageio.Image {
	img := imageio.New(w, h, c)
	for k := range c {
		for i := range w * h {
			img.Pix[k*w*h+i] = float32((i*(k+3))%251) / 250
		}
	}
	return img
}

// Push runs one pass; each scale's frame is pulled once, with the pushed timestamps, and
// equals the model's own output; Flush refuses later pushes.
func TestFilter(t *testing.T) {
	f, err := Open(Options{Model: tiny, Device: "cpu", Scales: []int{2, 4}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img := gradient(12, 8, 3)
	want, err := f.Model().UpscaleTo(img, hitsr.Target{Scale: 2}, hitsr.Target{Scale: 4})
	if err != nil {
		t.Fatal(err)
	}
	for pts := range int64(2) {
		if err := f.Push(Frame{Image: img, PTS: 40 * pts, Duration: 40}); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range []int{2, 4} {
		q, err := f.ScaleIndex(s)
		if err != nil || q != i {
			t.Fatalf("×%d: index %d, %v", s, q, err)
		}
		if fr, ok := f.Peek(q); !ok || fr.PTS != 0 {
			t.Fatalf("×%d: peek: ok %v pts %d", s, ok, fr.PTS)
		}
		for pts := range int64(2) {
			fr, ok := f.Pull(q)
			if !ok || fr.PTS != 40*pts || fr.Duration != 40 || fr.Image.W != 12*s || fr.Image.H != 8*s {
				t.Fatalf("×%d frame %d: ok %v pts %d dur %d size %dx%d", s, pts, ok, fr.PTS, fr.Duration, fr.Image.W, fr.Image.H)
			}
			for j, v := range fr.Image.Pix {
				if v != want[i].Pix[j] {
					t.Fatalf("×%d: value %d is %v, the model gives %v", s, j, v, want[i].Pix[j])
				}
			}
		}
		if _, ok := f.Pull(q); ok {
			t.Errorf("×%d: a third frame from two pushes", s)
		}
	}
	if _, err := f.ScaleIndex(3); err == nil || !strings.Contains(err.Error(), "[x2 x4]") {
		t.Errorf("a scale the filter does not produce: %v", err)
	}
	f.Flush()
	if err := f.Push(Frame{Image: img}); !errors.Is(err, ErrFlushed) {
		t.Errorf("push after flush: %v", err)
	}
	if _, err := Open(Options{Model: tiny, Device: "cpu"}); err == nil {
		t.Error("Open without scales succeeded")
	}
	if _, err := Open(Options{Model: tiny, Device: "cpu", Scales: []int{2, 4, 2}}); err == nil || !strings.Contains(err.Error(), "scale 2 given twice") {
		t.Errorf("a scale given twice: %v", err)
	}
	if _, err := Open(Options{Model: tiny, Device: "cpu", Scales: []int{2}, Mode: "fidelity"}); err == nil || !strings.Contains(err.Error(), "fidelity") {
		t.Errorf("fidelity on a model without a backbone: %v", err)
	}
}

// Host frames convert both ways: packed RGB/RGBA exactly, I420 within its chroma subsampling.
func TestImportExport(t *testing.T) {
	const w, h = 7, 5 // odd: I420's chroma rounds up
	for _, c := range []struct {
		f      PixFormat
		maxErr float64 // 8-bit steps on flat colour
	}{{RGB, 0}, {RGBA, 0}, {I420, 2}} {
		ch := 3
		if c.f == RGBA {
			ch = 4
		}
		src := imageio.New(w, h, ch)
		for k := range ch { // flat colour: chroma subsampling loses nothing
			for i := range w * h {
				src.Pix[k*w*h+i] = float32(40+60*k) / 255
			}
		}
		p := alloc(c.f, w, h)
		if err := Export(src, p); err != nil {
			t.Fatalf("%v: %v", c.f, err)
		}
		back, err := Import(p)
		if err != nil {
			t.Fatalf("%v: %v", c.f, err)
		}
		if back.C != ch {
			t.Fatalf("%v: %d channels back", c.f, back.C)
		}
		for i, v := range back.Pix {
			if d := math.Abs(float64(v-src.Pix[i])) * 255; d > c.maxErr+1e-3 {
				t.Fatalf("%v: value %d is %v, was %v (%.2f steps)", c.f, i, v*255, src.Pix[i]*255, d)
			}
		}
	}
	p := alloc(RGB, 4, 4)
	p.Stride[0] = 11
	if err := p.Check(); err == nil {
		t.Error("a stride shorter than a row was taken")
	}
	p = alloc(I420, 4, 4)
	p.Data[2] = p.Data[2][:3]
	if err := p.Check(); err == nil {
		t.Error("a short V plane was taken")
	}
	if err := Export(gradient(3, 3, 3), alloc(RGB, 4, 4)); err == nil {
		t.Error("a result exported into a frame of another size")
	}
}

// alloc is a host frame with padded strides.
func alloc(f PixFormat, w, h int) *Planes {
	p := &Planes{Format: f, W: w, H: h}
	n, pw, ph := p.planeSizes()
	for i := range n {
		p.Stride[i] = pw[i] + 5
		p.Data[i] = make([]byte, p.Stride[i]*ph[i])
	}
	return p
}

// A host that never pulls one output gets an error once MaxQueued frames wait there, not memory
// that grows without bound; pulling makes room again.
func TestQueueBound(t *testing.T) {
	one := UpscalerFunc(func(img *imageio.Image, targets ...hitsr.Target) ([]*imageio.Image, error) {
		out := make([]*imageio.Image, len(targets))
		for i := range out {
			out[i] = img
		}
		return out, nil
	})
	f, err := New(one, hitsr.Target{Scale: 2}, hitsr.Target{Scale: 4})
	if err != nil {
		t.Fatal(err)
	}
	img := gradient(3, 2, 3)
	for n := range MaxQueued {
		if err := f.Push(Frame{Image: img, PTS: int64(n)}); err != nil {
			t.Fatalf("push %d: %v", n, err)
		}
		f.Pull(0) // ×2 is pulled, ×4 never
	}
	if err := f.Push(Frame{Image: img}); err == nil || !strings.Contains(err.Error(), "64 frames at x4 not pulled") {
		t.Fatalf("push with %d frames waiting: %v", MaxQueued, err)
	}
	if fr, ok := f.Pull(1); !ok || fr.PTS != 0 {
		t.Fatalf("the oldest ×4 frame: ok %v pts %d", ok, fr.PTS)
	}
	if err := f.Push(Frame{Image: img}); err != nil {
		t.Errorf("push after a pull made room: %v", err)
	}
}
