package hitsr

import (
	"math"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/model"
)

// Temporal token reuse (model v2 full mode, issue 12). Consecutive video frames mostly show the
// same content, and a token path that re-decides its tokens on every frame flickers. A tile whose
// input (the pixels its condition is computed from: the tile and the backbone's radius around
// it) changed by at most ReuseThreshold since its tokens were generated keeps those tokens: they
// are replayed into f̂ and the decoder runs on the new frame's features, so fidelity follows the
// frame while the generated detail stays put. Comparing with the input the tokens came from, not
// the previous frame's, keeps slow changes from drifting away unnoticed. A scene cut (the
// frame's mean change above SceneCut) generates every tile afresh. The change is measured on the
// pixels, in 8-bit levels, rather than on the backbone's features: on a still camera's noise the
// features' relative change is as large as on a moving scene's, the pixels' is several times
// smaller; and every tile's fate is known before the band's one Compute.

// Defaults of Model.ReuseThreshold and Model.SceneCut, in 8-bit levels. A still camera's tile
// inputs change by 0.5–1 level from frame to frame (car-detection.mp4, 90th percentile 0.6 at
// 160×90, 0.95 at its 768×432), a moving scene's by several (Tears of Steel: median 3.2–4.5);
// BenchmarkTemporalReuse with the shipped model, threshold 1.5: car-detection 17.6× fewer
// transformer evaluations at −0.0007 dB (×2) / −0.0003 dB (×4) PSNR-Y. Frames' mean block
// change: camera motion ≤ 8, fade steps ≤ 16.5, a cut 56.6.
const (
	DefaultReuseThreshold = 1.5
	DefaultSceneCut       = 20
)

// sigBlock is the side of the blocks whose means make a frame's scene-cut signature.
const sigBlock = 8

// tokenMemory is what earlier frames of a video leave for the next (single-image calls with
// ReuseTiles): per tile the tokens and the input they came from, and the previous frame's
// signature. It holds for one padded frame size, number of generated segments and sampling.
type tokenMemory struct {
	w, h, nseg int
	sampling   model.Sampling
	sig        []float32   // the previous frame's signature
	tiles      []tokenTile // per tile, in origin order (row-major)
}

// tokenTile is one tile's tokens per scale (p_k² ids each) and the input they came from (see
// tileInput); no ids: nothing to reuse.
type tokenTile struct {
	input []float32
	ids   [][]int32
}

// tokenMemoryFor is the memory that frame p (nseg segments generated) may reuse: nil when reuse
// is off; emptied on a change of size, segments or sampling and on a scene cut (counted in
// SceneCuts).
func (m *Model) tokenMemoryFor(p padded, nseg int) *tokenMemory {
	if !m.ReuseTiles || m.ReuseThreshold < 0 {
		m.tokens = nil
		return nil
	}
	mem := m.tokens
	n := len(TileOrigins(p.h, m.cfg.Tile)) * len(TileOrigins(p.w, m.cfg.Tile))
	if mem == nil || mem.w != p.w || mem.h != p.h || mem.nseg != nseg || mem.sampling != m.Sampling {
		mem = &tokenMemory{w: p.w, h: p.h, nseg: nseg, sampling: m.Sampling, tiles: make([]tokenTile, n)}
		m.tokens = mem
	}
	sig := signature(p)
	if mem.sig != nil && sigChange(sig, mem.sig) > m.SceneCut {
		clear(mem.tiles)
		m.SceneCuts++
	}
	mem.sig = sig
	return mem
}

// NewShot makes the next video frame start afresh: no tokens kept, nothing to stabilise against
// (a keyframe, where a plan's segment may start).
func (m *Model) NewShot() { m.tokens, m.stab = nil, nil }

// tileInput is the pixels of p that the condition of the tile at org (side T) depends on: the
// tile and r pixels around it (the backbone's radius), clipped to the frame, planar RGB.
func tileInput(p padded, org [2]int, T, r int) []float32 {
	y0, y1 := max(org[0]-r, 0), min(org[0]+T+r, p.h)
	x0, x1 := max(org[1]-r, 0), min(org[1]+T+r, p.w)
	out := make([]float32, 0, 3*(y1-y0)*(x1-x0))
	for c := range 3 {
		for y := y0; y < y1; y++ {
			out = append(out, p.pix[(c*p.h+y)*p.w+x0:][:x1-x0]...)
		}
	}
	return out
}

// inputChange is the mean absolute difference of two tile inputs in 8-bit levels (0 only when
// they are equal).
func inputChange(a, b []float32) float64 {
	var d float64
	for i, v := range b {
		d += math.Abs(float64(a[i] - v))
	}
	return 255 * d / float64(len(b))
}

// signature is the means of a padded frame's sigBlock×sigBlock blocks per channel (edge blocks
// over the pixels they hold).
func signature(p padded) []float32 {
	bw, bh := (p.w+sigBlock-1)/sigBlock, (p.h+sigBlock-1)/sigBlock
	sum := make([]float32, 3*bh*bw)
	for c := range 3 {
		for y := range p.h {
			row := sum[(c*bh+y/sigBlock)*bw:][:bw]
			for x, v := range p.pix[(c*p.h+y)*p.w:][:p.w] {
				row[x/sigBlock] += v
			}
		}
	}
	for by := range bh {
		for bx := range bw {
			n := float32(min(sigBlock, p.h-by*sigBlock) * min(sigBlock, p.w-bx*sigBlock))
			for c := range 3 {
				sum[(c*bh+by)*bw+bx] /= n
			}
		}
	}
	return sum
}

// sigChange is the mean absolute difference of two signatures in 8-bit levels.
func sigChange(a, b []float32) float64 { return inputChange(a, b) }

// split divides a band's tiles (origins tiles, side T; first: the global index of the first) of
// frame p into those whose tokens are generated and those reused (indices into tiles): a tile is
// reused when it has tokens and its input (r: the backbone's radius) changed by at most
// threshold. inputs are the fresh tiles' inputs, to keep with their tokens.
func (mem *tokenMemory) split(p padded, first int, tiles [][2]int, T, r int, threshold float64) (fresh, reused []int, inputs [][]float32) {
	for t, org := range tiles {
		in := tileInput(p, org, T, r)
		if kept := mem.tiles[first+t]; kept.ids != nil && inputChange(in, kept.input) <= threshold {
			reused = append(reused, t)
			continue
		}
		fresh = append(fresh, t)
		inputs = append(inputs, in)
	}
	return fresh, reused, inputs
}

// idsInput uploads the kept tokens of a band's tiles (first: the band's first global index) as
// one I32 [len(tiles), p_k²] tensor per scale, for tokenizer.Replay.
func (mem *tokenMemory) idsInput(c *ml.Context, first int, tiles []int) []*ml.Tensor {
	scales := len(mem.tiles[first+tiles[0]].ids)
	out := make([]*ml.Tensor, scales)
	for k := range out {
		per := len(mem.tiles[first+tiles[0]].ids[k])
		v := make([]int32, 0, len(tiles)*per)
		for _, t := range tiles {
			v = append(v, mem.tiles[first+t].ids[k]...)
		}
		out[k] = c.Input(ml.I32, []int{len(tiles), per}, v)
	}
	return out
}
