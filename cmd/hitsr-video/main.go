// Command hitsr-video upscales images (and, later, videos) with the hitsr model, and
// evaluates it against bicubic and Lanczos on a directory of HR images.
//
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
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // compute, device or write failure
	exitUsage   = 2 // bad flags, --out or scales
	exitInput   = 3 // unreadable, corrupt, empty or too large input image
	exitModel   = 4 // missing model file or weights that do not match the config
)

const usage = `usage:
  hitsr-video INPUT --out SPEC[,SPEC...] [--device D] [--model PATH] [-y]
  hitsr-video eval DIR [--scales 2,4] [--csv out.csv] [--chart out.png] [--device D] [--model PATH]

INPUT is a PNG or JPEG image (video input is not supported yet). Each output SPEC is one of
  2x.png            scale from the leading "Nx" of the file name (N may be fractional: 1.5x_a.png)
  3:name.png        scale S:name
  1920x1080:hd.jpg  exact size WxH:name
The format (PNG/JPEG) follows the extension. Native model scales (1, 2, 4) come from one model
pass; other sizes are resampled (Lanczos-3, antialiased) from the nearest larger native scale.
Outputs are written to a temporary file in the same directory and renamed when complete.
Limits: %d px per side and %d Mpx per image (input and output).

eval: for every PNG/JPEG in DIR, modcrop to the scale, LR = antialiased bicubic, and report
PSNR-Y/SSIM-Y (BT.601, scale pixels shaved) of hitsr, bicubic and Lanczos-3.

flags:
  --device auto|cpu|vulkan|vulkan:N   backend (default auto: a Vulkan GPU, else the CPU)
  --model PATH                        weights (default models/hitsr-tiny.safetensors next to the
                                      binary's repository or the working directory)
  --batch N                           tiles per model call (default 32)
  -y                                  overwrite existing outputs

exit codes: 0 success, 1 compute/device/write failure, 2 usage error (flags, --out, scales),
3 bad input image (unreadable, corrupt, 0×0, too large), 4 missing or mismatched model file.
`

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
	if errors.Is(err, flag.ErrHelp) {
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
			if errors.Is(err, flag.ErrHelp) {
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

// defaultModel finds models/hitsr-tiny.safetensors relative to the working directory or
// the executable (and their parents, so a binary in bin/ or cmd/… finds the repository's).
func defaultModel() string {
	const rel = "models/hitsr-tiny.safetensors"
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		dirs = append(dirs, filepath.Dir(exe))
	}
	for _, d := range dirs {
		for i := 0; i < 4; i++ {
			p := filepath.Join(d, rel)
			if _, err := os.Stat(p); err == nil {
				return p
			}
			d = filepath.Dir(d)
		}
	}
	return rel
}

func (c *common) load(stderr io.Writer) (*hitsr.Model, error) {
	path := c.model
	if path == "" {
		path = defaultModel()
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fail(exitModel, "model file: %v", err)
	}
	m, err := hitsr.Load(path, c.device)
	switch {
	case errors.Is(err, hitsr.ErrDevice):
		return nil, fail(exitFailure, "%v", err)
	case err != nil:
		return nil, fail(exitModel, "%v", err)
	}
	if m.Notice != "" {
		fmt.Fprintln(stderr, "hitsr-video:", m.Notice)
	}
	if c.batch < 1 {
		m.Close()
		return nil, fail(exitUsage, "--batch must be ≥ 1")
	}
	m.Batch = c.batch
	return m, nil
}

func runUpscale(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hitsr-video", flag.ContinueOnError)
	var c common
	c.register(fs)
	outSpec := fs.String("out", "", "")
	yes := fs.Bool("y", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fail(exitUsage, "want exactly one input (got %d); see --help", len(pos))
	}
	input := pos[0]
	outs, err := parseOuts(*outSpec)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	for _, o := range outs {
		if !*yes {
			if _, err := os.Lstat(o.path); err == nil {
				return fail(exitUsage, "%s exists (use -y to overwrite)", o.path)
			}
		}
	}
	switch strings.ToLower(filepath.Ext(input)) {
	case ".png", ".jpg", ".jpeg":
		return upscaleImage(input, outs, *yes, &c, stdout, stderr)
	case ".mp4", ".mkv", ".mov", ".webm", ".avi", ".y4m":
		return fail(exitUsage, "%s: video input is not supported yet", input)
	default:
		return fail(exitInput, "%s: unknown input format (want .png, .jpg or .jpeg)", input)
	}
}

func upscaleImage(input string, outs []outSpec, overwrite bool, c *common, stdout, stderr io.Writer) error {
	img, err := imageio.Read(input)
	if err != nil {
		return fail(exitInput, "%s: %v", input, err)
	}
	var targets []hitsr.Target
	for _, o := range outs {
		if _, _, err := o.target.Size(img.W, img.H); err != nil {
			return fail(exitUsage, "%s: %v", o.path, err)
		}
		targets = append(targets, o.target)
	}
	m, err := c.load(stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	res, err := m.UpscaleTo(img, targets...)
	if err != nil {
		return fail(exitFailure, "%s: %v", input, err)
	}
	for i, o := range outs {
		if err := imageio.WriteAtomic(o.path, res[i], overwrite); err != nil {
			return fail(exitFailure, "%v", err)
		}
		fmt.Fprintf(stdout, "%s: %d×%d\n", o.path, res[i].W, res[i].H)
	}
	return nil
}
