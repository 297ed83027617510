package cpu

import (
	"math"

	"github.com/hitsr/hitsr/ml"
)

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
	beta := float32(0)
	if len(n.In) > 2 {
		bias := f(n.In[2])
		for r := 0; r < len(c); r += nn {
			copy(c[r:r+nn], bias)
		}
		beta = 1
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
		Sgemm(false, n.P.TransB, batch*m, nn, k, 1, a, lda, b, ldb, beta, c, nn)
		return
	}
	for i := 0; i < batch; i++ {
		bi := b
		if !shared {
			bi = b[i*k*nn:]
		}
		Sgemm(n.P.TransA, n.P.TransB, m, nn, k, 1, a[i*m*k:], lda, bi, ldb, beta, c[i*m*nn:], nn)
	}
}

// conv2d is an implicit GEMM: weights [Cout, Cin·KH·KW] times column blocks of the input
// built a band of output rows at a time (bounded scratch), or a plain GEMM for 1×1 stride 1.
func conv2d(n *ml.Node) {
	x, w, y := n.In[0], f(n.In[1]), f(n.Out)
	N, cin, h, wd := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	cout, kh, kw := n.In[1].Dim(0), n.In[1].Dim(2), n.In[1].Dim(3)
	oh, ow := n.Out.Dim(2), n.Out.Dim(3)
	s, p := n.P.Stride, n.P.Pad
	xs := f(x)
	beta := float32(0)
	if len(n.In) > 2 {
		bias := f(n.In[2])
		for i := 0; i < N*cout; i++ {
			plane := y[i*oh*ow : (i+1)*oh*ow]
			for j := range plane {
				plane[j] = bias[i%cout]
			}
		}
		beta = 1
	}
	ckk := cin * kh * kw
	if kh == 1 && kw == 1 && s == 1 && p == 0 {
		for i := 0; i < N; i++ {
			Sgemm(false, false, cout, oh*ow, cin, 1, w, cin, xs[i*cin*h*wd:], h*wd, beta, y[i*cout*oh*ow:], oh*ow)
		}
		return
	}
	if s == 1 && kw > 1 {
		convShifted(xs, w, y, N, cin, h, wd, cout, kh, kw, p, beta)
		return
	}
	band := max(1, min(oh, (1<<21)/(ckk*ow)))
	col := make([]float32, ckk*band*ow)
	for i := 0; i < N; i++ {
		img := xs[i*cin*h*wd:]
		for y0 := 0; y0 < oh; y0 += band {
			rows := min(band, oh-y0)
			cols := rows * ow
			parallel(ckk, 8, func(lo, hi int) {
				for r := lo; r < hi; r++ {
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
			})
			Sgemm(false, false, cout, cols, ckk, 1, w, ckk, col, cols, beta, y[i*cout*oh*ow+y0*ow:], oh*ow)
		}
	}
}

// convShifted is a stride-1 convolution without im2col: on the zero-padded input, flattened
// per channel with row width wp, tap (i, j) is the same matrix shifted by i·wp + j, so each
// band of output rows is kh·kw GEMMs accumulating into a "wide" band (wp columns per row, the
// last kw−1 of them junk) that stays in cache, then the valid columns are copied out.
func convShifted(xs, w, y []float32, N, cin, h, wd, cout, kh, kw, p int, beta float32) {
	hp, wp := h+2*p, wd+2*p
	oh, ow := hp-kh+1, wp-kw+1
	plane := hp*wp + kw // slack: the last junk columns read past the plane
	xp := make([]float32, cin*plane)
	taps := make([]float32, kh*kw*cout*cin) // tap-major [kh·kw][cout][cin]
	for o := 0; o < cout; o++ {
		for c := 0; c < cin; c++ {
			for t := 0; t < kh*kw; t++ {
				taps[(t*cout+o)*cin+c] = w[(o*cin+c)*kh*kw+t]
			}
		}
	}
	band := max(1, min(oh, (1<<18)/(cout*wp)))
	wide := make([]float32, cout*band*wp)
	for img := 0; img < N; img++ {
		src := xs[img*cin*h*wd:]
		parallel(cin, 4, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				dst := xp[c*plane : (c+1)*plane]
				clear(dst)
				for r := 0; r < h; r++ {
					copy(dst[(r+p)*wp+p:], src[(c*h+r)*wd:(c*h+r+1)*wd])
				}
			}
		})
		out := y[img*cout*oh*ow:]
		for y0 := 0; y0 < oh; y0 += band {
			rows := min(band, oh-y0)
			cols := rows * wp
			for t := 0; t < kh*kw; t++ {
				bt := float32(1)
				if t == 0 {
					bt = 0
				}
				Sgemm(false, false, cout, cols, cin, 1, taps[t*cout*cin:], cin, xp[(y0+t/kw)*wp+t%kw:], plane, bt, wide, cols)
			}
			parallel(cout, 8, func(lo, hi int) {
				for o := lo; o < hi; o++ {
					for r := 0; r < rows; r++ {
						dst := out[(o*oh+y0+r)*ow : (o*oh+y0+r+1)*ow]
						row := wide[o*cols+r*wp : o*cols+r*wp+ow]
						if beta == 0 {
							copy(dst, row)
						} else {
							for i, v := range row {
								dst[i] += v
							}
						}
					}
				}
			})
		}
	}
}

// attention computes softmax(scale·q·kᵀ, masked)·v head by head.
func attention(n *ml.Node) {
	q, k, v, o := n.In[0], f(n.In[1]), f(n.In[2]), f(n.Out)
	bh, tq, d := q.Dim(0)*q.Dim(1), q.Dim(2), q.Dim(3)
	tk, kv := n.In[1].Dim(2), n.P.KVLen
	var limits []int32
	if len(n.In) > 3 {
		limits = ints(n.In[3])
	}
	scores := make([]float32, tq*kv)
	qs := f(q)
	for h := 0; h < bh; h++ {
		Sgemm(false, true, tq, kv, d, n.P.Scale, qs[h*tq*d:], d, k[h*tk*d:], d, 0, scores, kv)
		parallel(tq, 16, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				lim := kv
				if limits != nil {
					lim = max(0, min(kv, int(limits[i])))
				}
				row := scores[i*kv : (i+1)*kv]
				clear(row[lim:])
				if lim > 0 {
					softmax(row[:lim], row[:lim], lim)
				}
			}
		})
		Sgemm(false, false, tq, d, kv, 1, scores, kv, v[h*tk*d:], d, 0, o[h*tq*d:], d)
	}
}

// softmax normalises each row of width w of x into y (x and y may alias).
func softmax(x, y []float32, w int) {
	parallel(len(x)/w, max(1, 4096/w), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*w:(r+1)*w], y[r*w:(r+1)*w]
			mx := float32(math.Inf(-1))
			for _, v := range xr {
				mx = max(mx, v)
			}
			var sum float64
			for i, v := range xr {
				e := float32(math.Exp(float64(v - mx)))
				yr[i] = e
				sum += float64(e)
			}
			inv := float32(1 / sum)
			for i := range yr {
				yr[i] *= inv
			}
		}
	})
}
