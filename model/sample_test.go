package model

import (
	"strings"
	"testing"
)

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

func TestParseSampling(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Sampling
		err  string // "" for none
	}{
		{"greedy", Sampling{Temperature: 1}, ""},
		{"topk=8", Sampling{TopK: 8, Temperature: 1}, ""},
		{"topk=8:temperature=0.7:seed=42", Sampling{TopK: 8, Temperature: 0.7, Seed: 42}, ""},
		{"seed=3:topk=2", Sampling{TopK: 2, Temperature: 1, Seed: 3}, ""},
		{"", Sampling{}, "want greedy or topk"},
		{"topk", Sampling{}, "want greedy or topk"},
		{"topk=0", Sampling{}, "topk: want ≥ 1"},
		{"topk=x", Sampling{}, `topk: "x": invalid syntax`},
		{"topk=4:topk=5", Sampling{}, "want greedy or topk"},
		{"temperature=2", Sampling{}, "no topk=K"},
		{"topk=4:temperature=0", Sampling{}, "temperature 0: want a finite number > 0"},
		{"topk=4:temperature=nan", Sampling{}, "want a finite number > 0"},
		{"topk=4:seed=-1", Sampling{}, `seed: "-1": invalid syntax`},
		{"topk=4:k=1", Sampling{}, "k: unknown key"},
	} {
		got, err := ParseSampling(tc.spec)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q: %+v, %v; want %+v", tc.spec, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one containing %q", tc.spec, err, tc.err)
		case err == nil:
			if back, _ := ParseSampling(got.String()); back != got {
				t.Errorf("%q: String %q parses to %+v", tc.spec, got.String(), back)
			}
		}
	}
}
