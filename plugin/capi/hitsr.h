/* hitsr.h: the C ABI of libhitsr.so (make plugin): hitsr super-resolution as a filter.
 *
 *   hitsr_t h;
 *   int scales[] = {2, 4};
 *   if (hitsr_open(&h, NULL, "auto", "auto", scales, 2) != HITSR_OK) puts(hitsr_error(0));
 *   hitsr_push(h, &in);               // one model pass: every scale at once
 *   hitsr_pull(h, 2, &out2);          // the caller's buffers, in->width*2 × in->height*2
 *   hitsr_pull(h, 4, &out4);
 *   hitsr_flush(h);                   // end of stream: frames still queued can be pulled
 *   hitsr_close(h);
 *
 * The library keeps no pointer the caller passes in after a call returns. A handle is used by
 * one thread at a time; different handles may be used concurrently.
 */
#ifndef HITSR_H
#define HITSR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return values. */
#define HITSR_OK 0
#define HITSR_EAGAIN 1 /* hitsr_pull: nothing queued for that scale */
#define HITSR_ERROR (-1) /* see hitsr_error */

/* Pixel formats, 8 bits per sample. */
#define HITSR_FORMAT_RGB 0  /* packed R, G, B: data[0] */
#define HITSR_FORMAT_RGBA 1 /* packed R, G, B, A (straight alpha): data[0] */
#define HITSR_FORMAT_I420 2 /* planar Y, U, V (chroma halved both ways, rounded up), BT.601 limited range */

/* A frame: the caller owns the planes. */
typedef struct hitsr_frame {
	int format;        /* HITSR_FORMAT_* */
	int width, height; /* pixels */
	uint8_t *data[3];  /* planes (one for packed formats) */
	int stride[3];     /* bytes per row of each plane */
	int64_t pts;       /* timestamp, carried from push to pull */
	int64_t duration;  /* carried from push to pull */
} hitsr_frame;

/* A filter; 0 is never a valid one. */
typedef uintptr_t hitsr_t;

#ifndef HITSR_NO_PROTOTYPES /* the library's own build declares them itself */

/* Loads a model (NULL or "": the built-in one) on device ("auto", "cpu", "vulkan", "vulkan:N";
 * NULL: auto) in mode ("fidelity", "full", "auto"; NULL: auto) producing nscales distinct scales
 * (1..16). */
int hitsr_open(hitsr_t *h, const char *model, const char *device, const char *mode, const int *scales, int nscales);

/* Runs the model on one frame and queues it at every scale. Fails when a scale already has 64
 * frames queued (pull them first). */
int hitsr_push(hitsr_t h, const hitsr_frame *in);

/* Writes the oldest frame queued for scale into out (format, size, planes and strides set by
 * the caller; the size must be the pushed size × scale), dequeues it and sets its pts and
 * duration. A scale the filter was not opened with is an error; on any error the frame stays
 * queued. */
int hitsr_pull(hitsr_t h, int scale, hitsr_frame *out);

/* Ends the stream: later pushes fail; queued frames can still be pulled. */
int hitsr_flush(hitsr_t h);

/* Frees the filter and its model; h is invalid afterwards. */
void hitsr_close(hitsr_t h);

/* The last error on h, or "" when none; valid until the next call on h. hitsr_error(0) is, for
 * the calling thread, the last failed hitsr_open or call given a handle that is not open (closed,
 * or never returned by hitsr_open); valid until that thread's next such failure. */
const char *hitsr_error(hitsr_t h);
#endif

#ifdef __cplusplus
}
#endif

#endif /* HITSR_H */
