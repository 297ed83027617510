// Package plugin is hitsr as a filter for hosts: push a frame, pull it at each output scale,
// flush at the end. The video pipeline runs its model stage through it; the C ABI
// (plugin/capi, libhitsr.so) and the GStreamer element (plugin/gst) are built over it.
package plugin

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/models"
)

// Upscaler produces every target from one pass over a frame (hitsr.Model is one).
type Upscaler interface {
	UpscaleTo(img *imageio.Image, targets ...hitsr.Target) ([]*imageio.Image, error)
}

// UpscalerFunc is a function as an Upscaler.
type UpscalerFunc func(img *imageio.Image, targets ...hitsr.Target) ([]*imageio.Image, error)

// UpscaleTo calls u.
func (u UpscalerFunc) UpscaleTo(img *imageio.Image, targets ...hitsr.Target) ([]*imageio.Image, error) {
	return u(img, targets...)
}

// Frame is a picture with its timestamp and duration (in the host's time base).
type Frame struct {
	Image         *imageio.Image
	PTS, Duration int64
}

// ErrFlushed is returned by Push after Flush.
var ErrFlushed = errors.New("the filter was flushed: no more frames are taken")

// MaxQueued is how many frames one output's queue holds: a push that would exceed it fails, so a
// host that never pulls a scale gets an error rather than memory that grows until it is killed.
const MaxQueued = 64

// Filter runs one model pass per pushed frame and queues the result for each target.
// Not safe for concurrent use.
type Filter struct {
	up      Upscaler
	targets []hitsr.Target
	queues  [][]Frame
	flushed bool
	model   *hitsr.Model // loaded by Open, closed by Close
}

// New is a filter over up producing targets (at least one).
func New(up Upscaler, targets ...hitsr.Target) (*Filter, error) {
	if len(targets) == 0 {
		return nil, errors.New("no output scales")
	}
	return &Filter{up: up, targets: targets, queues: make([][]Frame, len(targets))}, nil
}

// Options open a filter with its own model.
type Options struct {
	Model  string // weights file; "" = the built-in model
	Device string // auto, cpu, vulkan, vulkan:N ("" = auto)
	Mode   string // fidelity, full, auto or "" (auto: fidelity when the model has it)
	Scales []int  // output scales, e.g. 2 and 4
}

// Open loads the model on the device and returns a filter producing o.Scales.
func Open(o Options) (*Filter, error) {
	if len(o.Scales) == 0 {
		return nil, errors.New("no output scales")
	}
	var targets []hitsr.Target
	for i, s := range o.Scales {
		if s < 1 || s > 16 {
			return nil, fmt.Errorf("scale %d: want 1..16", s)
		}
		if slices.Contains(o.Scales[:i], s) {
			return nil, fmt.Errorf("scale %d given twice", s)
		}
		targets = append(targets, hitsr.Target{Scale: float64(s)})
	}
	dev := o.Device
	if dev == "" {
		dev = "auto"
	}
	path, buf := o.Model, []byte(nil)
	if path == "" {
		path, buf = "built-in "+models.Name, models.Default()
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("model file: %w", err)
	}
	m, err := hitsr.LoadBytes(path, buf, dev)
	if err != nil {
		return nil, err
	}
	if o.Mode != "" && o.Mode != "auto" {
		if m.Mode, err = hitsr.ParseMode(o.Mode); err == nil && !m.Has(m.Mode) {
			err = fmt.Errorf("%s holds no %s network", path, m.Mode)
		}
		if err != nil {
			m.Close()
			return nil, err
		}
	}
	f, _ := New(m, targets...)
	f.model = m
	return f, nil
}

// Model is the model Open loaded (nil for New).
func (f *Filter) Model() *hitsr.Model { return f.model }

// Targets are the outputs, in the order Pull takes them.
func (f *Filter) Targets() []hitsr.Target { return f.targets }

// Push runs the model on fr.Image and queues one frame per target (same timestamps).
func (f *Filter) Push(fr Frame) error {
	if f.flushed {
		return ErrFlushed
	}
	if fr.Image == nil {
		return errors.New("push: no image")
	}
	for i, q := range f.queues {
		if len(q) >= MaxQueued {
			return fmt.Errorf("push: %d frames at %v not pulled (at most %d are queued per output)", len(q), f.targets[i], MaxQueued)
		}
	}
	res, err := f.up.UpscaleTo(fr.Image, f.targets...)
	if err != nil {
		return err
	}
	for i, img := range res {
		f.queues[i] = append(f.queues[i], Frame{Image: img, PTS: fr.PTS, Duration: fr.Duration})
	}
	return nil
}

// Peek is the oldest frame queued for target i, left queued; ok is false when none is.
func (f *Filter) Peek(i int) (fr Frame, ok bool) {
	if i < 0 || i >= len(f.queues) || len(f.queues[i]) == 0 {
		return Frame{}, false
	}
	return f.queues[i][0], true
}

// Pull takes the oldest frame queued for target i; ok is false when none is.
func (f *Filter) Pull(i int) (fr Frame, ok bool) {
	if fr, ok = f.Peek(i); ok {
		f.queues[i] = f.queues[i][1:]
	}
	return fr, ok
}

// ScaleIndex is the index of the target of that scale, or an error naming the scales the filter
// produces.
func (f *Filter) ScaleIndex(scale int) (int, error) {
	if i := slices.Index(f.targets, hitsr.Target{Scale: float64(scale)}); i >= 0 {
		return i, nil
	}
	return -1, fmt.Errorf("×%d is not an output of this filter (it produces %v)", scale, f.targets)
}

// Flush ends the stream: later pushes fail; frames queued stay to be pulled. The model keeps
// no frames across pushes, so nothing more is produced.
func (f *Filter) Flush() { f.flushed = true }

// Close frees the queued frames and the model Open loaded.
func (f *Filter) Close() {
	f.queues = nil
	if f.model != nil {
		f.model.Close()
		f.model = nil
	}
}
