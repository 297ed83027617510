package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestConvGemm checks convGemm against a float64 sum, that every kernel level this CPU runs
// gives the portable kernel's bits (one FMA chain per element whatever the vector width, tile
// or tail), and that nothing outside the M×N block of c is written.
func TestConvGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	t.Logf("kernel level %d", gemmLevel)
	for _, m := range []int{1, 2, 5, 6, 7, 13} {
		for _, n := range []int{1, 5, 16, 17, 63, 64, 65, 200} {
			for _, k := range []int{1, 3, 27, 70} {
				a := make([]float32, m*k)
				for i := range a {
					a[i] = float32(r.NormFloat64())
				}
				off := make([]int, k)
				at := 0
				for i := range off {
					at += r.IntN(3 * n) // rows apart, some overlapping
					off[i] = at
				}
				b := make([]float32, at+n)
				for i := range b {
					b[i] = float32(r.NormFloat64())
				}
				var bias []float32
				if k%2 == 1 {
					bias = make([]float32, m)
					for i := range bias {
						bias[i] = float32(r.NormFloat64())
					}
				}
				ldc := n + 3
				var want []float32
				for level := 0; level <= gemmLevel; level++ {
					c := make([]float32, m*ldc)
					for i := range c {
						c[i] = -7
					}
					convGemmAt(level, m, n, a, b, off, bias, c, ldc)
					for i := 0; i < m; i++ {
						for j := n; j < ldc; j++ {
							if c[i*ldc+j] != -7 {
								t.Fatalf("level %d %d×%d×%d: wrote c[%d,%d] outside the block", level, m, n, k, i, j)
							}
						}
					}
					if level > 0 {
						for i, v := range c {
							if math.Float32bits(v) != math.Float32bits(want[i]) {
								t.Fatalf("level %d %d×%d×%d: c[%d] = %v, portable kernel %v", level, m, n, k, i, v, want[i])
							}
						}
						continue
					}
					want = c
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							s, abs := 0.0, 0.0
							if bias != nil {
								s, abs = float64(bias[i]), math.Abs(float64(bias[i]))
							}
							for p := 0; p < k; p++ {
								s += float64(a[i*k+p]) * float64(b[off[p]+j])
								abs += math.Abs(float64(a[i*k+p]) * float64(b[off[p]+j]))
							}
							if e := math.Abs(float64(c[i*ldc+j]) - s); e > 1e-6*abs {
								t.Fatalf("%d×%d×%d: c[%d,%d] = %v, want %v", m, n, k, i, j, c[i*ldc+j], s)
							}
						}
					}
				}
			}
		}
	}
}
