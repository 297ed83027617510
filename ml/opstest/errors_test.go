package opstest

import (
	"strings"
	"testing"

	"github.com/hitsr/hitsr/ml"
)

// TestErrors checks that each invalid call fails its context with an error naming the op and
// the offending shapes, and that the error sticks: later valid ops, Compute and reads return it.
func TestErrors(t *testing.T) {
	f32 := func(c *ml.Context, shape ...int) *ml.Tensor {
		return c.Input(ml.F32, shape, make([]float32, numel(shape)))
	}
	for _, tc := range []struct {
		name string
		call func(c *ml.Context)
		want []string // substrings of the error
	}{
		{"matmul inner mismatch", func(c *ml.Context) { c.MatMul(f32(c, 2, 3), f32(c, 4, 5), false, false) },
			[]string{"matmul", "[2 3]", "[4 5]"}},
		{"matmul batch mismatch", func(c *ml.Context) { c.MatMul(f32(c, 2, 3, 4), f32(c, 3, 4, 5), false, false) },
			[]string{"matmul", "[2 3 4]", "[3 4 5]"}},
		{"linear bias mismatch", func(c *ml.Context) { c.Linear(f32(c, 2, 3), f32(c, 5, 3), f32(c, 4)) },
			[]string{"linear", "[4]", "[5 3]"}},
		{"conv channel mismatch", func(c *ml.Context) { c.Conv2D(f32(c, 1, 3, 5, 5), f32(c, 4, 2, 3, 3), nil, 1, 1) },
			[]string{"conv2d", "[1 3 5 5]", "[4 2 3 3]"}},
		{"conv bad stride", func(c *ml.Context) { c.Conv2D(f32(c, 1, 3, 5, 5), f32(c, 4, 3, 3, 3), nil, 0, 1) },
			[]string{"conv2d", "stride 0", "[4 3 3 3]"}},
		{"conv pad too large", func(c *ml.Context) { c.Conv2D(f32(c, 1, 3, 5, 5), f32(c, 4, 3, 3, 3), nil, 1, 3) },
			[]string{"conv2d", "pad 3", "[4 3 3 3]"}},
		{"group count", func(c *ml.Context) { c.GroupNorm(f32(c, 1, 6, 4, 4), 4, nil, nil, 1e-5) },
			[]string{"group_norm", "[1 6 4 4]", "4 groups"}},
		{"layer_norm gamma", func(c *ml.Context) { c.LayerNorm(f32(c, 3, 8), f32(c, 7), nil, 1e-5) },
			[]string{"layer_norm", "[7]", "[3 8]"}},
		{"broadcast", func(c *ml.Context) { c.Add(f32(c, 2, 3), f32(c, 4)) },
			[]string{"add", "[2 3]", "[4]"}},
		{"attention kvLen", func(c *ml.Context) {
			c.Attention(f32(c, 1, 2, 3, 16), f32(c, 1, 2, 8, 16), f32(c, 1, 2, 8, 16), nil, 9, 1)
		}, []string{"attention", "kvLen 9", "[1 2 3 16]", "[1 2 8 16]"}},
		{"attention limits dtype", func(c *ml.Context) {
			c.Attention(f32(c, 1, 2, 3, 16), f32(c, 1, 2, 8, 16), f32(c, 1, 2, 8, 16), f32(c, 3), 8, 1)
		}, []string{"attention", "limits f32[3]", "i32[3]"}},
		{"attention head size", func(c *ml.Context) {
			c.Attention(f32(c, 1, 2, 3, 16), f32(c, 1, 2, 8, 8), f32(c, 1, 2, 8, 8), nil, 8, 1)
		}, []string{"attention", "[1 2 3 16]", "[1 2 8 8]"}},
		{"reshape size", func(c *ml.Context) { c.Reshape(f32(c, 2, 3), 4, 2) },
			[]string{"reshape", "[2 3]", "[4 2]"}},
		{"concat mismatch", func(c *ml.Context) { c.Concat(0, f32(c, 2, 3), f32(c, 2, 4)) },
			[]string{"concat", "[2 3]", "[2 4]"}},
		{"slice out of range", func(c *ml.Context) { c.Slice(f32(c, 2, 3), 1, 1, 5) },
			[]string{"slice", "[1:5]", "[2 3]"}},
		{"set_slice out of range", func(c *ml.Context) { c.SetSlice(f32(c, 2, 8), f32(c, 2, 5), 1, 4) },
			[]string{"set_slice", "[2 5]", "[2 8]"}},
		{"pixel_shuffle channels", func(c *ml.Context) { c.PixelShuffle(f32(c, 1, 6, 2, 2), 2) },
			[]string{"pixel_shuffle", "[1 6 2 2]"}},
		{"permute repeated axis", func(c *ml.Context) { c.Permute(f32(c, 2, 3, 4), 0, 0, 1) },
			[]string{"permute", "[0 0 1]", "[2 3 4]"}},
		{"area_down larger", func(c *ml.Context) { c.AreaDown(f32(c, 1, 1, 4, 4), 3, 9) },
			[]string{"area_down", "[1 1 4 4]"}},
		{"upsample rank", func(c *ml.Context) { c.Upsample(f32(c, 4, 4), 8, 8, ml.Bilinear) },
			[]string{"upsample", "[4 4]"}},
		{"gather ids dtype", func(c *ml.Context) { c.Gather(f32(c, 5, 3), f32(c, 4)) },
			[]string{"gather", "[5 3]", "f32[4]"}},
		{"nearest_code width", func(c *ml.Context) { c.NearestCode(f32(c, 7, 4), f32(c, 9, 5)) },
			[]string{"nearest_code", "[7 4]", "[9 5]"}},
		{"cast to i32", func(c *ml.Context) { c.Cast(f32(c, 3), ml.I32) },
			[]string{"cast", "f32[3]", "i32"}},
		{"yuv frame size", func(c *ml.Context) {
			c.YUV420ToRGB(c.Input(ml.U8, []int{100}, make([]uint8, 100)), 8, 8, ml.ColorSpec{})
		}, []string{"yuv420p_to_rgb", "u8[100]", "8x8"}},
		{"rgb channels", func(c *ml.Context) { c.RGBToYUV420(f32(c, 1, 4, 2, 2), ml.ColorSpec{}) },
			[]string{"rgb_to_yuv420p", "[1 4 2 2]"}},
		{"tensor from another context", func(c *ml.Context) {
			other := ml.NewContext(c.Backend())
			defer other.Close()
			c.Add(f32(c, 2, 3), f32(other, 2, 3))
		}, []string{"add", "[2 3]", "another context"}},
		{"freed persistent tensor", func(c *ml.Context) {
			w, _ := ml.NewTensor(c.Backend(), ml.F32, []int{2}, []float32{1, 2})
			ml.Free(c.Backend(), w)
			c.Scale(w, 2)
		}, []string{"scale", "[2]", "freed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ml.NewContext(NewRefBackend())
			defer c.Close()
			ok := f32(c, 2, 2)
			tc.call(c)
			err := c.Err()
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			c.Scale(ok, 2) // valid, but the context has failed
			// a failed op's result can still be sized from (model code does) without panicking
			bad := c.MatMul(ok, ok, false, false)
			if d := bad.Dim(0) * bad.Dim(-1); d != 1 {
				t.Errorf("a failed context's result has dimensions %d", d)
			}
			if c.Err() != err {
				t.Errorf("later op replaced the error with %v", c.Err())
			}
			if e := c.Compute(); e != err {
				t.Errorf("Compute returned %v", e)
			}
			if _, e := c.Floats(ok); e != err {
				t.Errorf("Floats returned %v", e)
			}
		})
	}
}
