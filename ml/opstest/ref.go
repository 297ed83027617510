// Package opstest checks every ml backend against a plain float64 reference, op by op and in
// chains, in the style of ggml's test-backend-ops. The reference (Ref, RefBackend) is written
// from the op contracts in package ml, independently of any backend, for clarity over speed.
package opstest

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/hitsr/hitsr/ml"
)

// Ref evaluates one recorded node in float64. in[i] holds the values of n.In[i] (nil for an
// absent optional input); out holds n.Out's values and is overwritten (set_slice updates it in
// place). Integer results (i32 indices, u8 bytes) are stored as whole numbers.
func Ref(n *ml.Node, out []float64, in [][]float64) {
	shape := func(i int) []int { return n.In[i].Shape() }
	opt := func(i int) []float64 {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	p := n.P
	switch n.Op {
	case ml.OpMatMul:
		refMatMul(out, in[0], shape(0), in[1], shape(1), opt(2), p.TransA, p.TransB)
	case ml.OpConv2D:
		refConv2D(out, n.Out.Shape(), in[0], shape(0), in[1], shape(1), opt(2), p.Stride, p.Pad)
	case ml.OpGroupNorm:
		s := shape(0)
		refNorm(out, in[0], s[0]*p.Groups, s[1]/p.Groups*s[2]*s[3], s[2]*s[3], s[1], in[1], in[2], p.Eps)
	case ml.OpLayerNorm:
		c := n.In[0].Dim(-1)
		refNorm(out, in[0], len(in[0])/c, c, 1, c, in[1], in[2], p.Eps)
	case ml.OpUnary:
		for i, x := range in[0] {
			switch p.Unary {
			case ml.GELU:
				out[i] = 0.5 * x * math.Erfc(-x/math.Sqrt2) // no cancellation in the negative tail
			case ml.SiLU:
				out[i] = x / (1 + math.Exp(-x))
			case ml.ReLU:
				out[i] = math.Max(x, 0)
			default:
				panic(fmt.Sprintf("opstest: no reference for unary %d", p.Unary))
			}
		}
	case ml.OpSoftmax:
		c := n.In[0].Dim(-1)
		for r := 0; r < len(out); r += c {
			refSoftmax(out[r:r+c], in[0][r:r+c])
		}
	case ml.OpScale:
		for i, x := range in[0] {
			out[i] = float64(p.Scale) * x
		}
	case ml.OpAdd, ml.OpSub, ml.OpMul:
		refBinary(n.Op, out, n.Out.Shape(), in[0], shape(0), in[1], shape(1))
	case ml.OpAttention:
		refAttention(out, in[0], shape(0), in[1], in[2], n.In[1].Dim(2), opt(3), p.KVLen, float64(p.Scale))
	case ml.OpUpsample:
		refUpsample(out, n.Out.Shape(), in[0], shape(0), p.Mode)
	case ml.OpAreaDown:
		refAreaDown(out, n.Out.Shape(), in[0], shape(0))
	case ml.OpNearestCode:
		c := n.In[0].Dim(1)
		for m := range out {
			out[m] = float64(NearestCode(in[0][m*c:(m+1)*c], in[1]))
		}
	case ml.OpGather:
		v, c := n.In[0].Dim(0), n.In[0].Dim(1)
		for r, id := range in[1] {
			row := out[r*c : (r+1)*c]
			if id < 0 || int(id) >= v {
				clear(row)
			} else {
				copy(row, in[0][int(id)*c:])
			}
		}
	case ml.OpArgmax:
		c := n.In[0].Dim(-1)
		for r := range out {
			out[r] = float64(Argmax(in[0][r*c : (r+1)*c]))
		}
	case ml.OpSampleTopK:
		c := n.In[0].Dim(-1)
		for r := range out {
			out[r] = float64(SampleTopK(in[0][r*c:(r+1)*c], in[1][r], p.TopK, float64(p.Temperature)))
		}
	case ml.OpPixelShuffle:
		refPixelShuffle(out, n.Out.Shape(), in[0], p.R)
	case ml.OpConcat:
		outer, inner := split(n.Out.Shape(), p.Dim)
		at := 0 // offset along the axis
		for i, t := range n.In {
			d := t.Dim(p.Dim)
			copyAxis(out, n.Out.Dim(p.Dim), at, in[i], d, 0, d, outer, inner)
			at += d
		}
	case ml.OpSlice:
		outer, inner := split(shape(0), p.Dim)
		copyAxis(out, n.Out.Dim(p.Dim), 0, in[0], n.In[0].Dim(p.Dim), p.Start, n.Out.Dim(p.Dim), outer, inner)
	case ml.OpSetSlice:
		outer, inner := split(n.Out.Shape(), p.Dim)
		d := n.In[0].Dim(p.Dim)
		copyAxis(out, n.Out.Dim(p.Dim), p.Start, in[0], d, 0, d, outer, inner)
	case ml.OpPermute:
		refPermute(out, n.Out.Shape(), in[0], shape(0), p.Perm)
	case ml.OpCast:
		for i, x := range in[0] {
			out[i] = x
			if n.Out.DType() == ml.F16 {
				out[i] = RoundF16(x)
			}
		}
	case ml.OpYUVToRGB:
		refYUVToRGB(out, in[0], p.W, p.H, p.Color)
	case ml.OpRGBToYUV:
		refRGBToYUV(out, in[0], n.In[0].Dim(3), n.In[0].Dim(2), p.Color)
	default:
		panic(fmt.Sprintf("opstest: no reference for %v", n.Op))
	}
}

// outShape derives a node's result shape from its inputs and parameters, independently of
// package ml's shape checks. Sizes that are themselves the op's parameter (resize sizes, the
// slice length) are taken from the result.
func outShape(n *ml.Node) []int {
	in := func(i int) []int { return n.In[i].Shape() }
	x := in(0)
	switch n.Op {
	case ml.OpMatMul:
		b := in(1)
		m, nn := 1, b[len(b)-1]
		if len(x) >= 2 {
			m = x[len(x)-2]
		}
		if n.P.TransA {
			m = x[len(x)-1]
		}
		if n.P.TransB {
			nn = b[len(b)-2]
		}
		if len(x) >= 2 {
			x[len(x)-2] = m
		}
		x[len(x)-1] = nn
		return x
	case ml.OpConv2D:
		w, s, p := in(1), n.P.Stride, n.P.Pad
		return []int{x[0], w[0], (x[2]+2*p-w[2])/s + 1, (x[3]+2*p-w[3])/s + 1}
	case ml.OpAdd, ml.OpSub, ml.OpMul:
		a, b := x, in(1)
		out := make([]int, max(len(a), len(b)))
		for i := range out {
			out[i] = max(dimFromRight(a, len(out)-1-i), dimFromRight(b, len(out)-1-i))
		}
		return out
	case ml.OpUpsample, ml.OpAreaDown:
		return []int{x[0], x[1], n.Out.Dim(2), n.Out.Dim(3)}
	case ml.OpNearestCode:
		return []int{x[0]}
	case ml.OpGather:
		return append(in(1), x[1])
	case ml.OpArgmax, ml.OpSampleTopK:
		if len(x) == 1 {
			return []int{1}
		}
		return x[:len(x)-1]
	case ml.OpPixelShuffle:
		r := n.P.R
		return []int{x[0], x[1] / (r * r), x[2] * r, x[3] * r}
	case ml.OpConcat:
		for _, t := range n.In[1:] {
			x[n.P.Dim] += t.Dim(n.P.Dim)
		}
		return x
	case ml.OpSlice:
		x[n.P.Dim] = n.Out.Dim(n.P.Dim)
		return x
	case ml.OpSetSlice:
		return n.Out.Shape() // in place
	case ml.OpPermute:
		out := make([]int, len(x))
		for i := range out {
			out[i] = x[n.P.Perm[i]]
		}
		return out
	case ml.OpYUVToRGB:
		return []int{1, 3, n.P.H, n.P.W}
	case ml.OpRGBToYUV:
		return []int{ml.YUV420Size(x[3], x[2])}
	}
	return x // shape-preserving ops
}

// checkShape compares a node's result shape with outShape.
func checkShape(n *ml.Node) error {
	if got, want := n.Out.Shape(), outShape(n); !slices.Equal(got, want) {
		return fmt.Errorf("%v result shape %v, reference %v", n.Op, got, want)
	}
	return nil
}

// dimFromRight is axis r counted from the right (0 = last), 1 where s has no such axis.
func dimFromRight(s []int, r int) int {
	if r < len(s) {
		return s[len(s)-1-r]
	}
	return 1
}

// refMatMul: out[p,i,j] = bias[j] + Σ_k A[p,i,k]·B[p',k,j] where A, B are a, b with their
// last two axes swapped when transposed and p' = 0 for a shared (batch-1) b.
func refMatMul(out, a []float64, as []int, b []float64, bs []int, bias []float64, transA, transB bool) {
	ra, ca := 1, as[len(as)-1] // a viewed as batch × ra × ca
	if len(as) >= 2 {
		ra = as[len(as)-2]
	}
	rb, cb := bs[len(bs)-2], bs[len(bs)-1]
	m, k, n := ra, ca, cb
	if transA {
		m, k = ca, ra
	}
	if transB {
		n = rb
	}
	batch, sharedB := len(a)/(ra*ca), len(b) == rb*cb
	for p := range batch {
		pa, pb := a[p*ra*ca:], b
		if !sharedB {
			pb = b[p*rb*cb:]
		}
		for i := range m {
			for j := range n {
				s := 0.0
				if bias != nil {
					s = bias[j]
				}
				for kk := range k {
					ai, bi := i*ca+kk, kk*cb+j // element (i,kk) of A and (kk,j) of B
					if transA {
						ai = kk*ca + i
					}
					if transB {
						bi = j*cb + kk
					}
					s += pa[ai] * pb[bi]
				}
				out[(p*m+i)*n+j] = s
			}
		}
	}
}

// refConv2D: out[n,o,y,x] = bias[o] + Σ_c,i,j x[n,c,y·s+i−p, x·s+j−p]·w[o,c,i,j], zero outside.
func refConv2D(out []float64, os []int, x []float64, xs []int, w []float64, ws []int, bias []float64, stride, pad int) {
	N, C, H, W := xs[0], xs[1], xs[2], xs[3]
	O, KH, KW := ws[0], ws[2], ws[3]
	OH, OW := os[2], os[3]
	for n := range N {
		for o := range O {
			for y := range OH {
				for xo := range OW {
					s := 0.0
					if bias != nil {
						s = bias[o]
					}
					for c := range C {
						for i := range KH {
							for j := range KW {
								iy, ix := y*stride+i-pad, xo*stride+j-pad
								if iy >= 0 && iy < H && ix >= 0 && ix < W {
									s += x[((n*C+c)*H+iy)*W+ix] * w[((o*C+c)*KH+i)*KW+j]
								}
							}
						}
					}
					out[((n*O+o)*OH+y)*OW+xo] = s
				}
			}
		}
	}
}

// refNorm normalises `groups` consecutive runs of `size` values each (biased variance), then
// applies gamma/beta of channel (index / plane) % channels.
func refNorm(out, x []float64, groups, size, plane, channels int, gamma, beta []float64, eps float32) {
	for g := range groups {
		v := x[g*size : (g+1)*size]
		mean, vr := 0.0, 0.0
		for _, e := range v {
			mean += e
		}
		mean /= float64(size)
		for _, e := range v {
			vr += (e - mean) * (e - mean)
		}
		vr /= float64(size)
		inv := 1 / math.Sqrt(vr+float64(eps))
		for i, e := range v {
			y := (e - mean) * inv
			c := (g*size + i) / plane % channels
			if gamma != nil {
				y *= gamma[c]
			}
			if beta != nil {
				y += beta[c]
			}
			out[g*size+i] = y
		}
	}
}

func refSoftmax(out, x []float64) {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = max(mx, v)
	}
	sum := 0.0
	for i, v := range x {
		out[i] = math.Exp(v - mx)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
}

// refBinary applies a op b with numpy broadcasting: a size-1 (or missing) axis repeats.
func refBinary(op ml.Op, out []float64, os []int, a []float64, as []int, b []float64, bs []int) {
	coord := make([]int, len(os))
	for i := range out {
		rem := i
		for d := len(os) - 1; d >= 0; d-- {
			coord[d] = rem % os[d]
			rem /= os[d]
		}
		x, y := a[bcastIndex(coord, as)], b[bcastIndex(coord, bs)]
		switch op {
		case ml.OpAdd:
			out[i] = x + y
		case ml.OpSub:
			out[i] = x - y
		default:
			out[i] = x * y
		}
	}
}

// bcastIndex is the flat index into a tensor of shape s for the right-aligned output coord.
func bcastIndex(coord, s []int) int {
	idx, off := 0, len(coord)-len(s)
	for d, n := range s {
		c := coord[off+d]
		if n == 1 {
			c = 0
		}
		idx = idx*n + c
	}
	return idx
}

// refAttention: for each (b,h) and query i, keys j < min(kvLen, limits[i]) get weights
// softmax(scale·q_i·k_j); out_i = Σ_j p_j·v_j, or zero when no key is visible.
func refAttention(out, q []float64, qs []int, k, v []float64, tk int, limits []float64, kvLen int, scale float64) {
	bh, tq, d := qs[0]*qs[1], qs[2], qs[3]
	for h := range bh {
		for i := range tq {
			n := kvLen
			if limits != nil {
				n = max(0, min(n, int(limits[i])))
			}
			o := out[(h*tq+i)*d : (h*tq+i+1)*d]
			clear(o)
			if n == 0 {
				continue
			}
			qi := q[(h*tq+i)*d : (h*tq+i+1)*d]
			s := make([]float64, n)
			for j := range s {
				kj := k[(h*tk+j)*d : (h*tk+j+1)*d]
				for c := range d {
					s[j] += qi[c] * kj[c]
				}
				s[j] *= scale
			}
			refSoftmax(s, s)
			for j, pj := range s {
				vj := v[(h*tk+j)*d : (h*tk+j+1)*d]
				for c := range d {
					o[c] += pj * vj[c]
				}
			}
		}
	}
}

// taps returns the source indices and weights for output index dst of an in→out resize along
// one axis, following PyTorch F.interpolate with align_corners=False.
func taps(mode ml.Interp, dst, in, out int) (idx []int, w []float64) {
	clampIdx := func(i int) int { return min(max(i, 0), in-1) }
	switch mode {
	case ml.Nearest:
		return []int{min(int(float32(dst)*(float32(in)/float32(out))), in-1)}, []float64{1} // PyTorch's float32 index
	case ml.Bilinear:
		src := max((float64(dst)+0.5)*float64(in)/float64(out)-0.5, 0) // negative clamped to 0
		i0 := int(math.Floor(src))
		t := src - float64(i0)
		return []int{clampIdx(i0), clampIdx(i0 + 1)}, []float64{1 - t, t}
	default: // bicubic: unclamped source, taps floor−1..floor+2 clamped to the edge
		src := (float64(dst)+0.5)*float64(in)/float64(out) - 0.5
		f := math.Floor(src)
		t := src - f
		i0 := int(f)
		return []int{clampIdx(i0 - 1), clampIdx(i0), clampIdx(i0 + 1), clampIdx(i0 + 2)},
			[]float64{keys(t + 1), keys(t), keys(1 - t), keys(2 - t)}
	}
}

// keys is the Keys cubic convolution kernel with a = −0.75 (PyTorch's bicubic).
func keys(d float64) float64 {
	const a = -0.75
	d = math.Abs(d)
	switch {
	case d <= 1:
		return (a+2)*d*d*d - (a+3)*d*d + 1
	case d < 2:
		return a*d*d*d - 5*a*d*d + 8*a*d - 4*a
	}
	return 0
}

func refUpsample(out []float64, os []int, x []float64, xs []int, mode ml.Interp) {
	H, W, OH, OW := xs[2], xs[3], os[2], os[3]
	ixs, wxs := make([][]int, OW), make([][]float64, OW) // column taps, the same for every row
	for xo := range OW {
		ixs[xo], wxs[xo] = taps(mode, xo, W, OW)
	}
	for p := range xs[0] * xs[1] {
		img := x[p*H*W:]
		for y := range OH {
			iy, wy := taps(mode, y, H, OH)
			for xo := range OW {
				ix, wx := ixs[xo], wxs[xo]
				s := 0.0
				for a := range iy {
					for b := range ix {
						s += wy[a] * wx[b] * img[iy[a]*W+ix[b]]
					}
				}
				out[(p*OH+y)*OW+xo] = s
			}
		}
	}
}

// refAreaDown is adaptive average pooling: output row i averages input rows
// [floor(i·H/oh), ceil((i+1)·H/oh)), and likewise for columns.
func refAreaDown(out []float64, os []int, x []float64, xs []int) {
	H, W, OH, OW := xs[2], xs[3], os[2], os[3]
	for p := range xs[0] * xs[1] {
		for i := range OH {
			y0, y1 := i*H/OH, ((i+1)*H+OH-1)/OH
			for j := range OW {
				x0, x1 := j*W/OW, ((j+1)*W+OW-1)/OW
				s := 0.0
				for y := y0; y < y1; y++ {
					for xx := x0; xx < x1; xx++ {
						s += x[(p*H+y)*W+xx]
					}
				}
				out[(p*OH+i)*OW+j] = s / float64((y1-y0)*(x1-x0))
			}
		}
	}
}

// CodeDistance is the squared L2 distance between x and codebook row v.
func CodeDistance(x, codebook []float64, v int) float64 {
	s := 0.0
	for c, e := range x {
		d := e - codebook[v*len(x)+c]
		s += d * d
	}
	return s
}

// NearestCode is the index of the codebook row nearest to x, lowest on ties.
func NearestCode(x, codebook []float64) int {
	best := 0
	for v := 1; v < len(codebook)/len(x); v++ {
		if CodeDistance(x, codebook, v) < CodeDistance(x, codebook, best) {
			best = v
		}
	}
	return best
}

// Argmax is the index of the largest value, lowest on ties.
func Argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TopK is the indices of x's k largest values, larger first, the lower index first on ties.
func TopK(x []float64, k int) []int {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(x[b], x[a]) })
	return idx[:k]
}

// SampleCDF is the normalised running sum of exp((x_j − x_0)/t) over TopK(x, k), and the indices.
func SampleCDF(x []float64, k int, t float64) (cdf []float64, idx []int) {
	idx = TopK(x, k)
	sum := 0.0
	for _, i := range idx {
		sum += math.Exp((x[i] - x[idx[0]]) / t)
		cdf = append(cdf, sum)
	}
	for j := range cdf {
		cdf[j] /= sum
	}
	return cdf, idx
}

// SampleTopK is the index of the first of TopK(x, k) whose normalised cumulative weight
// exceeds u (the last if none).
func SampleTopK(x []float64, u float64, k int, t float64) int {
	cdf, idx := SampleCDF(x, k, t)
	for j, c := range cdf {
		if c > u {
			return idx[j]
		}
	}
	return idx[k-1]
}

// refPixelShuffle: out[n,c,y·r+i,x·r+j] = in[n, c·r²+i·r+j, y, x].
func refPixelShuffle(out []float64, os []int, x []float64, r int) {
	C, OH, OW := os[1], os[2], os[3]
	H, W := OH/r, OW/r
	for n := range os[0] {
		for c := range C {
			for oy := range OH {
				for ox := range OW {
					ic := c*r*r + (oy%r)*r + ox%r
					out[((n*C+c)*OH+oy)*OW+ox] = x[((n*C*r*r+ic)*H+oy/r)*W+ox/r]
				}
			}
		}
	}
}

// split views a shape as outer × shape[dim] × inner.
func split(shape []int, dim int) (outer, inner int) {
	outer, inner = 1, 1
	for i, d := range shape {
		if i < dim {
			outer *= d
		} else if i > dim {
			inner *= d
		}
	}
	return outer, inner
}

// copyAxis copies n slabs along the axis: dst[o, dstAt+i, :] = src[o, srcAt+i, :] for i < n,
// where dst and src have dstLen and srcLen entries on that axis.
func copyAxis(dst []float64, dstLen, dstAt int, src []float64, srcLen, srcAt, n, outer, inner int) {
	for o := range outer {
		for i := range n {
			copy(dst[(o*dstLen+dstAt+i)*inner:(o*dstLen+dstAt+i+1)*inner], src[(o*srcLen+srcAt+i)*inner:])
		}
	}
}

// refPermute: out[c] = x[c'] with c'[perm[i]] = c[i].
func refPermute(out []float64, os []int, x []float64, xs []int, perm [ml.MaxRank]int) {
	coord, src := make([]int, len(os)), make([]int, len(os))
	for i := range out {
		rem := i
		for d := len(os) - 1; d >= 0; d-- {
			coord[d] = rem % os[d]
			rem /= os[d]
		}
		for d := range os {
			src[perm[d]] = coord[d]
		}
		idx := 0
		for d, n := range xs {
			idx = idx*n + src[d]
		}
		out[i] = x[idx]
	}
}

// colorScale returns the luma offset/scale and chroma scale of a range.
func colorScale(cs ml.ColorSpec) (yOff, yScale, cScale float64) {
	if cs.FullRange {
		return 0, 255, 255
	}
	return 16, 219, 224
}

// refYUVToRGB inverts RGBToYUV420's equations per pixel (chroma from the pixel's 2×2 block)
// and clamps to [0, 1].
func refYUVToRGB(out, frame []float64, w, h int, cs ml.ColorSpec) {
	kr, kb := ml.ColorCoefficients(cs.Matrix)
	kg := 1 - kr - kb
	yOff, yScale, cScale := colorScale(cs)
	cw, ch := (w+1)/2, (h+1)/2
	for y := range h {
		for x := range w {
			c := (y/2)*cw + x/2
			Y := (frame[y*w+x] - yOff) / yScale
			cb := (frame[w*h+c] - 128) / cScale
			cr := (frame[w*h+cw*ch+c] - 128) / cScale
			r := Y + 2*(1-kr)*cr
			b := Y + 2*(1-kb)*cb
			g := (Y - kr*r - kb*b) / kg
			for i, v := range []float64{r, g, b} {
				out[(i*h+y)*w+x] = min(max(v, 0), 1)
			}
		}
	}
}

// refRGBToYUV: per pixel (rgb clamped to [0,1]) y' = Kr·R+Kg·G+Kb·B, Y = off + scale·y',
// Cb = 128 + cScale·(B−y')/(2(1−Kb)), Cr = 128 + cScale·(R−y')/(2(1−Kr)); chroma planes hold
// the mean over each 2×2 block's pixels; all rounded to nearest and clamped to 0..255.
func refRGBToYUV(out, rgb []float64, w, h int, cs ml.ColorSpec) {
	kr, kb := ml.ColorCoefficients(cs.Matrix)
	kg := 1 - kr - kb
	yOff, yScale, cScale := colorScale(cs)
	cw, ch := (w+1)/2, (h+1)/2
	toByte := func(v float64) float64 { return min(max(math.Round(v), 0), 255) }
	sumCb, sumCr, count := make([]float64, cw*ch), make([]float64, cw*ch), make([]float64, cw*ch)
	for y := range h {
		for x := range w {
			px := func(i int) float64 { return min(max(rgb[(i*h+y)*w+x], 0), 1) }
			r, g, b := px(0), px(1), px(2)
			luma := kr*r + kg*g + kb*b
			out[y*w+x] = toByte(yOff + yScale*luma)
			c := (y/2)*cw + x/2
			sumCb[c] += 128 + cScale*(b-luma)/(2*(1-kb))
			sumCr[c] += 128 + cScale*(r-luma)/(2*(1-kr))
			count[c]++
		}
	}
	for c := range count {
		out[w*h+c] = toByte(sumCb[c] / count[c])
		out[w*h+cw*ch+c] = toByte(sumCr[c] / count[c])
	}
}

// RoundF16 rounds x to the nearest IEEE half value (ties to even); overflow gives ±Inf.
func RoundF16(x float64) float64 {
	a := math.Abs(x)
	if a == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	_, e := math.Frexp(a)                          // a = f·2^e, f in [0.5, 1)
	q := math.Ldexp(1, max(e-1, -14)-10)           // spacing of halves near a (subnormals below 2^-14)
	r := math.Copysign(math.RoundToEven(a/q)*q, x) // a/q is exact for float32 inputs
	if math.Abs(r) > 65504 {
		return math.Copysign(math.Inf(1), x)
	}
	return r
}
