package model

import "testing"

// Uniform is the hash of docs/model.md §10: values pinned from train/hitsr/transformer.py's
// uniform_hash (and an independent big-integer evaluation in Python).
func TestSamplingUniform(t *testing.T) {
	for _, tc := range []struct {
		seed       uint64
		y, x, k, i int
		want       float32
	}{
		{0, 0, 0, 0, 0, 0.12964558601379395},
		{7, 3, 5, 2, 0, 0.46721363067626953},
		{7, 3, 5, 2, 1, 0.7228743433952332},
		{7, 3, 5, 2, 2, 0.3125760555267334},
		{7, 3, 5, 2, 3, 0.6154090166091919},
	} {
		if got := (Sampling{Seed: tc.seed}).Uniform(tc.y, tc.x, tc.k, tc.i); got != tc.want {
			t.Errorf("seed %d (%d, %d, %d, %d): u %v, want %v", tc.seed, tc.y, tc.x, tc.k, tc.i, got, tc.want)
		}
	}
}

func TestSamplingValidate(t *testing.T) {
	for _, tc := range []struct {
		s  Sampling
		ok bool
	}{
		{Sampling{}, true},
		{Sampling{TopK: 8, Temperature: 1}, true},
		{Sampling{TopK: 8, Temperature: 1e-50}, false}, // 0 as float32
		{Sampling{TopK: 8, Temperature: 1e39}, false},  // infinite as float32
		{Sampling{TopK: -1, Temperature: 1}, false},
		{Sampling{TopK: 2}, false},
	} {
		if err := tc.s.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v", tc.s, err)
		}
	}
}
