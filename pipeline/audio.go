package pipeline

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/asticode/go-astiav"
)

// audioTranscoder re-encodes one audio stream to AAC for a container that cannot hold its
// codec: decode → aformat/asetnsamples (to the encoder's format and frame size) → AAC.
type audioTranscoder struct {
	dec, enc        *astiav.CodecContext
	ost             *astiav.Stream
	graph           *astiav.FilterGraph
	src, sink       *astiav.FilterContext
	frame, filtered *astiav.Frame
	pkt             *astiav.Packet
	tb              astiav.Rational // 1/sample rate: filter and encoder time base
}

func newAudioTranscoder(ist *astiav.Stream, oc *astiav.FormatContext) (_ *audioTranscoder, err error) {
	t := &audioTranscoder{frame: astiav.AllocFrame(), filtered: astiav.AllocFrame(), pkt: astiav.AllocPacket()}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	cp := ist.CodecParameters()
	dc := astiav.FindDecoder(cp.CodecID())
	if dc == nil {
		return nil, fmt.Errorf("no decoder for %s", cp.CodecID().Name())
	}
	ec := astiav.FindEncoder(astiav.CodecIDAac)
	if ec == nil || !muxerAccepts(oc, astiav.CodecIDAac) {
		return nil, fmt.Errorf("the container cannot hold %s audio, nor AAC", cp.CodecID().Name())
	}
	t.dec = astiav.AllocCodecContext(dc)
	if err := cp.ToCodecContext(t.dec); err != nil {
		return nil, err
	}
	t.dec.SetTimeBase(ist.TimeBase())
	if err := t.dec.Open(dc, nil); err != nil {
		return nil, fmt.Errorf("opening %s decoder: %w", dc.Name(), err)
	}
	nativeLayout(t.dec)
	layout := t.dec.ChannelLayout()
	if !layout.Valid() || layout.NbChannels() == 0 {
		layout = astiav.ChannelLayoutStereo
	}
	sr := t.dec.SampleRate()
	t.tb = astiav.NewRational(1, sr)
	t.enc = astiav.AllocCodecContext(ec)
	t.enc.SetSampleRate(sr)
	t.enc.SetChannelLayout(layout)
	t.enc.SetSampleFormat(astiav.SampleFormatFltp)
	t.enc.SetBitRate(int64(96000 * min(layout.NbChannels(), 2)))
	t.enc.SetTimeBase(t.tb)
	if oc.OutputFormat().Flags().Has(astiav.IOFormatFlagGlobalheader) {
		t.enc.SetFlags(t.enc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	}
	if err := t.enc.Open(ec, nil); err != nil {
		return nil, fmt.Errorf("opening AAC encoder: %w", err)
	}
	t.ost = oc.NewStream(nil)
	if err := t.ost.CodecParameters().FromCodecContext(t.enc); err != nil {
		return nil, err
	}
	t.ost.SetTimeBase(t.tb)
	if err := t.buildGraph(layout, sr); err != nil {
		return nil, fmt.Errorf("audio filter: %w", err)
	}
	return t, nil
}

func (t *audioTranscoder) buildGraph(layout astiav.ChannelLayout, sr int) error {
	t.graph = astiav.AllocFilterGraph()
	var err error
	args := astiav.FilterArgs{
		"channel_layout": layout.String(),
		"sample_fmt":     t.dec.SampleFormat().Name(),
		"sample_rate":    strconv.Itoa(sr),
		"time_base":      t.tb.String(),
	}
	if t.src, err = t.graph.NewFilterContext(astiav.FindFilterByName("abuffer"), "in", args); err != nil {
		return err
	}
	if t.sink, err = t.graph.NewFilterContext(astiav.FindFilterByName("abuffersink"), "out", nil); err != nil {
		return err
	}
	outs, ins := astiav.AllocFilterInOut(), astiav.AllocFilterInOut()
	defer outs.Free()
	defer ins.Free()
	outs.SetName("in")
	outs.SetFilterContext(t.src)
	outs.SetPadIdx(0)
	outs.SetNext(nil)
	ins.SetName("out")
	ins.SetFilterContext(t.sink)
	ins.SetPadIdx(0)
	ins.SetNext(nil)
	spec := fmt.Sprintf("aformat=sample_fmts=fltp:channel_layouts=%s:sample_rates=%d,asetnsamples=n=%d:p=0",
		layout.String(), sr, max(t.enc.FrameSize(), 1))
	if err := t.graph.Parse(spec, ins, outs); err != nil {
		return err
	}
	return t.graph.Configure()
}

// send decodes pkt (nil flushes) and writes what the encoder produces.
func (t *audioTranscoder) send(pkt *astiav.Packet, inTB astiav.Rational, oc *astiav.FormatContext) error {
	if err := t.dec.SendPacket(pkt); err != nil && !errors.Is(err, astiav.ErrEof) {
		if pkt != nil { // a corrupt audio packet is skipped, as players do
			return nil
		}
		return err
	}
	for {
		err := t.dec.ReceiveFrame(t.frame)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return err
		}
		if pts := bestEffortPts(t.frame); pts != astiav.NoPtsValue {
			t.frame.SetPts(astiav.RescaleQ(pts, inTB, t.tb))
		}
		err = t.src.BuffersrcAddFrame(t.frame, astiav.NewBuffersrcFlags())
		t.frame.Unref()
		if err != nil {
			return err
		}
		if err := t.pull(oc); err != nil {
			return err
		}
	}
}

// pull moves filtered frames into the encoder and encoded packets into the muxer.
func (t *audioTranscoder) pull(oc *astiav.FormatContext) error {
	for {
		err := t.sink.BuffersinkGetFrame(t.filtered, astiav.NewBuffersinkFlags())
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return err
		}
		err = t.enc.SendFrame(t.filtered)
		t.filtered.Unref()
		if err != nil {
			return err
		}
		if err := t.write(oc); err != nil {
			return err
		}
	}
}

func (t *audioTranscoder) write(oc *astiav.FormatContext) error {
	for {
		err := t.enc.ReceivePacket(t.pkt)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return err
		}
		t.pkt.SetStreamIndex(t.ost.Index())
		t.pkt.RescaleTs(t.tb, t.ost.TimeBase())
		if err := oc.WriteInterleavedFrame(t.pkt); err != nil {
			return err
		}
	}
}

func (t *audioTranscoder) flush(oc *astiav.FormatContext) error {
	if err := t.send(nil, t.tb, oc); err != nil {
		return err
	}
	if err := t.src.BuffersrcAddFrame(nil, astiav.NewBuffersrcFlags()); err != nil {
		return err
	}
	if err := t.pull(oc); err != nil {
		return err
	}
	if err := t.enc.SendFrame(nil); err != nil {
		return err
	}
	return t.write(oc)
}

func (t *audioTranscoder) close() {
	if t.graph != nil {
		t.graph.Free()
	}
	for _, c := range []*astiav.CodecContext{t.dec, t.enc} {
		if c != nil {
			c.Free()
		}
	}
	t.frame.Free()
	t.filtered.Free()
	t.pkt.Free()
}
