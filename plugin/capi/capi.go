// Command capi is libhitsr.so, the C ABI of the plugin package (hitsr.h): build it with
// "make plugin" (go build -buildmode=c-shared). Handles are cgo.Handle values: C holds no Go
// pointer, and the library keeps none of C's after a call.
package main

/*
#include <stdlib.h>
#define HITSR_NO_PROTOTYPES
#include "hitsr.h"

#include <pthread.h>

// The last failed hitsr_open, or call given a handle that is not open, of each thread
// (hitsr_error(0)): a thread's string stays valid until its next such failure, whatever the
// other threads do, and is freed when the thread ends. A C thread calling into Go runs the
// call on itself, so a thread-specific slot holds.
static pthread_key_t err_key;
static pthread_once_t err_once = PTHREAD_ONCE_INIT;
static void err_key_init(void) { pthread_key_create(&err_key, free); }
static void set_thread_err(char *s) {
	pthread_once(&err_once, err_key_init);
	free(pthread_getspecific(err_key));
	pthread_setspecific(err_key, s);
}
static const char *get_thread_err(void) {
	pthread_once(&err_once, err_key_init);
	const char *s = pthread_getspecific(err_key);
	return s ? s : "";
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"unsafe"

	"github.com/hitsr/hitsr/plugin"
)

func main() {}

// filter is one open handle: the Go filter and its last error as a C string.
type filter struct {
	f   *plugin.Filter
	err *C.char
}

func setErr(dst **C.char, err error) C.int {
	if *dst != nil {
		C.free(unsafe.Pointer(*dst))
	}
	*dst = C.CString(err.Error())
	return C.HITSR_ERROR
}

// guard turns a panic into an error: no Go panic crosses into C.
func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("internal error: %v", r)
	}
}

// errNotOpen is the error of a call given a handle that hitsr_open did not return or that is closed.
var errNotOpen = errors.New("not an open hitsr handle (closed, or not from hitsr_open)")

func lookup(h C.hitsr_t) (fl *filter, err error) {
	defer func() {
		if recover() != nil { // cgo.Handle panics on a value it never issued or has deleted
			fl, err = nil, errNotOpen
		}
	}()
	if h == 0 {
		return nil, errors.New("null handle")
	}
	fl, ok := cgo.Handle(h).Value().(*filter)
	if !ok {
		return nil, errNotOpen
	}
	return fl, nil
}

func goString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

//export hitsr_open
func hitsr_open(out *C.hitsr_t, model, device, mode *C.char, scales *C.int, nscales C.int) C.int {
	f, err := func() (f *plugin.Filter, err error) {
		defer guard(&err)
		if out == nil {
			return nil, errors.New("hitsr_open: null handle pointer")
		}
		if scales == nil || nscales <= 0 || nscales > 16 {
			return nil, fmt.Errorf("hitsr_open: %d scales (want 1..16)", int(nscales))
		}
		var sc []int
		for _, s := range unsafe.Slice(scales, int(nscales)) {
			sc = append(sc, int(s))
		}
		return plugin.Open(plugin.Options{Model: goString(model), Device: goString(device), Mode: goString(mode), Scales: sc})
	}()
	if err != nil {
		return handleErr(err)
	}
	*out = C.hitsr_t(cgo.NewHandle(&filter{f: f}))
	return C.HITSR_OK
}

// planes views a C frame's planes as Go slices for the length of one call.
func planes(fr *C.hitsr_frame) (*plugin.Planes, error) {
	if fr == nil {
		return nil, errors.New("null frame")
	}
	p := &plugin.Planes{Format: plugin.PixFormat(fr.format), W: int(fr.width), H: int(fr.height)}
	for i := range 3 {
		p.Stride[i] = int(fr.stride[i])
	}
	if err := p.CheckLayout(); err != nil {
		return nil, err
	}
	for i := range 3 {
		if n := p.PlaneBytes(i); n > 0 {
			if fr.data[i] == nil {
				return nil, fmt.Errorf("%s plane %d: null", p.Format, i)
			}
			p.Data[i] = unsafe.Slice((*byte)(unsafe.Pointer(fr.data[i])), n)
		}
	}
	return p, nil
}

// handleErr records, for this thread, a failed open or an error about a handle itself
// (hitsr_error(0)).
func handleErr(err error) C.int {
	C.set_thread_err(C.CString(err.Error()))
	return C.HITSR_ERROR
}

//export hitsr_push
func hitsr_push(h C.hitsr_t, in *C.hitsr_frame) C.int {
	fl, err := lookup(h)
	if err != nil {
		return handleErr(err)
	}
	err = func() (err error) {
		defer guard(&err)
		p, err := planes(in)
		if err != nil {
			return fmt.Errorf("push: %w", err)
		}
		img, err := plugin.Import(p)
		if err != nil {
			return fmt.Errorf("push: %w", err)
		}
		return fl.f.Push(plugin.Frame{Image: img, PTS: int64(in.pts), Duration: int64(in.duration)})
	}()
	if err != nil {
		return setErr(&fl.err, err)
	}
	return C.HITSR_OK
}

//export hitsr_pull
func hitsr_pull(h C.hitsr_t, scale C.int, out *C.hitsr_frame) C.int {
	fl, err := lookup(h)
	if err != nil {
		return handleErr(err)
	}
	got := false
	err = func() (err error) {
		defer guard(&err)
		i, err := fl.f.ScaleIndex(int(scale))
		if err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		p, err := planes(out)
		if err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		fr, ok := fl.f.Peek(i)
		if !ok {
			return nil
		}
		if err := plugin.Export(fr.Image, p); err != nil { // the frame stays queued for a pull that fits
			return fmt.Errorf("pull ×%d: %w", int(scale), err)
		}
		fl.f.Pull(i)
		got = true
		out.pts, out.duration = C.int64_t(fr.PTS), C.int64_t(fr.Duration)
		return nil
	}()
	switch {
	case err != nil:
		return setErr(&fl.err, err)
	case !got:
		return C.HITSR_EAGAIN
	}
	return C.HITSR_OK
}

//export hitsr_flush
func hitsr_flush(h C.hitsr_t) C.int {
	fl, err := lookup(h)
	if err != nil {
		return handleErr(err)
	}
	fl.f.Flush()
	return C.HITSR_OK
}

//export hitsr_close
func hitsr_close(h C.hitsr_t) {
	fl, err := lookup(h)
	if err != nil {
		return
	}
	cgo.Handle(h).Delete()
	fl.f.Close()
	if fl.err != nil {
		C.free(unsafe.Pointer(fl.err))
	}
}

var empty = C.CString("")

//export hitsr_error
func hitsr_error(h C.hitsr_t) *C.char {
	s := empty
	if h == 0 {
		return C.get_thread_err()
	}
	if fl, err := lookup(h); err == nil && fl.err != nil {
		s = fl.err
	}
	return s
}
