/* The C ABI from C: open, push packed and planar frames, pull each scale, flush, errors,
 * close; run CYCLES times (under valgrind by TestCABI: nothing may leak). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hitsr.h"

#define W 12
#define H 8

static int skip_close;

static int fail(const char *what, hitsr_t h) {
	fprintf(stderr, "FAIL %s: %s\n", what, hitsr_error(h));
	return 1;
}

static hitsr_frame frame(int format, int w, int h) {
	hitsr_frame f;
	memset(&f, 0, sizeof f);
	f.format = format;
	f.width = w;
	f.height = h;
	if (format == HITSR_FORMAT_I420) {
		int cw = (w + 1) / 2, ch = (h + 1) / 2;
		f.stride[0] = w;
		f.stride[1] = f.stride[2] = cw;
		f.data[0] = calloc(1, (size_t)w * h);
		f.data[1] = calloc(1, (size_t)cw * ch);
		f.data[2] = calloc(1, (size_t)cw * ch);
	} else {
		int bpp = format == HITSR_FORMAT_RGBA ? 4 : 3;
		f.stride[0] = w * bpp + 3; /* padded rows */
		f.data[0] = calloc(1, (size_t)f.stride[0] * h);
	}
	return f;
}

static void release(hitsr_frame *f) {
	for (int i = 0; i < 3; i++)
		free(f->data[i]);
}

static int cycle(const char *model) {
	int scales[] = {2, 4};
	hitsr_t h = 0;
	if (hitsr_open(&h, model, "cpu", "auto", scales, 2) != HITSR_OK)
		return fail("open", 0);
	hitsr_frame rgb = frame(HITSR_FORMAT_RGB, W, H), yuv = frame(HITSR_FORMAT_I420, W, H);
	for (int i = 0; i < W * H; i++)
		rgb.data[0][(i / W) * rgb.stride[0] + (i % W) * 3 + i % 3] = (uint8_t)(i * 7);
	memset(yuv.data[0], 120, W * H);
	memset(yuv.data[1], 128, ((W + 1) / 2) * ((H + 1) / 2));
	memset(yuv.data[2], 128, ((W + 1) / 2) * ((H + 1) / 2));
	rgb.pts = 100;
	rgb.duration = 40;
	yuv.pts = 140;
	int rc = 0;
	if (hitsr_push(h, &rgb) != HITSR_OK || hitsr_push(h, &yuv) != HITSR_OK)
		rc = fail("push", h);
	hitsr_frame o2 = frame(HITSR_FORMAT_RGBA, 2 * W, 2 * H), o4 = frame(HITSR_FORMAT_I420, 4 * W, 4 * H);
	for (int n = 0; !rc && n < 2; n++) {
		if (hitsr_pull(h, 2, &o2) != HITSR_OK || hitsr_pull(h, 4, &o4) != HITSR_OK)
			rc = fail("pull", h);
		else if (o2.pts != 100 + 40 * n || o4.pts != o2.pts || (n == 0 && o2.duration != 40))
			rc = fail("timestamps", h);
	}
	if (!rc && hitsr_pull(h, 2, &o2) != HITSR_EAGAIN)
		rc = fail("a third frame from two pushes", h);
	hitsr_frame small = frame(HITSR_FORMAT_RGB, W, H);
	if (!rc && (hitsr_push(h, &rgb) != HITSR_OK || hitsr_pull(h, 2, &small) != HITSR_ERROR || !strstr(hitsr_error(h), "12x8")))
		rc = fail("a pull into a frame of the wrong size must fail and say why", h);
	if (!rc && hitsr_pull(h, 2, &o2) != HITSR_OK)
		rc = fail("a failed pull must leave its frame queued", h);
	if (!rc && (hitsr_pull(h, 4, &o4) != HITSR_OK || hitsr_pull(h, 3, &o4) != HITSR_ERROR || !strstr(hitsr_error(h), "not an output")))
		rc = fail("a pull at a scale the filter was not opened with must fail", h);
	if (!rc && (hitsr_flush(h) != HITSR_OK || hitsr_push(h, &rgb) != HITSR_ERROR || !*hitsr_error(h)))
		rc = fail("a push after flush must fail", h);
	hitsr_frame bad = rgb;
	bad.format = 9;
	if (!rc && hitsr_push(h, &bad) != HITSR_ERROR)
		rc = fail("an unknown format must fail", h);
	release(&rgb);
	release(&yuv);
	release(&o2);
	release(&o4);
	release(&small);
	if (!skip_close)
		hitsr_close(h);
	hitsr_t none = 0;
	if (!rc && (hitsr_open(&none, "/nonexistent.safetensors", "cpu", NULL, scales, 2) != HITSR_ERROR || none != 0 ||
	            !strstr(hitsr_error(0), "nonexistent")))
		rc = fail("open of a missing model must fail", 0);
	if (!rc && hitsr_open(&none, model, "cpu", NULL, scales, 0) != HITSR_ERROR)
		rc = fail("open without scales must fail", 0);
	int twice[] = {2, 2};
	if (!rc && (hitsr_open(&none, model, "cpu", NULL, twice, 2) != HITSR_ERROR || !strstr(hitsr_error(0), "twice")))
		rc = fail("open with a scale given twice must fail", 0);
	return rc;
}

/* hitsr_error(0) is per thread: while another thread keeps failing calls on a handle that is not
 * open, this thread's own failed open keeps its message (AddressSanitizer: no use after free). */
static volatile int stop_pushing;
static void *push_closed(void *arg) {
	hitsr_frame f;
	memset(&f, 0, sizeof f);
	(void)arg;
	while (!stop_pushing)
		hitsr_push((hitsr_t)12345, &f);
	return NULL;
}

static int thread_errors(void) {
	pthread_t t;
	int scales[] = {2}, rc = 0;
	pthread_create(&t, NULL, push_closed, NULL);
	for (int i = 0; !rc && i < 2000; i++) {
		hitsr_t h;
		hitsr_open(&h, NULL, "cpu", NULL, scales, 0);
		for (int k = 0; !rc && k < 20; k++)
			if (!strstr(hitsr_error(0), "0 scales"))
				rc = fail("this thread's open error, while another thread fails", 0);
	}
	stop_pushing = 1;
	pthread_join(t, NULL);
	if (!rc && (hitsr_push((hitsr_t)12345, NULL) != HITSR_ERROR || !strstr(hitsr_error(0), "not an open hitsr handle")))
		rc = fail("a handle that is not open", 0);
	return rc;
}

/* rss_kb is this process's resident memory. */
static long rss_kb(void) {
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* cabi_test MODEL CYCLES [leak]: MODEL "" is the built-in one; "leak" skips hitsr_close (the
 * test's proof that the leak check catches it). Prints the resident memory after the first
 * tenth of the cycles and at the end. */
int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: %s MODEL CYCLES [leak]\n", argv[0]);
		return 2;
	}
	int cycles = atoi(argv[2]);
	skip_close = argc > 3 && !strcmp(argv[3], "leak");
	if (thread_errors())
		return 1;
	long early = 0;
	for (int i = 0; i < cycles; i++) {
		if (cycle(*argv[1] ? argv[1] : NULL))
			return 1;
		if (i == cycles / 10)
			early = rss_kb();
	}
	printf("ok: %d cycles, rss %ld kB after %d, %ld kB at the end\n", cycles, early, cycles / 10 + 1, rss_kb());
	return 0;
}
