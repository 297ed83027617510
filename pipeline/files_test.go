package pipeline

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/internal/fftest"
)

// kindOf is a pipeline error's kind, or -1.
func kindOf(err error) Kind {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind
	}
	return -1
}

// Outputs are compared with the input and each other as files (device and inode), whatever
// the path naming them: symbolic links to files and directories, hard links, stdout.
func TestPlanFiles(t *testing.T) {
	d := t.TempDir()
	in := filepath.Join(d, "in.mkv")
	os.WriteFile(in, []byte("input"), 0o644)
	old := filepath.Join(d, "old.mkv")
	os.WriteFile(old, []byte("old"), 0o644)
	os.Mkdir(filepath.Join(d, "sub"), 0o755)
	os.Symlink("sub", filepath.Join(d, "sublink"))
	os.Symlink(in, filepath.Join(d, "in-link.mkv"))
	os.Symlink(d, filepath.Join(d, "dirlink"))
	os.Link(in, filepath.Join(d, "in-hard.mkv"))
	os.Symlink(old, filepath.Join(d, "old-link.mkv"))
	os.Symlink(filepath.Join(d, "missing"), filepath.Join(d, "dangling.mkv"))
	syscall.Mkfifo(filepath.Join(d, "fifo"), 0o644)
	p := func(name string) string { return filepath.Join(d, name) }
	for _, c := range []struct {
		name      string
		outs      []string
		overwrite bool
		want      string // "" = accepted
	}{
		{"new files", []string{p("2x.mkv"), p("sub/2x.mkv"), "-", "udp://127.0.0.1:5000"}, false, ""},
		{"the input", []string{in}, true, "is the input"},
		{"the input as file: URL", []string{"file:" + in}, true, "is the input"},
		{"symlink to the input", []string{p("in-link.mkv")}, true, "is the input"},
		{"path through a symlinked directory", []string{p("dirlink/in.mkv")}, true, "is the input"},
		{"hard link to the input", []string{p("in-hard.mkv")}, true, "is the input"},
		{"the input without -y", []string{p("in-link.mkv")}, false, "is the input"},
		{"existing file", []string{old}, false, "exists"},
		{"existing file, -y", []string{old}, true, ""},
		{"same existing file twice", []string{old, p("old-link.mkv")}, true, "same file"},
		{"same new file twice", []string{p("sub/2x.mkv"), p("sublink/2x.mkv")}, false, "same file"},
		{"a directory", []string{p("sub")}, false, "is a directory"},
		{"a directory, -y", []string{p("sub")}, true, "is a directory"},
		{"a symlink to a directory", []string{p("sublink")}, true, "is a directory"},
		{"a dangling symlink", []string{p("dangling.mkv")}, true, "missing file"},
		{"a FIFO, no -y needed", []string{p("fifo")}, false, ""},
		{"a character device", []string{"/dev/null"}, false, ""},
		{"the same FIFO twice", []string{p("fifo"), "file:" + p("fifo")}, false, "same file"},
		{"a missing directory", []string{p("none/2x.mkv")}, false, "cannot write"},
		{"a file as a directory", []string{p("old.mkv/2x.mkv")}, false, "cannot write"},
		{"a 256-byte name", []string{p(strings.Repeat("n", 256))}, false, "too long"},
		{"network URLs", []string{"srt://127.0.0.1:9000", "RTMP://h/app/k", "tcp://127.0.0.1:1", "http://h/x.mkv"}, false, ""},
		{"the input through tee:", []string{"tee:" + in}, true, `protocol "tee"`},
		{"a file through md5:", []string{"md5:" + old}, false, `protocol "md5"`},
		{"a name that reads as a protocol", []string{"ab:c.mkv"}, false, "./ab:c.mkv"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files, err := PlanFiles(in, c.outs, c.overwrite)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(files) != len(c.outs) {
					t.Fatalf("%d files for %d outputs", len(files), len(c.outs))
				}
				return
			}
			kind := KindUsage
			if strings.HasPrefix(c.want, "cannot write") || c.want == "too long" {
				kind = KindFailure
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || kindOf(err) != kind {
				t.Fatalf("err = %v, want kind %d with %q", err, kind, c.want)
			}
		})
	}
	if b, _ := os.ReadFile(in); string(b) != "input" {
		t.Fatal("input modified")
	}
}

// The input through a protocol that wraps a local file (async:, cache:, concat:, subfile:, …) is
// refused whatever the outputs, as it would hide the input from the same-file checks.
func TestPlanFilesInputProtocol(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.mkv")
	for _, name := range []string{"async:" + in, "cache:" + in, "concat:" + in, "subfile,,start,0,end,0,,:" + in} {
		if _, err := PlanFiles(name, []string{in}, true); kindOf(err) != KindUsage || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"-", "pipe:0", "file:" + in, "srt://127.0.0.1:9000?mode=listener", "udp://127.0.0.1:5000"} {
		if _, err := PlanFiles(name, []string{filepath.Join(filepath.Dir(in), "2x.mkv")}, false); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// stdout (or a pipe:N descriptor) that is the input file, or one of the outputs, is refused.
func TestPlanFilesDescriptors(t *testing.T) {
	d := t.TempDir()
	in := filepath.Join(d, "in.mkv")
	os.WriteFile(in, []byte("input"), 0o644)
	f, err := os.OpenFile(in, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := PlanFiles(in, []string{"pipe:" + strconv.Itoa(int(f.Fd()))}, true); err == nil || !strings.Contains(err.Error(), "input") {
		t.Fatalf("output descriptor onto the input: err = %v", err)
	}
	out := filepath.Join(d, "2x.mkv")
	os.WriteFile(out, nil, 0o644)
	g, _ := os.OpenFile(out, os.O_WRONLY, 0)
	defer g.Close()
	for _, outs := range [][]string{{"pipe:" + strconv.Itoa(int(g.Fd())), out}, {out, "pipe:" + strconv.Itoa(int(g.Fd()))}} {
		if _, err := PlanFiles(in, outs, true); err == nil || !strings.Contains(err.Error(), "same file") {
			t.Fatalf("%v: descriptor and file are one output: err = %v", outs, err)
		}
	}
}

// A name that appears (or changes into something not to be replaced) while the output is
// written is kept, and the output stays under its temporary name, which the error gives.
func TestCommitRaces(t *testing.T) {
	for _, c := range []struct {
		name      string
		overwrite bool
		appear    func(path string)
	}{
		{"a file appears", false, func(p string) { os.WriteFile(p, []byte("theirs"), 0o644) }},
		{"a directory appears, -y", true, func(p string) { os.Remove(p); os.Mkdir(p, 0o755) }},
		{"a FIFO appears, -y", true, func(p string) { os.Remove(p); syscall.Mkfifo(p, 0o644) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			final := filepath.Join(d, "2x.png")
			if c.overwrite {
				os.WriteFile(final, []byte("old"), 0o644)
			}
			files, err := PlanFiles(filepath.Join(d, "in.png"), []string{final}, c.overwrite)
			if err != nil {
				t.Fatal(err)
			}
			h, err := files[0].Create()
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(h, "ours")
			c.appear(final)
			err = files[0].Commit()
			if err == nil || !strings.Contains(err.Error(), files[0].tmp) {
				t.Fatalf("commit: %v; want an error naming %s", err, files[0].tmp)
			}
			files[0].Discard()
			if b, err := os.ReadFile(files[0].tmp); err != nil || string(b) != "ours" {
				t.Fatalf("output lost: %q %v", b, err)
			}
			if fi, _ := os.Lstat(final); fi.Mode().IsRegular() {
				if b, _ := os.ReadFile(final); string(b) != "theirs" {
					t.Fatalf("final name overwritten: %q", b)
				}
			}
		})
	}
}

// Special outputs: a character device and a FIFO are written in place (never replaced by a
// regular file), a full device fails with its error, a directory is refused before the input
// is even opened, and a 249-byte file name works (temporary names stay within 255 bytes).
func TestSpecialOutputs(t *testing.T) {
	fftest.Need(t, "ffmpeg", "ffprobe")
	d := t.TempDir()
	src := filepath.Join(d, "in.mkv")
	fftest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=32x24:rate=10:duration=0.5", "-c:v", "ffv1", src)
	null, full := "/dev/null", "/dev/full"
	if os.Getuid() == 0 { // copies, so a regression cannot replace the system's devices
		null, full = filepath.Join(d, "null"), filepath.Join(d, "full")
		if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mknod(full, syscall.S_IFCHR|0o666, 1<<8|7); err != nil {
			t.Fatal(err)
		}
	}
	isDev := func(p string) bool { fi, err := os.Lstat(p); return err == nil && fi.Mode()&os.ModeCharDevice != 0 }
	out := func(url string) Output {
		o := fast(url, hitsr.Target{Scale: 2})
		o.Format = "nut"
		return o
	}

	run(t, Options{Input: src, Overwrite: true, Outputs: []Output{out(null)}})
	if !isDev(null) {
		t.Fatal("the character device was replaced")
	}
	_, err := Run(context.Background(), &bicubic{}, Options{Input: src, Overwrite: true, Outputs: []Output{out(full)}})
	if err == nil || kindOf(err) != KindFailure || !isDev(full) {
		t.Fatalf("writing to a full device: err = %v, still a device: %v", err, isDev(full))
	}

	fifo := filepath.Join(d, "fifo")
	syscall.Mkfifo(fifo, 0o644)
	got := filepath.Join(d, "from-fifo.nut")
	read := make(chan error)
	go func() {
		r, err := os.Open(fifo)
		if err == nil {
			var w *os.File
			if w, err = os.Create(got); err == nil {
				_, err = io.Copy(w, r)
				w.Close()
			}
			r.Close()
		}
		read <- err
	}()
	run(t, Options{Input: src, Outputs: []Output{out(fifo)}})
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(fifo); fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatal("the FIFO was replaced")
	}
	if n := len(fftest.FramePts(t, got)); n != 5 {
		t.Fatalf("%d frames came through the FIFO, want 5", n)
	}

	_, err = Run(context.Background(), &bicubic{}, Options{Input: filepath.Join(d, "none.mkv"), Overwrite: true,
		Outputs: []Output{out(d)}})
	if err == nil || kindOf(err) != KindUsage || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("directory output: err = %v, want a usage error before the (missing) input is opened", err)
	}

	long := filepath.Join(d, "2x"+strings.Repeat("a", 243)+".mkv")
	if len(filepath.Base(long)) != 249 {
		t.Fatal("test name length")
	}
	run(t, Options{Input: src, Outputs: []Output{fast(long, hitsr.Target{Scale: 2})}})
	if n := len(fftest.FramePts(t, long)); n != 5 {
		t.Fatalf("long name: %d frames", n)
	}
	if left, _ := filepath.Glob(filepath.Join(d, ".*partial*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	if len(filepath.Base(tempPattern(filepath.Base(long))))+9 > maxName {
		t.Fatal("temporary name over 255 bytes")
	}
}
