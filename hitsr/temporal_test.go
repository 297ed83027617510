package hitsr

import (
	"math"
	"slices"
	"testing"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/model"
)

// videoPass is one frame through m as a video frame (token memory on): outputs ×1, ×2, ×4, the
// token ids per scale, and how many tiles were generated and reused.
func videoPass(t *testing.T, m *Model, img *imageio.Image) (residualPass, int, int) {
	t.Helper()
	run, reused := m.TilesRun, m.TilesReused
	p, err := m.residualFrame(img, []int{0, 1, 2}, true, true)
	if err != nil {
		t.Fatal(err)
	}
	return p, m.TilesRun - run, m.TilesReused - reused
}

// withCorner is img with its top-left n×n pixels (clipped to the image) inverted.
func withCorner(img *imageio.Image, n int) *imageio.Image {
	out := &imageio.Image{W: img.W, H: img.H, C: 3, Pix: slices.Clone(img.Pix)}
	for c := range 3 {
		for y := range min(n, img.H) {
			for x := range min(n, img.W) {
				out.Pix[(c*out.H+y)*out.W+x] = 1 - out.Pix[(c*out.H+y)*out.W+x]
			}
		}
	}
	return out
}

func samePasses(t *testing.T, what string, got, want residualPass) {
	t.Helper()
	for j := range want.outs {
		if !slices.Equal(got.outs[j].Pix, want.outs[j].Pix) {
			t.Errorf("%s: ×%d differs (max %g)", what, 1<<j, maxDiff(got.outs[j].Pix, want.outs[j].Pix))
		}
	}
	if !slices.EqualFunc(got.ids, want.ids, slices.Equal) {
		t.Errorf("%s: token ids differ", what)
	}
}

// Threshold 0 reuses only tiles whose input is identical, and every frame's output equals a
// pass without reuse bit for bit: on both backends, in several bands and with batches that mix
// generated and replayed tiles, greedy and sampled; a frame equal to the previous one replays
// every tile.
func TestTokenReuseExact(t *testing.T) {
	for spec, m := range v2Models(t) {
		for _, sampling := range []model.Sampling{{Temperature: 1}, {TopK: 4, Temperature: 1, Seed: 7}} {
			m.Sampling = sampling
			tokenReuseExact(t, spec+"/"+sampling.String(), m)
		}
		m.Sampling = model.Sampling{Temperature: 1}
	}
}

func tokenReuseExact(t *testing.T, spec string, m *Model) {
	t.Helper()
	m.ReuseTiles, m.ReuseThreshold, m.tokens = true, 0, nil
	m.BandPixels, m.Batch = tokenBandShare*2*8*45, 4 // bands of two tile rows
	defer func() { m.ReuseTiles, m.tokens, m.BandPixels, m.Batch = false, nil, 1<<18, DefaultBatch }()
	a := noise(45, 37, 3) // 6×5 tiles of 8 px
	frames := []*imageio.Image{a, withCorner(a, 5), withCorner(a, 5), withCorner(withCorner(a, 5), 3)}
	var reusedAll int
	for i, img := range frames {
		got, ran, reused := videoPass(t, m, img)
		want, err := m.residualFrame(img, []int{0, 1, 2}, true, false)
		if err != nil {
			t.Fatal(err)
		}
		samePasses(t, spec, got, want)
		switch {
		case ran+reused != 30:
			t.Errorf("%s frame %d: %d tiles generated + %d replayed, want 30", spec, i, ran, reused)
		case i == 0 && reused != 0, i == 1 && (reused == 0 || ran == 0), i == 2 && reused != 30:
			t.Errorf("%s frame %d: %d tiles generated, %d replayed", spec, i, ran, reused)
		}
		reusedAll += reused
	}
	t.Logf("%s: %d of %d tiles replayed", spec, reusedAll, 30*len(frames))
}

// Reused tokens stay put while the decoder and the backbone follow the frame: a frame whose own
// tokens would differ keeps the previous frame's; a frame whose own tokens are the same gives the
// output of a pass without reuse, bit for bit, which differs from the previous frame's.
func TestTokenReuseFollowsFrame(t *testing.T) {
	m := v2Models(t)["cpu"]
	defer func() {
		m.ReuseTiles, m.ReuseThreshold, m.SceneCut, m.tokens = false, DefaultReuseThreshold, DefaultSceneCut, nil
	}()
	m.ReuseTiles, m.ReuseThreshold, m.SceneCut = true, math.Inf(1), math.Inf(1)
	a, b := smooth(45, 37), noise(45, 37, 7)
	first, _, _ := videoPass(t, m, a)
	own, err := m.residualFrame(b, []int{0, 1, 2}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if slices.EqualFunc(own.ids, first.ids, slices.Equal) {
		t.Fatal("test frames have the same tokens")
	}
	kept, ran, reused := videoPass(t, m, b)
	if ran != 0 || reused != 30 || !slices.EqualFunc(kept.ids, first.ids, slices.Equal) {
		t.Fatalf("another frame under an infinite threshold: %d tiles generated, %d replayed, ids kept %v",
			ran, reused, slices.EqualFunc(kept.ids, first.ids, slices.Equal))
	}

	nudged := &imageio.Image{W: a.W, H: a.H, C: 3, Pix: slices.Clone(a.Pix)}
	for i := range nudged.Pix {
		nudged.Pix[i] += 1e-5 * float32(i%3)
	}
	want, err := m.residualFrame(nudged, []int{0, 1, 2}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(want.ids, first.ids, slices.Equal) {
		t.Fatal("the nudged frame has tokens of its own")
	}
	got, _, reused := videoPass(t, m, nudged)
	samePasses(t, "nudged frame", got, want)
	if reused != 30 || slices.Equal(got.outs[2].Pix, first.outs[2].Pix) {
		t.Errorf("nudged frame: %d tiles replayed, output equal to the previous frame's: %v", reused, slices.Equal(got.outs[2].Pix, first.outs[2].Pix))
	}
}

// A scene cut, a new frame size, more segments than the kept tokens cover and another sampling
// generate every tile; the threshold separates a changed region from a still one.
func TestTokenReuseResets(t *testing.T) {
	m := v2Models(t)["cpu"]
	defer func() { m.ReuseTiles, m.ReuseThreshold, m.tokens = false, DefaultReuseThreshold, nil }()
	m.ReuseTiles, m.ReuseThreshold = true, 1e9
	a := smooth(45, 37)
	inverted := withCorner(a, 45)
	videoPass(t, m, a)
	cuts := m.SceneCuts
	if _, ran, _ := videoPass(t, m, inverted); ran != 30 || m.SceneCuts != cuts+1 {
		t.Errorf("scene cut: %d of 30 tiles generated, %d cuts counted", ran, m.SceneCuts-cuts)
	}
	if _, ran, _ := videoPass(t, m, inverted); ran != 0 {
		t.Errorf("the same frame again: %d tiles generated", ran)
	}
	if _, ran, _ := videoPass(t, m, smooth(45, 36)); ran != 30 {
		t.Errorf("new size: %d of 30 tiles generated", ran)
	}
	run := m.TilesRun
	if _, err := m.Upscale(a, 2); err != nil { // ×2 only: two segments
		t.Fatal(err)
	}
	if _, ran, _ := videoPass(t, m, a); ran != 30 || m.TilesRun-run != 60 {
		t.Errorf("×4 after a ×2-only frame: %d of 30 tiles generated", ran)
	}

	// the corner changes the inputs of the tiles at (0|8, 0|8) (the backbone's radius is 5) by
	// 14.1, 4.3, 4.0 and 1.2 levels
	m.ReuseThreshold = 0
	if _, ran, reused := videoPass(t, m, withCorner(a, 5)); ran != 4 || reused != 26 {
		t.Errorf("changed corner, threshold 0: %d tiles generated, %d replayed; want 4 and 26", ran, reused)
	}
	m.ReuseThreshold = 5
	if _, ran, reused := videoPass(t, m, a); ran != 1 || reused != 29 {
		t.Errorf("corner back, threshold 5: %d tiles generated, %d replayed; want 1 and 29", ran, reused)
	}
	m.Sampling = model.Sampling{TopK: 4, Temperature: 1, Seed: 1}
	defer func() { m.Sampling = model.Sampling{Temperature: 1} }()
	if _, ran, _ := videoPass(t, m, a); ran != 30 {
		t.Errorf("other sampling: %d of 30 tiles generated", ran)
	}
}

func TestSignature(t *testing.T) {
	img := smooth(20, 11)
	p := pad(img, 8)
	sig := signature(p)
	if len(sig) != 3*3*2 {
		t.Fatalf("%d block means, want 18", len(sig))
	}
	// the block at (1, 2): rows 8..10, columns 16..19 of channel 1
	var s float64
	for y := 8; y < 11; y++ {
		for x := 16; x < 20; x++ {
			s += float64(img.Pix[(img.H+y)*img.W+x])
		}
	}
	if want := s / 12; math.Abs(float64(sig[(1*2+1)*3+2])-want) > 1e-6 {
		t.Errorf("block mean %g, want %g", sig[(1*2+1)*3+2], want)
	}
	if d := sigChange(sig, sig); d != 0 {
		t.Errorf("change from itself %g", d)
	}
	if d := inputChange([]float32{0.5, 0.25, 1}, []float32{0.5, 0.5, 0}); math.Abs(d-255*1.25/3) > 1e-9 {
		t.Errorf("inputChange %g, want %g", d, 255*1.25/3)
	}
	// a tile's input is the tile and the radius around it, clipped to the frame
	in := tileInput(p, [2]int{0, 8}, 8, 2)
	if len(in) != 3*10*12 || in[0] != img.Pix[6] || in[3*10*12-1] != img.Pix[2*20*11+9*20+17] {
		t.Errorf("tile input: %d values, first %g, last %g", len(in), in[0], in[len(in)-1])
	}
}
