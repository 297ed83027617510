package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --sample (and HITSR_SAMPLE): a seed gives the same image twice, another seed or greedy
// another image; a bad spec is one usage line.
func TestSampleFlag(t *testing.T) {
	d := t.TempDir()
	in := filepath.Join(d, "in.png")
	writePNG(t, in, 24, 16, false)
	run := func(name string, args ...string) []byte {
		out := filepath.Join(d, name+".png")
		args = append([]string{in, "--out", "4:" + out, "--model", v2Model, "--mode", "full", "--device", "cpu"}, args...)
		if code, _, stderr := runCLI(args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const spec = "topk=6:temperature=6:seed=1"
	a, b := run("a", "--sample", spec), run("b", "--sample", spec)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave two different images")
	}
	t.Setenv("HITSR_SAMPLE", spec)
	if env := run("env"); !bytes.Equal(env, a) {
		t.Error("HITSR_SAMPLE differs from --sample")
	}
	if c := run("seed2", "--sample", "topk=6:temperature=6:seed=2"); bytes.Equal(c, a) {
		t.Error("seeds 1 and 2 gave the same image")
	}
	if g := run("greedy", "--sample", "greedy"); bytes.Equal(g, a) {
		t.Error("sampling gave the greedy image")
	}
	for _, v := range []string{"topk=0", "topk=4:temperature=0", "top=4", "topk=4:seed=x"} {
		code, _, stderr := runCLI(in, "--out", "4:"+filepath.Join(d, "bad.png"), "--model", v2Model, "--sample", v)
		if code != exitUsage || !strings.Contains(stderr, "--sample") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("--sample %s: exit %d, %q", v, code, stderr)
		}
	}
}
