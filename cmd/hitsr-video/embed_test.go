package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hitsr/hitsr/internal/fftest"
)

// An installed binary needs nothing beside it: run from an empty directory without --model, it
// upscales with its built-in model.
func TestBinaryAnywhere(t *testing.T) {
	fftest.Need(t, "go", "ffprobe")
	bin := buildCLI(t)
	in, err := filepath.Abs(sample)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, in, "--out", "2x.mp4", "--frames", "2", "--device", "cpu", "--preset", "ultrafast", "--progress", "never")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "HOME="+dir) // no user config file
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	r := fftest.Probe(t, filepath.Join(dir, "2x.mp4"))
	if v := r.Stream("video"); v == nil || v.Width != 256 || v.Height != 144 || r.Packets("video") != 2 {
		t.Fatalf("output: %+v, %d video packets; want 2 frames of 256x144", v, r.Packets("video"))
	}
}
