package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
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

// Soak: 10,000 frames (the sample looped at 32×18, with its audio, ×2 + ×4, tiny model) with
// resident memory (after a GC that returns freed heap, so what is left is what is held) and
// open file descriptors sampled every 500 frames from frame 1,000 on: each sample within ±5 %
// of their median (a leak grows), and exactly 10,000 frames decoded, done and in each output.
// The containers are ones without an in-memory index (mp4 keeps one entry per packet until
// its trailer), so what grows would be the pipeline's.
func BenchmarkSoak10000(b *testing.B) {
	fftest.Need(b, "ffmpeg", "ffprobe")
	const frames, every, warm = 10000, 500, 1000
	d := b.TempDir()
	long := filepath.Join(d, "long.mp4")
	fftest.FFmpeg(b, "-stream_loop", "-1", "-i", sampleClip, "-frames:v", strconv.Itoa(frames), "-vf", "scale=32:18",
		"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", "-shortest", long)
	m, err := hitsr.Load(tinyModel, "cpu")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	m.Overlap = 0
	type sample struct{ rss, heap, fds float64 }
	samples := map[int]sample{}
	outs := []Output{{URL: filepath.Join(d, "2x.mkv"), Target: hitsr.Target{Scale: 2}, CRF: 18, Preset: "ultrafast"},
		{URL: filepath.Join(d, "4x.ts"), Target: hitsr.Target{Scale: 4}, CRF: 18, Preset: "ultrafast"}}
	b.ResetTimer()
	t0 := time.Now()
	st, err := Run(context.Background(), m, Options{Input: long, Overwrite: true, Outputs: outs,
		Progress: func(s Stats) {
			if s.Done%every == 0 && s.Done >= warm {
				debug.FreeOSMemory()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				fds, _ := os.ReadDir("/proc/self/fd")
				samples[s.Done] = sample{procStatusMB("VmRSS"), float64(ms.HeapAlloc) / (1 << 20), float64(len(fds))}
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	if st.Decoded != frames || st.Done != frames || st.Dropped != 0 {
		b.Fatalf("stats %+v: want exactly %d frames decoded and done", st, frames)
	}
	for _, o := range outs {
		if n := fftest.Probe(b, o.URL).Packets("video"); n != frames {
			b.Fatalf("%s: %d video packets, want %d", o.URL, n, frames)
		}
	}
	var rss, fds []float64
	var line strings.Builder
	for n := warm; n <= frames; n += every {
		s, ok := samples[n]
		if !ok {
			b.Fatalf("no sample at frame %d", n)
		}
		rss, fds = append(rss, s.rss), append(fds, s.fds)
		fmt.Fprintf(&line, " %d:%.1f/%.1f/%.0f", n, s.rss, s.heap, s.fds)
	}
	b.Logf("%d frames in %v (%.1f fps); resident MB / Go heap MB / open fds by frame:%s", frames, elapsed.Round(time.Second),
		frames/elapsed.Seconds(), line.String())
	for _, c := range []struct {
		name, metric string
		v            []float64
	}{{"resident memory", "rss_spread", rss}, {"open file descriptors", "fds_spread", fds}} {
		med := median(c.v)
		lo, hi := slices.Min(c.v), slices.Max(c.v)
		b.ReportMetric((hi-lo)/med, c.metric)
		if lo < 0.95*med || hi > 1.05*med {
			b.Fatalf("%s not flat: %.1f..%.1f around a median of %.1f (±5 %%)", c.name, lo, hi, med)
		}
	}
	b.ReportMetric(median(rss), "rss_median_MB")
	b.ReportMetric(median(fds), "fds")
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
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
