package tokenizer_test

import (
	"fmt"
	"testing"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/model/golden"
	"github.com/hitsr/hitsr/tokenizer"
)

const batch = 3 // tiles per batch: every copy must match the golden tile

// TestGolden checks encoder, condition latent, HIT tokens, residuals, partial sums, decoded
// images and teacher-forcing inputs against testdata/golden on every backend.
func TestGolden(t *testing.T) { golden.Run(t, testGolden) }

func testGolden(t *testing.T, b ml.Backend, gc golden.Case) {
	w := golden.Load(t, gc.Weights, b)
	tok, err := tokenizer.New(w.Cfg.Config, w.T, b)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	cfg := w.Cfg
	c := ml.NewContext(b)
	defer c.Close()

	var segs []*ml.Tensor
	for n := range cfg.NSeg() {
		segs = append(segs, gc.Input(t, c, fmt.Sprintf("seg_img.%d", n), batch))
	}
	zs := tok.Latents(c, segs)
	lr := gc.Input(t, c, "lr", batch)
	cond := tok.CondLatent(c, lr)
	q := tok.Quantize(c, zs)
	var imgs []*ml.Tensor
	for n, f := range q.Fhat {
		imgs = append(imgs, tok.DecodeSeg(c, f, cond, n, lr))
	}
	var ids []*ml.Tensor
	for k := range cfg.K() {
		ids = append(ids, gc.Input(t, c, fmt.Sprintf("hr.tokens.%d", k), batch))
	}
	xs, _ := tok.Replay(c, ids)
	if err := c.Compute(); err != nil {
		t.Fatal(err)
	}

	for n, z := range zs {
		gc.Check(t, c, z, fmt.Sprintf("enc.latent.%d", n), golden.Rel)
	}
	gc.Check(t, c, tokenizer.Resize(c, lr, 4*cfg.Tile, ml.Bicubic), "cond.up", golden.Rel)
	gc.Check(t, c, cond, "cond.latent", golden.Rel)
	for k := range cfg.K() {
		gc.Check(t, c, q.Tokens[k], fmt.Sprintf("hr.tokens.%d", k), golden.Rel)
		gc.Check(t, c, q.Residuals[k], fmt.Sprintf("hr.residual.%d", k), golden.Rel)
	}
	for n := range cfg.NSeg() {
		gc.Check(t, c, q.Fhat[n], fmt.Sprintf("hr.fhat.%d", n), golden.Rel)
		gc.Check(t, c, imgs[n], fmt.Sprintf("hr.image.%d", n), golden.MAE)
	}
	for k, x := range xs {
		gc.Check(t, c, x, fmt.Sprintf("hr.tf_input.%d", k+1), golden.Rel)
	}
}
