package cpu

import (
	"cmp"
	"math"
	"slices"

	"github.com/hitsr/hitsr/ml"
)

// sampleTopK draws each row's token as ml.Context.SampleTopK specifies, in float32: the top k in
// order (a stable sort, larger first), their weights summed in that order.
func sampleTopK(n *ml.Node) {
	x, u, out := f(n.In[0]), f(n.In[1]), ints(n.Out)
	v, k, t := n.In[0].Dim(-1), n.P.TopK, n.P.Temperature
	parallel(len(out), max(1, (1<<14)/v), func(lo, hi int) {
		idx := make([]int32, v)
		w := make([]float32, k)
		for r := lo; r < hi; r++ {
			row := x[r*v : (r+1)*v]
			for i := range idx {
				idx[i] = int32(i)
			}
			slices.SortStableFunc(idx, func(a, b int32) int { return cmp.Compare(row[b], row[a]) })
			var sum float32
			for j, i := range idx[:k] {
				w[j] = float32(math.Exp(float64((row[i] - row[idx[0]]) / t)))
				sum += w[j]
			}
			thr, acc, j := u[r]*sum, float32(0), 0
			for ; j < k-1; j++ {
				if acc += w[j]; acc > thr {
					break
				}
			}
			out[r] = idx[j]
		}
	})
}
