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
		{2, 64, 80, 80, 8, 3, 2, 1},  // im2col: 4 bands per image
		{3, 8, 5, 6, 4, 1, 1, 0},     // 1×1
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
