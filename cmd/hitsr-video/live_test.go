package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hitsr/hitsr/internal/fftest"
)

// liveFrames is what every live test sends: 3 s of testsrc2 at 10 frames/s, 64×36.
const liveFrames, liveRate = 30, 10

// srtPad is how many frames the SRT sender sends after the liveFrames that count (2 s).
const srtPad = 2 * liveRate

// freePort is a loopback port nothing listens on now.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// liveWait bounds every wait of the live tests: generous, as a loaded machine may take long to
// start a process or to play 3 s of stream, yet a hang still fails.
const liveWait = 2 * time.Minute

// proc is a started process; done is closed once it has exited (err then holds Wait's result).
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// start starts cmd, killed at the end of the test if still running.
func start(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	return p
}

// wait waits for p to exit, at most liveWait.
func (p *proc) wait() error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(liveWait):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("still running after %s", liveWait)
	}
}

// waitBound waits until p has bound a socket to port (UDP) or listens on it (TCP), as the
// kernel lists them in /proc/net: the receiver is ready, so nothing sent is lost to a race.
func waitBound(t *testing.T, p *proc, network string, port int) {
	t.Helper()
	want := fmt.Sprintf(":%04X ", port)
	for deadline := time.Now().Add(liveWait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before binding %s port %d", p.cmd.Path, p.err, network, port)
		default:
		}
		b, _ := os.ReadFile("/proc/net/" + network)
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) > 3 && strings.HasSuffix(f[1]+" ", want) && (network == "udp" || f[3] == "0A") {
				return
			}
		}
	}
	t.Fatalf("nothing bound to %s port %d", network, port)
}

// sender is ffmpeg sending frames of a live testsrc2 (H.264, at its own pace) to url, frame k
// at k/liveRate s (no muxer delay).
func sender(frames int, format, url string, extra ...string) *exec.Cmd {
	args := []string{"-v", "error", "-nostdin", "-re", "-f", "lavfi", "-i",
		fmt.Sprintf("testsrc2=size=64x36:rate=%d:duration=%g", liveRate, float64(frames)/liveRate),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-muxdelay", "0", "-muxpreload", "0", "-f", format}
	return exec.Command("ffmpeg", append(append(args, extra...), url)...)
}

// doneLine is the final log line's counts.
type doneLine struct {
	Msg              string
	Frames, Dropped  int
	Decoded          int
	Degraded, Exit   int
	URL, Level, Mode string
}

// logLines parses the JSON log lines.
func logLines(t *testing.T, stderr string) []doneLine {
	var lines []doneLine
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		var l doneLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not a JSON log line: %q", sc.Text())
		}
		lines = append(lines, l)
	}
	return lines
}

// A live stream over loopback — UDP (the sender simply stops: the input timeout ends it),
// SRT (the caller disconnects) and RTMP (ffmpeg's listen mode serving hitsr-video as the
// player) — becomes a 3-rendition HLS ladder: segments aligned across renditions, every frame
// sent is in every rendition unless the log counts it as dropped, and ffmpeg plays the master
// playlist. The SRT run also sends ×2 on to an SRT listener; its sender sends srtPad frames
// after the liveFrames counted, which the ffmpeg CLI may lose as it closes.
func TestLiveLadder(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe", "go")
	bin := buildCLI(t)
	for _, proto := range []string{"udp", "srt", "rtmp"} {
		t.Run(proto, func(t *testing.T) {
			dir := t.TempDir()
			hls := filepath.Join(dir, "hls")
			// The default queue (a second of frames in realtime) takes the burst at the start.
			// UDP ends by the input timeout, long enough that a loaded machine's pauses do not
			// end it early; SRT and RTMP end when the peer closes, long before theirs.
			timeout := map[string]string{"udp": "5", "srt": "60", "rtmp": "60"}[proto]
			args := []string{"--out", "hls:" + hls, "--hls-time", "1", "--realtime", "--input-timeout", timeout,
				"--mode", "fidelity", "--device", "cpu", "--progress", "never", "--preset", "ultrafast"}
			var stderr strings.Builder
			cli := func(input string) *proc {
				cmd := exec.Command(bin, append([]string{input}, args...)...)
				cmd.Stderr = &stderr
				return start(t, cmd)
			}
			var run, send, relay *proc
			relayed := filepath.Join(dir, "relay.ts")
			sent := liveFrames // the sender's frames; the first liveFrames must all arrive
			switch proto {
			case "udp":
				port := freePort(t, "udp")
				run = cli(fmt.Sprintf("udp://127.0.0.1:%d", port))
				waitBound(t, run, "udp", port)
				send = start(t, sender(sent, "mpegts", fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port)))
			case "srt":
				// The SRT receivers take every packet (tsbpd=0, tlpktdrop=0): in live mode libsrt
				// drops packets late by its latency (120 ms), which a loaded machine makes, at
				// either end, and what still waits for its play time when the sender closes.
				port, out := freePort(t, "udp"), freePort(t, "udp")
				relay = start(t, exec.Command("ffmpeg", "-v", "error", "-nostdin", "-i",
					fmt.Sprintf("srt://127.0.0.1:%d?mode=listener&tsbpd=0&tlpktdrop=0", out), "-c", "copy", relayed))
				waitBound(t, relay, "udp", out)
				args = append(args, "--out", fmt.Sprintf("2:srt://127.0.0.1:%d", out))
				run = cli(fmt.Sprintf("srt://127.0.0.1:%d?mode=listener&tsbpd=0&tlpktdrop=0", port))
				waitBound(t, run, "udp", port)
				// The ffmpeg CLI, like hitsr-video before srtDrain, releases libsrt as soon as it
				// closes its socket: a sender starved at that moment loses what libsrt had not
				// sent yet, its last 2 frames (4 of 12 runs with a plain ffmpeg receiver when the
				// sender was niced under CPU hogs; none when the receiver was stopped across the
				// close instead). So it sends srtPad frames more: the counted ones go out long
				// before it closes, and a pad frame lost at the close is no loss of ours.
				sent += srtPad
				send = start(t, sender(sent, "mpegts", fmt.Sprintf("srt://127.0.0.1:%d", port)))
			case "rtmp":
				port := freePort(t, "tcp")
				url := fmt.Sprintf("rtmp://127.0.0.1:%d/live/test", port)
				send = start(t, sender(sent, "flv", url, "-listen", "1"))
				waitBound(t, send, "tcp", port)
				run = cli(url)
			}
			if err := send.wait(); err != nil {
				t.Fatalf("sender: %v", err)
			}
			if err := run.wait(); err != nil {
				t.Fatalf("hitsr-video: %v\n%s", err, stderr.String())
			}
			var done doneLine
			stalled := false
			for _, l := range logLines(t, stderr.String()) {
				switch {
				case l.Msg == "done":
					done = l
				case strings.Contains(l.Msg, "sender is gone"):
					stalled = true
				case l.Level == "error", strings.Contains(l.Msg, "input ended early"):
					t.Fatalf("logged at a clean end: %+v\n%s", l, stderr.String())
				}
			}
			if done.Msg == "" || done.Frames+done.Dropped != done.Decoded || done.Decoded < liveFrames || done.Decoded > sent || done.Frames < liveFrames/2 || stalled != (proto == "udp") {
				t.Fatalf("done %+v (input timeout logged: %v), sent %d frames, the first %d counted\n%s", done, stalled, sent, liveFrames, stderr.String())
			}
			period := 1.0 / liveRate
			rends := fftest.CheckLadder(t, hls, 1, period)
			decoded := fftest.DecodeMaster(t, hls)
			if len(rends) != 3 || len(decoded) != 3 {
				t.Fatalf("%d renditions, %d decoded through the master", len(rends), len(decoded))
			}
			for _, r := range rends {
				size := fmt.Sprintf("%dx%d", r.Width, r.Height)
				if len(r.Frames) != done.Frames || decoded[size] != done.Frames || !r.EndList {
					t.Fatalf("%s: %d frames (%d decoded through the master), %d done; endlist %v", r.URI, len(r.Frames), decoded[size], done.Frames, r.EndList)
				}
				// Every frame is one sent (hitsr-video keeps the input's times): distinct times
				// on the sender's grid; the first liveFrames sent are there unless dropped.
				seen := map[int]bool{}
				counted := 0
				for _, f := range r.Frames {
					k := int(math.Round(f.Pts / period))
					if seen[k] || k < 0 || k >= sent || math.Abs(f.Pts-float64(k)*period) > 1e-3 {
						t.Fatalf("%s: frame at %.4f s repeated or not one of the %d sent every %g s from 0", r.URI, f.Pts, sent, period)
					}
					seen[k] = true
					if k < liveFrames {
						counted++
					}
				}
				if counted+done.Dropped < liveFrames {
					t.Fatalf("%s: %d of the first %d frames sent, %d dropped", r.URI, counted, liveFrames, done.Dropped)
				}
			}
			if relay != nil {
				if err := relay.wait(); err != nil {
					t.Fatalf("SRT receiver: %v", err)
				}
				if pts := fftest.FramePts(t, relayed); len(pts) != done.Frames {
					t.Fatalf("SRT output: %d frames, %d done: %v", len(pts), done.Frames, pts)
				}
			}
		})
	}
}

// --max-delay takes seconds ≥ 0 (a fraction too); anything else is one usage error naming it.
func TestMaxDelayFlag(t *testing.T) {
	s, _, err := loadSettings(cmdUpscale, []string{"in.mp4", "--out", "2x.mp4", "--realtime", "--max-delay", "0.5"})
	if err != nil || s.maxDelay != 0.5 {
		t.Fatalf("--max-delay 0.5: %v, %+v", err, s)
	}
	for arg, want := range map[string]string{"-1": "--max-delay -1: out of range", "soon": `invalid argument "soon" for "--max-delay"`, "+Inf": "--max-delay +Inf: out of range", "3601": "--max-delay 3601: out of range (0..3600)"} {
		if _, _, err := loadSettings(cmdUpscale, []string{"in.mp4", "--out", "2x.mp4", "--max-delay", arg}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--max-delay %s: %v, want %q", arg, err, want)
		}
	}
}
