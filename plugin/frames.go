package plugin

import (
	"fmt"

	"github.com/hitsr/hitsr/imageio"
)

// PixFormat is a host's 8-bit frame layout.
type PixFormat int

// The layouts a host may push and pull (the values are the C ABI's HITSR_FORMAT_*).
const (
	RGB  PixFormat = iota // packed R, G, B
	RGBA                  // packed R, G, B, A (straight alpha)
	I420                  // planar Y, U, V; chroma halved both ways (rounded up); BT.601, limited range
)

var pixFormatNames = [...]string{"RGB", "RGBA", "I420"}

func (f PixFormat) String() string {
	if f < 0 || int(f) >= len(pixFormatNames) {
		return fmt.Sprintf("PixFormat(%d)", int(f))
	}
	return pixFormatNames[f]
}

// Planes is a host frame: up to three planes and their strides (bytes per row).
type Planes struct {
	Format PixFormat
	W, H   int
	Data   [3][]byte
	Stride [3]int
}

// planeSizes are the width (in bytes) and height of each plane of the layout.
func (p *Planes) planeSizes() (n int, w, h [3]int) {
	switch p.Format {
	case RGB:
		return 1, [3]int{3 * p.W}, [3]int{p.H}
	case RGBA:
		return 1, [3]int{4 * p.W}, [3]int{p.H}
	case I420:
		cw, ch := (p.W+1)/2, (p.H+1)/2
		return 3, [3]int{p.W, cw, cw}, [3]int{p.H, ch, ch}
	}
	return 0, w, h
}

// CheckLayout reports an unknown format, a size out of limits or a stride shorter than a row.
func (p *Planes) CheckLayout() error {
	n, pw, _ := p.planeSizes()
	if n == 0 {
		return fmt.Errorf("unknown pixel format %d (want RGB, RGBA or I420)", int(p.Format))
	}
	if err := imageio.CheckSize(p.W, p.H); err != nil {
		return err
	}
	for i := range n {
		if p.Stride[i] < pw[i] {
			return fmt.Errorf("%s plane %d: stride %d < %d bytes per row", p.Format, i, p.Stride[i], pw[i])
		}
	}
	return nil
}

// PlaneBytes is the bytes plane i spans (0: the layout has no such plane), once CheckLayout
// passes.
func (p *Planes) PlaneBytes(i int) int {
	n, pw, ph := p.planeSizes()
	if i >= n {
		return 0
	}
	return p.Stride[i]*(ph[i]-1) + pw[i]
}

// Check is CheckLayout, then a plane too short for the frame.
func (p *Planes) Check() error {
	if err := p.CheckLayout(); err != nil {
		return err
	}
	for i := range p.Data {
		if need := p.PlaneBytes(i); len(p.Data[i]) < need {
			return fmt.Errorf("%s plane %d: %d bytes, want at least %d", p.Format, i, len(p.Data[i]), need)
		}
	}
	return nil
}

// BT.601 limited range, as GStreamer and FFmpeg assume for SD YUV.
const (
	kr, kb = 0.299, 0.114
	kg     = 1 - kr - kb
)

// Import converts a host frame to a planar float image (RGBA stays four channels).
func Import(p *Planes) (*imageio.Image, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	w, h := p.W, p.H
	c := 3
	if p.Format == RGBA {
		c = 4
	}
	img := imageio.New(w, h, c)
	n := w * h
	switch p.Format {
	case RGB, RGBA:
		for y := range h {
			row := p.Data[0][y*p.Stride[0]:]
			for x := range w {
				for k := range c {
					img.Pix[k*n+y*w+x] = float32(row[x*c+k]) / 255
				}
			}
		}
	case I420:
		for y := range h {
			yr, ur, vr := p.Data[0][y*p.Stride[0]:], p.Data[1][y/2*p.Stride[1]:], p.Data[2][y/2*p.Stride[2]:]
			for x := range w {
				l := (float32(yr[x]) - 16) / 219
				cb, cr := (float32(ur[x/2])-128)/224, (float32(vr[x/2])-128)/224
				r := l + 2*(1-kr)*cr
				b := l + 2*(1-kb)*cb
				g := (l - kr*r - kb*b) / kg
				i := y*w + x
				img.Pix[i], img.Pix[n+i], img.Pix[2*n+i] = clamp01(r), clamp01(g), clamp01(b)
			}
		}
	}
	return img, nil
}

// Export writes img into a host frame of its size.
func Export(img *imageio.Image, p *Planes) error {
	if err := p.Check(); err != nil {
		return err
	}
	if p.W != img.W || p.H != img.H {
		return fmt.Errorf("output frame is %dx%d, the result %dx%d", p.W, p.H, img.W, img.H)
	}
	w, h, n := img.W, img.H, img.W*img.H
	at := func(k, i int) float32 { // channel k of pixel i; alpha is opaque for an RGB result
		if k == 3 && img.C < 4 {
			return 1
		}
		return img.Pix[k*n+i]
	}
	switch p.Format {
	case RGB, RGBA:
		c := 3 + int(p.Format)
		for y := range h {
			row := p.Data[0][y*p.Stride[0]:]
			for x := range w {
				for k := range c {
					row[x*c+k] = imageio.Quant8(at(k, y*w+x))
				}
			}
		}
	case I420:
		for y := range h {
			row := p.Data[0][y*p.Stride[0]:]
			for x := range w {
				i := y*w + x
				row[x] = q8(16 + 219*(kr*at(0, i)+kg*at(1, i)+kb*at(2, i)))
			}
		}
		for cy := range (h + 1) / 2 {
			ur, vr := p.Data[1][cy*p.Stride[1]:], p.Data[2][cy*p.Stride[2]:]
			for cx := range (w + 1) / 2 {
				var r, g, b, m float32 // the mean of the 2×2 block (fewer at an odd edge)
				for dy := range 2 {
					for dx := range 2 {
						if x, y := 2*cx+dx, 2*cy+dy; x < w && y < h {
							i := y*w + x
							r, g, b, m = r+at(0, i), g+at(1, i), b+at(2, i), m+1
						}
					}
				}
				r, g, b = r/m, g/m, b/m
				l := kr*r + kg*g + kb*b
				ur[cx] = q8(128 + 224*(b-l)/(2*(1-kb)))
				vr[cx] = q8(128 + 224*(r-l)/(2*(1-kr)))
			}
		}
	}
	return nil
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

// q8 rounds an 8-bit code value and clamps it to 0..255.
func q8(v float32) byte { return byte(min(max(v+0.5, 0), 255)) }
