package main

import (
	"errors"
	"slices"
	"testing"

	"github.com/hitsr/hitsr/imageio"
)

// FuzzParseOuts checks that any --out value either fails with an error or yields well-formed
// outputs (checkOuts) for a (w+1)×(h+1) input.
func FuzzParseOuts(f *testing.F) {
	for _, s := range []string{
		"2x.mp4", "2x.mp4,4x.mp4", "1920x1080:hd.mp4#crf=20", "4x.mkv#codec=libx265:pix-fmt=yuv420p10le",
		"2:-", "2:-,4:-", "1.5x_a.mkv", "out/0.25x.mp4", "3:udp://10.0.0.2:5001#format=mpegts",
		"2x.mp4#bitrate=8M:preset=slow", "2x.mp4#bitrate=800k:crf=-1", "2x.mp4#crf=64", "2x.mp4#bitrate=0.5", "2x.mp4#bitrate=0",
		"0:x.mp4", "2x.mp4#crf", "2x.mp4#", "#crf=1", ",", " , ", "2x.mp4,2x.mp4", "0x0:a.mp4",
		"99999999999999999999x1:a.mp4", "16384x16384:a.mp4", "16385:a.mp4",
	} {
		f.Add(s, uint16(128), uint16(72))
	}
	f.Fuzz(func(t *testing.T, spec string, w, h uint16) {
		outs, err := parseOuts([]string{spec})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		checkOuts(t, outs, &settings{}, int(w)+1, int(h)+1)
	})
}

// checkOuts checks parsed outputs: distinct paths, exactly one kind of target (scale or size)
// that sizes a w×h frame within the limits or fails with an error, known option keys, and
// encoder settings over s's that are valid or a usage error.
func checkOuts(t *testing.T, outs []outSpec, s *settings, w, h int) {
	t.Helper()
	seen := map[string]bool{}
	for _, o := range outs {
		if o.path == "" || (o.path != "-" && seen[o.path]) {
			t.Fatalf("empty or repeated path %q in %+v", o.path, outs)
		}
		seen[o.path] = true
		if o.hls {
			continue
		}
		if sized := o.target.W > 0 && o.target.H > 0; sized == (o.target.Scale > 0) {
			t.Fatalf("%q: target %+v is not exactly one of scale and size", o.path, o.target)
		}
		if ow, oh, err := o.target.Size(w, h); err == nil && (ow < 1 || oh < 1 || ow > imageio.MaxSide || oh > imageio.MaxSide) {
			t.Fatalf("%q: %d×%d sized to %d×%d", o.path, w, h, ow, oh)
		}
		for k, v := range o.opts {
			if !slices.Contains(perOutputKeys, k) || v == "" {
				t.Fatalf("%q: option %q=%q", o.path, k, v)
			}
		}
	}
	s.outs = outs
	outs = slices.DeleteFunc(slices.Clone(outs), func(o outSpec) bool { return o.hls })
	pouts, _, err := videoOutputs(s)
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage {
			t.Fatalf("option error %v is not a usage error", err)
		}
		return
	}
	for i, p := range pouts {
		br, ok := outs[i].opts["bitrate"] // "0": none (CRF)
		if p.CRF < -1 || p.CRF > 63 || p.Bitrate < 0 || p.Bitrate > 1e12 || (ok && br != "0" && p.Bitrate < 1) {
			t.Fatalf("%q: crf %d, bitrate %d from %v", p.URL, p.CRF, p.Bitrate, outs[i].opts)
		}
	}
}
