package cpu

import (
	"fmt"
	"math"

	"github.com/hitsr/hitsr/ml"
)

// activations maps each ml.Unary to its kernel.
var activations = map[ml.Unary]func(x, y []float32){ml.GELU: gelu, ml.SiLU: silu, ml.ReLU: relu}

func unary(n *ml.Node) error {
	act := activations[n.P.Unary]
	if act == nil {
		return fmt.Errorf("unknown unary %d", n.P.Unary)
	}
	x, y := f(n.In[0]), f(n.Out)
	parallel(len(y), 1<<13, func(lo, hi int) { act(x[lo:hi], y[lo:hi]) })
	return nil
}

// relu writes max(x, 0) of x into y (same length; may alias).
func relu(x, y []float32) {
	for i, v := range x[:len(y)] {
		y[i] = max(v, 0)
	}
}

// strides4 returns a tensor's element strides aligned to a rank-4 output, 0 on broadcast axes.
func strides4(shape []int) [4]int {
	var st [4]int
	s := 1
	for i := 1; i <= len(shape); i++ {
		if d := shape[len(shape)-i]; d != 1 {
			st[4-i] = s
			s *= d
		}
	}
	return st
}

func pad4(shape []int) [4]int {
	d := [4]int{1, 1, 1, 1}
	copy(d[4-len(shape):], shape)
	return d
}

func binary(n *ml.Node) {
	a, b, y := f(n.In[0]), f(n.In[1]), f(n.Out)
	op := n.Op
	if len(a) == len(y) && len(b) == len(y) {
		parallel(len(y), 1<<14, func(lo, hi int) { binaryRow(op, a[lo:hi], b[lo:hi], y[lo:hi], 1, 1) })
		return
	}
	d := pad4(n.Out.Shape())
	sa, sb := strides4(n.In[0].Shape()), strides4(n.In[1].Shape())
	parallel(d[0]*d[1]*d[2], 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			i0, i1, i2 := r/(d[1]*d[2]), r/d[2]%d[1], r%d[2]
			oa := i0*sa[0] + i1*sa[1] + i2*sa[2]
			ob := i0*sb[0] + i1*sb[1] + i2*sb[2]
			binaryRow(op, a[oa:], b[ob:], y[r*d[3]:(r+1)*d[3]], sa[3], sb[3])
		}
	})
}

// binaryRow sets y[j] = a[j·sa] op b[j·sb], one loop per op (a closure call per element made the
// backbone's residual adds several times slower than their memory traffic).
func binaryRow(op ml.Op, a, b, y []float32, sa, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(y)], b[:len(y)]
		switch op {
		case ml.OpAdd:
			for j := range y {
				y[j] = a[j] + b[j]
			}
		case ml.OpSub:
			for j := range y {
				y[j] = a[j] - b[j]
			}
		default:
			for j := range y {
				y[j] = a[j] * b[j]
			}
		}
	default:
		for j := range y {
			u, v := a[j*sa], b[j*sb]
			switch op {
			case ml.OpAdd:
				y[j] = u + v
			case ml.OpSub:
				y[j] = u - v
			default:
				y[j] = u * v
			}
		}
	}
}

// normalize writes (x−mean)/sqrt(var+eps) for one group, then the per-channel affine.
func normalize(x, y []float32, eps float32) {
	var sum, sq float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(len(x))
	for _, v := range x {
		d := float64(v) - mean
		sq += d * d
	}
	inv := 1 / math.Sqrt(sq/float64(len(x))+float64(eps))
	for i, v := range x {
		y[i] = float32((float64(v) - mean) * inv)
	}
}

func affine(y []float32, gamma, beta []float32, ch, plane int) {
	for c := 0; c < len(y)/plane; c++ {
		g, b := float32(1), float32(0)
		if gamma != nil {
			g = gamma[(ch+c)%len(gamma)]
		}
		if beta != nil {
			b = beta[(ch+c)%len(beta)]
		}
		row := y[c*plane : (c+1)*plane]
		for i := range row {
			row[i] = row[i]*g + b
		}
	}
}

func groupNorm(n *ml.Node) {
	x, y := f(n.In[0]), f(n.Out)
	c, plane := n.In[0].Dim(1), n.In[0].Dim(2)*n.In[0].Dim(3)
	g := n.P.Groups
	size := c / g * plane
	gamma, beta := f(n.In[1]), f(n.In[2])
	parallel(len(x)/size, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			normalize(x[i*size:(i+1)*size], y[i*size:(i+1)*size], n.P.Eps)
			affine(y[i*size:(i+1)*size], gamma, beta, i%g*(c/g), plane)
		}
	})
}

func layerNorm(n *ml.Node) {
	x, y := f(n.In[0]), f(n.Out)
	w := n.In[0].Dim(-1)
	gamma, beta := f(n.In[1]), f(n.In[2])
	parallel(len(x)/w, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr := y[r*w : (r+1)*w]
			normalize(x[r*w:(r+1)*w], yr, n.P.Eps)
			for i := range yr {
				if gamma != nil {
					yr[i] *= gamma[i]
				}
				if beta != nil {
					yr[i] += beta[i]
				}
			}
		}
	})
}
