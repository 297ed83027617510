// Package model loads hitsr weights and runs the next-scale transformer (docs/model.md §5)
// on top of package tokenizer, batched over tiles.
package model

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"

	"github.com/hitsr/hitsr/internal/regfile"
	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/model/nn"
	"github.com/hitsr/hitsr/tokenizer"
	"github.com/nlpodyssey/safetensors"
	"github.com/x448/float16"
)

// Host is a tensor read from a safetensors file: F32 (from F32/F16/BF16) or I32 data.
type Host struct {
	Shape []int
	F     []float32
	I     []int32
	DType string // dtype in the file
}

// File is a parsed safetensors file.
type File struct {
	Meta    map[string]string
	Tensors map[string]*Host
}

// MaxFileBytes caps a weights file read from disk (the shipped model is 4.8 MB; a few hundred
// MB is a large one). Lengths in the file's header are checked against its size by Parse.
const MaxFileBytes = 2 << 30

// maxHeaderBytes is the largest safetensors header read (the format's reference limit).
const maxHeaderBytes = 100_000_000

// checkHeader refuses, from its header alone, a file that cannot be a safetensors file of its
// size: a header length past the file, a header that is not the JSON of tensor entries, or
// tensor data that does not end where the file does. A large hostile file is refused before it
// is read whole.
func checkHeader(r io.ReaderAt, size int64) error {
	var n [8]byte
	if _, err := r.ReadAt(n[:], 0); err != nil {
		return errors.New("not a safetensors model file: shorter than its 8-byte header length")
	}
	hl := binary.LittleEndian.Uint64(n[:])
	if hl > maxHeaderBytes || hl > uint64(size-8) {
		return fmt.Errorf("not a safetensors model file: a %d-byte header in a %d-byte file", hl, size)
	}
	hdr := make([]byte, hl)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return err
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &entries); err != nil {
		return fmt.Errorf("not a safetensors model file: header: %w", err)
	}
	var end int64
	for name, raw := range entries {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			DataOffsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("not a safetensors model file: tensor %s: %w", name, err)
		}
		end = max(end, e.DataOffsets[1])
	}
	if data := size - 8 - int64(hl); end != data {
		return fmt.Errorf("not a safetensors model file: its header describes %d bytes of tensor data, the file holds %d", end, data)
	}
	return nil
}

// readModelFile reads a weights file: a regular file of at most MaxFileBytes whose header
// matches its size.
func readModelFile(path string) ([]byte, error) {
	buf, err := regfile.ReadChecked(path, MaxFileBytes, checkHeader)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return buf, nil
}

// ReadFile reads every tensor of a safetensors file, converting floats to float32.
func ReadFile(path string) (*File, error) {
	buf, err := readModelFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse is ReadFile for a safetensors file held in memory.
func Parse(buf []byte) (*File, error) {
	_, md, err := safetensors.ReadMetadata(buf)
	if err != nil {
		return nil, fmt.Errorf("not a safetensors model file: %w", err)
	}
	st, err := safetensors.Deserialize(buf)
	if err != nil {
		return nil, err
	}
	f := &File{Meta: md.Metadata(), Tensors: map[string]*Host{}}
	for _, nt := range st.Tensors() {
		h, err := toHost(nt.TensorView)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", nt.Name, err)
		}
		f.Tensors[nt.Name] = h
	}
	return f, nil
}

func toHost(tv safetensors.TensorView) (*Host, error) {
	h := &Host{DType: tv.DType().String()}
	n := 1
	for _, d := range tv.Shape() {
		h.Shape = append(h.Shape, int(d))
		n *= int(d)
	}
	b := tv.Data()
	le := binary.LittleEndian
	switch tv.DType() {
	case safetensors.F32:
		h.F = make([]float32, n)
		for i := range h.F {
			h.F[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case safetensors.F16:
		h.F = make([]float32, n)
		for i := range h.F {
			h.F[i] = float16.Frombits(le.Uint16(b[2*i:])).Float32()
		}
	case safetensors.BF16:
		h.F = make([]float32, n)
		for i := range h.F {
			h.F[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
		}
	case safetensors.I32:
		h.I = make([]int32, n)
		for i := range h.I {
			h.I[i] = int32(le.Uint32(b[4*i:]))
		}
	default:
		return nil, fmt.Errorf("unsupported dtype %s", tv.DType())
	}
	return h, nil
}

// Expected lists every weight the config needs, name → shape: what tokenizer.NewLayers and,
// with tr, the transformer declare.
func Expected(c Config, tr bool) map[string][]int {
	return nn.Shapes(func(d *nn.Decl) {
		tokenizer.NewLayers(d, c.Config)
		if tr {
			newTransformer(d, c)
		}
	})
}

// Check validates f's configs and tensors. A file holds the backbone (metadata "backbone"),
// the token model (metadata "config": tokenizer, optionally the transformer), or both.
func Check(f *File) (*Weights, error) {
	w := &Weights{}
	want := map[string][]int{}
	if s, ok := f.Meta["backbone"]; ok {
		bc, err := ParseBackboneConfig(s)
		if err != nil {
			return nil, fmt.Errorf("weights: %w", err)
		}
		w.Backbone = &bc
		bc.expected(want)
	}
	if s, ok := f.Meta["config"]; ok {
		cfg, err := ParseConfig(s)
		if err != nil {
			return nil, fmt.Errorf("weights: %w", err)
		}
		if err := checkV2Base(cfg, w.Backbone); err != nil {
			return nil, fmt.Errorf("weights: %w", err)
		}
		w.Cfg, w.Tokens = cfg, true
		tok, all := Expected(cfg, false), Expected(cfg, true)
		for name := range f.Tensors {
			if _, in := tok[name]; !in {
				if _, in = all[name]; in {
					w.Transformer = true
				}
			}
		}
		if w.Transformer {
			tok = all
		}
		maps.Copy(want, tok)
	}
	if w.Backbone == nil && !w.Tokens {
		return nil, fmt.Errorf("weights: no config in __metadata__ (want \"backbone\" and/or \"config\")")
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		h, ok := f.Tensors[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("weights: %s is missing (config wants shape %v)", name, want[name])
		case h.F == nil:
			return nil, fmt.Errorf("weights: %s has dtype %s, want F32/F16/BF16", name, h.DType)
		case !slices.Equal(h.Shape, want[name]):
			return nil, fmt.Errorf("weights: %s has shape %v, config wants %v", name, h.Shape, want[name])
		}
		if n, first := nonFinite(h.F); n > 0 {
			return nil, fmt.Errorf("weights: %s has %d non-finite values (NaN or Inf), the first at index %d", name, n, first)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(f.Tensors)) {
		if _, ok := want[name]; !ok {
			return nil, fmt.Errorf("weights: unexpected tensor %s %v", name, f.Tensors[name].Shape)
		}
	}
	w.names = slices.Sorted(maps.Keys(want))
	return w, nil
}

// nonFinite counts x's NaN and ±Inf values (all exponent bits set) and gives the first's index.
func nonFinite(x []float32) (n, first int) {
	const expBits = 0x7f800000
	first = -1
	for i, v := range x {
		if math.Float32bits(v)&expBits == expBits {
			if n == 0 {
				first = i
			}
			n++
		}
	}
	return n, first
}

// checkV2Base checks that a model v2 token path (§10) has its base: a backbone whose features
// are the condition (ch == cond_ch) and whose heads give every segment's scale.
func checkV2Base(c Config, bb *BackboneConfig) error {
	if !c.V2() {
		return nil
	}
	if bb == nil {
		return fmt.Errorf("config: fidelity \"backbone\" needs a backbone in the same file (metadata \"backbone\")")
	}
	if bb.Ch != c.CondCh {
		return fmt.Errorf("config: cond_ch %d differs from the backbone's ch %d", c.CondCh, bb.Ch)
	}
	for n := range c.NSeg() {
		if !slices.Contains(bb.Scales, 1<<n) {
			return fmt.Errorf("config: segment %d needs a backbone head for ×%d (backbone scales %v)", n, 1<<n, bb.Scales)
		}
	}
	return nil
}

// Weights are a model's tensors uploaded once (as F32) to a backend.
type Weights struct {
	Backbone    *BackboneConfig // nil: no backbone
	Cfg         Config          // token model config, valid when Tokens
	Tokens      bool            // tokenizer tensors present
	Transformer bool            // transformer tensors present
	T           map[string]*ml.Tensor
	B           ml.Backend
	names       []string
}

// Load reads, validates and uploads a weights file.
func Load(path string, b ml.Backend) (*Weights, error) {
	buf, err := readModelFile(path)
	if err != nil {
		return nil, err
	}
	return LoadBytes(path, buf, b)
}

// LoadBytes is Load for a weights file held in memory (e.g. embedded); path names it in errors.
func LoadBytes(path string, buf []byte, b ml.Backend) (*Weights, error) {
	f, err := Parse(buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	w, err := Check(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	w.T, w.B = map[string]*ml.Tensor{}, b
	for _, name := range w.names {
		h := f.Tensors[name]
		t, err := ml.NewTensor(b, ml.F32, h.Shape, h.F)
		if err != nil {
			w.Free()
			return nil, fmt.Errorf("weights: uploading %s: %w", name, err)
		}
		w.T[name] = t
	}
	return w, nil
}

// Free releases the uploaded tensors.
func (w *Weights) Free() {
	for _, t := range w.T {
		ml.Free(w.B, t)
	}
	w.T = nil
}
