package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/asticode/go-astiav"
	"go.uber.org/zap"

	"github.com/hitsr/hitsr/imageio"
)

// input is the demuxer and the video decoder.
type input struct {
	name  string
	fc    *astiav.FormatContext
	intr  astiav.IOInterrupter
	vst   *astiav.Stream
	dec   *astiav.CodecContext
	w, h  int
	space int // YUV matrix (AVColorSpace) used both ways
	full  int // 1 = full-range YUV
	log   *zap.Logger

	sc        *scaler // decoder format → GBRPF32 at w×h, rebuilt when frames change
	rgb       *astiav.Frame
	frameDur  int64 // one frame at fps(), in the stream's time base
	firstPts  int64
	lastPts   int64
	lastDur   int64
	lo, hi    int64          // frames kept: pts in [lo, hi) (a plan's segment; default all)
	past      bool           // a frame at or after hi was decoded: nothing more to keep
	first     *astiav.Packet // read by a segment's seek, not yet processed
	chain     *graph         // --vf before hitsr; nil without one
	streamDur int64          // one frame at the stream's rate, in its time base (frameDur before chain)
	stall     *stallWatch    // a network input's watch for a sender gone quiet; nil if none
	decoded   int            // frames out of the decoder (within the segment), before the chain
}

// defaultFPS is the frame rate of a stream that states none (FFmpeg's default for raw streams).
var defaultFPS = astiav.NewRational(25, 1)

var rePictureSize = regexp.MustCompile(`[Pp]icture size (\d+) ?x ?(\d+) (is invalid|exceeds)`)

// explain is the reason for a failed FFmpeg call: FFmpeg's last error message since mark
// (a picture size it refuses stated against the limits), else the error code's text.
func explain(err error, mark uint64) string {
	msg := avErrorSince(mark)
	if msg == "" {
		return err.Error()
	}
	return sizeReason(msg)
}

// sizeReason is FFmpeg's message, or for a picture size it refuses, that size against the limits.
func sizeReason(msg string) string {
	if m := rePictureSize.FindStringSubmatch(msg); m != nil {
		w, _ := strconv.Atoi(m[1])
		h, _ := strconv.Atoi(m[2])
		if err := imageio.CheckSize(w, h); err != nil {
			return err.Error()
		}
	}
	return msg
}

func inputURL(u string) string {
	if u == "-" {
		return "pipe:0"
	}
	return u
}

func openInput(url, format string, log *zap.Logger) (*input, error) {
	return openInputContext(context.Background(), url, format, log)
}

// openInputContext is openInput where cancelling ctx interrupts FFmpeg's blocking opens and
// reads.
func openInputContext(ctx context.Context, url, format string, log *zap.Logger) (*input, error) {
	in := &input{name: url, log: log, firstPts: astiav.NoPtsValue, lastPts: astiav.NoPtsValue, lo: math.MinInt64, hi: math.MaxInt64}
	if url == "" {
		return nil, errf(KindUsage, "no input")
	}
	if err := CheckName(url); err != nil { // also where no output is planned (plan, join's source)
		return nil, err
	}
	var ifmt *astiav.InputFormat
	if format != "" {
		if ifmt = astiav.FindInputFormat(format); ifmt == nil {
			return nil, errf(KindUsage, "unknown input format %q", format)
		}
	}
	if err := checkPort(url, false); err != nil {
		return nil, errf(KindInput, "%s: cannot open: %v", url, err)
	}
	in.fc = astiav.AllocFormatContext()
	in.intr = in.fc.SetInterruptCallback()
	defer context.AfterFunc(ctx, in.interrupt)()
	mark := avMark()
	var opts *astiav.Dictionary
	if IsNetwork(url) { // a live stream is not held back: the frame rate from a few frames, not 20, and at most liveProbe read
		opts = astiav.NewDictionary()
		defer opts.Free()
		opts.Set("fpsprobesize", "3", astiav.NewDictionaryFlags())
		opts.Set("analyzeduration", strconv.FormatInt(liveProbe.Microseconds(), 10), astiav.NewDictionaryFlags())
	}
	if err := in.fc.OpenInput(inputURL(url), ifmt, opts); err != nil {
		in.fc.Free()
		in.fc = nil
		return nil, errf(KindInput, "%s: cannot open: %s", url, explain(err, mark))
	}
	if err := in.fc.FindStreamInfo(nil); err != nil {
		in.close()
		return nil, errf(KindInput, "%s: cannot read stream info: %s", url, explain(err, mark))
	}
	for _, st := range in.fc.Streams() {
		if st.CodecParameters().MediaType() == astiav.MediaTypeVideo && !attachedPic(st) {
			in.vst = st
			break
		}
	}
	if in.vst == nil {
		in.close()
		return nil, errf(KindInput, "%s: no video stream", url)
	}
	cp := in.vst.CodecParameters()
	codec := astiav.FindDecoder(cp.CodecID())
	if cp.CodecID() == astiav.CodecIDNone || codec == nil {
		in.close()
		return nil, errf(KindInput, "%s: unsupported video codec (no decoder in this FFmpeg build)", url)
	}
	in.w, in.h = cp.Width(), cp.Height()
	if in.w <= 0 || in.h <= 0 {
		in.close()
		why := explain(fmt.Errorf("the %s decoder rejected it", codec.Name()), mark)
		return nil, errf(KindInput, "%s: the video size is unknown or invalid (%s)", url, why)
	}
	if err := imageio.CheckSize(in.w, in.h); err != nil {
		in.close()
		return nil, errf(KindInput, "%s: %v", url, err)
	}
	in.dec = astiav.AllocCodecContext(codec)
	if err := cp.ToCodecContext(in.dec); err != nil {
		in.close()
		return nil, errf(KindInput, "%s: decoder parameters: %v", url, err)
	}
	in.dec.SetThreadCount(0)
	if IsNetwork(url) { // frame threads hold frames back (one per thread); slices do not
		in.dec.SetThreadType(astiav.ThreadTypeSlice)
	}
	in.dec.SetTimeBase(in.vst.TimeBase())
	limit := astiav.NewDictionary() // a stream that grows past the limit mid-stream: refused frames, not memory
	defer limit.Free()
	limit.Set("max_pixels", strconv.Itoa(imageio.MaxPixels), astiav.NewDictionaryFlags())
	if err := in.dec.Open(codec, limit); err != nil {
		in.close()
		return nil, errf(KindInput, "%s: cannot open %s decoder: %s", url, codec.Name(), explain(err, mark))
	}
	fps := in.fps()
	in.frameDur = max(astiav.RescaleQ(1, astiav.NewRational(fps.Den(), fps.Num()), in.timeBase()), 1)
	in.space = int(cp.ColorSpace())
	in.full = btoi(cp.ColorRange() == astiav.ColorRangeJpeg)
	log.Debug("input", zap.String("url", url), zap.String("format", in.fc.InputFormat().Name()),
		zap.String("codec", codec.Name()), zap.Int("width", in.w), zap.Int("height", in.h),
		zap.String("pix_fmt", cp.PixelFormat().Name()), zap.Float64("fps", in.fps().Float64()),
		zap.Duration("duration", in.duration()))
	return in, nil
}

func (in *input) close() {
	in.chain.free()
	if in.first != nil {
		in.first.Free()
	}
	in.sc.free()
	if in.rgb != nil {
		in.rgb.Free()
	}
	if in.dec != nil {
		in.dec.Free()
	}
	if in.fc != nil {
		in.fc.CloseInput()
		in.fc.Free()
	}
}

func (in *input) interrupt() { in.intr.Interrupt() }

// timeBase is the time base of the frames the model sees (the stream's, or the chain's).
func (in *input) timeBase() astiav.Rational {
	if in.chain != nil {
		return in.chain.out.tb
	}
	return in.vst.TimeBase()
}

// fps is the frame rate of the frames the model sees: the chain's, the stream's, or FFmpeg's
// guess, else defaultFPS.
func (in *input) fps() astiav.Rational {
	if in.chain != nil && in.chain.out.fps.Num() > 0 && in.chain.out.fps.Den() > 0 {
		return in.chain.out.fps
	}
	if fr := in.fc.GuessFrameRate(in.vst, nil); fr.Num() > 0 && fr.Den() > 0 {
		return fr
	}
	return defaultFPS
}

func (in *input) duration() time.Duration {
	if d := in.fc.Duration(); d > 0 {
		return time.Duration(d) * time.Microsecond
	}
	return 0
}

// frameEstimate is the stream's frame count, else duration × frame rate (0 when unknown).
func (in *input) frameEstimate() int {
	if n := in.vst.NbFrames(); n > 0 {
		return int(n)
	}
	return int(in.duration().Seconds()*in.fps().Float64() + 0.5)
}

// run demuxes until the end (or stop), sends decoded frames to jobs and other streams'
// packets to the outputs that carry them.
func (in *input) run(stop, abort context.Context, jobs chan *frameJob, outs []*output, realtime bool, maxFrames int, st *runStats) error {
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	frame := astiav.AllocFrame()
	defer frame.Free()
	vidx := in.vst.Index()
	decodeErrs := 0    // video packets the decoder refused
	var errMark uint64 // FFmpeg's log at the first frame: errors after it are damage
	var clock mediaClock
	// deliver sends one frame (decoded, or out of the chain) to the model; false: stop.
	deliver := func(f *astiav.Frame) (bool, error) {
		if stop.Err() != nil || maxFrames > 0 && int(st.decoded.Load()) >= maxFrames {
			return false, nil
		}
		j, err := in.toJob(f)
		if err != nil {
			return false, err
		}
		st.decoded.Add(1)
		if realtime {
			// A network input arrives at its sender's pace: holding it back would only keep
			// the backlog buffered while the stream was probed.
			if !IsNetwork(in.name) && !clock.wait(stop, abort, j.pts-j.first, in.timeBase()) {
				return false, nil
			}
			return enqueueFresh(abort, jobs, j, func() {
				if st.dropped.Add(1) == 1 {
					in.log.Warn("realtime: the model (or an output it feeds) is behind the input; dropping frames (policy: the oldest queued when the queue is full)")
				}
			}), nil
		}
		j.queued = time.Now()
		select {
		case jobs <- j:
			return true, nil
		case <-abort.Done():
			return false, nil
		}
	}
	const maxFailedInARow = 64 // frames the decoder refuses in a row (a frame thread's error, a
	// frame past max_pixels) before the input counts as undecodable rather than damaged
	failedInARow := 0
	emit := func() error { // drain the decoder
		for maxFrames <= 0 || int(st.decoded.Load()) < maxFrames {
			err := in.dec.ReceiveFrame(frame)
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				return nil
			}
			if err != nil {
				if failedInARow++; failedInARow > maxFailedInARow {
					return errf(KindInput, "%s: decoding: %s", in.name, explain(err, errMark))
				}
				decodeErrs++ // skipped; warnDamage tells
				continue
			}
			failedInARow = 0
			if pts := bestEffortPts(frame); pts != astiav.NoPtsValue && (pts < in.lo || pts >= in.hi) {
				frame.Unref() // outside the segment: not converted
				if in.past = pts >= in.hi; in.past {
					return nil
				}
				continue
			}
			if in.decoded++; in.decoded == 1 {
				errMark = avMark()
			}
			more, err := in.filter(frame, deliver)
			frame.Unref()
			if err != nil || !more {
				return err
			}
		}
		return nil
	}
	for stop.Err() == nil && abort.Err() == nil && !in.past && (maxFrames <= 0 || int(st.decoded.Load()) < maxFrames) {
		err := in.read(pkt)
		if errors.Is(err, astiav.ErrEof) {
			if IsNetwork(in.name) { // a sender that closed its end: said, as for the other ways a stream ends
				in.log.Info("input: the stream ended (the sender closed it)", zap.String("url", in.name))
			}
			break
		}
		if err != nil && in.stall.ended() { // (the demuxer returns what it held first: MPEG-TS's last PES)
			in.log.Warn("input: no data for the input timeout; the sender is gone: finishing the outputs",
				zap.String("url", in.name), zap.Duration("timeout", in.stall.timeout))
			break
		}
		in.stall.packet()
		if err != nil {
			switch {
			case peerClosed(in.name, err):
				in.log.Info("input: the connection closed", zap.String("url", in.name))
			case stop.Err() == nil && abort.Err() == nil:
				in.log.Warn("input ended early", zap.String("url", in.name), zap.Error(err))
			}
			break
		}
		if pkt.StreamIndex() != vidx {
			for _, w := range outs {
				if w.carries(pkt.StreamIndex()) && !w.send(abort, item{pkt: pkt.Clone(), stream: pkt.StreamIndex()}) {
					pkt.Unref()
					return nil
				}
			}
			pkt.Unref()
			continue
		}
		err = in.dec.SendPacket(pkt)
		pkt.Unref()
		if err != nil && !errors.Is(err, astiav.ErrEagain) {
			decodeErrs++ // skipped; warnDamage tells
			continue
		}
		if err := emit(); err != nil {
			return err
		}
	}
	if abort.Err() != nil || in.past {
		return nil
	}
	if err := in.dec.SendPacket(nil); err != nil && !errors.Is(err, astiav.ErrEof) {
		decodeErrs++ // a frame thread's last error: what it still holds is drained below
	}
	if err := emit(); err != nil || stop.Err() != nil || abort.Err() != nil {
		return err
	}
	in.warnDamage(decodeErrs, errMark, maxFrames <= 0 || int(st.decoded.Load()) < maxFrames)
	_, err := in.filter(nil, deliver)
	return err
}

// warnDamage logs, once the input is read, that it was damaged: the decoder refused packets,
// FFmpeg reported errors after the first frame (a demuxer resyncing past garbage, a decoder
// concealing), or, read to its end (whole), it gave fewer frames than its container announced.
func (in *input) warnDamage(refused int, mark uint64, whole bool) {
	errs := 0
	if in.decoded > 0 {
		errs = int(avMark() - mark)
	}
	announced := int(in.vst.NbFrames())
	short := whole && in.lo == math.MinInt64 && in.hi == math.MaxInt64 && in.decoded < announced
	if refused == 0 && errs == 0 && !short {
		return
	}
	fields := []zap.Field{zap.String("url", in.name), zap.Int("frames", in.decoded), zap.Int("refused_packets", refused), zap.Int("ffmpeg_errors", errs)}
	if announced > 0 {
		fields = append(fields, zap.Int("announced", announced))
	}
	if errs > 0 {
		fields = append(fields, zap.String("last_error", avErrorSince(mark)))
	}
	if msg := avSizeRefusedSince(mark); msg != "" { // frames past the size limit are refused, not decoded
		fields = append(fields, zap.String("refused_size", sizeReason(msg)))
	}
	in.log.Warn("input damaged: frames were lost or concealed while decoding", fields...)
}

// toJob converts a decoded frame to planar RGB at the stream's size with strictly increasing
// timestamps.
func (in *input) toJob(f *astiav.Frame) (*frameJob, error) {
	if in.sc == nil || in.sc.sw != f.Width() || in.sc.sh != f.Height() || in.sc.sf != f.PixelFormat() {
		if in.sc != nil && in.rgb != nil {
			in.log.Warn("input frames changed size or format mid-stream; rescaling to the first size",
				zap.Int("width", f.Width()), zap.Int("height", f.Height()))
		}
		in.sc.free()
		space, full := frameColor(f)
		if space == int(astiav.ColorSpaceUnspecified) {
			space = in.space
		}
		sc, err := newScaler(f.Width(), f.Height(), f.PixelFormat(), in.w, in.h, astiav.PixelFormatGbrpf32Le, space, full, 1)
		if err != nil {
			return nil, errf(KindInput, "%s: %v", in.name, err)
		}
		in.sc = sc
		if in.rgb == nil {
			if in.rgb, err = allocVideoFrame(in.w, in.h, astiav.PixelFormatGbrpf32Le); err != nil {
				return nil, errf(KindFailure, "%v", err)
			}
		}
	}
	if err := in.sc.scale(f, in.rgb); err != nil {
		return nil, errf(KindFailure, "%v", err)
	}
	img := imageio.New(in.w, in.h, 3)
	readRGB(in.rgb, img.Pix)
	// Frames without a timestamp (raw streams) follow the previous one by its duration;
	// frames without a duration last one frame at the stream's rate.
	pts, dur := in.frameTimes(f)
	if dur <= 0 {
		dur = in.frameDur
	}
	switch {
	case pts == astiav.NoPtsValue && in.lastPts == astiav.NoPtsValue:
		pts = 0
	case pts == astiav.NoPtsValue:
		pts = in.lastPts + in.lastDur
	case in.lastPts != astiav.NoPtsValue && pts <= in.lastPts:
		in.log.Debug("non-increasing timestamp bumped", zap.Int64("pts", pts), zap.Int64("prev", in.lastPts))
		pts = in.lastPts + 1
	}
	if in.firstPts == astiav.NoPtsValue {
		in.firstPts = pts
	}
	in.lastPts, in.lastDur = pts, dur
	return &frameJob{img: img, pts: pts, dur: dur, first: in.firstPts, key: f.KeyFrame()}, nil
}

// mediaClock paces realtime reading to the input's timestamps (as ffmpeg -re): a frame is
// released no earlier than its media time after the first. A live source that arrives late
// is never held back.
type mediaClock struct{ start time.Time }

// wait sleeps until media time pts (in tb) is due; false when stop or abort ends it first.
func (c *mediaClock) wait(stop, abort context.Context, pts int64, tb astiav.Rational) bool {
	if c.start.IsZero() {
		c.start = time.Now()
	}
	if tb.Den() <= 0 || pts <= 0 {
		return true
	}
	due := c.start.Add(time.Duration(float64(pts) * tb.Float64() * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop.Done():
	case <-abort.Done():
	}
	return false
}
