package metrics

import (
	"math"
	"testing"
)

// Reference values from train/hitsr/evaluate.py (torch 1.13) on the same images.
func TestMatchesEvaluatePy(t *testing.T) {
	const H, W = 20, 24
	a, b := make([]float32, 3*H*W), make([]float32, 3*H*W)
	for c := 0; c < 3; c++ {
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				i := (c*H+y)*W + x
				a[i] = float32((x*7+y*3+c*11)%256) / 255
				b[i] = a[i] + float32(0.05*math.Sin(float64(x)*0.9+float64(y)*0.4+float64(c)))
			}
		}
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"psnr border 2", PSNRY(b, a, H, W, 2), 31.994862071982734},
		{"ssim border 2", SSIMY(b, a, H, W, 2), 0.8716423362486476},
		{"psnr border 0", PSNRY(b, a, H, W, 0), 31.989047423143177},
		// train/eval_v2.py's detail()
		{"detail border 2", DetailY(b, H, W, 2), 35.275093032120125},
		{"detail border 0", DetailY(b, H, W, 0), 35.148151383887544},
	} {
		if math.Abs(c.got-c.want) > 1e-6 {
			t.Errorf("%s = %.9f, evaluate.py %.9f", c.name, c.got, c.want)
		}
	}
	if d := DetailY(a, H, W, 2); math.Abs(d) > 1e-9 { // a is linear in x and y: no curvature
		t.Errorf("detail of a plane = %g", d)
	}
	if !math.IsNaN(DetailY(a, 5, 5, 2)) {
		t.Error("detail of a 1×1 plane is not NaN")
	}
	if !math.IsInf(PSNRY(a, a, H, W, 2), 1) || math.Abs(SSIMY(a, a, H, W, 2)-1) > 1e-12 {
		t.Error("identical images")
	}
}
