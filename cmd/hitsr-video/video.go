package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/hitsr/hitsr/pipeline"
)

// videoOutputs turns output specs into pipeline outputs and HLS ladders: per-output options
// over the globals.
func videoOutputs(s *settings) ([]pipeline.Output, []pipeline.Ladder, error) {
	var outs []pipeline.Output
	var ladders []pipeline.Ladder
	for _, o := range s.outs {
		if o.hls {
			l, err := ladderOf(o, s)
			if err != nil {
				return nil, nil, err
			}
			ladders = append(ladders, l)
			continue
		}
		outs = append(outs, outputOf(o, s))
	}
	return outs, ladders, nil
}

// outputOf is one output: its own options (checked by setOpt) over the globals.
func outputOf(o outSpec, s *settings) pipeline.Output {
	get := func(k, def string) string {
		if v, ok := o.opts[k]; ok {
			return v
		}
		return def
	}
	out := pipeline.Output{URL: o.path, Target: o.target, Format: get("format", s.format),
		Codec: get("codec", s.codec), Preset: get("preset", s.preset), PixFmt: get("pix-fmt", s.pixFmt),
		CRF: s.crf, Bitrate: s.bitrate, VF: o.opts[vfKey]}
	if v, ok := o.opts["crf"]; ok {
		out.CRF, _ = strconv.Atoi(v)
	}
	if v, ok := o.opts["bitrate"]; ok {
		out.Bitrate, _ = parseBitrate(v)
	}
	return out
}

// chainMode takes the mode named by --vf's hitsr (hitsr=mode=full) unless --mode names another.
func chainMode(s *settings) error {
	if s.vf == "" {
		return nil
	}
	c, err := pipeline.ParseChain(s.vf)
	if err != nil {
		return fail(exitUsage, "--vf: %v", err)
	}
	if c.Hitsr == nil || c.Hitsr.Mode == "" {
		return nil
	}
	if s.mode != "auto" && s.mode != c.Hitsr.Mode {
		return fail(exitUsage, "--vf: hitsr mode=%s conflicts with --mode %s", c.Hitsr.Mode, s.mode)
	}
	s.mode = c.Hitsr.Mode
	return nil
}

// onSignalsNothingKept is onSignalsFrom for a command that keeps nothing when stopped (plan,
// join): the first SIGINT/SIGTERM cancels stop, and a run that has not returned openGrace later
// (blocked opening or writing a FIFO, an idle input) is abandoned as after a second signal.
func onSignalsNothingKept(log *zap.Logger, abort func()) (stop context.Context, release func()) {
	return onSignalsFrom(log, abort, func() bool { return false }, nil)
}

// onSignalsFrom: the first SIGINT/SIGTERM cancels stop (finish gracefully); the second aborts
// (abort removes the partial outputs) and exits at once. Before the run has started (started
// false) there is nothing to finish, and an open that stop cannot interrupt (a FIFO, stdin, an
// output connecting) is abandoned after openGrace as after a second signal. After it has, outputs
// whose writes have been blocked for stallGrace (a receiver that stopped reading) cannot be
// finished: abandonStalled gives up on them so the others can be; when it cannot (a FIFO or a
// pipe), the run is abandoned as after a second signal.
func onSignalsFrom(log *zap.Logger, abort func(), started func() bool, abandonStalled func(time.Duration) ([]string, bool)) (stop context.Context, release func()) {
	stop, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	var mu sync.Mutex // held from abandoning to the exit: release then blocks
	released := false
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	signalsHandled.Store(true)
	go func() {
		sig, ok := <-ch
		if !ok {
			return
		}
		var grace, tick <-chan time.Time
		if started() {
			log.Warn("stopping: finishing the frames in flight and closing the outputs (signal again to abort)",
				zap.String("signal", sig.String()))
			t := time.NewTicker(stallGrace / 10)
			defer t.Stop()
			tick = t.C
		} else {
			log.Warn("stopping: no output will be written", zap.String("signal", sig.String()))
			grace = time.After(openGrace)
		}
		cancel()
		err := pipeline.ErrAborted
	wait:
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					return
				}
				break wait
			case <-grace:
				err = pipeline.ErrInterruptedOpening
				break wait
			case <-tick:
				names, ok := abandonStalled(stallGrace)
				if !ok {
					err = fmt.Errorf("stopped: %s accepted no data for %v, so it cannot be finished; outputs not finished were removed", strings.Join(names, ", "), stallGrace)
					break wait
				}
				if len(names) > 0 {
					log.Warn("stopping: these outputs accepted no data and are given up; finishing the others", zap.Strings("outputs", names), zap.Duration("for", stallGrace))
				}
			}
		}
		mu.Lock()
		if released {
			return
		}
		abort()
		logExit(log, err, exitInterrupted)
		os.Exit(exitInterrupted)
	}()
	return stop, func() {
		mu.Lock()
		released = true
		mu.Unlock()
		signal.Stop(ch)
		close(ch)
		cancel()
	}
}

// openGrace is how long a first signal before the run leaves the opens to return by themselves;
// stallGrace how long after it an output may stay blocked in a write.
const (
	openGrace  = time.Second
	stallGrace = 5 * time.Second
)

// exitCodes maps pipeline error kinds to exit codes.
var exitCodes = map[pipeline.Kind]int{pipeline.KindFailure: exitFailure, pipeline.KindUsage: exitUsage, pipeline.KindInput: exitInput}

// pipelineError gives a pipeline error its exit code.
func pipelineError(err error) error {
	var pe *pipeline.Error
	switch {
	case errors.Is(err, pipeline.ErrInterrupted), errors.Is(err, pipeline.ErrAborted):
		return &exitError{exitInterrupted, err}
	case errors.As(err, &pe):
		return &exitError{exitCodes[pe.Kind], pe}
	}
	return err
}

func upscaleVideo(input string, s *settings, stderr io.Writer, log *zap.Logger) error {
	outs, ladders, err := videoOutputs(s)
	if err != nil {
		return err
	}
	seg, err := segmentRun(s)
	if err != nil {
		return err
	}
	bar := newProgress(stderr, log, s.progress)
	if err := chainMode(s); err != nil {
		return err
	}
	p := pipeline.New(pipeline.Options{Input: input, InputFormat: s.inputFormat, VF: s.vf, Outputs: outs, Ladders: ladders, Overwrite: s.overwrite,
		Realtime: s.realtime, InputTimeout: time.Duration(s.inputTimeout) * time.Second, OutputTimeout: time.Duration(s.outputTimeout) * time.Second, Queue: s.queue, MaxDelay: time.Duration(s.maxDelay * float64(time.Second)), MaxFrames: s.frames, Segment: seg, Log: log, Progress: bar.update})
	defer p.Close()
	var started atomic.Bool
	stop, release := onSignalsFrom(log, p.Abort, started.Load, p.AbandonStalled)
	defer release()
	network := pipeline.IsNetwork(input) // a live stream is read as soon as it opens: the model first
	if !network {
		if err := p.OpenContext(stop); err != nil { // every input and output problem, before the model loads
			return pipelineError(err)
		}
	}
	m, notice, err := s.load()
	if err != nil {
		return err
	}
	defer m.Close()
	if network {
		if err := p.OpenContext(stop); err != nil {
			return pipelineError(err)
		}
	}
	if notice != "" {
		log.Info(notice)
	}
	m.ReuseTiles, m.ReuseThreshold, m.SceneCut = s.reuse, s.reuseThreshold, s.sceneCut // still tiles of consecutive frames reuse work
	m.Stabilize = s.stabilize
	start := time.Now()
	started.Store(true)
	st, err := p.Run(stop, m)
	bar.finish()
	switch {
	case errors.Is(err, pipeline.ErrInterrupted) && seg != nil:
		err = fmt.Errorf("%w: segment %d not kept (a partial segment cannot be joined)", err, seg.Index)
	case errors.Is(err, pipeline.ErrInterrupted) && st.Done == 0:
		err = fmt.Errorf("%w before the first frame: no output written", err)
	case errors.Is(err, pipeline.ErrInterrupted):
		err = fmt.Errorf("%w: the outputs are finalised (frames: %d)", err, st.Done)
	}
	if err != nil {
		return pipelineError(err)
	}
	fps := float64(st.Done) / max(time.Since(start).Seconds(), 1e-9)
	if seg != nil {
		log = log.With(zap.Int("segment", seg.Index), zap.Int("segments", len(seg.Plan.Segments)))
	}
	log.Info("done", zap.Int("frames", st.Done), zap.Int("decoded", st.Decoded), zap.String("mode", m.Mode.String()), zap.Int("degraded", st.Degraded), zap.Int("dropped", st.Dropped),
		zap.Duration("elapsed", time.Since(start).Round(time.Millisecond)), zap.Float64("fps", round2(fps)),
		zap.Int("tiles_run", m.TilesRun), zap.Int("tiles_reused", m.TilesReused), zap.Int("scene_cuts", m.SceneCuts))
	return nil
}
