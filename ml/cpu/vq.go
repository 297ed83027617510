package cpu

import (
	"math"

	"github.com/hitsr/hitsr/ml"
)

// nearestCode picks argmin ‖x−e‖², each row on its own (no GEMM: a row's distances, and so its
// code, must not depend on the other rows).
func nearestCode(n *ml.Node) {
	x, cb, out := f(n.In[0]), f(n.In[1]), ints(n.Out)
	m, c, v := n.In[0].Dim(0), n.In[0].Dim(1), n.In[1].Dim(0)
	parallel(m, max(1, (1<<14)/(v*c)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*c : (r+1)*c]
			best, bi := math.Inf(1), 0
			for j := 0; j < v; j++ {
				var d float64
				for i, e := range cb[j*c : (j+1)*c] {
					t := float64(xr[i]) - float64(e)
					d += t * t
				}
				if d < best {
					best, bi = d, j
				}
			}
			out[r] = int32(bi)
		}
	})
}

func gather(n *ml.Node) {
	table, ids, out := f(n.In[0]), ints(n.In[1]), f(n.Out)
	v, c := n.In[0].Dim(0), n.In[0].Dim(1)
	for i, id := range ids {
		dst := out[i*c : (i+1)*c]
		if id < 0 || int(id) >= v {
			clear(dst)
		} else {
			copy(dst, table[int(id)*c:])
		}
	}
}

func argmax(n *ml.Node) {
	x, out := f(n.In[0]), ints(n.Out)
	w := n.In[0].Dim(-1)
	parallel(len(x)/w, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := x[r*w : (r+1)*w]
			bi := 0
			for j, v := range row {
				if v > row[bi] {
					bi = j
				}
			}
			out[r] = int32(bi)
		}
	})
}
