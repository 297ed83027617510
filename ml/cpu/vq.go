package cpu

import "github.com/hitsr/hitsr/ml"

// nearestCode picks argmin ‖x−e‖² = argmin (‖e‖² − 2·x·e) with the dot products from a GEMM,
// a block of rows at a time.
func nearestCode(n *ml.Node) {
	x, cb, out := f(n.In[0]), f(n.In[1]), ints(n.Out)
	m, c, v := n.In[0].Dim(0), n.In[0].Dim(1), n.In[1].Dim(0)
	norms := make([]float32, v)
	for j := range norms {
		var s float32
		for _, e := range cb[j*c : (j+1)*c] {
			s += e * e
		}
		norms[j] = s
	}
	block := max(1, min(m, (1<<20)/v))
	dots := make([]float32, block*v)
	for r0 := 0; r0 < m; r0 += block {
		rows := min(block, m-r0)
		Sgemm(false, true, rows, v, c, -2, x[r0*c:], c, cb, c, 0, dots, v)
		parallel(rows, 16, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				best, bi := norms[0]+dots[r*v], 0
				for j := 1; j < v; j++ {
					if d := norms[j] + dots[r*v+j]; d < best {
						best, bi = d, j
					}
				}
				out[r0+r] = int32(bi)
			}
		})
	}
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
