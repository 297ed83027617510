package vulkan

import (
	"math"
	"testing"

	"github.com/hitsr/hitsr/ml"
)

func open(t testing.TB) *Backend {
	t.Helper()
	b, err := New("vulkan:0")
	if err != nil {
		t.Skipf("no vulkan device: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); !(d <= tol*(1+math.Abs(float64(want[i])))) {
			t.Fatalf("%s[%d] = %v, want %v (got %v)", what, i, got[i], want[i], got)
		}
	}
}

func TestAddScale(t *testing.T) {
	b := open(t)
	c := ml.NewContext(b)
	defer c.Close()
	x := c.Input(ml.F32, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	y := c.Input(ml.F32, []int{3}, []float32{10, 20, 30})
	s := c.Scale(c.Add(x, y), 2)
	got, err := c.Floats(s)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "scale(add)", got, []float32{22, 44, 66, 28, 50, 72}, 0)
}
