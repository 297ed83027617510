package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"go.uber.org/zap"

	"github.com/hitsr/hitsr/pipeline"
)

// Scale-out: plan, one segment per run (video.go), join. See pipeline/plan.go.

// runPlan writes the plan of an input (hitsr-video plan INPUT --segments N).
func runPlan(s *settings, pos []string, stdout, _ io.Writer, log *zap.Logger) error {
	if len(pos) != 1 {
		return fail(exitUsage, "plan: want exactly one input (got %d); see --help", len(pos))
	}
	if (s.segments > 0) == (s.segmentSeconds > 0) {
		return fail(exitUsage, "plan: give --segments N or --segment-seconds S (one of them)")
	}
	var file *pipeline.File
	if s.plan != "" && s.plan != "-" {
		files, err := pipeline.PlanFiles(pos[0], []string{s.plan}, s.overwrite)
		if err != nil {
			return pipelineError(err)
		}
		file = files[0]
		if file == nil {
			return fail(exitUsage, "--plan %s: write the plan to a file or stdout", s.plan)
		}
		defer file.Discard() // unless committed
	} else if err := checkStdout(stdout, pos[0]); err != nil { // the plan goes to stdout
		return err
	}
	stop, release := onSignalsNothingKept(log, func() {
		if file != nil {
			file.Discard()
		}
	})
	defer release()
	plan, err := pipeline.MakePlan(stop, pipeline.PlanOptions{Input: pos[0], InputFormat: s.inputFormat,
		Segments: s.segments, SegmentSeconds: float64(s.segmentSeconds), Log: log})
	if err != nil {
		return pipelineError(err)
	}
	w := stdout
	if file != nil {
		h, err := file.Create()
		if err != nil {
			return pipelineError(err)
		}
		w = h
	}
	if _, err := w.Write(plan.JSON()); err != nil {
		return fail(exitFailure, "--plan %s: %v", s.plan, err)
	}
	if file != nil {
		if err := file.Commit(); err != nil {
			return pipelineError(err)
		}
	}
	log.Info("plan", zap.String("input", pos[0]), zap.Int("segments", len(plan.Segments)),
		zap.Int("frames", plan.Source.Frames), zap.String("id", plan.ID), zap.String("plan", s.plan))
	return nil
}

// segmentRun is the plan segment a run upscales (--plan with --segment, else
// $JOB_COMPLETION_INDEX), or nil without --plan.
func segmentRun(s *settings) (*pipeline.SegmentRun, error) {
	if s.plan == "" {
		if s.segment != "" {
			return nil, fail(exitUsage, "--segment %s needs --plan", s.segment)
		}
		return nil, nil
	}
	arg, from := s.segment, "--segment"
	if arg == "" {
		arg, from = os.Getenv("JOB_COMPLETION_INDEX"), "JOB_COMPLETION_INDEX"
	}
	if arg == "" {
		return nil, fail(exitUsage, "--plan %s: which segment? give --segment I (or set JOB_COMPLETION_INDEX)", s.plan)
	}
	i, err := strconv.Atoi(arg)
	if err != nil || i < 0 {
		return nil, fail(exitUsage, "%s %q: want a segment index (0, 1, …)", from, arg)
	}
	if s.frames > 0 || s.realtime {
		return nil, fail(exitUsage, "--plan: --frames and --realtime would leave the segment short")
	}
	plan, err := pipeline.ReadPlan(s.plan)
	if err != nil {
		return nil, pipelineError(err)
	}
	return &pipeline.SegmentRun{Plan: plan, Index: i}, nil
}

// runJoin joins the segments of every output (hitsr-video join [INPUT] --plan FILE --out …).
func runJoin(s *settings, pos []string, _, _ io.Writer, log *zap.Logger) error {
	if len(pos) > 1 {
		return fail(exitUsage, "join: want at most one input, the plan's source (got %d); see --help", len(pos))
	}
	if s.plan == "" {
		return fail(exitUsage, "join: --plan is required")
	}
	if i := slices.IndexFunc(s.outs, func(o outSpec) bool { return o.hls }); i >= 0 {
		return fail(exitUsage, "join: %s%s: join writes files, not an HLS ladder", hlsPrefix, s.outs[i].path)
	}
	plan, err := pipeline.ReadPlan(s.plan)
	if err != nil {
		return pipelineError(err)
	}
	outs, _, err := videoOutputs(s)
	if err != nil {
		return err
	}
	input := plan.Input
	if len(pos) == 1 {
		input = pos[0]
	}
	j := pipeline.NewJoin(pipeline.JoinOptions{Plan: plan, Input: input, InputFormat: s.inputFormat, Outputs: outs,
		Overwrite: s.overwrite, Log: log})
	stop, release := onSignalsNothingKept(log, j.Abort)
	defer release()
	frames, err := j.Run(stop)
	if err != nil {
		if errors.Is(err, pipeline.ErrInterrupted) {
			err = fmt.Errorf("%w: no output written", err)
		}
		return pipelineError(err)
	}
	names := make([]string, len(outs))
	for i, o := range outs {
		names[i] = o.URL
	}
	log.Info("joined", zap.Strings("outputs", names), zap.Int("segments", len(plan.Segments)), zap.Int("frames", frames))
	return nil
}
