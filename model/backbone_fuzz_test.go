package model

import "testing"

// FuzzParseBackboneConfig checks that any JSON either fails ParseBackboneConfig with an error or
// yields a config whose expected weights all have positive shapes: one conv per layer and head.
func FuzzParseBackboneConfig(f *testing.F) {
	for _, s := range []string{
		`{"ch": 8, "blocks": 2, "k_in": 5, "scales": [1, 2, 4]}`,
		`{"ch": 1, "blocks": 0, "k_in": 1, "scales": [8]}`,
		`{"ch": 0, "blocks": -1, "k_in": 2, "scales": []}`,
		`{"ch": 8, "blocks": 2, "k_in": 3, "scales": [2, 2]}`,
		`{}`, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseBackboneConfig(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		m := map[string][]int{}
		c.expected(m)
		if len(m) != 2*(1+c.Blocks+len(c.Scales)) || c.Radius() < 1 {
			t.Fatalf("%+v: %d weights, radius %d", c, len(m), c.Radius())
		}
		for name, shape := range m {
			for _, d := range shape {
				if d < 1 {
					t.Fatalf("%+v: %s has shape %v", c, name, shape)
				}
			}
		}
	})
}
