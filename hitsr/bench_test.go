package hitsr

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/ml/cpu"
	"github.com/hitsr/hitsr/model"
)

// benchModels loads the shipped model on each backend in HITSR_BENCH_DEVICES (default
// "cpu,vulkan:0"; unavailable ones are logged and skipped) and runs fn in each mode (spec
// names backend and mode).
func benchModels(b *testing.B, fn func(b *testing.B, spec string, m *Model)) {
	if _, err := os.Stat(shippedModel); err != nil {
		b.Skip(err)
	}
	specs := []string{"cpu", "vulkan:0"}
	if s := os.Getenv("HITSR_BENCH_DEVICES"); s != "" {
		specs = filepath.SplitList(strings.ReplaceAll(s, ",", string(filepath.ListSeparator)))
	}
	for _, spec := range specs {
		m, err := Load(shippedModel, spec)
		if err != nil {
			b.Logf("%s: %v", spec, err)
			continue
		}
		for _, mode := range []Mode{Fidelity, Full} {
			if m.Has(mode) {
				m.Mode = mode
				fn(b, spec+"/"+mode.String(), m)
			}
		}
		m.Close()
	}
}

// BenchmarkUpscale360p: a 640×360 frame to ×4 (2560×1440) per backend, in output Mpx/s.
// HITSR_BENCH_SIZE=WxH overrides the input size (CPU runs of the full frame take minutes).
func BenchmarkUpscale360p(b *testing.B) {
	w, h := 640, 360
	if s := os.Getenv("HITSR_BENCH_SIZE"); s != "" {
		fmt.Sscanf(s, "%dx%d", &w, &h)
	}
	img := smooth(w, h)
	benchModels(b, func(b *testing.B, spec string, m *Model) {
		b.Run(fmt.Sprintf("%s/%dx%d", spec, w, h), func(b *testing.B) {
			f0 := m.Flops()
			for b.Loop() {
				if _, err := m.Upscale(img, 4); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(16*w*h*b.N)/1e6/b.Elapsed().Seconds(), "outMpx/s")
			b.ReportMetric((m.Flops()-f0)/1e9/b.Elapsed().Seconds(), "GFLOP/s")
		})
	})
}

// BenchmarkOnePass compares ×2+×4 from one pass with ×4 alone (the ×2 decode is the extra).
func BenchmarkOnePass(b *testing.B) {
	img := smooth(64, 48)
	benchModels(b, func(b *testing.B, spec string, m *Model) {
		for _, sc := range [][]int{{4}, {2, 4}, {1, 2, 4}} {
			b.Run(fmt.Sprintf("%s/x%v", spec, sc), func(b *testing.B) {
				var out []*imageio.Image
				for b.Loop() {
					var err error
					if out, err = m.Upscale(img, sc...); err != nil {
						b.Fatal(err)
					}
				}
				px := 0
				for _, o := range out {
					px += o.W * o.H
				}
				b.ReportMetric(float64(px*b.N)/1e6/b.Elapsed().Seconds(), "outMpx/s")
			})
		}
	})
}

// BenchmarkBatch: tiles per Generate call (81 tiles of a 100×100 input, ×4).
func BenchmarkBatch(b *testing.B) {
	img := smooth(100, 100)
	benchModels(b, func(b *testing.B, spec string, m *Model) {
		for _, bs := range []int{8, 16, 32, 81} {
			m.Batch = bs
			b.Run(fmt.Sprintf("%s/batch=%d", spec, bs), func(b *testing.B) {
				for b.Loop() {
					if _, err := m.Upscale(img, 4); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(81*b.N), "ms/tile")
			})
		}
	})
}

// v2BenchModel is the model v2 file a benchmark runs: HITSR_V2_MODEL, else the shipped model;
// the benchmark is skipped when the file holds no v2 token path.
func v2BenchModel(b *testing.B) string {
	path := cmp.Or(os.Getenv("HITSR_V2_MODEL"), shippedModel)
	f, err := model.ReadFile(path)
	if err != nil {
		b.Skip(err)
	}
	if w, err := model.Check(f); err != nil || !w.Cfg.V2() || !w.Transformer {
		b.Skipf("%s holds no model v2 token path (HITSR_V2_MODEL names a file that does; %v)", path, err)
	}
	return path
}

// BenchmarkV2Cost: a model v2 file (HITSR_V2_MODEL, default the shipped model when it is one) on a
// 320×180 frame (HITSR_BENCH_SIZE=WxH overrides) per backend in HITSR_BENCH_DEVICES (default cpu):
// counted kFLOP per ×4 output pixel and wall time per frame of full mode for ×1+×2+×4, ×2+×4 and ×2
// only (the HIT early exit), and of fidelity mode for the same; then the ×2-only share of ×2+×4
// (issue 10: ≤ 45 %, FLOPs and wall time), of the whole pass and of the token path alone.
func BenchmarkV2Cost(b *testing.B) {
	path := v2BenchModel(b)
	w, h := 320, 180
	if s := os.Getenv("HITSR_BENCH_SIZE"); s != "" {
		fmt.Sscanf(s, "%dx%d", &w, &h)
	}
	img := smooth(w, h)
	specs := []string{"cpu"}
	if s := os.Getenv("HITSR_BENCH_DEVICES"); s != "" {
		specs = strings.Split(s, ",")
	}
	for _, spec := range specs {
		m, err := Load(path, spec)
		if err != nil {
			b.Logf("%s: %v", spec, err)
			continue
		}
		type cost struct{ kflop, ms float64 }
		costs := map[string]cost{}
		run := func(mode Mode, scales ...int) {
			m.Mode = mode
			name := fmt.Sprintf("%s/%s/x%v", spec, mode, scales)
			b.Run(name, func(b *testing.B) {
				f0 := m.Flops()
				for b.Loop() {
					if _, err := m.Upscale(img, scales...); err != nil {
						b.Fatal(err)
					}
				}
				c := cost{(m.Flops() - f0) / float64(b.N) / float64(16*w*h) / 1e3, b.Elapsed().Seconds() * 1e3 / float64(b.N)}
				costs[name] = c
				b.ReportMetric(c.kflop, "kFLOP/x4px")
				b.ReportMetric(c.ms, "ms/frame")
			})
		}
		run(Full, 1, 2, 4)
		run(Full, 2, 4)
		run(Full, 2)
		run(Fidelity, 1, 2, 4)
		run(Fidelity, 2, 4)
		run(Fidelity, 2)
		at := func(mode Mode, scales string) cost { return costs[fmt.Sprintf("%s/%s/x[%s]", spec, mode, scales)] }
		both, x2 := at(Full, "2 4"), at(Full, "2")
		if both.ms > 0 && x2.ms > 0 { // printed: a parent benchmark's log shows only with -v
			fb, f2 := at(Fidelity, "2 4"), at(Fidelity, "2")
			fmt.Printf("%s %dx%d: ×2-only / ×2+×4 = %.1f %% of FLOPs, %.1f %% of wall time; the token path alone "+
				"(full − fidelity) %.1f %% of FLOPs, %.1f %% of wall time\n", spec, w, h, 100*x2.kflop/both.kflop, 100*x2.ms/both.ms,
				100*(x2.kflop-f2.kflop)/(both.kflop-fb.kflop), 100*(x2.ms-f2.ms)/(both.ms-fb.ms))
		}
		m.Close()
	}
}

// BenchmarkOpenBLAS is the same-run baseline for the model's GFLOP/s: sgemm 1024³ on all cores.
func BenchmarkOpenBLAS(b *testing.B) {
	const n = 1024
	x := make([]float32, n*n)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	y := make([]float32, n*n)
	for b.Loop() {
		cpu.Sgemm(false, false, n, n, n, 1, x, n, x, n, 0, y, n)
	}
	b.ReportMetric(2*n*n*n*float64(b.N)/1e9/b.Elapsed().Seconds(), "GFLOP/s")
}
