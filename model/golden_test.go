package model_test

import (
	"fmt"
	"testing"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/model"
	"github.com/hitsr/hitsr/model/golden"
)

const batch = 3 // tiles per batch: every copy must match the golden tile

// open loads the weights at path onto b as a model; all is freed when the test ends.
func open(t testing.TB, path string, b ml.Backend) *model.Model {
	t.Helper()
	m, err := model.New(golden.Load(t, path, b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// TestGolden checks teacher forcing (embeddings, logits) and the greedy KV-cache pass (tokens,
// logits, ×1/×2/×4 images) against testdata/golden on every backend.
func TestGolden(t *testing.T) { golden.Run(t, testGolden) }

func testGolden(t *testing.T, b ml.Backend, gc golden.Case) {
	m := open(t, gc.Weights, b)
	cfg := m.Cfg
	c := ml.NewContext(b)
	defer c.Close()

	lr := gc.Input(t, c, "lr", batch)
	var ids []*ml.Tensor
	for k := range cfg.K() {
		ids = append(ids, gc.Input(t, c, fmt.Sprintf("hr.tokens.%d", k), batch))
	}
	xs, _ := m.Tok.Replay(c, ids)
	embed, logits := m.Forward(c, m.Tok.CondLatent(c, lr), xs)
	g := m.Generate(c, lr, 0)
	if err := c.Compute(); err != nil {
		t.Fatal(err)
	}

	gc.Check(t, c, embed, "tf.embed", golden.Rel)
	gc.Check(t, c, logits, "tf.logits", golden.Rel)
	for k := range cfg.K() {
		gc.Check(t, c, g.Tokens[k], fmt.Sprintf("gen.tokens.%d", k), golden.Rel)
		gc.Check(t, c, g.Logits[k], fmt.Sprintf("gen.logits.%d", k), golden.Rel)
	}
	for n := range cfg.NSeg() {
		gc.Check(t, c, g.Images[n], fmt.Sprintf("gen.image.%d", n), golden.MAE)
	}
}

// TestGenerateSubset checks that nseg / decode skip work without changing the results.
func TestGenerateSubset(t *testing.T) {
	for _, b := range golden.Backends(t) {
		gc := golden.Cases(t)[0]
		m := open(t, gc.Weights, b)
		c := ml.NewContext(b)
		defer c.Close()
		g := m.Generate(c, gc.Input(t, c, "lr", 2), 2, 1)
		if len(g.Images) != 2 || g.Images[0] != nil || g.Images[1] == nil || len(g.Tokens) != len(m.Cfg.Segments[0])+len(m.Cfg.Segments[1]) {
			t.Fatalf("%s: got %d images (%v), %d token scales", b.Name(), len(g.Images), g.Images, len(g.Tokens))
		}
		gc.Check(t, c, g.Images[1], "gen.image.1", golden.MAE)
		gc.Check(t, c, g.Tokens[len(g.Tokens)-1], fmt.Sprintf("gen.tokens.%d", len(g.Tokens)-1), golden.Rel)
	}
}
