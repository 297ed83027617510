package hitsr

import (
	"fmt"

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
	wins := make([][]float32, len(segs))
	for j, n := range segs {
		s := 1 << n
		wins[j] = Window(T*s, float64(ov*s)/2+1e-6)
	}
	in := make([]float32, batch*3*T*T)
	for b0 := 0; b0 < len(pos); b0 += batch {
		pp := pos[b0:min(b0+batch, len(pos))]
		B := len(pp)
		for j, tp := range pp {
			p := pads[tp.img]
			for c := 0; c < 3; c++ {
				for y := 0; y < T; y++ {
					src := p.pix[(c*p.h+tp.y+y)*p.w+tp.x:]
					copy(in[((j*3+c)*T+y)*T:][:T], src[:T])
				}
			}
		}
		outs, err := m.generate(in[:B*3*T*T], B, nseg, segs)
		if err != nil {
			return nil, err
		}
		for j, n := range segs {
			s := 1 << n
			S := T * s
			o, w := outs[j], wins[j]
			for t, tp := range pp {
				a := &acc[tp.img][j]
				oy, ox := tp.y*s, tp.x*s
				for y := 0; y < S; y++ {
					wy := w[y]
					row := (oy+y)*a.w + ox
					for x := 0; x < S; x++ {
						wt := wy * w[x]
						a.wt[row+x] += wt
					}
					for c := 0; c < 3; c++ {
						src := o[((t*3+c)*S+y)*S:][:S]
						dst := a.sum[c*a.w*a.h+row:][:S]
						for x, v := range src {
							dst[x] += v * (wy * w[x])
						}
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
