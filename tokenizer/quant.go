package tokenizer

import "github.com/hitsr/hitsr/ml"

// Nearest maps residuals r [B,z,p,p] to code ids I32 [B,p·p] (row-major (y,x)).
func (t *Tokenizer) Nearest(c *ml.Context, r *ml.Tensor) *ml.Tensor {
	B, p := r.Dim(0), r.Dim(2)
	v := c.Reshape(c.Permute(r, 0, 2, 3, 1), B*p*p, t.Cfg.Z)
	return c.Reshape(c.NearestCode(v, t.l.Quant.Embedding), B, p*p)
}

// Lookup maps ids I32 [B,p·p] to code vectors [B,z,p,p].
func (t *Tokenizer) Lookup(c *ml.Context, ids *ml.Tensor, p int) *ml.Tensor {
	e := c.Gather(t.l.Quant.Embedding, ids) // [B, p², z]
	return c.Permute(c.Reshape(e, ids.Dim(0), p, p, t.Cfg.Z), 0, 3, 1, 2)
}

// Phi is φ_k(h) = 0.5·h + 0.5·conv_k(h).
func (t *Tokenizer) Phi(c *ml.Context, k int, h *ml.Tensor) *ml.Tensor {
	return c.Scale(c.Add(h, t.l.Quant.Phi[k].Forward(c, h, 1)), 0.5)
}

// Fhat0 is the empty f̂ for B tiles (a zero context tensor).
func (t *Tokenizer) Fhat0(c *ml.Context, B int) *ml.Tensor {
	G := t.Cfg.Grid(0)
	return c.Input(ml.F32, []int{B, t.Cfg.Z, G, G}, make([]float32, B*t.Cfg.Z*G*G))
}

// Carry brings f̂ onto scale k's grid (bicubic carry-up at a segment start).
func (t *Tokenizer) Carry(c *ml.Context, fhat *ml.Tensor, k int) *ml.Tensor {
	return Resize(c, fhat, t.Cfg.Grid(k), ml.Bicubic)
}

// Add returns f̂ + φ_k(bicubic_up(e[ids])); f̂ must already be on Grid(k).
func (t *Tokenizer) Add(c *ml.Context, fhat *ml.Tensor, k int, ids *ml.Tensor) *ml.Tensor {
	h := t.Lookup(c, ids, t.Cfg.Scales()[k])
	h = Resize(c, h, fhat.Dim(2), ml.Bicubic)
	return c.Add(fhat, t.Phi(c, k, h))
}

// Quantized is the result of HIT quantization.
type Quantized struct {
	Tokens    []*ml.Tensor // I32 [B, p_k²] per scale
	Residuals []*ml.Tensor // [B, z, p_k, p_k] per scale
	Fhat      []*ml.Tensor // f̂ after each segment
}

// Latents are the encoder latents per segment for the segment images (HR resized to
// tile·2ⁿ); for rq plain only E(last image).
func (t *Tokenizer) Latents(c *ml.Context, segImgs []*ml.Tensor) []*ml.Tensor {
	if t.Cfg.RQ == RQPlain {
		return []*ml.Tensor{t.Encode(c, segImgs[len(segImgs)-1])}
	}
	zs := make([]*ml.Tensor, len(segImgs))
	for n, x := range segImgs {
		zs[n] = t.Encode(c, x)
	}
	return zs
}

// Quantize runs HIT (or plain) residual quantization over the latents Zs.
func (t *Tokenizer) Quantize(c *ml.Context, zs []*ml.Tensor) Quantized {
	cfg := t.Cfg
	var q Quantized
	fhat := t.Fhat0(c, zs[0].Dim(0))
	seg := cfg.SegOf()
	for k, p := range cfg.Scales() {
		Z := zs[0]
		if cfg.RQ != RQPlain {
			Z = zs[seg[k]]
		}
		fhat = t.Carry(c, fhat, k)
		r := AreaDown(c, c.Sub(Z, fhat), p)
		ids := t.Nearest(c, r)
		q.Tokens, q.Residuals = append(q.Tokens, ids), append(q.Residuals, r)
		fhat = t.Add(c, fhat, k, ids)
		if cfg.LastOfSeg(k) {
			q.Fhat = append(q.Fhat, fhat)
		}
	}
	return q
}

// Replay rebuilds, from token ids, the transformer inputs x_k (k ≥ 1; index k−1) and f̂ per segment.
func (t *Tokenizer) Replay(c *ml.Context, ids []*ml.Tensor) (xs, fhats []*ml.Tensor) {
	fhat := t.Fhat0(c, ids[0].Dim(0))
	for k, id := range ids {
		fhat = t.Carry(c, fhat, k)
		if k > 0 {
			xs = append(xs, AreaDown(c, fhat, t.Cfg.Scales()[k]))
		}
		fhat = t.Add(c, fhat, k, id)
		if t.Cfg.LastOfSeg(k) {
			fhats = append(fhats, fhat)
		}
	}
	return xs, fhats
}
