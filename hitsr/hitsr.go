// Package hitsr is the library API of the hitsr super-resolution engine: load a model once
// on a backend, then upscale images of any size by overlapping tiles (docs/training.md,
// Protocol; a port of train/hitsr/evaluate.py's tiled()), producing ×1/×2/×4 from one pass and
// other sizes by a host resampler from the nearest larger model scale.
package hitsr

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/ml/device"
	"github.com/hitsr/hitsr/model"
	"github.com/hitsr/hitsr/resample"
)

// Errors wrapped by Load, so callers can tell a device problem from a model problem.
var (
	ErrDevice = errors.New("device")
	ErrModel  = errors.New("model")
)

// deviceError is a device.Open error (which names the device): errors.Is(err, ErrDevice).
type deviceError struct{ error }

func (e deviceError) Is(target error) bool { return target == ErrDevice }
func (e deviceError) Unwrap() error        { return e.error }

// Mode selects the network a pass runs.
type Mode int

const (
	// Fidelity runs the backbone alone: an LR-resolution conv trunk over the whole frame.
	Fidelity Mode = iota
	// Full runs the H-VAR token path (tokenizer + next-scale transformer) over tiles; for a model
	// v2 file, over the backbone's features, its residuals written over the backbone's outputs.
	Full
)

var modeNames = [...]string{"fidelity", "full"}

func (m Mode) String() string { return modeNames[m] }

// ParseMode parses "fidelity" or "full".
func ParseMode(s string) (Mode, error) {
	if i := slices.Index(modeNames[:], s); i >= 0 {
		return Mode(i), nil
	}
	return 0, fmt.Errorf("mode %q: want one of %v", s, modeNames)
}

// DefaultBatch is Model.Batch's default.
const DefaultBatch = 32

// Model is a loaded model on a backend (weights uploaded once). Not safe for concurrent use.
type Model struct {
	// Mode is the network Upscale runs (default: Fidelity when the file has a backbone).
	Mode    Mode
	Notice  string // one line when "auto" fell back to the CPU backend
	Batch   int    // tiles per Generate call (default DefaultBatch; ~30 MB of device memory per tile)
	Overlap int    // LR overlap between tiles in pixels (default 4, as evaluate.py)
	// ReuseTiles makes single-image calls (video frames) reuse earlier calls' work: model v1 the
	// output of tiles whose input is bit-identical (the result is the same); model v2's full mode
	// the tokens of tiles whose input changed by at most ReuseThreshold (temporal.go).
	ReuseTiles bool
	// ReuseThreshold is the mean change of a tile's input (the tile and the backbone's radius
	// around it; 8-bit levels) since its tokens were generated up to which they are reused (0:
	// identical inputs only, the output equals no reuse; negative: no token reuse). Default
	// DefaultReuseThreshold.
	ReuseThreshold float64
	// SceneCut is the mean change of a frame from the previous one (8-bit levels of its 8×8 block
	// means) above which every tile's tokens are generated afresh. Default DefaultSceneCut.
	SceneCut float64
	// Stabilize, when > 0, takes single-image calls as consecutive frames of one video and blends
	// each output with the previous frame's where the input is still (stabilize.go): it is the
	// previous output's weight where nothing moves, falling linearly to 0 at StillLevel of motion
	// (8-bit levels). Defaults 0 (off; hitsr-video: DefaultStabilize) and DefaultStillLevel.
	Stabilize, StillLevel float64
	// Sampling is how full mode (model v2) picks tokens: greedy by default, or top-k with a
	// temperature and a seed (the same seed, the same output on every backend, band and batch).
	Sampling    model.Sampling
	TilesRun    int // tiles the model ran on (v2: transformer evaluations) so far
	TilesReused int // tiles taken from (v2: tokens replayed from) earlier calls
	SceneCuts   int // frames whose tokens were all generated afresh after a scene cut

	cache  *tileCache
	tokens *tokenMemory
	stab   *stabilizer

	be    ml.Backend
	flops float64 // recorded model arithmetic so far (multiply-add = 2)
	w     *model.Weights
	bb    *model.Backbone // nil: no backbone in the file
	m     *model.Model    // nil: no token model in the file
	cfg   model.Config
	// BandPixels caps the LR pixels of one backbone pass; taller frames run in row bands with
	// a halo of the trunk's receptive field (results equal the whole frame's).
	BandPixels int
}

// Load opens the backend named by dev (device.Open: "auto", "cpu", "vulkan", "vulkan:N")
// and uploads the weights file at path.
func Load(path, dev string) (*Model, error) { return LoadBytes(path, nil, dev) }

// LoadBytes is Load for a weights file held in buf (e.g. the embedded models.Default()), which
// path names in errors; a nil buf reads the file at path.
func LoadBytes(path string, buf []byte, dev string) (*Model, error) {
	be, notice, err := device.Open(dev)
	if err != nil {
		return nil, deviceError{err}
	}
	m, err := loadOn(path, buf, be)
	if err != nil {
		be.Close()
		return nil, err
	}
	m.Notice = notice
	return m, nil
}

// LoadOn uploads the weights at path to an already opened backend; Close closes the backend.
func LoadOn(path string, be ml.Backend) (*Model, error) { return loadOn(path, nil, be) }

func loadOn(path string, buf []byte, be ml.Backend) (*Model, error) {
	var w *model.Weights
	var err error
	if buf == nil {
		w, err = model.Load(path, be)
	} else {
		w, err = model.LoadBytes(path, buf, be)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	m := &Model{Batch: DefaultBatch, Overlap: 4, BandPixels: 1 << 18, Mode: Full, be: be, w: w, cfg: w.Cfg,
		ReuseThreshold: DefaultReuseThreshold, SceneCut: DefaultSceneCut, StillLevel: DefaultStillLevel,
		Sampling: model.Sampling{Temperature: 1}}
	if w.Transformer {
		m.m, err = model.New(w)
	}
	if err == nil && w.Backbone != nil {
		m.bb, err = model.NewBackbone(w)
		m.Mode = Fidelity
	}
	if err == nil && m.m == nil && m.bb == nil {
		err = errors.New("holds neither a backbone nor a transformer")
	}
	if err != nil {
		m.free()
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, path, err)
	}
	return m, nil
}

// free releases the networks and weights (not the backend).
func (m *Model) free() {
	if m.m != nil {
		m.m.Close()
	}
	if m.bb != nil {
		m.bb.Close()
	}
	m.w.Free()
	m.w, m.m, m.bb = nil, nil, nil
}

// Close frees the weights and closes the backend.
func (m *Model) Close() {
	if m.w != nil {
		m.free()
		m.be.Close()
	}
}

// Has reports whether the model file holds the network of mode.
func (m *Model) Has(mode Mode) bool {
	if mode == Fidelity {
		return m.bb != nil
	}
	return m.m != nil
}

// Backend is the backend the model runs on.
func (m *Model) Backend() ml.Backend { return m.be }

// Flops is the arithmetic of every model pass run so far (matmuls, convolutions, attention).
func (m *Model) Flops() float64 { return m.flops }

// Config is the model's config.
func (m *Model) Config() model.Config { return m.cfg }

// Scales are the native scales of the current mode (1, 2, 4 for the shipped model).
func (m *Model) Scales() []int {
	if m.Mode == Fidelity {
		return slices.Sorted(slices.Values(m.bb.Cfg.Scales))
	}
	s := make([]int, m.cfg.NSeg())
	for n := range s {
		s[n] = 1 << n
	}
	return s
}

func (m *Model) segOf(scale int) (int, error) {
	if n := slices.Index(m.Scales(), scale); n >= 0 {
		return n, nil
	}
	return 0, fmt.Errorf("scale %d is not a model scale (%v)", scale, m.Scales())
}

// Upscale runs one pass over img's tiles and returns img at each of the native scales
// (e.g. Upscale(img, 2, 4)). An alpha channel is resized with plain bicubic.
func (m *Model) Upscale(img *imageio.Image, scales ...int) ([]*imageio.Image, error) {
	out, err := m.UpscaleImages([]*imageio.Image{img}, scales...)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// UpscaleImages is Upscale over several images, their tiles batched together.
// out[i][j] is image i at scales[j].
func (m *Model) UpscaleImages(imgs []*imageio.Image, scales ...int) ([][]*imageio.Image, error) {
	if len(scales) == 0 {
		return nil, errors.New("no scales requested")
	}
	if !m.Has(m.Mode) {
		return nil, fmt.Errorf("the model file holds no %s network", m.Mode)
	}
	var segs []int
	for _, s := range scales {
		n, err := m.segOf(s)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(segs, n) {
			segs = append(segs, n)
		}
	}
	for _, img := range imgs {
		if err := checkImage(img); err != nil {
			return nil, err
		}
		for _, s := range scales {
			if err := imageio.CheckSize(img.W*s, img.H*s); err != nil {
				return nil, fmt.Errorf("output: %w", err)
			}
		}
	}
	var rgb [][]*imageio.Image
	var err error
	switch {
	case m.Mode == Fidelity:
		rgb, err = m.whole(imgs, segs)
	case m.cfg.V2():
		rgb, err = m.residual(imgs, segs)
	case !m.Sampling.Greedy():
		err = fmt.Errorf("%v sampling needs a model v2 file (a v1 token model is greedy)", m.Sampling)
	default:
		rgb, err = m.tiled(imgs, segs)
	}
	if err != nil {
		return nil, err
	}
	if len(imgs) == 1 {
		m.stabilizeFrame(imgs[0], rgb[0])
	}
	out := make([][]*imageio.Image, len(imgs))
	for i, img := range imgs {
		for _, s := range scales {
			n, _ := m.segOf(s)
			out[i] = append(out[i], withAlpha(rgb[i][slices.Index(segs, n)], img))
		}
	}
	return out, nil
}

func checkImage(img *imageio.Image) error {
	if img == nil {
		return errors.New("nil image")
	}
	if err := imageio.CheckSize(img.W, img.H); err != nil {
		return err
	}
	if (img.C != 3 && img.C != 4) || len(img.Pix) != img.W*img.H*img.C {
		return fmt.Errorf("image has %d channels and %d values for %d×%d (want RGB or RGBA)", img.C, len(img.Pix), img.W, img.H)
	}
	return nil
}

// withAlpha appends src's alpha (plain bicubic, antialiased when shrinking) to rgb.
func withAlpha(rgb *imageio.Image, src *imageio.Image) *imageio.Image {
	if src.C < 4 {
		return rgb
	}
	k := resample.Bicubic
	if rgb.W < src.W || rgb.H < src.H {
		k = resample.BicubicAA
	}
	a := resample.Resize(src.Plane(3), 1, src.H, src.W, rgb.H, rgb.W, k)
	out := &imageio.Image{W: rgb.W, H: rgb.H, C: 4, Pix: append(rgb.Pix[:len(rgb.Pix):len(rgb.Pix)], a...)}
	return out
}

// Target is a requested output: Scale (relative to the input) or an exact W×H.
type Target struct {
	Scale float64
	W, H  int
}

func (t Target) String() string {
	if t.W > 0 {
		return fmt.Sprintf("%dx%d", t.W, t.H)
	}
	return fmt.Sprintf("x%g", t.Scale)
}

// Size is the output size for a w×h input, validated against imageio's limits.
func (t Target) Size(w, h int) (int, int, error) {
	ow, oh := t.W, t.H
	if ow <= 0 && oh <= 0 {
		if !(t.Scale > 0) || math.IsInf(t.Scale, 0) {
			return 0, 0, fmt.Errorf("invalid scale %v", t.Scale)
		}
		fw, fh := math.Round(float64(w)*t.Scale), math.Round(float64(h)*t.Scale)
		if fw > imageio.MaxSide || fh > imageio.MaxSide {
			return 0, 0, fmt.Errorf("output ×%g of %d×%d exceeds the limit of %d px per side", t.Scale, w, h, imageio.MaxSide)
		}
		if fw < 1 || fh < 1 {
			return 0, 0, fmt.Errorf("output ×%g of %d×%d would be %.3g×%.3g px: under 1 px", t.Scale, w, h, float64(w)*t.Scale, float64(h)*t.Scale)
		}
		ow, oh = int(fw), int(fh)
	}
	if err := imageio.CheckSize(ow, oh); err != nil {
		return 0, 0, fmt.Errorf("output %s: %w", t, err)
	}
	return ow, oh, nil
}

// nativeFor is the smallest native scale whose output covers ow×oh (else the largest).
func (m *Model) nativeFor(w, h, ow, oh int) int {
	sc := m.Scales()
	for _, s := range sc {
		if w*s >= ow && h*s >= oh {
			return s
		}
	}
	return sc[len(sc)-1]
}

// UpscaleToCheap is UpscaleTo in fidelity mode when the model runs in full mode and has a
// backbone; ok is false (nothing done) otherwise.
func (m *Model) UpscaleToCheap(img *imageio.Image, targets ...Target) ([]*imageio.Image, bool, error) {
	if m.Mode != Full || !m.Has(Fidelity) {
		return nil, false, nil
	}
	m.Mode = Fidelity
	defer func() { m.Mode = Full }()
	out, err := m.UpscaleTo(img, targets...)
	return out, true, err
}

// UpscaleTo returns img at each target size from one model pass: each target is resampled
// (Lanczos-3, antialiased when shrinking) from the nearest larger native scale's output;
// targets equal to a native scale are the model output itself.
func (m *Model) UpscaleTo(img *imageio.Image, targets ...Target) ([]*imageio.Image, error) {
	if err := checkImage(img); err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, errors.New("no outputs requested")
	}
	type plan struct{ ow, oh, s int }
	var plans []plan
	var natives []int
	for _, t := range targets {
		ow, oh, err := t.Size(img.W, img.H)
		if err != nil {
			return nil, err
		}
		s := m.nativeFor(img.W, img.H, ow, oh)
		plans = append(plans, plan{ow, oh, s})
		if !slices.Contains(natives, s) {
			natives = append(natives, s)
		}
	}
	res, err := m.Upscale(img.RGB(), natives...)
	if err != nil {
		return nil, err
	}
	var out []*imageio.Image
	for _, p := range plans {
		src := res[slices.Index(natives, p.s)]
		rgb := src
		if src.W != p.ow || src.H != p.oh {
			rgb = &imageio.Image{W: p.ow, H: p.oh, C: 3,
				Pix: resample.Resize(src.Pix, 3, src.H, src.W, p.oh, p.ow, resample.Lanczos3)}
		}
		out = append(out, withAlpha(rgb, img))
	}
	return out, nil
}
