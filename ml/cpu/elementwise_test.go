package cpu

import (
	"math"
	"testing"
)

// TestActivations checks the vectorised GELU, SiLU and softmax against float64 math.
func TestActivations(t *testing.T) {
	const n = 200001
	x, g, s := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(i-n/2) * 2e-4 // [−20, 20]
	}
	gelu(x, g)
	silu(x, s)
	for i, v := range x {
		xv := float64(v)
		wantG := 0.5 * xv * math.Erfc(-xv/math.Sqrt2)
		wantS := xv / (1 + math.Exp(-xv))
		if e := math.Abs(float64(g[i]) - wantG); e > 2e-7*(1+math.Abs(wantG)) {
			t.Fatalf("gelu(%v) = %v, want %v", v, g[i], wantG)
		}
		if e := math.Abs(float64(s[i]) - wantS); e > 1e-7*math.Abs(wantS) {
			t.Fatalf("silu(%v) = %v, want %v", v, s[i], wantS)
		}
	}
	row := []float32{1, -3, 0.5, 2, -100, 7, 0, 0, 1, 2.5, -1}
	y := make([]float32, len(row))
	softmaxRow(row, y)
	var sum float64
	for _, v := range row {
		sum += math.Exp(float64(v))
	}
	for i, v := range row {
		if want := math.Exp(float64(v)) / sum; math.Abs(float64(y[i])-want) > 1e-7*want+1e-12 {
			t.Fatalf("softmax[%d] = %v, want %v", i, y[i], want)
		}
	}
}
