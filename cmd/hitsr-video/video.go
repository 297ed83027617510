package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/hitsr/hitsr/pipeline"
)

// videoOutputs turns output specs into pipeline outputs: per-output options over the globals.
func videoOutputs(s *settings) ([]pipeline.Output, error) {
	var outs []pipeline.Output
	for _, o := range s.outs {
		get := func(k, def string) string {
			if v, ok := o.opts[k]; ok {
				return v
			}
			return def
		}
		out := pipeline.Output{URL: o.path, Target: o.target, Format: get("format", s.format),
			Codec: get("codec", s.codec), Preset: get("preset", s.preset), PixFmt: get("pix-fmt", s.pixFmt),
			CRF: s.crf, Bitrate: s.bitrate}
		if v, ok := o.opts["crf"]; ok {
			crf, err := strconv.Atoi(v)
			if err != nil || crf < -1 || crf > 63 {
				return nil, fail(exitUsage, "%s: invalid crf %q", o.path, v)
			}
			out.CRF = crf
		}
		if v, ok := o.opts["bitrate"]; ok {
			br, err := parseBitrate(v)
			if err != nil {
				return nil, fail(exitUsage, "%s: %v", o.path, err)
			}
			out.Bitrate = br
		}
		outs = append(outs, out)
	}
	return outs, nil
}

// signalContexts: the first SIGINT/SIGTERM cancels stop (finish gracefully), the second abort.
func signalContexts(log *zap.Logger) (stop, abort context.Context, release func()) {
	stop, cancelStop := context.WithCancel(context.Background())
	abort, cancelAbort := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		n := 0
		for sig := range ch {
			if n++; n == 1 {
				log.Warn("stopping: finishing the frames in flight and closing the outputs (signal again to abort)",
					zap.String("signal", sig.String()))
				cancelStop()
				continue
			}
			log.Warn("aborting: partial outputs are removed", zap.String("signal", sig.String()))
			cancelAbort()
		}
	}()
	return stop, abort, func() {
		signal.Stop(ch)
		close(ch)
		cancelStop()
		cancelAbort()
	}
}

func upscaleVideo(input string, s *settings, stderr io.Writer) error {
	outs, err := videoOutputs(s)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, s.logLevel)
	if err != nil {
		return err
	}
	defer log.Sync()
	m, notice, err := s.load()
	if err != nil {
		return err
	}
	defer m.Close()
	if notice != "" {
		log.Info(notice)
	}
	m.ReuseTiles = true // static tiles of consecutive frames skip the model
	stop, abort, release := signalContexts(log)
	defer release()
	bar := newProgress(stderr, log, s.progress)
	start := time.Now()
	st, err := pipeline.Run(stop, abort, m, pipeline.Options{
		Input: input, InputFormat: s.inputFormat, Outputs: outs, Overwrite: s.overwrite,
		Realtime: s.realtime, Queue: s.queue, MaxFrames: s.frames, Log: log, Progress: bar.update,
	})
	bar.finish()
	fps := float64(st.Done) / max(time.Since(start).Seconds(), 1e-9)
	var pe *pipeline.Error
	switch {
	case errors.Is(err, pipeline.ErrInterrupted):
		log.Warn("interrupted: outputs hold the frames done so far", zap.Int("frames", st.Done))
		return &exitError{exitInterrupted, err}
	case errors.As(err, &pe):
		code := map[pipeline.Kind]int{pipeline.KindUsage: exitUsage, pipeline.KindInput: exitInput}[pe.Kind]
		if code == 0 {
			code = exitFailure
		}
		return &exitError{code, pe}
	case err != nil:
		return err
	}
	log.Info("done", zap.Int("frames", st.Done), zap.Int("dropped", st.Dropped),
		zap.Duration("elapsed", time.Since(start).Round(time.Millisecond)), zap.Float64("fps", round2(fps)),
		zap.Int("tiles_run", m.TilesRun), zap.Int("tiles_reused", m.TilesReused))
	return nil
}
