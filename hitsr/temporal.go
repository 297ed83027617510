package hitsr

import (
	"math"
	"slices"

	"github.com/hitsr/hitsr/ml"
)

// Temporal token reuse (model v2 full mode, issue 12). Consecutive video frames mostly show the
// same content, and a token path that re-decides its tokens on every frame flickers. A tile whose
// transformer condition (its backbone features pooled to Gmax×Gmax) changed by at most
// ReuseThreshold since its tokens were generated keeps those tokens: they are replayed into f̂ and
// the decoder runs on the new frame's features, so fidelity follows the frame while the generated
// detail stays put. Comparing with the condition the tokens came from, not the previous frame's,
// keeps slow changes from drifting away unnoticed. A scene cut (the frame's mean change above
// SceneCut) generates every tile afresh.

// Defaults of Model.ReuseThreshold and Model.SceneCut (measured: BenchmarkTemporalReuse).
const (
	DefaultReuseThreshold = 0.1
	DefaultSceneCut       = 12
)

// sigBlock is the side of the blocks whose means make a frame's scene-cut signature.
const sigBlock = 8

// tokenMemory is what earlier frames of a video leave for the next (single-image calls with
// ReuseTiles): per tile the tokens and the condition they came from, and the previous frame's
// signature. It holds for one padded frame size and one number of generated segments.
type tokenMemory struct {
	w, h, nseg int
	sig        []float32   // the previous frame's signature
	tiles      []tokenTile // per tile, in origin order (row-major)
}

// tokenTile is one tile's tokens per scale (p_k² ids each) and the condition they came from;
// no ids: nothing to reuse.
type tokenTile struct {
	cond []float32
	ids  [][]int32
}

// tokenMemoryFor is the memory that frame p (nseg segments generated) may reuse: nil when reuse
// is off; emptied on a change of size or segments and on a scene cut (counted in SceneCuts).
func (m *Model) tokenMemoryFor(p padded, nseg int) *tokenMemory {
	if !m.ReuseTiles || m.ReuseThreshold < 0 {
		m.tokens = nil
		return nil
	}
	mem := m.tokens
	n := len(TileOrigins(p.h, m.cfg.Tile)) * len(TileOrigins(p.w, m.cfg.Tile))
	if mem == nil || mem.w != p.w || mem.h != p.h || mem.nseg != nseg {
		mem = &tokenMemory{w: p.w, h: p.h, nseg: nseg, tiles: make([]tokenTile, n)}
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

// reusable reports whether tile i (cond: its condition now) keeps its tokens.
func (mem *tokenMemory) reusable(i int, cond []float32, threshold float64) bool {
	t := mem.tiles[i]
	return t.ids != nil && condChange(cond, t.cond) <= threshold
}

// condChange is the relative L1 change of a condition from ref: Σ|c−ref| / Σ|ref| (0 only when
// they are equal, +Inf when ref is all zeros and c is not).
func condChange(c, ref []float32) float64 {
	var d, s float64
	for i, r := range ref {
		d += math.Abs(float64(c[i] - r))
		s += math.Abs(float64(r))
	}
	if d == 0 {
		return 0
	}
	return d / s
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
func sigChange(a, b []float32) float64 {
	var d float64
	for i := range a {
		d += math.Abs(float64(a[i] - b[i]))
	}
	return 255 * d / float64(len(a))
}

// splitTiles divides a band's tiles (first: the global index of its first tile; conds: their
// conditions, per elements each) into those whose tokens are generated and those reused.
func (mem *tokenMemory) splitTiles(first int, conds []float32, per int, threshold float64) (fresh, reused []int) {
	for t := range len(conds) / per {
		if mem.reusable(first+t, conds[t*per:(t+1)*per], threshold) {
			reused = append(reused, t)
		} else {
			fresh = append(fresh, t)
		}
	}
	return fresh, reused
}

// keep records a tile's freshly generated tokens and the condition they came from.
func (mem *tokenMemory) keep(i int, cond []float32, ids [][]int32) {
	mem.tiles[i] = tokenTile{slices.Clone(cond), ids}
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
