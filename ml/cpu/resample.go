package cpu

import (
	"math"

	"github.com/hitsr/hitsr/ml"
)

// taps lists, for each output coordinate, the input indices and weights of a 1-D filter
// following PyTorch F.interpolate (align_corners=False).
type taps struct {
	idx []int
	w   []float32
	n   int // taps per output
}

func cubicWeights(t float64) [4]float64 {
	const a = -0.75
	c1 := func(x float64) float64 { return ((a+2)*x-(a+3))*x*x + 1 }
	c2 := func(x float64) float64 { return ((a*x-5*a)*x+8*a)*x - 4*a }
	return [4]float64{c2(t + 1), c1(t), c1(1 - t), c2(2 - t)}
}

func makeTaps(in, out int, mode ml.Interp) taps {
	scale := float64(in) / float64(out)
	t := taps{n: [...]int{1, 2, 4}[mode]}
	t.idx, t.w = make([]int, out*t.n), make([]float32, out*t.n)
	clamp := func(i int) int { return max(0, min(in-1, i)) }
	for o := 0; o < out; o++ {
		idx, w := t.idx[o*t.n:], t.w[o*t.n:]
		switch mode {
		case ml.Nearest:
			idx[0], w[0] = min(int(float32(o)*(float32(in)/float32(out))), in-1), 1
		case ml.Bilinear:
			src := max(0, (float64(o)+0.5)*scale-0.5)
			i0 := int(src)
			l1 := src - float64(i0)
			idx[0], idx[1] = i0, clamp(i0+1)
			w[0], w[1] = float32(1-l1), float32(l1)
		case ml.Bicubic:
			src := (float64(o)+0.5)*scale - 0.5
			i0 := int(math.Floor(src))
			cw := cubicWeights(src - float64(i0))
			for j := 0; j < 4; j++ {
				idx[j], w[j] = clamp(i0-1+j), float32(cw[j])
			}
		}
	}
	return t
}

// areaTaps averages input [floor(o·in/out), ceil((o+1)·in/out)) for each output o.
func areaTaps(in, out int) taps {
	t := taps{n: (in+out-1)/out + 1}
	t.idx, t.w = make([]int, out*t.n), make([]float32, out*t.n)
	for o := 0; o < out; o++ {
		lo, hi := o*in/out, ((o+1)*in+out-1)/out
		for j := 0; j < t.n; j++ {
			t.idx[o*t.n+j] = min(lo+j, in-1)
			if lo+j < hi {
				t.w[o*t.n+j] = 1 / float32(hi-lo)
			}
		}
	}
	return t
}

// separable applies row taps ty and column taps tx to every [H, W] plane of x.
func separable(x, y []float32, h, w, oh, ow int, ty, tx taps) {
	planes := len(x) / (h * w)
	parallel(planes*oh, 16, func(lo, hi int) {
		tmp := make([]float32, w)
		for r := lo; r < hi; r++ {
			p, oy := r/oh, r%oh
			src := x[p*h*w:]
			clear(tmp)
			for j := 0; j < ty.n; j++ {
				wy := ty.w[oy*ty.n+j]
				if wy == 0 {
					continue
				}
				row := src[ty.idx[oy*ty.n+j]*w:]
				for i := range tmp {
					tmp[i] += wy * row[i]
				}
			}
			dst := y[r*ow : (r+1)*ow]
			for ox := range dst {
				var s float32
				for j := 0; j < tx.n; j++ {
					s += tx.w[ox*tx.n+j] * tmp[tx.idx[ox*tx.n+j]]
				}
				dst[ox] = s
			}
		}
	})
}

func upsample(n *ml.Node) {
	x := n.In[0]
	h, w, oh, ow := x.Dim(2), x.Dim(3), n.Out.Dim(2), n.Out.Dim(3)
	separable(f(x), f(n.Out), h, w, oh, ow, makeTaps(h, oh, n.P.Mode), makeTaps(w, ow, n.P.Mode))
}

func areaDown(n *ml.Node) {
	x := n.In[0]
	h, w, oh, ow := x.Dim(2), x.Dim(3), n.Out.Dim(2), n.Out.Dim(3)
	separable(f(x), f(n.Out), h, w, oh, ow, areaTaps(h, oh), areaTaps(w, ow))
}
