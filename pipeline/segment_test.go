package pipeline

import (
	"context"
	"math"
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
	fftest.Need(t, "ffmpeg")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mp4")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=25:duration=2", "-c:v", "libx264", "-g", "10", src)
	plan, err := MakePlan(context.Background(), PlanOptions{Input: src, Segments: 2})
	if err != nil {
		t.Fatal(err)
	}
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
