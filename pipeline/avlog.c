// FFmpeg's log callback: formats each message safely (bounded) and hands it to Go.
#include <stdarg.h>
#include <stdio.h>
#include <libavutil/log.h>
#include "_cgo_export.h"

static void hs_log_callback(void *avcl, int level, const char *fmt, va_list vl) {
	char msg[1024];
	if (level > AV_LOG_ERROR)
		return;
	vsnprintf(msg, sizeof msg, fmt, vl);
	hsAVLog(msg);
}

void hs_log_init(void) {
	av_log_set_level(AV_LOG_ERROR);
	av_log_set_callback(hs_log_callback);
}
