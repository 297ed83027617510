// Package benchutil holds the timing helpers the benchmark commands share.
package benchutil

import (
	"math/rand/v2"
	"slices"
	"time"
)

// Median times fn after one warm-up call: at least reps runs and minDur, at most maxRuns.
func Median(reps int, minDur time.Duration, maxRuns int, fn func() error) (time.Duration, error) {
	if err := fn(); err != nil {
		return 0, err
	}
	var ts []time.Duration
	start := time.Now()
	for len(ts) < reps || time.Since(start) < minDur && len(ts) < maxRuns {
		t0 := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		ts = append(ts, time.Since(t0))
	}
	slices.Sort(ts)
	return ts[len(ts)/2], nil
}

// RandFloats is n uniform values in [−1, 1).
func RandFloats(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = rand.Float32()*2 - 1
	}
	return v
}
