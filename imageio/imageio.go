// Package imageio reads and writes PNG/JPEG files as planar float images and converts
// between image.Image and the planar layout the engine works in.
package imageio

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Limits on image sizes (checked before pixels are allocated).
const (
	MaxSide   = 16384    // pixels per side
	MaxPixels = 64 << 20 // pixels per image (64 Mpx)
)

// Image is a planar float image: C channels (3 = RGB, 4 = RGBA with straight alpha) of H×W
// values in [0, 1], channel-major (Pix[(c·H + y)·W + x]).
type Image struct {
	W, H, C int
	Pix     []float32
}

// New allocates a zero image.
func New(w, h, c int) *Image { return &Image{W: w, H: h, C: c, Pix: make([]float32, w*h*c)} }

// Plane returns channel c's H·W values.
func (m *Image) Plane(c int) []float32 { return m.Pix[c*m.W*m.H : (c+1)*m.W*m.H] }

// RGB returns the first three channels (shared storage).
func (m *Image) RGB() *Image { return &Image{W: m.W, H: m.H, C: 3, Pix: m.Pix[:3*m.W*m.H]} }

// CheckSize returns an error when w×h is empty or over the limits.
func CheckSize(w, h int) error {
	switch {
	case w <= 0 || h <= 0:
		return fmt.Errorf("empty image (%d×%d)", w, h)
	case w > MaxSide || h > MaxSide:
		return fmt.Errorf("image %d×%d exceeds the limit of %d px per side", w, h, MaxSide)
	case int64(w)*int64(h) > MaxPixels:
		return fmt.Errorf("image %d×%d exceeds the limit of %d Mpx", w, h, MaxPixels>>20)
	}
	return nil
}

// Format is the file format implied by a path's extension: "png", "jpeg" or "".
func Format(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		return "png"
	case ".jpg", ".jpeg":
		return "jpeg"
	}
	return ""
}

// ErrFormat is wrapped by Read for files that are not PNG/JPEG or are corrupt.
var ErrFormat = errors.New("unsupported or corrupt image")

// Read decodes a PNG or JPEG file (detected from its content), checking its size first.
func Read(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Decode(f)
}

// Decode decodes a PNG or JPEG stream, checking the size before decoding the pixels.
func Decode(r io.ReadSeeker) (*Image, error) {
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if err := CheckSize(cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	im, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return FromImage(im), nil
}

// FromImage converts to planar RGB, or RGBA when the image has a non-opaque pixel.
func FromImage(im image.Image) *Image {
	b := im.Bounds()
	w, h := b.Dx(), b.Dy()
	out := New(w, h, 4)
	r, g, bl, a := out.Plane(0), out.Plane(1), out.Plane(2), out.Plane(3)
	opaque := true
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			c := color.NRGBA64Model.Convert(im.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
			r[i], g[i], bl[i], a[i] = float32(c.R)/65535, float32(c.G)/65535, float32(c.B)/65535, float32(c.A)/65535
			if c.A != 0xffff {
				opaque = false
			}
		}
	}
	if opaque {
		out.C, out.Pix = 3, out.Pix[:3*w*h]
	}
	return out
}

// Quant8 is the 8-bit value of v: clamp to [0, 1], ×255, round half to even (torch.round).
func Quant8(v float32) uint8 {
	if !(v > 0) { // also NaN
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(math.RoundToEven(float64(v * 255)))
}

// ToImage converts to *image.NRGBA (8 bit, clamped and rounded).
func ToImage(m *Image) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, m.W, m.H))
	n := m.W * m.H
	for i := 0; i < n; i++ {
		o := out.Pix[4*i : 4*i+4]
		o[0], o[1], o[2], o[3] = Quant8(m.Pix[i]), Quant8(m.Pix[n+i]), Quant8(m.Pix[2*n+i]), 255
		if m.C > 3 {
			o[3] = Quant8(m.Pix[3*n+i])
		}
	}
	return out
}

// Encode writes m in format "png" or "jpeg" (quality 95; alpha is dropped).
func Encode(w io.Writer, m *Image, format string) error {
	im := ToImage(m)
	switch format {
	case "png":
		return png.Encode(w, im)
	case "jpeg":
		rgb := image.NewRGBA(im.Rect)
		for i := 0; i < len(im.Pix); i += 4 {
			copy(rgb.Pix[i:i+3], im.Pix[i:i+3])
			rgb.Pix[i+3] = 255
		}
		return jpeg.Encode(w, rgb, &jpeg.Options{Quality: 95})
	}
	return fmt.Errorf("unknown image format %q (use .png, .jpg or .jpeg)", format)
}

// WriteAtomic encodes m into a temporary file next to path (format from the extension) and
// renames it to path when complete; on failure nothing is left under path. Unless overwrite,
// an existing path is an error.
func WriteAtomic(path string, m *Image, overwrite bool) error {
	format := Format(path)
	if format == "" {
		return fmt.Errorf("%s: unknown output format (use .png, .jpg or .jpeg)", path)
	}
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s exists (use -y to overwrite)", path)
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(0o644) // CreateTemp makes 0600; outputs are ordinary files
	if err == nil {
		err = Encode(f, m, format)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
