package cpu

import "github.com/hitsr/hitsr/ml"

// layout runs the data-movement ops for any dtype.
func layout(n *ml.Node) {
	switch dst := n.Out.Storage().(*buf); {
	case dst.f != nil:
		move(n, f(n.Out), f)
	case dst.i != nil:
		move(n, ints(n.Out), ints)
	default:
		move(n, bytesOf(n.Out), bytesOf)
	}
}

// outerInner splits a shape around axis dim: the number of blocks before it and the block size
// after it.
func outerInner(shape []int, dim int) (outer, inner int) {
	outer, inner = 1, 1
	for _, d := range shape[:dim] {
		outer *= d
	}
	for _, d := range shape[dim+1:] {
		inner *= d
	}
	return outer, inner
}

func move[T any](n *ml.Node, out []T, data func(*ml.Tensor) []T) {
	x := n.In[0]
	switch n.Op {
	case ml.OpSlice, ml.OpSetSlice:
		big, small := x, n.Out // slice: copy a window of x
		if n.Op == ml.OpSetSlice {
			big, small = n.Out, x
		}
		outer, inner := outerInner(big.Shape(), n.P.Dim)
		bw, sw := big.Dim(n.P.Dim)*inner, small.Dim(n.P.Dim)*inner
		b, s := data(big), data(small)
		for o := 0; o < outer; o++ {
			win := b[o*bw+n.P.Start*inner : o*bw+n.P.Start*inner+sw]
			if n.Op == ml.OpSlice {
				copy(s[o*sw:(o+1)*sw], win)
			} else {
				copy(win, s[o*sw:(o+1)*sw])
			}
		}
	case ml.OpConcat:
		outer, inner := outerInner(n.Out.Shape(), n.P.Dim)
		ow, off := n.Out.Dim(n.P.Dim)*inner, 0
		for _, t := range n.In {
			tw, td := t.Dim(n.P.Dim)*inner, data(t)
			for o := 0; o < outer; o++ {
				copy(out[o*ow+off:o*ow+off+tw], td[o*tw:(o+1)*tw])
			}
			off += tw
		}
	case ml.OpPermute:
		in := data(x)
		d := pad4(n.Out.Shape())
		shift := 4 - x.Rank()
		xs := strides4(x.Shape())
		var st [4]int // input stride of each output axis
		for i := 0; i < x.Rank(); i++ {
			st[shift+i] = xs[shift+n.P.Perm[i]]
		}
		parallel(d[0]*d[1]*d[2], 64, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				base := r/(d[1]*d[2])*st[0] + r/d[2]%d[1]*st[1] + r%d[2]*st[2]
				row := out[r*d[3] : (r+1)*d[3]]
				for j := range row {
					row[j] = in[base+j*st[3]]
				}
			}
		})
	case ml.OpPixelShuffle:
		in, r := data(x), n.P.R
		c, h, w := n.Out.Dim(1), x.Dim(2), x.Dim(3)
		planes := x.Dim(0) * c
		parallel(planes*h*r, 16, func(lo, hi int) {
			for row := lo; row < hi; row++ {
				p, oy := row/(h*r), row%(h*r)
				y, i := oy/r, oy%r
				dst := out[row*w*r : (row+1)*w*r]
				for ox := range dst {
					ch := p*r*r + i*r + ox%r // input channel index across the batch
					dst[ox] = in[(ch*h+y)*w+ox/r]
				}
			}
		})
	}
}
