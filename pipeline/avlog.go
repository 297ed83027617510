package pipeline

/*
#cgo pkg-config: libavutil
#include <libavutil/log.h>
void hs_log_init(void);
*/
import "C"

import (
	"strings"
	"sync"
)

// avlog is FFmpeg's log once CaptureFFmpegLog has run.
var avlog struct {
	sync.Mutex
	seq     uint64 // messages completed so far
	last    string // the last complete error message
	part    strings.Builder
	size    string // the last picture size FFmpeg refused (rePictureSize: a frame past max_pixels)
	sizeSeq uint64 // its seq
}

var captureOnce sync.Once

// CaptureFFmpegLog stops FFmpeg printing its log (the pipeline logs for itself) and keeps its
// last error message to explain the error codes FFmpeg calls return. A program calls it once
// at start; it is process-wide, so a library embedding the pipeline leaves it to its host.
func CaptureFFmpegLog() { captureOnce.Do(func() { C.hs_log_init() }) }

//export hsAVLog
func hsAVLog(msg *C.char) {
	s := C.GoString(msg)
	avlog.Lock()
	defer avlog.Unlock()
	avlog.part.WriteString(s)
	if !strings.HasSuffix(s, "\n") { // a message may come in pieces
		return
	}
	avlog.last = strings.Join(strings.Fields(avlog.part.String()), " ")
	avlog.seq++
	if rePictureSize.MatchString(avlog.last) {
		avlog.size, avlog.sizeSeq = avlog.last, avlog.seq
	}
	avlog.part.Reset()
}

// avMark is a point in FFmpeg's log for avErrorSince.
func avMark() uint64 {
	avlog.Lock()
	defer avlog.Unlock()
	return avlog.seq
}

// avErrorSince is FFmpeg's last error message logged after mark, or "".
func avErrorSince(mark uint64) string {
	avlog.Lock()
	defer avlog.Unlock()
	if avlog.seq == mark {
		return ""
	}
	return avlog.last
}

// avSizeRefusedSince is FFmpeg's last refusal of a picture size logged after mark, or "".
func avSizeRefusedSince(mark uint64) string {
	avlog.Lock()
	defer avlog.Unlock()
	if avlog.sizeSeq <= mark {
		return ""
	}
	return avlog.size
}
