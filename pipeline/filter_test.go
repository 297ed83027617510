package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/internal/fftest"
)

// The chain is split the way FFmpeg's graph parser reads it: commas separate filters outside
// '…' and after no "\"; hitsr's options follow FFmpeg's option syntax.
func TestParseChain(t *testing.T) {
	for _, c := range []struct {
		text, before, after string
		scales              []int
		mode                string
		hitsr               bool
	}{
		{text: "yadif,hqdn3d", before: "yadif,hqdn3d"},
		{text: " yadif , hqdn3d ", before: "yadif,hqdn3d"},
		{text: "yadif,hitsr,unsharp=5:5:0.6", before: "yadif", after: "unsharp=5:5:0.6", hitsr: true},
		{text: "hitsr=2", scales: []int{2}, hitsr: true},
		{text: "hitsr=scales=2|4:mode=fidelity,unsharp", after: "unsharp", scales: []int{2, 4}, mode: "fidelity", hitsr: true},
		{text: "hitsr=4:full", scales: []int{4}, mode: "full", hitsr: true},
		{text: `hitsr='scales=2|4':'mode'=full`, scales: []int{2, 4}, mode: "full", hitsr: true},
		{text: `hitsr=scales=2\|4`, scales: []int{2, 4}, hitsr: true},
		{text: "hitsr@main=2,null", after: "null", scales: []int{2}, hitsr: true},
		// quoted and escaped commas stay inside a filter's options
		{text: `drawtext=text='a,b',hitsr,null`, before: `drawtext=text='a,b'`, after: "null", hitsr: true},
		{text: `drawtext=text=a\,b,hitsr`, before: `drawtext=text=a\,b`, hitsr: true},
		{text: `select='not(mod(n\,3))',hitsr`, before: `select='not(mod(n\,3))'`, hitsr: true},
	} {
		ch, err := ParseChain(c.text)
		if err != nil {
			t.Errorf("%q: %v", c.text, err)
			continue
		}
		if ch.Before != c.before || ch.After != c.after || (ch.Hitsr != nil) != c.hitsr {
			t.Errorf("%q: before %q after %q hitsr %v; want %q %q %v", c.text, ch.Before, ch.After, ch.Hitsr != nil, c.before, c.after, c.hitsr)
			continue
		}
		if ch.Hitsr != nil && (!slices.Equal(ch.Hitsr.Scales, c.scales) || ch.Hitsr.Mode != c.mode) {
			t.Errorf("%q: hitsr %+v, want scales %v mode %q", c.text, *ch.Hitsr, c.scales, c.mode)
		}
	}
	for text, want := range map[string]string{
		"yadif,nosuchfilter": `no such filter "nosuchfilter"`,
		"unsharp=5:5:zz":     "unsharp",
		"scale=w=2:nokey=3":  "scale",
		"yadif;hqdn3d":       "';' starts another chain",
		"[in]yadif":          "pad labels",
		"yadif[out]":         "pad labels",
		"yadif,,hqdn3d":      "empty filter",
		"yadif,":             "empty filter",
		"":                   "empty filter",
		"hitsr,hitsr":        "named twice",
		"hitsr=mode=fast":    `mode "fast"`,
		"hitsr=scales=2|x":   `bad scale "x"`,
		"hitsr=size=2":       `no option "size"`,
		"hitsr=2:full:extra": "too many options",
		"hitsr=scales=2:2":   "given twice",
	} {
		_, err := ParseChain(text)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want one line naming %q", text, err, want)
		}
	}
}

func TestGetToken(t *testing.T) {
	for _, c := range []struct{ in, term, tok, rest string }{
		{"  abc,def", ",", "abc", ",def"},
		{`a\,b,c`, ",", "a,b", ",c"},
		{`'a,b' ,c`, ",", "a,b", ",c"},
		{`ab\ ,c`, ",", "ab ", ",c"}, // an escaped trailing space stays
		{"ab  ,c", ",", "ab", ",c"},
		{`x='1:2':y`, ":", "x=1:2", ":y"},
	} {
		if tok, rest := getToken(c.in, c.term); tok != c.tok || rest != c.rest {
			t.Errorf("getToken(%q, %q) = %q, %q; want %q, %q", c.in, c.term, tok, rest, c.tok, c.rest)
		}
	}
}

// Chains with timing filters before and after the model keep ffmpeg's frame count and
// timestamps for the same chains with its scaler in place of hitsr; sizes follow the chain.
func TestChainTiming(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mp4")
	// interlaced-looking frames at 25 fps, 1.2 s
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=50:duration=1.2", "-vf", "tinterlace=mode=interleave_top",
		"-c:v", "libx264", "-preset", "ultrafast", src)
	for _, c := range []struct {
		vf, outVF string
		ffmpeg    string // the same chain in ffmpeg, scale=… in place of hitsr
		w, h      int
	}{
		{vf: "yadif,hqdn3d", outVF: "unsharp", ffmpeg: "yadif,hqdn3d,scale=iw*2:ih*2,unsharp", w: 128, h: 96},
		{vf: "yadif=1,hitsr,unsharp", ffmpeg: "yadif=1,scale=iw*2:ih*2,unsharp", w: 128, h: 96},
		{vf: "fps=7,hitsr=2", outVF: "crop=120:90", ffmpeg: "fps=7,scale=iw*2:ih*2,crop=120:90", w: 120, h: 90},
		{vf: `select='not(mod(n\,3))',hitsr`, outVF: "fps=10", ffmpeg: `select='not(mod(n\,3))',scale=iw*2:ih*2,fps=10`, w: 128, h: 96},
	} {
		t.Run(c.vf, func(t *testing.T) {
			got, want := filepath.Join(dir, "hitsr.mkv"), filepath.Join(dir, "ffmpeg.mkv")
			out := fast(got, hitsr.Target{Scale: 2})
			out.VF = c.outVF
			st := run(t, Options{Input: src, VF: c.vf, Outputs: []Output{out}, Overwrite: true})
			fftest.FFmpeg(t, "-i", src, "-vf", c.ffmpeg, "-c:v", "libx264", "-preset", "ultrafast", want)
			wantPts, gotPts := fftest.FramePts(t, want), fftest.FramePts(t, got)
			fftest.SamePts(t, got, gotPts, wantPts)
			if c.outVF == "" && st.Done != len(wantPts) {
				t.Errorf("model ran %d times, ffmpeg made %d frames", st.Done, len(wantPts))
			}
			if v := fftest.Probe(t, got).Stream("video"); v.Width != c.w || v.Height != c.h {
				t.Errorf("%dx%d, want %dx%d", v.Width, v.Height, c.w, c.h)
			}
		})
	}
}

// A bad chain is a usage error before any work: no output is created, the model never runs.
func TestBadChainBeforeWork(t *testing.T) {
	fftest.Need(t, "ffmpeg")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mp4")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=0.2", "-c:v", "libx264", "-preset", "ultrafast", src)
	outPath := filepath.Join(dir, "2x.mkv")
	for _, c := range []struct{ vf, outVF, want string }{
		{vf: "yadif,bogus", want: `"bogus"`},
		{outVF: "unsharp=lx=99", want: "unsharp"},
		{vf: "crop=1000:1000", want: "crop"},           // fails only on the input's frames
		{outVF: "hitsr", want: "name it in --vf"},      // the one pass is the run's
		{vf: "hitsr=4", want: "not one of the scales"}, // the output is ×2
	} {
		b := &bicubic{}
		out := fast(outPath, hitsr.Target{Scale: 2})
		out.VF = c.outVF
		_, err := Run(context.Background(), b, Options{Input: src, VF: c.vf, Outputs: []Output{out}})
		if kindOf(err) != KindUsage || !strings.Contains(err.Error(), c.want) || b.calls != 0 {
			t.Errorf("vf %q #vf %q: %v (kind %v, %d model calls), want a usage error naming %s", c.vf, c.outVF, err, kindOf(err), b.calls, c.want)
		}
		if _, err := os.Stat(outPath); !os.IsNotExist(err) {
			t.Errorf("vf %q #vf %q: the output exists after a usage error", c.vf, c.outVF)
		}
	}
}
