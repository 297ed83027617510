package model_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/ml/cpu"
	"github.com/hitsr/hitsr/model"
)

// FuzzLoadBytes checks that any bytes either fail LoadBytes with an error naming the file, or
// load exactly the file's tensors with their shapes (safetensors header, config and tensor checks
// never panic).
func FuzzLoadBytes(f *testing.F) {
	b := cpu.New()
	defer b.Close()
	// The smallest valid token-model config, written whole, tokenizer-only and as F16; a backbone.
	cfg := `{"tile":2,"f":2,"segments":[[1]],"z":1,"vocab":2,"enc_ch":[1],"res_blocks":0,"phi_k":1,` +
		`"fidelity":"cond","rq":"hit","width":2,"depth":1,"heads":1,"mlp":1,"eps":1e-05}`
	c, err := model.ParseConfig(cfg)
	if err != nil {
		f.Fatal(err)
	}
	for i, tr := range []bool{true, false, true} {
		ts := map[string]*model.Host{}
		for name, shape := range model.Expected(c, tr) {
			n := 1
			for _, d := range shape {
				n *= d
			}
			ts[name] = &model.Host{Shape: shape, F: make([]float32, n)}
		}
		p := filepath.Join(f.TempDir(), "seed.safetensors")
		if err := model.WriteFile(p, map[string]string{"config": cfg}, ts, i == 2); err != nil {
			f.Fatal(err)
		}
		buf, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		w, err := model.LoadBytes("seed", buf, b)
		if err != nil {
			f.Fatal(err)
		}
		w.Free()
		f.Add(buf)
	}
	for _, name := range []string{"backbone_model", "v2_model"} { // a backbone; a v2 token path (cond "embed")
		buf, err := os.ReadFile(filepath.Join("..", "testdata/golden", name+".safetensors"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(buf)
	}
	f.Add([]byte{})
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"))
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":{}}"))
	f.Fuzz(func(t *testing.T, buf []byte) {
		w, err := model.LoadBytes("fuzz", buf, b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		defer w.Free()
		file, err := model.Parse(buf)
		if err != nil {
			t.Fatalf("LoadBytes accepted what Parse rejects: %v", err)
		}
		if len(w.T) != len(file.Tensors) {
			t.Fatalf("%d tensors uploaded, file has %d", len(w.T), len(file.Tensors))
		}
		for name, h := range file.Tensors {
			if u := w.T[name]; u == nil || !slices.Equal(u.Shape(), h.Shape) {
				t.Fatalf("tensor %s: uploaded %v, file %v", name, u, h.Shape)
			}
		}
	})
}
