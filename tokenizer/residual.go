package tokenizer

import (
	"fmt"

	"github.com/hitsr/hitsr/ml"
)

// Model v2's decoder (docs/model.md §10): per segment, a residual over the backbone's output,
// computed at LR resolution and brought to its scale by depth-to-space.

// DecoderFeatures is g = dec.feat(t): the decoder's 3×3 view (zero-padded) of backbone features
// t [N,cond_ch,H,W] → [N,dec_ch,H,W]. It runs over whole frames (or bands); tiles crop it.
func (t *Tokenizer) DecoderFeatures(c *ml.Context, feat *ml.Tensor) *ml.Tensor {
	return t.conv(c, feat, "dec.feat", 1)
}

// Residual is segment n's residual over the backbone's ×2ⁿ output for tiles g [B,dec_ch,tile,tile]
// (cropped from DecoderFeatures) and f̂_n [B,z,G_n,G_n] → [B,3,tile·2ⁿ,tile·2ⁿ]:
// depth-to-space(out(relu(mix(relu(g + tok(bicubic_up(f̂_n, tile))))))).
func (t *Tokenizer) Residual(c *ml.Context, g, fhat *ml.Tensor, n int) *ml.Tensor {
	layer := func(x *ml.Tensor, name string) *ml.Tensor { return t.conv(c, x, fmt.Sprintf("dec.%s.%d", name, n), 1) }
	h := c.ReLU(c.Add(g, layer(Resize(c, fhat, t.Cfg.Tile, ml.Bicubic), "tok")))
	r := layer(c.ReLU(layer(h, "mix")), "out")
	if n == 0 {
		return r
	}
	return c.PixelShuffle(r, 1<<n)
}
