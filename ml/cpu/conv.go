package cpu

import "github.com/hitsr/hitsr/ml"

// conv2d is an implicit GEMM through convGemm (one FMA chain per output element, so the result
// depends neither on the batch, the image height, the work split nor the OpenBLAS core type):
// weights [Cout, Cin·KH·KW] times the input read through per-(channel, tap) offsets. Stride 1
// reads a zero-padded copy of the input directly; other strides build column blocks a band of
// output rows at a time (bounded scratch).
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
	ckk := cin * kh * kw
	off := make([]int, ckk)
	switch {
	case kh == 1 && kw == 1 && s == 1 && p == 0:
		for c := range off {
			off[c] = c * h * wd
		}
		chunk := max(64, (1<<16)/cout) // columns per work item
		nc := (h*wd + chunk - 1) / chunk
		each(N*nc, func(_, item int) {
			i, j0 := item/nc, item%nc*chunk
			cols := min(chunk, h*wd-j0)
			convGemm(cout, cols, w, xs[i*cin*h*wd+j0:], off, bias, y[i*cout*h*wd+j0:], h*wd)
		})
	case s == 1:
		convShifted(xs, w, y, bias, off, N, cin, h, wd, cout, kh, kw, p)
	default:
		band := max(1, min(oh, (1<<18)/(ckk*ow)))
		nb := (oh + band - 1) / band
		for r := range off {
			off[r] = r * band * ow
		}
		cb := alloc(ml.F32, threads(N*nb)*ckk*band*ow)
		defer release(cb)
		each(N*nb, func(wk, item int) {
			col := cb.f[wk*ckk*band*ow : (wk+1)*ckk*band*ow]
			i, y0 := item/nb, item%nb*band
			img := xs[i*cin*h*wd:]
			rows := min(band, oh-y0)
			for r := 0; r < ckk; r++ {
				c, ki, kj := r/(kh*kw), r/kw%kh, r%kw
				dst := col[r*band*ow : r*band*ow+rows*ow]
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
			convGemm(cout, rows*ow, w, col, off, bias, y[i*cout*oh*ow+y0*ow:], oh*ow)
		})
	}
}

// directCols is the output width from which convShifted writes each output row in place: the
// kernel's column tile is 64 wide (AVX-512), so narrower rows waste lanes.
const directCols = 64

// convShifted is a stride-1 convolution on a zero-padded copy of the input, flattened per
// channel over all images (hp·wp per image, row width wp): tap (i, j) of channel c is the copy
// shifted by c·ld + i·wp + j. Rows of at least directCols outputs are one convGemm each,
// straight into y. Narrower ones go a band of rows at a time into a "wide" band (wp columns per
// row, the last kw−1 and the rows between images junk) that stays in cache, then the valid
// columns are copied out; bands may span images, so small images still make big products.
func convShifted(xs, w, y, bias []float32, off []int, N, cin, h, wd, cout, kh, kw, p int) {
	hp, wp := h+2*p, wd+2*p
	oh, ow := hp-kh+1, wp-kw+1
	ld := N*hp*wp + kw // slack: the last junk columns read past the end
	xb := alloc(ml.F32, cin*ld)
	defer release(xb)
	xp := xb.f
	parallel(cin*N, 4, func(lo, hi int) { // every element is written: the input or a zero border
		for ci := lo; ci < hi; ci++ {
			c, i := ci/N, ci%N
			dst := xp[c*ld+i*hp*wp : c*ld+(i+1)*hp*wp]
			clear(dst[:p*wp])
			clear(dst[(p+h)*wp:])
			for r := 0; r < h; r++ {
				row := dst[(r+p)*wp : (r+p+1)*wp]
				clear(row[:p])
				copy(row[p:], xs[((i*cin+c)*h+r)*wd:((i*cin+c)*h+r+1)*wd])
				clear(row[p+wd:])
			}
			if i == N-1 {
				clear(xp[c*ld+N*hp*wp : (c+1)*ld]) // the slack
			}
		}
	})
	for k := range off {
		c, t := k/(kh*kw), k%(kh*kw)
		off[k] = c*ld + t/kw*wp + t%kw
	}
	if ow >= directCols { // rows wide enough for the kernel: each output row straight into y
		band := max(1, min(oh, (1<<16)/(cout*ow)))
		nb := (oh + band - 1) / band
		each(N*nb, func(_, item int) {
			i, y0 := item/nb, item%nb*band
			for oy := y0; oy < min(oh, y0+band); oy++ {
				convGemm(cout, ow, w, xp[(i*hp+oy)*wp:], off, bias, y[(i*cout*oh+oy)*ow:], oh*ow)
			}
		})
		return
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
		convGemm(cout, cols, w, xp[r0*wp:], off, bias, wide, cols)
		for r := 0; r < rows; r++ {
			i, oy := (r0+r)/hp, (r0+r)%hp
			if oy >= oh {
				continue
			}
			for o := 0; o < cout; o++ {
				copy(y[((i*cout+o)*oh+oy)*ow:((i*cout+o)*oh+oy+1)*ow], wide[o*cols+r*wp:])
			}
		}
	})
}
