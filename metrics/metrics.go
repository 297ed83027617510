// Package metrics computes PSNR-Y and SSIM-Y as train/hitsr/evaluate.py does: BT.601 Y
// (16–235) of 8-bit-rounded RGB, `border` pixels shaved, SSIM with an 11×11 Gaussian (σ 1.5)
// over the valid region.
package metrics

import (
	"math"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/resample"
)

// Y converts planar RGB (3·h·w values in [0,1]) to BT.601 Y in [16, 235] after clamping
// and rounding each channel to 8 bit (round half to even, in float32 as torch does), then
// shaves border pixels. Returns the plane and its size.
func Y(rgb []float32, h, w, border int) ([]float64, int, int) {
	n := h * w
	q := func(v float32) float64 {
		v = min(max(v, 0), 1) * 255
		return math.RoundToEven(float64(v))
	}
	oh, ow := h-2*border, w-2*border
	if oh <= 0 || ow <= 0 {
		return nil, 0, 0
	}
	y := make([]float64, oh*ow)
	for r := 0; r < oh; r++ {
		for c := 0; c < ow; c++ {
			i := (r+border)*w + c + border
			y[r*ow+c] = 16 + (65.481*q(rgb[i])+128.553*q(rgb[n+i])+24.966*q(rgb[2*n+i]))/255.0
		}
	}
	return y, oh, ow
}

// PSNRY is the PSNR (dB, peak 255) between the Y planes of two planar RGB images.
func PSNRY(a, b []float32, h, w, border int) float64 {
	ya, _, _ := Y(a, h, w, border)
	yb, _, _ := Y(b, h, w, border)
	mse := 0.0
	for i := range ya {
		d := ya[i] - yb[i]
		mse += d * d
	}
	mse /= float64(len(ya))
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

func gauss() []float64 {
	g := make([]float64, 11)
	s := 0.0
	for i := range g {
		x := float64(i - 5)
		g[i] = math.Exp(-x * x / (2 * 1.5 * 1.5))
		s += g[i]
	}
	for i := range g {
		g[i] /= s
	}
	return g
}

// filter is a valid (unpadded) separable 11×11 Gaussian filter of an h×w plane.
func filter(x []float64, h, w int, g []float64) []float64 {
	n := len(g)
	ow, oh := w-n+1, h-n+1
	tmp := make([]float64, h*ow)
	for r := 0; r < h; r++ {
		for c := 0; c < ow; c++ {
			s := 0.0
			for k, gk := range g {
				s += x[r*w+c+k] * gk
			}
			tmp[r*ow+c] = s
		}
	}
	out := make([]float64, oh*ow)
	for r := 0; r < oh; r++ {
		for c := 0; c < ow; c++ {
			s := 0.0
			for k, gk := range g {
				s += tmp[(r+k)*ow+c] * gk
			}
			out[r*ow+c] = s
		}
	}
	return out
}

// SSIMY is the mean SSIM between the Y planes of two planar RGB images.
func SSIMY(a, b []float32, h, w, border int) float64 {
	x, oh, ow := Y(a, h, w, border)
	y, _, _ := Y(b, h, w, border)
	if oh < 11 || ow < 11 {
		return math.NaN()
	}
	g := gauss()
	xx, yy, xy := make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x))
	for i := range x {
		xx[i], yy[i], xy[i] = x[i]*x[i], y[i]*y[i], x[i]*y[i]
	}
	mx, my := filter(x, oh, ow, g), filter(y, oh, ow, g)
	sxx, syy, sxy := filter(xx, oh, ow, g), filter(yy, oh, ow, g), filter(xy, oh, ow, g)
	c1, c2 := math.Pow(0.01*255, 2), math.Pow(0.03*255, 2)
	sum := 0.0
	for i := range mx {
		vx, vy, cxy := sxx[i]-mx[i]*mx[i], syy[i]-my[i]*my[i], sxy[i]-mx[i]*my[i]
		sum += ((2*mx[i]*my[i] + c1) * (2*cxy + c2)) / ((mx[i]*mx[i] + my[i]*my[i] + c1) * (vx + vy + c2))
	}
	return sum / float64(len(mx))
}

// Degrade is the SR literature's LR of an HR image whose sides are multiples of s (modcrop
// first): antialiased bicubic with the Keys a = −0.5 kernel (MATLAB imresize, PIL BICUBIC),
// each value rounded to 8 bits. hr is planar RGB h×w.
func Degrade(hr []float32, h, w, s int) []float32 {
	lr := resample.Resize(hr, 3, h, w, h/s, w/s, resample.BicubicAA)
	for i, v := range lr {
		lr[i] = float32(imageio.Quant8(v)) / 255
	}
	return lr
}

// Bicubic is the literature's bicubic baseline: the LR upscaled with imresize's a = −0.5 kernel.
func Bicubic(lr []float32, h, w, oh, ow int) []float32 {
	return resample.Resize(lr, 3, h, w, oh, ow, resample.BicubicAA)
}

// DetailY is the variance (unbiased) of the 3×3 Laplacian of the Y plane (Y as PSNRY's, border
// shaved, the Laplacian over the valid interior): high-frequency energy. An output's DetailY over
// its HR's is the detail ratio of `hitsr-video eval`: below 1 is over-smoothing, above 1 is
// ringing or invented texture. NaN when fewer than two values remain.
func DetailY(rgb []float32, h, w, border int) float64 {
	y, oh, ow := Y(rgb, h, w, border)
	if oh < 3 || ow < 3 || (oh-2)*(ow-2) < 2 {
		return math.NaN()
	}
	var sum, sq float64
	for r := 1; r < oh-1; r++ {
		for c := 1; c < ow-1; c++ {
			i := r*ow + c
			l := y[i-ow] + y[i+ow] + y[i-1] + y[i+1] - 4*y[i]
			sum, sq = sum+l, sq+l*l
		}
	}
	n := float64((oh - 2) * (ow - 2))
	return (sq - sum*sum/n) / (n - 1)
}
