package model_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/ml/device"
)

// BenchmarkGenerate times one greedy pass (×1/×2/×4) of the shipped model over a batch of
// tiles; HITSR_BENCH_DEVICES overrides the backends ("cpu,vulkan:0").
func BenchmarkGenerate(b *testing.B) {
	path := filepath.Join("..", "models/hitsr-tiny.safetensors")
	if _, err := os.Stat(path); err != nil {
		b.Skip(err)
	}
	specs := []string{"cpu", "vulkan:0"}
	if s := os.Getenv("HITSR_BENCH_DEVICES"); s != "" {
		specs = filepath.SplitList(s)
	}
	for _, spec := range specs {
		be, _, err := device.Open(spec)
		if err != nil {
			b.Logf("%s: %v", spec, err)
			continue
		}
		b.Cleanup(func() { be.Close() }) // registered first, so it runs after the model's cleanup
		m := open(b, path, be)
		for _, B := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/tiles=%d", spec, B), func(b *testing.B) {
				S := m.Cfg.Tile
				lr := make([]float32, B*3*S*S)
				for i := range lr {
					lr[i] = float32(i%97) / 97
				}
				for b.Loop() {
					c := ml.NewContext(be)
					g := m.Generate(c, c.Input(ml.F32, []int{B, 3, S, S}, lr), 0)
					if _, err := c.Floats(g.Images[len(g.Images)-1]); err != nil {
						b.Fatal(err)
					}
					c.Close()
				}
				b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N*B)*1e3, "ms/tile")
			})
		}
	}
}
