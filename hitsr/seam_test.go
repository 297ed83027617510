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

func TestNoSeams(t *testing.T) {
	m := loadCPU(t, shippedModel)
	m.Mode = Full // the tiled token path
	img := smooth(40, 16) // 3 tiles across: boundaries at LR columns 12, 16, 24, 28
	T := m.Config().Tile
	starts := Starts(img.W, T, 4)
	out, err := m.Upscale(img, 4)
	if err != nil {
		t.Fatal(err)
	}
	blended := seamScore(out[0], starts, T, 4)
	m.Overlap = 0
	hard, err := m.Upscale(img, 4)
	if err != nil {
		t.Fatal(err)
	}
	hardScore := seamScore(hard[0], Starts(img.W, T, 0), T, 4)
	t.Logf("seam score blended %.3f, no overlap %.3f", blended, hardScore)
	if hardScore < 1.2 || hardScore < 2*blended {
		t.Fatalf("seam metric does not see the hard seams of overlap 0 (%.2f vs blended %.2f)", hardScore, blended)
	}
	if blended > 1.5 {
		t.Fatalf("seam at tile boundaries: second differences %.2f× larger than elsewhere", blended)
	}
}
