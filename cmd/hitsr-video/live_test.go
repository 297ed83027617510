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

// waitBound waits until a socket is bound to port (UDP) or listens on it (TCP), as the kernel
// lists them in /proc/net: the receiver is ready, so nothing sent is lost to a race.
func waitBound(t *testing.T, network string, port int) {
	t.Helper()
	want := fmt.Sprintf(":%04X ", port)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
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

// sender is ffmpeg sending liveFrames of a live testsrc2 (H.264, at its own pace) to url.
func sender(format, url string, extra ...string) *exec.Cmd {
	args := []string{"-v", "error", "-nostdin", "-re", "-f", "lavfi", "-i",
		fmt.Sprintf("testsrc2=size=64x36:rate=%d:duration=%d", liveRate, liveFrames/liveRate),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-f", format}
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
// playlist. The SRT run also sends ×2 on to an SRT listener.
func TestLiveLadder(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe", "go")
	bin := buildCLI(t)
	start := func(t *testing.T, cmd *exec.Cmd) {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	for _, proto := range []string{"udp", "srt", "rtmp"} {
		t.Run(proto, func(t *testing.T) {
			dir := t.TempDir()
			hls := filepath.Join(dir, "hls")
			args := []string{"--out", "hls:" + hls, "--hls-time", "1", "--realtime", "--queue", "16",
				"--input-timeout", "1", "--mode", "fidelity", "--device", "cpu", "--progress", "never", "--preset", "ultrafast"}
			var stderr strings.Builder
			cli := func(input string) *exec.Cmd {
				cmd := exec.Command(bin, append([]string{input}, args...)...)
				cmd.Stderr = &stderr
				start(t, cmd)
				return cmd
			}
			var run, send, relay *exec.Cmd
			relayed := filepath.Join(dir, "relay.ts")
			switch proto {
			case "udp":
				port := freePort(t, "udp")
				run = cli(fmt.Sprintf("udp://127.0.0.1:%d", port))
				waitBound(t, "udp", port)
				send = sender("mpegts", fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port))
				start(t, send)
			case "srt":
				port, out := freePort(t, "udp"), freePort(t, "udp")
				relay = exec.Command("ffmpeg", "-v", "error", "-nostdin", "-i", fmt.Sprintf("srt://127.0.0.1:%d?mode=listener", out), "-c", "copy", relayed)
				start(t, relay)
				waitBound(t, "udp", out)
				args = append(args, "--out", fmt.Sprintf("2:srt://127.0.0.1:%d", out))
				run = cli(fmt.Sprintf("srt://127.0.0.1:%d?mode=listener", port))
				waitBound(t, "udp", port)
				send = sender("mpegts", fmt.Sprintf("srt://127.0.0.1:%d?linger=2", port)) // linger: its last packets are delivered
				start(t, send)
			case "rtmp":
				port := freePort(t, "tcp")
				url := fmt.Sprintf("rtmp://127.0.0.1:%d/live/test", port)
				send = sender("flv", url, "-listen", "1")
				start(t, send)
				waitBound(t, "tcp", port)
				run = cli(url)
			}
			if err := wait(send, 30*time.Second); err != nil {
				t.Fatalf("sender: %v", err)
			}
			if err := wait(run, 30*time.Second); err != nil {
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
				case l.Level == "error":
					t.Fatalf("error logged: %+v", l)
				}
			}
			if done.Msg == "" || done.Frames+done.Dropped != liveFrames || done.Decoded != liveFrames || done.Frames < liveFrames/2 || stalled != (proto == "udp") {
				t.Fatalf("done %+v (input timeout logged: %v), sent %d frames\n%s", done, stalled, liveFrames, stderr.String())
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
				seen := map[int]bool{} // every frame is one sent: distinct times on the sender's grid
				for _, f := range r.Frames {
					k := int(math.Round(f.Pts / period))
					if seen[k] || math.Abs(f.Pts-float64(k)*period) > 1e-3 {
						t.Fatalf("%s: frame at %.4f s repeated or off the %g s grid", r.URI, f.Pts, period)
					}
					seen[k] = true
				}
			}
			if relay != nil {
				if err := wait(relay, 20*time.Second); err != nil {
					t.Fatalf("SRT receiver: %v", err)
				}
				if n := len(fftest.FramePts(t, relayed)); n != done.Frames {
					t.Fatalf("SRT output: %d frames, %d done", n, done.Frames)
				}
			}
		})
	}
}

// wait waits for cmd to exit, at most d.
func wait(cmd *exec.Cmd, d time.Duration) error {
	ch := make(chan error, 1)
	go func() { ch <- cmd.Wait() }()
	select {
	case err := <-ch:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		return fmt.Errorf("still running after %s", d)
	}
}
