package pipeline

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/internal/fftest"
)

const (
	sampleClip = "../testdata/sample.mp4"
	shipped    = "../models/hitsr-tiny.safetensors"
	tinyModel  = "../testdata/golden/tiny_model.safetensors"
)

// benchFrames of the sample at ×2 + ×4 (libx264 crf 18 medium): hitsr with the shipped model
// against the ffmpeg CLI with Lanczos and the same encode settings, in the same run.
const benchFrames = 24

func BenchmarkEndToEnd(b *testing.B) {
	fftest.Need(b, "ffmpeg")
	m, err := hitsr.Load(shipped, "auto")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	m.ReuseTiles = true
	d := b.TempDir()
	enc := []string{"-c:v", "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p", "-c:a", "copy"}
	t0 := time.Now()
	args := []string{"-v", "error", "-y", "-i", sampleClip, "-frames:v", strconv.Itoa(benchFrames), "-filter_complex",
		"[0:v]split[a][b];[a]scale=iw*2:ih*2:flags=lanczos[o2];[b]scale=iw*4:ih*4:flags=lanczos[o4]",
		"-map", "[o2]", "-map", "0:a?"}
	args = append(append(args, enc...), filepath.Join(d, "ff2.mp4"), "-map", "[o4]", "-map", "0:a?")
	args = append(append(args, enc...), filepath.Join(d, "ff4.mp4"))
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v %s", err, out)
	}
	ffFPS := benchFrames / time.Since(t0).Seconds()
	b.ResetTimer()
	t0 = time.Now()
	out := func(name string, s float64) Output {
		return Output{URL: filepath.Join(d, name), Target: hitsr.Target{Scale: s}, CRF: 18, Preset: "medium"}
	}
	st, err := Run(context.Background(), m, Options{Input: sampleClip, MaxFrames: benchFrames,
		Overwrite: true, Outputs: []Output{out("2x.mp4", 2), out("4x.mp4", 4)}})
	if err != nil {
		b.Fatal(err)
	}
	fps := float64(st.Done) / time.Since(t0).Seconds()
	b.ReportMetric(fps, "hitsr_fps")
	b.ReportMetric(ffFPS, "ffmpeg_lanczos_fps")
	b.ReportMetric(fps/ffFPS, "ratio")
	b.ReportMetric(float64(m.TilesReused)/float64(max(m.TilesRun+m.TilesReused, 1)), "tiles_reused")
	b.Logf("%d frames 128x72 → 256x144 + 512x288 on %s: hitsr %.3f fps, ffmpeg lanczos %.1f fps (%.4f×); tiles run %d, reused %d",
		st.Done, m.Backend().Name(), fps, ffFPS, fps/ffFPS, m.TilesRun, m.TilesReused)
}

// Peak RSS over 1,000 frames stays flat: resident memory sampled at frames 100 … 1000 while
// the sample (at 64×36) loops through the pipeline; the tiny model keeps this about the
// pipeline, not the model.
func BenchmarkRSS1000(b *testing.B) {
	fftest.Need(b, "ffmpeg")
	d := b.TempDir()
	long := filepath.Join(d, "long.mp4")
	fftest.FFmpeg(b, "-stream_loop", "25", "-i", sampleClip, "-frames:v", "1000", "-vf", "scale=64:36",
		"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", long)
	m, err := hitsr.Load(tinyModel, "cpu")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	m.Overlap = 0
	rss := map[int]float64{}
	b.ResetTimer()
	_, err = Run(context.Background(), m, Options{Input: long, Overwrite: true,
		Outputs: []Output{{URL: filepath.Join(d, "2x.mp4"), Target: hitsr.Target{Scale: 2}, CRF: 18, Preset: "ultrafast"},
			{URL: filepath.Join(d, "4x.mp4"), Target: hitsr.Target{Scale: 4}, CRF: 18, Preset: "ultrafast"}},
		Progress: func(s Stats) {
			if s.Done%100 == 0 {
				rss[s.Done] = procStatusMB("VmRSS")
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rss[100], "rss@100_MB")
	b.ReportMetric(rss[1000], "rss@1000_MB")
	b.ReportMetric(procStatusMB("VmHWM"), "peak_MB")
	b.Logf("resident MB by frame: 100:%.0f 300:%.0f 500:%.0f 700:%.0f 1000:%.0f; peak %.0f",
		rss[100], rss[300], rss[500], rss[700], rss[1000], procStatusMB("VmHWM"))
}

// procStatusMB reads a memory line (kB) of /proc/self/status in MB.
func procStatusMB(key string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
