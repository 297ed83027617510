package hitsr

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/ml/device"
	"github.com/hitsr/hitsr/model"
	"github.com/hitsr/hitsr/model/golden"
)

const v2Model = "../testdata/golden/v2_model.safetensors"

func TestTileOrigins(t *testing.T) {
	for _, tc := range []struct {
		L    int
		want []int
	}{{1, []int{0}}, {5, []int{0}}, {8, []int{0}}, {9, []int{0, 1}}, {16, []int{0, 8}}, {19, []int{0, 8, 11}},
		{27, []int{0, 8, 16, 19}}, {32, []int{0, 8, 16, 24}}} {
		if got := TileOrigins(tc.L, 8); !slices.Equal(got, tc.want) {
			t.Errorf("TileOrigins(%d, 8) = %v, want %v", tc.L, got, tc.want)
		}
	}
}

// v2Models loads the v2 golden model in full mode on the CPU and on Vulkan device 0 (skipped with
// a log line when it does not open).
func v2Models(t *testing.T) map[string]*Model { return v2ModelsOf(t, v2Model) }

// v2ModelsOf is v2Models for the model file at path.
func v2ModelsOf(t *testing.T, path string) map[string]*Model {
	ms := map[string]*Model{}
	for _, spec := range []string{"cpu", "vulkan:0"} {
		be, _, err := device.Open(spec)
		if err != nil {
			t.Logf("%s not tested: %v", spec, err)
			continue
		}
		m, err := LoadOn(path, be)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		if m.Mode != Fidelity || !m.Has(Full) {
			t.Fatalf("v2 model: mode %v, full mode %v", m.Mode, m.Has(Full))
		}
		m.Mode = Full
		ms[spec] = m
	}
	return ms
}

// goldenImage is golden tensor name [1,3,H,W] as an image.
func goldenImage(t *testing.T, gc golden.Case, name string) *imageio.Image {
	h := gc.Get(t, name)
	return &imageio.Image{W: h.Shape[3], H: h.Shape[2], C: 3, Pix: h.F}
}

// The v2 full pass matches train/hitsr/fullv2.py's upscale() on a frame with shifted edge tiles
// and on one smaller than a tile (the tiny golden model), and on a frame of the shipped model:
// token ids equal, images within the golden tolerances. A ×2-only pass (early exit) equals the
// full pass's ×1/×2 with fewer FLOPs.
func TestV2Golden(t *testing.T) {
	for _, c := range []struct{ name, io, weights string }{
		{"tiny", "v2_io", v2Model},
		{"shipped", "shipped_v2_io", shippedModel},
	} {
		f, err := model.ReadFile(filepath.Join(golden.Root, "testdata/golden", c.io+".safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		testV2Golden(t, golden.Case{Name: c.name, Weights: c.weights, IO: f}, v2ModelsOf(t, c.weights))
	}
}

func testV2Golden(t *testing.T, gc golden.Case, models map[string]*Model) {
	for spec, m := range models {
		for _, frame := range []string{"a", "b"} {
			if _, ok := gc.IO.Tensors[frame+".input"]; !ok {
				continue
			}
			t.Run(gc.Name+"/"+spec+"/"+frame, func(t *testing.T) {
				img := goldenImage(t, gc, frame+".input")
				f0 := m.Flops()
				full, err := m.residualFrame(img, []int{0, 1, 2}, true, false)
				if err != nil {
					t.Fatal(err)
				}
				fullFlops := m.Flops() - f0
				if len(full.ids) != m.cfg.K() {
					t.Fatalf("%d token scales, want %d", len(full.ids), m.cfg.K())
				}
				for k, ids := range full.ids {
					want := gc.Get(t, fmt.Sprintf("%s.ids.%d", frame, k))
					if !slices.Equal(ids, want.I) {
						t.Errorf("scale %d: ids %v, want %v", k, ids, want.I)
					}
				}
				for j, o := range full.outs {
					name := fmt.Sprintf("%s.out.%d", frame, 1<<j)
					shape := []int{1, 3, o.H, o.W}
					gc.CheckFloats(t, o.Pix, shape, name, golden.Rel)
					gc.CheckFloats(t, o.Pix, shape, name, golden.MAE)
				}

				f0 = m.Flops()
				x2, err := m.residualFrame(img, []int{1}, true, false)
				if err != nil {
					t.Fatal(err)
				}
				x2Flops := m.Flops() - f0
				nTok := len(m.cfg.Segments[0]) + len(m.cfg.Segments[1])
				if len(x2.ids) != nTok || !slices.EqualFunc(x2.ids, full.ids[:nTok], slices.Equal) {
					t.Errorf("×2-only ids differ from the full pass's (%d scales)", len(x2.ids))
				}
				if !slices.Equal(x2.outs[0].Pix, full.outs[1].Pix) {
					t.Errorf("×2-only output differs from the full pass's (max %g)", maxDiff(x2.outs[0].Pix, full.outs[1].Pix))
				}
				if !(x2Flops < fullFlops) {
					t.Errorf("×2-only %.0f FLOPs, full %.0f", x2Flops, fullFlops)
				}
				x1, err := m.Upscale(img, 1)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(x1[0].Pix, full.outs[0].Pix) {
					t.Errorf("×1-only output differs from the full pass's (max %g)", maxDiff(x1[0].Pix, full.outs[0].Pix))
				}
			})
		}
	}
}

// A frame run in bands of whole tile rows (halo = the backbone's radius) equals the frame in one
// band bit for bit, for every band height and transformer batch; outputs of requested scales in
// any order.
func TestV2BandsEqualWholeFrame(t *testing.T) {
	for spec, m := range v2Models(t) {
		img := noise(45, 37, 3) // tile rows at 0, 8, 16, 24, 29
		m.BandPixels, m.Batch = 1<<30, DefaultBatch
		whole, err := m.Upscale(img, 1, 2, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ bandPixels, batch int }{{1, DefaultBatch}, {tokenBandShare * 2 * 8 * 45, 4}, {tokenBandShare * 3 * 8 * 45, 7}, {1 << 30, 1}} {
			m.BandPixels, m.Batch = tc.bandPixels, tc.batch
			banded, err := m.Upscale(img, 4, 2, 1)
			if err != nil {
				t.Fatal(err)
			}
			for i, j := range []int{2, 1, 0} {
				if !slices.Equal(banded[i].Pix, whole[j].Pix) {
					t.Errorf("%s: bands of %d px, batch %d: ×%d differs from the whole frame (max %g)",
						spec, tc.bandPixels, tc.batch, 1<<j, maxDiff(banded[i].Pix, whole[j].Pix))
				}
			}
		}
		m.BandPixels, m.Batch = 1<<18, DefaultBatch
	}
}

// A side shorter than a tile is replicate-padded to the tile and the outputs cropped back: the
// result is the top-left of the pass over the padded frame.
func TestV2SmallerThanTile(t *testing.T) {
	m := v2Models(t)["cpu"]
	for _, sz := range [][2]int{{1, 1}, {20, 3}, {5, 13}} {
		img := noise(sz[0], sz[1], 5)
		padImg := pad(img, m.cfg.Tile)
		padded := &imageio.Image{W: padImg.w, H: padImg.h, C: 3, Pix: padImg.pix}
		got, err := m.Upscale(img, 1, 2, 4)
		if err != nil {
			t.Fatal(err)
		}
		want, err := m.Upscale(padded, 1, 2, 4)
		if err != nil {
			t.Fatal(err)
		}
		for j, s := range []int{1, 2, 4} {
			if got[j].W != sz[0]*s || got[j].H != sz[1]*s {
				t.Fatalf("%v ×%d: %d×%d", sz, s, got[j].W, got[j].H)
			}
			if c := crop(want[j], got[j].W, got[j].H); !slices.Equal(got[j].Pix, c.Pix) {
				t.Errorf("%v ×%d differs from the padded frame's pass (max %g)", sz, s, maxDiff(got[j].Pix, c.Pix))
			}
		}
	}
}

// Fidelity mode on a v2 file runs the backbone alone (the default mode); full mode adds residuals.
func TestV2Modes(t *testing.T) {
	m := v2Models(t)["cpu"]
	img := noise(19, 11, 9)
	full, err := m.Upscale(img, 2)
	if err != nil {
		t.Fatal(err)
	}
	m.Mode = Fidelity
	defer func() { m.Mode = Full }()
	f0 := m.Flops()
	fid, err := m.Upscale(img, 2)
	if err != nil {
		t.Fatal(err)
	}
	bbFlops := m.Flops() - f0
	if d := maxDiff(full[0].Pix, fid[0].Pix); d == 0 {
		t.Error("the full pass added no residual")
	}
	// the backbone's cost per LR pixel (docs/model.md §8), heads ×1 and ×2 only: nothing else ran
	bc := m.bb.Cfg
	perPx := 2 * (3*bc.Ch*bc.KIn*bc.KIn + bc.Blocks*9*bc.Ch*bc.Ch + 9*bc.Ch*3*4)
	if want := float64(perPx * img.W * img.H); bbFlops != want {
		t.Errorf("fidelity mode counted %.0f FLOPs, the backbone's ×2 head %.0f", bbFlops, want)
	}
}
