package hitsr

import (
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/resample"
)

// Temporal stabilisation of video outputs (issue 12). A network follows each frame's noise: where
// the input barely changed, its output's detail still changes from frame to frame, and it flickers
// more than bicubic does. Where the input is still, each output pixel is blended with the previous
// output carried forward by the input's change:
//
//	out_t = (1 − α)·SR_t + α·(out_{t−1} + up(LR_t − LR_{t−1}))
//
// up is bicubic (a = −0.5, the literature's) and α = Stabilize·max(0, 1 − motion/StillLevel) per
// LR pixel (motion: stillness; each output pixel takes its LR pixel's α). So a still region's
// output changes as much as the input does (as bicubic's) plus 1 − α of the network's change, a
// moving one's follows the network, and a scene cut resets everything.

// Defaults of Model.Stabilize and Model.StillLevel.
const (
	DefaultStabilize  = 0.9
	DefaultStillLevel = 3
)

// stabilizer is the previous frame's input and outputs (planar RGB, per output scale).
type stabilizer struct {
	w, h int
	lr   []float32
	out  map[int][]float32
	tmp  []float32 // blend's scratch
}

// stabilizeFrame blends the outputs of video frame img (RGB, one per scale) in place with the
// previous frame's (see above) and keeps them for the next frame; Stabilize 0 forgets them.
func (m *Model) stabilizeFrame(img *imageio.Image, outs []*imageio.Image) {
	if m.Stabilize <= 0 {
		m.stab = nil
		return
	}
	w, h := img.W, img.H
	lr := img.Pix[:3*w*h]
	st := m.stab
	if st == nil || st.w != w || st.h != h {
		st = &stabilizer{w: w, h: h, out: map[int][]float32{}}
		m.stab = st
	}
	if st.lr != nil {
		alpha := stillness(st.lr, lr, w, h, m.Stabilize, m.StillLevel)
		diff := make([]float32, len(lr))
		for i, v := range lr {
			diff[i] = v - st.lr[i]
		}
		for _, o := range outs {
			if prev := st.out[o.W/w]; prev != nil {
				st.tmp = blend(o, prev, diff, alpha, w, h, st.tmp)
			}
		}
	}
	st.lr = append(st.lr[:0], lr...)
	for _, o := range outs {
		st.out[o.W/w] = append(st.out[o.W/w][:0], o.Pix...)
	}
}

// blend sets o (RGB at an integer scale of the w×h LR) to o + α·(prev + up(diff) − o), clipped
// to [0, 1], where α (per LR pixel) > 0. up is resample.Resize's BicubicAA, its vertical pass
// done row by row into the blend (no full-size upsampled copy); tmp is scratch space, returned.
func blend(o *imageio.Image, prev, diff, alpha []float32, w, h int, tmp []float32) []float32 {
	s, H, W := o.W/w, o.H, o.W
	ax, ay := resample.NewAxis(resample.BicubicAA, w, W), resample.NewAxis(resample.BicubicAA, h, H)
	tmp = slices.Grow(tmp[:0], 3*h*W)[:3*h*W]
	inParallel(3*h, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			row, t := diff[p*w:][:w], tmp[p*W:][:W]
			for x := range W {
				var v float32
				for j, i := range ax.Idx[x] {
					v += row[i] * ax.W[x][j]
				}
				t[x] = v
			}
		}
	})
	inParallel(3*H, func(lo, hi int) {
		up := make([]float32, W)
		for r := lo; r < hi; r++ {
			c, y := r/H, r%H
			a := alpha[y/s*w:][:w]
			if !slices.ContainsFunc(a, func(v float32) bool { return v > 0 }) {
				continue
			}
			clear(up)
			for j, i := range ay.Idx[y] {
				wt := ay.W[y][j]
				for x, v := range tmp[(c*h+i)*W:][:W] {
					up[x] += v * wt
				}
			}
			out, pr := o.Pix[(c*H+y)*W:][:W], prev[(c*H+y)*W:][:W]
			for x, v := range out {
				if av := a[x/s]; av > 0 {
					out[x] = min(max(v+av*(pr[x]+up[x]-v), 0), 1)
				}
			}
		}
	})
	return tmp
}

// inParallel splits rows 0..n−1 into one contiguous range per CPU and runs fn on each at once.
func inParallel(n int, fn func(lo, hi int)) {
	k := min(n, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range k {
		wg.Go(func() { fn(i*n/k, (i+1)*n/k) })
	}
	wg.Wait()
}

// stillness is α per LR pixel: strength·max(0, 1 − motion/level). motion is the 3×3 mean (clipped
// to the frame) of the change's local part |Δ − 5×5 mean of Δ| (Δ = cur − prev, 8-bit levels,
// averaged over R, G, B): a fade or a change of exposure, smooth over the frame, is carried by
// up(Δ) and counts as still; what moves or turns over counts.
func stillness(prev, cur []float32, w, h int, strength, level float64) []float32 {
	n := w * h
	delta := make([]float64, n)
	local := make([]float64, n)
	for c := range 3 {
		for i := range n {
			delta[i] = float64(cur[c*n+i]-prev[c*n+i]) * 255
		}
		mean := boxMean(delta, w, h, 2)
		for i := range n {
			local[i] += math.Abs(delta[i]-mean[i]) / 3
		}
	}
	motion := boxMean(local, w, h, 1)
	alpha := make([]float32, n)
	for i, v := range motion {
		alpha[i] = float32(strength * max(0, 1-v/level))
	}
	return alpha
}

// boxMean is the mean of v (h×w) over the (2r+1)² square around each pixel, clipped to the frame.
func boxMean(v []float64, w, h, r int) []float64 {
	return boxLines(boxLines(v, h, w, w, 1, r), w, h, 1, w, r)
}

// boxLines is the mean of v over ±r samples along each of its lines (line l: n samples from
// l·stride, step apart), clipped to the line.
func boxLines(v []float64, lines, n, stride, step, r int) []float64 {
	out := make([]float64, len(v))
	for l := range lines {
		for i := range n {
			lo, hi := max(i-r, 0), min(i+r, n-1)
			s := 0.0
			for j := lo; j <= hi; j++ {
				s += v[l*stride+j*step]
			}
			out[l*stride+i*step] = s / float64(hi-lo+1)
		}
	}
	return out
}
