package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/internal/fftest"
)

// refused checks a refused run: the exit code, one JSON error line holding msg, nothing on
// stdout (so nothing was computed: eval prints its table and an image run its summary only
// after the work) and the directory's files as they were, byte for byte.
func refused(t *testing.T, what string, code int, stdout, stderr string, wantCode int, msg, dir string, before map[string][]byte) {
	t.Helper()
	var line struct{ Level, Msg string }
	if code != wantCode || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || json.Unmarshal([]byte(stderr), &line) != nil ||
		line.Level != "error" || !strings.Contains(line.Msg, msg) {
		t.Errorf("%s: exit %d, stderr %q; want exit %d and one JSON error line with %q", what, code, stderr, wantCode, msg)
	}
	if stdout != "" {
		t.Errorf("%s: stdout %q, want nothing (refused before any work)", what, stdout)
	}
	if after := snapshot(t, dir); !equalFiles(before, after) {
		t.Errorf("%s: the directory changed: %v, was %v", what, keys(after), keys(before))
	}
}

// snapshot is every regular file under dir (links followed) with its bytes.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			b, _ := os.ReadFile(p)
			files[p] = b
		}
		return nil
	})
	return files
}

func equalFiles(a, b map[string][]byte) bool {
	return len(a) == len(b) && !slices.ContainsFunc(keys(a), func(k string) bool { v, ok := b[k]; return !ok || !bytes.Equal(a[k], v) })
}

func keys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// eval's --csv and --chart are planned like every output before any work: never an image it
// evaluates (whatever names it), never each other, never a directory, a URL or an existing file.
func TestEvalOutputsSafety(t *testing.T) {
	for _, c := range []struct {
		args []string // "D/" stands for the case's directory, which holds ev/img.png (evaluated)
		msg  string
	}{
		{[]string{"--csv", "D/ev/img.png"}, "is the input file"},
		{[]string{"--chart", "D/ev/img.png"}, "is the input file"},
		{[]string{"--chart", "D/link.png"}, "is the input file"},
		{[]string{"--csv", "D/hard.png"}, "is the input file"},
		{[]string{"--csv", "D/old.csv"}, "exists (use -y to overwrite)"},
		{[]string{"--csv", "D/x.png", "--chart", "D/x.png"}, "same file"},
		{[]string{"--csv", "D/dd.csv"}, "is a directory"},
		{[]string{"--csv", "http://127.0.0.1:1/r.csv"}, "r.csv"},
	} {
		d := t.TempDir()
		img := filepath.Join(d, "ev", "img.png")
		os.Mkdir(filepath.Dir(img), 0o755)
		writePNG(t, img, 24, 20, false)
		os.Symlink(img, filepath.Join(d, "link.png"))
		os.Link(img, filepath.Join(d, "hard.png"))
		os.WriteFile(filepath.Join(d, "old.csv"), []byte("keep me\n"), 0o644)
		os.Mkdir(filepath.Join(d, "dd.csv"), 0o755)
		args := []string{"eval", filepath.Dir(img), "--scales", "2", "--model", tiny, "--device", "cpu"}
		for _, a := range c.args {
			args = append(args, strings.Replace(a, "D/", d+"/", 1))
		}
		before := snapshot(t, d)
		code, stdout, stderr := runCLI(args...)
		refused(t, strings.Join(c.args, " "), code, stdout, stderr, exitUsage, c.msg, d, before)
	}
}

// A CSV that cannot be written whole (a full disk; here the file size limit) fails with exit 1
// and leaves nothing under its name, no partial file either.
func TestEvalCSVWriteFailure(t *testing.T) {
	d := t.TempDir()
	for i := range 24 { // a CSV of several kB
		writePNG(t, filepath.Join(d, fmt.Sprintf("image-with-a-long-name-%02d.png", i)), 12, 10, false)
	}
	out := filepath.Join(t.TempDir(), "r.csv")
	// In a child shell: a write past 1 block (512 or 1024 bytes) fails with EFBIG
	// rather than killing the process, and this test process keeps its own limit.
	cmd := exec.Command("sh", "-c", `trap '' XFSZ; ulimit -f 1; exec "$@"`, "sh", buildCLI(t),
		"eval", d, "--scales", "2", "--csv", out, "--model", tiny, "--device", "cpu")
	var errb strings.Builder
	cmd.Stderr = &errb
	err := cmd.Run()
	code, stderr := cmd.ProcessState.ExitCode(), errb.String()
	if err != nil && code < 0 {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n") // eval's timing line per scale, then the error
	if code != exitFailure || !strings.Contains(lines[len(lines)-1], out+": write") {
		t.Fatalf("exit %d, stderr %q; want exit %d and an error line naming %s", code, stderr, exitFailure, out)
	}
	if left := listDir(t, filepath.Dir(out)); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// An image output that PlanFiles does not plan as a file (a URL, a name with a scheme-like
// colon) is one usage line before anything is written, not a panic, and no other output of
// the run is committed.
func TestImageOutputNotAFile(t *testing.T) {
	d := t.TempDir()
	in := filepath.Join(d, "in.png")
	writePNG(t, in, 8, 6, false)
	for _, c := range []struct{ out, msg string }{
		{"2:ab:c.png", "ab:c.png"},
		{"2:udp://127.0.0.1:9/x.png", "udp://127.0.0.1:9/x.png"},
		{filepath.Join(d, "2x.png") + ",4:http://127.0.0.1:1/x.jpg", "http://127.0.0.1:1/x.jpg"},
	} {
		before := snapshot(t, d)
		code, stdout, stderr := runCLI(in, "--out", c.out, "--model", tiny, "--device", "cpu")
		refused(t, "--out "+c.out, code, stdout, stderr, exitUsage, c.msg, d, before)
	}
}

// The outputs' sizes are checked from the image's header: an input whose ×2 is over the limit
// is refused without decoding its 17 Mpx (the decode alone allocated over 400 MB).
func TestImageSizeBeforeDecode(t *testing.T) {
	d := t.TempDir()
	in := filepath.Join(d, "big.png")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, image.NewGray(image.Rect(0, 0, 4100, 4100))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before := snapshot(t, d)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	code, stdout, stderr := runCLI(in, "--out", filepath.Join(d, "2x.png"), "--model", tiny, "--device", "cpu")
	runtime.ReadMemStats(&m1)
	refused(t, "×2 of 4100×4100", code, stdout, stderr, exitUsage, "exceeds the limit of 64 Mpx", d, before)
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 32<<20 {
		t.Errorf("%d MB allocated before refusing: the image was decoded", alloc>>20)
	}
}

// Whatever a run writes to stdout (a plan, eval's table, an image run's summary lines), stdout
// that is one of its input files (1<>IN, >>IN, through any name) is refused before any work,
// and the input keeps its bytes.
func TestStdoutIsInput(t *testing.T) {
	fftest.Need(t, "ffmpeg", "go")
	bin := buildCLI(t)
	vid := filepath.Join(t.TempDir(), "so.mp4")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=10:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "5", vid)
	video, _ := os.ReadFile(vid)
	model := []string{"--model", tiny, "--device", "cpu"}
	readWrite, appendOnly := os.O_RDWR, os.O_WRONLY|os.O_APPEND // 1<>FILE, >>FILE
	for _, c := range []struct {
		name         string
		stdout, flag int // stdout: 0 the image, 1 the video
		args         []string
		named        string // the input as the command names it
	}{
		{"image 1<>", 0, readWrite, []string{"D/ev/img.png", "--out", "D/2x.png"}, "D/ev/img.png"},
		{"image >>", 0, appendOnly, []string{"D/ev/img.png", "--out", "D/2x.png"}, "D/ev/img.png"},
		{"image through a link", 0, readWrite, []string{"D/link.png", "--out", "D/2x.png"}, "D/link.png"},
		{"plan 1<>", 1, readWrite, []string{"plan", "D/so.mp4", "--segments", "2"}, "D/so.mp4"},
		{"plan --plan - >>", 1, appendOnly, []string{"plan", "D/so.mp4", "--segments", "2", "--plan", "-"}, "D/so.mp4"},
		{"eval 1<>", 0, readWrite, []string{"eval", "D/ev", "--scales", "2"}, "D/ev/img.png"},
	} {
		d := t.TempDir()
		img := filepath.Join(d, "ev", "img.png")
		os.Mkdir(filepath.Dir(img), 0o755)
		writePNG(t, img, 24, 20, false)
		os.Symlink(img, filepath.Join(d, "link.png"))
		os.WriteFile(filepath.Join(d, "so.mp4"), video, 0o644)
		var args []string
		for _, a := range c.args {
			args = append(args, strings.Replace(a, "D/", d+"/", 1))
		}
		if args[0] != "plan" {
			args = append(args, model...)
		}
		before := snapshot(t, d)
		h, err := os.OpenFile([]string{img, filepath.Join(d, "so.mp4")}[c.stdout], c.flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, args...)
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = h, &stderr
		cmd.Run()
		h.Close()
		refused(t, c.name, cmd.ProcessState.ExitCode(), "", stderr.String(), exitUsage,
			"stdout is the input file "+strings.Replace(c.named, "D/", d+"/", 1), d, before)
	}
	// stdout elsewhere: the run goes ahead (the check compares files, not that stdout is a file)
	d := t.TempDir()
	img := filepath.Join(d, "img.png")
	writePNG(t, img, 24, 20, false)
	h, _ := os.Create(filepath.Join(d, "out.txt"))
	cmd := exec.Command(bin, append([]string{img, "--out", filepath.Join(d, "2x.png")}, model...)...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = h, &stderr
	err := cmd.Run()
	h.Close()
	if b, _ := os.ReadFile(h.Name()); err != nil || !strings.Contains(string(b), "2x.png: 48×40") {
		t.Fatalf("stdout to another file: %v %s, stdout %q", err, stderr.String(), b)
	}
}

// eval takes -y as the other commands do: an existing --csv is replaced (by rename, nothing
// left beside it), while an image it evaluates is still refused.
func TestEvalOverwrite(t *testing.T) {
	d := t.TempDir()
	img := filepath.Join(d, "ev", "img.png")
	os.Mkdir(filepath.Dir(img), 0o755)
	writePNG(t, img, 24, 20, false)
	os.Symlink(img, filepath.Join(d, "link.png"))
	old := filepath.Join(d, "old.csv")
	os.WriteFile(old, []byte("keep me\n"), 0o644)
	eval := func(args ...string) (int, string, string) {
		return runCLI(append([]string{"eval", filepath.Dir(img), "--scales", "2", "--model", tiny, "--device", "cpu", "-y"}, args...)...)
	}
	for _, out := range []string{img, filepath.Join(d, "link.png")} {
		before := snapshot(t, d)
		code, stdout, stderr := eval("--chart", out)
		refused(t, "-y --chart "+out, code, stdout, stderr, exitUsage, "is the input file", d, before)
	}
	if code, _, stderr := eval("--csv", old); code != 0 {
		t.Fatalf("-y --csv over an existing file: exit %d %s", code, stderr)
	}
	if b, _ := os.ReadFile(old); !strings.HasPrefix(string(b), "image,scale,method,") {
		t.Fatalf("-y --csv: the file holds %q", b)
	}
	if got := listDir(t, d); !slices.Equal(got, []string{"ev", "link.png", "old.csv"}) {
		t.Fatalf("left beside the output: %v", got)
	}
}
