// Command devbench is the benchmark half of the GPU device check (scripts/device-check.sh,
// docs/training.md): it lists the Vulkan devices, times GEMM and conv2d on one backend, and times
// the shipped model on a frame size (×2 + ×4 from one pass; fidelity and full mode) with the FLOPs
// the engine counted. Results go to -json as they are measured, so a run stopped by its time box
// still leaves what it finished.
//
//	devbench -list                                  # Vulkan devices; exit 3 when none is a GPU
//	devbench -device vulkan -core -size 1920x1080 -json out.json
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/internal/benchutil"
	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/ml/device"
	"github.com/hitsr/hitsr/vk"
)

// Device is one Vulkan physical device as the loader reports it.
type Device struct {
	Index      int     `json:"index"`
	Name       string  `json:"name"`
	Type       string  `json:"type"`
	API        string  `json:"api"`
	HeapGiB    float64 `json:"heap_gib"`
	F16Storage bool    `json:"f16_storage"`
	Subgroup   int     `json:"subgroup"`
}

// Core is one compute-core measurement.
type Core struct {
	Op     string  `json:"op"`
	Shape  string  `json:"shape"`
	Ms     float64 `json:"ms"`
	GFLOPs float64 `json:"gflop_s"`
}

// ModelRun is one mode's frame rate on one frame size.
type ModelRun struct {
	Mode          string  `json:"mode"`
	Size          string  `json:"size"`
	Scales        []int   `json:"scales"`
	Batch         int     `json:"batch,omitempty"`
	WarmupS       float64 `json:"warmup_s"`
	Frames        int     `json:"frames"`
	SPerFrame     float64 `json:"s_per_frame"`
	FPS           float64 `json:"fps"`
	GFLOPPerFrame float64 `json:"gflop_per_frame"`
	TFLOPs        float64 `json:"tflop_s"`
	KFLOPPerOutPx float64 `json:"kflop_per_x4_px"`
	Note          string  `json:"note,omitempty"`
}

// Report is the JSON written to -json.
type Report struct {
	Devices []Device   `json:"devices"`
	Backend string     `json:"backend,omitempty"`
	Core    []Core     `json:"core"`
	Model   []ModelRun `json:"model"`
	Errors  []string   `json:"errors"`
	Done    bool       `json:"done"`
}

var (
	rep      = Report{Core: []Core{}, Model: []ModelRun{}, Errors: []string{}}
	jsonPath string
)

func save() {
	if jsonPath == "" {
		return
	}
	b, _ := json.MarshalIndent(rep, "", " ")
	tmp := jsonPath + ".tmp"
	if os.WriteFile(tmp, append(b, '\n'), 0o644) == nil {
		os.Rename(tmp, jsonPath)
	}
}

func fail(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	fmt.Fprintln(os.Stderr, "devbench:", msg)
	rep.Errors = append(rep.Errors, msg)
	save()
}

func main() {
	list := flag.Bool("list", false, "list the Vulkan devices and exit (status 3: no GPU among them, 2: no loader)")
	dev := flag.String("device", "vulkan", "backend (device.Open: vulkan, vulkan:N, cpu, a name)")
	core := flag.Bool("core", false, "GEMM and conv2d GFLOP/s on the backend")
	gemm := flag.String("gemm", "1024,4096", "square GEMM sizes (M=K=N)")
	conv := flag.String("conv", "256,1024", "conv2d 3×3 64→64 map sizes")
	modelPath := flag.String("model", "models/hitsr-tiny.safetensors", "model file")
	size := flag.String("size", "1920x1080", "input frame size for the model runs ('' skips them)")
	modes := flag.String("modes", "fidelity,full", "model modes to time")
	seconds := flag.Float64("seconds", 20, "time per mode after its warm-up frame (at least one frame)")
	batch := flag.Int("batch", 0, "tiles per Generate in full mode (0: the library default)")
	flag.StringVar(&jsonPath, "json", "", "write the results here (updated after each measurement)")
	flag.Parse()

	devs, err := vk.Devices()
	if err != nil {
		fail("vulkan: %v", err)
	}
	gpus := 0
	for _, d := range devs {
		rep.Devices = append(rep.Devices, Device{d.Index, d.Name, d.Type.String(), d.APIVersion,
			math.Round(float64(d.HeapSize)/(1<<30)*10) / 10, d.F16Storage, d.SubgroupSize})
		if d.Type != vk.DeviceCPU {
			gpus++
		}
		fmt.Printf("vulkan:%d %s (%s, API %s, %.1f GiB, f16 storage %v, subgroup %d)\n", d.Index, d.Name,
			d.Type, d.APIVersion, float64(d.HeapSize)/(1<<30), d.F16Storage, d.SubgroupSize)
	}
	save()
	if *list {
		switch {
		case err != nil:
			os.Exit(2)
		case gpus == 0:
			os.Exit(3)
		}
		return
	}
	if *core {
		if err := runCore(*dev, ints(*gemm), ints(*conv)); err != nil {
			fail("core: %v", err)
		}
	}
	if *size != "" {
		var w, h int
		if _, err := fmt.Sscanf(*size, "%dx%d", &w, &h); err != nil || w <= 0 || h <= 0 {
			fail("size %q: want WxH", *size)
			os.Exit(2)
		}
		for _, mode := range strings.Split(*modes, ",") {
			if err := runModel(*modelPath, *dev, mode, w, h, *seconds, *batch); err != nil {
				fail("model %s: %v", mode, err)
			}
		}
	}
	rep.Done = true
	save()
	if len(rep.Errors) > 0 {
		os.Exit(1)
	}
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// median times fn after one warm-up call: at least 3 runs and 1 s, at most 50 runs.
func median(fn func() error) (time.Duration, error) { return benchutil.Median(3, time.Second, 50, fn) }

// runCore times one op per Compute on fresh contexts (the output's allocation, recording and
// one submit included), as cmd/hitsr-bench does, on larger problems too.
func runCore(spec string, gemms, convs []int) error {
	b, notice, err := device.Open(spec)
	if err != nil {
		return err
	}
	defer b.Close()
	if notice != "" {
		fmt.Println(notice)
	}
	rep.Backend = b.Name()
	fmt.Println("backend", b.Name())
	timeOp := func(build func(*ml.Context)) (time.Duration, error) {
		return median(func() error {
			ctx := ml.NewContext(b)
			defer ctx.Close()
			build(ctx)
			return ctx.Compute()
		})
	}
	record := func(op, shape string, flop float64, d time.Duration) {
		c := Core{op, shape, d.Seconds() * 1e3, flop / d.Seconds() / 1e9}
		rep.Core = append(rep.Core, c)
		fmt.Printf("%-8s %-22s %10.3f ms %10.1f GFLOP/s\n", op, shape, c.Ms, c.GFLOPs)
		save()
	}
	for _, n := range gemms {
		ta, e1 := ml.NewTensor(b, ml.F32, []int{n, n}, benchutil.RandFloats(n*n))
		tb, e2 := ml.NewTensor(b, ml.F32, []int{n, n}, benchutil.RandFloats(n*n))
		if err := errors.Join(e1, e2); err != nil {
			return err
		}
		d, err := timeOp(func(ctx *ml.Context) { ctx.MatMul(ta, tb, false, false) })
		ml.Free(b, ta)
		ml.Free(b, tb)
		if err != nil {
			return fmt.Errorf("gemm %d: %w", n, err)
		}
		record("gemm", fmt.Sprintf("%d×%d×%d", n, n, n), 2*math.Pow(float64(n), 3), d)
	}
	for _, hw := range convs {
		tx, e1 := ml.NewTensor(b, ml.F32, []int{1, 64, hw, hw}, benchutil.RandFloats(64*hw*hw))
		tw, e2 := ml.NewTensor(b, ml.F32, []int{64, 64, 3, 3}, benchutil.RandFloats(64*64*9))
		tbias, e3 := ml.NewTensor(b, ml.F32, []int{64}, benchutil.RandFloats(64))
		if err := errors.Join(e1, e2, e3); err != nil {
			return err
		}
		d, err := timeOp(func(ctx *ml.Context) { ctx.Conv2D(tx, tw, tbias, 1, 1) })
		for _, t := range []*ml.Tensor{tx, tw, tbias} {
			ml.Free(b, t)
		}
		if err != nil {
			return fmt.Errorf("conv %d: %w", hw, err)
		}
		record("conv3x3", fmt.Sprintf("64→64 %d×%d", hw, hw), 2*float64(64*64*9*hw*hw), d)
	}
	return nil
}

// frame is a deterministic textured w×h RGB frame (smooth waves plus fine noise).
func frame(w, h int) *imageio.Image {
	img := imageio.New(w, h, 3)
	rng := rand.New(rand.NewPCG(1, 2))
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := 0.5 + 0.3*math.Sin(float64(x)*0.07+float64(c))*math.Cos(float64(y)*0.05) + 0.1*(rng.Float64()-0.5)
				img.Pix[(c*h+y)*w+x] = float32(v)
			}
		}
	}
	return img
}

// runModel loads the model on spec, runs one warm-up frame (pipelines, first allocations) and
// then frames for `seconds` (at least one), each ×2 + ×4 from one pass.
func runModel(path, spec, modeName string, w, h int, seconds float64, batch int) error {
	mode, err := hitsr.ParseMode(modeName)
	if err != nil {
		return err
	}
	m, err := hitsr.Load(path, spec)
	if err != nil {
		return err
	}
	defer m.Close()
	if m.Notice != "" {
		fmt.Println(m.Notice)
	}
	if rep.Backend == "" {
		rep.Backend = m.Backend().Name()
	}
	r := ModelRun{Mode: modeName, Size: fmt.Sprintf("%dx%d", w, h), Scales: []int{2, 4}}
	if !m.Has(mode) {
		r.Note = "the model file has no " + modeName + " network"
		rep.Model = append(rep.Model, r)
		save()
		fmt.Println(modeName+":", r.Note)
		return nil
	}
	m.Mode = mode
	if mode == hitsr.Full {
		if batch > 0 {
			m.Batch = batch
		}
		r.Batch = m.Batch
	}
	img := frame(w, h)
	t0 := time.Now()
	if _, err := m.Upscale(img, 2, 4); err != nil {
		return err
	}
	r.WarmupS = time.Since(t0).Seconds()
	f0, start := m.Flops(), time.Now()
	el := 0.0
	if r.WarmupS >= seconds { // a frame slower than the budget: the warm-up frame is the figure
		r.Frames, el, f0 = 1, r.WarmupS, 0
		r.Note = "one cold frame (the warm-up frame took longer than -seconds)"
	} else {
		for r.Frames == 0 || time.Since(start).Seconds() < seconds {
			if _, err := m.Upscale(img, 2, 4); err != nil {
				return err
			}
			r.Frames++
		}
		el = time.Since(start).Seconds()
	}
	r.SPerFrame = el / float64(r.Frames)
	r.FPS = 1 / r.SPerFrame
	r.GFLOPPerFrame = (m.Flops() - f0) / float64(r.Frames) / 1e9
	r.TFLOPs = r.GFLOPPerFrame / r.SPerFrame / 1e3
	r.KFLOPPerOutPx = r.GFLOPPerFrame * 1e6 / float64(16*w*h)
	rep.Model = append(rep.Model, r)
	save()
	fmt.Printf("%s %s → ×2+×4 on %s: warm-up %.2f s, %d frames, %.3f s/frame = %.3f frames/s, %.1f GFLOP/frame (%.1f kFLOP per ×4 px), %.2f TFLOP/s\n",
		modeName, r.Size, m.Backend().Name(), r.WarmupS, r.Frames, r.SPerFrame, r.FPS, r.GFLOPPerFrame, r.KFLOPPerOutPx, r.TFLOPs)
	return nil
}
