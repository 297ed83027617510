package model_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/ml/cpu"
	"github.com/hitsr/hitsr/model"
)

// TestWeightErrors checks that bad weight files fail naming the tensor.
func TestWeightErrors(t *testing.T) {
	src := filepath.Join("..", "testdata/golden/tiny_model.safetensors")
	cases := []struct {
		edit func(ts map[string]*model.Host)
		want string
	}{
		{func(ts map[string]*model.Host) {
			ts["enc.conv_in.weight"] = &model.Host{Shape: []int{8, 3, 3, 3}, F: make([]float32, 8*27)}
		}, "weights: enc.conv_in.weight has shape [8 3 3 3], config wants [4 3 3 3]"},
		{func(ts map[string]*model.Host) { delete(ts, "quant.phi.4.bias") }, "weights: quant.phi.4.bias is missing"},
		{func(ts map[string]*model.Host) {
			ts["blocks.2.ln1.weight"] = &model.Host{Shape: []int{16}, F: make([]float32, 16)}
		}, "weights: unexpected tensor blocks.2.ln1.weight"},
		{func(ts map[string]*model.Host) {
			ts["head.bias"] = &model.Host{Shape: []int{16}, I: make([]int32, 16)}
		}, "weights: head.bias has dtype"},
	}
	b := cpu.New()
	defer b.Close()
	for _, tc := range cases {
		f, err := model.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		tc.edit(f.Tensors)
		p := filepath.Join(t.TempDir(), "bad.safetensors")
		if err := model.WriteFile(p, f.Meta, f.Tensors, false); err != nil {
			t.Fatal(err)
		}
		_, err = model.Load(p, b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// TestTokenizerOnly loads a file without transformer tensors (and F16 storage).
func TestTokenizerOnly(t *testing.T) {
	f, err := model.ReadFile(filepath.Join("..", "testdata/golden/tiny_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range model.Expected(mustCfg(t, f), true) {
		if !strings.HasPrefix(name, "enc.") && !strings.HasPrefix(name, "dec.") && !strings.HasPrefix(name, "quant.") {
			delete(f.Tensors, name)
		}
	}
	p := filepath.Join(t.TempDir(), "tok.safetensors")
	if err := model.WriteFile(p, f.Meta, f.Tensors, true); err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	defer b.Close()
	w, err := model.Load(p, b)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Free()
	if w.Transformer {
		t.Error("transformer reported present")
	}
	if _, err := model.New(w); err == nil {
		t.Error("model.New accepted a tokenizer-only file")
	}
}

func mustCfg(t *testing.T, f *model.File) model.Config {
	w, err := model.Check(f)
	if err != nil {
		t.Fatal(err)
	}
	return w.Cfg
}

const v2Model = "../testdata/golden/v2_model.safetensors"

// A model v2 file holds the backbone, the residual decoder, the quantizer and the transformer
// (no enc.*); its token path needs the backbone as its base.
func TestV2Weights(t *testing.T) {
	f, err := model.ReadFile(v2Model)
	if err != nil {
		t.Fatal(err)
	}
	w, err := model.Check(f)
	if err != nil || w.Backbone == nil || !w.Tokens || !w.Transformer || !w.Cfg.V2() {
		t.Fatalf("v2 golden model: %+v, %v", w, err)
	}
	for name := range model.Expected(w.Cfg, true) {
		if strings.HasPrefix(name, "enc.") {
			t.Errorf("v2 expects %s", name)
		}
	}
	bbMeta := f.Meta["backbone"]
	cases := []struct {
		edit func(f *model.File)
		want string
	}{
		{func(f *model.File) { delete(f.Meta, "backbone") }, `fidelity "backbone" needs a backbone in the same file`},
		{func(f *model.File) { f.Meta["backbone"] = strings.Replace(bbMeta, `"ch": 6`, `"ch": 5`, 1) },
			"cond_ch 6 differs from the backbone's ch 5"},
		{func(f *model.File) { f.Meta["backbone"] = strings.Replace(bbMeta, `[1, 2, 4]`, `[1, 2]`, 1) },
			"segment 2 needs a backbone head for ×4"},
		{func(f *model.File) {
			f.Tensors["enc.conv_in.weight"] = &model.Host{Shape: []int{4, 6, 3, 3}, F: make([]float32, 4*6*9)}
		}, "unexpected tensor enc.conv_in.weight"},
		{func(f *model.File) { delete(f.Tensors, "dec.mix.1.bias") }, "dec.mix.1.bias is missing"},
		{func(f *model.File) {
			f.Tensors["dec.out.2.weight"] = &model.Host{Shape: []int{12, 8, 1, 1}, F: make([]float32, 12*8)}
		}, "dec.out.2.weight has shape [12 8 1 1], config wants [48 8 1 1]"},
		{func(f *model.File) {
			f.Tensors["cond_proj.weight"] = &model.Host{Shape: []int{16, 4}, F: make([]float32, 16*4)}
		}, "cond_proj.weight has shape [16 4], config wants [16 24]"},
	}
	for _, tc := range cases {
		f, err := model.ReadFile(v2Model)
		if err != nil {
			t.Fatal(err)
		}
		tc.edit(f)
		if _, err := model.Check(f); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}
