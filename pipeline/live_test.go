package pipeline

import "testing"

// The default queue: 4 frames, or in realtime two probe windows of frames (at least 4).
func TestDefaultQueue(t *testing.T) {
	for _, c := range []struct {
		realtime bool
		fps      float64
		want     int
	}{{false, 30, 4}, {true, 10, 20}, {true, 29.97, 60}, {true, 1, 4}, {true, 0, 4}, {true, 1000, 256}} {
		if got := DefaultQueue(c.realtime, c.fps); got != c.want {
			t.Errorf("DefaultQueue(%v, %g) = %d, want %d", c.realtime, c.fps, got, c.want)
		}
	}
}
