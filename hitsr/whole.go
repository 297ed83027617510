package hitsr

import (
	"fmt"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/ml"
)

// whole runs the backbone over each whole image and returns, per image, the RGB output at
// Scales()[n] for each n in idx. Images taller than BandPixels/W rows run in row bands, each
// with a halo of the trunk's receptive radius, so a band's kept rows see exactly the context
// they see in the whole frame.
func (m *Model) whole(imgs []*imageio.Image, idx []int) ([][]*imageio.Image, error) {
	sc := m.Scales()
	scales := make([]int, len(idx))
	for j, n := range idx {
		scales[j] = sc[n]
	}
	R := m.bb.Cfg.Radius()
	res := make([][]*imageio.Image, len(imgs))
	for i, img := range imgs {
		W, H := img.W, img.H
		outs := make([]*imageio.Image, len(scales))
		for j, s := range scales {
			outs[j] = imageio.New(W*s, H*s, 3)
		}
		rows := max(1, m.BandPixels/W)
		for y0 := 0; y0 < H; y0 += rows {
			y1 := min(y0+rows, H)
			a, b := max(y0-R, 0), min(y1+R, H)
			h := b - a
			band := img.Pix[:3*H*W] // one band: the frame itself
			if h < H {
				band = make([]float32, 3*h*W)
				for c := 0; c < 3; c++ {
					copy(band[c*h*W:(c+1)*h*W], img.Pix[(c*H+a)*W:(c*H+b)*W])
				}
			}
			got, err := m.backbone(band, W, h, scales)
			if err != nil {
				return nil, err
			}
			for j, s := range scales {
				ow, oh, o := W*s, H*s, outs[j].Pix
				for c := 0; c < 3; c++ {
					src := got[j][(c*h*s+(y0-a)*s)*ow:][:(y1-y0)*s*ow]
					copy(o[(c*oh+y0*s)*ow:], src)
				}
			}
		}
		res[i] = outs
	}
	return res, nil
}

// backbone runs one trunk pass over a w×h RGB plane set and reads back each scale's output.
func (m *Model) backbone(in []float32, w, h int, scales []int) ([][]float32, error) {
	c := ml.NewContext(m.be)
	defer c.Close()
	ys := m.bb.Forward(c, c.Input(ml.F32, []int{1, 3, h, w}, in), scales...)
	var outs [][]float32
	for _, y := range ys {
		o, err := c.Floats(y)
		if err != nil {
			return nil, fmt.Errorf("backbone: %w", err)
		}
		outs = append(outs, o)
	}
	m.flops += c.Flops()
	return outs, nil
}
