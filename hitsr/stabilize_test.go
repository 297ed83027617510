package hitsr

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/resample"
)

// stabilizeRef is the stabilised output of sr (scale s) for the frame cur after prev and its
// output prevOut, in float64 from the definitions in stabilize.go.
func stabilizeRef(prev, cur, prevOut, sr []float32, w, h, s int, strength, level float64) []float32 {
	n := w * h
	at := func(c, y, x int) float64 { return (float64(cur[c*n+y*w+x]) - float64(prev[c*n+y*w+x])) * 255 }
	mean := func(y, x, r int, f func(y, x int) float64) float64 {
		sum, cnt := 0.0, 0
		for yy := max(y-r, 0); yy <= min(y+r, h-1); yy++ {
			for xx := max(x-r, 0); xx <= min(x+r, w-1); xx++ {
				sum += f(yy, xx)
				cnt++
			}
		}
		return sum / float64(cnt)
	}
	local := func(y, x int) float64 {
		v := 0.0
		for c := range 3 {
			v += math.Abs(at(c, y, x)-mean(y, x, 2, func(y, x int) float64 { return at(c, y, x) })) / 3
		}
		return v
	}
	alpha, diff := make([]float32, n), make([]float32, 3*n)
	for y := range h {
		for x := range w {
			alpha[y*w+x] = float32(strength * max(0, 1-mean(y, x, 1, local)/level))
		}
	}
	for i := range diff {
		diff[i] = cur[i] - prev[i]
	}
	H, W := h*s, w*s
	d := resample.Resize(diff, 3, h, w, H, W, resample.BicubicAA)
	out := slices.Clone(sr)
	for c := range 3 {
		for p := range H * W {
			k := c*H*W + p
			if av := float64(alpha[p/W/s*w+p%W/s]); av > 0 {
				v := float64(sr[k]) + av*(float64(prevOut[k])+float64(d[k])-float64(sr[k]))
				out[k] = float32(math.Min(math.Max(v, 0), 1))
			}
		}
	}
	return out
}

func randomOutputs(r *rand.Rand, w, h int, scales []int) []*imageio.Image {
	var outs []*imageio.Image
	for _, s := range scales {
		outs = append(outs, noise(w*s, h*s, r.Uint64()))
	}
	return outs
}

func cloneImages(imgs []*imageio.Image) []*imageio.Image {
	var out []*imageio.Image
	for _, im := range imgs {
		out = append(out, &imageio.Image{W: im.W, H: im.H, C: im.C, Pix: slices.Clone(im.Pix)})
	}
	return out
}

// On fresh random frames of odd sizes (the second a noisy copy of the first with a moving block,
// the third a brightness step on the second), stabilizeFrame equals the float64 reference at
// every scale; the first frame passes unchanged.
func TestStabilizeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(rand.Uint64(), 3))
	scales := []int{1, 2, 4}
	for _, size := range [][2]int{{13, 7}, {5, 9}, {32, 17}} {
		w, h := size[0], size[1]
		m := &Model{Stabilize: 0.9, StillLevel: DefaultStillLevel}
		frames := []*imageio.Image{noise(w, h, r.Uint64())}
		next := &imageio.Image{W: w, H: h, C: 3, Pix: slices.Clone(frames[0].Pix)}
		for i := range next.Pix {
			next.Pix[i] = min(max(next.Pix[i]+float32(r.NormFloat64()*1.5/255), 0), 1)
		}
		for c := range 3 { // a block moved by a pixel
			for y := range min(h, 4) {
				for x := 1; x < min(w, 5); x++ {
					next.Pix[(c*h+y)*w+x] = frames[0].Pix[(c*h+y)*w+x-1]
				}
			}
		}
		bright := &imageio.Image{W: w, H: h, C: 3, Pix: slices.Clone(next.Pix)}
		for i := range bright.Pix {
			bright.Pix[i] += 0.02
		}
		frames = append(frames, next, bright)
		var prev []*imageio.Image
		for f, img := range frames {
			sr := randomOutputs(r, w, h, scales)
			got := cloneImages(sr)
			m.stabilizeFrame(img, got)
			for j, s := range scales {
				want := sr[j].Pix
				if f > 0 {
					want = stabilizeRef(frames[f-1].Pix, img.Pix, prev[j].Pix, sr[j].Pix, w, h, s, m.Stabilize, m.StillLevel)
				}
				if d := maxDiff(got[j].Pix, want); d > 1e-5 {
					t.Errorf("%d×%d frame %d ×%d: max |stabilized − reference| %g", w, h, f, s, d)
				}
			}
			prev = got
		}
	}
}

// The policy's ends: an unchanged frame takes the weight Stabilize everywhere, a turned-over
// one (a scene cut) passes unchanged, Stabilize 0 passes frames unchanged and forgets the last
// one, and a new frame size starts afresh.
func TestStabilizeEnds(t *testing.T) {
	r := rand.New(rand.NewPCG(rand.Uint64(), 4))
	const w, h, s = 11, 6, 2
	img := noise(w, h, r.Uint64())
	m := &Model{Stabilize: 0.7, StillLevel: DefaultStillLevel}
	first := randomOutputs(r, w, h, []int{s})
	m.stabilizeFrame(img, cloneImages(first))

	sr := randomOutputs(r, w, h, []int{s})
	got := cloneImages(sr)
	m.stabilizeFrame(img, got)
	for k, v := range got[0].Pix {
		if want := 0.3*sr[0].Pix[k] + 0.7*first[0].Pix[k]; math.Abs(float64(v-want)) > 1e-6 {
			t.Fatalf("unchanged frame, value %d: %g, want %g", k, v, want)
		}
	}
	cut := &imageio.Image{W: w, H: h, C: 3, Pix: slices.Clone(img.Pix)}
	for i := range cut.Pix {
		cut.Pix[i] = float32(i%2) * 0.9
	}
	sr = randomOutputs(r, w, h, []int{s})
	got = cloneImages(sr)
	m.stabilizeFrame(cut, got)
	if d := maxDiff(got[0].Pix, sr[0].Pix); d != 0 {
		t.Errorf("scene cut: output changed by up to %g", d)
	}
	m.Stabilize = 0
	got = cloneImages(sr)
	if m.stabilizeFrame(cut, got); maxDiff(got[0].Pix, sr[0].Pix) != 0 || m.stab != nil {
		t.Errorf("Stabilize 0: output changed or state kept")
	}
	m.Stabilize = 0.7
	m.stabilizeFrame(cut, cloneImages(sr))
	wide := noise(w+1, h, r.Uint64())
	sr = randomOutputs(r, w+1, h, []int{s})
	got = cloneImages(sr)
	if m.stabilizeFrame(wide, got); maxDiff(got[0].Pix, sr[0].Pix) != 0 {
		t.Errorf("new frame size: output changed")
	}
}

// The stabiliser's cost per frame at 320×180 → ×2 + ×4 (a still frame: every pixel blended),
// beside the same run's baseline: bicubic upscaling of the frame to ×2 and ×4 (resample).
func BenchmarkStabilize(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 5))
	const w, h = 320, 180
	img := noise(w, h, 2)
	m := &Model{Stabilize: DefaultStabilize, StillLevel: DefaultStillLevel}
	outs := randomOutputs(r, w, h, []int{2, 4})
	m.stabilizeFrame(img, outs)
	var stab, bic time.Duration
	for b.Loop() {
		c0 := cpuTime()
		m.stabilizeFrame(img, outs)
		c1 := cpuTime()
		for _, s := range []int{2, 4} {
			resample.Resize(img.Pix, 3, h, w, h*s, w*s, resample.BicubicAA)
		}
		stab, bic = stab+c1-c0, bic+cpuTime()-c1
	}
	b.ReportMetric(ms(stab, b.N), "cpu-ms/frame")
	b.ReportMetric(ms(bic, b.N), "bicubic-cpu-ms/frame")
	b.ReportMetric(stab.Seconds()/bic.Seconds(), "x-bicubic")
}
