package plugin_test

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/internal/plugintest"
)

// gst runs a GStreamer tool with the element built by make plugin and a registry of its own.
func gst(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), append([]string{"GST_PLUGIN_PATH=" + filepath.Join(dir, "gst"),
		"GST_REGISTRY=" + filepath.Join(dir, "registry.bin"), "GST_DEBUG_NO_COLOR=1"}, env...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The GStreamer element: gst-inspect-1.0 lists it; gst-launch-1.0 pipelines produce every
// buffer at the right size for each format and scale, with content close to videoscale's
// (the planes are read and written where GStreamer has them); a live source runs through it
// with each buffer's latency logged; a bad model is an error message, not a crash.
func TestGStreamer(t *testing.T) {
	plugintest.Need(t, "gst-launch-1.0", "gst-inspect-1.0")
	if exec.Command("pkg-config", "--exists", "gstreamer-video-1.0").Run() != nil {
		t.Skip("skipping: libgstreamer-plugins-base1.0-dev is not installed (make deps installs it)")
	}
	dir := plugintest.Build(t)
	defer plugintest.Cleanup()
	out, err := gst(t, dir, nil, "gst-inspect-1.0", "hitsr")
	if err != nil || !strings.Contains(out, "hitsr super-resolution") {
		t.Fatalf("gst-inspect-1.0 hitsr: %v\n%s", err, out)
	}
	for _, p := range []string{"scale", "mode", "device", "model", "RGBA", "I420"} {
		if !strings.Contains(out, p) {
			t.Errorf("gst-inspect-1.0 hitsr does not show %s", p)
		}
	}

	tmp := t.TempDir()
	const n, w, h = 10, 64, 48
	for _, c := range []struct {
		in, out string
		scale   int
		bpp     float64 // bytes per pixel of out
	}{{"RGB", "RGB", 2, 3}, {"RGBA", "RGBA", 2, 4}, {"I420", "I420", 2, 1.5}, {"I420", "RGB", 4, 3}} {
		name := fmt.Sprintf("%s to %s ×%d", c.in, c.out, c.scale)
		file := filepath.Join(tmp, "out.raw")
		ow, oh := w*c.scale, h*c.scale
		launch := func(scaler string) []byte {
			out, err := gst(t, dir, nil, strings.Fields(fmt.Sprintf("gst-launch-1.0 -q videotestsrc num-buffers=%d pattern=smpte "+
				"! video/x-raw,width=%d,height=%d,format=%s ! %s ! video/x-raw,width=%d,height=%d,format=%s ! filesink location=%s",
				n, w, h, c.in, scaler, ow, oh, c.out, file))...)
			if err != nil {
				t.Fatalf("%s: gst-launch-1.0: %v\n%s", name, err, out)
			}
			b, _ := os.ReadFile(file)
			return b
		}
		got := launch(fmt.Sprintf("hitsr scale=%d device=cpu", c.scale))
		if frame := int(float64(ow*oh) * c.bpp); len(got) != n*frame {
			t.Errorf("%s: %d bytes, want %d buffers of %dx%d (%d bytes each)", name, len(got), n, ow, oh, frame)
			continue
		}
		ref := launch("videoconvert ! videoscale")
		if psnr := psnr(got, ref); psnr < 18 {
			t.Errorf("%s: %.1f dB from videoscale's output: the frames are garbled", name, psnr)
		} else {
			t.Logf("%s: %d buffers of %dx%d, %.1f dB from videoscale's", name, n, ow, oh, psnr)
		}
	}

	// A live source into a fakesink: the latency tracer logs every buffer's time from the
	// source to the sink; the element logs its own time per frame.
	out, err = gst(t, dir, []string{"GST_TRACERS=latency", "GST_DEBUG=GST_TRACER:7,hitsr:4"}, strings.Fields(
		"gst-launch-1.0 -q videotestsrc is-live=true num-buffers=10 ! video/x-raw,width=64,height=48,framerate=25/1 "+
			"! hitsr scale=2 device=cpu ! fakesink sync=true")...)
	if err != nil {
		t.Fatalf("live pipeline: %v\n%s", err, out)
	}
	lat := regexp.MustCompile(`latency, src-element-id=.*src-element=\(string\)videotestsrc0.*sink-element=\(string\)fakesink0.*time=\(guint64\)(\d+)`)
	var ms []string
	for _, m := range lat.FindAllStringSubmatch(out, -1) {
		ns, _ := strconv.ParseFloat(m[1], 64)
		ms = append(ms, fmt.Sprintf("%.0f", ns/1e6))
	}
	frames := strings.Count(out, "64x48 -> 128x96 in")
	t.Logf("live: per-buffer latency source → sink (ms): %s", strings.Join(ms, " "))
	if len(ms) != 10 || frames != 10 {
		t.Errorf("live: %d latency records and %d frames through the element, want 10 of each", len(ms), frames)
	}

	out, err = gst(t, dir, nil, strings.Fields("gst-launch-1.0 videotestsrc num-buffers=1 ! hitsr model=/nonexistent.safetensors ! fakesink")...)
	if err == nil || !strings.Contains(out, "hitsr: model file") {
		t.Errorf("a missing model: %v\n%s", err, out)
	}

	// I420 is BT.601 limited range on both pads: BT.709 is refused at linking, and through
	// videoconvert a solid colour comes out as videoconvert's own conversion gives it.
	const solid = "videotestsrc num-buffers=1 pattern=solid-color foreground-color=0xff20c040 ! video/x-raw,width=32,height=24,format=I420,colorimetry=bt709"
	if out, err := gst(t, dir, nil, strings.Fields("gst-launch-1.0 -q "+solid+" ! hitsr device=cpu ! fakesink")...); err == nil || !strings.Contains(out, "can't handle caps") {
		t.Errorf("BT.709 I420 into the element: %v\n%s", err, out)
	}
	pixel := func(scaler string) [3]byte {
		file := filepath.Join(tmp, "solid.raw")
		if out, err := gst(t, dir, nil, strings.Fields("gst-launch-1.0 -q "+solid+" ! videoconvert ! "+scaler+" ! video/x-raw,format=RGB,width=64,height=48 ! filesink location="+file)...); err != nil {
			t.Fatalf("%s: %v\n%s", scaler, err, out)
		}
		b, _ := os.ReadFile(file)
		i := (24*64 + 32) * 3
		return [3]byte{b[i], b[i+1], b[i+2]}
	}
	got, want := pixel("hitsr device=cpu mode=fidelity"), pixel("videoscale")
	for c := range 3 {
		if d := int(got[c]) - int(want[c]); d < -4 || d > 4 {
			t.Errorf("solid BT.709 colour through videoconvert: %v, videoconvert alone %v", got, want)
			break
		}
	}

	// A width offered as a list upstream maps across the element.
	if out, err := gst(t, dir, nil, strings.Fields("gst-launch-1.0 -q videotestsrc num-buffers=2 ! video/x-raw,width={64,128},height=48 ! hitsr device=cpu ! fakesink")...); err != nil {
		t.Errorf("a list of widths: %v\n%s", err, out)
	}

	// A property set while the element runs is refused with a warning; the stream goes on at the
	// scale it started with (testdata/props.c).
	props := filepath.Join(tmp, "props")
	cflags, err := exec.Command("pkg-config", "--cflags", "--libs", "gstreamer-1.0").Output()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cc", append([]string{"-Wall", "-Wextra", "-Werror", "-o", props, filepath.Join("gst", "testdata", "props.c")},
		strings.Fields(string(cflags))...)...).CombinedOutput(); err != nil {
		t.Fatalf("cc props.c: %v\n%s", err, out)
	}
	if out, err := gst(t, dir, nil, props); err != nil || !strings.Contains(out, "ok") {
		t.Errorf("a property set while running: %v\n%s", err, out)
	}
}

func psnr(a, b []byte) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var se float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		se += d * d
	}
	return 10 * math.Log10(255*255/(se/float64(len(a))))
}
