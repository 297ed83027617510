package pipeline

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/internal/fftest"
)

// benchClip is 320×180 real video: the start of a shared clip (HITSR_DATA, default
// /work/shared/data), scaled once with Lanczos and stored losslessly.
func benchClip(b *testing.B, frames int) string {
	data := os.Getenv("HITSR_DATA")
	if data == "" {
		data = "/work/shared/data"
	}
	src := filepath.Join(data, "video", "car-detection.mp4")
	if _, err := os.Stat(src); err != nil {
		b.Skip(err)
	}
	clip := filepath.Join(b.TempDir(), "clip.mkv")
	fftest.FFmpeg(b, "-i", src, "-frames:v", strconv.Itoa(frames), "-vf", "scale=320:180:flags=lanczos",
		"-an", "-c:v", "ffv1", clip)
	return clip
}

// BenchmarkModes: 320×180 → ×2 + ×4 with libx264 (crf 18, medium) per mode of the shipped model,
// as hitsr-video runs it (stabilised; full mode with and without token reuse), next to the ffmpeg
// CLI's Lanczos with the same encodes in the same run; frames/s, the ratio, and the model's
// counted cost per ×4 output pixel (multiply-add = 2 FLOPs).
func BenchmarkModes(b *testing.B) {
	fftest.Need(b, "ffmpeg")
	for _, mode := range []struct {
		name   string
		mode   hitsr.Mode
		reuse  bool
		frames int
	}{{"fidelity", hitsr.Fidelity, true, 48}, {"full", hitsr.Full, false, 12}, {"full+reuse", hitsr.Full, true, 12}} {
		b.Run(mode.name, func(b *testing.B) {
			clip := benchClip(b, mode.frames)
			m, err := hitsr.Load(shipped, "auto")
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			if !m.Has(mode.mode) {
				b.Skipf("the shipped model has no %s network", mode.mode)
			}
			m.Mode, m.ReuseTiles, m.Stabilize = mode.mode, mode.reuse, hitsr.DefaultStabilize
			d := b.TempDir()
			ffFPS := lanczosFPS(b, clip, d, mode.frames)
			b.ResetTimer()
			t0 := time.Now()
			out := func(name string, s float64) Output {
				return Output{URL: filepath.Join(d, name), Target: hitsr.Target{Scale: s}, CRF: 18, Preset: "medium"}
			}
			st, err := Run(context.Background(), m, Options{Input: clip, Overwrite: true,
				Outputs: []Output{out("2x.mp4", 2), out("4x.mp4", 4)}})
			if err != nil {
				b.Fatal(err)
			}
			fps := float64(st.Done) / time.Since(t0).Seconds()
			kflop := m.Flops() / float64(st.Done*320*180*16) / 1e3
			b.ReportMetric(fps, "hitsr_fps")
			b.ReportMetric(ffFPS, "ffmpeg_lanczos_fps")
			b.ReportMetric(fps/ffFPS, "ratio")
			b.ReportMetric(kflop, "kFLOP/x4px")
			b.Logf("%s mode, %d frames 320x180 → 640x360 + 1280x720 on %s: hitsr %.3f fps, ffmpeg lanczos %.2f fps (%.3f×); %.1f kFLOP per ×4 output px",
				mode.name, st.Done, m.Backend().Name(), fps, ffFPS, fps/ffFPS, kflop)
		})
	}
}

// lanczosFPS is the ffmpeg CLI's frames/s for clip → ×2 + ×4 Lanczos with the bench's encodes.
func lanczosFPS(b *testing.B, clip, dir string, frames int) float64 {
	enc := []string{"-c:v", "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p"}
	args := []string{"-v", "error", "-y", "-i", clip, "-filter_complex",
		"[0:v]split[a][b];[a]scale=iw*2:ih*2:flags=lanczos[o2];[b]scale=iw*4:ih*4:flags=lanczos[o4]", "-map", "[o2]"}
	args = append(append(args, enc...), filepath.Join(dir, "ff2.mp4"), "-map", "[o4]")
	args = append(append(args, enc...), filepath.Join(dir, "ff4.mp4"))
	t0 := time.Now()
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		b.Fatal(fmt.Errorf("ffmpeg: %v %s", err, out))
	}
	return float64(frames) / time.Since(t0).Seconds()
}
