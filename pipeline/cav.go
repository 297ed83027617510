package pipeline

// The few libav calls go-astiav v0.16.0 does not wrap: colour-aware swscale, frame pixel
// access, make-writable, timestamps, dictionary copies and codec/colour fields.

/*
#cgo pkg-config: libavformat libavcodec libavutil libswscale
#include <stdlib.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

static struct SwsContext *hs_sws(int sw, int sh, int sf, int dw, int dh, int df,
                                 int srcCS, int srcFull, int dstCS, int dstFull) {
	int flags = SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP;
	struct SwsContext *c = sws_getContext(sw, sh, sf, dw, dh, df, flags, NULL, NULL, NULL);
	if (c) sws_setColorspaceDetails(c, sws_getCoefficients(srcCS), srcFull,
	                                sws_getCoefficients(dstCS), dstFull, 0, 1 << 16, 1 << 16);
	return c;
}
static int hs_scale(struct SwsContext *c, AVFrame *src, AVFrame *dst) {
	return sws_scale(c, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
	                 dst->data, dst->linesize);
}
static int64_t hs_best_ts(AVFrame *f) { return f->best_effort_timestamp; }
static int64_t hs_pkt_duration(AVFrame *f) { return f->pkt_duration; }
static int hs_colorspace(AVFrame *f) { return f->colorspace; }
static int hs_color_range(AVFrame *f) { return f->color_range; }
static uint8_t *hs_plane(AVFrame *f, int i) { return f->data[i]; }
static void hs_chroma_shift(int pf, int *w, int *h) {
	if (av_pix_fmt_get_chroma_sub_sample(pf, w, h) < 0) { *w = 0; *h = 0; }
}
static void hs_set_color(AVCodecContext *e, int spc, int prim, int trc, int range) {
	e->colorspace = spc; e->color_primaries = prim; e->color_trc = trc; e->color_range = range;
}
static int hs_query_codec(AVFormatContext *oc, int id) {
	return avformat_query_codec(oc->oformat, id, FF_COMPLIANCE_NORMAL);
}
// hs_header_ok writes a header for one stream of codec id (with the parameters par, if any) into
// memory: whether the container takes it.
static int hs_header_ok(AVFormatContext *like, int id, const AVCodecParameters *par) {
	AVFormatContext *oc = NULL;
	uint8_t *buf = NULL;
	int ok = 0;
	if (like->oformat->flags & AVFMT_NOFILE)
		return 1;
	if (avformat_alloc_output_context2(&oc, like->oformat, NULL, NULL) < 0)
		return 0;
	AVStream *st = avformat_new_stream(oc, NULL);
	if (st && avio_open_dyn_buf(&oc->pb) >= 0) {
		if (par && avcodec_parameters_copy(st->codecpar, par) >= 0) {
			st->codecpar->codec_tag = 0;
		} else {
			st->codecpar->codec_type = avcodec_get_type(id);
			st->codecpar->codec_id = id;
			st->codecpar->width = 64;
			st->codecpar->height = 64;
			st->codecpar->sample_rate = 48000;
			av_channel_layout_default(&st->codecpar->ch_layout, 2);
		}
		st->time_base = (AVRational){1, 25};
		ok = avformat_write_header(oc, NULL) >= 0;
		avio_close_dyn_buf(oc->pb, &buf);
		av_free(buf);
		oc->pb = NULL;
	}
	avformat_free_context(oc);
	return ok;
}
static const char *hs_guess_format(const char *name) {
	const AVOutputFormat *f = av_guess_format(NULL, name, NULL);
	return f ? f->name : "";
}
static int hs_disposition(AVStream *s) { return s->disposition; }
// hs_open_pb opens url for writing as oc's I/O under oc's interrupt callback (avio_open has none).
static int hs_open_pb(AVFormatContext *oc, const char *url) {
	return avio_open2(&oc->pb, url, AVIO_FLAG_WRITE, &oc->interrupt_callback, NULL);
}
static int hs_close_pb(AVFormatContext *oc) { return avio_closep(&oc->pb); }
static int hs_default_video_codec(AVFormatContext *oc) { return oc->oformat->video_codec; }
static void hs_native_layout(AVCodecContext *c) {
	if (c->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
		int n = c->ch_layout.nb_channels;
		av_channel_layout_uninit(&c->ch_layout);
		av_channel_layout_default(&c->ch_layout, n);
	}
}
static void hs_copy_metadata(AVFormatContext *dst, AVFormatContext *src) {
	av_dict_copy(&dst->metadata, src->metadata, 0);
}
static void hs_copy_stream_info(AVStream *dst, AVStream *src) {
	av_dict_copy(&dst->metadata, src->metadata, 0);
	dst->disposition = src->disposition;
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// cptr returns the C pointer a go-astiav wrapper holds as its first field (the layout of
// v0.16.0, pinned in go.mod; TestCPointers checks it).
func cptr[T any](w *T) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(w)) }

func cFrame(f *astiav.Frame) *C.AVFrame { return (*C.AVFrame)(f.UnsafePointer()) }

// scaler converts frames between pixel formats and sizes with explicit YUV matrices/ranges.
type scaler struct {
	c              *C.struct_SwsContext
	sw, sh, dw, dh int
	sf, df         astiav.PixelFormat
}

func newScaler(sw, sh int, sf astiav.PixelFormat, dw, dh int, df astiav.PixelFormat, space, srcFull, dstFull int) (*scaler, error) {
	c := C.hs_sws(C.int(sw), C.int(sh), C.int(sf), C.int(dw), C.int(dh), C.int(df),
		C.int(space), C.int(srcFull), C.int(space), C.int(dstFull))
	if c == nil {
		return nil, fmt.Errorf("swscale cannot convert %s %dx%d to %s %dx%d", sf, sw, sh, df, dw, dh)
	}
	return &scaler{c: c, sw: sw, sh: sh, dw: dw, dh: dh, sf: sf, df: df}, nil
}

func (s *scaler) free() {
	if s != nil && s.c != nil {
		C.sws_freeContext(s.c)
		s.c = nil
	}
}

func (s *scaler) scale(src, dst *astiav.Frame) error {
	if r := C.hs_scale(s.c, cFrame(src), cFrame(dst)); r < 0 {
		return fmt.Errorf("swscale: %w", astiavErr(int(r)))
	}
	return nil
}

// allocVideoFrame returns a frame with its own buffers.
func allocVideoFrame(w, h int, pf astiav.PixelFormat) (*astiav.Frame, error) {
	f := astiav.AllocFrame()
	f.SetWidth(w)
	f.SetHeight(h)
	f.SetPixelFormat(pf)
	if err := f.AllocBuffer(0); err != nil {
		f.Free()
		return nil, fmt.Errorf("frame %dx%d %s: %w", w, h, pf, err)
	}
	return f, nil
}

func makeWritable(f *astiav.Frame) error {
	if r := C.av_frame_make_writable(cFrame(f)); r < 0 {
		return astiavErr(int(r))
	}
	return nil
}

// gbrRow is row y of colour c (0 R, 1 G, 2 B) of a GBRPF32 frame (planes are G, B, R).
func gbrRow(f *astiav.Frame, c, y int) []float32 {
	plane := [3]int{2, 0, 1}[c]
	p := unsafe.Pointer(C.hs_plane(cFrame(f), C.int(plane)))
	return unsafe.Slice((*float32)(unsafe.Add(p, y*f.Linesize()[plane])), f.Width())
}

// readRGB copies a GBRPF32 frame into planar RGB.
func readRGB(f *astiav.Frame, dst []float32) {
	w, h := f.Width(), f.Height()
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			copy(dst[(c*h+y)*w:][:w], gbrRow(f, c, y))
		}
	}
}

// writeRGB copies planar RGB into a GBRPF32 frame, clamped to [0, 1].
func writeRGB(f *astiav.Frame, src []float32) {
	w, h := f.Width(), f.Height()
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			row := gbrRow(f, c, y)
			for x, v := range src[(c*h+y)*w:][:w] {
				row[x] = min(max(v, 0), 1)
			}
		}
	}
}

func bestEffortPts(f *astiav.Frame) int64 { return int64(C.hs_best_ts(cFrame(f))) }
func frameDuration(f *astiav.Frame) int64 { return int64(C.hs_pkt_duration(cFrame(f))) }
func frameColor(f *astiav.Frame) (space, full int) {
	return int(C.hs_colorspace(cFrame(f))), btoi(C.hs_color_range(cFrame(f)) == C.AVCOL_RANGE_JPEG)
}

// chromaShift is log2 of the pixel format's chroma subsampling.
func chromaShift(pf astiav.PixelFormat) (w, h int) {
	var cw, ch C.int
	C.hs_chroma_shift(C.int(pf), &cw, &ch)
	return int(cw), int(ch)
}

func setEncoderColor(enc *astiav.CodecContext, cp *astiav.CodecParameters) {
	C.hs_set_color((*C.AVCodecContext)(cptr(enc)), C.int(cp.ColorSpace()), C.int(cp.ColorPrimaries()),
		C.int(cp.ColorTransferCharacteristic()), C.int(cp.ColorRange()))
}

// muxerAccepts reports whether the output container can hold codec id as is; for containers
// that do not list their codecs, by writing a header into memory.
func muxerAccepts(oc *astiav.FormatContext, id astiav.CodecID) bool {
	c := (*C.AVFormatContext)(cptr(oc))
	switch C.hs_query_codec(c, C.int(id)) {
	case 0:
		return false
	case 1:
		return true
	}
	return C.hs_header_ok(c, C.int(id), nil) != 0
}

// muxerTakes is whether oc's muxer takes a stream copied with parameters cp: muxerAccepts, and a
// header written with them (the codec lists of mov and mp4 are shared; mov refuses Opus there).
func muxerTakes(oc *astiav.FormatContext, cp *astiav.CodecParameters) bool {
	c := (*C.AVFormatContext)(cptr(oc))
	return muxerAccepts(oc, cp.CodecID()) && C.hs_header_ok(c, C.int(cp.CodecID()), (*C.AVCodecParameters)(cptr(cp))) != 0
}

// guessFormat is the muxer FFmpeg picks for a file name (by its extension), or "".
func guessFormat(name string) string {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return C.GoString(C.hs_guess_format(cs))
}

// nativeLayout replaces an unordered channel layout ("2 channels") by the default one for its
// channel count, which encoders and filters accept.
func nativeLayout(c *astiav.CodecContext) { C.hs_native_layout((*C.AVCodecContext)(cptr(c))) }

func copyMetadata(dst, src *astiav.FormatContext) {
	C.hs_copy_metadata((*C.AVFormatContext)(cptr(dst)), (*C.AVFormatContext)(cptr(src)))
}

func copyStreamInfo(dst, src *astiav.Stream) {
	C.hs_copy_stream_info((*C.AVStream)(cptr(dst)), (*C.AVStream)(cptr(src)))
}

func attachedPic(st *astiav.Stream) bool {
	return C.hs_disposition((*C.AVStream)(cptr(st)))&C.AV_DISPOSITION_ATTACHED_PIC != 0
}

func defaultVideoCodec(oc *astiav.FormatContext) astiav.CodecID {
	return astiav.CodecID(C.hs_default_video_codec((*C.AVFormatContext)(cptr(oc))))
}

// openPb opens url for writing as oc's I/O, under the interrupt callback oc has then (a write
// blocked on a receiver that stopped reading can be interrupted).
func openPb(oc *astiav.FormatContext, url string) error {
	c := C.CString(url)
	defer C.free(unsafe.Pointer(c))
	if ret := C.hs_open_pb((*C.AVFormatContext)(cptr(oc)), c); ret < 0 {
		return astiavErr(int(ret))
	}
	return nil
}

// closePb flushes and closes the I/O openPb opened.
func closePb(oc *astiav.FormatContext) error {
	if ret := C.hs_close_pb((*C.AVFormatContext)(cptr(oc))); ret < 0 {
		return astiavErr(int(ret))
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func astiavErr(code int) error {
	buf := make([]byte, 256)
	C.av_strerror(C.int(code), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	return fmt.Errorf("%s", C.GoString((*C.char)(unsafe.Pointer(&buf[0]))))
}
