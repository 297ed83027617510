package cpu

// #cgo pkg-config: openblas
// #include <cblas.h>
import "C"

import (
	"runtime"
	"unsafe"
)

func init() { C.openblas_set_num_threads(C.int(runtime.NumCPU())) }

// Sgemm computes C = alpha·op(A)·op(B) + beta·C on row-major matrices through OpenBLAS:
// op(A) is m×k, op(B) is k×n, with leading dimensions lda, ldb, ldc.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
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
