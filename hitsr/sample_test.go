package hitsr

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/model"
	"github.com/hitsr/hitsr/model/golden"
)

// goldenSampling is the sampling train/make_v2_golden.py used for the <frame>.sampled.* tensors.
func goldenSampling(t *testing.T, f *model.File) model.Sampling {
	k, err1 := strconv.Atoi(f.Meta["sample_topk"])
	temp, err2 := strconv.ParseFloat(f.Meta["sample_temperature"], 64)
	seed, err3 := strconv.ParseUint(f.Meta["sample_seed"], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("golden sampling metadata %v: %v %v %v", f.Meta, err1, err2, err3)
	}
	return model.Sampling{TopK: k, Temperature: temp, Seed: seed}
}

// withSampling runs f with m.Sampling set to s, then restores it.
func withSampling(m *Model, s model.Sampling, f func()) {
	defer func(old model.Sampling) { m.Sampling = old }(m.Sampling)
	m.Sampling = s
	f()
}

// The sampled v2 pass matches train/hitsr/fullv2.py's upscale() with the same top-k,
// temperature and seed (the tiny golden model, CPU and lavapipe): token ids equal, images within
// the golden tolerances; most sampled tokens differ from the greedy ones.
func TestV2SampledGolden(t *testing.T) {
	f, err := model.ReadFile(filepath.Join(golden.Root, "testdata/golden/v2_io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	gc := golden.Case{Name: "tiny", Weights: v2Model, IO: f}
	s := goldenSampling(t, f)
	for spec, m := range v2Models(t) {
		for _, frame := range []string{"a", "b"} {
			t.Run(spec+"/"+frame, func(t *testing.T) {
				img := goldenImage(t, gc, frame+".input")
				var got residualPass
				withSampling(m, s, func() { got, err = m.residualFrame(img, []int{0, 1, 2}, true, false) })
				if err != nil {
					t.Fatal(err)
				}
				changed, total := 0, 0
				for k, ids := range got.ids {
					want := gc.Get(t, fmt.Sprintf("%s.sampled.ids.%d", frame, k))
					if !slices.Equal(ids, want.I) {
						t.Errorf("scale %d: ids %v, want %v", k, ids, want.I)
					}
					greedy := gc.Get(t, fmt.Sprintf("%s.ids.%d", frame, k))
					for i := range ids {
						if ids[i] != greedy.I[i] {
							changed++
						}
					}
					total += len(ids)
				}
				if changed < total/4 {
					t.Errorf("only %d of %d sampled tokens differ from greedy", changed, total)
				}
				for j, o := range got.outs {
					name := fmt.Sprintf("%s.sampled.out.%d", frame, 1<<j)
					shape := []int{1, 3, o.H, o.W}
					gc.CheckFloats(t, o.Pix, shape, name, golden.Rel)
					gc.CheckFloats(t, o.Pix, shape, name, golden.MAE)
				}
			})
		}
	}
}

// A seed gives the same tokens on the CPU and on lavapipe, and the same output bit for bit for
// every band height and transformer batch; another seed gives other tokens; top-k 1 is greedy.
func TestV2SamplingDeterministic(t *testing.T) {
	img := noise(45, 37, 11) // tile rows at 0, 8, 16, 24, 29
	s := model.Sampling{TopK: 5, Temperature: 4, Seed: 7}
	ids := func(m *Model, s model.Sampling) [][]int32 {
		var p residualPass
		var err error
		withSampling(m, s, func() { p, err = m.residualFrame(img, []int{0, 1, 2}, true, false) })
		if err != nil {
			t.Fatal(err)
		}
		return p.ids
	}
	var first [][]int32
	for spec, m := range v2Models(t) {
		got := ids(m, s)
		if first == nil {
			first = got
		} else if !slices.EqualFunc(got, first, slices.Equal) {
			t.Errorf("%s: tokens differ from the other backend's with the same seed", spec)
		}
		m.BandPixels, m.Batch = 1<<30, DefaultBatch
		var whole [][]float32
		withSampling(m, s, func() {
			outs, err := m.Upscale(img, 1, 2, 4)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outs {
				whole = append(whole, o.Pix)
			}
			for _, tc := range []struct{ bandPixels, batch int }{{1, DefaultBatch}, {tokenBandShare * 2 * 8 * 45, 4}, {1 << 30, 1}} {
				m.BandPixels, m.Batch = tc.bandPixels, tc.batch
				banded, err := m.Upscale(img, 1, 2, 4)
				if err != nil {
					t.Fatal(err)
				}
				for j, o := range banded {
					if !slices.Equal(o.Pix, whole[j]) {
						t.Errorf("%s: bands of %d px, batch %d: ×%d differs from the whole frame (max %g)",
							spec, tc.bandPixels, tc.batch, 1<<j, maxDiff(o.Pix, whole[j]))
					}
				}
			}
		})
		m.BandPixels, m.Batch = 1<<18, DefaultBatch

		other := s
		other.Seed++
		diff := 0
		for k, v := range ids(m, other) {
			for i := range v {
				if v[i] != got[k][i] {
					diff++
				}
			}
		}
		if diff == 0 {
			t.Errorf("%s: seeds %d and %d drew the same tokens", spec, s.Seed, other.Seed)
		}

		greedy := ids(m, model.Sampling{Temperature: 1})
		if top1 := ids(m, model.Sampling{TopK: 1, Temperature: 0.5, Seed: 3}); !slices.EqualFunc(top1, greedy, slices.Equal) {
			t.Errorf("%s: top-k 1 differs from greedy", spec)
		}
		if slices.EqualFunc(got, greedy, slices.Equal) {
			t.Errorf("%s: top-k %d at temperature %g drew the greedy tokens", spec, s.TopK, s.Temperature)
		}
	}
}

// A bad sampling is an error naming it; a v1 token model refuses to sample.
func TestV2SamplingErrors(t *testing.T) {
	m := v2Models(t)["cpu"]
	for _, s := range []model.Sampling{{TopK: -1, Temperature: 1}, {TopK: 3}, {TopK: 3, Temperature: -2}} {
		withSampling(m, s, func() {
			if _, err := m.Upscale(noise(9, 9, 1), 2); err == nil || !strings.Contains(err.Error(), "sampling: ") {
				t.Errorf("%+v: error %v", s, err)
			}
		})
	}
	v1 := loadCPU(t, tinyModel)
	v1.Sampling = model.Sampling{TopK: 3, Temperature: 1}
	if _, err := v1.Upscale(noise(9, 9, 1), 2); err == nil || !strings.Contains(err.Error(), "needs a model v2 file") {
		t.Errorf("v1 model sampling: error %v", err)
	}
}
