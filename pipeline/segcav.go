package pipeline

// libav calls for scale-out (plan, segments, join) that go-astiav v0.16.0 does not wrap.

/*
#cgo pkg-config: libavformat libavcodec libavutil
#include <stdlib.h>
#include <libavformat/avformat.h>
#include <libavutil/mathematics.h>

static void hs_discard(AVStream *s) { s->discard = AVDISCARD_ALL; }
static int hs_set_tag(AVFormatContext *fc, const char *k, const char *v) {
	return av_dict_set(&fc->metadata, k, v, 0);
}
static void hs_set_par_color(AVCodecParameters *dst, const AVCodecParameters *src) {
	dst->color_space = src->color_space; dst->color_primaries = src->color_primaries;
	dst->color_trc = src->color_trc; dst->color_range = src->color_range;
	dst->chroma_location = AVCHROMA_LOC_UNSPECIFIED;
}
static void hs_set_video_delay(AVCodecParameters *p, int d) { p->video_delay = d; }
static int hs_video_delay(AVCodecParameters *p) { return p->video_delay; }
*/
import "C"

import (
	"unsafe"

	"github.com/asticode/go-astiav"
)

// discard makes the demuxer skip a stream's packets.
func discard(st *astiav.Stream) { C.hs_discard((*C.AVStream)(cptr(st))) }

// setTag sets a container metadata entry.
func setTag(fc *astiav.FormatContext, key, value string) {
	k, v := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(k))
	defer C.free(unsafe.Pointer(v))
	C.hs_set_tag((*C.AVFormatContext)(cptr(fc)), k, v)
}

// tag reads a container metadata entry ("" when absent).
func tag(fc *astiav.FormatContext, key string) string {
	if md := fc.Metadata(); md != nil {
		if e := md.Get(key, nil, astiav.NewDictionaryFlags(astiav.DictionaryFlagMatchCase)); e != nil {
			return e.Value()
		}
	}
	return ""
}

// setColor gives a video stream the colour tags an encoder set from src (setEncoderColor),
// which a segment container does not keep.
func setColor(dst, src *astiav.CodecParameters) {
	C.hs_set_par_color((*C.AVCodecParameters)(cptr(dst)), (*C.AVCodecParameters)(cptr(src)))
}

// compareTs orders timestamps in different time bases (-1, 0, 1).
func compareTs(a int64, tba astiav.Rational, b int64, tbb astiav.Rational) int {
	return int(C.av_compare_ts(C.int64_t(a), C.AVRational{C.int(tba.Num()), C.int(tba.Den())},
		C.int64_t(b), C.AVRational{C.int(tbb.Num()), C.int(tbb.Den())}))
}

// videoDelay is a video stream's frame reordering delay (frames); setVideoDelay sets it.
func videoDelay(p *astiav.CodecParameters) int {
	return int(C.hs_video_delay((*C.AVCodecParameters)(cptr(p))))
}

func setVideoDelay(p *astiav.CodecParameters, d int) {
	C.hs_set_video_delay((*C.AVCodecParameters)(cptr(p)), C.int(d))
}
