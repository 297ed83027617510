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
	} {
		if math.Abs(c.got-c.want) > 1e-6 {
			t.Errorf("%s = %.9f, evaluate.py %.9f", c.name, c.got, c.want)
		}
	}
	if !math.IsInf(PSNRY(a, a, H, W, 2), 1) || math.Abs(SSIMY(a, a, H, W, 2)-1) > 1e-12 {
		t.Error("identical images")
	}
}
