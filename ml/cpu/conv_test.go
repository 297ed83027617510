package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hitsr/hitsr/ml"
)

// TestConvBands checks conv2d where opstest's shapes don't reach: several images and
// several row bands per image (im2col and shifted taps).
func TestConvBands(t *testing.T) {
	be := New()
	for _, s := range []struct{ n, cin, h, w, cout, k, stride, pad int }{
		{3, 16, 40, 37, 64, 3, 1, 1}, // shifted: 2 bands per image
		{2, 8, 41, 67, 48, 3, 1, 1},  // shifted, rows of ≥ directCols written in place: 3 bands per image
		{2, 5, 9, 70, 7, 5, 1, 2},
		{1, 4, 6, 63, 5, 3, 1, 1},   // one column short of in place
		{2, 64, 80, 80, 8, 3, 2, 1}, // im2col: 4 bands per image
		{3, 8, 5, 6, 4, 1, 1, 0},    // 1×1
	} {
		for _, withBias := range []bool{false, true} {
			rnd := func(n int) []float32 {
				v := make([]float32, n)
				for i := range v {
					v[i] = rand.Float32()*2 - 1
				}
				return v
			}
			xs, ws := rnd(s.n*s.cin*s.h*s.w), rnd(s.cout*s.cin*s.k*s.k)
			var bs []float32
			c := ml.NewContext(be)
			x := c.Input(ml.F32, []int{s.n, s.cin, s.h, s.w}, xs)
			w := c.Input(ml.F32, []int{s.cout, s.cin, s.k, s.k}, ws)
			var b *ml.Tensor
			if withBias {
				bs = rnd(s.cout)
				b = c.Input(ml.F32, []int{s.cout}, bs)
			}
			y := c.Conv2D(x, w, b, s.stride, s.pad)
			got, err := c.Floats(y)
			if err != nil {
				t.Fatal(err)
			}
			oh, ow := y.Dim(2), y.Dim(3)
			for i, g := range got {
				img, o, oy, ox := i/(s.cout*oh*ow), i/(oh*ow)%s.cout, i/ow%oh, i%ow
				want := 0.0
				if bs != nil {
					want = float64(bs[o])
				}
				for ci := 0; ci < s.cin; ci++ {
					for ki := 0; ki < s.k; ki++ {
						for kj := 0; kj < s.k; kj++ {
							iy, ix := oy*s.stride+ki-s.pad, ox*s.stride+kj-s.pad
							if iy >= 0 && iy < s.h && ix >= 0 && ix < s.w {
								want += float64(xs[((img*s.cin+ci)*s.h+iy)*s.w+ix]) * float64(ws[((o*s.cin+ci)*s.k+ki)*s.k+kj])
							}
						}
					}
				}
				if math.Abs(float64(g)-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("%+v bias=%v: y[%d,%d,%d,%d] = %v, want %v", s, withBias, img, o, oy, ox, g, want)
				}
			}
			c.Close()
		}
	}
}

// The in-place rows (≥ directCols outputs) and the banded ones give the same bits: an image
// directCols+9 wide against its left 40 columns, away from the cut.
func TestConvShiftedPaths(t *testing.T) {
	const cin, h, cout, wide, narrow = 6, 11, 9, directCols + 9, 40
	c := ml.NewContext(New())
	defer c.Close()
	xs, ws, bs := make([]float32, cin*h*wide), make([]float32, cout*cin*9), make([]float32, cout)
	for _, v := range [][]float32{xs, ws, bs} {
		for i := range v {
			v[i] = rand.Float32()*2 - 1
		}
	}
	xn := make([]float32, cin*h*narrow)
	for r := range cin * h {
		copy(xn[r*narrow:(r+1)*narrow], xs[r*wide:])
	}
	w, b := c.Input(ml.F32, []int{cout, cin, 3, 3}, ws), c.Input(ml.F32, []int{cout}, bs)
	yw, err := c.Floats(c.Conv2D(c.Input(ml.F32, []int{1, cin, h, wide}, xs), w, b, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	yn, err := c.Floats(c.Conv2D(c.Input(ml.F32, []int{1, cin, h, narrow}, xn), w, b, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	for r := range cout * h {
		for x := range narrow - 1 {
			if g, want := yw[r*wide+x], yn[r*narrow+x]; g != want {
				t.Fatalf("channel %d row %d col %d: %v in place, %v banded", r/h, r%h, x, g, want)
			}
		}
	}
}
