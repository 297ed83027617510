// Package pipeline upscales a video to several outputs in one run: demux → decode → RGB →
// one model pass per frame (all scales) → per-output colour conversion → encode → mux.
// Decoding, the model and each output's encoder run concurrently with bounded queues;
// audio and subtitle streams are copied (or re-encoded to AAC when a container refuses them).
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"
	"go.uber.org/zap"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/plugin"
)

// Upscaler produces every target from one pass over a frame (hitsr.Model is one).
type Upscaler interface {
	UpscaleTo(img *imageio.Image, targets ...hitsr.Target) ([]*imageio.Image, error)
}

// Degrader is an Upscaler with a cheaper path (hitsr.Model's fidelity mode under full mode):
// with Realtime, a frame that finds others waiting behind it takes that path (Degraded) before
// any frame is dropped. ok is false when there is no cheaper path.
type Degrader interface {
	UpscaleToCheap(img *imageio.Image, targets ...hitsr.Target) (out []*imageio.Image, ok bool, err error)
}

// Shots is an Upscaler that carries state from frame to frame (hitsr.Model: token memory and
// stabilisation): NewShot makes the next frame start afresh, as at a keyframe, so that a plan's
// segment (which starts at one) upscales its frames as a single run does.
type Shots interface{ NewShot() }

// Output is one requested output.
type Output struct {
	URL     string       // file path, "-" for stdout, or an FFmpeg URL (udp://, srt://, …)
	Format  string       // muxer name; "" = from the file name ("nut" for stdout)
	Target  hitsr.Target // scale or exact size
	Codec   string       // encoder name; "" = libx264 when the container takes H.264
	CRF     int          // constant-rate factor (used when Bitrate is 0; < 0 = encoder default)
	Bitrate int64        // bits per second; 0 = CRF
	Preset  string       // encoder preset ("" = encoder default)
	PixFmt  string       // pixel format ("" = yuv420p, or the encoder's first when it lacks it)
	VF      string       // filter chain (FFmpeg syntax) on this output's frames after the model
	rend    *rendition   // set for a rendition of an HLS ladder
}

// Options configures a run.
type Options struct {
	Input       string // file path, "-" for stdin, or an FFmpeg URL
	InputFormat string // demuxer name; "" = probe
	VF          string // filter chain on the decoded frames (FFmpeg syntax); see ParseChain
	Outputs     []Output
	Ladders     []Ladder // HLS outputs
	Overwrite   bool     // replace existing output files
	Realtime    bool     // drop frames instead of queueing when the model falls behind
	Queue       int      // frames buffered between stages (0: DefaultQueue)
	MaxFrames   int      // stop after this many frames (0 = all)
	// MaxDelay, with Realtime, is the longest a frame waits for the model: an older one is
	// dropped while a newer one waits (0: DefaultMaxDelay, the queue's length in input time).
	MaxDelay time.Duration
	// InputTimeout ends a network input (udp://, srt://, …) when no packet arrives for this
	// long after the first: the outputs are finalised as at the end of a file. 0: wait forever.
	InputTimeout time.Duration
	// OutputTimeout fails the run when a network output stays blocked in one write this long
	// (its receiver stopped reading). 0: wait forever.
	OutputTimeout time.Duration
	Log           *zap.Logger
	// Progress, if set, is called from the model stage after every frame.
	Progress func(Stats)
	// Segment, if set, limits the run to one segment of a plan (scale-out).
	Segment *SegmentRun
}

// Stats describes a run's progress.
type Stats struct {
	Decoded, Done, Dropped int
	Degraded               int           // done on the Degrader's cheaper path (Realtime)
	Queued                 int           // frames waiting for the model (at most Options.Queue)
	Backlog                int           // frames waiting in the fullest output's encoder queue
	TotalFrames            int           // estimate; 0 when unknown (live input)
	Position, Duration     time.Duration // media time done; input duration (0 = unknown)
	Elapsed                time.Duration
}

// Kind classifies errors for exit codes.
type Kind int

const (
	KindFailure Kind = iota // compute, encode, write
	KindUsage               // bad output options
	KindInput               // unreadable or unsupported input
)

// Error is a pipeline error with its kind.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func errf(k Kind, format string, args ...any) error {
	return &Error{k, fmt.Errorf(format, args...)}
}

// ErrInterrupted is returned when the run was stopped by its context: the outputs hold the
// frames processed until then and were finalised.
var ErrInterrupted = errors.New("interrupted")

// ErrInterruptedOpening is ErrInterrupted before Run: nothing was written.
var ErrInterruptedOpening = fmt.Errorf("%w while opening: no output written", ErrInterrupted)

// ErrAborted is returned after Abort: partial outputs were removed.
var ErrAborted = errors.New("aborted: partial outputs removed")

// frameJob is one frame on its way through the model and the encoders.
type frameJob struct {
	img             *imageio.Image
	pts, dur, first int64     // input stream time base; first = the stream's first pts
	queued          time.Time // when it entered the model queue
	key             bool      // a keyframe of the input (Shots)
}

// Pipeline is one run: New, Open, Run, Close; Abort from anywhere.
type Pipeline struct {
	o       Options
	in      *input
	outs    []*output
	aborted context.Context
	abort   context.CancelCauseFunc
	mu      sync.Mutex
	files   []*File // every output file, as soon as planned (for Abort)
	ladders []*ladder
	chain   *Chain // Options.VF parsed; nil without one
}

// New prepares a run of o; nothing is opened yet.
func New(o Options) *Pipeline {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	p := &Pipeline{o: o}
	p.aborted, p.abort = context.WithCancelCause(context.Background())
	return p
}

// Open checks the outputs' files against the input and each other (PlanFiles) before reading
// anything, then opens the input and every output (encoder and container header): bad input
// and bad output settings are reported here, before any work.
func (p *Pipeline) Open() error { return p.OpenContext(context.Background()) }

// OpenContext is Open cut short by stop (or Abort): a blocked open or read of the input (a
// network stream with no data yet) returns, and so does OpenContext, with ErrInterrupted
// (ErrAborted after Abort); nothing is kept.
func (p *Pipeline) OpenContext(stop context.Context) error {
	ctx, cancel := context.WithCancel(p.aborted)
	defer cancel()
	defer context.AfterFunc(stop, cancel)()
	err := p.open(ctx)
	switch {
	case p.aborted.Err() != nil:
		return ErrAborted
	case ctx.Err() != nil:
		return ErrInterruptedOpening
	}
	return err
}

func (p *Pipeline) open(ctx context.Context) error {
	o := p.o
	if len(o.Outputs)+len(o.Ladders) == 0 {
		return errf(KindUsage, "no outputs")
	}
	for _, l := range o.Ladders {
		if o.Segment != nil {
			return errf(KindUsage, "hls:%s: a scale-out segment run writes files, not an HLS ladder", l.Dir)
		}
	}
	names := make([]string, len(o.Outputs))
	for i, out := range o.Outputs {
		names[i] = out.URL
		if o.Segment != nil {
			var err error
			if names[i], err = o.Segment.path(out.URL); err != nil {
				return err
			}
		}
	}
	posts, err := p.parseChains()
	if err != nil {
		return err
	}
	files, err := PlanFiles(o.Input, names, o.Overwrite)
	if err != nil {
		return err
	}
	if o.Segment != nil {
		if err := refuseReads(files, []string{o.Segment.Plan.path}); err != nil {
			return err
		}
	}
	for _, out := range o.Outputs { // every container, before anything is read
		if _, _, err := containerFormat(out); err != nil {
			return err
		}
	}
	if err := checkLadders(o.Input, o.Ladders, files, o.Overwrite); err != nil {
		return err
	}
	p.mu.Lock()
	p.files = files
	p.mu.Unlock()
	if p.aborted.Err() != nil {
		return ErrAborted
	}
	if p.in, err = openInputContext(ctx, o.Input, o.InputFormat, o.Log); err != nil {
		return err
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue(o.Realtime, p.in.fps().Float64())
		p.o.Queue = o.Queue
	}
	if o.MaxDelay <= 0 {
		p.o.MaxDelay = DefaultMaxDelay(o.Queue, p.in.fps().Float64())
	}
	if o.Segment != nil {
		if err := p.in.selectSegment(o.Segment); err != nil {
			return err
		}
	}
	if p.chain != nil && p.chain.Before != "" {
		if err := p.in.setChain(p.chain.Before); err != nil {
			return err
		}
	}
	for i, spec := range o.Outputs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		spec.VF = posts[i]
		w, err := newOutput(p.in, spec, files[i], o)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.outs = append(p.outs, w)
		p.mu.Unlock()
	}
	for _, spec := range o.Ladders {
		l, outs, err := openLadder(p.in, spec, o)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.ladders = append(p.ladders, l)
		p.outs = append(p.outs, outs...)
		p.mu.Unlock()
	}
	return nil
}

// AbandonStalled gives up, after a stop, on the outputs blocked in one write for longer than d
// (their receivers stopped reading), so that the others can be finished: a network output's
// write is interrupted and the output is dropped. It returns the names given up on, and ok false
// when one of them cannot be interrupted (a FIFO, a pipe, stdout): only Abort ends that run.
func (p *Pipeline) AbandonStalled(d time.Duration) (names []string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ok = true
	for _, w := range p.outs {
		if w.abandoned.Load() || w.stalledFor() <= d {
			continue
		}
		names = append(names, w.name)
		if !w.interruptible() {
			ok = false
			continue
		}
		w.abandoned.Store(true)
		w.intr.Interrupt()
	}
	return names, ok
}

// Abort stops the run at once and removes its partial outputs (outputs already finalised
// stay); Run then returns ErrAborted. It may be called from any goroutine at any time, and
// returns once the partial files are gone.
func (p *Pipeline) Abort() {
	p.abort(ErrAborted)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.files {
		if f != nil {
			f.Discard()
		}
	}
	for _, l := range p.ladders {
		l.discard()
	}
}

// Close frees everything and removes partial outputs.
func (p *Pipeline) Close() {
	for _, w := range p.outs {
		w.close()
	}
	if p.in != nil {
		p.in.close()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.files {
		if f != nil {
			f.Discard()
		}
	}
	for _, l := range p.ladders {
		l.discard()
	}
}

// Run opens and processes a whole input (New, Open, Pipeline.Run, Close).
func Run(stop context.Context, up Upscaler, o Options) (Stats, error) {
	p := New(o)
	defer p.Close()
	if err := p.Open(); err != nil {
		return Stats{}, err
	}
	return p.Run(stop, up)
}

// Run processes the input. Cancelling stop finishes gracefully: reading stops, the frame in
// the model and those already upscaled are encoded, the outputs are finalised and Run returns
// ErrInterrupted; frames still queued for the model are dropped.
func (p *Pipeline) Run(stop context.Context, up Upscaler) (Stats, error) {
	o, in, outs := p.o, p.in, p.outs
	targets := make([]hitsr.Target, len(outs))
	for i, w := range outs {
		targets[i] = w.spec.Target
	}
	names := make([]string, len(outs))
	for i, w := range outs {
		names[i] = fmt.Sprintf("%s (%dx%d %s)", w.name, w.enc.Width(), w.enc.Height(), w.enc.PixelFormat().Name())
	}
	o.Log.Info("upscaling", zap.String("input", in.name), zap.String("size", fmt.Sprintf("%dx%d", in.w, in.h)),
		zap.Float64("fps", in.fps().Float64()), zap.Strings("outputs", names))

	abortCtx, fail := context.WithCancelCause(p.aborted)
	defer fail(nil)
	go func() { // interrupt blocking input reads on stop/abort
		select {
		case <-stop.Done():
		case <-abortCtx.Done():
		}
		in.interrupt()
	}()

	st := &runStats{start: time.Now(), total: in.frameEstimate(), duration: in.duration()}
	if o.Segment != nil {
		st.total = o.Segment.Plan.Segments[o.Segment.Index].Frames
	}
	if o.MaxFrames > 0 && (st.total == 0 || st.total > o.MaxFrames) {
		st.total = o.MaxFrames
	}
	if o.InputTimeout > 0 && IsNetwork(o.Input) {
		in.stall = watchStalls(abortCtx, in, o.InputTimeout)
	}
	if o.OutputTimeout > 0 {
		go watchReceivers(abortCtx, outs, o.OutputTimeout, fail)
	}
	jobs := make(chan *frameJob, o.Queue)
	st.queues = func() (int, int) {
		backlog := 0
		for _, w := range outs {
			backlog = max(backlog, len(w.ch))
		}
		return len(jobs), backlog
	}
	var producers sync.WaitGroup
	producers.Add(2)
	go func() { // decode
		defer producers.Done()
		defer close(jobs)
		if err := in.run(stop, abortCtx, jobs, outs, o.Realtime, o.MaxFrames, st); err != nil {
			fail(err)
		}
	}()
	pace := &pacer{realtime: o.Realtime, maxDelay: o.MaxDelay, now: time.Now}
	var cur *frameJob // the frame in the model, for the pacer
	model, _ := plugin.New(plugin.UpscalerFunc(func(img *imageio.Image, targets ...hitsr.Target) ([]*imageio.Image, error) {
		return pace.upscale(up, cur, targets, cap(jobs)-len(jobs), in.timeBase(), st, o.Log)
	}), targets...)
	go func() { // model
		defer producers.Done()
		staleDrops := 0
		for j := range jobs {
			if stop.Err() != nil {
				continue // drop what is queued; the decoder stops too
			}
			if pace.stale(j, len(jobs)) {
				st.dropped.Add(1)
				if staleDrops++; staleDrops == 1 {
					o.Log.Warn("realtime: frames waited longer than the max delay for the model; dropping the oldest",
						zap.Duration("max_delay", o.MaxDelay))
				}
				continue
			}
			cur = j
			if err := model.Push(plugin.Frame{Image: j.img, PTS: j.pts, Duration: j.dur}); err != nil {
				fail(errf(KindFailure, "model: %v", err))
				return
			}
			for i, w := range outs {
				res, _ := model.Pull(i)
				if !w.send(abortCtx, item{frame: &frameJob{img: res.Image, pts: res.PTS, dur: res.Duration}}) {
					return
				}
			}
			st.done.Add(1)
			st.lastPts.Store(j.pts - j.first)
			if o.Progress != nil {
				o.Progress(st.snapshot(in.timeBase()))
			}
		}
	}()
	var writers sync.WaitGroup
	for _, w := range outs {
		writers.Add(1)
		go func() {
			defer writers.Done()
			if err := w.run(stop, abortCtx); err != nil {
				if !w.abandoned.Load() {
					fail(err)
					return
				}
				for range w.ch { // given up on (AbandonStalled): the model stage must not block on it
				}
			}
		}()
	}
	producers.Wait()
	if stop.Err() != nil && abortCtx.Err() == nil {
		o.Log.Info("stopped: finalising the outputs", zap.Int64("frames", st.done.Load()))
	}
	for _, w := range outs {
		close(w.ch)
	}
	writers.Wait()

	stats := st.snapshot(in.timeBase())
	if err := context.Cause(abortCtx); err != nil {
		return stats, err
	}
	if stats.Done == 0 && stop.Err() != nil {
		return stats, ErrInterrupted // nothing to keep: Close removes the outputs
	}
	if stats.Decoded == 0 && in.decoded > 0 {
		return stats, errf(KindUsage, "--vf: the filter chain passed no frames (%d decoded)", in.decoded)
	}
	if stats.Decoded == 0 {
		return stats, errf(KindInput, "%s: no video frame could be decoded", in.name)
	}
	if o.Segment != nil {
		if err := o.Segment.finished(stats.Done, stop.Err() != nil); err != nil {
			return stats, err // Close removes the segment files
		}
	}
	var empty []string // an output without video fails the run and is not kept; the others are
	kind := KindUsage
	for _, w := range outs {
		if w.abandoned.Load() { // a network output: no file to keep or remove
			continue
		}
		if err := w.emptyError(); err != nil {
			if w.file != nil {
				w.file.Discard()
			}
			empty = append(empty, err.Error())
			kind = min(kind, err.(*Error).Kind) // a failure over a usage error
			continue
		}
		if w.file != nil {
			if err := w.file.Commit(); err != nil {
				return stats, err
			}
		}
	}
	if len(empty) > 0 && stop.Err() == nil {
		return stats, errf(kind, "%s (not kept)", strings.Join(empty, "; "))
	}
	if len(empty) > 0 {
		o.Log.Warn("stopped before these outputs had a frame; not kept", zap.Strings("outputs", empty))
	}
	for _, l := range p.ladders {
		if err := l.finish(); err != nil {
			return stats, err
		}
	}
	if stop.Err() != nil {
		return stats, ErrInterrupted
	}
	return stats, nil
}

// pacer runs the model on each frame and, in realtime, keeps frames fresh: it skips a frame
// that waited longer than maxDelay while a newer one waits (stale), and sends a frame down a
// Degrader's cheaper path when a full pass (its running mean) would end after maxDelay or not
// before the frames arriving meanwhile overflow the queue's free slots (cheap), so frames are
// degraded before any is dropped.
type pacer struct {
	realtime bool
	maxDelay time.Duration
	now      func() time.Time
	full     time.Duration // mean full-pass time (exponential, 1/4 weight to the newest)
}

// stale reports whether the model skips j: in realtime, it waited longer than maxDelay and
// newer frames wait behind it. The oldest go first; the newest frame is always run, so a model
// slower than maxDelay still shows the present.
func (p *pacer) stale(j *frameJob, newer int) bool {
	return p.realtime && newer > 0 && p.now().Sub(j.queued) > p.maxDelay
}

// cheap reports whether j should take the cheaper path: a full pass would end after maxDelay,
// or would let more frames arrive (one per interval) than the free slots hold.
func (p *pacer) cheap(j *frameJob, free int, interval time.Duration) bool {
	return p.realtime && (p.now().Sub(j.queued)+p.full > p.maxDelay || p.full*5 > time.Duration(free)*interval*4)
}

func (p *pacer) upscale(up Upscaler, j *frameJob, targets []hitsr.Target, free int, tb astiav.Rational, st *runStats, log *zap.Logger) ([]*imageio.Image, error) {
	interval := time.Duration(float64(j.dur) * tb.Float64() * float64(time.Second))
	if s, ok := up.(Shots); ok && j.key {
		s.NewShot()
	}
	if d, ok := up.(Degrader); ok && p.cheap(j, free, interval) {
		res, cheap, err := d.UpscaleToCheap(j.img, targets...)
		if cheap || err != nil {
			if err == nil && st.degraded.Add(1) == 1 {
				log.Warn("realtime: the model is behind the input; degrading frames to the fidelity path (frames are dropped only if that is not enough)")
			}
			return res, err
		}
	}
	t0 := p.now()
	res, err := up.UpscaleTo(j.img, targets...)
	took := p.now().Sub(t0)
	if p.full == 0 {
		p.full = took
	}
	p.full = (3*p.full + took) / 4
	return res, err
}

type runStats struct {
	start         time.Time
	total         int
	duration      time.Duration
	decoded, done atomic.Int64
	dropped       atomic.Int64
	degraded      atomic.Int64
	lastPts       atomic.Int64
	queues        func() (model, backlog int)
}

func (s *runStats) snapshot(tb astiav.Rational) Stats {
	pos := time.Duration(0)
	if tb.Den() > 0 {
		pos = time.Duration(float64(s.lastPts.Load()) * tb.Float64() * float64(time.Second))
	}
	st := Stats{
		Decoded: int(s.decoded.Load()), Done: int(s.done.Load()), Dropped: int(s.dropped.Load()),
		Degraded:    int(s.degraded.Load()),
		TotalFrames: s.total, Position: pos, Duration: s.duration, Elapsed: time.Since(s.start),
	}
	if s.queues != nil {
		st.Queued, st.Backlog = s.queues()
	}
	return st
}
