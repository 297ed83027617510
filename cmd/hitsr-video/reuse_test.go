package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/internal/fftest"
)

const v2Model = "../../testdata/golden/v2_model.safetensors"

// doneCount is the value of key in the "done" log line.
func doneCount(t *testing.T, stderr, key string) int {
	t.Helper()
	m := regexp.MustCompile(`"` + key + `":(\d+)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no %s in the log:\n%s", key, stderr)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Full mode on a still clip (model v2): the default reuses tokens of the frames after the first,
// --reuse=false runs every tile of every frame, --reuse-threshold 0 reuses identical tiles and
// writes the same output as no reuse; a bad threshold is a usage error naming the flag.
func TestReuseFlags(t *testing.T) {
	fftest.Need(t, "ffmpeg")
	d := t.TempDir()
	still, clip := filepath.Join(d, "still.png"), filepath.Join(d, "still.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=40x24", "-frames:v", "1", still)
	fftest.FFmpeg(t, "-loop", "1", "-i", still, "-frames:v", "5", "-c:v", "ffv1", "-pix_fmt", "bgr0", clip)
	run := func(name string, args ...string) (string, string) {
		out := filepath.Join(d, name+".mkv")
		args = append([]string{clip, "--out", "2:" + out + "#codec=ffv1:pix-fmt=bgr0", "--model", v2Model, "--mode", "full",
			"--device", "cpu", "--progress", "never", "--log-level", "info"}, args...)
		code, _, stderr := runCLI(args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		return out, stderr
	}
	const tiles = 5 * 3 // 40×24 in tiles of 8
	_, log := run("default")
	if ran, reused := doneCount(t, log, "tiles_run"), doneCount(t, log, "tiles_reused"); ran != tiles || reused != 4*tiles {
		t.Errorf("default: %d tiles generated, %d replayed; want %d and %d", ran, reused, tiles, 4*tiles)
	}
	off, log := run("off", "--reuse=false")
	if ran, reused := doneCount(t, log, "tiles_run"), doneCount(t, log, "tiles_reused"); ran != 5*tiles || reused != 0 {
		t.Errorf("--reuse=false: %d tiles generated, %d replayed", ran, reused)
	}
	exact, log := run("exact", "--reuse-threshold", "0")
	if reused := doneCount(t, log, "tiles_reused"); reused != 4*tiles {
		t.Errorf("--reuse-threshold 0: %d tiles replayed, want %d", reused, 4*tiles)
	}
	fa, fb := filepath.Join(d, "off.rgb"), filepath.Join(d, "exact.rgb")
	fftest.FFmpeg(t, "-i", off, "-f", "rawvideo", "-pix_fmt", "rgb24", fa)
	fftest.FFmpeg(t, "-i", exact, "-f", "rawvideo", "-pix_fmt", "rgb24", fb)
	ra, _ := os.ReadFile(fa)
	rb, _ := os.ReadFile(fb)
	if len(ra) != 5*80*48*3 || !bytes.Equal(ra, rb) {
		t.Errorf("--reuse-threshold 0 output (%d bytes) differs from --reuse=false output (%d bytes)", len(rb), len(ra))
	}
	for _, v := range []string{"-1", "abc"} {
		code, _, stderr := runCLI(clip, "--out", filepath.Join(d, "bad.mkv"), "--model", v2Model, "--reuse-threshold", v)
		if code != exitUsage || !strings.Contains(stderr, "reuse-threshold") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("--reuse-threshold %s: exit %d, %q", v, code, stderr)
		}
	}
}
