package cpu

// #cgo CFLAGS: -O3
// #cgo LDFLAGS: -lm
// #include "convgemm.h"
import "C"

import (
	"fmt"
	"slices"
	"unsafe"
)

// gemmLevel is the best convGemm kernel this CPU runs: 2 AVX-512, 1 AVX2+FMA, 0 portable C.
var gemmLevel = int(C.conv_gemm_level())

// convGemm sets c[i·ldc + j] = bias[i] (0 without bias) + Σ_k a[i·K + k]·b[off[k] + j] for
// i < m, j < n, K = len(off): one fused multiply-add chain per element in k order, so an
// element's value does not depend on the product's shape, its place in it, the work split or
// the CPU's vector width (unlike OpenBLAS, whose kernels round by position and core type).
func convGemm(m, n int, a, b []float32, off []int, bias, c []float32, ldc int) {
	convGemmAt(gemmLevel, m, n, a, b, off, bias, c, ldc)
}

// convGemmAt is convGemm with the kernel of the given level (≤ gemmLevel).
func convGemmAt(level, m, n int, a, b []float32, off []int, bias, c []float32, ldc int) {
	k := len(off)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || m*k > len(a) || slices.Min(off) < 0 || slices.Max(off)+n > len(b) || (m-1)*ldc+n > len(c) || bias != nil && len(bias) < m {
		panic(fmt.Sprintf("convGemm: %d×%d×%d out of bounds (a %d, b %d, c %d, ldc %d)", m, n, k, len(a), len(b), len(c), ldc))
	}
	var bp *C.float
	if bias != nil {
		bp = ptr(bias)
	}
	C.conv_gemm(C.int(level), C.long(m), C.long(n), C.long(k), ptr(a), ptr(b), (*C.long)(unsafe.Pointer(unsafe.SliceData(off))), bp, ptr(c), C.long(ldc))
}
