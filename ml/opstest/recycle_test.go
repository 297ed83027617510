package opstest

import (
	"fmt"
	"math"
	"testing"

	"github.com/hitsr/hitsr/ml"
)

// countingBackend tracks the memory a backend holds: live and peak bytes.
type countingBackend struct {
	ml.Backend
	size       map[ml.Storage]int64
	live, peak int64
}

func (b *countingBackend) Alloc(dtype ml.DType, n int) (ml.Storage, error) {
	s, err := b.Backend.Alloc(dtype, n)
	if err == nil {
		b.size[s] = int64(n * dtype.Size())
		b.live += b.size[s]
		b.peak = max(b.peak, b.live)
	}
	return s, err
}

func (b *countingBackend) Free(s ml.Storage) {
	b.live -= b.size[s]
	delete(b.size, s)
	b.Backend.Free(s)
}

// recycleCases: a deep chain of which the caller holds only the result, and one holding some
// intermediates (one through a view only) across a Compute in the middle.
var recycleCases = []opCase{
	{name: "deep_chain", build: func(g *gen) *ml.Tensor {
		c := g.ctx
		x := g.f32(2, 8, 33, 31)
		w := g.weight(8, 8, 3, 3)
		for range 12 {
			x = c.Add(x, c.SiLU(c.Conv2D(x, w, nil, 1, 1)))
		}
		return x
	}},
	{name: "held_intermediates", build: func(g *gen) *ml.Tensor {
		c := g.ctx
		x := g.f32(1, 4, 17, 19)
		w, b := g.weight(4, 4, 3, 3), g.f32(4)
		for i := range 9 {
			x = c.GELU(c.Conv2D(x, w, b, 1, 1))
			switch i {
			case 1:
				g.keep = append(g.keep, x)
			case 4:
				g.keep = append(g.keep, c.Reshape(x, 4, -1)) // only a view of x is held
			}
		}
		g.compute() // held tensors survive it; the dropped ones serve the next batch
		y := c.Scale(x, 2)
		for range 4 {
			y = c.Add(y, c.SiLU(y))
		}
		g.keep = append(g.keep, x)
		return y
	}},
}

// runHeld runs a case with RecycleBytes set to limit and returns its result and held
// intermediates, and the peak memory the backend held.
func runHeld(b ml.Backend, c opCase, seed uint64, limit int64) ([][]float64, int64, error) {
	defer func(old int64) { ml.RecycleBytes = old }(ml.RecycleBytes)
	ml.RecycleBytes = limit
	cb := &countingBackend{Backend: b, size: map[ml.Storage]int64{}}
	g := newGen(cb, seed, c.half)
	defer g.done()
	out := c.build(g)
	var vals [][]float64
	for _, t := range append([]*ml.Tensor{out}, g.keep...) {
		v, err := values(g.ctx, t)
		if err != nil {
			return nil, 0, err
		}
		vals = append(vals, v)
	}
	return vals, cb.peak, g.err
}

// TestRecycle: with memory reuse on in every Compute (RecycleBytes 0), results and every
// tensor the caller still holds read the same bits as without reuse, on every backend, and a
// deep chain needs a fraction of the memory.
func TestRecycle(t *testing.T) {
	for _, b := range append(backends(t), NewRefBackend()) {
		t.Run(b.Name(), func(t *testing.T) {
			for _, c := range append(recycleCases, chains...) {
				seed := caseSeed(c.name)
				want, all, err := runHeld(b, c, seed, math.MaxInt64)
				if err != nil {
					t.Fatalf("%s without reuse: %v", c.name, err)
				}
				got, peak, err := runHeld(b, c, seed, 0)
				if err != nil {
					t.Fatalf("%s with reuse: %v", c.name, err)
				}
				for i := range want {
					if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
						t.Errorf("%s: tensor %d (0: the result, then held ones) differs with memory reuse", c.name, i)
					}
				}
				if c.name == "deep_chain" && 4*peak > all {
					t.Errorf("%s: peak %d bytes with reuse, %d without", c.name, peak, all)
				}
				t.Logf("%s: peak %d bytes with reuse, %d without", c.name, peak, all)
			}
		})
	}
}
