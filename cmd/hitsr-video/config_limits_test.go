package main

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hitsr/hitsr/model"
)

// within runs f and fails the test if it does not return within 10 s (a read of /dev/zero
// that never ends, a FIFO that blocks).
func within[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return within 10 s", what)
		panic("unreachable")
	}
}

// settingsErr is loadSettings' error and exit code, within the deadline.
func settingsErr(t *testing.T, args ...string) (int, error) {
	t.Helper()
	err := within(t, strings.Join(args, " "), func() error { _, _, err := loadSettings(cmdUpscale, args); return err })
	var ee *exitError
	if !errors.As(err, &ee) {
		return 0, err
	}
	return ee.code, err
}

// noUserConfig runs the test in an empty directory with no user config file.
func noUserConfig(t *testing.T) string {
	d := t.TempDir()
	t.Setenv("HOME", d)
	t.Setenv("XDG_CONFIG_HOME", d)
	t.Chdir(d)
	return d
}

// sparseFile makes a file of size bytes that uses no disk.
func sparseFile(t *testing.T, path string, size int64) {
	if err := os.WriteFile(path, nil, 0o644); err != nil || os.Truncate(path, size) != nil {
		t.Fatal("cannot make a sparse file")
	}
}

// TestConfigFileLimits checks that a config file that is not a regular file or is over the
// cap is one usage error naming it, at once, whether given with --config or found implicitly.
func TestConfigFileLimits(t *testing.T) {
	d := noUserConfig(t)
	fifo, huge := filepath.Join(d, "fifo.yaml"), filepath.Join(d, "huge.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sparseFile(t, huge, maxConfigBytes+1)
	for _, c := range []struct{ args []string }{{[]string{"--config", "/dev/zero"}}, {[]string{"--config", fifo}},
		{[]string{"--config", d}}, {[]string{"--config", huge}}} {
		args := append(c.args, "clip.mp4", "--out", "2x.mkv")
		want := "config " + c.args[1] + ": not a regular file"
		if c.args[1] == huge {
			want = "config " + huge + ": larger than the limit of 1 MiB"
		}
		if code, err := settingsErr(t, args...); code != exitUsage || err.Error() != want {
			t.Errorf("%v: exit %d, %v; want exit %d, %q", c.args, code, err, exitUsage, want)
		}
	}
	// ./hitsr.yaml is read without a flag: a FIFO there must not block.
	if err := syscall.Mkfifo("hitsr.yaml", 0o644); err != nil {
		t.Fatal(err)
	}
	if code, err := settingsErr(t, "clip.mp4", "--out", "2x.mkv"); code != exitUsage || err.Error() != "config hitsr.yaml: not a regular file" {
		t.Errorf("implicit FIFO hitsr.yaml: exit %d, %v", code, err)
	}
}

// TestConfigFileFormats checks that reading the file ourselves kept viper's formats (from the
// extension, YAML without one) and its errors, named by file.
func TestConfigFileFormats(t *testing.T) {
	d := noUserConfig(t)
	for name, text := range map[string]string{"c.json": `{"crf": 21}`, "c.yaml": "crf: 21\n", "c": "crf: 21\n", "c.toml": "crf = 21\n"} {
		p := filepath.Join(d, name)
		os.WriteFile(p, []byte(text), 0o644)
		s, _, err := loadSettings(cmdUpscale, []string{"--config", p, "clip.mp4", "--out", "2x.mkv"})
		if err != nil || s.crf != 21 {
			t.Errorf("%s: %+v, %v; want crf 21", name, s, err)
		}
	}
	for name, c := range map[string]struct{ text, msg string }{
		"c.txt":   {"crf: 21\n", `Unsupported Config Type "txt"`},
		"bad.yml": {"crf: [\n", "While parsing config"},
	} {
		p := filepath.Join(d, name)
		os.WriteFile(p, []byte(c.text), 0o644)
		if code, err := settingsErr(t, "--config", p, "clip.mp4", "--out", "2x.mkv"); code != exitUsage ||
			!strings.HasPrefix(err.Error(), "config "+p+": ") || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: exit %d, %v; want a one-line usage error with %q", name, code, err, c.msg)
		}
	}
}

// TestFileArgumentLimits runs the CLI with a device, FIFO or non-finite weights where a model
// or plan file belongs: one line, the documented exit code, at once.
func TestFileArgumentLimits(t *testing.T) {
	f, err := model.ReadFile(tiny) // before noUserConfig's chdir
	if err != nil {
		t.Fatal(err)
	}
	d := noUserConfig(t)
	in := filepath.Join(d, "in.png")
	writePNG(t, in, 8, 8, false)
	fifo := filepath.Join(d, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	f.Tensors["head.bias"].F[0] = float32(math.NaN())
	nan := filepath.Join(d, "nan.safetensors")
	if err := model.WriteFile(nan, f.Meta, f.Tensors, false); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(d, "2x.png")
	vidOut := filepath.Join(d, "2x.mkv")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{in, "--out", out, "--model", "/dev/zero"}, exitModel, "/dev/zero: not a regular file"},
		{[]string{in, "--out", out, "--model", fifo}, exitModel, fifo + ": not a regular file"},
		{[]string{in, "--out", out, "--model", nan}, exitModel, nan + ": weights: head.bias has 1 non-finite values (NaN or Inf), the first at index 0"},
		{[]string{"clip.mp4", "--plan", "/dev/zero", "--segment", "0", "--out", vidOut}, exitUsage, "plan /dev/zero: not a regular file"},
		{[]string{"clip.mp4", "--plan", fifo, "--segment", "0", "--out", vidOut}, exitUsage, "plan " + fifo + ": not a regular file"},
		{[]string{"join", "--plan", "/dev/zero", "--out", vidOut}, exitUsage, "plan /dev/zero: not a regular file"},
	} {
		args := c.args
		if args[0] != "join" {
			args = append(args, "--device", "cpu")
		}
		r := within(t, strings.Join(args, " "), func() [2]any { code, _, stderr := runCLI(args...); return [2]any{code, stderr} })
		code, stderr := r[0].(int), r[1].(string)
		if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and one line with %q", c.args, code, stderr, c.code, c.msg)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: output written", c.args)
		}
	}
}
