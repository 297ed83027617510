package vulkan

import (
	"math"
	"strings"
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

// TestExecuteErrors: a bad node fails the whole batch with an error naming the op.
func TestExecuteErrors(t *testing.T) {
	b := open(t)
	c := ml.NewContext(b)
	defer c.Close()
	x := c.Input(ml.F32, []int{4}, []float32{1, 2, 3, 4})
	y := c.Scale(x, 2)
	if err := c.Compute(); err != nil {
		t.Fatal(err)
	}
	n := &ml.Node{Op: ml.OpCast, Out: y, In: []*ml.Tensor{x}}
	if err := b.Execute([]*ml.Node{{Op: ml.OpScale, Out: y, In: []*ml.Tensor{x}, P: ml.Params{Scale: 3}}, n}); err != nil {
		t.Fatalf("cast f32→f32 failed: %v", err)
	}
	bad := &ml.Node{Op: ml.OpUnary, Out: y, In: []*ml.Tensor{x}, P: ml.Params{Unary: 9}}
	if err := b.Execute([]*ml.Node{bad}); err == nil || !strings.Contains(err.Error(), "unary") {
		t.Fatalf("bad unary: err = %v", err)
	}
}
