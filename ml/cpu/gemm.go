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
	if shared && !n.P.TransA {
		// Shared weights: all batches are one tall GEMM.
		gemm(false, n.P.TransB, batch*m, nn, k, a, lda, b, ldb, c, nn, bias)
		return
	}
	each(batch, func(_, i int) {
		bi := b
		if !shared {
			bi = b[i*k*nn:]
		}
		ci := c[i*m*nn : (i+1)*m*nn]
		beta := fillRows(ci, 0, nn, nn, bias)
		sgemm1(n.P.TransA, n.P.TransB, m, nn, k, 1, a[i*m*k:], lda, bi, ldb, beta, ci, nn)
	})
}

// conv2d is an implicit GEMM: weights [Cout, Cin·KH·KW] times column blocks of the input
// built a band of output rows at a time (bounded scratch), or a plain GEMM for 1×1 stride 1.
// Images (and bands) are independent work items spread over the cores.
func conv2d(n *ml.Node) {
	x, w, y := n.In[0], f(n.In[1]), f(n.Out)
	N, cin, h, wd := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	cout, kh, kw := n.In[1].Dim(0), n.In[1].Dim(2), n.In[1].Dim(3)
	oh, ow := n.Out.Dim(2), n.Out.Dim(3)
	s, p := n.P.Stride, n.P.Pad
	xs := f(x)
	var bias []float32
	if len(n.In) > 2 {
		bias = f(n.In[2])
	}
	if s == 1 && kw > 1 {
		convShifted(xs, w, y, bias, N, cin, h, wd, cout, kh, kw, p)
		return
	}
	// fill sets output rows [y0, y0+rows) of image i to the bias and returns the GEMM's beta.
	fill := func(i, y0, rows int) float32 {
		if bias == nil {
			return 0
		}
		for o := 0; o < cout; o++ {
			dst := y[((i*cout+o)*oh+y0)*ow : ((i*cout+o)*oh+y0+rows)*ow]
			for j := range dst {
				dst[j] = bias[o]
			}
		}
		return 1
	}
	ckk := cin * kh * kw
	if kh == 1 && kw == 1 && s == 1 && p == 0 {
		each(N, func(_, i int) {
			sgemm1(false, false, cout, oh*ow, cin, 1, w, cin, xs[i*cin*h*wd:], h*wd, fill(i, 0, oh), y[i*cout*oh*ow:], oh*ow)
		})
		return
	}
	band := max(1, min(oh, (1<<18)/(ckk*ow)))
	nb := (oh + band - 1) / band
	cb := alloc(ml.F32, threads(N*nb)*ckk*band*ow)
	defer release(cb)
	each(N*nb, func(wk, item int) {
		col := cb.f[wk*ckk*band*ow : (wk+1)*ckk*band*ow]
		i, y0 := item/nb, item%nb*band
		img := xs[i*cin*h*wd:]
		rows := min(band, oh-y0)
		cols := rows * ow
		for r := 0; r < ckk; r++ {
			c, ki, kj := r/(kh*kw), r/kw%kh, r%kw
			dst := col[r*cols : (r+1)*cols]
			for oy := 0; oy < rows; oy++ {
				iy := (y0+oy)*s + ki - p
				row := dst[oy*ow : (oy+1)*ow]
				if iy < 0 || iy >= h {
					clear(row)
					continue
				}
				src := img[(c*h+iy)*wd:]
				for ox := range row {
					ix := ox*s + kj - p
					if ix < 0 || ix >= wd {
						row[ox] = 0
					} else {
						row[ox] = src[ix]
					}
				}
			}
		}
		sgemm1(false, false, cout, cols, ckk, 1, w, ckk, col, cols, fill(i, y0, rows), y[i*cout*oh*ow+y0*ow:], oh*ow)
	})
}

// convShifted is a stride-1 convolution without im2col: on the zero-padded input, flattened
// per channel over all images (hp·wp per image, row width wp), tap (i, j) is the same matrix
// shifted by i·wp + j, so each band of rows is kh·kw GEMMs accumulating into a "wide" band (wp
// columns per row, the last kw−1 and the padding rows junk) that stays in cache, then the
// valid columns are copied out. Bands may span images, so small images still make big GEMMs.
func convShifted(xs, w, y, bias []float32, N, cin, h, wd, cout, kh, kw, p int) {
	hp, wp := h+2*p, wd+2*p
	oh, ow := hp-kh+1, wp-kw+1
	ld := N*hp*wp + kw // slack: the last junk columns read past the end
	xb := alloc(ml.F32, cin*ld)
	defer release(xb)
	xp := xb.f
	clear(xp)
	parallel(cin*N, 4, func(lo, hi int) {
		for ci := lo; ci < hi; ci++ {
			c, i := ci/N, ci%N
			dst := xp[c*ld+i*hp*wp:]
			for r := 0; r < h; r++ {
				copy(dst[(r+p)*wp+p:], xs[((i*cin+c)*h+r)*wd:((i*cin+c)*h+r+1)*wd])
			}
		}
	})
	tb := alloc(ml.F32, kh*kw*cout*cin)
	defer release(tb)
	taps := tb.f // tap-major [kh·kw][cout][cin]
	for o := 0; o < cout; o++ {
		for c := 0; c < cin; c++ {
			for t := 0; t < kh*kw; t++ {
				taps[(t*cout+o)*cin+c] = w[(o*cin+c)*kh*kw+t]
			}
		}
	}
	rowsAll := (N-1)*hp + oh // padded rows up to the last output row
	band := max(1, min(rowsAll, (1<<16)/(cout*wp)))
	nb := (rowsAll + band - 1) / band
	wb := alloc(ml.F32, threads(nb)*cout*band*wp)
	defer release(wb)
	each(nb, func(wk, bi int) {
		wide := wb.f[wk*cout*band*wp : (wk+1)*cout*band*wp]
		r0 := bi * band
		rows := min(band, rowsAll-r0)
		cols := rows * wp
		for t := 0; t < kh*kw; t++ {
			bt := float32(min(t, 1))
			sgemm1(false, false, cout, cols, cin, 1, taps[t*cout*cin:], cin, xp[(r0+t/kw)*wp+t%kw:], ld, bt, wide, cols)
		}
		for r := 0; r < rows; r++ {
			i, oy := (r0+r)/hp, (r0+r)%hp
			if oy >= oh {
				continue
			}
			for o := 0; o < cout; o++ {
				dst := y[((i*cout+o)*oh+oy)*ow : ((i*cout+o)*oh+oy+1)*ow]
				src := wide[o*cols+r*wp : o*cols+r*wp+ow]
				if bias == nil {
					copy(dst, src)
				} else {
					b := bias[o]
					for j, v := range src {
						dst[j] = v + b
					}
				}
			}
		}
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
