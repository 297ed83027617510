// Command hitsr-video upscales videos and images with the hitsr model to several sizes at
// once (one model pass per frame), and evaluates it against bicubic and Lanczos.
//
//	hitsr-video in.mp4 --out 2x.mp4,4x.mp4
//	hitsr-video photo.png --out 2x.png,4x.png
//	hitsr-video eval Set5/HR --scales 2,4 --csv set5.csv --chart set5.png
package main

import (
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/model"
	"github.com/hitsr/hitsr/models"
	"github.com/hitsr/hitsr/pipeline"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1   // compute, device, encode or write failure
	exitUsage       = 2   // bad flags, --out, config file or output settings
	exitInput       = 3   // unreadable, corrupt, empty, unsupported or too large input
	exitModel       = 4   // missing model file or weights that do not match the config
	exitInterrupted = 130 // stopped by SIGINT/SIGTERM; outputs finalised with the frames done
)

// usage is the --help text; the flag lists come from the table (config.go).
func usage() string {
	return fmt.Sprintf(`usage:
  hitsr-video INPUT --out SPEC[,SPEC...] [flags]
  hitsr-video eval DIR [eval flags]
  hitsr-video plan INPUT (--segments N | --segment-seconds S) [--plan FILE]
  hitsr-video INPUT --plan FILE --segment I --out SPEC[,SPEC...] [flags]
  hitsr-video join [INPUT] --plan FILE --out SPEC[,SPEC...] [-y]

INPUT is a video file, "-" (stdin) or an FFmpeg URL (udp://, srt://, rtmp://, http://...), or a
PNG/JPEG image. Each output SPEC (repeat --out or separate with commas) is one of
  2x.mp4              scale from the leading "Nx" of the file name (1.5x_a.mkv works too)
  3:name.mkv          scale S:name (name may be "-" for stdout, or a URL)
  1920x1080:hd.mp4    exact size WxH:name (display aspect kept through the sample aspect ratio)
  hls:live            an HLS ladder: live/master.m3u8 and live/WxH/index.m3u8 per --ladder
                      rendition, segments cut at the same keyframes in every rendition
followed optionally by per-output settings: 4x.mkv#codec=libx265:crf=22:preset=slow
(keys: %s).
Native model scales (1, 2, 4) come from one model pass per frame; other sizes are resampled
(Lanczos-3) from the nearest larger native scale. Audio and subtitles are copied (audio
re-encoded to AAC when the container cannot hold it); metadata, rotation, frame rate and every
frame timestamp (variable frame rate included) are kept. Output files are written under a
temporary name next to the final one and renamed when complete; existing character devices and
FIFOs are written in place. An output that is the input (or another output, or a directory) is
refused, whatever the path that names it, and so is a run whose stdout (a plan, eval's table, an
image run's summary) is its input. Image outputs are local files.
Limits: %d px per side and %d Mpx per frame (input and output).

examples:
  hitsr-video testdata/sample.mp4 --out out/2x.mp4,out/4x.mp4
  hitsr-video talk.mkv -o 1920x1080:hd.mp4#crf=20 -o 4x.mkv#codec=libx265:pix-fmt=yuv420p10le
  ffmpeg -i in.mp4 -f nut - | hitsr-video - --out 2:- --format nut | ffplay -
  hitsr-video udp://0.0.0.0:5000 --realtime --out 2:udp://10.0.0.2:5001 --format mpegts
  hitsr-video srt://:9000?mode=listener --realtime --out hls:live --ladder 1,2#bitrate=2M,4#bitrate=6M --hls-list-size 6
  hitsr-video photo.png --out 2x.png,4x.jpg

flags:
%s
Every setting can also be given in the config file, with the flag's name as the key, or as
HITSR_<NAME> in the environment (HITSR_CRF=20, HITSR_PIX_FMT=yuv444p); flags win over the
environment, which wins over the file. The file's form of --out is an %q list of
{path, scale|size, %s}.

Signals: the first SIGINT/SIGTERM stops reading, finishes the frames in flight and finalises the
outputs (valid, shorter files under their final names; exit 130); a second one aborts at once
(exit 130) and removes the partial outputs.

eval: for every PNG/JPEG in DIR, modcrop to the scale, LR = antialiased bicubic, and report
PSNR-Y/SSIM-Y (BT.601, scale pixels shaved) of hitsr, bicubic and Lanczos-3. --csv and --chart
are checked and written as outputs are (never an image of DIR; an existing file only with -y).

eval flags:
%s
scale-out: "plan" cuts INPUT at keyframes into segments (demuxing only) and writes a JSON plan.
A --plan run upscales one segment (I from --segment or $JOB_COMPLETION_INDEX), video only, to
OUT.segNNN.nut next to each output, on any machine that sees INPUT and the outputs' directory.
"join" muxes each output from its segments without re-encoding, with INPUT's audio, subtitles
and metadata (INPUT defaults to the plan's), after checking that every segment is there and
holds exactly the source's frames (count and timestamps); give it the runs' --out.

plan flags:
%s
join flags:
%s
exit codes: 0 success, 1 compute/device/encode/write failure, 2 usage error (flags, --out,
config), 3 bad input (unreadable, corrupt, no video, unsupported, too large), 4 missing or
mismatched model file, 130 interrupted (outputs finalised; a segment run or a join keeps
nothing). Scale-out: a bad plan or a plan for another input is 2, a missing, short or foreign
segment 3.
`, strings.Join(perOutputKeys, ", "), imageio.MaxSide, imageio.MaxPixels>>20, flagUsage(cmdUpscale),
		outputsKey, strings.Join(perOutputKeys, ", "), flagUsage(cmdEval), flagUsage(cmdPlan), flagUsage(cmdJoin))
}

var errHelp = pflag.ErrHelp

// subcommands are the first arguments that name a command other than upscaling.
var subcommands = map[string]struct {
	cmd command
	run func(s *settings, pos []string, stdout, stderr io.Writer, log *zap.Logger) error
}{"eval": {cmdEval, runEval}, "plan": {cmdPlan, runPlan}, "join": {cmdJoin, runJoin}}

type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func fail(code int, format string, args ...any) error {
	return &exitError{code, fmt.Errorf(format, args...)}
}

func main() {
	pipeline.CaptureFFmpegLog()
	stderr := os.Stderr
	if p, err := captureStderr(); err == nil {
		libStderr, stderr = p, p.real
	}
	exitOnEarlySignal(newLogger(stderr, "info"))
	os.Exit(run(os.Args[1:], os.Stdout, stderr))
}

// signalsHandled is set once a command handles SIGINT/SIGTERM itself (discardOnSignal,
// onSignalsFrom).
var signalsHandled atomic.Bool

// exitOnEarlySignal ends the process at a SIGINT/SIGTERM that comes before a command handles
// them (settings, file checks, an image's header): exit 130, nothing has been written.
func exitOnEarlySignal(log *zap.Logger) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		for sig := range ch {
			if !signalsHandled.Load() {
				logExit(log, fmt.Errorf("stopped by %s before any output was written", sig), exitInterrupted)
				os.Exit(exitInterrupted)
			}
		}
	}()
}

// run is the whole command; it returns the exit code. Everything on stderr, the final error
// included, is one logger's lines (JSON unless stderr is a terminal).
func run(args []string, stdout, stderr io.Writer) int {
	cmd, runCmd := cmdUpscale, runUpscale
	if len(args) > 0 {
		if c, ok := subcommands[args[0]]; ok {
			cmd, runCmd, args = c.cmd, c.run, args[1:]
		}
	}
	s, pos, err := loadSettings(cmd, args)
	level := "info"
	if err == nil {
		level = s.logLevel
	}
	log := newLogger(stderr, level)
	end := func() {}
	if libStderr != nil {
		end = libStderr.forward(log)
	}
	if err == nil {
		err = runCmd(s, pos, stdout, stderr, log)
	}
	end() // library lines are logged before the final one
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, usage())
		return exitOK
	}
	code := exitFailure
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	logExit(log, err, code)
	return code
}

// logExit writes the final error line.
func logExit(log *zap.Logger, err error, code int) {
	log.Error(strings.ReplaceAll(err.Error(), "\n", "; "), zap.Int("exit", code))
	log.Sync()
}

// common holds the settings shared by both commands.
type common struct {
	device, model, mode string
	batch               int
	sample              string
	sampling            model.Sampling // sample parsed
}

// defaultModel is the model built into the binary (package models), used without --model:
// its name for messages and its contents.
func defaultModel() (string, []byte) { return "built-in " + models.Name, models.Default() }

// load opens the model; notice says when the device fell back to the CPU.
func (c *common) load() (*hitsr.Model, string, error) {
	path, buf := c.model, []byte(nil)
	if path == "" {
		path, buf = defaultModel()
	} else if _, err := os.Stat(path); err != nil {
		return nil, "", fail(exitModel, "model file: %v", err)
	}
	m, err := hitsr.LoadBytes(path, buf, c.device)
	switch {
	case errors.Is(err, hitsr.ErrDevice):
		return nil, "", fail(exitFailure, "%v", err)
	case err != nil:
		return nil, "", fail(exitModel, "%v", err)
	}
	m.Batch, m.Sampling = c.batch, c.sampling
	if c.mode != "auto" {
		if m.Mode, err = hitsr.ParseMode(c.mode); err == nil && !m.Has(m.Mode) {
			err = fmt.Errorf("%s: holds no %s network (try --mode %s)", path, m.Mode, hitsr.Mode(1-m.Mode))
		}
		if err != nil {
			m.Close()
			return nil, "", fail(exitModel, "--mode: %v", err)
		}
	}
	return m, m.Notice, nil
}

func runUpscale(s *settings, pos []string, stdout, stderr io.Writer, log *zap.Logger) error {
	if len(pos) != 1 {
		return fail(exitUsage, "want exactly one input (got %d); see --help", len(pos))
	}
	input := pos[0]
	switch strings.ToLower(filepath.Ext(input)) {
	case ".png", ".jpg", ".jpeg":
		return upscaleImage(input, s, stdout, log)
	}
	for _, o := range s.outs {
		if imageio.Format(o.path) != "" {
			return fail(exitUsage, "%s: image output for a video input (use a video container such as .mp4 or .mkv)", o.path)
		}
	}
	return upscaleVideo(input, s, stderr, log)
}

// discardOnSignal makes SIGINT/SIGTERM remove the outputs not yet committed and exit
// exitInterrupted (an image has no frames in flight to finish); release stops it.
func discardOnSignal(log *zap.Logger, files []*pipeline.File) (release func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	signalsHandled.Store(true)
	go func() {
		sig, ok := <-ch
		if !ok {
			return
		}
		for _, f := range files {
			f.Discard()
		}
		logExit(log, fmt.Errorf("stopped by %s; outputs not finished were removed", sig), exitInterrupted)
		os.Exit(exitInterrupted)
	}()
	return func() {
		signal.Stop(ch)
		close(ch)
	}
}

func upscaleImage(input string, s *settings, stdout io.Writer, log *zap.Logger) error {
	if s.plan != "" || s.segment != "" {
		return fail(exitUsage, "%s: --plan and --segment are for video inputs (an image is one frame)", input)
	}
	paths := make([]string, len(s.outs))
	for i, o := range s.outs {
		if s.vf != "" || o.opts[vfKey] != "" {
			return fail(exitUsage, "%s: filter chains (--vf, #vf) are for video inputs", input)
		}
		if imageio.Format(o.path) == "" {
			return fail(exitUsage, "--out %q: unknown format (use .png, .jpg or .jpeg)", o.path)
		}
		paths[i] = o.path
	}
	files, err := pipeline.PlanFiles(input, paths, s.overwrite)
	if err != nil {
		return pipelineError(err)
	}
	for i, f := range files {
		if f == nil { // stdout, a pipe or a URL: an image is written to a file only
			return fail(exitUsage, "--out %s: image outputs are local files, not URLs or pipes", paths[i])
		}
	}
	if err := checkStdout(stdout, input); err != nil { // the summary lines
		return err
	}
	defer discardOnSignal(log, files)()
	img, err := readImage(input, func(w, h int) error {
		for _, o := range s.outs {
			if _, _, err := o.target.Size(w, h); err != nil {
				return fail(exitUsage, "%s: %v", o.path, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var targets []hitsr.Target
	var names []string
	for _, o := range s.outs {
		targets = append(targets, o.target)
		w, h, err := o.target.Size(img.W, img.H) // checked with the header, if it parsed
		if err != nil {
			return fail(exitUsage, "%s: %v", o.path, err)
		}
		names = append(names, fmt.Sprintf("%s (%dx%d)", o.path, w, h))
	}
	m, notice, err := s.load()
	if err != nil {
		return err
	}
	defer m.Close()
	if notice != "" {
		log.Info(notice)
	}
	log.Info("upscaling", zap.String("input", input), zap.String("size", fmt.Sprintf("%dx%d", img.W, img.H)), zap.Strings("outputs", names))
	res, err := m.UpscaleTo(img, targets...)
	if err != nil {
		return fail(exitFailure, "%s: %v", input, err)
	}
	for _, f := range files {
		defer f.Discard() // an output not committed is removed
	}
	for i, o := range s.outs {
		if err := writeOutput(files[i], func(w io.Writer) error { return imageio.Encode(w, res[i], imageio.Format(o.path)) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d×%d\n", o.path, res[i].W, res[i].H)
	}
	return nil
}

// openImage opens an image file and checks its header's size against the limits and check (the
// outputs' sizes), so nothing over a limit allocates its pixels; the file is at its start. A
// header that does not parse is left to the decoder to explain.
func openImage(path string, check func(w, h int) error) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fail(exitInput, "%s: %v", path, err)
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, fail(exitInput, "%s is a directory", path)
	}
	if cfg, _, err := image.DecodeConfig(f); err == nil {
		if err := imageio.CheckSize(cfg.Width, cfg.Height); err != nil {
			f.Close()
			return nil, fail(exitInput, "%s: %v", path, err)
		}
		if err := check(cfg.Width, cfg.Height); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fail(exitInput, "%s: %v", path, err)
	}
	return f, nil
}

// checkImageHeader is openImage's checks alone.
func checkImageHeader(path string, check func(w, h int) error) error {
	f, err := openImage(path, check)
	if err == nil {
		f.Close()
	}
	return err
}

// readImage decodes an image file once openImage has checked it: what was checked is what is
// decoded.
func readImage(path string, check func(w, h int) error) (*imageio.Image, error) {
	f, err := openImage(path, check)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := imageio.Decode(f)
	if err != nil {
		return nil, fail(exitInput, "%s: %v", path, err)
	}
	return img, nil
}

// writeOutput writes a planned output (pipeline.PlanFiles) through its temporary file and
// renames it to its final name; on failure the caller's deferred Discard removes it.
func writeOutput(f *pipeline.File, write func(io.Writer) error) error {
	h, err := f.Create()
	if err != nil {
		return pipelineError(err)
	}
	if err := write(h); err != nil {
		return fail(exitFailure, "%s: %v", f.Name, err)
	}
	if err := f.Commit(); err != nil {
		return pipelineError(err)
	}
	return nil
}

// checkStdout refuses, before any work, a run that writes to stdout (data or summary lines)
// when stdout is one of its input files (1<>in.png, >> in.mp4): compared by identity (fstat
// of the descriptor against each input, links followed), as pipeline.PlanFiles does for --out -.
func checkStdout(stdout io.Writer, inputs ...string) error {
	f, ok := stdout.(*os.File)
	if !ok {
		return nil
	}
	out, err := f.Stat()
	if err != nil { // closed: nothing there to overwrite
		return nil
	}
	for _, in := range inputs {
		if !pipeline.IsFile(in) {
			continue
		}
		if fi, err := os.Stat(strings.TrimPrefix(in, "file:")); err == nil && os.SameFile(fi, out) {
			return fail(exitUsage, "stdout is the input file %s", in)
		}
	}
	return nil
}
