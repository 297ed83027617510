package regfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readWithin is Read that fails the test instead of hanging or growing without bound.
func readWithin(t *testing.T, path string, limit int64) ([]byte, error) {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() { b, err := Read(path, limit); done <- result{b, err} }()
	select {
	case r := <-done:
		return r.b, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("Read(%s) did not return within 5 s", path)
		return nil, nil
	}
}

func TestReadLimits(t *testing.T) {
	d := t.TempDir()
	fifo := filepath.Join(d, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	exact, over := filepath.Join(d, "exact"), filepath.Join(d, "over")
	os.WriteFile(exact, []byte("0123456789"), 0o644)
	os.WriteFile(over, []byte("0123456789a"), 0o644)
	sparse := filepath.Join(d, "sparse") // over the limit without using the disk
	if err := os.WriteFile(sparse, nil, 0o644); err != nil || os.Truncate(sparse, 3<<30) != nil {
		t.Fatal("cannot make a sparse file")
	}
	var tooLarge *TooLargeError
	for _, c := range []struct {
		path string
		ok   func(error) bool
		msg  string
	}{
		{"/dev/zero", func(err error) bool { return errors.Is(err, ErrNotRegular) }, "not a regular file"},
		{fifo, func(err error) bool { return errors.Is(err, ErrNotRegular) }, "not a regular file"},
		{d, func(err error) bool { return errors.Is(err, ErrNotRegular) }, "not a regular file"},
		{filepath.Join(d, "none"), func(err error) bool { return errors.Is(err, fs.ErrNotExist) }, "no such file"},
		{over, func(err error) bool { return errors.As(err, &tooLarge) && tooLarge.Limit == 10 }, "larger than the limit of 10 bytes"},
		{sparse, func(err error) bool { return errors.As(err, &tooLarge) }, "larger than the limit of 10 bytes"},
	} {
		b, err := readWithin(t, c.path, 10)
		if err == nil || !c.ok(err) || !strings.Contains(err.Error(), c.msg) || b != nil {
			t.Errorf("%s: %q, %v; want an error with %q", c.path, b, err, c.msg)
		} else if strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: error %q names the path (the caller does)", c.path, err)
		}
	}
	if b, err := readWithin(t, exact, 10); err != nil || string(b) != "0123456789" {
		t.Errorf("file at the limit: %q, %v", b, err)
	}
}

// TestReadBeyondStatSize checks that the cap holds while reading, not only against the size
// fstat reports: files in /proc are regular, report size 0 and have contents.
func TestReadBeyondStatSize(t *testing.T) {
	const proc = "/proc/self/status"
	fi, err := os.Stat(proc)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Skipf("%s: no regular file of size 0 with contents here", proc)
	}
	var tooLarge *TooLargeError
	if b, err := readWithin(t, proc, 10); !errors.As(err, &tooLarge) {
		t.Fatalf("%s with a 10-byte limit: %d bytes, %v; want TooLargeError", proc, len(b), err)
	}
	if b, err := readWithin(t, proc, 1<<20); err != nil || !strings.Contains(string(b), "Name:") {
		t.Fatalf("%s: %q, %v", proc, b, err)
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{2 << 30: "2 GiB", 1 << 20: "1 MiB", 16 << 20: "16 MiB", 1536: "1536 bytes", 3 << 10: "3 KiB", 10: "10 bytes"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
