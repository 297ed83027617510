package hitsr

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/ml/device"
)

const backboneModel = "../testdata/golden/backbone_model.safetensors"

func noise(w, h int, seed uint64) *imageio.Image {
	r := rand.New(rand.NewPCG(seed, 1))
	img := imageio.New(w, h, 3)
	for i := range img.Pix {
		img.Pix[i] = r.Float32()
	}
	return img
}

// A frame run in row bands (halo = the trunk's radius) equals the whole frame bit for bit, on
// every backend, for band heights down to one row.
func TestBackboneBandsEqualWholeFrame(t *testing.T) {
	for _, spec := range []string{"cpu", "vulkan:0"} {
		be, _, err := device.Open(spec)
		if err != nil {
			t.Logf("%s not tested: %v", spec, err)
			continue
		}
		m, err := LoadOn(backboneModel, be)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if m.Mode != Fidelity || !slices.Equal(m.Scales(), []int{1, 2, 4}) {
			t.Fatalf("mode %v scales %v", m.Mode, m.Scales())
		}
		img := noise(37, 29, 7)
		whole, err := m.Upscale(img, 1, 2, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, rows := range []int{1, 6, 13, 28} {
			m.BandPixels = rows * img.W
			banded, err := m.Upscale(img, 4, 2, 1)
			if err != nil {
				t.Fatal(err)
			}
			for i, j := range []int{2, 1, 0} {
				if !slices.Equal(banded[i].Pix, whole[j].Pix) {
					d := float32(0)
					for k, v := range banded[i].Pix {
						d = max(d, v-whole[j].Pix[k], whole[j].Pix[k]-v)
					}
					t.Errorf("%s: %d-row bands differ from the whole frame at ×%d (max %g)", spec, rows, 1<<j, d)
				}
			}
		}
		m.BandPixels = 1 << 20
		if _, err := m.Upscale(img, 3); err == nil {
			t.Error("×3 accepted in fidelity mode")
		}
		m.Mode = Full
		if _, err := m.Upscale(img, 2); err == nil {
			t.Error("full mode ran on a file without a transformer")
		}
	}
}
