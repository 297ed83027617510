package hitsr

import (
	"math"
	"testing"

	"github.com/hitsr/hitsr/imageio"
)

// seamScore compares the jumps between adjacent columns (and rows) at tile boundaries with
// those elsewhere: max |Δ| over boundary positions / max |Δ| over the other positions, where
// Δ is the second difference of neighbouring output pixels (a seam is a kink or step that a
// smooth image does not have).
func seamScore(o *imageio.Image, starts []int, T, s int) float64 {
	bound := map[int]bool{}
	for _, st := range starts {
		for _, e := range []int{st * s, (st + T) * s} {
			bound[e-1], bound[e] = true, true
		}
	}
	var atB, off float64
	n := o.W * o.H
	for c := 0; c < 3; c++ {
		p := o.Pix[c*n : (c+1)*n]
		for y := 0; y < o.H; y++ {
			for x := 1; x+1 < o.W; x++ {
				d := math.Abs(float64(p[y*o.W+x+1] - 2*p[y*o.W+x] + p[y*o.W+x-1]))
				if bound[x] {
					atB = max(atB, d)
				} else {
					off = max(off, d)
				}
			}
		}
	}
	return atB / off
}

// The shipped model's full mode (model v2: token tiles of 32 LR px over the whole-frame backbone)
// leaves no seam at tile boundaries on a smooth image; the control, each tile upscaled as an image
// of its own (the backbone then sees a frame edge at every boundary), shows the metric sees seams.
func TestNoSeams(t *testing.T) {
	m := loadCPU(t, shippedModel)
	m.Mode = Full
	img := smooth(80, 40) // tiles at LR columns 0, 32, 48 and rows 0, 8
	T := m.Config().Tile
	xs, ys := TileOrigins(img.W, T), TileOrigins(img.H, T)
	out, err := m.Upscale(img, 4)
	if err != nil {
		t.Fatal(err)
	}
	score := seamScore(out[0], xs, T, 4)
	control := imageio.New(img.W*4, img.H*4, 3)
	for _, y0 := range ys {
		for _, x0 := range xs {
			tile := imageio.New(T, T, 3)
			for c := 0; c < 3; c++ {
				for y := 0; y < T; y++ {
					copy(tile.Plane(c)[y*T:(y+1)*T], img.Plane(c)[(y0+y)*img.W+x0:])
				}
			}
			o, err := m.Upscale(tile, 4)
			if err != nil {
				t.Fatal(err)
			}
			for c := 0; c < 3; c++ {
				for y := 0; y < 4*T; y++ {
					copy(control.Plane(c)[(4*y0+y)*control.W+4*x0:][:4*T], o[0].Plane(c)[y*4*T:])
				}
			}
		}
	}
	controlScore := seamScore(control, xs, T, 4)
	t.Logf("seam score %.3f, tiles as separate images %.3f", score, controlScore)
	if controlScore < 1.2 || controlScore < 2*score {
		t.Fatalf("seam metric does not see the seams of separate tiles (%.2f vs %.2f)", controlScore, score)
	}
	if score > 1.5 {
		t.Fatalf("seam at tile boundaries: second differences %.2f× larger than elsewhere", score)
	}
}
