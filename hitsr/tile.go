package hitsr

import (
	"fmt"
	"slices"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/ml"
)

// Starts are the tile offsets along an axis of length L (evaluate.py _starts): stride
// tile−overlap, the last tile flush with the edge; one tile when L ≤ tile.
func Starts(L, tile, overlap int) []int {
	if L <= tile {
		return []int{0}
	}
	stride := max(tile-overlap, 1)
	var s []int
	for x := 0; x <= L-tile; x += stride {
		s = append(s, x)
	}
	if s[len(s)-1] != L-tile {
		s = append(s, L-tile)
	}
	return s
}

// Window is the 1-D blending weight of an output tile of S pixels (evaluate.py _win): a
// linear ramp over `ramp` pixels from each edge, 1 inside. Computed in float32 as torch.
func Window(S int, ramp float64) []float32 {
	w := make([]float32, S)
	r := float32(ramp)
	for i := range w {
		d := min(float32(i)+0.5, float32(S)-float32(i)-0.5)
		w[i] = min(d/r, 1)
	}
	return w
}

// padded is an image's RGB planes, edge-replicated up to at least one tile per side.
type padded struct {
	w, h int // padded size
	pix  []float32
}

func pad(img *imageio.Image, tile int) padded {
	w, h := max(img.W, tile), max(img.H, tile)
	if w == img.W && h == img.H {
		return padded{w, h, img.Pix[:3*w*h]}
	}
	p := make([]float32, 3*w*h)
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			sy := min(y, img.H-1)
			for x := 0; x < w; x++ {
				p[(c*h+y)*w+x] = img.Pix[(c*img.H+sy)*img.W+min(x, img.W-1)]
			}
		}
	}
	return padded{w, h, p}
}

type tilePos struct{ img, y, x int }

// accum holds one output scale of one image: weighted sum and weight sum.
type accum struct {
	w, h int
	sum  []float32 // 3·h·w
	wt   []float32 // h·w
}

// tileCache keeps the last single-image call's tile inputs and outputs, so a video frame's
// tiles that are bit-identical to the previous frame's (static regions) skip the model.
type tileCache struct {
	w, h int
	segs []int
	in   map[[2]int][]float32   // tile origin → input (3·T·T)
	out  map[[2]int][][]float32 // tile origin → output per seg (3·S·S)
}

// tiled runs the model over the tiles of all images in batches of m.Batch (one Generate per
// batch, stopping after the last needed segment, decoding only segs) and returns, per image,
// the RGB output of each segment in segs.
func (m *Model) tiled(imgs []*imageio.Image, segs []int) ([][]*imageio.Image, error) {
	T := m.cfg.Tile
	ov := min(max(m.Overlap, 0), T-1)
	batch := max(m.Batch, 1)
	nseg := 0
	for _, n := range segs {
		nseg = max(nseg, n+1)
	}
	pads := make([]padded, len(imgs))
	acc := make([][]accum, len(imgs))
	var pos []tilePos
	for i, img := range imgs {
		p := pad(img, T)
		pads[i] = p
		for _, n := range segs {
			s := 1 << n
			acc[i] = append(acc[i], accum{p.w * s, p.h * s, make([]float32, 3*p.w*p.h*s*s), make([]float32, p.w*p.h*s*s)})
		}
		for _, y := range Starts(p.h, T, ov) {
			for _, x := range Starts(p.w, T, ov) {
				pos = append(pos, tilePos{i, y, x})
			}
		}
	}
	// Tile inputs; with reuse on, tiles equal to the cached ones take the cached outputs.
	ins := make([][]float32, len(pos))
	outs := make([][][]float32, len(pos))
	var cache *tileCache
	if m.ReuseTiles && len(imgs) == 1 {
		cache = m.cache
		if cache == nil || cache.w != pads[0].w || cache.h != pads[0].h || !slices.Equal(cache.segs, segs) {
			cache = &tileCache{pads[0].w, pads[0].h, slices.Clone(segs), map[[2]int][]float32{}, map[[2]int][][]float32{}}
		}
		m.cache = cache
	}
	var todo []int
	for t, tp := range pos {
		p := pads[tp.img]
		in := make([]float32, 3*T*T)
		for c := 0; c < 3; c++ {
			for y := 0; y < T; y++ {
				copy(in[(c*T+y)*T:][:T], p.pix[(c*p.h+tp.y+y)*p.w+tp.x:][:T])
			}
		}
		ins[t] = in
		if cache != nil && slices.Equal(cache.in[[2]int{tp.y, tp.x}], in) {
			outs[t] = cache.out[[2]int{tp.y, tp.x}]
			m.TilesReused++
			continue
		}
		todo = append(todo, t)
	}
	for b0 := 0; b0 < len(todo); b0 += batch {
		bt := todo[b0:min(b0+batch, len(todo))]
		in := make([]float32, 0, len(bt)*3*T*T)
		for _, t := range bt {
			in = append(in, ins[t]...)
		}
		res, err := m.generate(in, len(bt), nseg, segs)
		if err != nil {
			return nil, err
		}
		for k, t := range bt {
			outs[t] = make([][]float32, len(segs))
			for j, n := range segs {
				S := T << n
				outs[t][j] = res[j][k*3*S*S : (k+1)*3*S*S]
			}
			if cache != nil {
				cache.in[[2]int{pos[t].y, pos[t].x}] = ins[t]
				cache.out[[2]int{pos[t].y, pos[t].x}] = outs[t]
			}
		}
		m.TilesRun += len(bt)
	}
	for j, n := range segs {
		s := 1 << n
		S := T * s
		w := Window(S, float64(ov*s)/2+1e-6)
		for t, tp := range pos {
			a := &acc[tp.img][j]
			o := outs[t][j]
			oy, ox := tp.y*s, tp.x*s
			for y := 0; y < S; y++ {
				wy := w[y]
				row := (oy+y)*a.w + ox
				for x := 0; x < S; x++ {
					a.wt[row+x] += wy * w[x]
				}
				for c := 0; c < 3; c++ {
					src := o[(c*S+y)*S:][:S]
					dst := a.sum[c*a.w*a.h+row:][:S]
					for x, v := range src {
						dst[x] += v * (wy * w[x])
					}
				}
			}
		}
	}
	res := make([][]*imageio.Image, len(imgs))
	for i, img := range imgs {
		for j, n := range segs {
			s := 1 << n
			a := acc[i][j]
			ow, oh := img.W*s, img.H*s
			out := imageio.New(ow, oh, 3)
			for c := 0; c < 3; c++ {
				for y := 0; y < oh; y++ {
					for x := 0; x < ow; x++ {
						k := y*a.w + x
						out.Pix[(c*oh+y)*ow+x] = a.sum[c*a.w*a.h+k] / a.wt[k]
					}
				}
			}
			res[i] = append(res[i], out)
		}
	}
	return res, nil
}

// generate runs one Generate over B tiles and reads back the images of segs.
func (m *Model) generate(in []float32, B, nseg int, segs []int) ([][]float32, error) {
	T := m.cfg.Tile
	c := ml.NewContext(m.be)
	defer c.Close()
	g := m.m.Generate(c, c.Input(ml.F32, []int{B, 3, T, T}, in), nseg, segs...)
	m.flops += c.Flops()
	var outs [][]float32
	for _, n := range segs {
		if n >= len(g.Images) || g.Images[n] == nil {
			return nil, fmt.Errorf("generate: segment %d was not decoded", n)
		}
		o, err := c.Floats(g.Images[n])
		if err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		outs = append(outs, o)
	}
	return outs, nil
}
