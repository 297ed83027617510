package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/internal/plugintest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

var reRSS = regexp.MustCompile(`ok: (\d+) cycles, rss (\d+) kB after \d+, (\d+) kB at the end`)

// The C ABI from a C program (testdata/cabi_test.c) built with AddressSanitizer: 100 cycles of open
// (the built-in model), push RGB and I420, pull ×2 as RGBA and ×4 as I420, errors, flush,
// close. LeakSanitizer finds nothing the library allocated with malloc left behind, and the
// resident memory stays flat (a model or filter kept alive would add 16 MB a cycle). The same
// program skipping hitsr_close must be caught, or the check proves nothing.
func TestCABILeaks(t *testing.T) {
	dir := plugintest.Build(t)
	bin := filepath.Join(t.TempDir(), "cabi_test")
	cc := exec.Command("cc", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address", "-fno-omit-frame-pointer", "-pthread",
		"-o", bin, filepath.Join("testdata", "cabi_test.c"), "-I"+dir, "-L"+dir, "-lhitsr", "-Wl,-rpath,"+dir)
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=1:exitcode=23")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("", "100")
	if err != nil {
		t.Fatalf("100 cycles: %v\n%s", err, out)
	}
	m := reRSS.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in %q", out)
	}
	early, end := atoi(m[2]), atoi(m[3])
	t.Logf("100 open/push/pull/close cycles: no leak reported; RSS %d kB after 11 cycles, %d kB after 100", early, end)
	if end-early > 32<<10 {
		t.Errorf("resident memory grew by %d kB over 89 cycles", end-early)
	}
	out, err = run("", "3", "leak")
	if err == nil || !strings.Contains(out, "LeakSanitizer") {
		t.Errorf("cycles without hitsr_close: %v, no leak reported:\n%s", err, out)
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
