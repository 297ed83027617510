package fftest

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Rendition is one variant of an HLS ladder as its playlists and ffprobe describe it.
type Rendition struct {
	URI              string // media playlist, relative to the master
	Bandwidth, AvgBW int64  // as the master states them
	Width, Height    int    // RESOLUTION
	Codecs           string // CODECS
	Segments         []HLSSegment
	EndList          bool    // #EXT-X-ENDLIST
	Frames           []Frame // video packets read through the media playlist
}

// HLSSegment is one media playlist entry.
type HLSSegment struct {
	Dur   float64 // #EXTINF
	Bytes int64   // file size
}

// Frame is one video packet: presentation time and key flag.
type Frame struct {
	Pts float64
	Key bool
}

var reAttr = regexp.MustCompile(`([A-Z0-9-]+)=("[^"]*"|[^,]*)`)

// CheckLadder reads an HLS ladder written under dir (master.m3u8 and its media playlists)
// with ffprobe and checks what every ladder must satisfy: each rendition's video has the
// RESOLUTION and the H.264 profile and level its CODECS state; BANDWIDTH is at least the peak
// rate of any run of segments lasting 0.5–1.5 target durations and AVERAGE-BANDWIDTH is the
// mean rate (within 2 %), both from the files' sizes and #EXTINF (0.5 % for rounding); every segment starts with a keyframe and
// no other frame is a keyframe; the keyframes are the first frame and the first frame at or after
// each multiple of segTime from it (with no frame dropped, every segment but the last lasts
// segTime; a live run that dropped the frame on a boundary starts that segment at the next one);
// each #EXTINF is its segment's span (within half a frame of period frame); segment start times
// are the same in every rendition.
func CheckLadder(t testing.TB, dir string, segTime, frame float64) []Rendition {
	t.Helper()
	master := filepath.Join(dir, "master.m3u8")
	lines := readLines(t, master)
	if len(lines) == 0 || lines[0] != "#EXTM3U" {
		t.Fatalf("%s: not a playlist: %q", master, lines)
	}
	var rends []Rendition
	for i, l := range lines {
		attrs, ok := strings.CutPrefix(l, "#EXT-X-STREAM-INF:")
		if !ok {
			continue
		}
		if i+1 >= len(lines) {
			t.Fatalf("%s: a stream without a URI", master)
		}
		r := Rendition{URI: lines[i+1]}
		for _, m := range reAttr.FindAllStringSubmatch(attrs, -1) {
			v := strings.Trim(m[2], `"`)
			switch m[1] {
			case "BANDWIDTH":
				r.Bandwidth, _ = strconv.ParseInt(v, 10, 64)
			case "AVERAGE-BANDWIDTH":
				r.AvgBW, _ = strconv.ParseInt(v, 10, 64)
			case "RESOLUTION":
				fmt.Sscanf(v, "%dx%d", &r.Width, &r.Height)
			case "CODECS":
				r.Codecs = v
			}
		}
		rends = append(rends, r)
	}
	if len(rends) == 0 {
		t.Fatalf("%s: no variant streams:\n%s", master, strings.Join(lines, "\n"))
	}
	for k := range rends {
		r := &rends[k]
		media := filepath.Join(dir, r.URI)
		var dur float64
		for _, l := range readLines(t, media) {
			switch {
			case strings.HasPrefix(l, "#EXTINF:"):
				dur, _ = strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(l, "#EXTINF:"), ","), 64)
			case l == "#EXT-X-ENDLIST":
				r.EndList = true
			case l != "" && !strings.HasPrefix(l, "#"):
				fi, err := os.Stat(filepath.Join(filepath.Dir(media), l))
				if err != nil {
					t.Fatalf("%s: %v", media, err)
				}
				r.Segments = append(r.Segments, HLSSegment{Dur: dur, Bytes: fi.Size()})
			}
		}
		if len(r.Segments) == 0 {
			t.Fatalf("%s: no segments", media)
		}
		checkRendition(t, media, r)
		peak, avg := peakRate(r.Segments)
		if float64(r.Bandwidth) < 0.995*peak || math.Abs(float64(r.AvgBW)-avg) > 0.02*avg {
			t.Fatalf("%s: BANDWIDTH %d, AVERAGE-BANDWIDTH %d; the segments' peak rate is %.0f, mean %.0f bit/s",
				r.URI, r.Bandwidth, r.AvgBW, peak, avg)
		}
		shown := slices.SortedFunc(slices.Values(r.Frames), func(a, b Frame) int { return cmp.Compare(a.Pts, b.Pts) })
		var starts []float64
		next := 1.0 // boundaries first + next·segTime, 1 ms early for rounding
		for i, f := range shown {
			due := i == 0
			for ; f.Pts >= shown[0].Pts+next*segTime-1e-3; next++ {
				due = true
			}
			if f.Key != due {
				t.Fatalf("%s: frame at %.3f s: keyframe %v, want %v (segments of %g s from %.3f s)", r.URI, f.Pts, f.Key, due, segTime, shown[0].Pts)
			}
			if f.Key {
				starts = append(starts, f.Pts)
			}
		}
		if len(starts) != len(r.Segments) {
			t.Fatalf("%s: %d keyframes at %v for %d segments", r.URI, len(starts), starts, len(r.Segments))
		}
		at := starts[0]
		for i, s := range r.Segments {
			if math.Abs(starts[i]-at) > frame/2 {
				t.Fatalf("%s: segment %d starts at %.3f s, its keyframe is at %.3f s", r.URI, i, at, starts[i])
			}
			if i < len(r.Segments)-1 && math.Abs(s.Dur-(starts[i+1]-starts[i])) > frame/2 {
				t.Fatalf("%s: segment %d lasts %.3f s, its keyframes are %.3f s apart", r.URI, i, s.Dur, starts[i+1]-starts[i])
			}
			at += s.Dur
		}
		if k > 0 && !slices.EqualFunc(starts, keyTimes(rends[0].Frames), func(a, b float64) bool { return math.Abs(a-b) < 1e-3 }) {
			t.Fatalf("keyframes not aligned: %s at %v, %s at %v", r.URI, starts, rends[0].URI, keyTimes(rends[0].Frames))
		}
	}
	return rends
}

func keyTimes(frames []Frame) []float64 {
	var ts []float64
	for _, f := range frames {
		if f.Key {
			ts = append(ts, f.Pts)
		}
	}
	return ts
}

// checkRendition reads a media playlist's video with ffprobe: size, profile and level against
// the master's RESOLUTION and CODECS, and every packet's time and key flag into r.Frames.
func checkRendition(t testing.TB, media string, r *Rendition) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams",
		"-show_entries", "packet=pts_time,flags", "-of", "json", media).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", media, err)
	}
	var p struct {
		Streams []struct {
			Width, Height int
			Profile       string
			Level         int
		}
		Packets []struct {
			PtsTime string `json:"pts_time"`
			Flags   string
		}
	}
	if err := json.Unmarshal(out, &p); err != nil || len(p.Streams) != 1 {
		t.Fatalf("ffprobe %s: %v %s", media, err, out)
	}
	v := p.Streams[0]
	if v.Width != r.Width || v.Height != r.Height {
		t.Fatalf("%s: video %dx%d, RESOLUTION %dx%d", media, v.Width, v.Height, r.Width, r.Height)
	}
	idc := map[string]string{"High": "64", "Main": "4d", "Constrained Baseline": "42", "Baseline": "42", "High 4:4:4 Predictive": "f4"}[v.Profile]
	video, _, _ := strings.Cut(r.Codecs, ",")
	if idc == "" || !strings.HasPrefix(video, "avc1."+idc) || !strings.HasSuffix(video, fmt.Sprintf("%02x", v.Level)) {
		t.Fatalf("%s: H.264 %s level %d, CODECS %q", media, v.Profile, v.Level, r.Codecs)
	}
	for _, pk := range p.Packets {
		pts, err := strconv.ParseFloat(pk.PtsTime, 64)
		if err != nil {
			t.Fatalf("%s: packet time %q", media, pk.PtsTime)
		}
		r.Frames = append(r.Frames, Frame{Pts: pts, Key: strings.Contains(pk.Flags, "K")})
	}
}

// peakRate is the highest bit rate of any run of consecutive segments lasting 0.5 to 1.5
// target durations (the whole stream's when none does), and the mean rate.
func peakRate(segs []HLSSegment) (peak, avg float64) {
	var total, bytes, longest float64
	for _, s := range segs {
		total, bytes, longest = total+s.Dur, bytes+float64(s.Bytes), max(longest, s.Dur)
	}
	avg = bytes * 8 / total
	target := max(math.Round(longest), 1)
	for i := range segs {
		var d, b float64
		for _, s := range segs[i:] {
			if d += s.Dur; d > 1.5*target {
				break
			}
			if b += float64(s.Bytes); d >= 0.5*target {
				peak = max(peak, b*8/d)
			}
		}
	}
	if peak == 0 {
		peak = avg
	}
	return peak, avg
}

// DecodeMaster decodes every video stream the master playlist offers, as a player reading it
// would (ffprobe -count_frames), and returns each one's size and decoded frame count.
func DecodeMaster(t testing.TB, dir string) map[string]int {
	t.Helper()
	master := filepath.Join(dir, "master.m3u8")
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v",
		"-show_entries", "stream=width,height,nb_read_frames", "-of", "csv=p=0", master).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe -count_frames %s: %v\n%s", master, err, out)
	}
	got := map[string]int{}
	for _, l := range strings.Fields(string(out)) {
		f := strings.Split(l, ",")
		if len(f) != 3 {
			t.Fatalf("ffprobe %s: %q", master, l)
		}
		n, _ := strconv.Atoi(f[2])
		got[f[0]+"x"+f[1]] = n
	}
	return got
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	return lines
}
