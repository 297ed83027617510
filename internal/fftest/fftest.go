// Package fftest runs the ffmpeg and ffprobe CLIs for tests: making clips and checking outputs
// with a tool independent of the code under test.
package fftest

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Need skips the test when a tool is not installed.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// FFmpeg runs ffmpeg quietly and fails the test on error.
func FFmpeg(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-v", "error", "-nostdin", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Stream is one stream as ffprobe reports it.
type Stream struct {
	Index      int    `json:"index"`
	CodecType  string `json:"codec_type"`
	CodecName  string `json:"codec_name"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	PixFmt     string `json:"pix_fmt"`
	RFrameRate string `json:"r_frame_rate"`
}

// Result is ffprobe's view of a file: streams, format and packets.
type Result struct {
	Streams []Stream `json:"streams"`
	Format  struct {
		Duration string            `json:"duration"`
		Tags     map[string]string `json:"tags"`
	} `json:"format"`
	PacketList []struct {
		StreamIndex int `json:"stream_index"`
	} `json:"packets"`
}

// Probe runs ffprobe on path (a file or "-" with stdin set by the caller is not supported).
func Probe(t testing.TB, path string) Result {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_streams", "-show_format", "-show_packets",
		"-show_entries", "packet=stream_index", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// Stream returns the first stream of a type ("video", "audio", "subtitle"), or nil.
func (r Result) Stream(typ string) *Stream {
	for i := range r.Streams {
		if r.Streams[i].CodecType == typ {
			return &r.Streams[i]
		}
	}
	return nil
}

// Packets counts the packets of the first stream of a type.
func (r Result) Packets(typ string) int {
	s := r.Stream(typ)
	if s == nil {
		return 0
	}
	n := 0
	for _, p := range r.PacketList {
		if p.StreamIndex == s.Index {
			n++
		}
	}
	return n
}

// FramePts lists the presentation times (seconds) of the decoded video frames.
func FramePts(t testing.TB, path string) []float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
		"frame=pts_time", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe frames %s: %v", path, err)
	}
	var pts []float64
	for _, l := range strings.Fields(string(out)) {
		v, err := strconv.ParseFloat(strings.TrimSuffix(l, ","), 64)
		if err != nil {
			t.Fatalf("pts %q: %v", l, err)
		}
		pts = append(pts, v)
	}
	return pts
}

// SamePts checks frame count and timestamps; a constant shift up to 50 ms is allowed
// (Matroska moves everything up when audio priming starts before zero, as FFmpeg does).
func SamePts(t testing.TB, name string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, input has %d", name, len(got), len(want))
	}
	if len(got) == 0 {
		return
	}
	shift := got[0] - want[0]
	if shift < -1e-3 || shift > 0.05 {
		t.Fatalf("%s: starts at %.4f s, input at %.4f s", name, got[0], want[0])
	}
	for i := range got {
		if d := got[i] - want[i] - shift; d > 1e-3 || d < -1e-3 {
			t.Fatalf("%s: frame %d at %.4f s, input at %.4f s", name, i, got[i], want[i])
		}
	}
}
