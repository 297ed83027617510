package pipeline

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/internal/fftest"
)

// packets lists a file's video packets (pts, keyframe) as ffprobe reads them.
func packets(t *testing.T, path string) (pts []int64, key map[int64]bool) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts,flags",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	key = map[int64]bool{}
	for _, l := range strings.Fields(string(out)) {
		f := strings.Split(l, ",")
		p, _ := strconv.ParseInt(f[0], 10, 64)
		pts = append(pts, p)
		key[p] = strings.HasPrefix(f[1], "K")
	}
	slices.Sort(pts)
	return pts, key
}

// A plan cuts at keyframes only (B-frames reorder the packets), covers every frame once,
// balances frame counts or follows --segment-seconds, refuses more segments than keyframes,
// and a plan file that was edited or is not one is refused.
func TestSegmentPlan(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=25:duration=4", "-f", "lavfi", "-i", "sine=duration=4",
		"-c:v", "libx264", "-preset", "veryfast", "-g", "1000", "-sc_threshold", "0",
		"-force_key_frames", "0,0.6,1.2,1.4,2,3,3.6", "-c:a", "aac", src)
	pts, key := packets(t, src)
	plan := func(o PlanOptions) (*Plan, error) {
		o.Input = src
		return MakePlan(context.Background(), o)
	}
	check := func(p *Plan, starts ...float64) {
		t.Helper()
		var got []float64
		n := 0
		for i, s := range p.Segments {
			got = append(got, s.StartSeconds)
			if i > 0 && !key[s.Start] {
				t.Errorf("segment %d starts at %d, not a keyframe", i, s.Start)
			}
			in := 0
			for _, q := range pts {
				if q >= s.Start && q < s.End {
					in++
				}
			}
			if in != s.Frames {
				t.Errorf("segment %d: %d frames, the plan says %d", i, in, s.Frames)
			}
			n += s.Frames
		}
		if p.Segments[0].Start != pts[0] || n != len(pts) || p.Source.Frames != len(pts) {
			t.Errorf("the segments start at %d and hold %d frames; the input starts at %d and has %d", p.Segments[0].Start, n, pts[0], len(pts))
		}
		if !slices.Equal(got, starts) {
			t.Errorf("segments start at %v s, want %v", got, starts)
		}
	}
	p, err := plan(PlanOptions{Segments: 3})
	if err != nil {
		t.Fatal(err)
	}
	check(p, 0, 1.4, 3) // frame 33.3 → keyframe 35, 66.7 → 75
	p, err = plan(PlanOptions{SegmentSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	check(p, 0, 1.2, 2, 3)
	var pe *Error
	if _, err := plan(PlanOptions{Segments: 8}); !errors.As(err, &pe) || pe.Kind != KindUsage || !strings.Contains(err.Error(), "at most 7 segments") {
		t.Fatalf("8 segments of 7 keyframes: %v", err)
	}

	file := filepath.Join(dir, "plan.json")
	os.WriteFile(file, p.JSON(), 0o644)
	if q, err := ReadPlan(file); err != nil || q.ID != p.ID || len(q.Segments) != 4 {
		t.Fatalf("read back: %+v, %v", q, err)
	}
	for _, c := range []struct{ text, msg string }{
		{strings.Replace(string(p.JSON()), `"frames": 100`, `"frames": 99`, 1), "frames"},
		{strings.Replace(string(p.JSON()), `"start_s": 1.2`, `"start_s": 1.25`, 1), "edited"},
		{"{}", "version"},
		{"not json", "not a plan file"},
	} {
		os.WriteFile(file, []byte(c.text), 0o644)
		if _, err := ReadPlan(file); !errors.As(err, &pe) || pe.Kind != KindUsage || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("plan %.40q: %v, want a usage error with %q", c.text, err, c.msg)
		}
	}
}
