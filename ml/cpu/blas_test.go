package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmBinding checks the cgo binding (transposes, leading dimensions, alpha/beta) against
// a plain loop, on one call and on products split into row or column blocks.
func TestSgemmBinding(t *testing.T) {
	for _, d := range [][3]int{{7, 5, 9}, {300, 40, 64}, {40, 300, 64}} {
		testSgemm(t, d[0], d[1], d[2])
	}
}

func testSgemm(t *testing.T, m, n, k int) {
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			a, b := make([]float32, m*k), make([]float32, k*n)
			for i := range a {
				a[i] = rand.Float32()
			}
			for i := range b {
				b[i] = rand.Float32()
			}
			c := make([]float32, m*n)
			for i := range c {
				c[i] = 1
			}
			lda, ldb := k, n
			if ta {
				lda = m
			}
			if tb {
				ldb = k
			}
			Sgemm(ta, tb, m, n, k, 2, a, lda, b, ldb, 0.5, c, n)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					want := 0.5
					for p := 0; p < k; p++ {
						av, bv := a[i*k+p], b[p*n+j]
						if ta {
							av = a[p*m+i]
						}
						if tb {
							bv = b[j*k+p]
						}
						want += 2 * float64(av) * float64(bv)
					}
					if got := float64(c[i*n+j]); math.Abs(got-want) > 1e-5*math.Abs(want) {
						t.Fatalf("%dx%dx%d transA=%v transB=%v c[%d,%d]=%v want %v", m, n, k, ta, tb, i, j, got, want)
					}
				}
			}
		}
	}
}
