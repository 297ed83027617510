package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/internal/fftest"
)

// ladderOf is a ladder of ×1, ×2 and ×4 with fast encodes, the ×4 at a set bitrate.
func ladderOf(dir string, seg time.Duration, list int) Ladder {
	return Ladder{Dir: dir, SegmentTime: seg, ListSize: list, Renditions: []Output{
		fast("", hitsr.Target{Scale: 1}), fast("", hitsr.Target{Scale: 2}),
		{Target: hitsr.Target{Scale: 4}, Bitrate: 300e3, Preset: "ultrafast"}}}
}

// A clip with audio to a 3-rendition VOD ladder beside an ordinary output: the master lists
// every rendition with its measured bandwidth, resolution and codecs; segments are 1 s and
// start at the same keyframes in every rendition; a player decodes every rendition whole.
func TestLadderVOD(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=25:duration=3.5", "-f", "lavfi", "-i",
		"sine=frequency=440:sample_rate=48000:duration=3.5", "-c:v", "ffv1", "-c:a", "aac", src)
	hls, o2 := filepath.Join(dir, "live"), filepath.Join(dir, "2x.mp4")
	st := run(t, Options{Input: src, Outputs: []Output{fast(o2, hitsr.Target{Scale: 2})},
		Ladders: []Ladder{ladderOf(hls, time.Second, 0)}})
	if st.Done != 88 || st.Dropped != 0 {
		t.Fatalf("stats %+v, want 88 frames", st)
	}
	rends := fftest.CheckLadder(t, hls, 1, 0.04)
	sizes := []string{"64x36", "128x72", "256x144"}
	decoded := fftest.DecodeMaster(t, hls)
	for i, r := range rends {
		if r.URI != sizes[i]+"/index.m3u8" || !r.EndList || len(r.Segments) != 4 || len(r.Frames) != 88 ||
			!strings.HasSuffix(r.Codecs, ",mp4a.40.2") || decoded[sizes[i]] != 88 {
			t.Fatalf("rendition %d: %s, %d segments, %d frames (%d decoded through the master), codecs %q, endlist %v",
				i, r.URI, len(r.Segments), len(r.Frames), decoded[sizes[i]], r.Codecs, r.EndList)
		}
	}
	if got := len(fftest.FramePts(t, o2)); got != 88 {
		t.Fatalf("%s: %d frames", o2, got)
	}
	left, _ := filepath.Glob(filepath.Join(hls, "*", "*.tmp"))
	if len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	// An existing ladder is kept unless overwrite; with it, replaced.
	_, err := Run(t.Context(), &bicubic{}, Options{Input: src, Ladders: []Ladder{ladderOf(hls, time.Second, 0)}})
	if kindOf(err) != KindUsage || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("existing ladder: %v", err)
	}
	run(t, Options{Input: src, Overwrite: true, MaxFrames: 30, Ladders: []Ladder{ladderOf(hls, time.Second, 0)}})
	if rends := fftest.CheckLadder(t, hls, 1, 0.04); len(rends[2].Segments) != 2 {
		t.Fatalf("replaced ladder: %d segments", len(rends[2].Segments))
	}
	if segs, _ := filepath.Glob(filepath.Join(hls, "64x36", "seg_*.ts")); len(segs) != 2 {
		t.Fatalf("old segments left: %v", segs)
	}
}

// Live playlists: a window of the newest 2 segments, older segment files deleted.
func TestLadderLiveWindow(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x18:rate=10:duration=5", "-c:v", "ffv1", src)
	hls := filepath.Join(dir, "hls")
	run(t, Options{Input: src, Ladders: []Ladder{ladderOf(hls, time.Second, 2)}})
	for _, r := range fftest.CheckLadder(t, hls, 1, 0.1) {
		segs, _ := filepath.Glob(filepath.Join(hls, filepath.Dir(r.URI), "seg_*.ts"))
		if len(r.Segments) != 2 || len(segs) > 4 {
			t.Fatalf("%s: %d segments listed, %d files", r.URI, len(r.Segments), len(segs))
		}
	}
}

// A failed run removes the ladder it started, and nothing of it reappears after Abort returns
// (the renditions' writers may be mid-segment when it comes).
func TestLadderAbortRemoves(t *testing.T) {
	fftest.Need(t, "ffmpeg")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=50:duration=2", "-c:v", "ffv1", src)
	aborted := make(chan struct{})
	var p *Pipeline
	p = New(Options{Input: src, Ladders: []Ladder{ladderOf(filepath.Join(dir, "hls"), time.Second, 0)},
		Progress: func(s Stats) {
			if s.Done == 60 { // past the first segment boundary
				go func() { p.Abort(); close(aborted) }()
			}
		}})
	defer p.Close()
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(t.Context(), &slow{}); err == nil {
		t.Fatal("Run: no error after Abort")
	}
	<-aborted
	if left := listNames(dir); len(left) != 1 {
		t.Fatalf("files left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(dir, "hls")); err == nil {
		t.Fatal("ladder directory left")
	}
}

// A ladder is checked against the input, the other ladders and the file outputs by what the
// names resolve to: a ladder holding the input (by any name), two ladders in one directory or
// nested, and a file output inside a ladder are refused before anything is read.
func TestCheckLadders(t *testing.T) {
	d := t.TempDir()
	p := func(name string) string { return filepath.Join(d, name) }
	os.MkdirAll(p("old/64x48"), 0o755)
	os.WriteFile(p("old/64x48/seg_00000.ts"), []byte("segment"), 0o644)
	os.WriteFile(p("in.mkv"), []byte("input"), 0o644)
	os.Link(p("in.mkv"), p("old/64x48/index.m3u8"))
	os.Symlink(p("old"), p("oldlink"))
	os.Mkdir(p("e"), 0o755)
	os.Symlink(p("e"), p("elink"))
	lad := func(dirs ...string) []Ladder {
		var ls []Ladder
		for _, dir := range dirs {
			ls = append(ls, Ladder{Dir: dir})
		}
		return ls
	}
	for _, c := range []struct {
		name    string
		input   string
		ladders []Ladder
		outs    []string
		want    string // "" = accepted
	}{
		{"two ladders and a file", p("in.mkv"), lad(p("a"), p("b")), []string{p("2x.mkv")}, ""},
		{"the input segment, -y", p("old/64x48/seg_00000.ts"), lad(p("old")), nil, "holds the input"},
		{"the input hard-linked in the ladder", p("in.mkv"), lad(p("oldlink")), nil, "holds the input"},
		{"one directory twice", p("in.mkv"), lad(p("a"), "file:"+p("a/")), nil, "share a directory"},
		{"through a symbolic link", p("in.mkv"), lad(p("old/new"), p("oldlink/new")), nil, "share a directory"},
		{"nested", p("in.mkv"), lad(p("a"), p("a/64x48")), nil, "share a directory"},
		{"a file output inside", p("in.mkv"), lad(p("e")), []string{p("e/master.m3u8")}, "inside the directory"},
		{"a file output inside, by a link", p("in.mkv"), lad(p("e")), []string{p("elink/2x.mkv")}, "inside the directory"},
		{"a file output beside", p("in.mkv"), lad(p("e")), []string{p("e.mkv")}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for i := range c.ladders {
				c.ladders[i].Dir = strings.TrimPrefix(c.ladders[i].Dir, "file:")
			}
			files, err := PlanFiles(c.input, c.outs, true)
			if err == nil {
				err = checkLadders(c.input, c.ladders, files, true)
			}
			if c.want == "" && err != nil || c.want != "" && (kindOf(err) != KindUsage || !strings.Contains(fmt.Sprint(err), c.want)) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}
