package hitsr

import (
	"fmt"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/tokenizer"
)

// Model v2's full mode (docs/model.md §10; train/hitsr/fullv2.py upscale()): the backbone over the
// whole frame, then per tile the transformer (conditioned on the tile's features) and the decoder,
// whose residuals are written over the backbone's outputs.

// TileOrigins are the v2 tile offsets along an axis of length L: 0, T, 2T, … while a tile fits,
// then one tile ending at the edge; one tile when L ≤ T.
func TileOrigins(L, T int) []int {
	o := []int{0}
	for x := T; x+T <= L; x += T {
		o = append(o, x)
	}
	if last := o[len(o)-1]; L > T && last != L-T {
		o = append(o, L-T)
	}
	return o
}

// tokenBandShare: a band of the token path holds about twice the backbone's memory per LR pixel
// (decoder features, tile copies, residuals), so its bands take this share of BandPixels
// (1280×720 → ×2 + ×4 on the CPU, peak RSS 1.85 GB → 0.96 GB).
const tokenBandShare = 2

// residualPass is one frame's v2 full pass: the output per requested segment and, when asked
// for, the token ids per scale (tiles in origin order, row-major).
type residualPass struct {
	outs []*imageio.Image
	ids  [][]int32
}

// residual runs the v2 full mode over each image; see residualFrame.
func (m *Model) residual(imgs []*imageio.Image, segs []int) ([][]*imageio.Image, error) {
	res := make([][]*imageio.Image, len(imgs))
	for i, img := range imgs {
		p, err := m.residualFrame(img, segs, false)
		if err != nil {
			return nil, err
		}
		res[i] = p.outs
	}
	return res, nil
}

// residualFrame runs the v2 full pass over one image for the segments segs, generating only
// segments 0..max(segs) (HIT early exit) and running only the backbone heads of segs. A side
// shorter than a tile is replicate-padded, the outputs cropped back. The frame runs in bands of
// whole tile rows (about BandPixels/tokenBandShare LR pixels), each with a halo of the backbone's
// radius (which covers dec.feat's 3×3 in place of a head's), so every band sees what the whole
// frame sees; a band's tiles share one Compute, in transformer batches of m.Batch.
func (m *Model) residualFrame(img *imageio.Image, segs []int, wantIDs bool) (residualPass, error) {
	T := m.cfg.Tile
	nseg := 0
	for _, n := range segs {
		nseg = max(nseg, n+1)
	}
	p := pad(img, T)
	ys, xs := TileOrigins(p.h, T), TileOrigins(p.w, T)
	outs := make([]*imageio.Image, len(segs))
	for j, n := range segs {
		outs[j] = imageio.New(p.w<<n, p.h<<n, 3)
	}
	var pass residualPass
	R := m.bb.Cfg.Radius()
	rows := max(1, m.BandPixels/(tokenBandShare*p.w*T)) // tile rows per band
	for r0 := 0; r0 < len(ys); r0 += rows {
		band := ys[r0:min(r0+rows, len(ys))]
		end := band[len(band)-1] + T
		a, b := max(band[0]-R, 0), min(end+R, p.h)
		got, err := m.residualBand(p, a, b, band, xs, segs, nseg, wantIDs)
		if err != nil {
			return pass, err
		}
		for k, ids := range got.ids {
			if k == len(pass.ids) {
				pass.ids = append(pass.ids, nil)
			}
			pass.ids[k] = append(pass.ids[k], ids...)
		}
		for j, n := range segs {
			s, o := 1<<n, outs[j]
			bb, W, h := got.bb[j], o.W, (b-a)<<n
			S := T * s
			// tiles cover the frame; a pixel covered twice takes the later tile's value
			for t, org := range got.tiles {
				r := got.res[j][t*3*S*S : (t+1)*3*S*S]
				for c := range 3 {
					for y := range S {
						dst := o.Pix[(c*o.H+org[0]*s+y)*W+org[1]*s:][:S]
						src := bb[(c*h+(org[0]-a)*s+y)*W+org[1]*s:][:S]
						for x, v := range r[(c*S+y)*S:][:S] {
							dst[x] = src[x] + v
						}
					}
				}
			}
		}
		m.TilesRun += len(got.tiles)
	}
	for j, n := range segs {
		outs[j] = crop(outs[j], img.W<<n, img.H<<n)
	}
	pass.outs = outs
	return pass, nil
}

// crop is the top-left w×h of img (img itself when it is that size).
func crop(img *imageio.Image, w, h int) *imageio.Image {
	if img.W == w && img.H == h {
		return img
	}
	out := imageio.New(w, h, 3)
	for c := range 3 {
		for y := range h {
			copy(out.Plane(c)[y*w:(y+1)*w], img.Plane(c)[y*img.W:])
		}
	}
	return out
}

// bandResult is one band's backbone outputs (rows a..b of the frame) per segment, its tiles'
// origins (frame coordinates) and their residuals per segment, and the token ids per scale.
type bandResult struct {
	bb, res [][]float32
	tiles   [][2]int
	ids     [][]int32
}

// residualBand runs rows a..b of the padded frame p: the backbone and dec.feat over the band,
// then the tiles whose rows start at ys (columns xs), in batches of m.Batch, in one Compute.
func (m *Model) residualBand(p padded, a, b int, ys, xs []int, segs []int, nseg int, wantIDs bool) (bandResult, error) {
	T, h, tok := m.cfg.Tile, b-a, m.m.Tok
	c := ml.NewContext(m.be)
	defer c.Close()
	x := c.Input(ml.F32, []int{1, 3, h, p.w}, bandRows(p, a, b))
	feat := m.bb.Features(c, x)
	bbOut := make([]*ml.Tensor, len(segs))
	for j, n := range segs {
		bbOut[j] = m.bb.Head(c, feat, x, 1<<n)
	}
	g := tok.DecoderFeatures(c, feat)
	var res bandResult
	var featTiles, gTiles []*ml.Tensor
	for _, y := range ys {
		fRow, gRow := c.Slice(feat, 2, y-a, y-a+T), c.Slice(g, 2, y-a, y-a+T)
		for _, x := range xs {
			res.tiles = append(res.tiles, [2]int{y, x})
			featTiles = append(featTiles, c.Slice(fRow, 3, x, x+T))
			gTiles = append(gTiles, c.Slice(gRow, 3, x, x+T))
		}
	}
	batch := max(m.Batch, 1)
	resT := make([][]*ml.Tensor, len(segs))
	var idsT [][]*ml.Tensor
	for t0 := 0; t0 < len(res.tiles); t0 += batch {
		t1 := min(t0+batch, len(res.tiles))
		cond := tokenizer.AreaDown(c, c.Concat(0, featTiles[t0:t1]...), m.cfg.Gmax())
		gen := m.m.GenerateCond(c, cond, nseg)
		gb := c.Concat(0, gTiles[t0:t1]...)
		for j, n := range segs {
			resT[j] = append(resT[j], tok.Residual(c, gb, gen.Fhat[n], n))
		}
		if wantIDs {
			idsT = append(idsT, gen.Tokens)
		}
	}
	m.flops += c.Flops()
	for j, n := range segs {
		o, err := c.Floats(bbOut[j])
		if err != nil {
			return res, fmt.Errorf("full pass: %w", err)
		}
		res.bb = append(res.bb, o)
		r, off := make([]float32, len(res.tiles)*3*(T<<n)*(T<<n)), 0
		for _, t := range resT[j] { // each batch's residuals read into place
			if err := c.Read(t, r[off:off+t.Len()]); err != nil {
				return res, fmt.Errorf("full pass: %w", err)
			}
			off += t.Len()
		}
		res.res = append(res.res, r)
	}
	if wantIDs {
		res.ids = make([][]int32, len(idsT[0]))
		for _, batchIDs := range idsT {
			for k, t := range batchIDs {
				o, err := c.Int32s(t)
				if err != nil {
					return res, fmt.Errorf("full pass: %w", err)
				}
				res.ids[k] = append(res.ids[k], o...)
			}
		}
	}
	return res, nil
}

// bandRows is rows a..b of the padded frame's RGB planes (the planes themselves for all rows).
func bandRows(p padded, a, b int) []float32 {
	if a == 0 && b == p.h {
		return p.pix
	}
	h := b - a
	out := make([]float32, 3*h*p.w)
	for c := range 3 {
		copy(out[c*h*p.w:(c+1)*h*p.w], p.pix[(c*p.h+a)*p.w:(c*p.h+b)*p.w])
	}
	return out
}
