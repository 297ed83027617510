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

// FFmpeg's own log is not printed (the pipeline logs for itself); its last error message is
// kept to explain the error codes FFmpeg calls return.
var avlog struct {
	sync.Mutex
	seq  uint64 // messages completed so far
	last string // the last complete error message
	part strings.Builder
}

func init() { C.hs_log_init() }

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
