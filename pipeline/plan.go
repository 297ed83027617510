package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/asticode/go-astiav"
	"go.uber.org/zap"

	"github.com/hitsr/hitsr/internal/regfile"
)

// Scale-out: a Plan splits a video into keyframe-aligned segments; a run with Options.Segment
// upscales one of them (on any machine) and Join concatenates the results without re-encoding.

// planVersion is the plan format written and the only one read.
const planVersion = 1

// maxPlanBytes caps a plan file: about 130 bytes a segment, so 16 MiB holds more segments
// than a Kubernetes Indexed Job's 100,000 completions. MakePlan refuses a larger plan.
const maxPlanBytes = 16 << 20

// Plan is the JSON written by `hitsr-video plan`.
type Plan struct {
	Version  int       `json:"version"`
	ID       string    `json:"id"`    // hash of source and segments; every segment file is tagged with it
	Input    string    `json:"input"` // absolute for a local file; Join reads it unless given another name
	Source   Source    `json:"source"`
	Segments []Segment `json:"segments"`
	path     string    // the file ReadPlan read it from: never an output of the runs that read it
}

// Source identifies the planned input; a run or join checks its input against it.
type Source struct {
	Size     int64  `json:"size,omitempty"` // bytes (local files)
	Format   string `json:"format"`
	Streams  int    `json:"streams"`
	Stream   int    `json:"video_stream"`
	Codec    string `json:"codec"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	TimeBase string `json:"time_base"` // the video stream's; segment bounds are in it
	Frames   int    `json:"frames"`
}

// Segment is a range of presentation timestamps [Start, End) in Source.TimeBase. Every
// segment but the first starts at a keyframe; together they hold every frame once (the last
// ends with its last frame's duration, and takes any frame after).
type Segment struct {
	Start        int64   `json:"start"`
	End          int64   `json:"end"`
	Frames       int     `json:"frames"`
	StartSeconds float64 `json:"start_s"` // for people: Start and End − Start in seconds
	Seconds      float64 `json:"seconds"`
}

// PlanOptions says what to split and how: into Segments parts of about equal frame counts,
// or (Segments 0) into parts of about SegmentSeconds.
type PlanOptions struct {
	Input, InputFormat string
	Segments           int
	SegmentSeconds     float64
	Log                *zap.Logger
}

// MakePlan reads the input's video packets (demuxing only: nothing is decoded, other
// streams are skipped) and cuts at the keyframes nearest the targets.
func MakePlan(stop context.Context, o PlanOptions) (*Plan, error) {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Segments < 0 || o.Segments == 0 && !(o.SegmentSeconds > 0) {
		return nil, errf(KindUsage, "want a number of segments ≥ 1 or a segment length > 0 s")
	}
	if err := checkSeekable(o.Input); err != nil {
		return nil, err
	}
	in, err := openInput(o.Input, o.InputFormat, o.Log)
	if err != nil {
		return nil, err
	}
	defer in.close()
	for _, st := range in.fc.Streams() {
		if st.Index() != in.vst.Index() {
			discard(st)
		}
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-stop.Done():
			in.interrupt()
		case <-done:
		}
	}()
	type frame struct {
		pts, dur int64
		key      bool
	}
	var frames []frame
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	for {
		err := in.fc.ReadFrame(pkt)
		if stop.Err() != nil {
			return nil, ErrInterrupted
		}
		if errors.Is(err, astiav.ErrEof) {
			break
		}
		if err != nil {
			return nil, errf(KindInput, "%s: reading: %v", o.Input, err)
		}
		if pkt.StreamIndex() == in.vst.Index() {
			if pkt.Pts() == astiav.NoPtsValue {
				pkt.Unref()
				return nil, errf(KindInput, "%s: video packets without timestamps (a raw stream?): remux it first, e.g. ffmpeg -i IN -c copy OUT.mkv", o.Input)
			}
			frames = append(frames, frame{pkt.Pts(), max(pkt.Duration(), 1), pkt.Flags().Has(astiav.PacketFlagKey)})
		}
		pkt.Unref()
	}
	if len(frames) == 0 {
		return nil, errf(KindInput, "%s: no video packets", o.Input)
	}
	slices.SortStableFunc(frames, func(a, b frame) int { return cmpInt(a.pts, b.pts) })
	var keys []int // frame positions (pts order) where a segment may start
	for i, f := range frames {
		if f.key && i > 0 && f.pts > frames[i-1].pts {
			keys = append(keys, i)
		}
	}
	tb := in.timeBase()
	seconds := func(pts int64) float64 { return float64(pts-frames[0].pts) * tb.Float64() }
	var cuts []int // frame positions where segments 1.. start
	if o.Segments > 0 {
		if len(keys) < o.Segments-1 {
			return nil, errf(KindUsage, "%s has %d keyframes after its first frame: at most %d segments (segments start at keyframes; re-encode with more, e.g. ffmpeg -g)",
				o.Input, len(keys), len(keys)+1)
		}
		for i := 1; i < o.Segments; i++ {
			target := float64(i) * float64(len(frames)) / float64(o.Segments)
			lo, hi := 0, len(keys)-(o.Segments-1-i) // keys[lo:hi] leave one for each later cut
			if len(cuts) > 0 {
				lo = sort.SearchInts(keys, cuts[len(cuts)-1]+1)
			}
			cuts = append(cuts, nearest(keys[lo:hi], func(k int) float64 { return float64(k) - target }))
		}
	} else {
		for i := 1; ; i++ {
			target := float64(i) * o.SegmentSeconds
			if target >= seconds(frames[len(frames)-1].pts) {
				break
			}
			lo := 0
			if len(cuts) > 0 {
				lo = sort.SearchInts(keys, cuts[len(cuts)-1]+1)
			}
			if lo == len(keys) {
				break
			}
			k := nearest(keys[lo:], func(k int) float64 { return seconds(frames[k].pts) - target })
			if seconds(frames[k].pts) > 0 && (len(cuts) == 0 || k != cuts[len(cuts)-1]) {
				cuts = append(cuts, k)
			}
		}
	}
	cp := in.vst.CodecParameters()
	name := o.Input
	if IsFile(name) {
		if abs, err := filepath.Abs(strings.TrimPrefix(name, "file:")); err == nil {
			name = abs
		}
	}
	p := &Plan{Version: planVersion, Input: name, Source: Source{
		Format: in.fc.InputFormat().Name(), Streams: in.fc.NbStreams(), Stream: in.vst.Index(),
		Codec: cp.CodecID().Name(), Width: in.w, Height: in.h, TimeBase: tb.String(), Frames: len(frames)}}
	if fi := stat(o.Input, 0); fi != nil && fi.Mode().IsRegular() {
		p.Source.Size = fi.Size()
	}
	bounds := append(append([]int{0}, cuts...), len(frames))
	for i := 0; i+1 < len(bounds); i++ {
		first, next := bounds[i], bounds[i+1]
		end := frames[len(frames)-1].pts + frames[len(frames)-1].dur
		if next < len(frames) {
			end = frames[next].pts
		}
		start := frames[first].pts
		p.Segments = append(p.Segments, Segment{Start: start, End: end, Frames: next - first,
			StartSeconds: round3(seconds(start)), Seconds: round3(float64(end-start) * tb.Float64())})
	}
	p.ID = p.hash()
	if n := len(p.JSON()); n > maxPlanBytes {
		return nil, errf(KindUsage, "%s: %d segments make a plan of %d bytes, over the limit of %s: make fewer segments",
			o.Input, len(p.Segments), n, regfile.FormatSize(maxPlanBytes))
	}
	return p, nil
}

// nearest is the element of sorted ks whose dist is closest to 0 (the first on a tie).
func nearest(ks []int, dist func(int) float64) int {
	best := ks[0]
	for _, k := range ks[1:] {
		if math.Abs(dist(k)) < math.Abs(dist(best)) {
			best = k
		}
	}
	return best
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// checkSeekable refuses, for plan and join (which seek in their source), a pipe, a FIFO, a device
// or a live stream.
func checkSeekable(name string) error {
	if s := scheme(name); slices.Contains(socketSchemes, s) || strings.HasPrefix(s, "rtmp") {
		return errf(KindUsage, "%s: scale-out needs a seekable input (a file or URL), not a live stream", name)
	}
	if fi := stat(name, 0); name == "-" || rePipe.MatchString(name) || fi != nil && !fi.Mode().IsRegular() {
		return errf(KindUsage, "%s: scale-out needs a seekable input (a file or URL), not a pipe, FIFO or device", name)
	}
	return nil
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// hash identifies the plan by what decides the segments' contents.
func (p *Plan) hash() string {
	b, _ := json.Marshal(struct {
		Source   Source
		Segments []Segment
	}{p.Source, p.Segments})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// JSON is the plan file's contents.
func (p *Plan) JSON() []byte {
	b, _ := json.MarshalIndent(p, "", "  ")
	return append(b, '\n')
}

// ReadPlan reads and checks a plan file (usage errors: it is a flag's argument).
func ReadPlan(path string) (*Plan, error) {
	b, err := regfile.Read(path, maxPlanBytes)
	if err != nil {
		return nil, errf(KindUsage, "plan %s: %v", path, err)
	}
	var p Plan
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		return nil, errf(KindUsage, "plan %s: not a plan file: %v", path, err)
	}
	if len(bytes.TrimSpace(b[d.InputOffset():])) > 0 {
		return nil, errf(KindUsage, "plan %s: not a plan file: data after the plan", path)
	}
	if err := p.check(); err != nil {
		return nil, errf(KindUsage, "plan %s: %v", path, err)
	}
	p.path = path
	return &p, nil
}

func (p *Plan) check() error {
	if p.Version != planVersion {
		return fmt.Errorf("version %d, this hitsr-video reads version %d", p.Version, planVersion)
	}
	if len(p.Segments) == 0 {
		return fmt.Errorf("no segments")
	}
	if _, err := parseRational(p.Source.TimeBase); err != nil {
		return fmt.Errorf("time_base: %v", err)
	}
	n := 0
	for i, s := range p.Segments {
		if s.End <= s.Start || s.Frames <= 0 || i > 0 && s.Start != p.Segments[i-1].End {
			return fmt.Errorf("segment %d: not a range that follows the previous one", i)
		}
		if s.Frames > p.Source.Frames-n {
			return fmt.Errorf("the segments hold more frames than the source's %d", p.Source.Frames)
		}
		n += s.Frames
	}
	if n != p.Source.Frames {
		return fmt.Errorf("the segments hold %d frames, the source %d", n, p.Source.Frames)
	}
	if p.hash() != p.ID {
		return fmt.Errorf("edited after it was made (id %s does not match its contents); make a new plan", p.ID)
	}
	return nil
}

// matches checks that in is the planned input (the same file, or a copy of it elsewhere).
func (p *Plan) matches(in *input) error {
	cp := in.vst.CodecParameters()
	size := p.Source.Size // compared for local files only
	if fi := stat(in.name, 0); fi != nil && fi.Mode().IsRegular() && size > 0 {
		size = fi.Size()
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"size", size, p.Source.Size}, {"container", in.fc.InputFormat().Name(), p.Source.Format},
		{"streams", in.fc.NbStreams(), p.Source.Streams}, {"video stream", in.vst.Index(), p.Source.Stream},
		{"codec", cp.CodecID().Name(), p.Source.Codec}, {"width", in.w, p.Source.Width},
		{"height", in.h, p.Source.Height}, {"time base", in.timeBase().String(), p.Source.TimeBase},
	} {
		if c.got != c.want {
			return errf(KindUsage, "%s is not the input the plan was made for (%s): %s %v, the plan has %v", in.name, p.Input, c.what, c.got, c.want)
		}
	}
	return nil
}

// segmentOf is the index of the segment holding pts (clamped to the first and last).
func (p *Plan) segmentOf(pts int64) int {
	i := sort.Search(len(p.Segments), func(i int) bool { return p.Segments[i].End > pts })
	return min(i, len(p.Segments)-1)
}

// SegmentPath is where segment i of the output final is written: next to it, in NUT (which
// keeps every timestamp exactly and holds any codec).
func SegmentPath(final string, i, n int) string {
	w := max(3, len(strconv.Itoa(n-1)))
	return fmt.Sprintf("%s.seg%0*d.nut", final, w, i)
}

func parseRational(s string) (astiav.Rational, error) {
	a, b, ok := strings.Cut(s, "/")
	n, err1 := strconv.Atoi(a)
	d, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n <= 0 || d <= 0 {
		return astiav.Rational{}, fmt.Errorf("%q is not a time base N/D", s)
	}
	return astiav.NewRational(n, d), nil
}
