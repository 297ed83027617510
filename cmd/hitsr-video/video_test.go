package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/internal/fftest"
	"github.com/hitsr/hitsr/metrics"
	"github.com/hitsr/hitsr/pipeline"
)

const (
	bad     = "../../testdata/badinput/"
	sample  = "../../testdata/sample.mp4"
	shipped = "../../models/hitsr-tiny.safetensors"
)

// videoCLI runs the command with the tiny model on the CPU and no progress bar.
func videoCLI(args ...string) (int, string, string) {
	return runCLI(append(args, "--model", tiny, "--device", "cpu", "--progress", "never")...)
}

// The bad-input corpus: each case is one line on stderr (a JSON error, as the logs are JSON
// off a terminal) with the documented exit code, no panic, and nothing under (or next to) the
// output name. Output settings are checked before the model loads (a missing model is not
// what those cases report).
func TestBadInputs(t *testing.T) {
	fftest.Need(t, "ffmpeg")
	d := t.TempDir()
	out := filepath.Join(d, "2x.mp4")
	existing := filepath.Join(d, "exists", "2x.mp4")
	os.MkdirAll(filepath.Dir(existing), 0o755)
	os.WriteFile(existing, []byte("keep"), 0o644)
	noModel := filepath.Join(t.TempDir(), "none.safetensors")
	huge := filepath.Join(t.TempDir(), "huge.y4m") // a header claiming 99999×99999
	os.WriteFile(huge, []byte("YUV4MPEG2 W99999 H99999 F25:1 Ip A1:1 C420jpeg\nFRAME\nabc"), 0o644)
	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"zero-byte", []string{bad + "empty.mp4", "--out", out}, exitInput, "cannot open"},
		{"truncated mp4 (no moov)", []string{bad + "truncated.mp4", "--out", out}, exitInput, "cannot open"},
		{"text named .mp4", []string{bad + "text.mp4", "--out", out}, exitInput, "cannot open"},
		{"audio-only m4a", []string{bad + "audio_only.m4a", "--out", out}, exitInput, "no video stream"},
		{"audio-only mp4", []string{bad + "audio_only.mp4", "--out", out}, exitInput, "no video stream"},
		{"unknown codec", []string{bad + "unknown_codec.mkv", "--out", out}, exitInput, "unsupported video codec"},
		{"huge dimensions", []string{bad + "huge.mkv", "--out", out}, exitInput, "size"},
		{"missing input", []string{filepath.Join(d, "none.mp4"), "--out", out}, exitInput, "no such file"},
		{"unwritable output dir", []string{sample, "--out", filepath.Join(d, "no", "dir", "2x.mp4")}, exitFailure, "cannot write"},
		{"--out without scale", []string{sample, "--out", filepath.Join(d, "big.mp4")}, exitUsage, "no scale"},
		{"--out zero scale", []string{sample, "--out", "0:" + out}, exitUsage, "invalid scale"},
		{"--out scale under a pixel", []string{sample, "--out", "0.0001:" + out}, exitUsage, "would be 0.0128×0.0072 px: under 1 px"},
		{"--out bad option", []string{sample, "--out", out + "#crf"}, exitUsage, "bad output option"},
		{"--out image for video", []string{sample, "--out", filepath.Join(d, "2x.png")}, exitUsage, "image output"},
		{"--out unknown container", []string{sample, "--out", filepath.Join(d, "2x.zzz")}, exitUsage, "container"},
		{"--out too large", []string{sample, "--out", "200:" + out}, exitUsage, "limit"},
		{"odd size for yuv420p", []string{bad + "odd.mkv", "--out", "1:" + out}, exitUsage, "divisible"},
		{"unknown encoder", []string{sample, "--out", out, "--codec", "nope264"}, exitUsage, "unknown video encoder"},
		{"unknown pixel format", []string{sample, "--out", out, "--pix-fmt", "yuv9000"}, exitUsage, "pixel format"},
		{"crf out of range", []string{sample, "--out", out, "--crf", "99"}, exitUsage, "crf"},
		{"bad config YAML", []string{sample, "--config", bad + "bad.yaml"}, exitUsage, "config"},
		{"bad config value", []string{sample, "--config", bad + "badvalue.yaml"}, exitUsage, "crf"},
		{"missing config", []string{sample, "--out", out, "--config", filepath.Join(d, "none.yaml")}, exitUsage, "config"},
		{"existing output", []string{sample, "--out", existing}, exitUsage, "exists"},
		{"missing model", []string{sample, "--out", out, "--model", filepath.Join(d, "none.safetensors")}, exitModel, "model"},
		{"y4m over the size limit", []string{huge, "--out", out}, exitInput, "exceeds the limit"},
		{"bad preset", []string{sample, "--out", out + "#preset=bogus", "--model", noModel}, exitUsage, "libx264 does not take preset"},
		{"codec the container cannot hold", []string{sample, "--out", filepath.Join(d, "2x.gif"), "--codec", "libx264", "--model", noModel},
			exitUsage, "container gif cannot hold libx264"},
		{"output is a directory", []string{sample, "--out", "2:" + filepath.Dir(existing), "-y"}, exitUsage, "is a directory"},
		{"queue out of range", []string{sample, "--out", out, "--queue", "-1"}, exitUsage, "--queue -1: out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if !strings.Contains(strings.Join(args, " "), "--model") {
				args = append(args, "--model", tiny)
			}
			code, stdout, stderr := runCLI(append(args, "--device", "cpu", "--progress", "never")...)
			if code != c.code || !strings.Contains(strings.ToLower(stderr), c.msg) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, c.code, c.msg)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 || stdout != "" {
				t.Fatalf("want one stderr line and no stdout, got %q / %q", stderr, stdout)
			}
			var line struct {
				Level string
				Exit  int
			}
			if err := json.Unmarshal([]byte(stderr), &line); err != nil || line.Level != "error" || line.Exit != c.code {
				t.Fatalf("stderr %q: want a JSON error line with exit %d (%v)", stderr, c.code, err)
			}
			if n := listDir(t, d); len(n) != 1 || n[0] != "exists" {
				t.Fatalf("files left in the output directory: %v", n)
			}
			if b, _ := os.ReadFile(existing); string(b) != "keep" {
				t.Fatal("existing output modified")
			}
		})
	}
}

// Unusual but valid inputs upscale with every frame (and timestamp) kept.
func TestUnusualInputs(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	d := t.TempDir()
	for i, c := range []struct {
		in, out    string
		w, h, n    int
		pixFmt     string
		extra      []string
		audio, sub bool
	}{
		{"tenbit.mkv", "2x.mkv", 128, 96, 12, "yuv420p", nil, false, false},
		{"tenbit.mkv", "2x10.mkv", 128, 96, 12, "yuv420p10le", []string{"--pix-fmt", "yuv420p10le"}, false, false},
		{"yuv444.mp4", "2x.mp4", 128, 96, 12, "yuv420p", nil, false, false},
		{"odd.mkv", "2x.mp4", 66, 34, 12, "yuv420p", nil, false, false},
		{"odd.mkv", "1x.mkv", 33, 17, 12, "yuv444p", []string{"--pix-fmt", "yuv444p"}, false, false},
		{"vfr.mkv", "2x.mov", 128, 96, 30, "yuv420p", nil, false, false},
		{"subs.mkv", "2x.mkv", 128, 96, 24, "yuv420p", nil, true, true},
		{"subs.mkv", "2x.mp4", 128, 96, 24, "yuv420p", nil, true, false}, // mp4 cannot hold SubRip
		{"truncated_data.mp4", "2x.mp4", 256, 144, 27, "yuv420p", nil, true, false},
	} {
		t.Run(c.in+"→"+c.out, func(t *testing.T) {
			out := filepath.Join(d, strconv.Itoa(i), c.out)
			os.Mkdir(filepath.Dir(out), 0o755)
			code, _, stderr := videoCLI(append([]string{bad + c.in, "--out", out, "--preset", "ultrafast"}, c.extra...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			r := fftest.Probe(t, out)
			v := r.Stream("video")
			if v == nil || v.Width != c.w || v.Height != c.h || v.PixFmt != c.pixFmt {
				t.Fatalf("video %+v, want %dx%d %s", v, c.w, c.h, c.pixFmt)
			}
			pts := fftest.FramePts(t, out)
			if len(pts) != c.n {
				t.Fatalf("%d frames, want %d", len(pts), c.n)
			}
			if c.n == len(fftest.FramePts(t, bad+c.in)) {
				fftest.SamePts(t, out, pts, fftest.FramePts(t, bad+c.in))
			}
			if (r.Stream("audio") != nil) != c.audio || (r.Stream("subtitle") != nil) != c.sub {
				t.Fatalf("streams %+v: want audio %v, subtitles %v", r.Streams, c.audio, c.sub)
			}
		})
	}
}

// A stream whose frames grow past the size limit mid-stream: the decoder refuses the big frame
// (max_pixels) instead of allocating it, the run keeps the frames before it and warns, naming the
// size.
func TestGrowingInput(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	out := filepath.Join(t.TempDir(), "2x.mkv")
	code, _, stderr := videoCLI(bad+"grows.ts", "--out", out, "--preset", "ultrafast")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := len(fftest.FramePts(t, out)); n != 12 {
		t.Errorf("%d frames, want the 12 before the big one", n)
	}
	if !strings.Contains(stderr, `"msg":"input damaged`) || !strings.Contains(stderr, "exceeds the limit of 64 Mpx") {
		t.Errorf("no damage warning naming the refused size:\n%s", stderr)
	}
}

// The sample with the shipped model: ×2 and ×4 in one run, frames, timestamps and audio
// packets kept, and the ×2 output's PSNR against the source frames equals the still-image
// path's on the same frames (model path = stills path; only the encoder differs).
func TestSampleMatchesStills(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	if testing.Short() {
		t.Skip("slow: runs the shipped model")
	}
	d := t.TempDir()
	// 4 frames of the sample, cropped to 48x32 so the shipped model runs quickly; lossless.
	clip := filepath.Join(d, "clip.mkv")
	fftest.FFmpeg(t, "-i", sample, "-vf", "crop=48:32:40:20", "-frames:v", "4", "-c:v", "ffv1", "-pix_fmt", "bgr0", "-c:a", "copy", clip)
	o2, o4 := filepath.Join(d, "2x.mkv"), filepath.Join(d, "4x.mp4")
	code, _, stderr := runCLI(clip, "--out", o2+"#codec=ffv1:pix-fmt=bgr0", "--out", o4, "--model", shipped,
		"--device", "cpu", "--progress", "never", "--preset", "ultrafast")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	in := fftest.Probe(t, clip)
	for _, c := range []struct {
		path string
		w, h int
	}{{o2, 96, 64}, {o4, 192, 128}} {
		r := fftest.Probe(t, c.path)
		if v := r.Stream("video"); v == nil || v.Width != c.w || v.Height != c.h {
			t.Fatalf("%s: %+v", c.path, v)
		}
		fftest.SamePts(t, c.path, fftest.FramePts(t, c.path), fftest.FramePts(t, clip))
		if got, want := r.Packets("audio"), in.Packets("audio"); got != want {
			t.Fatalf("%s: %d audio packets, input %d", c.path, got, want)
		}
	}
	// Stills: the same LR frames as PNG through the image path.
	fftest.FFmpeg(t, "-i", clip, filepath.Join(d, "lr%d.png"))
	fftest.FFmpeg(t, "-i", o2, filepath.Join(d, "vid%d.png"))
	for i := 1; i <= 4; i++ {
		lr := filepath.Join(d, "lr"+strconv.Itoa(i)+".png")
		still := filepath.Join(d, "2x_still"+strconv.Itoa(i)+".png")
		if code, _, e := runCLI(lr, "--out", still, "--model", shipped, "--device", "cpu"); code != 0 {
			t.Fatalf("still %d: %s", i, e)
		}
		a, err1 := imageio.Read(still)
		b, err2 := imageio.Read(filepath.Join(d, "vid"+strconv.Itoa(i)+".png"))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if p := metrics.PSNRY(a.RGB().Pix, b.RGB().Pix, a.H, a.W, 0); p < 50 {
			t.Fatalf("frame %d: video ×2 vs still ×2 PSNR-Y %.2f dB, want ≥ 50 (same model path)", i, p)
		}
	}
}

var cli struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	pipeline.CaptureFFmpegLog() // as main does
	code := m.Run()
	if cli.dir != "" {
		os.RemoveAll(cli.dir)
	}
	os.Exit(code)
}

// buildCLI builds the binary (once) for tests that need a real process (pipes, signals).
func buildCLI(t *testing.T) string {
	t.Helper()
	cli.once.Do(func() {
		if cli.dir, cli.err = os.MkdirTemp("", "hitsr-video-test"); cli.err != nil {
			return
		}
		cli.path = filepath.Join(cli.dir, "hitsr-video")
		if out, err := exec.Command("go", "build", "-o", cli.path, ".").CombinedOutput(); err != nil {
			cli.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if cli.err != nil {
		t.Fatal(cli.err)
	}
	return cli.path
}

// What libraries print straight to stderr reaches the process's stderr only as log lines:
// x264's complaint about a bad preset is folded into the one error line, x265's statistics are
// JSON log lines.
func TestOneLineOnStderr(t *testing.T) {
	fftest.Need(t, "go")
	bin := buildCLI(t)
	d := t.TempDir()
	stderrOf := func(args ...string) (int, []string) {
		cmd := exec.Command(bin, append(args, "--model", tiny, "--device", "cpu", "--frames", "3")...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		cmd.Run()
		return cmd.ProcessState.ExitCode(), strings.Split(strings.TrimSpace(stderr.String()), "\n")
	}
	code, lines := stderrOf(sample, "--out", filepath.Join(d, "2x.mp4")+"#preset=bogus")
	if code != exitUsage || len(lines) != 1 || !json.Valid([]byte(lines[0])) || !strings.Contains(lines[0], "preset") {
		t.Fatalf("bad preset: exit %d, stderr %q: want exit %d and one JSON line naming the preset", code, lines, exitUsage)
	}
	code, lines = stderrOf(sample, "--out", filepath.Join(d, "2x.mkv")+"#codec=libx265", "--preset", "ultrafast")
	if code != 0 {
		t.Fatalf("libx265: exit %d: %q", code, lines)
	}
	library := 0
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("libx265: stderr line %q is not JSON", l)
		}
		if strings.Contains(l, "x265 [info]") {
			library++
		}
	}
	if library == 0 {
		t.Fatalf("libx265: its statistics are not logged: %q", lines)
	}
}

// ffmpeg … -f nut - | hitsr-video - --out 2:- | ffprobe -
func TestPipes(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe", "go", "sh")
	bin := buildCLI(t)
	script := `ffmpeg -v error -nostdin -i "$1" -c:v ffv1 -c:a copy -f nut - |
		"$2" - --out 2:- --format nut --preset ultrafast --model "$3" --device cpu --progress never --log-level warn |
		ffprobe -v error -count_frames -show_entries stream=codec_type,width,height,nb_read_frames -of csv=p=0 -`
	out, err := exec.Command("sh", "-c", script, "sh", sample, bin, tiny).CombinedOutput()
	if err != nil {
		t.Fatalf("pipeline: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != 2 || got[0] != "video,256,144,48" || !strings.HasPrefix(got[1], "audio,") {
		t.Fatalf("ffprobe of the piped output: %q, want 48 frames 256x144 + audio", got)
	}
}

// Config file, environment and flags merge with flags first; per-output options win.
func TestConfigAndEnv(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	d := t.TempDir()
	cfg := filepath.Join(d, "hitsr.yaml")
	os.WriteFile(cfg, []byte(`crf: 30
preset: ultrafast
outputs:
  - path: `+filepath.Join(d, "2x.mkv")+`
  - path: `+filepath.Join(d, "small.mp4")+`
    size: 64x36
    pix-fmt: yuv444p
`), 0o644)
	t.Setenv("HITSR_PIX_FMT", "yuv422p")
	code, _, stderr := videoCLI(bad+"yuv444.mp4", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, c := range []struct {
		path, pixFmt string
		w, h         int
	}{{"2x.mkv", "yuv422p", 128, 96}, {"small.mp4", "yuv444p", 64, 36}} {
		v := fftest.Probe(t, filepath.Join(d, c.path)).Stream("video")
		if v == nil || v.PixFmt != c.pixFmt || v.Width != c.w || v.Height != c.h {
			t.Fatalf("%s: %+v, want %s %dx%d", c.path, v, c.pixFmt, c.w, c.h)
		}
	}
	// a flag overrides the environment and the file's outputs
	code, _, stderr = videoCLI(bad+"yuv444.mp4", "--config", cfg, "--pix-fmt", "yuv420p", "--out", filepath.Join(d, "4x.mp4"))
	if v := fftest.Probe(t, filepath.Join(d, "4x.mp4")).Stream("video"); code != 0 || v.PixFmt != "yuv420p" || v.Width != 256 {
		t.Fatalf("exit %d %s: %+v", code, stderr, v)
	}
}

// stuckFIFO makes a FIFO at path with a reader that never reads (closed when the test ends).
func stuckFIFO(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	reader, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
}

// exitWithin waits for cmd, started after the last signal was sent, at most d: past it the
// process is killed and the test fails with its stderr. It returns how long the wait took.
func exitWithin(t *testing.T, cmd *exec.Cmd, stderr <-chan string, d time.Duration, what string) time.Duration {
	t.Helper()
	t0 := time.Now()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s: still running %v after the signal\n%s", what, d, <-stderr)
	}
	return time.Since(t0).Round(time.Millisecond)
}

// startCLI starts the binary and waits for its "upscaling" line; the rest of stderr is
// collected into the returned channel when the process ends.
func startCLI(t *testing.T, bin string, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var lines []string
	for sc.Scan() && !strings.Contains(sc.Text(), "upscaling") {
		lines = append(lines, sc.Text())
	}
	rest := make(chan string, 1)
	go func() {
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		rest <- strings.Join(lines, "\n")
	}()
	return cmd, rest
}

// An image run stopped by SIGINT or SIGTERM (while it upscales) exits 130 with one line saying so
// and leaves no output and no temporary file.
func TestImageSignals(t *testing.T) {
	fftest.Need(t, "ffmpeg", "go")
	bin := buildCLI(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		d := t.TempDir()
		in := filepath.Join(d, "in.png")
		fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=1920x1080", "-frames:v", "1", in)
		// after its "upscaling" line (a signal before main runs kills any Go program): loading the
		// model and upscaling take ~10 s on 2 cores
		cmd, stderr := startCLI(t, bin, in, "--out", filepath.Join(d, "4x.png"), "--out", filepath.Join(d, "2x.jpg"),
			"--device", "cpu", "--mode", "fidelity")
		time.Sleep(200 * time.Millisecond)
		cmd.Process.Signal(sig)
		cmd.Wait()
		log := <-stderr
		lines := strings.Split(strings.TrimSpace(log), "\n")
		if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || !strings.Contains(lines[len(lines)-1], "stopped by") {
			t.Fatalf("%v: exit %d, want %d\n%s", sig, code, exitInterrupted, log)
		}
		if ents, _ := os.ReadDir(d); len(ents) != 1 {
			t.Errorf("%v: the folder holds %v, want the input alone", sig, ents)
		}
	}
}

// SIGINT once: the outputs are finalised with the frames done, soon (exit 130). Twice, while
// an output is stuck (a FIFO nobody reads): exit 130 within 2 s, no partial file left.
func TestSignals(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe", "go")
	bin := buildCLI(t)
	d := t.TempDir()
	long := filepath.Join(d, "long.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=24:duration=60", "-c:v", "libx264", "-preset", "ultrafast", long)
	flags := []string{"--model", tiny, "--device", "cpu", "--preset", "ultrafast", "--progress", "never"}

	out := filepath.Join(d, "2x.mkv")
	cmd, stderr := startCLI(t, bin, append([]string{long, "--out", "2:" + out}, flags...)...)
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	t0 := time.Now()
	cmd.Wait()
	total := time.Since(t0)
	log := <-stderr
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("one SIGINT: exit %d, want %d\n%s", code, exitInterrupted, log)
	}
	if n := len(fftest.FramePts(t, out)); n == 0 || n >= 1440 {
		t.Fatalf("one SIGINT: %d frames in the finalised output", n)
	}
	// the log's own clock: signal received, frames in flight done, outputs finalised
	at := map[string]time.Time{}
	for _, l := range strings.Split(log, "\n") {
		var e struct{ Msg, Ts string }
		if json.Unmarshal([]byte(l), &e) == nil {
			ts, _ := time.Parse("2006-01-02T15:04:05.000Z0700", e.Ts)
			at[strings.Fields(e.Msg)[0]] = ts
		}
	}
	inFlight, finalise := at["stopped:"].Sub(at["stopping:"]), at["interrupted:"].Sub(at["stopped:"])
	if at["stopping:"].IsZero() || at["stopped:"].IsZero() || at["interrupted:"].IsZero() {
		t.Fatalf("one SIGINT: log lacks the stop steps:\n%s", log)
	}
	t.Logf("one SIGINT: frames in flight done %v after the signal, outputs finalised %v later; exit %v after the signal",
		inFlight, finalise, total.Round(time.Millisecond))
	if finalise > 3*time.Second {
		t.Fatalf("one SIGINT: took %v to finalise after the frames in flight", finalise)
	}

	fifo, part := filepath.Join(d, "stuck.nut"), filepath.Join(d, "4x.mkv")
	stuckFIFO(t, fifo)
	// one raw 640x480 frame overfills the FIFO's buffer
	cmd, stderr = startCLI(t, bin, append([]string{long, "--out", "640x480:" + fifo + "#codec=rawvideo", "--out", "4:" + part}, flags...)...)
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	t.Logf("two SIGINTs: exited %v after the second", exitWithin(t, cmd, stderr, 2*time.Second, "two SIGINTs"))
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("two SIGINTs: exit %d, want %d", code, exitInterrupted)
	}
	if _, err := os.Stat(part); err == nil {
		t.Fatalf("two SIGINTs: the partial output was finalised\n%s", <-stderr)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO output was replaced: %v", fi.Mode())
	}
	if left, _ := filepath.Glob(filepath.Join(d, ".*partial*")); len(left) > 0 {
		t.Fatalf("partial files left: %v", left)
	}
	lines := strings.Split(strings.TrimSpace(<-stderr), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, `"level":"error"`) || !strings.Contains(last, "aborted") {
		t.Fatalf("last stderr line %q: want the abort as a JSON error", last)
	}

	// One SIGINT with such an output stuck (a fresh FIFO: the first one is full): it cannot be
	// finished, so after stallGrace the run is abandoned as after a second signal (a supervisor's
	// SIGTERM is not left hanging).
	fifo2 := filepath.Join(d, "stuck2.nut")
	stuckFIFO(t, fifo2)
	cmd, stderr = startCLI(t, bin, append([]string{long, "--out", "640x480:" + fifo2 + "#codec=rawvideo", "--out", "4:" + part}, flags...)...)
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	t.Logf("one SIGINT, an output stuck: exited %v after it", exitWithin(t, cmd, stderr, stallGrace+3*time.Second, "one SIGINT, an output stuck"))
	lines = strings.Split(strings.TrimSpace(<-stderr), "\n")
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || !strings.Contains(lines[len(lines)-1], "accepted no data for 5s") {
		t.Fatalf("one SIGINT, an output stuck: exit %d, last line %q", code, lines[len(lines)-1])
	}
	if left, _ := filepath.Glob(filepath.Join(d, ".*partial*")); len(left) > 0 {
		t.Fatalf("partial files left: %v", left)
	}

	// Before any frame: opening a FIFO nobody reads blocks; two SIGINTs still end it, and the
	// output opened before it leaves no partial file.
	lonely := filepath.Join(d, "lonely.nut")
	syscall.Mkfifo(lonely, 0o644)
	cmd = exec.Command(bin, append([]string{long, "--out", "4:" + part, "--out", "2:" + lonely}, flags...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for t0 := time.Now(); time.Since(t0) < 20*time.Second; time.Sleep(50 * time.Millisecond) {
		if left, _ := filepath.Glob(filepath.Join(d, ".*partial*")); len(left) > 0 {
			break // the first output is open: the FIFO's open is blocking now
		}
	}
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("two SIGINTs while opening the outputs: still running 2 s after the second")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("two SIGINTs while opening the outputs: exit %d, want %d", code, exitInterrupted)
	}
	if left, _ := filepath.Glob(filepath.Join(d, ".*partial*")); len(left) > 0 {
		t.Fatalf("partial files left: %v", left)
	}
}

// The progress bar shows frames, fps, speed and ETA; the log form carries the same fields.
func TestProgress(t *testing.T) {
	var buf strings.Builder
	p := newProgress(&buf, nil, "always")
	p.update(pipeline.Stats{Done: 12, TotalFrames: 48, Position: 500 * time.Millisecond, Elapsed: 4 * time.Second})
	line := buf.String()
	for _, want := range []string{"frame 12/48", " 25%", "3.00 fps", "0.125× realtime", "ETA 12s"} {
		if !strings.Contains(line, want) {
			t.Fatalf("progress line %q lacks %q", line, want)
		}
	}
	if newProgress(&buf, nil, "never") != nil {
		t.Fatal("--progress never still draws")
	}
}
