package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/internal/fftest"
)

// The chain: --vf "yadif,hqdn3d" with #vf=unsharp on the ×2 output, and a timing filter
// on the ×4 one, with the shipped model: each output has ffmpeg's frame count and timestamps
// for the same chain (its scaler in place of hitsr) and the chain's size.
func TestVFChainMatchesFFmpeg(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	d := t.TempDir()
	in := filepath.Join(d, "in.mp4")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=50:duration=1", "-vf", "tinterlace=mode=interleave_top",
		"-c:v", "libx264", "-preset", "ultrafast", in)
	o2, o4 := filepath.Join(d, "2x.mp4"), filepath.Join(d, "4x.mp4")
	code, _, stderr := runCLI(in, "--vf", "yadif,hqdn3d", "--out", o2+"#vf=unsharp", "--out", o4+"#crf=30:vf=fps=10,unsharp=5:5:0.6",
		"--model", shipped, "--device", "cpu", "--progress", "never")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, c := range []struct {
		got, ffmpegVF string
		w, h          int
	}{
		{o2, "yadif,hqdn3d,scale=iw*2:ih*2,unsharp", 128, 96},
		{o4, "yadif,hqdn3d,scale=iw*4:ih*4,fps=10,unsharp=5:5:0.6", 256, 192},
	} {
		want := filepath.Join(d, "ffmpeg"+filepath.Ext(c.got))
		fftest.FFmpeg(t, "-i", in, "-vf", c.ffmpegVF, "-c:v", "libx264", "-preset", "ultrafast", want)
		fftest.SamePts(t, c.got, fftest.FramePts(t, c.got), fftest.FramePts(t, want))
		if v := fftest.Probe(t, c.got).Stream("video"); v.Width != c.w || v.Height != c.h {
			t.Errorf("%s: %dx%d, want %dx%d", c.got, v.Width, v.Height, c.w, c.h)
		}
	}
}

// "vf=" takes the rest of its --out value (':' and ',' included); anywhere else it is refused.
func TestOutVF(t *testing.T) {
	for _, c := range []struct {
		arg   string
		paths []string
		vf    []string
	}{
		{"2x.mp4,4x.mp4#vf=unsharp=5:5:0.6", []string{"2x.mp4", "4x.mp4"}, []string{"", "unsharp=5:5:0.6"}},
		{"2x.mkv#crf=20:vf=yadif,hqdn3d", []string{"2x.mkv"}, []string{"yadif,hqdn3d"}},
		{`4x.mkv#vf=drawtext=text='a\,b:c',null`, []string{"4x.mkv"}, []string{`drawtext=text='a\,b:c',null`}},
	} {
		outs, err := parseOuts([]string{c.arg})
		if err != nil || len(outs) != len(c.paths) {
			t.Errorf("%q: %v, %d outputs", c.arg, err, len(outs))
			continue
		}
		for i, o := range outs {
			if o.path != c.paths[i] || o.opts[vfKey] != c.vf[i] {
				t.Errorf("%q: output %d is %q vf %q, want %q vf %q", c.arg, i, o.path, o.opts[vfKey], c.paths[i], c.vf[i])
			}
		}
	}
	if _, err := parseOuts([]string{"2x.mp4#vf="}); err == nil {
		t.Error("an empty vf was taken")
	}
}

// A bad chain is one line naming the filter, exit 2, before the model loads; nothing is written.
func TestVFErrors(t *testing.T) {
	fftest.Need(t, "ffmpeg")
	d := t.TempDir()
	in := filepath.Join(d, "in.mp4")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=0.2", "-c:v", "libx264", "-preset", "ultrafast", in)
	out := filepath.Join(d, "2x.mp4")
	noModel := filepath.Join(d, "none.safetensors")
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--vf", "yadif,bogus", "--out", out}, "no such filter"},
		{[]string{"--vf", "yadif", "--out", out + "#vf=unsharp=lx=99"}, "unsharp"},
		{[]string{"--vf", "hitsr=mode=full", "--mode", "fidelity", "--out", out}, "conflicts with --mode"},
		{[]string{"--vf", "hitsr=4", "--out", out}, "not one of the scales"},
		{[]string{"--out", out + "#vf=hitsr"}, "name it in --vf"},
	} {
		code, _, stderr := runCLI(append([]string{in, "--model", noModel, "--device", "cpu"}, c.args...)...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != exitUsage || len(lines) != 1 || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and one line with %q", c.args, code, stderr, exitUsage, c.msg)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%v: the output exists", c.args)
		}
	}
	png := filepath.Join(d, "in.png")
	writePNG(t, png, 8, 8, false)
	if code, _, stderr := runCLI(png, "--vf", "yadif", "--out", filepath.Join(d, "2x.png"), "--model", noModel); code != exitUsage || !strings.Contains(stderr, "for video inputs") {
		t.Errorf("--vf on an image: exit %d, %s", code, stderr)
	}
}
