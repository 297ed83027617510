package cpu

// #cgo CFLAGS: -O3
// #include "act.h"
import "C"

import "unsafe"

func ptr(x []float32) *C.float { return (*C.float)(unsafe.Pointer(unsafe.SliceData(x))) }

// gelu writes 0.5·x·(1+erf(x/√2)) of x into y (same length; may alias).
func gelu(x, y []float32) { C.act_gelu(ptr(x), ptr(y), C.long(len(y))) }

// silu writes x/(1+e^−x) of x into y (same length; may alias).
func silu(x, y []float32) { C.act_silu(ptr(x), ptr(y), C.long(len(y))) }

// softmaxRow writes softmax(x) into y (same length ≥ 1; may alias).
func softmaxRow(x, y []float32) { C.act_softmax(ptr(x), ptr(y), C.long(len(y))) }
