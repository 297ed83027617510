package ml

import (
	"fmt"
	"math"
	"slices"
)

// isFloat reports F32 or F16 (F16 is accepted where weights are read).
func isFloat(t *Tensor) bool { return t.dtype == F32 || t.dtype == F16 }

// MatMul returns a·b over the last two axes: a is [..., M, K] ([..., K, M] with transA), b is
// [..., K, N] ([..., N, K] with transB). b's leading axes equal a's or are absent/all 1
// (shared weights). The result is [..., M, N] with a's leading axes. b may be F16.
func (c *Context) MatMul(a, b *Tensor, transA, transB bool) *Tensor {
	return c.matmul("matmul", a, b, nil, transA, transB)
}

// Linear returns x·wᵀ + bias with x [..., K], w [N, K] (PyTorch layout) and bias [N] or nil.
func (c *Context) Linear(x, w, bias *Tensor) *Tensor {
	return c.matmul("linear", x, w, bias, false, true)
}

func (c *Context) matmul(op string, a, b, bias *Tensor, transA, transB bool) *Tensor {
	if !c.ok(op, a, b) || !c.opt(op, bias) {
		return &Tensor{ctx: c}
	}
	if a.dtype != F32 || !isFloat(b) || (bias != nil && bias.dtype != F32) {
		return c.fail(op, "want f32 a, f32/f16 b and f32 bias, got %s", shapeStr(a, b, bias))
	}
	if op == "linear" && b.Rank() != 2 {
		return c.fail(op, "weight %v must be [out, in]", b)
	}
	if a.Rank() < 2 && op == "matmul" || b.Rank() < 2 {
		return c.fail(op, "operands %s need rank ≥ 2", shapeStr(a, b))
	}
	m, k := a.Len()/a.Dim(-1), a.Dim(-1)
	if op == "matmul" {
		m = a.Dim(-2)
		if transA {
			m, k = k, m
		}
	}
	kb, n := b.Dim(-2), b.Dim(-1)
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		return c.fail(op, "inner dimensions differ: %s (transA=%v transB=%v)", shapeStr(a, b), transA, transB)
	}
	if op == "matmul" && b.Rank() > 2 && numel(b.shape[:b.Rank()-2]) != 1 {
		if !slices.Equal(a.shape[:a.Rank()-2], b.shape[:b.Rank()-2]) {
			return c.fail(op, "batch axes differ: %s", shapeStr(a, b))
		}
	}
	if bias != nil && (bias.Rank() != 1 || bias.shape[0] != n) {
		return c.fail(op, "bias %v does not match %d outputs (%s)", bias, n, shapeStr(a, b))
	}
	out := append([]int(nil), a.shape...)
	if op == "matmul" {
		out[len(out)-2] = m
	}
	out[len(out)-1] = n
	in := []*Tensor{a, b}
	if bias != nil {
		in = append(in, bias)
	}
	return c.record(OpMatMul, Params{TransA: transA, TransB: transB}, F32, out, in...)
}

// Conv2D is a 2-D cross-correlation (PyTorch Conv2d): x [N, Cin, H, W], w [Cout, Cin, KH, KW]
// (f32 or f16), bias [Cout] or nil, zero padding pad on every side. Result
// [N, Cout, (H+2·pad−KH)/stride+1, (W+2·pad−KW)/stride+1].
func (c *Context) Conv2D(x, w, bias *Tensor, stride, pad int) *Tensor {
	const op = "conv2d"
	if !c.ok(op, x, w) || !c.opt(op, bias) {
		return &Tensor{ctx: c}
	}
	if x.dtype != F32 || !isFloat(w) || x.Rank() != 4 || w.Rank() != 4 {
		return c.fail(op, "want f32 x [N,C,H,W] and weight [O,C,KH,KW], got %s", shapeStr(x, w))
	}
	if x.shape[1] != w.shape[1] {
		return c.fail(op, "input %v has %d channels, weight %v expects %d", x, x.shape[1], w, w.shape[1])
	}
	if stride < 1 || pad < 0 || pad >= w.shape[2] || pad >= w.shape[3] {
		return c.fail(op, "invalid stride %d / pad %d for weight %v", stride, pad, w)
	}
	if bias != nil && (bias.dtype != F32 || bias.Rank() != 1 || bias.shape[0] != w.shape[0]) {
		return c.fail(op, "bias %v does not match weight %v", bias, w)
	}
	oh := (x.shape[2]+2*pad-w.shape[2])/stride + 1
	ow := (x.shape[3]+2*pad-w.shape[3])/stride + 1
	if x.shape[2]+2*pad < w.shape[2] || x.shape[3]+2*pad < w.shape[3] {
		return c.fail(op, "input %v smaller than kernel %v with pad %d", x, w, pad)
	}
	in := []*Tensor{x, w}
	if bias != nil {
		in = append(in, bias)
	}
	return c.record(OpConv2D, Params{Stride: stride, Pad: pad}, F32, []int{x.shape[0], w.shape[0], oh, ow}, in...)
}

func (c *Context) affine(op string, x, gamma, beta *Tensor, channels int) bool {
	for _, p := range []*Tensor{gamma, beta} {
		if p != nil && (p.dtype != F32 || p.Rank() != 1 || p.shape[0] != channels) {
			c.fail(op, "scale/shift %v does not match %d channels of %v", p, channels, x)
			return false
		}
	}
	return true
}

// GroupNorm normalises x [N, C, H, W] over each group of C/groups channels (biased variance,
// PyTorch GroupNorm), then applies gamma/beta [C] (each may be nil).
func (c *Context) GroupNorm(x *Tensor, groups int, gamma, beta *Tensor, eps float32) *Tensor {
	const op = "group_norm"
	if !c.ok(op, x) || !c.opt(op, gamma, beta) {
		return &Tensor{ctx: c}
	}
	if x.dtype != F32 || x.Rank() != 4 || groups < 1 || x.shape[1]%groups != 0 {
		return c.fail(op, "%v cannot be split into %d groups", x, groups)
	}
	if !c.affine(op, x, gamma, beta, x.shape[1]) {
		return &Tensor{ctx: c}
	}
	return c.record(OpGroupNorm, Params{Groups: groups, Eps: eps}, F32, x.Shape(), x, gamma, beta)
}

// LayerNorm normalises x over its last axis, then applies gamma/beta (each may be nil).
func (c *Context) LayerNorm(x, gamma, beta *Tensor, eps float32) *Tensor {
	const op = "layer_norm"
	if !c.ok(op, x) || !c.opt(op, gamma, beta) {
		return &Tensor{ctx: c}
	}
	if x.dtype != F32 {
		return c.fail(op, "want f32, got %v", x)
	}
	if !c.affine(op, x, gamma, beta, x.Dim(-1)) {
		return &Tensor{ctx: c}
	}
	return c.record(OpLayerNorm, Params{Eps: eps}, F32, x.Shape(), x, gamma, beta)
}

func (c *Context) unary(op Op, name string, x *Tensor, p Params) *Tensor {
	if !c.ok(name, x) {
		return &Tensor{ctx: c}
	}
	if x.dtype != F32 {
		return c.fail(name, "want f32, got %v", x)
	}
	return c.record(op, p, F32, x.Shape(), x)
}

// GELU applies x·Φ(x) (exact erf form).
func (c *Context) GELU(x *Tensor) *Tensor { return c.unary(OpUnary, "gelu", x, Params{Unary: GELU}) }

// SiLU applies x·σ(x).
func (c *Context) SiLU(x *Tensor) *Tensor { return c.unary(OpUnary, "silu", x, Params{Unary: SiLU}) }

// ReLU applies max(x, 0).
func (c *Context) ReLU(x *Tensor) *Tensor { return c.unary(OpUnary, "relu", x, Params{Unary: ReLU}) }

// Softmax normalises exp(x) over the last axis.
func (c *Context) Softmax(x *Tensor) *Tensor { return c.unary(OpSoftmax, "softmax", x, Params{}) }

// Scale multiplies every element by s.
func (c *Context) Scale(x *Tensor, s float32) *Tensor {
	return c.unary(OpScale, "scale", x, Params{Scale: s})
}

// Broadcast returns the numpy broadcast of two shapes (aligned from the right).
func Broadcast(a, b []int) ([]int, bool) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 1; i <= n; i++ {
		da, db := 1, 1
		if i <= len(a) {
			da = a[len(a)-i]
		}
		if i <= len(b) {
			db = b[len(b)-i]
		}
		switch {
		case da == db || db == 1:
			out[n-i] = da
		case da == 1:
			out[n-i] = db
		default:
			return nil, false
		}
	}
	return out, true
}

func (c *Context) binary(op Op, a, b *Tensor) *Tensor {
	if !c.ok(op.String(), a, b) {
		return &Tensor{ctx: c}
	}
	if a == nil || b == nil || a.dtype != F32 || b.dtype != F32 {
		return c.fail(op.String(), "want two f32 tensors, got %s", shapeStr(a, b))
	}
	out, ok := Broadcast(a.shape, b.shape)
	if !ok {
		return c.fail(op.String(), "shapes %s do not broadcast", shapeStr(a, b))
	}
	return c.record(op, Params{}, F32, out, a, b)
}

// Add, Sub and Mul are elementwise with numpy broadcasting.
func (c *Context) Add(a, b *Tensor) *Tensor { return c.binary(OpAdd, a, b) }
func (c *Context) Sub(a, b *Tensor) *Tensor { return c.binary(OpSub, a, b) }
func (c *Context) Mul(a, b *Tensor) *Tensor { return c.binary(OpMul, a, b) }

// Attention is scaled-dot-product attention: q [B, H, Tq, D]; k and v [B, H, Tk, D] of which
// the first kvLen positions are used (a KV cache may hold more). limits, I32 [Tq] or nil, is
// the number of key positions query i may see (keys j < limits[i]); BlockCausalLimits builds
// the per-scale block-causal mask. A query that sees no key yields zeros. Result [B, H, Tq, D].
func (c *Context) Attention(q, k, v, limits *Tensor, kvLen int, scale float32) *Tensor {
	const op = "attention"
	if !c.ok(op, q, k, v) || !c.opt(op, limits) {
		return &Tensor{ctx: c}
	}
	if q.dtype != F32 || k.dtype != F32 || v.dtype != F32 || q.Rank() != 4 || !slices.Equal(k.shape, v.shape) || k.Rank() != 4 {
		return c.fail(op, "want f32 q, k, v of rank 4 with k and v alike, got %s", shapeStr(q, k, v))
	}
	if q.shape[0] != k.shape[0] || q.shape[1] != k.shape[1] || q.shape[3] != k.shape[3] {
		return c.fail(op, "q, k batch/heads/head size differ: %s", shapeStr(q, k, v))
	}
	if kvLen < 1 || kvLen > k.shape[2] {
		return c.fail(op, "kvLen %d outside 1..%d for %s", kvLen, k.shape[2], shapeStr(q, k, v))
	}
	in := []*Tensor{q, k, v}
	if limits != nil {
		if limits.dtype != I32 || limits.Rank() != 1 || limits.shape[0] != q.shape[2] {
			return c.fail(op, "limits %v must be i32[%d]", limits, q.shape[2])
		}
		in = append(in, limits)
	}
	return c.record(OpAttention, Params{KVLen: kvLen, Scale: scale}, F32, q.Shape(), in...)
}

// BlockCausalLimits returns attention limits for queries at positions start..start+n−1 of a
// sequence made of consecutive blocks (one per scale): each query sees every key up to the end
// of its own block. Block 0 (the condition prefix) is thus visible to all.
func BlockCausalLimits(blocks []int, start, n int) []int32 {
	out := make([]int32, n)
	end, b := 0, 0
	for i := range out {
		for pos := start + i; b < len(blocks) && pos >= end; b++ {
			end += blocks[b]
		}
		out[i] = int32(end)
	}
	return out
}

func (c *Context) image(op string, x *Tensor) bool {
	if !c.ok(op, x) {
		return false
	}
	if x.dtype != F32 || x.Rank() != 4 {
		c.fail(op, "want f32 [N,C,H,W], got %v", x)
		return false
	}
	return true
}

// Upsample resizes x [N, C, H, W] to [N, C, outH, outW] with the given filter (any sizes).
func (c *Context) Upsample(x *Tensor, outH, outW int, mode Interp) *Tensor {
	if !c.image("upsample", x) {
		return &Tensor{ctx: c}
	}
	if mode > Bicubic {
		return c.fail("upsample", "unknown mode %d", mode)
	}
	return c.record(OpUpsample, Params{Mode: mode}, F32, []int{x.shape[0], x.shape[1], outH, outW}, x)
}

// AreaDown averages x [N, C, H, W] over the input area of each output pixel (PyTorch
// interpolate mode "area", i.e. adaptive average pooling) to outH ≤ H, outW ≤ W.
func (c *Context) AreaDown(x *Tensor, outH, outW int) *Tensor {
	if !c.image("area_down", x) {
		return &Tensor{ctx: c}
	}
	if outH > x.shape[2] || outW > x.shape[3] {
		return c.fail("area_down", "%dx%d is larger than input %v", outW, outH, x)
	}
	return c.record(OpAreaDown, Params{}, F32, []int{x.shape[0], x.shape[1], outH, outW}, x)
}

// NearestCode returns, for each row of x [M, C], the index of the nearest codebook row
// (codebook [V, C], f32 or f16) in squared L2 distance, lowest index on ties: the VQ step.
func (c *Context) NearestCode(x, codebook *Tensor) *Tensor {
	const op = "nearest_code"
	if !c.ok(op, x, codebook) {
		return &Tensor{ctx: c}
	}
	if x.dtype != F32 || !isFloat(codebook) || x.Rank() != 2 || codebook.Rank() != 2 || x.shape[1] != codebook.shape[1] {
		return c.fail(op, "want x [M,C] and codebook [V,C], got %s", shapeStr(x, codebook))
	}
	return c.record(OpNearestCode, Params{}, I32, []int{x.shape[0]}, x, codebook)
}

// Gather looks up rows of table [V, C] (f32 or f16) for ids (I32, any shape): the result is
// ids' shape + [C]. Ids outside 0..V−1 give zero rows.
func (c *Context) Gather(table, ids *Tensor) *Tensor {
	const op = "gather"
	if !c.ok(op, table, ids) {
		return &Tensor{ctx: c}
	}
	if !isFloat(table) || table.Rank() != 2 || ids.dtype != I32 || ids.Rank() >= MaxRank {
		return c.fail(op, "want table [V,C] and i32 ids of rank < %d, got %s", MaxRank, shapeStr(table, ids))
	}
	return c.record(OpGather, Params{}, F32, append(ids.Shape(), table.shape[1]), table, ids)
}

// Argmax returns the index of the largest value along the last axis (lowest on ties) as I32
// with the last axis removed ([1] for a vector).
func (c *Context) Argmax(x *Tensor) *Tensor {
	if !c.ok("argmax", x) {
		return &Tensor{ctx: c}
	}
	if x.dtype != F32 {
		return c.fail("argmax", "want f32, got %v", x)
	}
	out := x.shape[:x.Rank()-1]
	if len(out) == 0 {
		out = []int{1}
	}
	return c.record(OpArgmax, Params{}, I32, append([]int(nil), out...), x)
}

// SampleTopK draws one index per row of logits x [..., V] (f32) by inverse CDF, with u (f32, one
// value in [0, 1) per row, in row order) as the uniform: order the row by value, larger
// first and lower index first on ties, keep the first k (1 ≤ k ≤ V), w_j = exp((x_j − x_0)/T)
// (T > 0) summed in that order to c_j; the result is the index of the first j with
// c_j > u·c_{k−1} (the k-th if none), as I32 with argmax's shape. k = 1 is argmax.
func (c *Context) SampleTopK(x, u *Tensor, k int, temperature float32) *Tensor {
	const op = "sample_topk"
	if !c.ok(op, x, u) {
		return &Tensor{ctx: c}
	}
	if x.dtype != F32 || u.dtype != F32 || u.Len()*x.Dim(-1) != x.Len() {
		return c.fail(op, "want f32 logits [..., V] and one f32 uniform per row, got %s", shapeStr(x, u))
	}
	if k < 1 || k > x.Dim(-1) || !(temperature > 0) || math.IsInf(float64(temperature), 1) {
		return c.fail(op, "k %d of %d logits and temperature %g: want 1 ≤ k ≤ V and 0 < T < ∞", k, x.Dim(-1), temperature)
	}
	out := x.shape[:x.Rank()-1]
	if len(out) == 0 {
		out = []int{1}
	}
	return c.record(OpSampleTopK, Params{TopK: k, Temperature: temperature}, I32, append([]int(nil), out...), x, u)
}

// PixelShuffle rearranges x [N, C·r², H, W] to [N, C, H·r, W·r] (PyTorch PixelShuffle).
func (c *Context) PixelShuffle(x *Tensor, r int) *Tensor {
	if !c.image("pixel_shuffle", x) {
		return &Tensor{ctx: c}
	}
	if r < 1 || r > x.shape[1] || x.shape[1]%(r*r) != 0 { // r ≤ C first: r*r must not overflow
		return c.fail("pixel_shuffle", "%v channels not divisible by r² (r=%d)", x, r)
	}
	return c.record(OpPixelShuffle, Params{R: r}, F32, []int{x.shape[0], x.shape[1] / (r * r), x.shape[2] * r, x.shape[3] * r}, x)
}

func normAxis(dim, rank int) int {
	if dim < 0 {
		dim += rank
	}
	return dim
}

// Concat joins tensors along axis dim; all other axes must match.
func (c *Context) Concat(dim int, ts ...*Tensor) *Tensor {
	const op = "concat"
	if !c.ok(op, ts...) {
		return &Tensor{ctx: c}
	}
	if len(ts) == 0 || ts[0] == nil {
		return c.fail(op, "no tensors")
	}
	first := ts[0]
	dim = normAxis(dim, first.Rank())
	if dim < 0 || dim >= first.Rank() {
		return c.fail(op, "axis %d out of range for %v", dim, first)
	}
	out := first.Shape()
	out[dim] = 0
	for _, t := range ts {
		if t == nil || t.dtype != first.dtype || t.Rank() != first.Rank() {
			return c.fail(op, "mismatched tensors %s", shapeStr(ts...))
		}
		for i := range out {
			if i != dim && t.shape[i] != first.shape[i] {
				return c.fail(op, "axis %d differs: %s", i, shapeStr(ts...))
			}
		}
		out[dim] += t.shape[dim]
	}
	return c.record(OpConcat, Params{Dim: dim}, first.dtype, out, ts...)
}

// Slice copies x[start:end] along axis dim.
func (c *Context) Slice(x *Tensor, dim, start, end int) *Tensor {
	if !c.ok("slice", x) {
		return &Tensor{ctx: c}
	}
	dim = normAxis(dim, x.Rank())
	if dim < 0 || dim >= x.Rank() || start < 0 || end > x.shape[dim] || start >= end {
		return c.fail("slice", "[%d:%d] on axis %d out of range for %v", start, end, dim, x)
	}
	out := x.Shape()
	out[dim] = end - start
	return c.record(OpSlice, Params{Dim: dim, Start: start}, x.dtype, out, x)
}

// SetSlice writes src into dst[start:start+len] along axis dim, in place (e.g. appending to a
// KV cache). dst keeps its identity; ops recorded later see the new values.
func (c *Context) SetSlice(dst, src *Tensor, dim, start int) {
	const op = "set_slice"
	if !c.ok(op, dst, src) {
		return
	}
	dim = normAxis(dim, dst.Rank())
	if dim < 0 || dim >= dst.Rank() || src.Rank() != dst.Rank() || src.dtype != dst.dtype || start < 0 || start > dst.shape[dim]-src.shape[dim] {
		c.fail(op, "cannot write %v at %d on axis %d of %v", src, start, dim, dst)
		return
	}
	for i := range dst.shape {
		if i != dim && dst.shape[i] != src.shape[i] {
			c.fail(op, "axis %d differs: %s", i, shapeStr(dst, src))
			return
		}
	}
	v := c.views([]*Tensor{dst, src})
	c.pending = append(c.pending, &Node{Op: OpSetSlice, Out: v[0], In: v[1:], P: Params{Dim: dim, Start: start}})
}

// Permute reorders axes: result axis i is x's axis perm[i].
func (c *Context) Permute(x *Tensor, perm ...int) *Tensor {
	if !c.ok("permute", x) {
		return &Tensor{ctx: c}
	}
	if len(perm) != x.Rank() {
		return c.fail("permute", "perm %v for %v", perm, x)
	}
	var p [MaxRank]int
	seen := 0
	out := make([]int, len(perm))
	for i, a := range perm {
		if a < 0 || a >= x.Rank() || seen&(1<<a) != 0 {
			return c.fail("permute", "perm %v is not a permutation of %v's axes", perm, x)
		}
		seen |= 1 << a
		p[i] = a
		out[i] = x.shape[a]
	}
	return c.record(OpPermute, Params{Perm: p}, x.dtype, out, x)
}

// Cast converts between F32 and F16 (round to nearest even).
func (c *Context) Cast(x *Tensor, to DType) *Tensor {
	if !c.ok("cast", x) {
		return &Tensor{ctx: c}
	}
	if !isFloat(x) || (to != F32 && to != F16) {
		return c.fail("cast", "%v to %s unsupported", x, to)
	}
	return c.record(OpCast, Params{}, to, x.Shape(), x)
}

// YUV420Size is the byte size of a yuv420p frame: a W×H luma plane then two ⌈W/2⌉×⌈H/2⌉
// chroma planes (U, V), each tightly packed.
func YUV420Size(w, h int) int { return w*h + 2*((w+1)/2)*((h+1)/2) }

// YUV420ToRGB converts a yuv420p frame (U8, YUV420Size(w, h) bytes) to planar RGB [1, 3, h, w]
// in [0, 1]; each chroma sample covers a 2×2 block of luma.
func (c *Context) YUV420ToRGB(frame *Tensor, w, h int, cs ColorSpec) *Tensor {
	const op = "yuv420p_to_rgb"
	if !c.ok(op, frame) {
		return &Tensor{ctx: c}
	}
	if w < 1 || h < 1 || frame.dtype != U8 || frame.Len() != YUV420Size(w, h) {
		return c.fail(op, "frame %v is not a %dx%d yuv420p frame (%d bytes)", frame, w, h, max(YUV420Size(w, h), 0))
	}
	return c.record(OpYUVToRGB, Params{W: w, H: h, Color: cs}, F32, []int{1, 3, h, w}, frame)
}

// RGBToYUV420 converts planar RGB [1, 3, H, W] (clamped to [0, 1]) to a yuv420p frame; chroma
// is the mean of the converted 2×2 block (edge blocks average the pixels they have); values are
// rounded to nearest.
func (c *Context) RGBToYUV420(rgb *Tensor, cs ColorSpec) *Tensor {
	const op = "rgb_to_yuv420p"
	if !c.image(op, rgb) {
		return &Tensor{ctx: c}
	}
	if rgb.shape[0] != 1 || rgb.shape[1] != 3 {
		return c.fail(op, "want [1,3,H,W], got %v", rgb)
	}
	return c.record(OpRGBToYUV, Params{Color: cs}, U8, []int{YUV420Size(rgb.shape[3], rgb.shape[2])}, rgb)
}

// ColorCoefficients returns Kr and Kb of a matrix.
func ColorCoefficients(m Matrix) (kr, kb float64) {
	if m == BT709 {
		return 0.2126, 0.0722
	}
	return 0.299, 0.114
}

// String names the colour spec, e.g. "bt709/limited".
func (cs ColorSpec) String() string {
	m, r := "bt601", "limited"
	if cs.Matrix == BT709 {
		m = "bt709"
	}
	if cs.FullRange {
		r = "full"
	}
	return fmt.Sprintf("%s/%s", m, r)
}
