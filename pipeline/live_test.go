package pipeline

import (
	"bytes"
	"context"
	"fmt"
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

// The default queue: 4 frames, or in realtime two probe windows of frames (at least 4).
func TestDefaultQueue(t *testing.T) {
	for _, c := range []struct {
		realtime bool
		fps      float64
		want     int
	}{{false, 30, 4}, {true, 10, 20}, {true, 29.97, 60}, {true, 1, 4}, {true, 0, 4}, {true, 1000, 256}} {
		if got := DefaultQueue(c.realtime, c.fps); got != c.want {
			t.Errorf("DefaultQueue(%v, %g) = %d, want %d", c.realtime, c.fps, got, c.want)
		}
	}
}

// The default max delay is the queue's length in input time.
func TestDefaultMaxDelay(t *testing.T) {
	for _, c := range []struct {
		queue int
		fps   float64
		want  time.Duration
	}{{10, 5, 2 * time.Second}, {60, 29.97, 2002 * time.Millisecond}, {4, 1, 4 * time.Second}, {4, 0, 2 * time.Second}, {4, math.NaN(), 2 * time.Second}} {
		if got := DefaultMaxDelay(c.queue, c.fps).Round(time.Millisecond); got != c.want {
			t.Errorf("DefaultMaxDelay(%d, %g) = %v, want %v", c.queue, c.fps, got, c.want)
		}
	}
}

// The realtime policy on an injected clock: a frame that waited longer than the max delay is
// skipped only while a newer one waits; one a full pass would take past the max delay, or whose
// full pass lets the queue overflow, takes the cheaper path; without realtime neither happens.
func TestPacerFreshness(t *testing.T) {
	t0 := time.Unix(1000, 0)
	now := t0
	p := &pacer{realtime: true, maxDelay: 2 * time.Second, now: func() time.Time { return now }}
	j := &frameJob{queued: t0}
	for _, c := range []struct {
		age   time.Duration
		newer int
		stale bool
	}{{0, 5, false}, {2 * time.Second, 5, false}, {2*time.Second + 1, 1, true}, {10 * time.Second, 0, false}} {
		now = t0.Add(c.age)
		if got := p.stale(j, c.newer); got != c.stale {
			t.Errorf("waited %v with %d newer: stale = %v, want %v", c.age, c.newer, got, c.stale)
		}
	}
	interval := 200 * time.Millisecond
	for _, c := range []struct {
		age, full time.Duration
		free      int
		cheap     bool
	}{
		{0, 100 * time.Millisecond, 10, false},
		{1500 * time.Millisecond, 400 * time.Millisecond, 10, false},
		{1700 * time.Millisecond, 400 * time.Millisecond, 10, true}, // would end 2.1 s after it arrived
		{0, 1000 * time.Millisecond, 4, true},                       // 5 frames arrive meanwhile, 4 slots
		{0, 3 * time.Second, 100, true},                             // a full pass alone outlasts the max delay
	} {
		now, p.full = t0.Add(c.age), c.full
		if got := p.cheap(j, c.free, interval); got != c.cheap {
			t.Errorf("waited %v, full pass %v, %d free: cheap = %v, want %v", c.age, c.full, c.free, got, c.cheap)
		}
	}
	off := &pacer{maxDelay: time.Second, now: func() time.Time { return t0.Add(time.Hour) }, full: time.Hour}
	if off.stale(j, 5) || off.cheap(j, 0, interval) {
		t.Error("without realtime a frame is neither skipped nor degraded")
	}
}

// A full queue makes room by dropping its oldest frame: the newest arrival is kept, and the
// queue keeps its order.
func TestEnqueueFreshDropsOldest(t *testing.T) {
	jobs := make(chan *frameJob, 3)
	dropped := 0
	for pts := range int64(5) {
		if !enqueueFresh(context.Background(), jobs, &frameJob{pts: pts}, func() { dropped++ }) {
			t.Fatal("enqueueFresh refused a frame of a running run")
		}
	}
	close(jobs)
	var kept []int64
	for j := range jobs {
		if j.queued.IsZero() {
			t.Errorf("frame %d has no queue time", j.pts)
		}
		kept = append(kept, j.pts)
	}
	if !slices.Equal(kept, []int64{2, 3, 4}) || dropped != 2 {
		t.Fatalf("queue holds %v after %d drops, want [2 3 4] after 2", kept, dropped)
	}
	aborted, cancel := context.WithCancel(context.Background())
	cancel()
	if enqueueFresh(aborted, make(chan *frameJob), &frameJob{}, func() { t.Error("dropped a frame of an aborted run") }) {
		t.Error("enqueueFresh accepted a frame after the abort")
	}
}

// Realtime x264 output holds no frame back: zerolatency tuning (no B-frames, no lookahead)
// where the same output at the same preset without realtime has B-frames; the output's own
// settings still apply (its CRF and preset, every frame kept). Realtime MPEG-TS states every
// video PES's length (else 0: a demuxer waits for the next PES to end one).
func TestRealtimeEncoderLatency(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=20:duration=1", "-c:v", "ffv1", src)
	for _, realtime := range []bool{false, true} {
		out := filepath.Join(dir, fmt.Sprintf("realtime-%v.mkv", realtime))
		ts := filepath.Join(dir, fmt.Sprintf("realtime-%v.ts", realtime))
		st, err := Run(context.Background(), &bicubic{}, Options{Input: src, Realtime: realtime,
			Outputs: []Output{{URL: out, Target: hitsr.Target{Scale: 2}, CRF: 30, Preset: "medium"}, fast(ts, hitsr.Target{Scale: 1})}})
		if err != nil {
			t.Fatal(err)
		}
		if pes := videoPESLengths(t, ts); len(pes) != 20 || slices.Contains(pes, 0) == realtime {
			t.Errorf("realtime %v: video PES lengths %v; want 20, all stated only in realtime", realtime, pes)
		}
		types, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pict_type",
			"-of", "csv=p=0", out).Output()
		if err != nil {
			t.Fatal(err)
		}
		frames, bframes := len(strings.Fields(string(types))), strings.Count(string(types), "B")
		if st.Dropped != 0 || frames != 20 {
			t.Fatalf("realtime %v: %d frames in the output, %d dropped; want all 20", realtime, frames, st.Dropped)
		}
		if realtime != (bframes == 0) {
			t.Errorf("realtime %v: %d B-frames of %d", realtime, bframes, frames)
		}
		// x264 writes its settings into the stream as text.
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		for setting, want := range map[string]bool{"crf=30.0": true, "subme=7": true, "bframes=0": realtime, "mbtree=0": realtime} {
			if bytes.Contains(data, []byte(setting)) != want {
				t.Errorf("realtime %v: x264 settings contain %q: %v, want %v", realtime, setting, !want, want)
			}
		}
	}
}

// Realtime with a queue that never fills: a model at half the input's pace drops the frames
// that waited longer than the max delay (counted, every decoded frame done or dropped), keeps
// the newest (the stream's last frame is in the output); with no max delay to speak of the
// queue takes every frame and none is dropped.
func TestRealtimeMaxDelay(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x32:rate=50:duration=2", "-c:v", "ffv1", src)
	inPts := fftest.FramePts(t, src)
	for _, maxDelay := range []time.Duration{100 * time.Millisecond, time.Hour} {
		out := filepath.Join(dir, fmt.Sprintf("2x-%v.mkv", maxDelay))
		st, err := Run(context.Background(), &slow{}, Options{Input: src, Realtime: true, Queue: 128, MaxDelay: maxDelay,
			Outputs: []Output{fast(out, hitsr.Target{Scale: 2})}})
		if err != nil {
			t.Fatal(err)
		}
		if st.Decoded != len(inPts) || st.Done+st.Dropped != st.Decoded || (st.Dropped > 0) != (maxDelay < time.Hour) {
			t.Fatalf("max delay %v: stats %+v; want %d decoded = done + dropped, dropped only with the short max delay", maxDelay, st, len(inPts))
		}
		outPts := fftest.FramePts(t, out)
		if len(outPts) != st.Done || outPts[len(outPts)-1] != inPts[len(inPts)-1] {
			t.Fatalf("max delay %v: output has %d frames ending at %v s; want the %d done, ending with the input's last at %v s",
				maxDelay, len(outPts), outPts[len(outPts)-1], st.Done, inPts[len(inPts)-1])
		}
	}
}

// videoPESLengths lists the length field of every video PES in an MPEG-TS file (0: unstated).
func videoPESLengths(t *testing.T, path string) []int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lengths []int
	for p := 0; p+188 <= len(data); p += 188 {
		pkt := data[p : p+188]
		if pkt[0] != 0x47 || pkt[1]&0x40 == 0 { // sync byte; payload unit start
			continue
		}
		payload := pkt[4:]
		if pkt[3]&0x20 != 0 { // adaptation field first
			payload = payload[1+int(payload[0]):]
		}
		if len(payload) >= 6 && bytes.HasPrefix(payload, []byte{0, 0, 1, 0xE0}) {
			lengths = append(lengths, int(payload[4])<<8|int(payload[5]))
		}
	}
	return lengths
}

// A network output's container comes from its scheme; a socket protocol's URL must name a port
// to send to.
func TestStreamDestinations(t *testing.T) {
	for url, want := range map[string]string{"udp://h:1": "mpegts", "SRT://h:1": "mpegts", "tcp://h:1": "mpegts",
		"rtp://h:1": "rtp_mpegts", "rtmp://h/a": "flv", "rtmps://h/a": "flv", "rtsp://h/a": "rtsp", "http://h/a": "", "x.mkv": ""} {
		if got := streamFormat(url); got != want {
			t.Errorf("streamFormat(%q) = %q, want %q", url, got, want)
		}
	}
	for url, bad := range map[string]bool{"udp://h:1234": false, "srt://:9000?mode=listener": false, "rtmp://h/a": false,
		"tcp://h": true, "udp://h:0": true, "tcp://[::1": true, "rtp://h:x": true} {
		if err := checkPort(url, true); (err != nil) != bad {
			t.Errorf("checkPort(%q, output) = %v", url, err)
		}
	}
}
