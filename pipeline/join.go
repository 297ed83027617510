package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/asticode/go-astiav"
	"go.uber.org/zap"
)

// JoinOptions configures Join.
type JoinOptions struct {
	Plan        *Plan
	Input       string // the source; "" = the plan's Input
	InputFormat string
	Outputs     []Output // URL and Format are used; output i's segments are SegmentPath(URL, …)
	Overwrite   bool
	Log         *zap.Logger
}

// Join writes each output from its segments: their video packets as they are (no
// re-encoding), with the source's frame durations, and the source's audio, subtitles and
// metadata as a single run carries them. Every segment must be there, tagged with the plan,
// before anything is written, and must hold exactly the source's frames in its range (count
// and every timestamp); otherwise the error names the segment and no output is kept.
type Join struct {
	o       JoinOptions
	mu      sync.Mutex
	files   []*File
	aborted bool
}

// NewJoin prepares a join; nothing is opened yet.
func NewJoin(o JoinOptions) *Join {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	return &Join{o: o}
}

// Abort removes the partial outputs at once, from any goroutine; Run then fails.
func (jn *Join) Abort() {
	jn.mu.Lock()
	defer jn.mu.Unlock()
	jn.aborted = true
	for _, f := range jn.files {
		if f != nil {
			f.Discard()
		}
	}
}

// Run joins; it returns the number of frames in each output. Cancelling stop ends it with
// ErrInterrupted and no output (a partly joined file is of no use).
func (jn *Join) Run(stop context.Context) (int, error) {
	o := jn.o
	if len(o.Outputs) == 0 {
		return 0, errf(KindUsage, "no outputs")
	}
	plan, source := o.Plan, o.Input
	if source == "" {
		source = plan.Input
	}
	if err := checkSeekable(source); err != nil {
		return 0, err
	}
	n := len(plan.Segments)
	names := make([]string, len(o.Outputs))
	for i, out := range o.Outputs {
		if err := scaleOutFile(out.URL); err != nil {
			return 0, err
		}
		names[i] = out.URL
	}
	files, err := PlanFiles(source, names, o.Overwrite)
	if err != nil {
		return 0, err
	}
	reads := []string{plan.path} // and every segment of every output
	for _, out := range o.Outputs {
		for k := range n {
			reads = append(reads, SegmentPath(out.URL, k, n))
		}
	}
	if err := refuseReads(files, reads); err != nil {
		return 0, err
	}
	jn.mu.Lock()
	jn.files, err = files, nil
	if jn.aborted {
		err = ErrAborted
	}
	jn.mu.Unlock()
	if err != nil {
		return 0, err
	}
	var outs []*joinOutput
	defer func() {
		for _, j := range outs {
			j.close()
		}
		for _, f := range files {
			if f != nil {
				f.Discard() // not committed: removed
			}
		}
	}()
	in, err := openInput(source, o.InputFormat, o.Log)
	if err != nil {
		return 0, err
	}
	defer in.close()
	if err := plan.matches(in); err != nil {
		return 0, err
	}
	for _, out := range o.Outputs { // every segment, before anything is written
		j := &joinOutput{plan: plan, segs: make([]string, n), got: make([][]int64, n), exp: make([][]int64, n), durs: map[int64]int64{}}
		outs = append(outs, j)
		var first *segmentInfo
		for k := range n {
			j.segs[k] = SegmentPath(out.URL, k, n)
			r, err := openSegment(j.segs[k], plan, k)
			if err != nil {
				return 0, err
			}
			info := r.info()
			r.close()
			if first == nil {
				first = &info
			} else if !info.sameEncoding(*first) {
				return 0, errf(KindInput, "segment %d (%s) is encoded unlike segment 0 (%s); run every segment with the same settings",
					k, j.segs[k], info.diff(*first))
			}
		}
	}
	for i, j := range outs {
		if j.w, err = newJoinOutput(in, o.Outputs[i], files[i], j.segs[0], o.Log); err != nil {
			return 0, err
		}
	}
	done := make(chan struct{})
	defer close(done)
	go func() { // interrupt blocking input reads on stop
		select {
		case <-stop.Done():
			in.interrupt()
		case <-done:
		}
	}()
	if err := join(stop, in, outs); err != nil {
		return 0, err
	}
	for _, j := range outs {
		if err := j.w.finish(); err != nil {
			return 0, err
		}
		if err := j.verify(); err != nil {
			return 0, err
		}
	}
	for _, j := range outs {
		if err := j.w.file.Commit(); err != nil {
			return 0, err
		}
	}
	return plan.Source.Frames, nil
}

// joinOutput is one output being joined: its muxer (a single run's, without the encoder),
// the segment being read and what was written, against what the source holds.
type joinOutput struct {
	w       *output
	plan    *Plan
	segs    []string
	cur     int              // segment being read
	r       *segmentReader   // its reader; nil before the first and after the last
	head    *astiav.Packet   // its next packet (in w.encTB), or nil
	pending []*astiav.Packet // packets read ahead to time the first ones (in w.encTB)
	lastDts int64
	started bool
	got     [][]int64       // pts written, per segment (w.encTB)
	exp     [][]int64       // the source's frame pts, per segment (w.encTB)
	durs    map[int64]int64 // the source's frame durations by pts (w.encTB), as a single run sets them
}

// reorderWindow is how far (seconds) the source is read beyond a frame's pts before that frame
// is taken as missing from the source.
const reorderWindow = 5

// join interleaves the source's side packets and every output's segment packets in decoding
// order, reading the source only as far as needed to know each frame's duration.
func join(stop context.Context, in *input, outs []*joinOutput) error {
	srcTB := in.timeBase()
	var fifo []*astiav.Packet // side packets read, not yet written
	defer func() {
		for _, p := range fifo {
			p.Free()
		}
	}()
	maxPts, eof := int64(astiav.NoPtsValue), false
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	for {
		if stop.Err() != nil {
			return ErrInterrupted
		}
		need := len(fifo) == 0
		for _, j := range outs {
			if err := j.advance(); err != nil {
				return err
			}
			if j.head != nil && !eof {
				_, known := j.durs[j.head.Pts()]
				late := maxPts != astiav.NoPtsValue && compareTs(maxPts, srcTB, j.head.Pts()+int64(reorderWindow/j.w.encTB.Float64()), j.w.encTB) > 0
				if !known && late {
					return j.notInSource(j.head.Pts())
				}
				need = need || !known
			}
		}
		if need && !eof {
			err := in.fc.ReadFrame(pkt)
			switch {
			case errors.Is(err, astiav.ErrEof):
				eof = true
			case err != nil && stop.Err() != nil:
				return ErrInterrupted
			case err != nil:
				return errf(KindInput, "%s: reading: %v", in.name, err)
			case pkt.StreamIndex() == in.vst.Index():
				if pkt.Pts() != astiav.NoPtsValue {
					maxPts = max(maxPts, pkt.Pts())
					dur := pkt.Duration()
					if dur <= 0 {
						dur = in.frameDur
					}
					for _, j := range outs {
						j.source(pkt.Pts(), dur, srcTB)
					}
				}
				pkt.Unref()
			case slices.ContainsFunc(outs, func(j *joinOutput) bool { return j.w.carries(pkt.StreamIndex()) }):
				fifo = append(fifo, pkt.Clone())
				pkt.Unref()
			default:
				pkt.Unref()
			}
			continue
		}
		// Write the earliest (by decoding time) of the outputs' heads and the first side packet.
		var next *joinOutput
		for _, j := range outs {
			if j.head != nil && (next == nil || compareTs(j.head.Dts(), j.w.encTB, next.head.Dts(), next.w.encTB) < 0) {
				next = j
			}
		}
		if len(fifo) > 0 && (next == nil || compareTs(sideTime(fifo[0]), in.fc.Streams()[fifo[0].StreamIndex()].TimeBase(), next.head.Dts(), next.w.encTB) <= 0) {
			p := fifo[0]
			fifo = fifo[1:]
			for _, j := range outs {
				if j.w.carries(p.StreamIndex()) {
					c := p.Clone()
					err := j.w.writeSide(item{pkt: c, stream: p.StreamIndex()})
					c.Free()
					if err != nil {
						p.Free()
						return errf(KindFailure, "%s: %v", j.w.name, err)
					}
				}
			}
			p.Free()
			continue
		}
		if next == nil {
			return nil // every segment read, the source read to its end
		}
		if err := next.write(); err != nil {
			return err
		}
	}
}

// sideTime is a side packet's decoding time, else its presentation time.
func sideTime(p *astiav.Packet) int64 {
	if p.Dts() != astiav.NoPtsValue {
		return p.Dts()
	}
	return p.Pts()
}

// source records a source frame: its pts in this output's segment, and its duration.
func (j *joinOutput) source(pts, dur int64, tb astiav.Rational) {
	k := astiav.RescaleQ(pts, tb, j.w.encTB)
	j.durs[k] = max(astiav.RescaleQ(dur, tb, j.w.encTB), 1)
	s := j.plan.segmentOf(pts)
	j.exp[s] = append(j.exp[s], k)
}

// advance makes head the next packet of the current segment, moving to the next segment at
// the end of one (which must hold the plan's frame count).
func (j *joinOutput) advance() error {
	for j.head == nil && j.cur < len(j.segs) {
		if len(j.pending) > 0 {
			p := j.pending[0]
			j.pending = j.pending[1:]
			return j.setHead(p)
		}
		if j.r == nil {
			r, err := openSegment(j.segs[j.cur], j.plan, j.cur)
			if err != nil {
				return err
			}
			j.r = r
		}
		p, err := j.r.read()
		if err != nil {
			return err
		}
		if p != nil {
			if p.Dts() == astiav.NoPtsValue {
				return j.timeFirst(p)
			}
			return j.setHead(p)
		}
		if got, want := len(j.got[j.cur]), j.plan.Segments[j.cur].Frames; got != want {
			return errf(KindInput, "segment %d (%s) holds %d frames, the plan has %d: run it again (--segment %d -y)",
				j.cur, j.segs[j.cur], got, want, j.cur)
		}
		j.r.close()
		j.r = nil
		j.cur++
	}
	return nil
}

// timeFirst gives decoding times to the first packets of a segment, which NUT leaves without
// (it derives them from the frames before, up to the reordering delay): as one encoder run
// over the whole video would, the pts of the previous segment's last frames, and in the first
// segment x264's rule (each frame's pts less the delay's span).
func (j *joinOutput) timeFirst(p *astiav.Packet) error {
	j.pending = []*astiav.Packet{p}
	for { // read up to the first packet with a decoding time
		q, err := j.r.read()
		if err != nil {
			return err
		}
		if q == nil {
			break
		}
		j.pending = append(j.pending, q)
		if q.Dts() != astiav.NoPtsValue {
			break
		}
	}
	m := 0 // packets without a decoding time
	for m < len(j.pending) && j.pending[m].Dts() == astiav.NoPtsValue {
		m++
	}
	pts := make([]int64, len(j.pending))
	for i, q := range j.pending {
		pts[i] = q.Pts()
	}
	slices.Sort(pts)
	var prev []int64
	if j.cur > 0 {
		prev = slices.Sorted(slices.Values(j.got[j.cur-1]))
	}
	for i, q := range j.pending[:m] {
		if len(prev) >= m {
			q.SetDts(prev[len(prev)-m+i])
		} else {
			q.SetDts(pts[i] - (pts[min(m, len(pts)-1)] - pts[0]))
		}
	}
	return j.advance()
}

// setHead takes p as the next packet, with decoding times that increase across segments.
func (j *joinOutput) setHead(p *astiav.Packet) error {
	if j.started && p.Dts() <= j.lastDts {
		if j.lastDts+1 > p.Pts() {
			p.Free()
			return errf(KindInput, "segment %d (%s): its decoding times start before the previous segment's end; the encoder's frame reordering does not fit between them",
				j.cur, j.segs[j.cur])
		}
		p.SetDts(j.lastDts + 1)
	}
	j.started, j.lastDts, j.head = true, p.Dts(), p
	return nil
}

// write muxes the head packet with the source frame's duration.
func (j *joinOutput) write() error {
	p := j.head
	j.head = nil
	defer p.Free()
	if d, ok := j.durs[p.Pts()]; ok {
		p.SetDuration(d)
	}
	j.got[j.cur] = append(j.got[j.cur], p.Pts())
	p.SetStreamIndex(j.w.vst.Index())
	p.SetPos(-1)
	p.RescaleTs(j.w.encTB, j.w.vst.TimeBase())
	if err := j.w.oc.WriteInterleavedFrame(p); err != nil {
		return errf(KindFailure, "%s: writing: %v", j.w.name, err)
	}
	return nil
}

func (j *joinOutput) notInSource(pts int64) error {
	return errf(KindInput, "segment %d (%s) has a frame at %.3f s that the source does not have", j.cur, j.segs[j.cur],
		float64(pts)*j.w.encTB.Float64())
}

// verify compares every segment's frames with the source's, by timestamp.
func (j *joinOutput) verify() error {
	for k := range j.segs {
		got, exp := slices.Sorted(slices.Values(j.got[k])), slices.Sorted(slices.Values(j.exp[k]))
		if slices.Equal(got, exp) {
			continue
		}
		i := 0
		for i < min(len(got), len(exp)) && got[i] == exp[i] {
			i++
		}
		at := func(s []int64) string {
			if i < len(s) {
				return fmt.Sprintf("%.3f s", float64(s[i])*j.w.encTB.Float64())
			}
			return "none"
		}
		return errf(KindInput, "segment %d (%s) does not match the source: %d frames, the source has %d there (first difference: %s, the source's %s)",
			k, j.segs[k], len(got), len(exp), at(got), at(exp))
	}
	return nil
}

func (j *joinOutput) close() {
	if j.head != nil {
		j.head.Free()
	}
	for _, p := range j.pending {
		p.Free()
	}
	if j.r != nil {
		j.r.close()
	}
	if j.w != nil {
		j.w.close()
	}
}

// newJoinOutput opens an output as a single run would, its video stream taken from the first
// segment instead of an encoder.
func newJoinOutput(in *input, spec Output, file *File, seg0 string, log *zap.Logger) (_ *output, err error) {
	w := &output{spec: spec, name: spec.URL, file: file, sides: map[int]*sideStream{}, log: log.With(zap.String("output", spec.URL))}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	_, format, err := containerFormat(spec)
	if err != nil {
		return nil, err
	}
	if _, err := file.Create(); err != nil {
		return nil, err
	}
	url := file.URL()
	if w.oc, err = astiav.AllocOutputFormatContext(nil, format, url); err != nil || w.oc == nil {
		return nil, errf(KindUsage, "%s: unknown container format %q", spec.URL, format)
	}
	r, err := openSegment(seg0, nil, 0)
	if err != nil {
		return nil, err
	}
	defer r.close()
	cp := r.vst.CodecParameters()
	if !muxerAccepts(w.oc, cp.CodecID()) {
		return nil, errf(KindUsage, "%s: container %s cannot hold %s video (the segments' codec)", spec.URL, format, cp.CodecID().Name())
	}
	w.vst = w.oc.NewStream(nil)
	if err := cp.Copy(w.vst.CodecParameters()); err != nil {
		return nil, errf(KindFailure, "%s: %v", spec.URL, err)
	}
	vp := w.vst.CodecParameters()
	vp.SetCodecTag(0)
	setColor(vp, in.vst.CodecParameters())
	vp.SetSampleAspectRatio(outputSAR(in, vp.Width(), vp.Height()))
	w.encTB = r.tb
	w.vst.SetTimeBase(w.encTB)
	w.videoInfo(in)
	w.addSideStreams(in)
	copyMetadata(w.oc, in.fc)
	if err := w.writeHeader(url); err != nil {
		return nil, err
	}
	return w, nil
}

// segmentReader reads a segment file.
type segmentReader struct {
	path string
	fc   *astiav.FormatContext
	vst  *astiav.Stream
	tb   astiav.Rational // the encoder's time base (tagged)
	off  int64           // the timestamp offset (tagged, in tb)
	pkt  *astiav.Packet
}

// openSegment opens segment i of a plan and checks its tags (plan nil: no check).
func openSegment(path string, plan *Plan, i int) (*segmentReader, error) {
	if _, err := os.Stat(strings.TrimPrefix(path, "file:")); err != nil {
		return nil, errf(KindInput, "segment %d is missing: %s: %v (run its worker: --segment %d)", i, path, unwrapPath(err), i)
	}
	r := &segmentReader{path: path, fc: astiav.AllocFormatContext()}
	mark := avMark()
	if err := r.fc.OpenInput(path, astiav.FindInputFormat("nut"), nil); err != nil {
		r.fc.Free()
		return nil, errf(KindInput, "segment %d (%s): cannot open: %s", i, path, explain(err, mark))
	}
	if err := r.fc.FindStreamInfo(nil); err != nil {
		r.close()
		return nil, errf(KindInput, "segment %d (%s): cannot read: %s", i, path, explain(err, mark))
	}
	fail := func(format string, args ...any) (*segmentReader, error) {
		r.close()
		return nil, errf(KindInput, "segment %d (%s) %s", i, path, fmt.Sprintf(format, args...))
	}
	if plan != nil {
		switch id := tag(r.fc, tagPlan); {
		case id == "":
			return fail("is not a hitsr segment")
		case id != plan.ID:
			return fail("belongs to another plan (%s, this one is %s): run its worker again with this plan", id, plan.ID)
		case tag(r.fc, tagSegment) != strconv.Itoa(i):
			return fail("is tagged as segment %q", tag(r.fc, tagSegment))
		}
	}
	tb, err := parseRational(tag(r.fc, tagTimeBase))
	off, err2 := strconv.ParseInt(tag(r.fc, tagOffset), 10, 64)
	if ss := r.fc.Streams(); err != nil || err2 != nil || len(ss) != 1 || ss[0].CodecParameters().MediaType() != astiav.MediaTypeVideo {
		return fail("is not a hitsr segment (one video stream, tagged)")
	}
	r.vst, r.tb, r.off, r.pkt = r.fc.Streams()[0], tb, off, astiav.AllocPacket()
	return r, nil
}

// read returns the next packet in the encoder's time base (the caller frees it), or nil at
// the end.
func (r *segmentReader) read() (*astiav.Packet, error) {
	err := r.fc.ReadFrame(r.pkt)
	if errors.Is(err, astiav.ErrEof) {
		return nil, nil
	}
	if err != nil {
		return nil, errf(KindInput, "%s: reading: %v", r.path, err)
	}
	p := r.pkt.Clone()
	r.pkt.Unref()
	p.RescaleTs(r.vst.TimeBase(), r.tb)
	shiftTs(p, -r.off)
	return p, nil
}

func (r *segmentReader) close() {
	if r.pkt != nil {
		r.pkt.Free()
	}
	r.fc.CloseInput()
	r.fc.Free()
}

// segmentInfo is what must be equal in every segment of an output to concatenate them.
type segmentInfo struct {
	codec     string
	w, h      int
	tb        string
	extradata string
}

func (r *segmentReader) info() segmentInfo {
	cp := r.vst.CodecParameters()
	return segmentInfo{cp.CodecID().Name(), cp.Width(), cp.Height(), r.tb.String(), string(cp.ExtraData())}
}

func (a segmentInfo) sameEncoding(b segmentInfo) bool { return a == b }

func (a segmentInfo) diff(b segmentInfo) string {
	switch {
	case a.codec != b.codec:
		return fmt.Sprintf("codec %s vs %s", a.codec, b.codec)
	case a.w != b.w || a.h != b.h:
		return fmt.Sprintf("%dx%d vs %dx%d", a.w, a.h, b.w, b.h)
	case a.tb != b.tb:
		return fmt.Sprintf("time base %s vs %s", a.tb, b.tb)
	}
	return "different codec headers (encoder settings)"
}
