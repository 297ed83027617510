// Package plugintest builds the plugin libraries (make plugin) once per test process, for the
// tests that load them from C and GStreamer.
package plugintest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var build struct {
	once sync.Once
	dir  string
	out  []byte
	err  error
}

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Need skips the test when a tool is missing (make deps installs them all).
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s is not installed (make deps installs it)", tool)
		}
	}
}

// Build runs "make plugin" into a directory of its own once and returns that directory
// (libhitsr.so, hitsr.h, gst/libgsthitsr.so when GStreamer's headers are installed).
func Build(t testing.TB) string {
	t.Helper()
	Need(t, "make", "cc", "pkg-config")
	build.once.Do(func() {
		if build.dir, build.err = os.MkdirTemp("", "hitsr-plugin-"); build.err != nil {
			return
		}
		cmd := exec.Command("make", "-s", "-C", Root(), "plugin", "PLUGIN_DIR="+build.dir)
		build.out, build.err = cmd.CombinedOutput()
	})
	if build.err != nil {
		t.Fatalf("make plugin: %v\n%s", build.err, build.out)
	}
	return build.dir
}

// Cleanup removes what Build made (call it from TestMain after the tests).
func Cleanup() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}
