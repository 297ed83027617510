package cpu

import "github.com/hitsr/hitsr/ml"

// yuvScale returns the luma offset and range and the chroma range of a colour spec.
func yuvScale(cs ml.ColorSpec) (yOff, yRange, cRange float32) {
	if cs.FullRange {
		return 0, 255, 255
	}
	return 16, 219, 224
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

func yuvToRGB(n *ml.Node) {
	src, out := bytesOf(n.In[0]), f(n.Out)
	w, h := n.P.W, n.P.H
	cw, ch := (w+1)/2, (h+1)/2
	kr64, kb64 := ml.ColorCoefficients(n.P.Color.Matrix)
	kr, kb := float32(kr64), float32(kb64)
	kg := 1 - kr - kb
	yOff, yRange, cRange := yuvScale(n.P.Color)
	u, v := src[w*h:], src[w*h+cw*ch:]
	parallel(h, 8, func(lo, hi int) {
		for y := lo; y < hi; y++ {
			for x := 0; x < w; x++ {
				c := y/2*cw + x/2
				l := (float32(src[y*w+x]) - yOff) / yRange
				pb := (float32(u[c]) - 128) / cRange
				pr := (float32(v[c]) - 128) / cRange
				r := l + 2*(1-kr)*pr
				b := l + 2*(1-kb)*pb
				g := (l - kr*r - kb*b) / kg
				i := y*w + x
				out[i], out[w*h+i], out[2*w*h+i] = clamp01(r), clamp01(g), clamp01(b)
			}
		}
	})
}

func toByte(v float32) uint8 { return uint8(min(max(v+0.5, 0), 255)) }

func rgbToYUV(n *ml.Node) {
	in, out := f(n.In[0]), bytesOf(n.Out)
	h, w := n.In[0].Dim(2), n.In[0].Dim(3)
	cw, ch := (w+1)/2, (h+1)/2
	kr64, kb64 := ml.ColorCoefficients(n.P.Color.Matrix)
	kr, kb := float32(kr64), float32(kb64)
	kg := 1 - kr - kb
	yOff, yRange, cRange := yuvScale(n.P.Color)
	pixel := func(i int) (l, pb, pr float32) {
		r, g, b := clamp01(in[i]), clamp01(in[w*h+i]), clamp01(in[2*w*h+i])
		l = kr*r + kg*g + kb*b
		return l, (b - l) / (2 * (1 - kb)), (r - l) / (2 * (1 - kr))
	}
	parallel(ch, 4, func(lo, hi int) {
		for cy := lo; cy < hi; cy++ {
			for cx := 0; cx < cw; cx++ {
				var sb, sr float32
				cnt := 0
				for y := 2 * cy; y < min(2*cy+2, h); y++ {
					for x := 2 * cx; x < min(2*cx+2, w); x++ {
						l, pb, pr := pixel(y*w + x)
						out[y*w+x] = toByte(yOff + yRange*l)
						sb, sr, cnt = sb+pb, sr+pr, cnt+1
					}
				}
				out[w*h+cy*cw+cx] = toByte(128 + cRange*sb/float32(cnt))
				out[w*h+cw*ch+cy*cw+cx] = toByte(128 + cRange*sr/float32(cnt))
			}
		}
	})
}
