package model

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sampling is how GenerateCond picks each token (docs/model.md §10, Sampling): greedy (the
// argmax) when TopK is 0, else an inverse-CDF draw among the TopK largest logits divided by
// Temperature, with a uniform hashed from Seed and the token's place, so a draw does not depend
// on the batch, the band or the backend.
type Sampling struct {
	TopK        int     // 0: greedy; ≥ 1: candidates (more than the vocabulary: all)
	Temperature float64 // > 0; divides the logits (1: the model's distribution)
	Seed        uint64
}

// Greedy reports argmax decoding.
func (s Sampling) Greedy() bool { return s.TopK == 0 }

// Validate checks TopK ≥ 0 and, when sampling, a finite Temperature > 0 (as float32).
func (s Sampling) Validate() error {
	if s.TopK < 0 {
		return fmt.Errorf("sampling: top-k %d: want ≥ 0 (0: greedy)", s.TopK)
	}
	if t := float32(s.Temperature); !s.Greedy() && !(t > 0 && t <= math.MaxFloat32) {
		return fmt.Errorf("sampling: temperature %g: want a finite number > 0", s.Temperature)
	}
	return nil
}

// String is the sampling as --sample writes it: "greedy" or "topk=K:temperature=T:seed=S".
func (s Sampling) String() string {
	if s.Greedy() {
		return "greedy"
	}
	return fmt.Sprintf("topk=%d:temperature=%g:seed=%d", s.TopK, s.Temperature, s.Seed)
}

// ParseSampling reads String's form: "greedy", or "topk=K" with optional ":temperature=T"
// (default 1) and ":seed=S" (default 0), keys in any order.
func ParseSampling(spec string) (Sampling, error) {
	s := Sampling{Temperature: 1}
	if spec == "greedy" {
		return s, nil
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(spec, ":") {
		key, val, ok := strings.Cut(kv, "=")
		if !ok || seen[key] {
			return s, fmt.Errorf("sampling %q: want greedy or topk=K[:temperature=T][:seed=S]", spec)
		}
		seen[key] = true
		var err error
		switch key {
		case "topk":
			if s.TopK, err = strconv.Atoi(val); err == nil && s.TopK < 1 {
				err = errors.New("want ≥ 1")
			}
		case "temperature":
			s.Temperature, err = strconv.ParseFloat(val, 64)
		case "seed":
			s.Seed, err = strconv.ParseUint(val, 10, 64)
		default:
			err = errors.New("unknown key (want topk, temperature, seed)")
		}
		if ne := (*strconv.NumError)(nil); errors.As(err, &ne) {
			err = fmt.Errorf("%q: %w", val, ne.Err)
		}
		if err != nil {
			return s, fmt.Errorf("sampling %q: %s: %v", spec, key, err)
		}
	}
	if !seen["topk"] {
		return s, fmt.Errorf("sampling %q: no topk=K", spec)
	}
	return s, s.Validate()
}

// mix is SplitMix64's finaliser.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// Uniform is the u in [0, 1) of the token at position i of scale k (0-based) in the tile whose
// origin is (y, x): a counter-based hash of the seed and those four numbers (24 bits, exact in
// float32). PyTorch: hitsr.transformer.uniform_hash.
func (s Sampling) Uniform(y, x, k, i int) float32 {
	h := mix(s.Seed)
	for _, v := range [...]int{y, x, k, i} {
		h = mix((h ^ uint64(v)) + 0x9E3779B97F4A7C15)
	}
	return float32(h>>40) / (1 << 24)
}
