package hitsr

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/internal/fftest"
	"github.com/hitsr/hitsr/metrics"
)

// Temporal reuse on real video (issue 12), per clip of $HITSR_DATA/video (default
// /work/shared/data) and scale ×2, ×4: HITSR_BENCH_FRAMES frames (default 48) from 1 s in, HR =
// the frames scaled to LR·s (LR 160×90, literature-protocol downscale of the HR). Per method
// (bicubic, fidelity, full without reuse, full with reuse at each threshold of
// HITSR_REUSE_THRESHOLDS, default DefaultReuseThreshold, and fidelity and full with reuse (the
// first threshold) stabilised at each weight of HITSR_STABILIZE, default DefaultStabilize;
// HITSR_STILL_LEVEL sets StillLevel): mean PSNR-Y against HR and temporal
// flicker, mean over pixels and frames of |(out_t − out_{t−1}) − (HR_t − HR_{t−1})| on Y; for
// reuse the share of transformer evaluations saved and the wall-time speed-up over full mode
// without reuse. Per-frame values go to temporal.csv and the plot of one clip
// (HITSR_PLOT_CLIP, default car-detection, ×4) to temporal.png in HITSR_BENCH_OUT (default a
// temporary folder; the paths are printed). The model: HITSR_V2_MODEL, default the shipped model
// when it is a model v2 file (skipped otherwise); CPU. HITSR_BENCH_CLIPS=a,b runs only the clips
// named. The methods take turns frame by frame, so that a varying load hits them alike.
func BenchmarkTemporalReuse(b *testing.B) {
	fftest.Need(b, "ffmpeg")
	path := v2BenchModel(b)
	data := cmp.Or(os.Getenv("HITSR_DATA"), "/work/shared/data")
	clips, _ := filepath.Glob(filepath.Join(data, "video", "*"))
	if only := os.Getenv("HITSR_BENCH_CLIPS"); only != "" {
		clips = slices.DeleteFunc(clips, func(c string) bool { return !strings.Contains(only, clipName(c)) })
	}
	if len(clips) == 0 {
		b.Skipf("no clips in %s/video", data)
	}
	frames := 48
	if s := os.Getenv("HITSR_BENCH_FRAMES"); s != "" {
		frames, _ = strconv.Atoi(s)
	}
	thresholds := floatsEnv(b, "HITSR_REUSE_THRESHOLDS", DefaultReuseThreshold)
	stabilize := floatsEnv(b, "HITSR_STABILIZE", DefaultStabilize)
	out := os.Getenv("HITSR_BENCH_OUT")
	if out == "" { // kept after the run: the paths are printed
		var err error
		if out, err = os.MkdirTemp("", "hitsr-temporal-"); err != nil {
			b.Fatal(err)
		}
	}
	m, err := Load(path, "cpu")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if s := os.Getenv("HITSR_STILL_LEVEL"); s != "" {
		m.StillLevel, _ = strconv.ParseFloat(s, 64)
	}
	csvPath := filepath.Join(out, "temporal.csv")
	cf, err := os.Create(csvPath)
	if err != nil {
		b.Fatal(err)
	}
	rows := csv.NewWriter(cf)
	rows.Write([]string{"clip", "scale", "method", "frame", "psnr_y", "flicker"})
	const lrW, lrH = 160, 90
	for _, clip := range clips {
		name := clipName(clip)
		for _, s := range []int{2, 4} {
			hrs := clipFrames(b, clip, lrW*s, lrH*s, frames)
			lrs := make([]*imageio.Image, len(hrs))
			for i, hr := range hrs {
				lrs[i] = &imageio.Image{W: lrW, H: lrH, C: 3, Pix: metrics.Degrade(hr.Pix, hr.H, hr.W, s)}
			}
			methods := []*temporalMethod{
				{name: "bicubic", up: func(lr *imageio.Image) (*imageio.Image, error) {
					return &imageio.Image{W: lrW * s, H: lrH * s, C: 3, Pix: metrics.Bicubic(lr.Pix, lrH, lrW, lrH*s, lrW*s)}, nil
				}},
				{name: "fidelity", mode: Fidelity},
				{name: "full", mode: Full, threshold: -1},
			}
			for _, th := range thresholds {
				methods = append(methods, &temporalMethod{name: fmt.Sprintf("reuse %g", th), mode: Full, threshold: th})
			}
			for _, st := range stabilize {
				methods = append(methods,
					&temporalMethod{name: fmt.Sprintf("fid+stab %g", st), mode: Fidelity, stabilize: st},
					&temporalMethod{name: fmt.Sprintf("reuse+stab %g", st), mode: Full, threshold: thresholds[0], stabilize: st})
			}
			// frame by frame, every method in turn: a varying load on the machine hits all alike
			var prevHR []float64
			for i, hr := range hrs {
				yHR, _, _ := metrics.Y(hr.Pix, hr.H, hr.W, s)
				for _, mt := range methods {
					if err := mt.frame(m, lrs[i], hr, s, yHR, prevHR); err != nil {
						b.Fatal(err)
					}
				}
				prevHR = yHR
			}
			var full temporalResult
			for _, mt := range methods {
				r := mt.res
				for i := range hrs {
					rows.Write([]string{name, strconv.Itoa(s), mt.name, strconv.Itoa(i), fmt.Sprint(r.psnr[i]), fmt.Sprint(r.flicker[i])})
				}
				line := fmt.Sprintf("%-28s ×%d %-11s PSNR-Y %6.3f dB  flicker %6.3f", name, s, mt.name, mean(r.psnr), mean(r.flicker[1:]))
				switch {
				case mt.threshold < 0:
					full = r
					line += fmt.Sprintf("  %d transformer evaluations, %.0f ms/frame (CPU %.0f ms), %.1f GFLOP/frame",
						r.generated, ms(r.wall, len(hrs)), ms(r.cpu, len(hrs)), r.flops/1e9/float64(len(hrs)))
				case mt.mode == Full:
					line += fmt.Sprintf("  ΔPSNR %+.4f dB; %d transformer evaluations (%d replayed: %.1f %% saved, %.2f× fewer), %d scene cuts; "+
						"%.0f ms/frame (CPU %.0f ms): %.2f× faster in wall time, %.2f× in CPU time, %.2f× fewer FLOPs",
						mean(r.psnr)-mean(full.psnr), r.generated, r.reused, 100*float64(r.reused)/float64(r.generated+r.reused),
						float64(r.generated+r.reused)/float64(max(r.generated, 1)), r.cuts, ms(r.wall, len(hrs)), ms(r.cpu, len(hrs)),
						full.wall.Seconds()/r.wall.Seconds(), full.cpu.Seconds()/r.cpu.Seconds(), full.flops/r.flops)
				}
				fmt.Println(line)
			}
		}
	}
	rows.Flush()
	if err := cmp.Or(rows.Error(), cf.Close()); err != nil {
		b.Fatal(err)
	}
	fmt.Println("per-frame values:", csvPath)
	plot := filepath.Join(out, "temporal.png")
	// Debian's python3 (python3-matplotlib); the one on PATH may lack it
	cmd := exec.Command("/usr/bin/python3", "../scripts/plot_temporal.py", csvPath, cmp.Or(os.Getenv("HITSR_PLOT_CLIP"), "car-detection"), "4", plot)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("plot: %v\n%s", err, msg)
	}
	fmt.Println("plot:", plot)
}

// temporalMethod is one way of upscaling a clip: a host function, fidelity mode, or full mode
// without token reuse (threshold < 0) or with it at threshold (its token memory kept between
// frames); res accumulates its results.
type temporalMethod struct {
	name      string
	up        func(*imageio.Image) (*imageio.Image, error)
	mode      Mode
	threshold float64
	stabilize float64
	mem       *tokenMemory
	stab      *stabilizer
	res       temporalResult
	prevY     []float64
}

// temporalResult is a method's per-frame PSNR-Y and flicker (frame 0: NaN), its time and, for
// full mode, its counted FLOPs, transformer evaluations, tiles replayed and scene cuts.
type temporalResult struct {
	psnr, flicker           []float64
	wall, cpu               time.Duration // wall and process CPU time of the upscaling
	flops                   float64
	generated, reused, cuts int
}

// frame upscales lr, scores it against hr (yHR: its Y; prevHR: the previous frame's, nil first).
func (mt *temporalMethod) frame(m *Model, lr, hr *imageio.Image, s int, yHR, prevHR []float64) error {
	up := mt.up
	if up == nil {
		m.Mode = mt.mode
		m.ReuseTiles, m.ReuseThreshold, m.tokens = mt.threshold >= 0, mt.threshold, mt.mem
		m.Stabilize, m.stab = mt.stabilize, mt.stab
		defer func() { mt.mem, m.tokens, mt.stab, m.stab = m.tokens, nil, m.stab, nil }()
		up = func(lr *imageio.Image) (*imageio.Image, error) {
			o, err := m.Upscale(lr, s)
			if err != nil {
				return nil, err
			}
			return o[0], nil
		}
	}
	r := &mt.res
	run, reused, cuts, flops := m.TilesRun, m.TilesReused, m.SceneCuts, m.Flops()
	t0, c0 := time.Now(), cpuTime()
	o, err := up(lr)
	if err != nil {
		return err
	}
	r.wall += time.Since(t0)
	r.cpu += cpuTime() - c0
	r.generated += m.TilesRun - run
	r.reused += m.TilesReused - reused
	r.cuts += m.SceneCuts - cuts
	r.flops += m.Flops() - flops
	r.psnr = append(r.psnr, metrics.PSNRY(o.Pix, hr.Pix, hr.H, hr.W, s))
	y, _, _ := metrics.Y(o.Pix, hr.H, hr.W, s)
	fl := math.NaN()
	if prevHR != nil {
		fl = 0
		for k := range y {
			fl += math.Abs((y[k] - mt.prevY[k]) - (yHR[k] - prevHR[k]))
		}
		fl /= float64(len(y))
	}
	r.flicker = append(r.flicker, fl)
	mt.prevY = y
	return nil
}

// clipFrames is n frames of clip from 1 s in, scaled to w×h (Lanczos), as RGB images.
func clipFrames(b testing.TB, clip string, w, h, n int) []*imageio.Image {
	raw := filepath.Join(b.TempDir(), "frames.rgb")
	fftest.FFmpeg(b, "-ss", "1", "-i", clip, "-frames:v", strconv.Itoa(n), "-vf", fmt.Sprintf("scale=%d:%d:flags=lanczos", w, h),
		"-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", raw) // the clip's frames, none duplicated
	buf, err := os.ReadFile(raw)
	if err != nil {
		b.Fatal(err)
	}
	var out []*imageio.Image
	for len(buf) >= 3*w*h {
		img := imageio.New(w, h, 3)
		for i := range w * h {
			for c := range 3 {
				img.Pix[c*w*h+i] = float32(buf[3*i+c]) / 255
			}
		}
		out = append(out, img)
		buf = buf[3*w*h:]
	}
	if len(out) < 2 {
		b.Fatalf("%s: %d frames", clip, len(out))
	}
	return out
}

// floatsEnv is the comma-separated numbers in $name, else def.
func floatsEnv(b *testing.B, name string, def float64) []float64 {
	s := os.Getenv(name)
	if s == "" {
		return []float64{def}
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		out = append(out, v)
	}
	return out
}

func clipName(path string) string { return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) }

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func ms(d time.Duration, n int) float64 { return d.Seconds() * 1e3 / float64(n) }

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
