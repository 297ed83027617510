package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"
	"go.uber.org/zap"
)

// item is one unit of work for an output: a model result or another stream's packet.
type item struct {
	frame  *frameJob
	pkt    *astiav.Packet
	stream int
}

// sideStream is a non-video input stream carried into an output: copied, or re-encoded by tr.
type sideStream struct {
	ost  *astiav.Stream
	inTB astiav.Rational
	tr   *audioTranscoder
}

// output is one encoder + muxer, fed through ch.
type output struct {
	spec        Output
	name        string
	file        *File // a local file; nil for stdout and URLs
	oc          *astiav.FormatContext
	ownPb       bool                 // oc's I/O is opened (openPb) and closed here
	intr        astiav.IOInterrupter // oc's interrupt callback: ends a blocked network write
	enc         *astiav.CodecContext
	vst         *astiav.Stream
	inTB, encTB astiav.Rational
	sc          *scaler
	rgb, yuv    *astiav.Frame
	pkt         *astiav.Packet
	sides       map[int]*sideStream
	durs        map[int64]int64 // encoder pts → frame duration (libx264 leaves packet durations 0)
	tsOffset    int64           // added to timestamps (encTB) in a segment file
	segURL      string          // a segment file whose header is not written yet
	ch          chan item
	log         *zap.Logger
	post        *graph          // the output's chain after the model; nil without one
	postIn      *astiav.Frame   // a model result on its way into post
	postDur     int64           // one frame at post's rate, in its time base
	inputEnd    func() int64    // where the input ends, in the model's time base (once read)
	live        bool            // a realtime run: the encoder holds no frames back
	written     int             // video packets written
	stop        context.Context // the run's stop request (set by run)
	inIO        atomic.Int64    // when the current muxer call began (unix ns); 0 outside one
	abandoned   atomic.Bool     // given up on after a stop (Pipeline.AbandonStalled): not kept
}

// muxing runs f, a muxer call that may block on the output's I/O (a receiver that stopped
// reading), marked for stalledFor.
func (w *output) muxing(f func() error) error {
	w.inIO.Store(time.Now().UnixNano())
	defer w.inIO.Store(0)
	return f()
}

// interruptible reports whether a blocked write of the output's can be interrupted (intr): a
// network protocol's (the file protocol's write(2) to a FIFO or pipe cannot be).
func (w *output) interruptible() bool { return w.intr != nil && IsNetwork(w.spec.URL) }

// stalledFor is how long the output has been blocked in one muxer call (0: it is not in one).
func (w *output) stalledFor() time.Duration {
	if t := w.inIO.Load(); t != 0 {
		return time.Since(time.Unix(0, t))
	}
	return 0
}

// newOutput opens one output: its file (planned by PlanFiles; nil for stdout and URLs),
// encoder, streams and container header.
func newOutput(in *input, spec Output, file *File, o Options) (_ *output, err error) {
	w := &output{spec: spec, name: spec.URL, file: file, sides: map[int]*sideStream{}, durs: map[int64]int64{},
		ch: make(chan item, o.Queue+8), log: o.Log.With(zap.String("output", spec.URL)), live: o.Realtime}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	ow, oh, err := spec.Target.Size(in.w, in.h)
	if err != nil {
		return nil, errf(KindUsage, "%s: %v", spec.URL, err)
	}
	url, format, err := containerFormat(spec)
	if err != nil {
		return nil, err
	}
	if spec.VF != "" {
		if ow, oh, err = w.setPost(in, spec.VF, ow, oh); err != nil {
			return nil, err
		}
	}
	if file != nil {
		if _, err := file.Create(); err != nil {
			return nil, err
		}
		url = file.URL()
	}
	if w.oc, err = astiav.AllocOutputFormatContext(nil, format, url); err != nil || w.oc == nil {
		return nil, errf(KindUsage, "%s: unknown container format %q", spec.URL, format)
	}
	if err := w.openEncoder(in, ow, oh); err != nil {
		return nil, err
	}
	if o.Segment != nil {
		if err := w.segmentContainer(url, o.Segment); err != nil {
			return nil, err
		}
	} else {
		w.addSideStreams(in)
		copyMetadata(w.oc, in.fc)
	}
	if w.segURL == "" { // a segment's waits for its first packet (segmentHeader)
		if err := w.writeHeader(url); err != nil {
			return nil, err
		}
	}
	w.pkt = astiav.AllocPacket()
	w.log.Debug("output", zap.String("container", w.oc.OutputFormat().Name()),
		zap.String("codec", w.enc.String()), zap.Int("width", ow), zap.Int("height", oh))
	return w, nil
}

// containerFormat is the URL FFmpeg writes an output to and its muxer's name.
func containerFormat(spec Output) (url, format string, err error) {
	url, format = spec.URL, spec.Format
	if url == "-" {
		url = "pipe:1"
		if format == "" {
			format = "nut"
		}
	}
	if format == "" {
		format = streamFormat(url)
	}
	url = outputURL(url)
	if format == "" {
		format = guessFormat(url) // from the name given, not the temporary one
	}
	if format == "" {
		return "", "", errf(KindUsage, "%s: cannot tell the container from the name (use a known extension, or --format)", spec.URL)
	}
	ofmt := astiav.FindOutputFormat(format)
	if ofmt == nil {
		return "", "", errf(KindUsage, "%s: unknown container format %q", spec.URL, format)
	}
	// A muxer that does its own I/O (hls, dash, segment, tee, image2, null, …) opens files named
	// after the URL, or none: whatever the URL, it would write past every check on outputs (tee:
	// "udp://…|in.mp4" replaced the input). Only rtsp and sap are network clients of their own URLs.
	if spec.rend == nil && ofmt.Flags().Has(astiav.IOFormatFlagNofile) && !(ofmt.Name() == scheme(url) && nofileClients[ofmt.Name()]) {
		if ofmt.Name() == "hls" {
			return "", "", errf(KindUsage, "%s: the hls muxer writes a playlist and segment files, not one output (for HLS use --out hls:DIR)", spec.URL)
		}
		return "", "", errf(KindUsage, "%s: the %s muxer does not write one output file or stream (use a single-file container such as mkv, mp4 or nut)", spec.URL, format)
	}
	if err := checkPort(url, true); err != nil {
		return "", "", errf(KindUsage, "%s: %v", spec.URL, err)
	}
	return url, format, nil
}

// nofileClients are the muxers with their own I/O that stream to a URL of their own scheme.
var nofileClients = map[string]bool{"rtsp": true, "sap": true}

// writeHeader opens url for writing (unless the muxer does its own I/O) and writes the header.
func (w *output) writeHeader(url string) (err error) {
	if !w.oc.OutputFormat().Flags().Has(astiav.IOFormatFlagNofile) {
		w.intr = w.oc.SetInterruptCallback()
		if err := openPb(w.oc, url); err != nil {
			return errf(KindFailure, "%s: cannot open for writing: %v", w.name, err)
		}
		w.ownPb = true
	}
	opts := astiav.NewDictionary()
	defer opts.Free()
	if w.spec.rend != nil {
		w.spec.rend.muxerOptions(opts)
	}
	if w.live {
		liveMuxerOptions(w.oc.OutputFormat().Name(), opts)
	}
	if name := w.oc.OutputFormat().Name(); w.file != nil && !w.file.direct() && (strings.Contains(name, "mp4") || name == "mov") {
		opts.Set("movflags", "+faststart", astiav.NewDictionaryFlags())
	}
	mark := avMark()
	if err := w.oc.WriteHeader(opts); err != nil {
		why, kind := explain(err, mark), KindFailure
		for msg, hint := range headerUsage {
			if strings.Contains(why, msg) {
				why, kind = why+hint, KindUsage
			}
		}
		return errf(kind, "%s: cannot write the header: %s", w.name, why)
	}
	return nil
}

// headerUsage are FFmpeg's reasons for refusing a header that lie in the settings (a usage
// error), each with a hint: an option value out of range, a container that must seek written to
// a pipe or FIFO.
var headerUsage = map[string]string{
	"Error setting option":                 "",
	"does not support non seekable output": " (a pipe or FIFO needs a streamable container such as mkv, nut or mpegts)",
}

// openEncoder sets up the video encoder and its stream.
func (w *output) openEncoder(in *input, ow, oh int) error {
	spec := w.spec
	var codec *astiav.Codec
	switch {
	case spec.Codec != "":
		if codec = astiav.FindEncoderByName(spec.Codec); codec == nil || codec.ID() == astiav.CodecIDNone {
			return errf(KindUsage, "%s: unknown video encoder %q", spec.URL, spec.Codec)
		}
	case astiav.FindEncoderByName("libx264") != nil && muxerAccepts(w.oc, astiav.CodecIDH264):
		codec = astiav.FindEncoderByName("libx264")
	default:
		codec = astiav.FindEncoder(defaultVideoCodec(w.oc))
	}
	if codec == nil {
		return errf(KindUsage, "%s: container %s has no usable video encoder", spec.URL, w.oc.OutputFormat().Name())
	}
	if !muxerAccepts(w.oc, codec.ID()) {
		return errf(KindUsage, "%s: container %s cannot hold %s video", spec.URL, w.oc.OutputFormat().Name(), codec.Name())
	}
	pf, err := pickPixFmt(codec, spec.PixFmt)
	if err != nil {
		return errf(KindUsage, "%s: %v", spec.URL, err)
	}
	if cw, ch := chromaShift(pf); ow%(1<<cw) != 0 || oh%(1<<ch) != 0 {
		return errf(KindUsage, "%s: %dx%d does not fit %s (needs sizes divisible by %d×%d); use an even WxH or --pix-fmt yuv444p",
			spec.URL, ow, oh, pf.Name(), 1<<cw, 1<<ch)
	}
	fps := w.srcFPS(in)
	cp := in.vst.CodecParameters()
	w.inTB = w.srcTB(in)
	// open opens a fresh encoder with time base tb and options opts (a failed open leaves a
	// context that cannot be reused); what the encoder printed on failure explains it.
	open := func(tb astiav.Rational, opts map[string]string) (why string, err error) {
		if w.enc != nil {
			w.enc.Free()
		}
		w.enc = astiav.AllocCodecContext(codec)
		w.enc.SetWidth(ow)
		w.enc.SetHeight(oh)
		w.enc.SetPixelFormat(pf)
		w.enc.SetSampleAspectRatio(w.srcSAR(in, ow, oh))
		w.enc.SetFramerate(fps)
		setEncoderColor(w.enc, cp)
		if w.oc.OutputFormat().Flags().Has(astiav.IOFormatFlagGlobalheader) {
			w.enc.SetFlags(w.enc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
		}
		if spec.Bitrate > 0 {
			w.enc.SetBitRate(spec.Bitrate)
		}
		w.enc.SetTimeBase(tb)
		d := astiav.NewDictionary()
		defer d.Free()
		for k, v := range opts {
			d.Set(k, v, astiav.NewDictionaryFlags())
		}
		mark := avMark()
		printed, err := quietStderr(func() error { return w.enc.Open(codec, d) })
		if err != nil {
			why = explain(err, mark)
			if printed != "" { // the library's own words are the most specific
				lines := strings.Split(printed, "\n")
				why = strings.TrimSpace(lines[len(lines)-1])
			}
			return why, err
		}
		if printed != "" {
			w.log.Debug("encoder output", zap.String("text", printed))
		}
		if left := dictKeys(d); len(left) > 0 {
			w.log.Info("encoder ignores options", zap.String("codec", codec.Name()), zap.Strings("options", left))
		}
		return "", nil
	}
	// Keep the input's time base so timestamps (VFR included) pass through unchanged; fall
	// back to 1/fps for encoders that refuse it (e.g. MPEG-4 part 2 above 65535).
	opts := encoderOptions(spec)
	if w.live {
		liveEncoderOptions(codec.Name(), opts)
	}
	w.encTB = w.inTB
	why, err := open(w.encTB, opts)
	if err != nil {
		if _, plain := open(w.encTB, nil); plain == nil { // an option is wrong: name it
			for _, k := range slices.Sorted(maps.Keys(opts)) {
				if why, err := open(w.encTB, map[string]string{k: opts[k]}); err != nil {
					return errf(KindUsage, "%s: %s does not take %s %q: %s", spec.URL, codec.Name(), k, opts[k], why)
				}
			}
		} else if tb := astiav.NewRational(fps.Den(), fps.Num()); tb != w.inTB {
			if _, retry := open(tb, opts); retry == nil {
				w.encTB, err = tb, nil
			}
		}
	}
	if err != nil {
		return errf(KindUsage, "%s: cannot open encoder %s (%s %dx%d): %s", spec.URL, codec.Name(), pf.Name(), ow, oh, why)
	}
	w.vst = w.oc.NewStream(nil)
	if err := w.vst.CodecParameters().FromCodecContext(w.enc); err != nil {
		return errf(KindFailure, "%s: %v", spec.URL, err)
	}
	w.vst.SetTimeBase(w.encTB)
	w.videoInfo(in)
	if w.sc, err = newScaler(ow, oh, astiav.PixelFormatGbrpf32Le, ow, oh, pf, in.space, 1, btoi(cp.ColorRange() == astiav.ColorRangeJpeg)); err != nil {
		return errf(KindUsage, "%s: %v", spec.URL, err)
	}
	if w.rgb, err = allocVideoFrame(ow, oh, astiav.PixelFormatGbrpf32Le); err != nil {
		return errf(KindFailure, "%v", err)
	}
	if w.yuv, err = allocVideoFrame(ow, oh, pf); err != nil {
		return errf(KindFailure, "%v", err)
	}
	return nil
}

// videoInfo gives the output's video stream the input's frame rates, metadata, disposition
// and rotation.
func (w *output) videoInfo(in *input) {
	w.vst.SetAvgFrameRate(in.vst.AvgFrameRate())
	w.vst.SetRFrameRate(in.vst.RFrameRate())
	copyStreamInfo(w.vst, in.vst)
	if m := in.vst.SideData(astiav.PacketSideDataTypeDisplaymatrix); len(m) > 0 {
		if err := w.vst.AddSideData(astiav.PacketSideDataTypeDisplaymatrix, m); err != nil {
			w.log.Warn("rotation not kept", zap.Error(err))
		}
	}
}

// encoderOptions are the encoder's private options from the output's settings.
func encoderOptions(spec Output) map[string]string {
	opts := map[string]string{}
	if spec.Bitrate <= 0 && spec.CRF >= 0 {
		opts["crf"] = strconv.Itoa(spec.CRF)
	}
	if spec.Preset != "" {
		opts["preset"] = spec.Preset
	}
	if spec.rend != nil {
		spec.rend.encoderOptions(opts)
	}
	return opts
}

func dictKeys(d *astiav.Dictionary) []string {
	var keys []string
	var e *astiav.DictionaryEntry
	for {
		if e = d.Get("", e, astiav.NewDictionaryFlags(astiav.DictionaryFlagIgnoreSuffix)); e == nil {
			return keys
		}
		keys = append(keys, e.Key()+"="+e.Value())
	}
}

// pickPixFmt returns the requested pixel format, else yuv420p, else the encoder's first.
func pickPixFmt(codec *astiav.Codec, want string) (astiav.PixelFormat, error) {
	supported := codec.PixelFormats()
	ok := func(pf astiav.PixelFormat) bool { return len(supported) == 0 || slices.Contains(supported, pf) }
	if want != "" {
		pf := astiav.FindPixelFormatByName(want)
		if pf == astiav.PixelFormatNone {
			return pf, fmt.Errorf("unknown pixel format %q", want)
		}
		if !ok(pf) {
			var names []string
			for _, s := range supported {
				names = append(names, s.Name())
			}
			return pf, fmt.Errorf("encoder %s does not take %s (it takes %s)", codec.Name(), want, strings.Join(names, ", "))
		}
		return pf, nil
	}
	if ok(astiav.PixelFormatYuv420P) {
		return astiav.PixelFormatYuv420P, nil
	}
	return supported[0], nil
}

// outputSAR keeps the input's display aspect ratio (as FFmpeg's scale filter does).
func outputSAR(in *input, ow, oh int) astiav.Rational {
	sar := in.sampleAspect()
	n, d := int64(sar.Num()), int64(sar.Den())
	if n <= 0 || d <= 0 {
		n, d = 1, 1
	}
	n, d = n*int64(in.w)*int64(oh), d*int64(in.h)*int64(ow)
	g := gcd(n, d)
	n, d = n/g, d/g
	if n == d {
		return astiav.NewRational(1, 1)
	}
	for n > 1<<30 || d > 1<<30 {
		n, d = n>>1, d>>1
	}
	return astiav.NewRational(int(n), int(d))
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// addSideStreams maps the input's audio and subtitle streams: copied when the container
// takes the codec, audio re-encoded to AAC otherwise, anything else dropped with a warning.
func (w *output) addSideStreams(in *input) {
	for _, ist := range in.fc.Streams() {
		if ist.Index() == in.vst.Index() {
			continue
		}
		cp := ist.CodecParameters()
		mt := cp.MediaType()
		if mt != astiav.MediaTypeAudio && mt != astiav.MediaTypeSubtitle {
			w.log.Info("stream not carried", zap.Int("stream", ist.Index()), zap.String("type", mt.String()))
			continue
		}
		if muxerTakes(w.oc, cp) {
			ost := w.oc.NewStream(nil)
			if err := cp.Copy(ost.CodecParameters()); err != nil {
				w.log.Warn("stream not carried", zap.Int("stream", ist.Index()), zap.Error(err))
				continue
			}
			ost.CodecParameters().SetCodecTag(0)
			ost.SetTimeBase(ist.TimeBase())
			copyStreamInfo(ost, ist)
			w.sides[ist.Index()] = &sideStream{ost: ost, inTB: ist.TimeBase()}
			continue
		}
		if mt == astiav.MediaTypeAudio {
			tr, err := newAudioTranscoder(ist, w.oc)
			if err == nil {
				copyStreamInfo(tr.ost, ist)
				w.sides[ist.Index()] = &sideStream{ost: tr.ost, inTB: ist.TimeBase(), tr: tr}
				w.log.Info("audio re-encoded to AAC", zap.Int("stream", ist.Index()), zap.String("from", cp.CodecID().Name()))
				continue
			}
			w.log.Warn("audio stream dropped", zap.Int("stream", ist.Index()), zap.Error(err))
			continue
		}
		w.log.Warn("subtitle stream dropped: the container cannot hold it", zap.Int("stream", ist.Index()),
			zap.String("codec", cp.CodecID().Name()))
	}
}

func (w *output) carries(stream int) bool { return w.sides[stream] != nil }

// send queues it unless the run is aborted (then it frees it and returns false).
func (w *output) send(abort context.Context, it item) bool {
	select {
	case w.ch <- it:
		return true
	case <-abort.Done():
		if it.pkt != nil {
			it.pkt.Free()
		}
		return false
	}
}

// run encodes and muxes until ch closes, then flushes and writes the trailer.
func (w *output) run(stop, abort context.Context) error {
	w.stop = stop
	guard := func(write func() error) error { return write() }
	if w.spec.rend != nil { // an aborted ladder's files are removed: nothing may be written after
		guard = w.spec.rend.l.guard
	}
	for it := range w.ch {
		if abort.Err() == nil {
			err := guard(func() error {
				if it.frame != nil {
					return w.encode(it.frame)
				}
				return w.writeSide(it)
			})
			if err != nil {
				return errf(KindFailure, "%s: %v", w.name, err)
			}
		}
		if it.pkt != nil {
			it.pkt.Free()
		}
	}
	if abort.Err() != nil {
		return nil
	}
	return guard(w.flush)
}

// flush drains the output's filter chain and encoder and writes the trailer.
func (w *output) flush() error {
	if w.post != nil {
		if err := w.filterEncode(nil); err != nil {
			return errf(KindFailure, "%s: %v", w.name, err)
		}
	}
	if err := w.enc.SendFrame(nil); err != nil {
		return errf(KindFailure, "%s: flushing encoder: %v", w.name, err)
	}
	if err := w.drain(); err != nil {
		return errf(KindFailure, "%s: %v", w.name, err)
	}
	return w.finish()
}

// finish flushes the audio encoders and writes the trailer.
func (w *output) finish() error {
	if err := w.segmentHeader(nil); err != nil {
		return err
	}
	for _, s := range w.sides {
		if s.tr != nil {
			if err := w.muxing(func() error { return s.tr.flush(w.oc) }); err != nil {
				return errf(KindFailure, "%s: audio: %v", w.name, err)
			}
		}
	}
	if err := w.muxing(w.oc.WriteTrailer); err != nil {
		return errf(KindFailure, "%s: writing the trailer: %v", w.name, err)
	}
	if w.ownPb {
		drainBeforeClose(w.spec.URL)
		w.ownPb = false
		if err := w.muxing(func() error { return closePb(w.oc) }); err != nil {
			return errf(KindFailure, "%s: closing: %v", w.name, err)
		}
	}
	return nil
}

func (w *output) encode(j *frameJob) error {
	if w.post != nil {
		return w.filterEncode(j)
	}
	writeRGB(w.rgb, j.img.Pix)
	return w.encodeRGB(w.rgb, j.pts, j.dur)
}

// encodeRGB converts a GBRPF32 frame to the encoder's format and encodes it (pts and dur in
// inTB).
func (w *output) encodeRGB(rgb *astiav.Frame, pts, dur int64) error {
	if err := makeWritable(w.yuv); err != nil {
		return err
	}
	if err := w.sc.scale(rgb, w.yuv); err != nil {
		return err
	}
	pts = astiav.RescaleQ(pts, w.inTB, w.encTB)
	w.durs[pts] = max(astiav.RescaleQ(dur, w.inTB, w.encTB), 1)
	w.yuv.SetPts(pts)
	w.yuv.SetPictureType(astiav.PictureTypeNone)
	if w.spec.rend != nil && w.spec.rend.keyframe(pts, w.encTB) {
		w.yuv.SetPictureType(astiav.PictureTypeI)
	}
	if err := w.enc.SendFrame(w.yuv); err != nil {
		return fmt.Errorf("encoding: %w", err)
	}
	return w.drain()
}

func (w *output) drain() error {
	for {
		err := w.enc.ReceivePacket(w.pkt)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("encoding: %w", err)
		}
		if d, ok := w.durs[w.pkt.Pts()]; ok {
			if w.pkt.Duration() <= 0 {
				w.pkt.SetDuration(d)
			}
			delete(w.durs, w.pkt.Pts())
		}
		w.pkt.SetStreamIndex(w.vst.Index())
		if err := w.segmentHeader(w.pkt); err != nil {
			return err
		}
		shiftTs(w.pkt, w.tsOffset)
		w.pkt.RescaleTs(w.encTB, w.vst.TimeBase())
		if w.spec.rend != nil {
			w.spec.rend.written(w.pkt, w.vst.TimeBase())
		}
		if err := w.muxing(func() error { return w.oc.WriteInterleavedFrame(w.pkt) }); err != nil {
			return fmt.Errorf("writing: %w", err)
		}
		w.written++
	}
}

// emptyError says why the output holds no video once its writer is done; nil when it has some.
func (w *output) emptyError() error {
	switch {
	case w.written > 0:
		return nil
	case w.post != nil:
		return errf(KindUsage, "%s: the filter chain passed no frames", w.name)
	}
	return errf(KindFailure, "%s: no video frame was written", w.name)
}

func (w *output) writeSide(it item) error {
	s := w.sides[it.stream]
	if s.tr != nil {
		return w.muxing(func() error { return s.tr.send(it.pkt, s.inTB, w.oc) })
	}
	it.pkt.SetStreamIndex(s.ost.Index())
	it.pkt.RescaleTs(s.inTB, s.ost.TimeBase())
	it.pkt.SetPos(-1)
	if err := w.muxing(func() error { return w.oc.WriteInterleavedFrame(it.pkt) }); err != nil {
		return fmt.Errorf("writing stream %d: %w", it.stream, err)
	}
	return nil
}

// close frees everything and removes an uncommitted temporary file.
func (w *output) close() {
	for _, s := range w.sides {
		if s.tr != nil {
			s.tr.close()
		}
	}
	w.sc.free()
	w.post.free()
	for _, f := range []*astiav.Frame{w.rgb, w.yuv, w.postIn} {
		if f != nil {
			f.Free()
		}
	}
	if w.pkt != nil {
		w.pkt.Free()
	}
	if w.enc != nil {
		w.enc.Free()
	}
	if w.ownPb {
		closePb(w.oc)
	}
	if w.oc != nil {
		w.oc.Free()
	}
	if w.file != nil {
		w.file.Discard()
	}
}
