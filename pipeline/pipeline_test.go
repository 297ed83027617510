package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/internal/fftest"
	"github.com/hitsr/hitsr/resample"
)

// bicubic stands in for the model: every target resampled from the frame.
type bicubic struct{ calls int }

func (b *bicubic) UpscaleTo(img *imageio.Image, targets ...hitsr.Target) ([]*imageio.Image, error) {
	b.calls++
	var out []*imageio.Image
	for _, t := range targets {
		w, h, err := t.Size(img.W, img.H)
		if err != nil {
			return nil, err
		}
		out = append(out, &imageio.Image{W: w, H: h, C: 3, Pix: resample.Resize(img.Pix, 3, img.H, img.W, h, w, resample.Bicubic)})
	}
	return out, nil
}

func run(t *testing.T, o Options) Stats {
	t.Helper()
	st, err := Run(context.Background(), &bicubic{}, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return st
}

func fast(url string, t hitsr.Target) Output {
	return Output{URL: url, Target: t, CRF: 18, Preset: "ultrafast"}
}

// cptr relies on go-astiav keeping the C pointer as each wrapper's first field; Frame exposes
// it, so it checks the layout (the clip tests exercise the other wrappers).
func TestCPointers(t *testing.T) {
	f := astiav.AllocFrame()
	defer f.Free()
	if cptr(f) != f.UnsafePointer() {
		t.Fatal("go-astiav layout changed: Frame's first field is not its C pointer")
	}
}

// A generated clip with audio to mp4 (×2) and mkv (×4 and an exact size): every frame and
// timestamp kept, audio packets copied, sizes as requested.
func TestGeneratedClip(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mp4")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=24:duration=2", "-f", "lavfi", "-i",
		"sine=frequency=440:sample_rate=48000:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
		"-c:a", "aac", "-metadata", "title=hitsr test", "-shortest", src)
	o2, o4, o3 := filepath.Join(dir, "2x.mp4"), filepath.Join(dir, "4x.mkv"), filepath.Join(dir, "hd.mp4")
	st := run(t, Options{Input: src, Outputs: []Output{fast(o2, hitsr.Target{Scale: 2}), fast(o4, hitsr.Target{Scale: 4}),
		fast(o3, hitsr.Target{W: 100, H: 76})}})
	in := fftest.Probe(t, src)
	inPts := fftest.FramePts(t, src)
	if st.Done != len(inPts) || st.Dropped != 0 {
		t.Fatalf("stats %+v, input has %d frames", st, len(inPts))
	}
	for _, c := range []struct {
		path string
		w, h int
	}{{o2, 128, 96}, {o4, 256, 192}, {o3, 100, 76}} {
		r := fftest.Probe(t, c.path)
		v := r.Stream("video")
		if v == nil || v.Width != c.w || v.Height != c.h || v.CodecName != "h264" || v.PixFmt != "yuv420p" {
			t.Fatalf("%s: video stream %+v, want h264 yuv420p %dx%d", c.path, v, c.w, c.h)
		}
		fftest.SamePts(t, c.path, fftest.FramePts(t, c.path), inPts)
		if got, want := r.Packets("audio"), in.Packets("audio"); got != want || want == 0 {
			t.Fatalf("%s: %d audio packets, input has %d", c.path, got, want)
		}
		if r.Format.Tags["title"] != "hitsr test" {
			t.Fatalf("%s: metadata not kept: %v", c.path, r.Format.Tags)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*partial*"))
	if len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// Variable frame rate: output timestamps equal the input's, frame for frame.
func TestVFR(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	src := filepath.Join(dir, "vfr.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=48x32:rate=10:duration=3",
		"-vf", "settb=1/1000,setpts=PTS+if(gt(N\\,5)\\,0.05*(N-5)/TB\\,0)+if(eq(mod(N\\,7)\\,0)\\,0.03/TB\\,0)",
		"-fps_mode", "vfr", "-enc_time_base", "1/1000",
		"-c:v", "libx264", "-preset", "ultrafast", src)
	inPts := fftest.FramePts(t, src)
	for _, ext := range []string{"mp4", "mkv", "mov"} {
		out := filepath.Join(dir, "2x."+ext)
		run(t, Options{Input: src, Outputs: []Output{fast(out, hitsr.Target{Scale: 2})}})
		fftest.SamePts(t, out, fftest.FramePts(t, out), inPts)
	}
	gaps := map[string]bool{}
	for i := 1; i < len(inPts); i++ {
		gaps[fmt.Sprintf("%.3f", inPts[i]-inPts[i-1])] = true
	}
	if len(gaps) < 3 {
		t.Fatalf("test clip is not VFR: %v", gaps)
	}
}

// Audio a container cannot hold is re-encoded to AAC with the same duration (PCM into mp4; Opus
// into mov, whose codec list, shared with mp4, names it but whose header refuses it); audio it
// holds is copied (Opus into mp4, Vorbis into mkv).
func TestAudioReencoded(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	for _, c := range []struct{ codec, out, want string }{
		{"pcm_s16le", "2x.mp4", "aac"}, {"libopus", "2x.mov", "aac"}, {"libopus", "2x.mp4", "opus"}, {"libvorbis", "2x.mkv", "vorbis"},
	} {
		dir := t.TempDir()
		src := filepath.Join(dir, "in.mkv")
		fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=25:duration=1.2", "-f", "lavfi", "-i",
			"sine=frequency=300:sample_rate=48000:duration=1.2", "-c:v", "libx264", "-preset", "ultrafast",
			"-c:a", c.codec, src)
		out := filepath.Join(dir, c.out)
		run(t, Options{Input: src, Outputs: []Output{fast(out, hitsr.Target{Scale: 2})}})
		r := fftest.Probe(t, out)
		if a := r.Stream("audio"); a == nil || a.CodecName != c.want {
			t.Fatalf("%s into %s: audio stream %+v, want %s", c.codec, c.out, a, c.want)
		}
		if dur, _ := strconv.ParseFloat(r.Format.Duration, 64); dur < 1.15 || dur > 1.3 {
			t.Fatalf("%s into %s: duration %.3f s, want ≈1.2", c.codec, c.out, dur)
		}
	}
}

func TestExistingOutputKept(t *testing.T) {
	fftest.Need(t, "ffmpeg")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=25:duration=0.4", "-c:v", "ffv1", src)
	out := filepath.Join(dir, "2x.mkv")
	os.WriteFile(out, []byte("keep"), 0o644)
	_, err := Run(context.Background(), &bicubic{}, Options{Input: src, Outputs: []Output{fast(out, hitsr.Target{Scale: 2})}})
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("err = %v, want exists", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep" {
		t.Fatal("existing output overwritten")
	}
	run(t, Options{Input: src, Overwrite: true, Outputs: []Output{fast(out, hitsr.Target{Scale: 2})}})
	if v := fftest.Probe(t, out).Stream("video"); v == nil || v.Width != 64 {
		t.Fatalf("overwrite: %+v", v)
	}
	ents, _ := os.ReadDir(dir)
	if names := len(ents); names != 2 || slices.ContainsFunc(ents, func(e os.DirEntry) bool { return strings.Contains(e.Name(), ".partial") }) {
		t.Fatalf("directory holds %d entries: %v", names, ents)
	}
}

// slow is a model that takes 40 ms per frame.
type slow struct{ bicubic }

func (s *slow) UpscaleTo(img *imageio.Image, targets ...hitsr.Target) ([]*imageio.Image, error) {
	time.Sleep(40 * time.Millisecond)
	return s.bicubic.UpscaleTo(img, targets...)
}

// Realtime: a model slower than the input drops frames instead of queueing them; what is kept
// is encoded with its own timestamps.
func TestRealtimeDrops(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=50:duration=2", "-c:v", "ffv1", src)
	out := filepath.Join(dir, "2x.mkv")
	st, err := Run(context.Background(), &slow{}, Options{Input: src, Realtime: true, Queue: 2,
		Outputs: []Output{fast(out, hitsr.Target{Scale: 2})}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Decoded != 100 || st.Dropped == 0 || st.Done+st.Dropped != st.Decoded {
		t.Fatalf("stats %+v: want 100 decoded = done + dropped, some dropped", st)
	}
	if n := len(fftest.FramePts(t, out)); n != st.Done {
		t.Fatalf("output has %d frames, %d were done", n, st.Done)
	}
}

// slowWithCheap takes 250 ms a frame on its full path and has an instant cheaper one.
type slowWithCheap struct {
	bicubic
	cheap int
}

func (s *slowWithCheap) UpscaleTo(img *imageio.Image, targets ...hitsr.Target) ([]*imageio.Image, error) {
	time.Sleep(250 * time.Millisecond)
	return s.bicubic.UpscaleTo(img, targets...)
}

func (s *slowWithCheap) UpscaleToCheap(img *imageio.Image, targets ...hitsr.Target) ([]*imageio.Image, bool, error) {
	s.cheap++
	out, err := s.bicubic.UpscaleTo(img, targets...)
	return out, true, err
}

// Realtime with a Degrader: frames the model cannot keep up with take the cheaper path first;
// every frame is accounted for as full, degraded or dropped, and few (here none) are dropped.
func TestRealtimeDegradesBeforeDropping(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=10:duration=3", "-c:v", "ffv1", src)
	out := filepath.Join(dir, "2x.mkv")
	up := &slowWithCheap{}
	st, err := Run(context.Background(), up, Options{Input: src, Realtime: true, Queue: 2,
		Outputs: []Output{fast(out, hitsr.Target{Scale: 2})}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Decoded != 30 || st.Degraded == 0 || st.Degraded != up.cheap || st.Done+st.Dropped != st.Decoded {
		t.Fatalf("stats %+v (cheap path %d): want 30 decoded = done + dropped, some degraded", st, up.cheap)
	}
	if st.Dropped > st.Decoded/4 {
		t.Errorf("%d of %d frames dropped although the cheap path keeps up", st.Dropped, st.Decoded)
	}
	if n := len(fftest.FramePts(t, out)); n != st.Done {
		t.Fatalf("output has %d frames, %d were done", n, st.Done)
	}
}

// Raw elementary streams carry no timestamps: frames follow each other at the stream's (or
// the demuxer's guessed) frame rate, with FFmpeg's default of 25 fps when it states none, so
// the outputs have the timestamps and duration of ffmpeg's own transcode of the same file. The
// H.264 case is also read as piped input with its format named (as "-f h264" on stdin).
func TestRawStreams(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	d := t.TempDir()
	for _, c := range []struct {
		name, rate string
		enc        []string
	}{
		{"in.h264", "10", []string{"-c:v", "libx264", "-preset", "ultrafast"}},
		{"in.hevc", "12", []string{"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"}},
		{"in.m4v", "15", []string{"-c:v", "mpeg4"}},
		{"in.mjpeg", "7", []string{"-c:v", "mjpeg"}}, // the stream states no rate: 25 fps
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := filepath.Join(d, c.name)
			fftest.FFmpeg(t, append([]string{"-f", "lavfi", "-i", "testsrc2=size=32x24:rate=" + c.rate + ":duration=0.6"}, append(c.enc, raw)...)...)
			ref := filepath.Join(d, c.name+".ref.mp4")
			fftest.FFmpeg(t, "-i", raw, "-c:v", "libx264", "-preset", "ultrafast", ref)
			want := fftest.FramePts(t, ref)
			out := filepath.Join(d, c.name+".2x.mp4")
			run(t, Options{Input: raw, Outputs: []Output{fast(out, hitsr.Target{Scale: 2})}})
			fftest.SamePts(t, out, fftest.FramePts(t, out), want)
			if got, ref := fftest.Probe(t, out).Format.Duration, fftest.Probe(t, ref).Format.Duration; got != ref {
				t.Fatalf("duration %s s, ffmpeg's transcode %s s", got, ref)
			}
			if len(want) < 4 || want[1]-want[0] < 0.03 {
				t.Fatalf("reference timestamps %v: not a usable test clip", want)
			}
		})
	}
	t.Run("piped h264", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		go func() {
			f, _ := os.Open(filepath.Join(d, "in.h264"))
			io.Copy(w, f)
			f.Close()
			w.Close()
		}()
		out := filepath.Join(d, "piped.2x.mkv")
		run(t, Options{Input: "pipe:" + strconv.Itoa(int(r.Fd())), InputFormat: "h264",
			Outputs: []Output{fast(out, hitsr.Target{Scale: 2})}})
		fftest.SamePts(t, out, fftest.FramePts(t, out), fftest.FramePts(t, filepath.Join(d, "in.h264.ref.mp4")))
	})
}

// Abort from another goroutine mid-run: Run returns ErrAborted, and neither the outputs nor
// their temporary files remain.
func TestAbort(t *testing.T) {
	fftest.Need(t, "ffmpeg")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=50:duration=2", "-c:v", "ffv1", src)
	p := New(Options{Input: src, Outputs: []Output{fast(filepath.Join(dir, "2x.mkv"), hitsr.Target{Scale: 2}),
		fast(filepath.Join(dir, "4x.mp4"), hitsr.Target{Scale: 4})}})
	defer p.Close()
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		p.Abort()
	}()
	st, err := p.Run(context.Background(), &slow{})
	if !errors.Is(err, ErrAborted) || st.Done >= 100 {
		t.Fatalf("Run: %v after %d frames, want ErrAborted before the end", err, st.Done)
	}
	if left := listNames(dir); len(left) != 1 {
		t.Fatalf("files left: %v", left)
	}
}

func listNames(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
