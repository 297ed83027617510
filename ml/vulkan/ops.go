package vulkan

import (
	"fmt"

	"github.com/hitsr/hitsr/ml"
)

// node records one op.
func (r *rec) node(n *ml.Node) error {
	switch n.Op {
	case ml.OpMatMul:
		return r.matmul(n)
	case ml.OpConv2D:
		return r.conv(n)
	case ml.OpGroupNorm, ml.OpLayerNorm:
		return r.norm(n)
	case ml.OpUnary, ml.OpScale:
		return r.unary(n)
	case ml.OpSoftmax:
		return r.softmax(n)
	case ml.OpAttention:
		return r.attention(n)
	case ml.OpAdd, ml.OpSub, ml.OpMul:
		return r.binary(n)
	case ml.OpUpsample, ml.OpAreaDown:
		return r.resize(n)
	case ml.OpNearestCode:
		return r.nearestCode(n)
	case ml.OpGather:
		return r.gather(n)
	case ml.OpArgmax:
		return r.argmax(n)
	case ml.OpSampleTopK:
		return r.sampleTopK(n)
	case ml.OpPixelShuffle:
		return r.pixelShuffle(n)
	case ml.OpConcat, ml.OpSlice, ml.OpSetSlice, ml.OpPermute:
		return r.layout(n)
	case ml.OpCast:
		return r.cast(n)
	case ml.OpYUVToRGB, ml.OpRGBToYUV:
		return r.yuv(n)
	}
	return fmt.Errorf("op %v is not supported by the vulkan backend", n.Op)
}

// args resolves tensors to bindings: inputs read, the last one written.
func args(ts ...*ml.Tensor) ([]arg, error) {
	as := make([]arg, len(ts))
	for i, t := range ts {
		var err error
		if i == len(ts)-1 {
			as[i], err = out(t)
		} else {
			as[i], err = in(t)
		}
		if err != nil {
			return nil, err
		}
	}
	return as, nil
}

// opt is the i-th input or nil.
func opt(n *ml.Node, i int) *ml.Tensor {
	if i < len(n.In) {
		return n.In[i]
	}
	return nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
func roundUp(a, b int) int { return ceilDiv(a, b) * b }

// pad4 left-pads a shape of rank ≤ 4 with ones.
func pad4(s []int) [4]int {
	p := [4]int{1, 1, 1, 1}
	copy(p[4-len(s):], s)
	return p
}

// strides4 are the contiguous strides of a padded shape.
func strides4(s [4]int) [4]int {
	return [4]int{s[1] * s[2] * s[3], s[2] * s[3], s[3], 1}
}

func bits(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// uvec4 is a shape, stride or start as a uvec4 push constant.
func uvec4(v [4]int) [4]uint32 { return [4]uint32{u32(v[0]), u32(v[1]), u32(v[2]), u32(v[3])} }

// ---- GEMM ----

// gemm is C[z] = A[z]·B[z] (+bias) with element strides (see shaders/mm.comp).
type gemm struct {
	M, N, K, sAi, sAk, sBk, sBj, ldc, offA, offB, offC, sAb, sBb, sCb, batch int
	a, b, bias, c                                                            arg
	bHalf, rowBias                                                           bool
	// C as a region of a contiguous tensor (for the padded-scratch path): shape cDims, start
	// cAt; zero means [1, batch, M, N] at 0.
	cDims, cAt [4]int
}

func (r *rec) gemm(g gemm) error {
	if g.M == 0 || g.N == 0 || g.batch == 0 {
		return nil
	}
	var flags uint32
	if g.bias.buf != nil {
		flags |= mmBias
	}
	if g.rowBias {
		flags |= mmRowBias
	}
	push := func(g gemm) mmPush {
		return mmPush{M: u32(g.M), N: u32(g.N), K: u32(g.K), sAi: u32(g.sAi), sAk: u32(g.sAk), sBk: u32(g.sBk),
			sBj: u32(g.sBj), ldc: u32(g.ldc), offA: u32(g.offA), offB: u32(g.offB), offC: u32(g.offC),
			sAb: u32(g.sAb), sBb: u32(g.sBb), sCb: u32(g.sCb), flags: flags}
	}
	al := func(v, m int) bool { return v%m == 0 }
	bat := func(s, m int) bool { return g.batch == 1 || s%m == 0 }
	if sg := int(r.b.sg); sg > 0 && g.sAk == 1 && al(g.sAi, 4) && al(g.offA, 4) && bat(g.sAb, 4) {
		tb, bw := 0, 0
		for _, w := range []int{8, 4} {
			if !al(g.offB, w) || !bat(g.sBb, w) {
				continue
			}
			if g.sBj == 1 && al(g.sBk, w) {
				tb, bw = 0, w
			} else if g.sBk == 1 && al(g.sBj, w) {
				tb, bw = 1, w
			}
			if bw > 0 {
				break
			}
		}
		lim := r.b.info.MaxWorkgroupCount
		gx, gy := ceilDiv(g.N, sg*16), ceilDiv(g.M, 32)
		if bw > 0 && gx <= int(lim[0]) && gy <= int(lim[1]) && g.batch <= int(lim[2]) {
			k := mmCPUKernels[tb][bits(g.bHalf)][bw/8]
			groups := [3]uint32{uint32(gx), uint32(gy), uint32(g.batch)}
			if al(g.ldc, 4) && al(g.offC, 4) && bat(g.sCb, 4) {
				return dispatch(r, k, noSpec{}, []arg{g.a, g.b, g.bias, g.c}, push(g), groups)
			}
			// C rows not 4-aligned: compute into padded scratch, then copy.
			h := g
			h.ldc, h.offC = roundUp(g.N, 4), 0
			h.sCb = g.M * h.ldc
			buf, err := r.alloc(int64(4 * g.batch * h.sCb))
			if err != nil {
				return err
			}
			h.c = arg{buf: buf, write: true}
			if err := dispatch(r, k, noSpec{}, []arg{h.a, h.b, h.bias, h.c}, push(h), groups); err != nil {
				return err
			}
			dims, at := g.cDims, g.cAt
			if dims == [4]int{} {
				dims = [4]int{1, g.batch, g.M, g.N}
			}
			return r.copyRegion(arg{buf: buf}, g.c, 4, [4]int{1, g.batch, g.M, g.N}, dims, at,
				[4]int{0, h.sCb, h.ldc, 1}, 0)
		}
	}
	grid, err := r.grid1(ceilDiv(g.M, 4)*ceilDiv(g.N, 4), g.batch)
	if err != nil {
		return err
	}
	return dispatch(r, mmKernel, mmSpec{BF16: bits(g.bHalf)}, []arg{g.a, g.b, g.bias, g.c}, push(g), grid)
}

func (r *rec) matmul(n *ml.Node) error {
	a, b, bias := n.In[0], n.In[1], opt(n, 2)
	as, err := args(a, b, bias, n.Out)
	if err != nil {
		return err
	}
	sa, sb := a.Shape(), b.Shape()
	ra, ca := 1, sa[len(sa)-1]
	if len(sa) >= 2 {
		ra = sa[len(sa)-2]
	}
	rb, cb := sb[len(sb)-2], sb[len(sb)-1]
	g := gemm{M: ra, K: ca, sAi: ca, sAk: 1, N: cb, sBk: cb, sBj: 1, sAb: ra * ca,
		batch: a.Len() / (ra * ca), a: as[0], b: as[1], bias: as[2], c: as[3], bHalf: b.DType() == ml.F16}
	if n.P.TransA {
		g.M, g.K, g.sAi, g.sAk = ca, ra, 1, ca
	}
	if n.P.TransB {
		g.N, g.sBk, g.sBj = rb, 1, cb
	}
	shared := b.Len() == rb*cb
	if !shared {
		g.sBb = rb * cb
	}
	if shared && !n.P.TransA { // shared weights: one tall GEMM over all batches
		g.M *= g.batch
		g.batch = 1
	}
	if n.P.TransA && r.b.sg > 0 { // the CPU GEMM wants A rows contiguous: transpose first
		t, err := r.alloc(int64(4 * a.Len()))
		if err != nil {
			return err
		}
		if err := r.copyRegion(as[0], arg{buf: t, write: true}, 4, [4]int{1, g.batch, g.M, g.K},
			[4]int{1, g.batch, g.M, g.K}, [4]int{}, [4]int{0, ra * ca, 1, ca}, 0); err != nil {
			return err
		}
		g.a, g.sAi, g.sAk = arg{buf: t}, g.K, 1
	}
	g.ldc, g.sCb = g.N, g.M*g.N
	return r.gemm(g)
}

// packRows writes rows×Kp f32 values: src rows of K (f32 or f16) zero-padded to Kp.
func (r *rec) packRows(src arg, half bool, rows, K, Kp int) (arg, error) {
	buf, err := r.alloc(int64(4 * rows * Kp))
	if err != nil {
		return arg{}, err
	}
	dst := arg{buf: buf, write: true}
	err = run1(r, packRowsKernel, f16Spec{F16: bits(half)}, []arg{src, dst},
		packRowsPush{n: u32(rows * Kp), K: u32(K), Kp: u32(Kp)}, rows*Kp)
	return arg{buf: buf}, err
}

// colBudget bounds the im2col scratch of one chunk.
const colBudget = 32 << 20

func (r *rec) conv(n *ml.Node) error {
	x, w, bias := n.In[0], n.In[1], opt(n, 2)
	as, err := args(x, w, bias, n.Out)
	if err != nil {
		return err
	}
	xs, ws, os := x.Shape(), w.Shape(), n.Out.Shape()
	N, C, H, W := xs[0], xs[1], xs[2], xs[3]
	O, KH, KW := ws[0], ws[2], ws[3]
	OH, OW := os[2], os[3]
	P, K := OH*OW, C*KH*KW
	half := w.DType() == ml.F16
	stride, pad := n.P.Stride, n.P.Pad
	if KH == 1 && KW == 1 && stride == 1 && pad == 0 { // a GEMM per image
		g := gemm{M: O, N: P, K: C, sAi: C, sAk: 1, sBk: P, sBj: 1, ldc: P, sBb: C * P, sCb: O * P,
			batch: N, a: as[1], b: as[0], bias: as[2], c: as[3], rowBias: true}
		if half || C%4 != 0 {
			g.sAi = roundUp(C, 4)
			if g.a, err = r.packRows(as[1], half, O, C, g.sAi); err != nil {
				return err
			}
		}
		return r.gemm(g)
	}
	if sg := r.b.sg; sg > 0 && KH == 3 && KW == 3 && stride == 1 && pad == 1 && W%4 == 0 {
		// direct kernel: weights as [O][C][12] f32
		wp, err := r.packRows(as[1], half, O*C, 9, 12)
		if err != nil {
			return err
		}
		lim := r.b.info.MaxWorkgroupCount
		gx, gy := ceilDiv(H*ceilDiv(W, 16), int(sg)), ceilDiv(O, 32)
		if gx <= int(lim[0]) && gy <= int(lim[1]) && N <= int(lim[2]) {
			var flags uint32
			if bias != nil {
				flags = conv3Bias
			}
			return dispatch(r, conv3CPUKernel, noSpec{}, []arg{as[0], wp, as[2], as[3]},
				conv3Push{C: u32(C), H: u32(H), W: u32(W), O: u32(O), flags: flags}, [3]uint32{uint32(gx), uint32(gy), uint32(N)})
		}
	}
	// im2col + GEMM, in chunks of whole images or pixel bands.
	Kp := roundUp(K, 8)
	wp, err := r.packRows(as[1], half, O, K, Kp)
	if err != nil {
		return err
	}
	budget := min(colBudget, int(r.b.info.MaxStorageBufferRange))
	ldq, nImg, band := roundUp(P, 8), 1, P
	if per := 4 * Kp * ldq; per <= budget {
		nImg = min(N, budget/per)
	} else {
		band = max(8, budget/(4*Kp)/8*8)
		ldq = band
	}
	col, err := r.alloc(int64(4 * nImg * Kp * ldq))
	if err != nil {
		return err
	}
	for n0 := 0; n0 < N; n0 += nImg {
		imgs := min(nImg, N-n0)
		for p0 := 0; p0 < P; p0 += band {
			pc := min(band, P-p0)
			cnt := imgs * Kp * ldq
			if err := run1(r, im2colKernel, noSpec{}, []arg{as[0], {buf: col, write: true}},
				im2colPush{n: u32(cnt), C: u32(C), H: u32(H), W: u32(W), KH: u32(KH), KW: u32(KW), stride: u32(stride),
					pad: u32(pad), OW: u32(OW), K: u32(K), Kp: u32(Kp), ldq: u32(ldq), Pc: u32(pc), p0: u32(p0), n0: u32(n0), P: u32(P)},
				cnt); err != nil {
				return err
			}
			if err := r.gemm(gemm{M: O, N: pc, K: Kp, sAi: Kp, sAk: 1, sBk: ldq, sBj: 1, ldc: P,
				offC: n0*O*P + p0, sBb: Kp * ldq, sCb: O * P, batch: imgs,
				a: wp, b: arg{buf: col}, bias: as[2], c: as[3], rowBias: true,
				cDims: [4]int{1, N, O, P}, cAt: [4]int{0, n0, 0, p0}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---- normalisation, elementwise ----

func (r *rec) norm(n *ml.Node) error {
	x, gamma, beta := n.In[0], opt(n, 1), opt(n, 2)
	as, err := args(x, gamma, beta, n.Out)
	if err != nil {
		return err
	}
	s := x.Shape()
	groups, size, plane, ch := x.Len()/s[len(s)-1], s[len(s)-1], 1, s[len(s)-1]
	if n.Op == ml.OpGroupNorm {
		groups, plane, ch = s[0]*n.P.Groups, s[2]*s[3], s[1]
		size = ch / n.P.Groups * plane
	}
	var flags uint32
	if gamma != nil {
		flags |= normGamma
	}
	if beta != nil {
		flags |= normBeta
	}
	return run1(r, normKernel, noSpec{}, as,
		normPush{groups: u32(groups), size: u32(size), plane: u32(plane), channels: u32(ch), eps: n.P.Eps, flags: flags}, groups)
}

func (r *rec) unary(n *ml.Node) error {
	as, err := args(n.In[0], n.Out)
	if err != nil {
		return err
	}
	var op uint32
	switch {
	case n.Op == ml.OpScale:
		op = unaryScale
	case n.P.Unary == ml.GELU:
		op = unaryGELU
	case n.P.Unary == ml.SiLU:
		op = unarySiLU
	case n.P.Unary == ml.ReLU:
		op = unaryReLU
	default:
		return fmt.Errorf("unknown unary %d", n.P.Unary)
	}
	cnt := n.Out.Len()
	return run1(r, unaryKernel, unarySpec{OP: op}, as, unaryPush{n: u32(cnt), scale: n.P.Scale}, ceilDiv(cnt, 4))
}

func (r *rec) softmax(n *ml.Node) error {
	as, err := args(n.In[0], n.Out)
	if err != nil {
		return err
	}
	c := n.In[0].Dim(-1)
	rows := n.Out.Len() / c
	return run1(r, softmaxKernel, noSpec{}, []arg{as[0], as[1], {}},
		softmaxPush{rows: u32(rows), cols: u32(c), valid: u32(c), tq: 1, scale: 1}, rows)
}

func (r *rec) binary(n *ml.Node) error {
	a, b := n.In[0], n.In[1]
	as, err := args(a, b, n.Out)
	if err != nil {
		return err
	}
	shape := pad4(n.Out.Shape())
	bstr := func(t *ml.Tensor) [4]int {
		s := pad4(t.Shape())
		st := strides4(s)
		for i := range s {
			if s[i] == 1 {
				st[i] = 0
			}
		}
		return st
	}
	var op uint32
	switch n.Op {
	case ml.OpAdd:
		op = binaryAdd
	case ml.OpSub:
		op = binarySub
	case ml.OpMul:
		op = binaryMul
	}
	cnt, vec := n.Out.Len(), shape[3]%4 == 0
	inv := cnt
	if vec {
		inv = cnt / 4
	}
	push := binaryPush{shape: uvec4(shape), as: uvec4(bstr(a)), bs: uvec4(bstr(b)), n: u32(cnt), vec: bits(vec)}
	return run1(r, binaryKernel, binarySpec{OP: op}, as, push, inv)
}

// attention: S = q·kᵀ (GEMM), masked scaled softmax in place, out = S·v (GEMM).
func (r *rec) attention(n *ml.Node) error {
	q, k, v, lim := n.In[0], n.In[1], n.In[2], opt(n, 3)
	as, err := args(q, k, v, lim, n.Out)
	if err != nil {
		return err
	}
	qs, ks := q.Shape(), k.Shape()
	bh, tq, d, tk, kv := qs[0]*qs[1], qs[2], qs[3], ks[2], n.P.KVLen
	ld := roundUp(kv, 8)
	sbuf, err := r.alloc(int64(4 * bh * tq * ld))
	if err != nil {
		return err
	}
	S := arg{buf: sbuf, write: true}
	if err := r.gemm(gemm{M: tq, N: kv, K: d, sAi: d, sAk: 1, sBk: 1, sBj: d, ldc: ld,
		sAb: tq * d, sBb: tk * d, sCb: tq * ld, batch: bh, a: as[0], b: as[1], c: S}); err != nil {
		return err
	}
	if err := run1(r, softmaxKernel, noSpec{}, []arg{{buf: sbuf}, S, as[3]},
		softmaxPush{rows: u32(bh * tq), cols: u32(ld), valid: u32(kv), tq: u32(tq), hasLimits: bits(lim != nil), scale: n.P.Scale},
		bh*tq); err != nil {
		return err
	}
	return r.gemm(gemm{M: tq, N: d, K: kv, sAi: ld, sAk: 1, sBk: d, sBj: 1, ldc: d,
		sAb: tq * ld, sBb: tk * d, sCb: tq * d, batch: bh, a: arg{buf: sbuf}, b: as[2], c: as[4]})
}

// ---- resampling, indexing ----

func (r *rec) resize(n *ml.Node) error {
	as, err := args(n.In[0], n.Out)
	if err != nil {
		return err
	}
	xs, os := n.In[0].Shape(), n.Out.Shape()
	H, W, OH, OW := xs[2], xs[3], os[2], os[3]
	cnt := n.Out.Len()
	if n.Op == ml.OpAreaDown {
		return run1(r, areaDownKernel, noSpec{}, as, areaDownPush{n: u32(cnt), H: u32(H), W: u32(W), OH: u32(OH), OW: u32(OW)}, cnt)
	}
	if n.P.Mode > ml.Bicubic {
		return fmt.Errorf("unknown interpolation mode %d", n.P.Mode)
	}
	sy, sx := float32(H)/float32(OH), float32(W)/float32(OW)
	return run1(r, upsampleKernel, upsampleSpec{MODE: uint32(n.P.Mode)}, as,
		upsamplePush{n: u32(cnt), H: u32(H), W: u32(W), OH: u32(OH), OW: u32(OW), sy: sy, sx: sx}, cnt)
}

func (r *rec) nearestCode(n *ml.Node) error {
	x, cb := n.In[0], n.In[1]
	as, err := args(x, cb, n.Out)
	if err != nil {
		return err
	}
	m := x.Dim(0)
	return run1(r, nearestCodeKernel, f16Spec{F16: bits(cb.DType() == ml.F16)}, as,
		nearestCodePush{m: u32(m), c: u32(x.Dim(1)), v: u32(cb.Dim(0))}, m)
}

func (r *rec) gather(n *ml.Node) error {
	t, ids := n.In[0], n.In[1]
	as, err := args(t, ids, n.Out)
	if err != nil {
		return err
	}
	cnt := n.Out.Len()
	return run1(r, gatherKernel, f16Spec{F16: bits(t.DType() == ml.F16)}, as,
		gatherPush{n: u32(cnt), c: u32(t.Dim(1)), v: u32(t.Dim(0))}, cnt)
}

func (r *rec) argmax(n *ml.Node) error {
	as, err := args(n.In[0], n.Out)
	if err != nil {
		return err
	}
	c := n.In[0].Dim(-1)
	rows := n.In[0].Len() / c
	return run1(r, argmaxKernel, noSpec{}, as, argmaxPush{rows: u32(rows), cols: u32(c)}, rows)
}

// sampleTopK ranks every element into a scratch order of each row's top k, then draws per row.
func (r *rec) sampleTopK(n *ml.Node) error {
	as, err := args(n.In[0], n.In[1], n.Out)
	if err != nil {
		return err
	}
	c := n.In[0].Dim(-1)
	rows := n.In[0].Len() / c
	order, err := r.alloc(4 * int64(rows) * int64(n.P.TopK))
	if err != nil {
		return err
	}
	push := sampleTopKPush{rows: u32(rows), cols: u32(c), k: u32(n.P.TopK), temperature: n.P.Temperature}
	rank := []arg{as[0], as[1], {buf: order, write: true}, {}}
	if err := run1(r, sampleTopKKernel, sampleTopKSpec{STAGE: 0}, rank, push, rows*c); err != nil {
		return err
	}
	return run1(r, sampleTopKKernel, sampleTopKSpec{STAGE: 1}, []arg{as[0], as[1], {buf: order}, as[2]}, push, rows)
}

func (r *rec) pixelShuffle(n *ml.Node) error {
	as, err := args(n.In[0], n.Out)
	if err != nil {
		return err
	}
	os := n.Out.Shape()
	cnt := n.Out.Len()
	return run1(r, pixelShuffleKernel, noSpec{}, as,
		pixelShufflePush{n: u32(cnt), C: u32(os[1]), OH: u32(os[2]), OW: u32(os[3]), r: u32(n.P.R)}, cnt)
}

// ---- layout ----

// copyRegion copies a rank-4 region (see shaders/copy.comp): dst[dstart + c] = src[soff +
// c·sstride] for c < shape, dst having the contiguous shape dshape and es-byte elements.
func (r *rec) copyRegion(src, dst arg, es int, shape, dshape, dstart, sstride [4]int, soff int) error {
	cnt := shape[0] * shape[1] * shape[2] * shape[3]
	if cnt == 0 {
		return nil
	}
	dst.write = true
	wbase := 0
	if es < 4 { // visit the destination words the region touches
		ds := strides4(dshape)
		lo, hi := 0, 0
		for i := range 4 {
			lo += dstart[i] * ds[i]
			hi += (dstart[i] + shape[i] - 1) * ds[i]
		}
		epw := 4 / es
		cnt, wbase = hi/epw-lo/epw+1, lo/epw
	}
	push := copyPush{shape: uvec4(shape), dshape: uvec4(dshape), dstart: uvec4(dstart), sstride: uvec4(sstride),
		n: u32(cnt), wbase: u32(wbase), soff: u32(soff)}
	return run1(r, copyKernel, copySpec{ES: u32(es)}, []arg{src, dst}, push, cnt)
}

func (r *rec) layout(n *ml.Node) error {
	dst, err := out(n.Out)
	if err != nil {
		return err
	}
	os := n.Out.Shape()
	off := 4 - len(os)
	dshape := pad4(os)
	es := n.Out.DType().Size()
	dim := n.P.Dim + off
	for i, t := range n.In {
		src, err := in(t)
		if err != nil {
			return err
		}
		ts := pad4(t.Shape())
		st := strides4(ts)
		switch n.Op {
		case ml.OpSlice:
			err = r.copyRegion(src, dst, es, dshape, dshape, [4]int{}, st, n.P.Start*st[dim])
		case ml.OpConcat:
			at := 0
			for _, u := range n.In[:i] {
				at += pad4(u.Shape())[dim]
			}
			var start [4]int
			start[dim] = at
			err = r.copyRegion(src, dst, es, ts, dshape, start, st, 0)
		case ml.OpSetSlice:
			var start [4]int
			start[dim] = n.P.Start
			err = r.copyRegion(src, dst, es, ts, dshape, start, st, 0)
		case ml.OpPermute:
			xs := t.Shape()
			xst := strides4(pad4(xs))
			ss := [4]int{}
			for j := range xs {
				ss[off+j] = xst[off+n.P.Perm[j]]
			}
			err = r.copyRegion(src, dst, es, dshape, dshape, [4]int{}, ss, 0)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *rec) cast(n *ml.Node) error {
	as, err := args(n.In[0], n.Out)
	if err != nil {
		return err
	}
	from, to, cnt := n.In[0].DType(), n.Out.DType(), n.Out.Len()
	switch {
	case from == to:
		s := [4]int{1, 1, 1, cnt}
		return r.copyRegion(as[0], as[1], to.Size(), s, s, [4]int{}, [4]int{0, 0, 0, 1}, 0)
	case from == ml.F32 && to == ml.F16:
		return run1(r, castKernel, castSpec{TOH: 1}, as, castPush{n: u32(cnt)}, ceilDiv(cnt, 2))
	case from == ml.F16 && to == ml.F32:
		return run1(r, castKernel, castSpec{TOH: 0}, as, castPush{n: u32(cnt)}, cnt)
	}
	return fmt.Errorf("cast %s to %s is not supported", from, to)
}

// yuv converts between yuv420p frames and planar RGB.
func (r *rec) yuv(n *ml.Node) error {
	as, err := args(n.In[0], n.Out)
	if err != nil {
		return err
	}
	kr, kb := ml.ColorCoefficients(n.P.Color.Matrix)
	yOff, yScale, cScale := float32(16), float32(219), float32(224)
	if n.P.Color.FullRange {
		yOff, yScale, cScale = 0, 255, 255
	}
	coef := colorCoef{kr: float32(kr), kb: float32(kb), yOff: yOff, yScale: yScale, cScale: cScale}
	if n.Op == ml.OpYUVToRGB {
		w, h := n.P.W, n.P.H
		return run1(r, yuv2rgbKernel, noSpec{}, as, yuv2rgbPush{w: u32(w), h: u32(h), colorCoef: coef}, w*h)
	}
	s := n.In[0].Shape()
	words := ceilDiv(n.Out.Len(), 4)
	return run1(r, rgb2yuvKernel, noSpec{}, as, rgb2yuvPush{w: u32(s[3]), h: u32(s[2]), words: u32(words), colorCoef: coef}, words)
}
