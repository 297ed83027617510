// Command hitsr-video upscales videos and images with the hitsr model to several sizes at
// once (one model pass per frame), and evaluates it against bicubic and Lanczos.
//
//	hitsr-video in.mp4 --out 2x.mp4,4x.mp4
//	hitsr-video photo.png --out 2x.png,4x.png
//	hitsr-video eval /work/shared/data/Set5/HR --scales 2,4 --csv set5.csv --chart set5.png
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/models"
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

const usage = `usage:
  hitsr-video INPUT --out SPEC[,SPEC...] [flags]
  hitsr-video eval DIR [--scales 2,4] [--csv out.csv] [--chart out.png] [--device D] [--model PATH]

INPUT is a video file, "-" (stdin) or an FFmpeg URL (udp://, srt://, rtmp://, http://...), or a
PNG/JPEG image. Each output SPEC (repeat --out or separate with commas) is one of
  2x.mp4              scale from the leading "Nx" of the file name (1.5x_a.mkv works too)
  3:name.mkv          scale S:name (name may be "-" for stdout, or a URL)
  1920x1080:hd.mp4    exact size WxH:name (display aspect kept through the sample aspect ratio)
followed optionally by per-output settings: 4x.mkv#codec=libx265:crf=22:preset=slow
(keys: codec, crf, bitrate, preset, pix-fmt, format).
Native model scales (1, 2, 4) come from one model pass per frame; other sizes are resampled
(Lanczos-3) from the nearest larger native scale. Audio and subtitles are copied (audio
re-encoded to AAC when the container cannot hold it); metadata, rotation, frame rate and every
frame timestamp (variable frame rate included) are kept. Output files are written under a
temporary name in the same directory and renamed when complete.
Limits: %d px per side and %d Mpx per frame (input and output).

examples:
  hitsr-video testdata/sample.mp4 --out out/2x.mp4,out/4x.mp4
  hitsr-video talk.mkv -o 1920x1080:hd.mp4#crf=20 -o 4x.mkv#codec=libx265:pix-fmt=yuv420p10le
  ffmpeg -i in.mp4 -f nut - | hitsr-video - --out 2:- --format nut | ffplay -
  hitsr-video udp://0.0.0.0:5000 --realtime --out 2:udp://10.0.0.2:5001 --format mpegts
  hitsr-video photo.png --out 2x.png,4x.jpg

flags:
  -o, --out SPEC             outputs (required unless the config file lists "outputs")
      --codec NAME           video encoder (default libx264 where the container takes H.264)
      --crf N                constant-rate factor (default 18; -1 = encoder default)
      --bitrate R            target bitrate instead of CRF (e.g. 8M, 800k)
      --preset P             encoder preset (default medium)
      --pix-fmt F            output pixel format (default yuv420p)
      --format F             output container for "-" and URLs (default: from the name; nut for "-")
  -f, --input-format F       input container (default: probed)
      --realtime             drop frames when the model falls behind (live input) instead of queueing
      --queue N              frames buffered between stages (default 4)
      --frames N             stop after N frames (default 0: all)
      --device D             auto|cpu|vulkan|vulkan:N (default auto: a Vulkan GPU, else the CPU)
      --model PATH           weights file (default: the model built into the binary)
      --batch N              tiles per model call (default 32)
      --config FILE          YAML config (default: first of ./hitsr.yaml,
                             $XDG_CONFIG_HOME/hitsr/config.yaml, /etc/hitsr/config.yaml)
      --log-level L          debug|info|warn|error (default info); logs go to stderr,
                             human-readable on a terminal, JSON lines otherwise
      --progress M           auto|always|never: progress bar (fps, ×realtime, ETA) on a terminal
  -y, --yes                  overwrite existing outputs
Every flag can also be set in the config file (same names, plus an "outputs" list of
{path, scale|size, codec, crf, bitrate, preset, pix-fmt, format}) or as HITSR_<NAME> in the
environment (HITSR_CRF=20, HITSR_PIX_FMT=yuv444p); flags win over the environment, which wins
over the file.

Signals: the first SIGINT/SIGTERM stops reading, finishes the frames in flight and finalises the
outputs (valid, shorter files under their final names; exit 130); a second one aborts at once
and removes the partial outputs.

eval: for every PNG/JPEG in DIR, modcrop to the scale, LR = antialiased bicubic, and report
PSNR-Y/SSIM-Y (BT.601, scale pixels shaved) of hitsr, bicubic and Lanczos-3.

exit codes: 0 success, 1 compute/device/encode/write failure, 2 usage error (flags, --out,
config), 3 bad input (unreadable, corrupt, no video, unsupported, too large), 4 missing or
mismatched model file, 130 interrupted (outputs finalised).
`

var errHelp = flag.ErrHelp

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
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	var err error
	if len(args) > 0 && args[0] == "eval" {
		err = runEval(args[1:], stdout, stderr)
	} else {
		err = runUpscale(args, stdout, stderr)
	}
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errHelp) {
		fmt.Fprintf(stdout, usage, imageio.MaxSide, imageio.MaxPixels>>20)
		return exitOK
	}
	fmt.Fprintf(stderr, "hitsr-video: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailure
}

// common holds the flags shared by both modes.
type common struct {
	device, model string
	batch         int
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.device, "device", "auto", "")
	fs.StringVar(&c.model, "model", "", "")
	fs.IntVar(&c.batch, "batch", 32, "")
}

// parse parses flags interspersed with positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, errHelp) {
				return nil, err
			}
			return nil, fail(exitUsage, "%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// defaultModel is the model built into the binary (package models), used without --model:
// its name for messages and its contents.
func defaultModel() (string, []byte) { return "built-in " + models.Name, models.Default }

// load opens the model; notice says when the device fell back to the CPU.
func (c *common) load() (*hitsr.Model, string, error) {
	path, buf := c.model, []byte(nil)
	if path == "" {
		path, buf = defaultModel()
	} else if _, err := os.Stat(path); err != nil {
		return nil, "", fail(exitModel, "model file: %v", err)
	}
	if c.batch < 1 {
		return nil, "", fail(exitUsage, "--batch must be ≥ 1")
	}
	m, err := hitsr.LoadBytes(path, buf, c.device)
	switch {
	case errors.Is(err, hitsr.ErrDevice):
		return nil, "", fail(exitFailure, "%v", err)
	case err != nil:
		return nil, "", fail(exitModel, "%v", err)
	}
	m.Batch = c.batch
	return m, m.Notice, nil
}

func runUpscale(args []string, stdout, stderr io.Writer) error {
	s, pos, err := loadSettings(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fail(exitUsage, "want exactly one input (got %d); see --help", len(pos))
	}
	input := pos[0]
	switch strings.ToLower(filepath.Ext(input)) {
	case ".png", ".jpg", ".jpeg":
		return upscaleImage(input, s, stdout, stderr)
	}
	for _, o := range s.outs {
		if imageio.Format(o.path) != "" {
			return fail(exitUsage, "%s: image output for a video input (use a video container such as .mp4 or .mkv)", o.path)
		}
	}
	return upscaleVideo(input, s, stderr)
}

func upscaleImage(input string, s *settings, stdout, stderr io.Writer) error {
	for _, o := range s.outs {
		if imageio.Format(o.path) == "" {
			return fail(exitUsage, "--out %q: unknown format (use .png, .jpg or .jpeg)", o.path)
		}
		if !s.overwrite {
			if _, err := os.Lstat(o.path); err == nil {
				return fail(exitUsage, "%s exists (use -y to overwrite)", o.path)
			}
		}
	}
	img, err := imageio.Read(input)
	if err != nil {
		return fail(exitInput, "%s: %v", input, err)
	}
	var targets []hitsr.Target
	for _, o := range s.outs {
		if _, _, err := o.target.Size(img.W, img.H); err != nil {
			return fail(exitUsage, "%s: %v", o.path, err)
		}
		targets = append(targets, o.target)
	}
	m, notice, err := s.load()
	if err != nil {
		return err
	}
	defer m.Close()
	if notice != "" {
		fmt.Fprintln(stderr, "hitsr-video:", notice)
	}
	res, err := m.UpscaleTo(img, targets...)
	if err != nil {
		return fail(exitFailure, "%s: %v", input, err)
	}
	for i, o := range s.outs {
		if err := imageio.WriteAtomic(o.path, res[i], s.overwrite); err != nil {
			return fail(exitFailure, "%v", err)
		}
		fmt.Fprintf(stdout, "%s: %d×%d\n", o.path, res[i].W, res[i].H)
	}
	return nil
}
