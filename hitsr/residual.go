package hitsr

import (
	"fmt"
	"slices"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/ml"
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
		p, err := m.residualFrame(img, segs, false, len(imgs) == 1)
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
// frame sees; a band's tiles share one Compute, in transformer batches of m.Batch. A video frame
// (video: a single-image call) may reuse the tokens earlier frames kept (temporal.go).
func (m *Model) residualFrame(img *imageio.Image, segs []int, wantIDs, video bool) (residualPass, error) {
	if err := m.Sampling.Validate(); err != nil {
		return residualPass{}, err
	}
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
	var mem *tokenMemory
	if video {
		mem = m.tokenMemoryFor(p, nseg)
	}
	var pass residualPass
	R := m.bb.Cfg.Radius()
	rows := max(1, m.BandPixels/(tokenBandShare*p.w*T)) // tile rows per band
	for r0 := 0; r0 < len(ys); r0 += rows {
		band := ys[r0:min(r0+rows, len(ys))]
		end := band[len(band)-1] + T
		a, b := max(band[0]-R, 0), min(end+R, p.h)
		got, err := m.residualBand(p, a, b, band, xs, segs, nseg, wantIDs, mem, r0*len(xs))
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
		m.TilesRun += got.generated
		m.TilesReused += len(got.tiles) - got.generated
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
// origins (frame coordinates) and their residuals per segment, the token ids per scale, and how
// many of its tiles ran the transformer (the others replayed kept tokens).
type bandResult struct {
	bb, res   [][]float32
	tiles     [][2]int
	ids       [][]int32
	generated int
}

// tileGroup is a batch of a band's tiles (indices into its tiles) with their residuals per
// segment and, for generated tiles, their token ids per scale.
type tileGroup struct {
	tiles []int
	res   []*ml.Tensor
	ids   []*ml.Tensor
}

// residualBand runs rows a..b of the padded frame p: the backbone and dec.feat over the band,
// then the tiles whose rows start at ys (columns xs), in batches of m.Batch, in one Compute.
// With a token memory (first: the global index of the band's first tile), the tiles whose
// input changed by at most m.ReuseThreshold replay their kept tokens, the others are generated.
func (m *Model) residualBand(p padded, a, b int, ys, xs []int, segs []int, nseg int, wantIDs bool, mem *tokenMemory, first int) (bandResult, error) {
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
	nt, batch := len(res.tiles), max(m.Batch, 1)
	fresh, reused := make([]int, nt), []int(nil)
	for t := range fresh {
		fresh[t] = t
	}
	var regions [][]float32 // the fresh tiles' inputs, kept with their tokens
	if mem != nil {
		fresh, reused, regions = mem.split(p, first, res.tiles, T, m.bb.Cfg.Radius(), m.ReuseThreshold)
	}
	pick := func(ts []*ml.Tensor, idx []int) *ml.Tensor {
		sel := make([]*ml.Tensor, len(idx))
		for i, t := range idx {
			sel[i] = ts[t]
		}
		return c.Concat(0, sel...)
	}
	var groups []tileGroup
	for t0 := 0; t0 < len(fresh); t0 += batch {
		grp := tileGroup{tiles: fresh[t0:min(t0+batch, len(fresh))]}
		cond := m.m.Condition(c, pick(featTiles, grp.tiles))
		origins := make([][2]int, len(grp.tiles)) // key the sampled draws
		for i, t := range grp.tiles {
			origins[i] = res.tiles[t]
		}
		gen := m.m.GenerateCond(c, cond, nseg, m.Sampling, origins)
		gb := pick(gTiles, grp.tiles)
		for _, n := range segs {
			grp.res = append(grp.res, tok.Residual(c, gb, gen.Fhat[n], n))
		}
		grp.ids = gen.Tokens
		groups = append(groups, grp)
	}
	for t0 := 0; t0 < len(reused); t0 += batch {
		grp := tileGroup{tiles: reused[t0:min(t0+batch, len(reused))]}
		_, fhats := tok.Replay(c, mem.idsInput(c, first, grp.tiles))
		gb := pick(gTiles, grp.tiles)
		for _, n := range segs {
			grp.res = append(grp.res, tok.Residual(c, gb, fhats[n], n))
		}
		groups = append(groups, grp)
	}
	m.flops += c.Flops()
	for j, n := range segs {
		o, err := c.Floats(bbOut[j])
		if err != nil {
			return res, fmt.Errorf("full pass: %w", err)
		}
		res.bb = append(res.bb, o)
		size := 3 * (T << n) * (T << n)
		r := make([]float32, nt*size)
		var scratch []float32
		for _, grp := range groups { // residuals read into place (via scratch when not contiguous)
			t := grp.res[j]
			if grp.tiles[len(grp.tiles)-1]-grp.tiles[0] == len(grp.tiles)-1 {
				if err := c.Read(t, r[grp.tiles[0]*size:][:t.Len()]); err != nil {
					return res, fmt.Errorf("full pass: %w", err)
				}
				continue
			}
			scratch = slices.Grow(scratch[:0], t.Len())[:t.Len()]
			if err := c.Read(t, scratch); err != nil {
				return res, fmt.Errorf("full pass: %w", err)
			}
			for i, tile := range grp.tiles {
				copy(r[tile*size:][:size], scratch[i*size:])
			}
		}
		res.res = append(res.res, r)
	}
	tileIDs := make([][][]int32, nt) // per tile, per scale
	if mem != nil || wantIDs {
		for _, grp := range groups {
			for _, t := range grp.ids {
				v, err := c.Int32s(t)
				if err != nil {
					return res, fmt.Errorf("full pass: %w", err)
				}
				per := len(v) / len(grp.tiles)
				for i, tile := range grp.tiles {
					tileIDs[tile] = append(tileIDs[tile], v[i*per:(i+1)*per])
				}
			}
		}
	}
	if mem != nil {
		for i, t := range fresh {
			mem.tiles[first+t] = tokenTile{regions[i], tileIDs[t]}
		}
		for _, t := range reused {
			tileIDs[t] = mem.tiles[first+t].ids
		}
	}
	if wantIDs {
		for t := range nt {
			for k, ids := range tileIDs[t] {
				if k == len(res.ids) {
					res.ids = append(res.ids, nil)
				}
				res.ids[k] = append(res.ids[k], ids...)
			}
		}
	}
	res.generated = len(fresh)
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
