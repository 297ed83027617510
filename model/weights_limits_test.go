package model_test

import (
	"encoding/binary"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nlpodyssey/safetensors"

	"github.com/hitsr/hitsr/ml/cpu"
	"github.com/hitsr/hitsr/model"
	"github.com/hitsr/hitsr/models"
)

const tinyModel = "../testdata/golden/tiny_model.safetensors"

// loadWithin is model.Load that fails the test instead of hanging or growing without bound.
func loadWithin(t *testing.T, path string) error {
	t.Helper()
	b := cpu.New()
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		w, err := model.Load(path, b)
		if err == nil {
			w.Free()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("model.Load(%s) did not return within 5 s", path)
		return nil
	}
}

// TestLoadRefusesNonRegular checks that devices, FIFOs and files over the cap are refused
// before they are read, naming the file.
func TestLoadRefusesNonRegular(t *testing.T) {
	d := t.TempDir()
	fifo := filepath.Join(d, "m.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(d, "huge.safetensors") // sparse: no disk used
	if err := os.WriteFile(huge, nil, 0o644); err != nil || os.Truncate(huge, model.MaxFileBytes+1) != nil {
		t.Fatal("cannot make a sparse file")
	}
	for path, want := range map[string]string{
		"/dev/zero": "/dev/zero: not a regular file",
		fifo:        fifo + ": not a regular file",
		huge:        huge + ": larger than the limit of 2 GiB",
	} {
		if err := loadWithin(t, path); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
		if _, err := model.ReadFile(path); err == nil || err.Error() != want {
			t.Errorf("ReadFile %s: %v, want %q", path, err, want)
		}
	}
}

// writeBF16 writes f's tensors as BF16 (model.WriteFile writes F32 or F16).
func writeBF16(t *testing.T, path string, f *model.File) {
	t.Helper()
	views := map[string]safetensors.TensorView{}
	for name, h := range f.Tensors {
		var b []byte
		for _, v := range h.F {
			b = binary.LittleEndian.AppendUint16(b, uint16(math.Float32bits(v)>>16))
		}
		shape := make([]uint64, len(h.Shape))
		for i, d := range h.Shape {
			shape[i] = uint64(d)
		}
		v, err := safetensors.NewTensorView(safetensors.BF16, shape, b)
		if err != nil {
			t.Fatal(err)
		}
		views[name] = v
	}
	buf, err := safetensors.Serialize(views, f.Meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoadRefusesNonFinite checks that a NaN or ±Inf weight, in every float dtype a file may
// hold, fails the load naming the tensor (it would make every output pixel NaN: black).
func TestLoadRefusesNonFinite(t *testing.T) {
	d := t.TempDir()
	for _, dtype := range []string{"F32", "F16", "BF16"} {
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0} {
			f, err := model.ReadFile(tinyModel)
			if err != nil {
				t.Fatal(err)
			}
			names := slices.Sorted(maps.Keys(f.Tensors))
			name := names[len(names)/2]
			if len(f.Tensors[name].F) < 4 {
				t.Fatalf("%s: too small a tensor for the test", name)
			}
			f.Tensors[name].F[3] = bad
			p := filepath.Join(d, dtype+".safetensors")
			switch dtype {
			case "BF16":
				writeBF16(t, p, f)
			default:
				if err := model.WriteFile(p, f.Meta, f.Tensors, dtype == "F16"); err != nil {
					t.Fatal(err)
				}
			}
			err = loadWithin(t, p)
			want := p + ": weights: " + name + " has 1 non-finite values (NaN or Inf), the first at index 3"
			switch {
			case bad == 0 && err != nil: // the control: the same file, finite
				t.Errorf("%s, finite: %v", dtype, err)
			case bad != 0 && (err == nil || err.Error() != want):
				t.Errorf("%s, %v at %s[3]: %v, want %q", dtype, bad, name, err, want)
			}
		}
	}
}

// TestLoadMissingFile checks that a missing file is named once (not as "open PATH" too).
func TestLoadMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "none.safetensors")
	if err := loadWithin(t, p); err == nil || err.Error() != p+": no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}

// TestShippedModelPassesChecks checks that the built-in model is under the cap and finite.
func TestShippedModelPassesChecks(t *testing.T) {
	buf := models.Default()
	if len(buf) > model.MaxFileBytes {
		t.Fatalf("built-in model: %d bytes, over the cap", len(buf))
	}
	f, err := model.Parse(buf)
	if err == nil {
		_, err = model.Check(f)
	}
	if err != nil {
		t.Fatalf("built-in model: %v", err)
	}
}

// A large file whose header cannot describe it is refused from its first bytes, before it is
// read whole: a 1 GiB file of zeros (sparse), a header length past the end, and a header whose
// tensors end before or after the file does.
func TestHeaderCheckedFirst(t *testing.T) {
	d := t.TempDir()
	header := func(name, json string, data int64) string {
		p := filepath.Join(d, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		binary.Write(f, binary.LittleEndian, uint64(len(json)))
		f.WriteString(json)
		if err := f.Truncate(8 + int64(len(json)) + data); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zeros := filepath.Join(d, "zeros.safetensors")
	if f, err := os.Create(zeros); err != nil || f.Truncate(1<<30) != nil || f.Close() != nil {
		t.Fatal(err)
	}
	longHeader := filepath.Join(d, "long.safetensors")
	os.WriteFile(longHeader, binary.LittleEndian.AppendUint64(nil, 1<<40), 0o644)
	const entry = `{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`
	for name, c := range map[string]struct {
		path, msg string
	}{
		"1 GiB of zeros":        {zeros, "header: unexpected end of JSON input"},
		"header past the end":   {longHeader, "-byte header in a 8-byte file"},
		"data short of the end": {header("short.safetensors", entry, 1<<30), "describes 16 bytes of tensor data, the file holds 1073741824"},
		"data past the end":     {header("past.safetensors", entry, 8), "describes 16 bytes of tensor data, the file holds 8"},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := model.ReadFile(c.path)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %q", name, err, c.msg)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("%s: %d MB allocated before the refusal", name, grew>>20)
		}
	}
	if _, err := model.ReadFile(header("ok.safetensors", entry, 16)); err != nil {
		t.Errorf("a header that matches its file: %v", err)
	}
}
