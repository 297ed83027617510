package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"io"
	"math"

	"github.com/hitsr/hitsr/imageio"
)

// 3×5 glyphs (rows top to bottom, 3 bits each, MSB = left) for the chart's labels.
var glyphs = map[rune][5]uint8{
	'0': {7, 5, 5, 5, 7}, '1': {2, 6, 2, 2, 7}, '2': {7, 1, 7, 4, 7}, '3': {7, 1, 7, 1, 7},
	'4': {5, 5, 7, 1, 1}, '5': {7, 4, 7, 1, 7}, '6': {7, 4, 7, 5, 7}, '7': {7, 1, 1, 1, 1},
	'8': {7, 5, 7, 5, 7}, '9': {7, 5, 7, 1, 7}, '.': {0, 0, 0, 0, 2}, 'x': {0, 5, 2, 5, 0},
}

func text(img *image.RGBA, x, y, px int, s string, c color.Color) {
	for _, r := range s {
		g := glyphs[r]
		for gy := 0; gy < 5; gy++ {
			for gx := 0; gx < 3; gx++ {
				if g[gy]>>(2-gx)&1 == 1 {
					draw.Draw(img, image.Rect(x+gx*px, y+gy*px, x+(gx+1)*px, y+(gy+1)*px), image.NewUniform(c), image.Point{}, draw.Src)
				}
			}
		}
		x += 4 * px
	}
}

var methodColors = []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}}

// writeChart draws mean PSNR-Y per scale as grouped bars (blue hitsr, orange bicubic, green
// Lanczos-3), values printed above the bars, "xS" under each group, and writes it as a PNG; the
// y axis starts 1 dB below the lowest value.
func writeChart(w io.Writer, means []score) error {
	var scales []int
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, m := range means {
		if len(scales) == 0 || scales[len(scales)-1] != m.scale {
			scales = append(scales, m.scale)
		}
		lo, hi = min(lo, m.psnr), max(hi, m.psnr)
	}
	base := math.Floor(lo - 1)
	top := math.Ceil(hi + 0.5)
	const barW, gap, H, margin = 60, 40, 300, 30
	W := margin*2 + len(scales)*(len(methods)*barW+gap)
	img := image.NewRGBA(image.Rect(0, 0, W, H+2*margin))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	black := color.RGBA{0, 0, 0, 255}
	yOf := func(v float64) int { return margin + H - int(float64(H)*(v-base)/(top-base)) }
	x := margin + gap/2
	for _, s := range scales {
		for j, meth := range methods {
			for _, m := range means {
				if m.scale == s && m.method == meth {
					r := image.Rect(x+j*barW+4, yOf(m.psnr), x+(j+1)*barW-4, margin+H)
					draw.Draw(img, r, image.NewUniform(methodColors[j]), image.Point{}, draw.Src)
					text(img, x+j*barW+6, yOf(m.psnr)-14, 2, fmt.Sprintf("%.2f", m.psnr), black)
				}
			}
		}
		text(img, x+len(methods)*barW/2-8, margin+H+8, 3, fmt.Sprintf("x%d", s), black)
		x += len(methods)*barW + gap
	}
	draw.Draw(img, image.Rect(margin/2, margin+H, W-margin/2, margin+H+1), image.NewUniform(black), image.Point{}, draw.Src)
	text(img, 2, margin+H-12, 2, fmt.Sprintf("%.0f", base), black)
	return imageio.Encode(w, imageio.FromImage(img), "png")
}
