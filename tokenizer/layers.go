package tokenizer

import (
	"fmt"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/model/nn"
)

// Layers are the tokenizer's weights (names as exported: enc.*, dec.*, quant.*). Model v1 has
// the autoencoder (Enc, Dec); model v2 the residual decoder (its encoder is training-only).
type Layers struct {
	Enc    *Encoder
	Dec    *Decoder
	ResDec *ResidualDecoder
	Quant  Quantizer
}

// Encoder is E (docs/model.md §3): enc.*.
type Encoder struct {
	ConvIn  nn.Conv2D // conv_in: 3 → enc_ch[0]
	Down    []Level   // down.l: enc_ch[l], then a stride-2 conv to enc_ch[l+1]
	Mid     ResBlock  // mid
	ConvOut nn.Conv2D // conv_out: enc_ch[L−1] → z
}

// Decoder is D (docs/model.md §3): dec.*.
type Decoder struct {
	ConvIn  nn.Conv2D  // conv_in: z (fidelity cond: z + z) → enc_ch[L−1]
	SegEmb  *ml.Tensor // seg_emb [segments, enc_ch[L−1]]
	Mid     ResBlock   // mid
	Up      []Level    // up.l: enc_ch[l], then (after a ×2 nearest upsample) a conv to enc_ch[l−1]
	ConvOut nn.Conv2D  // conv_out: enc_ch[0] → 3
}

// Level is one resolution level: residual blocks res.i, then conv.
type Level struct {
	Res  []ResBlock
	Conv nn.Conv2D
}

// ResBlock is x + conv2(act(conv1(act(x)))), 3×3, channels kept.
type ResBlock struct{ Conv1, Conv2 nn.Conv2D }

// ResidualDecoder is model v2's LR-resolution decoder (docs/model.md §10): dec.*.
type ResidualDecoder struct {
	Feat nn.Conv2D       // feat: 3×3, cond_ch → dec_ch
	Seg  []ResidualHeads // per segment n
}

// ResidualHeads are segment n's 1×1 convs dec.tok.n (z → dec_ch), dec.mix.n (dec_ch → dec_ch)
// and dec.out.n (dec_ch → 3·4ⁿ).
type ResidualHeads struct{ Tok, Mix, Out nn.Conv2D }

// Quantizer is the codebook and φ (docs/model.md §4): quant.*.
type Quantizer struct {
	Embedding *ml.Tensor  // embedding [vocab, z]
	Phi       []nn.Conv2D // phi.k per token scale: z → z, phi_k × phi_k
}

// NewLayers declares the tokenizer's layers for c on d (nn.Shapes, nn.Bind).
func NewLayers(d *nn.Decl, c Config) Layers {
	l := Layers{Quant: newQuantizer(d.Sub("quant"), c)}
	if c.V2() {
		l.ResDec = newResidualDecoder(d.Sub("dec"), c)
	} else {
		l.Enc, l.Dec = newEncoder(d.Sub("enc"), c), newDecoder(d.Sub("dec"), c)
	}
	return l
}

func newQuantizer(d *nn.Decl, c Config) Quantizer {
	q := Quantizer{Embedding: d.Tensor("embedding", c.Vocab, c.Z)}
	for k := range c.K() {
		q.Phi = append(q.Phi, d.Conv2D(fmt.Sprintf("phi.%d", k), c.Z, c.Z, c.PhiK))
	}
	return q
}

func newResBlock(d *nn.Decl, ch int) ResBlock {
	return ResBlock{Conv1: d.Conv2D("conv1", ch, ch, 3), Conv2: d.Conv2D("conv2", ch, ch, 3)}
}

// newLevel declares level l of enc.down (or dec.up) with a conv to channels out.
func newLevel(d *nn.Decl, c Config, l, out int) Level {
	v := Level{Conv: d.Conv2D("conv", out, c.EncCh[l], 3)}
	for i := range c.ResBlocks {
		v.Res = append(v.Res, newResBlock(d.Sub("res.%d", i), c.EncCh[l]))
	}
	return v
}

func newEncoder(d *nn.Decl, c Config) *Encoder {
	ch, L := c.EncCh, len(c.EncCh)
	e := &Encoder{ConvIn: d.Conv2D("conv_in", ch[0], 3, 3)}
	for l := range L {
		e.Down = append(e.Down, newLevel(d.Sub("down.%d", l), c, l, ch[min(l+1, L-1)]))
	}
	e.Mid = newResBlock(d.Sub("mid"), ch[L-1])
	e.ConvOut = d.Conv2D("conv_out", c.Z, ch[L-1], 3)
	return e
}

func newDecoder(d *nn.Decl, c Config) *Decoder {
	ch, L := c.EncCh, len(c.EncCh)
	zin := c.Z
	if c.Fidelity == FidelityCond {
		zin *= 2 // f̂ and the condition latent
	}
	dec := &Decoder{
		ConvIn: d.Conv2D("conv_in", ch[L-1], zin, 3),
		SegEmb: d.Tensor("seg_emb", c.NSeg(), ch[L-1]),
		Mid:    newResBlock(d.Sub("mid"), ch[L-1]),
	}
	for l := range L {
		dec.Up = append(dec.Up, newLevel(d.Sub("up.%d", l), c, l, ch[max(l-1, 0)]))
	}
	dec.ConvOut = d.Conv2D("conv_out", 3, ch[0], 3)
	return dec
}

func newResidualDecoder(d *nn.Decl, c Config) *ResidualDecoder {
	r := &ResidualDecoder{Feat: d.Conv2D("feat", c.DecCh, c.CondCh, 3)}
	for n := range c.NSeg() {
		r.Seg = append(r.Seg, ResidualHeads{
			Tok: d.Conv2D(fmt.Sprintf("tok.%d", n), c.DecCh, c.Z, 1),
			Mix: d.Conv2D(fmt.Sprintf("mix.%d", n), c.DecCh, c.DecCh, 1),
			Out: d.Conv2D(fmt.Sprintf("out.%d", n), 3<<(2*n), c.DecCh, 1),
		})
	}
	return r
}
