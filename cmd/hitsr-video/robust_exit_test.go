package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hitsr/hitsr/internal/fftest"
)

// robustClip writes a 64×48 testsrc clip of n frames (a keyframe every 5) to dir/name.
func robustClip(t *testing.T, dir, name string, n int) string {
	t.Helper()
	path := filepath.Join(dir, name)
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-frames:v", strconv.Itoa(n), "-g", "5",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", path)
	return path
}

// oneErrorLine checks stderr ends in one JSON error line with exit code and a message holding
// msg, and returns that message.
func oneErrorLine(t *testing.T, stderr string, code int, msg string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var e struct {
		Level, Msg string
		Exit       int
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &e); err != nil || e.Level != "error" || e.Exit != code || !strings.Contains(e.Msg, msg) {
		t.Fatalf("last stderr line %q: want a JSON error with exit %d and %q", lines[len(lines)-1], code, msg)
	}
	return e.Msg
}

// noPartials fails if dir holds a temporary output.
func noPartials(t *testing.T, dir string) {
	t.Helper()
	if left, _ := filepath.Glob(filepath.Join(dir, ".*partial*")); len(left) > 0 {
		t.Fatalf("partial files left: %v", left)
	}
}

// Muxers that write several files or none (hls, dash, segment, tee, image2, null) cannot write
// a file output through its descriptor nor stdout: refused before any work, whether chosen by
// the name or by --format, as are a container that must seek on a pipe, option values a muxer
// refuses and ports past 65535.
func TestSingleFileMuxersExit(t *testing.T) {
	fftest.Need(t, "ffmpeg")
	d := filepath.Join(t.TempDir(), "out") // emptied after each case
	clip := robustClip(t, t.TempDir(), "clip.mp4", 10)
	out := filepath.Join(d, "2x.mkv")
	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"m3u8 name", []string{clip, "--out", filepath.Join(d, "2x.m3u8")}, exitUsage, "--out hls:DIR"},
		{"--format hls", []string{clip, "--out", out, "--format", "hls"}, exitUsage, "--out hls:DIR"},
		{"per-output format hls", []string{clip, "--out", out + "#format=hls"}, exitUsage, "--out hls:DIR"},
		{"mpd name", []string{clip, "--out", filepath.Join(d, "2x.mpd")}, exitUsage, "dash muxer does not write one output"},
		{"--format segment", []string{clip, "--out", out, "--format", "segment"}, exitUsage, "segment muxer"},
		{"--format ssegment", []string{clip, "--out", out, "--format", "ssegment"}, exitUsage, "ssegment muxer"},
		{"--format tee", []string{clip, "--out", out, "--format", "tee"}, exitUsage, "tee muxer"},
		{"--format image2", []string{clip, "--out", out + "#pix-fmt=yuvj420p", "--format", "image2"}, exitUsage, "image2 muxer"},
		{"stdout --format null", []string{clip, "--out", "2:-", "--format", "null"}, exitUsage, "null muxer"},
		{"mp4 to stdout", []string{clip, "--out", "2:-", "--format", "mp4"}, exitUsage, "streamable container"},
		// on a URL too: tee's slaves are files past every output check, null sends nothing
		{"tee on a URL", []string{clip, "--out", "2:udp://127.0.0.1:9|" + clip, "--format", "tee"}, exitUsage, "tee muxer"},
		{"per-output tee on a URL", []string{clip, "--out", "2:udp://127.0.0.1:9|" + out + "#format=tee"}, exitUsage, "tee muxer"},
		{"null on a URL", []string{clip, "--out", "2:udp://127.0.0.1:9", "--format", "null"}, exitUsage, "null muxer"},
		{"hls on a URL", []string{clip, "--out", "2:udp://127.0.0.1:9", "--format", "hls"}, exitUsage, "--out hls:DIR"},
		{"dash on a URL", []string{clip, "--out", "2:tcp://127.0.0.1:9", "--format", "dash"}, exitUsage, "dash muxer"},
		{"hls-list-size past int", []string{clip, "--out", "hls:" + filepath.Join(d, "ladder"), "--hls-list-size", "9223372036854775807"}, exitUsage, "--hls-list-size 9223372036854775807: out of range"},
		{"output port past 65535", []string{clip, "--out", "2:udp://127.0.0.1:70000"}, exitUsage, "invalid port 70000"},
		{"output without a port", []string{clip, "--out", "2:tcp://127.0.0.1"}, exitUsage, "no port to send to"},
		{"output URL unparseable", []string{clip, "--out", "2:tcp://[::1"}, exitUsage, "not a valid URL"},
		{"input port past 65535", []string{"udp://127.0.0.1:99999", "--out", out}, exitInput, "invalid port 99999"},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.RemoveAll(d)
			os.Mkdir(d, 0o755)
			done := make(chan struct{})
			var code int
			var stdout, stderr string
			go func() {
				defer close(done)
				code, stdout, stderr = videoCLI(c.args...)
			}()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("still running after 60 s")
			}
			if code != c.code || stdout != "" || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d, stdout %q, stderr %q: want exit %d and one line", code, stdout, stderr, c.code)
			}
			oneErrorLine(t, stderr, c.code, c.msg)
			if n := listDir(t, d); len(n) != 0 {
				t.Fatalf("left in the output folder: %v", n)
			}
		})
	}
}

// An output that received no frame (its filter chain passed none) fails the run, naming it, and
// is not kept; the others are. The same chain in --vf says so too, not that nothing decoded.
func TestEmptyOutputExit(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	clip := robustClip(t, t.TempDir(), "clip.mp4", 10)
	for _, c := range []struct {
		name, vf, out, msg string
	}{
		{"per-output select=0", "", "2x.mkv#vf=select=0", "2x.mkv: the filter chain passed no frames"},
		{"per-output fps=0", "", "2x.mkv#vf=fps=0", "2x.mkv: the filter chain passed no frames"},
		{"vf select=0", "select=0", "2x.mkv", "--vf: the filter chain passed no frames"},
		{"vf fps=0", "fps=0", "2x.mkv", "--vf: the filter chain passed no frames"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			args := []string{clip, "--out", filepath.Join(d, c.out), "--preset", "ultrafast"}
			if c.vf != "" {
				args = append(args, "--vf", c.vf)
			}
			code, _, stderr := videoCLI(args...)
			if code == 0 {
				t.Fatalf("exit 0 with an empty output: %s", stderr)
			}
			oneErrorLine(t, stderr, exitUsage, c.msg)
			if n := listDir(t, d); len(n) != 0 {
				t.Fatalf("left in the output folder: %v", n)
			}
		})
	}
	t.Run("kept beside an empty one", func(t *testing.T) {
		d := t.TempDir()
		good, empty := filepath.Join(d, "4x.mkv"), filepath.Join(d, "2x.mkv")
		code, _, stderr := videoCLI(clip, "--out", good, "--out", empty+"#vf=select=0", "--preset", "ultrafast")
		oneErrorLine(t, stderr, exitUsage, empty+": the filter chain passed no frames")
		if code != exitUsage {
			t.Fatalf("exit %d", code)
		}
		if n := len(fftest.FramePts(t, good)); n != 10 {
			t.Fatalf("%s: %d frames, want 10", good, n)
		}
		if n := listDir(t, d); len(n) != 1 {
			t.Fatalf("output folder holds %v, want 4x.mkv alone", n)
		}
	})
}

// A damaged input that still decodes in part is upscaled, with one warning saying frames were
// lost or concealed: a container that resyncs past garbage (mkv) as one whose packets the
// decoder refuses (mp4). An intact one gets none.
func TestDamagedInputWarnsExit(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	src := t.TempDir()
	for _, ext := range []string{"mkv", "mp4"} {
		clip := robustClip(t, src, "clip."+ext, 30)
		b, err := os.ReadFile(clip)
		if err != nil {
			t.Fatal(err)
		}
		damaged := filepath.Join(src, "damaged."+ext)
		mid := len(b)/2 - 1000
		copy(b[mid:], bytes.Repeat([]byte{0x5a}, 2000))
		os.WriteFile(damaged, b, 0o644)
		for _, c := range []struct {
			in   string
			warn bool
		}{{clip, false}, {damaged, true}} {
			t.Run(filepath.Base(c.in), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "2x.mkv")
				code, _, stderr := videoCLI(c.in, "--out", out, "--preset", "ultrafast")
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				if n := strings.Count(stderr, "input damaged"); n != map[bool]int{false: 0, true: 1}[c.warn] {
					t.Fatalf("%d damage warnings, want warn=%v:\n%s", n, c.warn, stderr)
				}
			})
		}
	}
}

// One SIGTERM while the run is still opening (a network input with no sender, FIFOs nobody
// opens, stdin with an idle writer) or while a filter chain (--vf or an output's) generates
// frames endlessly ends it promptly: exit 130, one error line last, no partial output.
func TestSignalWhileBlockedExit(t *testing.T) {
	fftest.Need(t, "ffmpeg", "go")
	bin := buildCLI(t)
	clip := robustClip(t, t.TempDir(), "clip.mp4", 10)
	flags := []string{"--model", tiny, "--device", "cpu", "--preset", "ultrafast", "--progress", "never"}
	udpPort := func() string {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
	}
	for _, c := range []struct {
		name string
		args func(d string) []string
		// stdin, if set, is the run's standard input (an idle pipe)
		stdin bool
		// running waits for the run to be under way before the signal (else 1.5 s)
		running bool
	}{
		{name: "udp input with no sender", args: func(d string) []string {
			return []string{"udp://127.0.0.1:" + udpPort(), "--out", filepath.Join(d, "2x.mkv")}
		}},
		{name: "FIFO output with no reader", args: func(d string) []string {
			fifo := filepath.Join(d, "2x.nut")
			syscall.Mkfifo(fifo, 0o644)
			return []string{clip, "--out", filepath.Join(d, "4x.mkv"), "--out", fifo}
		}},
		{name: "FIFO input with no writer", args: func(d string) []string {
			fifo := filepath.Join(d, "in.mp4")
			syscall.Mkfifo(fifo, 0o644)
			return []string{fifo, "--out", filepath.Join(d, "2x.mkv")}
		}},
		{name: "stdin with an idle writer", stdin: true, args: func(d string) []string {
			return []string{"-", "--out", filepath.Join(d, "2x.mkv")}
		}},
		{name: "--vf fps=1e9", running: true, args: func(d string) []string {
			return []string{clip, "--vf", "fps=1e9", "--out", filepath.Join(d, "2x.mkv")}
		}},
		{name: "output vf fps=1e9", running: true, args: func(d string) []string {
			return []string{clip, "--out", filepath.Join(d, "2x.mkv") + "#vf=fps=1e9"}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			cmd := exec.Command(bin, append(c.args(d), flags...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if c.stdin {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close() // open, never written
				defer r.Close()
				cmd.Stdin = r
			}
			var sc *exec.Cmd
			var log <-chan string
			if c.running {
				sc, log = startCLI(t, bin, cmd.Args[1:]...)
				cmd = sc
			} else if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1500 * time.Millisecond) // blocked in the open, or frames flowing
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			cmd.Process.Signal(syscall.SIGTERM)
			t0 := time.Now()
			select {
			case <-done:
			case <-time.After(6 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("still running 6 s after one SIGTERM\n%s", stderr.String())
			}
			t.Logf("exited %v after the signal", time.Since(t0).Round(time.Millisecond))
			out := stderr.String()
			if log != nil {
				out = <-log
			}
			if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
				t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, out)
			}
			oneErrorLine(t, out, exitInterrupted, "interrupted")
			noPartials(t, d)
		})
	}
}

// A network receiver that accepts the connection and never reads: once --output-timeout passes
// with a write blocked, the run fails (exit 1, one line naming the output) instead of waiting
// forever, and the file output of the failed run is not kept.
func TestStalledReceiverExit(t *testing.T) {
	fftest.Need(t, "ffmpeg")
	d := t.TempDir()
	clip := robustClip(t, d, "clip.mp4", 200)
	l := stalledReceiver(t)
	out := filepath.Join(d, "2x.mkv")
	t0 := time.Now()
	done := make(chan struct{})
	var code int
	var stderr string
	go func() {
		defer close(done)
		code, _, stderr = videoCLI(clip, "--out", "4:tcp://"+l.Addr().String()+"#codec=rawvideo:pix-fmt=yuv444p:format=nut",
			"--out", out, "--output-timeout", "2", "--progress", "never")
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("still running after 60 s")
	}
	t.Logf("exit %d after %v", code, time.Since(t0).Round(time.Millisecond))
	oneErrorLine(t, stderr, exitFailure, "the receiver accepted no data for 2s")
	if _, err := os.Stat(out); err == nil {
		t.Error("the failed run's file output was kept")
	}
	noPartials(t, d)
}

// stalledReceiver listens on a loopback TCP port with a tiny receive window, accepts one
// connection and never reads from it.
func stalledReceiver(t *testing.T) net.Listener {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return nil
	}}
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		if c, err := l.Accept(); err == nil {
			<-t.Context().Done()
			c.Close()
		}
	}()
	return l
}

// One SIGINT while a network output's receiver has stopped reading: after stallGrace that output
// is given up (its write interrupted) and the others are finalised as at any first signal.
func TestSignalStalledReceiver(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe", "go")
	bin := buildCLI(t)
	d := t.TempDir()
	clip := robustClip(t, d, "clip.mp4", 600)
	keep := filepath.Join(d, "2x.mkv")
	// raw 640×480 frames fill the socket buffers within the first few frames
	cmd, stderr := startCLI(t, bin, clip, "--out", "640x480:tcp://"+stalledReceiver(t).Addr().String()+"#codec=rawvideo:pix-fmt=yuv444p:format=nut",
		"--out", keep, "--model", tiny, "--device", "cpu", "--preset", "ultrafast", "--progress", "never")
	time.Sleep(3 * time.Second)
	cmd.Process.Signal(syscall.SIGINT)
	t.Logf("exited %v after the signal", exitWithin(t, cmd, stderr, stallGrace+5*time.Second, "a receiver stalled"))
	log := <-stderr
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || !strings.Contains(log, "given up") {
		t.Fatalf("exit %d, want %d and the stalled output given up:\n%s", code, exitInterrupted, log)
	}
	if n := len(fftest.FramePts(t, keep)); n == 0 {
		t.Fatal("the healthy output was not finalised")
	}
	noPartials(t, d)
}

// Scale-out seeks in its source: plan and join refuse a FIFO or a live stream up front; a plan
// blocked writing to a FIFO nobody reads ends at the first signal (within openGrace), exit 130.
func TestScaleOutBlockedExit(t *testing.T) {
	fftest.Need(t, "ffmpeg", "go")
	d := t.TempDir()
	clip := robustClip(t, d, "clip.mp4", 20)
	fifoIn := filepath.Join(d, "in.mp4")
	syscall.Mkfifo(fifoIn, 0o644)
	for _, args := range [][]string{
		{"plan", fifoIn, "--segments", "2"},
		{"plan", "udp://127.0.0.1:9", "--segments", "2"},
	} {
		code, _, stderr := runCLI(args...)
		oneErrorLine(t, stderr, exitUsage, "scale-out needs a seekable input")
		if code != exitUsage {
			t.Errorf("%v: exit %d", args, code)
		}
	}
	plan := filepath.Join(d, "plan.json")
	if code, _, stderr := runCLI("plan", clip, "--segments", "2", "--plan", plan); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCLI("join", "udp://127.0.0.1:9", "--plan", plan, "--out", filepath.Join(d, "2x.mkv")); code != exitUsage || !strings.Contains(stderr, "not a live stream") {
		t.Errorf("join from a live stream: exit %d\n%s", code, stderr)
	}

	bin := buildCLI(t)
	fifoOut := filepath.Join(d, "plan.fifo")
	syscall.Mkfifo(fifoOut, 0o644)
	cmd := exec.Command(bin, "plan", clip, "--segments", "2", "--plan", fifoOut)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // planned, blocked opening the FIFO
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(openGrace + 3*time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("plan to a FIFO nobody reads: still running after one SIGINT\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("plan to a FIFO nobody reads: exit %d\n%s", code, stderr.String())
	}
}
