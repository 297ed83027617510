package model_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/model"
	"github.com/hitsr/hitsr/model/golden"
)

// backboneCases are the backbone golden files (train/make_backbone_golden.py) present here.
func backboneCases(t *testing.T) []golden.Case {
	var cs []golden.Case
	for _, name := range []string{"backbone_io", "shipped_bb_io"} {
		p := filepath.Join(golden.Root, "testdata/golden", name+".safetensors")
		f, err := model.ReadFile(p)
		if err != nil {
			if name == "backbone_io" {
				t.Fatal(err)
			}
			t.Logf("%s not tested: %v", name, err)
			continue
		}
		dir := filepath.Join(golden.Root, "testdata/golden")
		if strings.Contains(f.Meta["model"], "/") {
			dir = golden.Root
		}
		cs = append(cs, golden.Case{Name: name, Weights: filepath.Join(dir, f.Meta["model"]), IO: f})
	}
	return cs
}

// The backbone matches PyTorch's training form (unfolded branches) on both backends, batched.
func TestBackboneGolden(t *testing.T) {
	for _, b := range golden.Backends(t) {
		for _, c := range backboneCases(t) {
			t.Run(b.Name()+"/"+c.Name, func(t *testing.T) {
				bb, err := model.NewBackbone(golden.Load(t, c.Weights, b))
				if err != nil {
					t.Fatal(err)
				}
				defer bb.Close()
				ctx := ml.NewContext(b)
				defer ctx.Close()
				x := c.Input(t, ctx, "input", 2)
				scales := bb.Cfg.Scales
				outs := bb.Forward(ctx, x, scales...)
				feat := bb.Features(ctx, x)
				if err := ctx.Compute(); err != nil {
					t.Fatal(err)
				}
				c.Check(t, ctx, feat, "features", golden.Rel)
				for i, s := range scales {
					c.Check(t, ctx, outs[i], fmt.Sprintf("out.%d", s), golden.Rel)
					c.Check(t, ctx, outs[i], fmt.Sprintf("out.%d", s), golden.MAE)
				}
			})
		}
	}
}

func TestParseBackboneConfig(t *testing.T) {
	good := `{"ch":48,"blocks":8,"k_in":5,"scales":[1,2,4]}`
	c, err := model.ParseBackboneConfig(good)
	if err != nil || c.Radius() != 2+8+1 {
		t.Fatalf("%s: %+v %v", good, c, err)
	}
	for _, bad := range []string{`{"ch":0,"blocks":8,"k_in":5,"scales":[2]}`, `{"ch":8,"blocks":-1,"k_in":5,"scales":[2]}`,
		`{"ch":8,"blocks":1,"k_in":4,"scales":[2]}`, `{"ch":8,"blocks":1,"k_in":3,"scales":[]}`,
		`{"ch":8,"blocks":1,"k_in":3,"scales":[3]}`, `{"ch":8,"blocks":1,"k_in":3,"scales":[2,2]}`, `[`} {
		if _, err := model.ParseBackboneConfig(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
