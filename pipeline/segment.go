package pipeline

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/asticode/go-astiav"
)

// Tags of a segment file's container, read by Join.
const (
	tagPlan     = "hitsr_plan"      // the plan's ID
	tagSegment  = "hitsr_segment"   // the segment's index
	tagTimeBase = "hitsr_time_base" // the encoder's time base, which the joined stream keeps
	tagOffset   = "hitsr_ts_offset" // added to every timestamp (encoder time base)
)

// segmentOffset (seconds) lifts a segment's timestamps so that none is negative (an encoder's
// first decoding times are); NUT would otherwise shift them by an amount it does not record.
const segmentOffset = 86400

// SegmentRun selects one segment of a plan: the run seeks to its keyframe, keeps the frames
// whose timestamps fall in its range, and writes each output's video alone, encoded as a
// single run would encode it for that output's container, to SegmentPath(URL, Index, …).
type SegmentRun struct {
	Plan  *Plan
	Index int
}

// path is where output url's segment goes; scale-out writes local (shared) files only.
func (s *SegmentRun) path(url string) (string, error) {
	if n := len(s.Plan.Segments); s.Index < 0 || s.Index >= n {
		return "", errf(KindUsage, "segment %d: the plan has segments 0..%d", s.Index, n-1)
	}
	if err := scaleOutFile(url); err != nil {
		return "", err
	}
	return SegmentPath(url, s.Index, len(s.Plan.Segments)), nil
}

// scaleOutFile refuses an output that is not a local file: segments are written next to their
// output, on a file system every worker and the join share.
func scaleOutFile(url string) error {
	if !IsFile(url) {
		return errf(KindUsage, "%s: scale-out writes files (a shared file system), not pipes or URLs", url)
	}
	return nil
}

// selectSegment checks the input against the plan, skips its other streams and seeks to the
// segment's keyframe.
func (in *input) selectSegment(s *SegmentRun) error {
	if err := s.Plan.matches(in); err != nil {
		return err
	}
	for _, st := range in.fc.Streams() {
		if st.Index() != in.vst.Index() {
			discard(st)
		}
	}
	seg := s.Plan.Segments[s.Index]
	if s.Index < len(s.Plan.Segments)-1 {
		in.hi = seg.End
	}
	if s.Index == 0 {
		return nil
	}
	in.lo = seg.Start
	if err := in.seekKey(seg.Start, s.Plan.Segments[0].Start); err != nil {
		return errf(KindInput, "%s: cannot seek to segment %d (%.3f s): %v", in.name, s.Index, seg.StartSeconds, err)
	}
	return nil
}

// seekKey positions the demuxer on a keyframe at or before pts start, to decode from there: it
// seeks, reads up to the first keyframe, and seeks further back (1 s, 2 s, 4 s … down to first,
// the earliest pts) while that keyframe comes after start, as where a seek lands is only as
// exact as the container's index (MPEG-TS has none).
func (in *input) seekKey(start, first int64) error {
	pkt := astiav.AllocPacket()
	back := max(astiav.RescaleQ(1, astiav.NewRational(1, 1), in.timeBase()), 1)
	for target := start; ; {
		if err := in.fc.SeekFrame(in.vst.Index(), target, astiav.NewSeekFlags(astiav.SeekFlagBackward)); err != nil {
			pkt.Free()
			return err
		}
		for {
			if err := in.fc.ReadFrame(pkt); err != nil {
				break // past the end: further back
			}
			if pkt.StreamIndex() == in.vst.Index() && pkt.Flags().Has(astiav.PacketFlagKey) {
				if pkt.Pts() != astiav.NoPtsValue && pkt.Pts() <= start {
					in.first = pkt
					return nil
				}
				pkt.Unref()
				break
			}
			pkt.Unref()
		}
		if target <= first {
			pkt.Free()
			return fmt.Errorf("no keyframe at or before it")
		}
		// back off twice as far each time, down to first (in unsigned arithmetic: a plan's extreme
		// timestamps must not wrap around and loop for ever)
		if uint64(target)-uint64(first) <= uint64(back) {
			target = first
		} else {
			target -= back
		}
		back = min(back, math.MaxInt64/2) * 2
	}
}

// read is the demuxer's next packet, the one seekKey looked at first.
func (in *input) read(pkt *astiav.Packet) error {
	if in.first != nil {
		pkt.MoveRef(in.first)
		in.first.Free()
		in.first = nil
		return nil
	}
	return in.fc.ReadFrame(pkt)
}

// segmentContainer moves the encoded stream from the output's own container (which chose the
// codec, pixel format and global headers as for a single run) to a NUT segment at url, tagged
// for Join.
func (w *output) segmentContainer(url string, s *SegmentRun) error {
	oc, err := astiav.AllocOutputFormatContext(nil, "nut", url)
	if err != nil || oc == nil {
		return errf(KindFailure, "%s: no NUT muxer in this FFmpeg build", w.name)
	}
	st := oc.NewStream(nil)
	if err := w.vst.CodecParameters().Copy(st.CodecParameters()); err != nil {
		oc.Free()
		return errf(KindFailure, "%s: %v", w.name, err)
	}
	st.CodecParameters().SetCodecTag(0)
	st.SetTimeBase(w.encTB)
	setTag(oc, tagPlan, s.Plan.ID)
	setTag(oc, tagSegment, strconv.Itoa(s.Index))
	setTag(oc, tagTimeBase, w.encTB.String())
	w.tsOffset = astiav.RescaleQ(segmentOffset, astiav.NewRational(1, 1), w.encTB)
	setTag(oc, tagOffset, strconv.FormatInt(w.tsOffset, 10))
	if !muxerAccepts(oc, st.CodecParameters().CodecID()) {
		oc.Free()
		return errf(KindUsage, "%s: NUT (the segment container) cannot hold %s video", w.name, st.CodecParameters().CodecID().Name())
	}
	w.oc.Free()
	w.oc, w.vst, w.segURL = oc, st, url
	return nil
}

// segmentHeader writes a segment's header before its first packet p (nil: there is none).
// NUT stores no decoding times: its reader derives them from the pts of the frames so far and
// the stream's reordering delay, which must be the encoder's actual one (libx264 claims 2 when
// lossless coding leaves it no B-frames). An encoder's first decoding time precedes its first
// pts by the span of that many frames.
func (w *output) segmentHeader(p *astiav.Packet) error {
	if w.segURL == "" {
		return nil
	}
	if p != nil {
		delay := 0
		if d := p.Pts() - p.Dts(); p.Dts() != astiav.NoPtsValue && d > 0 {
			pts := slices.Sorted(maps.Keys(w.durs)) // the frames sent, none out yet
			if delay = slices.Index(pts, pts[0]+d); delay < 0 {
				delay = videoDelay(w.vst.CodecParameters()) // the encoder's claim
			}
		}
		setVideoDelay(w.vst.CodecParameters(), delay)
	}
	url := w.segURL
	w.segURL = ""
	return w.writeHeader(url)
}

// shiftTs adds d to a packet's timestamps.
func shiftTs(p *astiav.Packet, d int64) {
	if d == 0 {
		return
	}
	if p.Pts() != astiav.NoPtsValue {
		p.SetPts(p.Pts() + d)
	}
	if p.Dts() != astiav.NoPtsValue {
		p.SetDts(p.Dts() + d)
	}
}

// finished decides a segment run's outcome before its files are committed: a stopped run
// keeps nothing (a shorter segment cannot be joined), a finished one holds the plan's frames.
func (s *SegmentRun) finished(done int, stopped bool) error {
	if stopped {
		return ErrInterrupted
	}
	if want := s.Plan.Segments[s.Index].Frames; done != want {
		return errf(KindInput, "segment %d: %d frames decoded, the plan has %d (corrupt packets, or seeking in this container is not frame-accurate: remux the input, e.g. ffmpeg -i IN -c copy OUT.mkv)",
			s.Index, done, want)
	}
	return nil
}
