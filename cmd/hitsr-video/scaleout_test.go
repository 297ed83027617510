package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hitsr/hitsr/internal/fftest"
)

// fidelity are the flags of the scale-out tests' runs: the shipped model's fast mode on the CPU.
var fidelity = []string{"--mode", "fidelity", "--device", "cpu", "--progress", "never"}

// fidelityCLI runs the command with those flags.
func fidelityCLI(args ...string) (int, string, string) { return runCLI(append(args, fidelity...)...) }

// frameMD5 is ffmpeg's framemd5 of a file's video (decoded: timestamps, durations and a hash of
// each picture) and audio (packets as stored), without the header comments.
func frameMD5(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-map", "0:v", "-map", "0:a", "-c:a", "copy", "-f", "framemd5", "-").Output()
	if err != nil {
		t.Fatalf("framemd5 %s: %v", path, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

// streamInfo is ffprobe's description of a file's streams and container, less what depends on
// the file's layout (sizes, bit rates, its name).
func streamInfo(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_streams", "-show_format", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return regexp.MustCompile(`(?m)^(filename|size|bit_rate|max_bit_rate|probe_score)=.*\n`).ReplaceAllString(string(out), "")
}

// sameOutputs checks that a joined output equals the single run's: every decoded frame (pixels,
// pts, duration), every audio packet, the streams' parameters; and its frames have the
// source's timestamps (srcPts).
func sameOutputs(t *testing.T, srcPts []float64, single, joined string) {
	t.Helper()
	a, b := frameMD5(t, single), frameMD5(t, joined)
	if !slices.Equal(a, b) || !slices.ContainsFunc(a, func(l string) bool { return strings.HasPrefix(l, "1,") }) {
		i := 0
		for i < min(len(a), len(b)) && a[i] == b[i] {
			i++
		}
		t.Fatalf("%s: %d frames and packets, the single run's %d (no audio, or line %d differs)", joined, len(b), len(a), i)
	}
	if a, b := streamInfo(t, single), streamInfo(t, joined); a != b {
		t.Fatalf("%s: streams differ from the single run's:\n%s\n---\n%s", joined, b, a)
	}
	fftest.SamePts(t, joined, fftest.FramePts(t, joined), srcPts)
}

// outs is the --out list of the scale-out tests, in dir: lossless codecs, so that the joined
// outputs can equal the single run's frame for frame (x264 at crf 0 with B-frames reordering).
func outs(dir string) string {
	return filepath.Join(dir, "2x.mkv") + "#codec=ffv1," + filepath.Join(dir, "4x.mp4") + "#crf=0"
}

// Split into 3 → 3 worker processes given their index by JOB_COMPLETION_INDEX (as a Kubernetes
// Indexed Job does) → join equals the single run frame for frame, with the source's audio and
// metadata; the segments are video only and nothing temporary is left.
func TestScaleOut(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe", "go")
	bin := buildCLI(t)
	d := t.TempDir()
	src := filepath.Join(d, "in.mp4")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=24:duration=2", "-f", "lavfi", "-i",
		"sine=frequency=440:sample_rate=48000:duration=2", "-c:v", "libx264", "-preset", "veryfast", "-g", "12",
		"-c:a", "aac", "-metadata", "title=scale-out", "-shortest", src)
	single, split := filepath.Join(d, "single"), filepath.Join(d, "split")
	os.Mkdir(single, 0o755)
	os.Mkdir(split, 0o755)
	if code, _, stderr := fidelityCLI(src, "--out", outs(single)); code != 0 {
		t.Fatalf("single run: exit %d: %s", code, stderr)
	}
	plan := filepath.Join(d, "plan.json")
	if code, stdout, stderr := runCLI("plan", src, "--segments", "3", "--plan", plan); code != 0 || stdout != "" {
		t.Fatalf("plan: exit %d: %s%s", code, stdout, stderr)
	}
	var wg sync.WaitGroup
	errs := make([]string, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(bin, append([]string{src, "--plan", plan, "--out", outs(split)}, fidelity...)...)
			cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX="+strconv.Itoa(i))
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = err.Error() + ": " + string(out)
			}
		}()
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Fatalf("worker %d: %s", i, e)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(split, "*.seg*.nut"))
	if len(segs) != 6 {
		t.Fatalf("segment files: %v, want 3 per output", segs)
	}
	for _, s := range segs {
		if r := fftest.Probe(t, s); len(r.Streams) != 1 || r.Stream("video") == nil {
			t.Fatalf("%s: streams %+v, want video only", s, r.Streams)
		}
	}
	if code, _, stderr := runCLI("join", "--plan", plan, "--out", outs(split)); code != 0 {
		t.Fatalf("join: exit %d: %s", code, stderr)
	}
	srcPts := fftest.FramePts(t, src)
	for _, name := range []string{"2x.mkv", "4x.mp4"} {
		sameOutputs(t, srcPts, filepath.Join(single, name), filepath.Join(split, name))
	}
	if tags := fftest.Probe(t, filepath.Join(split, "4x.mp4")).Format.Tags; tags["title"] != "scale-out" {
		t.Fatalf("metadata not kept: %v", tags)
	}
	if left, _ := filepath.Glob(filepath.Join(split, ".*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// A variable-frame-rate input split by --segment-seconds, workers given --segment: the joined
// output has the source's timestamps and equals the single run.
func TestScaleOutVFR(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	d := t.TempDir()
	src := filepath.Join(d, "vfr.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=10:duration=3", "-f", "lavfi", "-i", "sine=duration=3",
		"-vf", "settb=1/1000,setpts=PTS+if(gt(N\\,5)\\,0.05*(N-5)/TB\\,0)+if(eq(mod(N\\,7)\\,0)\\,0.03/TB\\,0)",
		"-fps_mode", "vfr", "-enc_time_base", "1/1000", "-c:v", "libx264", "-preset", "veryfast", "-g", "8",
		"-c:a", "libopus", "-shortest", src)
	single, split := filepath.Join(d, "single"), filepath.Join(d, "split")
	os.Mkdir(single, 0o755)
	os.Mkdir(split, 0o755)
	if code, _, stderr := fidelityCLI(src, "--out", outs(single)); code != 0 {
		t.Fatalf("single run: exit %d: %s", code, stderr)
	}
	plan := filepath.Join(d, "plan.json")
	if code, _, stderr := runCLI("plan", src, "--segment-seconds", "1", "--plan", plan); code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(plan)
	var p struct{ Segments []json.RawMessage }
	if json.Unmarshal(b, &p); len(p.Segments) < 3 {
		t.Fatalf("plan of a 3 s input in 1 s segments: %s", b)
	}
	for i := range p.Segments {
		if code, _, stderr := fidelityCLI(src, "--plan", plan, "--segment", strconv.Itoa(i), "--out", outs(split)); code != 0 {
			t.Fatalf("segment %d: exit %d: %s", i, code, stderr)
		}
	}
	if code, _, stderr := runCLI("join", "--plan", plan, "--out", outs(split)); code != 0 {
		t.Fatalf("join: exit %d: %s", code, stderr)
	}
	srcPts := fftest.FramePts(t, src)
	for _, name := range []string{"2x.mkv", "4x.mp4"} {
		sameOutputs(t, srcPts, filepath.Join(single, name), filepath.Join(split, name))
	}
}

// Scale-out errors are one JSON line with the documented exit code, name the segment or the
// setting, and write nothing: a segment missing, short or from another plan at join time (3),
// an existing output (2), a worker without a segment index, with one out of range, with the
// plan of another input, or over an existing segment (2).
func TestScaleOutErrors(t *testing.T) {
	fftest.Need(t, "ffmpeg")
	d := t.TempDir()
	src, other := filepath.Join(d, "in.mkv"), filepath.Join(d, "other.mkv")
	for i, f := range []string{src, other} {
		fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=10:duration="+strconv.Itoa(2+i), "-f", "lavfi", "-i", "sine=duration=2",
			"-c:v", "libx264", "-preset", "ultrafast", "-g", "5", "-c:a", "aac", "-shortest", f)
	}
	plan, plan2 := filepath.Join(d, "plan.json"), filepath.Join(d, "plan2.json")
	for _, p := range []struct{ file, n string }{{plan, "3"}, {plan2, "2"}} {
		if code, _, stderr := runCLI("plan", src, "--segments", p.n, "--plan", p.file); code != 0 {
			t.Fatalf("plan: exit %d: %s", code, stderr)
		}
	}
	out := filepath.Join(d, "out")
	os.Mkdir(out, 0o755)
	o2 := filepath.Join(out, "2x.mkv")
	for i := range 3 {
		if code, _, stderr := fidelityCLI(src, "--plan", plan, "--segment", strconv.Itoa(i), "--out", o2, "--preset", "ultrafast"); code != 0 {
			t.Fatalf("segment %d: exit %d: %s", i, code, stderr)
		}
	}
	seg1 := filepath.Join(out, "2x.mkv.seg001.nut")
	good, _ := os.ReadFile(seg1)
	oneLine := func(t *testing.T, code int, stderr string, wantCode int, msg string, segFiles []string) {
		t.Helper()
		var line struct{ Level, Msg string }
		if code != wantCode || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || json.Unmarshal([]byte(stderr), &line) != nil ||
			line.Level != "error" || !strings.Contains(line.Msg, msg) {
			t.Fatalf("exit %d, stderr %q; want exit %d and one JSON error line with %q", code, stderr, wantCode, msg)
		}
		if got := listDir(t, out); !slices.Equal(got, segFiles) {
			t.Fatalf("output directory holds %v, want only the segments %v", got, segFiles)
		}
	}
	for _, c := range []struct {
		name    string
		prepare func()
		args    []string
		code    int
		msg     string
	}{
		{"segment from another plan", nil, []string{"join", "--plan", plan2, "--out", o2}, exitInput,
			"segment 0 (" + filepath.Join(out, "2x.mkv.seg0") + "00.nut) belongs to another plan"},
		{"short segment", func() { os.WriteFile(seg1, good[:len(good)/2], 0o644) }, []string{"join", "--plan", plan, "--out", o2},
			exitInput, "segment 1 (" + seg1 + ") holds"},
		{"missing segment", func() { os.Remove(seg1) }, []string{"join", "--plan", plan, "--out", o2},
			exitInput, "segment 1 is missing: " + seg1},
		{"no segment index", func() { t.Setenv("JOB_COMPLETION_INDEX", "") }, []string{src, "--plan", plan, "--out", o2}, exitUsage, "give --segment I (or set JOB_COMPLETION_INDEX)"},
		{"segment out of range", nil, []string{src, "--plan", plan, "--segment", "3", "--out", o2}, exitUsage, "segment 3: the plan has segments 0..2"},
		{"bad JOB_COMPLETION_INDEX", func() { t.Setenv("JOB_COMPLETION_INDEX", "x") }, []string{src, "--plan", plan, "--out", o2},
			exitUsage, `JOB_COMPLETION_INDEX "x"`},
		{"another input", nil, []string{other, "--plan", plan, "--segment", "1", "--out", o2}, exitUsage, "not the input the plan was made for"},
		{"existing segment", func() { os.WriteFile(seg1, good, 0o644) }, []string{src, "--plan", plan, "--segment", "1", "--out", o2},
			exitUsage, "exists (use -y to overwrite)"},
		{"plan over an existing file", nil, []string{"plan", src, "--segments", "2", "--plan", plan}, exitUsage, "exists"},
		{"join without a plan", nil, []string{"join", "--out", o2}, exitUsage, "--plan is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.prepare != nil {
				c.prepare()
			}
			segFiles := listDir(t, out)
			run := fidelityCLI
			if c.args[0] == "plan" || c.args[0] == "join" {
				run = runCLI
			}
			code, stdout, stderr := run(c.args...)
			if stdout != "" {
				t.Fatalf("stdout %q", stdout)
			}
			oneLine(t, code, stderr, c.code, c.msg, segFiles)
		})
	}
}
