package cpu

import "github.com/hitsr/hitsr/ml"

// gemmDims reads a matmul node's geometry from its output: batch × (M×K · K×N).
func gemmDims(n *ml.Node) (batch, m, k, nn int, bBroadcast bool) {
	out := n.Out
	nn = out.Dim(-1)
	m = 1
	if out.Rank() > 1 {
		m = out.Dim(-2)
	}
	batch = out.Len() / (m * nn)
	k = n.In[0].Len() / (batch * m)
	return batch, m, k, nn, n.In[1].Len() == k*nn
}

// matmul computes each matrix of the batch (the leading axes) on its own, in blocks of C fixed
// by its shape alone: OpenBLAS kernels round an element differently by its position in a call
// and by the call's size, so a matrix's result must not depend on what else is in the batch.
// Up to four column blocks let a lone matrix use several cores.
func matmul(n *ml.Node) {
	a, b, c := f(n.In[0]), f(n.In[1]), f(n.Out)
	batch, m, k, nn, shared := gemmDims(n)
	var bias []float32
	if len(n.In) > 2 {
		bias = f(n.In[2])
	}
	lda, ldb := k, nn
	if n.P.TransA {
		lda = m
	}
	if n.P.TransB {
		ldb = k
	}
	cols := min(nn, max(128, (nn/4+15)&^15))
	rows := min(m, max(64, ((1<<18)/cols+15)&^15)) // ≤ 256K floats of C stay in cache
	nr, nc := (m+rows-1)/rows, (nn+cols-1)/cols
	each(batch*nr*nc, func(_, item int) {
		i, r0, c0 := item/(nr*nc), item/nc%nr*rows, item%nc*cols
		r1, c1 := min(m, r0+rows), min(nn, c0+cols)
		bi := b
		if !shared {
			bi = b[i*k*nn:]
		}
		ci := c[(i*m+r0)*nn+c0:]
		beta := fillRows(ci, r1-r0, c1-c0, nn, bias[min(c0, len(bias)):])
		sgemm1(n.P.TransA, n.P.TransB, r1-r0, c1-c0, k, 1, offset(a[i*m*k:], n.P.TransA, r0, lda), lda,
			offset(bi, !n.P.TransB, c0, ldb), ldb, beta, ci, nn)
	})
}

// attention computes softmax(scale·q·kᵀ, masked)·v, one (batch, head) per work item.
func attention(n *ml.Node) {
	q, k, v, o := n.In[0], f(n.In[1]), f(n.In[2]), f(n.Out)
	bh, tq, d := q.Dim(0)*q.Dim(1), q.Dim(2), q.Dim(3)
	tk, kv := n.In[1].Dim(2), n.P.KVLen
	var limits []int32
	if len(n.In) > 3 {
		limits = ints(n.In[3])
	}
	qs := f(q)
	sb := alloc(ml.F32, threads(bh)*tq*kv)
	defer release(sb)
	each(bh, func(wk, h int) {
		scores := sb.f[wk*tq*kv : (wk+1)*tq*kv]
		sgemm1(false, true, tq, kv, d, n.P.Scale, qs[h*tq*d:], d, k[h*tk*d:], d, 0, scores, kv)
		for i := 0; i < tq; i++ {
			lim := kv
			if limits != nil {
				lim = max(0, min(kv, int(limits[i])))
			}
			row := scores[i*kv : (i+1)*kv]
			clear(row[lim:])
			if lim > 0 {
				softmaxRow(row[:lim], row[:lim])
			}
		}
		sgemm1(false, false, tq, d, kv, 1, scores, kv, v[h*tk*d:], d, 0, o[h*tq*d:], d)
	})
}

// softmax normalises each row of width w of x into y (x and y may alias).
func softmax(x, y []float32, w int) {
	parallel(len(x)/w, max(1, 4096/w), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			softmaxRow(x[r*w:(r+1)*w], y[r*w:(r+1)*w])
		}
	})
}
