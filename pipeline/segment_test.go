package pipeline

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/internal/fftest"
)

// Each segment run seeks to its keyframe in containers with and without an index (MPEG-TS has
// none: its seeks land late and are retried further back), and the join of the segments equals
// the single run: every decoded frame and audio packet (framemd5) of a lossless output.
func TestSegmentsJoined(t *testing.T) {
	fftest.Need(t, "ffmpeg")
	for _, ext := range []string{"ts", "mp4", "mkv"} {
		t.Run(ext, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "in."+ext)
			fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=25:duration=2", "-f", "lavfi", "-i", "sine=duration=2",
				"-c:v", "libx264", "-preset", "veryfast", "-g", "10", "-c:a", "aac", "-shortest", src)
			out := func(name string) Output {
				return Output{URL: filepath.Join(dir, name), Target: hitsr.Target{Scale: 2}, Codec: "ffv1", CRF: -1}
			}
			run(t, Options{Input: src, Outputs: []Output{out("single.mkv")}})
			plan, err := MakePlan(context.Background(), PlanOptions{Input: src, Segments: 3})
			if err != nil {
				t.Fatal(err)
			}
			for i := range plan.Segments {
				st := run(t, Options{Input: src, Outputs: []Output{out("joined.mkv")}, Segment: &SegmentRun{Plan: plan, Index: i}})
				if st.Done != plan.Segments[i].Frames {
					t.Fatalf("segment %d: %d frames, the plan has %d", i, st.Done, plan.Segments[i].Frames)
				}
			}
			if _, err := NewJoin(JoinOptions{Plan: plan, Outputs: []Output{out("joined.mkv")}}).Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			md5 := func(name string) []byte {
				b, err := exec.Command("ffmpeg", "-v", "error", "-i", filepath.Join(dir, name), "-map", "0", "-c:a", "copy", "-f", "framemd5", "-").Output()
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			if a, b := md5("single.mkv"), md5("joined.mkv"); len(a) < 100 || !slices.Equal(a, b) {
				t.Fatalf("the joined output differs from the single run's:\n%s\n---\n%s", b, a)
			}
		})
	}
}

// A plan whose first segment starts at the bottom of int64 (hand-edited, its id recomputed by
// whoever edited it): seeking back for a keyframe ends in an error, not a loop whose step
// wrapped around.
func TestSegmentSeekExtremes(t *testing.T) {
	dir, src, plan := twoSegments(t)
	plan.Segments[0].Start, plan.Segments[0].End, plan.Segments[1].Start = math.MinInt64, -1000, -1000
	plan.ID = plan.hash()
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), &bicubic{}, Options{Input: src, Segment: &SegmentRun{Plan: plan, Index: 1},
			Outputs: []Output{fast(filepath.Join(dir, "2x.mkv"), hitsr.Target{Scale: 2})}})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no keyframe at or before it") {
			t.Errorf("segment 1 from %d: %v", plan.Segments[1].Start, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still seeking after 30 s")
	}
}

// Even with overwrite, a run never writes over what it reads besides its input: a join's
// output that is its plan file or one of the segments it joins, a segment run's segment that is
// (a link to) its plan file.
func TestScaleOutNeverWritesItsReads(t *testing.T) {
	dir, src, made := twoSegments(t)
	planPath := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(planPath, made.JSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := ReadPlan(planPath)
	if err != nil {
		t.Fatal(err)
	}
	out := func(url string) Output {
		return Output{URL: url, Target: hitsr.Target{Scale: 2}, Format: "matroska", CRF: 18, Preset: "ultrafast"}
	}
	x2 := filepath.Join(dir, "2x.mkv")
	for i := range plan.Segments {
		run(t, Options{Input: src, Outputs: []Output{out(x2)}, Segment: &SegmentRun{Plan: plan, Index: i}})
	}
	seg0 := SegmentPath(x2, 0, 2)
	before, _ := os.ReadFile(seg0)
	for _, c := range []struct {
		outs []Output
		read string
	}{
		{[]Output{out(x2), out(seg0)}, seg0},
		{[]Output{out(planPath)}, planPath},
	} {
		_, err := NewJoin(JoinOptions{Plan: plan, Outputs: c.outs, Overwrite: true}).Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "is "+c.read+", which this run reads") {
			t.Errorf("join onto %s: %v", c.read, err)
		}
	}
	link := filepath.Join(dir, "r.mkv")
	if err := os.Symlink(planPath, SegmentPath(link, 1, 2)); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), &bicubic{}, Options{Input: src, Outputs: []Output{out(link)}, Overwrite: true, Segment: &SegmentRun{Plan: plan, Index: 1}})
	if err == nil || !strings.Contains(err.Error(), "which this run reads") {
		t.Errorf("a segment that links to the plan: %v", err)
	}
	if after, _ := os.ReadFile(seg0); !slices.Equal(before, after) {
		t.Error("segment 0 changed")
	}
	if _, err := ReadPlan(planPath); err != nil {
		t.Errorf("the plan file was damaged: %v", err)
	}
}

// twoSegments is a 2 s 32×32 clip (a keyframe every 10 frames) in a fresh directory and its plan
// of two segments.
func twoSegments(t *testing.T) (dir, src string, plan *Plan) {
	t.Helper()
	fftest.Need(t, "ffmpeg")
	dir = t.TempDir()
	src = filepath.Join(dir, "in.mp4")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=25:duration=2", "-c:v", "libx264", "-g", "10", src)
	plan, err := MakePlan(context.Background(), PlanOptions{Input: src, Segments: 2})
	if err != nil {
		t.Fatal(err)
	}
	return dir, src, plan
}
