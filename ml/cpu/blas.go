package cpu

// #cgo pkg-config: openblas
// #include <cblas.h>
import "C"

import (
	"runtime"
	"unsafe"
)

// OpenBLAS runs single-threaded: the cores are shared out by Go (Sgemm's blocks, each's work
// items), which avoids OpenBLAS's per-call thread wake-up and sync on the many small GEMMs.
func init() { C.openblas_set_num_threads(1) }

// CoreName is the OpenBLAS kernel set in use (detected, or forced by OPENBLAS_CORETYPE).
func CoreName() string { return C.GoString(C.openblas_get_corename()) }

// Sgemm computes C = alpha·op(A)·op(B) + beta·C on row-major matrices through OpenBLAS:
// op(A) is m×k, op(B) is k×n, with leading dimensions lda, ldb, ldc. Large products are split
// into row (or column) blocks of C, one per core, so an element's rounding depends on m and n
// (the ops split work at fixed, batch-independent blocks instead).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	blocks(m, n, k, func(r0, r1, c0, c1 int) {
		sgemm1(transA, transB, r1-r0, c1-c0, k, alpha, offset(a, transA, r0, lda), lda, offset(b, !transB, c0, ldb), ldb, beta, c[r0*ldc+c0:], ldc)
	})
}

// fillRows sets rows×w of c (row stride ldc) to the first w of bias and returns the GEMM beta
// that keeps it: 1, or 0 for no bias.
func fillRows(c []float32, rows, w, ldc int, bias []float32) float32 {
	if len(bias) == 0 {
		return 0
	}
	for r := 0; r < rows; r++ {
		copy(c[r*ldc:r*ldc+w], bias[:w])
	}
	return 1
}

// offset is the start of row i of a row-major matrix with leading dimension ld, or of column i
// when transposed.
func offset(x []float32, trans bool, i, ld int) []float32 {
	if trans {
		return x[i:]
	}
	return x[i*ld:]
}

// blocks splits an m×n (inner size k) product into row blocks of C, or column blocks when it
// is wider than tall, one per core (small products: one block), and runs fn(rows r0..r1,
// columns c0..c1) on each.
func blocks(m, n, k int, fn func(r0, r1, c0, c1 int)) {
	workers := max(1, min(runtime.GOMAXPROCS(0), m*n*k>>18))
	size := max(m, n)
	step := max(16, (size/workers+15)&^15)
	each((size+step-1)/step, func(_, i int) {
		lo, hi := i*step, min(size, (i+1)*step)
		if size == m {
			fn(lo, hi, 0, n)
		} else {
			fn(0, m, lo, hi)
		}
	})
}

// sgemm1 is Sgemm as one OpenBLAS call on the calling thread.
func sgemm1(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans), C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans)
	if transA {
		ta = C.CblasTrans
	}
	if transB {
		tb = C.CblasTrans
	}
	C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda), (*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}
