// Package resample resizes planar float images on the host: PyTorch-compatible bicubic
// (F.interpolate mode="bicubic", align_corners=False, with and without antialias) and
// Lanczos-3 (antialiased when downscaling).
package resample

import "math"

// Kernel selects a filter.
type Kernel int

const (
	// Bicubic is torch's plain bicubic (a = −0.75, border clamp, no antialias).
	Bicubic Kernel = iota
	// BicubicAA is torch's antialias=True bicubic (a = −0.5, PIL-style support scaled when
	// downscaling, weights renormalised at the borders).
	BicubicAA
	// Lanczos3 is Lanczos with 3 lobes, PIL-style (antialiased when downscaling).
	Lanczos3
)

func (k Kernel) String() string {
	return [...]string{"bicubic", "bicubic-aa", "lanczos3"}[k]
}

// Axis is a filter along one axis: output i is Σ_j in[Idx[i][j]]·W[i][j] (indices clamped to
// the input).
type Axis struct {
	Idx [][]int
	W   [][]float32
}

func cubic(x, a float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

func lanczos(x float64) float64 {
	if x > -3 && x < 3 {
		return sinc(x) * sinc(x/3)
	}
	return 0
}

// plainAxis is torch's upsample_bicubic2d (align_corners=False) along one axis.
func plainAxis(in, out int) Axis {
	var ax Axis
	scale := float64(in) / float64(out)
	for i := 0; i < out; i++ {
		src := scale*(float64(i)+0.5) - 0.5
		x0 := math.Floor(src)
		t := src - x0
		w := []float64{cubic(t+1, -0.75), cubic(t, -0.75), cubic(1-t, -0.75), cubic(2-t, -0.75)}
		idx := make([]int, 4)
		wf := make([]float32, 4)
		for j := 0; j < 4; j++ {
			idx[j] = min(max(int(x0)-1+j, 0), in-1)
			wf[j] = float32(w[j])
		}
		ax.Idx, ax.W = append(ax.Idx, idx), append(ax.W, wf)
	}
	return ax
}

// aaAxis is torch's _upsample_bicubic2d_aa / PIL's resampling weights along one axis for a
// filter of the given support (2 for cubic, 3 for Lanczos-3).
func aaAxis(in, out int, filter func(float64) float64, support float64) Axis {
	var ax Axis
	scale := float64(in) / float64(out)
	sup, inv := support, 1.0
	if scale >= 1 {
		sup, inv = support*scale, 1/scale
	}
	for i := 0; i < out; i++ {
		center := scale * (float64(i) + 0.5)
		xmin := max(int(center-sup+0.5), 0) // truncation toward zero, as static_cast
		xmax := min(int(center+sup+0.5), in)
		var ws []float64
		total := 0.0
		for j := xmin; j < xmax; j++ {
			w := filter((float64(j) - center + 0.5) * inv)
			ws = append(ws, w)
			total += w
		}
		idx := make([]int, len(ws))
		wf := make([]float32, len(ws))
		for j := range ws {
			idx[j] = xmin + j
			if total != 0 {
				wf[j] = float32(ws[j] / total)
			}
		}
		ax.Idx, ax.W = append(ax.Idx, idx), append(ax.W, wf)
	}
	return ax
}

// NewAxis is kernel k's filter from in to out samples, as Resize applies it.
func NewAxis(k Kernel, in, out int) Axis {
	switch k {
	case BicubicAA:
		return aaAxis(in, out, func(x float64) float64 { return cubic(x, -0.5) }, 2)
	case Lanczos3:
		return aaAxis(in, out, lanczos, 3)
	}
	return plainAxis(in, out)
}

// Resize resizes c planes of h×w (channel-major) to oh×ow: rows (width) first, then columns.
func Resize(src []float32, c, h, w, oh, ow int, k Kernel) []float32 {
	if oh == h && ow == w {
		return append([]float32(nil), src[:c*h*w]...)
	}
	ax, ay := NewAxis(k, w, ow), NewAxis(k, h, oh)
	tmp := make([]float32, c*h*ow)
	for p := 0; p < c*h; p++ {
		row, o := src[p*w:(p+1)*w], tmp[p*ow:(p+1)*ow]
		for x := 0; x < ow; x++ {
			var s float32
			for j, i := range ax.Idx[x] {
				s += row[i] * ax.W[x][j]
			}
			o[x] = s
		}
	}
	out := make([]float32, c*oh*ow)
	acc := make([]float32, ow)
	for ch := 0; ch < c; ch++ {
		plane := tmp[ch*h*ow : (ch+1)*h*ow]
		for y := 0; y < oh; y++ {
			clear(acc)
			for j, i := range ay.Idx[y] {
				wt := ay.W[y][j]
				row := plane[i*ow : (i+1)*ow]
				for x, v := range row {
					acc[x] += v * wt
				}
			}
			copy(out[(ch*oh+y)*ow:], acc)
		}
	}
	return out
}
