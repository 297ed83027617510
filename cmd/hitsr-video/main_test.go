package main

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hitsr/hitsr/imageio"
)

const tiny = "../../testdata/golden/tiny_model.safetensors"

func writePNG(t *testing.T, path string, w, h int, alpha bool) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			a := uint8(255)
			if alpha {
				a = uint8(x * 255 / max(w-1, 1))
			}
			img.Set(x, y, color.NRGBA{uint8(x * 7), uint8(y * 11), 128, a})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func runCLI(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	code := run(args, &o, &e)
	return code, o.String(), e.String()
}

// listDir returns the names in dir (to check no temporary or partial files are left).
func listDir(t *testing.T, dir string) []string {
	ents, _ := os.ReadDir(dir)
	var n []string
	for _, e := range ents {
		n = append(n, e.Name())
	}
	return n
}

func TestUpscaleCLI(t *testing.T) {
	d := t.TempDir()
	in := filepath.Join(d, "in.png")
	writePNG(t, in, 13, 9, true)
	o2, o4, o3, hd := filepath.Join(d, "2x.png"), filepath.Join(d, "4x.jpg"), filepath.Join(d, "c.png"), filepath.Join(d, "hd.png")
	code, _, stderr := runCLI(in, "--out", o2+","+o4+",3:"+o3+",40x20:"+hd, "--model", tiny, "--device", "cpu")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, c := range []struct {
		p    string
		w, h int
	}{{o2, 26, 18}, {o4, 52, 36}, {o3, 39, 27}, {hd, 40, 20}} {
		img, err := imageio.Read(c.p)
		if err != nil {
			t.Fatal(err)
		}
		if img.W != c.w || img.H != c.h {
			t.Fatalf("%s: %d×%d, want %d×%d", c.p, img.W, img.H, c.w, c.h)
		}
		if strings.HasSuffix(c.p, ".png") && img.C != 4 {
			t.Fatalf("%s: alpha lost", c.p)
		}
	}
	// existing output without -y: error, file untouched; with -y: ok
	before, _ := os.ReadFile(o2)
	if code, _, e := runCLI(in, "--out", o2, "--model", tiny, "--device", "cpu"); code != exitUsage || !strings.Contains(e, "exists") {
		t.Fatalf("overwrite without -y: exit %d %q", code, e)
	}
	after, _ := os.ReadFile(o2)
	if !bytes.Equal(before, after) {
		t.Fatal("existing output modified")
	}
	if code, _, e := runCLI(in, "-y", "--out", o2, "--model", tiny, "--device", "cpu"); code != 0 {
		t.Fatalf("-y: exit %d %s", code, e)
	}
	if n := listDir(t, d); len(n) != 5 {
		t.Fatalf("leftover files: %v", n)
	}
}

func TestCLIErrors(t *testing.T) {
	d := t.TempDir()
	in := filepath.Join(d, "in.png")
	writePNG(t, in, 8, 8, false)
	corrupt := filepath.Join(d, "corrupt.png")
	os.WriteFile(corrupt, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	trunc := filepath.Join(d, "trunc.png")
	b, _ := os.ReadFile(in)
	os.WriteFile(trunc, b[:len(b)/2], 0o644)
	empty := filepath.Join(d, "empty.png")
	os.WriteFile(empty, nil, 0o644)
	// a PNG header claiming 20000×20000 (no pixel data): rejected before allocating
	huge := filepath.Join(d, "huge.png")
	var hb bytes.Buffer
	png.Encode(&hb, image.NewGray(image.Rect(0, 0, 1, 1)))
	hdr := hb.Bytes()
	copy(hdr[16:24], []byte{0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20}) // IHDR width/height
	binary.BigEndian.PutUint32(hdr[29:33], crc32.ChecksumIEEE(hdr[12:29]))
	os.WriteFile(huge, hdr, 0o644)
	zero := filepath.Join(d, "zero.png")
	hdr2 := append([]byte(nil), hb.Bytes()...)
	copy(hdr2[16:24], make([]byte, 8))
	binary.BigEndian.PutUint32(hdr2[29:33], crc32.ChecksumIEEE(hdr2[12:29]))
	os.WriteFile(zero, hdr2, 0o644)
	badModel := filepath.Join(d, "bad.safetensors")
	os.WriteFile(badModel, []byte("garbage"), 0o644)
	// weights that do not match the config: the shipped config header over the tiny tensors
	out := filepath.Join(d, "2x.png")
	pngDir := filepath.Join(d, "d.png")
	os.Mkdir(pngDir, 0o755)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing input", []string{filepath.Join(d, "nope.png"), "--out", out}, exitInput, "no such file"},
		{"a directory as input", []string{pngDir, "--out", out}, exitInput, "d.png is a directory"},
		{"corrupt", []string{corrupt, "--out", out}, exitInput, "corrupt"},
		{"truncated", []string{trunc, "--out", out}, exitInput, ""},
		{"empty file", []string{empty, "--out", out}, exitInput, ""},
		{"huge", []string{huge, "--out", out}, exitInput, "limit"},
		{"zero size", []string{zero, "--out", out}, exitInput, ""},
		{"no --out", []string{in}, exitUsage, "--out"},
		{"no scale", []string{in, "--out", filepath.Join(d, "big.png")}, exitUsage, "no scale"},
		{"zero scale", []string{in, "--out", filepath.Join(d, "0x.png")}, exitUsage, "invalid scale"},
		{"bad size", []string{in, "--out", "0x10:" + out}, exitUsage, "invalid size"},
		{"bad ext", []string{in, "--out", filepath.Join(d, "2x.gif")}, exitUsage, "format"},
		{"empty entry", []string{in, "--out", out + ","}, exitUsage, "empty"},
		{"output too big", []string{in, "--out", "5000:" + out}, exitUsage, "limit"},
		{"two inputs", []string{in, in, "--out", out}, exitUsage, "exactly one"},
		{"unknown flag", []string{in, "--out", out, "--frobnicate"}, exitUsage, "frobnicate"},
		{"video", []string{filepath.Join(d, "a.mp4"), "--out", out}, exitUsage, "video"},
		{"image with a plan", []string{in, "--out", out, "--plan", "/nonexistent.json", "--segment", "abc"}, exitUsage, "--plan and --segment are for video inputs"},
		{"missing model", []string{in, "--out", out, "--model", filepath.Join(d, "none.safetensors")}, exitModel, "model"},
		{"not a model", []string{in, "--out", out, "--model", corrupt}, exitModel, "corrupt.png: not a safetensors model file: "},
		{"bad model", []string{in, "--out", out, "--model", badModel}, exitModel, ""},
		{"bad device", []string{in, "--out", out, "--device", "vulkan:99"}, exitFailure, `"msg":"device \"vulkan:99\": `}, // named once
		{"eval bad scale", []string{"eval", d, "--scales", "3"}, exitUsage, "scale"},
		{"eval no dir", []string{"eval", filepath.Join(d, "nodir")}, exitInput, ""},
	}
	for _, c := range cases {
		args := c.args
		if !strings.Contains(strings.Join(args, " "), "--model") {
			args = append(args, "--model", tiny)
		}
		if !strings.Contains(strings.Join(args, " "), "--device") {
			args = append(args, "--device", "cpu")
		}
		code, _, stderr := runCLI(args...)
		if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d (want %d), stderr %q (want %q, one line)", c.name, code, c.code, stderr, c.msg)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: output left behind", c.name)
		}
	}
	for _, n := range listDir(t, d) {
		if strings.Contains(n, ".tmp") {
			t.Fatalf("temporary file left: %s", n)
		}
	}
}

func TestMismatchedWeights(t *testing.T) {
	// the model package names the tensor; the CLI maps it to exit code 4
	d := t.TempDir()
	in := filepath.Join(d, "in.png")
	writePNG(t, in, 8, 8, false)
	src, err := os.ReadFile(tiny)
	if err != nil {
		t.Skip(err)
	}
	// change "\"width\": 16" style config field in the header: z 4 → 5 breaks every shape
	hdr := string(src)
	i := strings.Index(hdr, `\"z\":4`)
	if i < 0 {
		t.Skip("config layout not as expected")
	}
	bad := []byte(hdr[:i] + `\"z\":5` + hdr[i+len(`\"z\":4`):])
	p := filepath.Join(d, "mismatch.safetensors")
	os.WriteFile(p, bad, 0o644)
	code, _, stderr := runCLI(in, "--out", filepath.Join(d, "2x.png"), "--model", p, "--device", "cpu")
	if code != exitModel || !strings.Contains(stderr, "weights:") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := runCLI("--help")
	if code != 0 || !strings.Contains(out, "exit codes") {
		t.Fatalf("help: %d %q", code, out)
	}
}

func TestEvalSmall(t *testing.T) {
	d := t.TempDir()
	writePNG(t, filepath.Join(d, "a.png"), 30, 26, false)
	writePNG(t, filepath.Join(d, "b.png"), 17, 33, false)
	csvp, chart := filepath.Join(d, "out", "r.csv"), filepath.Join(d, "r.png")
	os.Mkdir(filepath.Join(d, "out"), 0o755)
	code, out, stderr := runCLI("eval", d, "--scales", "2,4", "--csv", csvp, "--chart", chart, "--model", tiny, "--device", "cpu")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "MEAN") || !strings.Contains(out, "a.png") {
		t.Fatalf("table: %s", out)
	}
	b, err := os.ReadFile(csvp)
	if err != nil || strings.Count(string(b), "\n") != 1+2*2*3 {
		t.Fatalf("csv: %v %q", err, b)
	}
	if _, err := imageio.Read(chart); err != nil {
		t.Fatal(err)
	}

	// Checked before the model loads: a scale given twice, an image too small for one of the
	// scales, a FIFO named like an image (it would block).
	small := filepath.Join(t.TempDir(), "small")
	os.Mkdir(small, 0o755)
	writePNG(t, filepath.Join(small, "c.png"), 6, 6, false)
	fifos := filepath.Join(t.TempDir(), "fifo")
	os.Mkdir(fifos, 0o755)
	syscall.Mkfifo(filepath.Join(fifos, "f.png"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"eval", d, "--scales", "2,2"}, exitUsage, "2 given twice"},
		{[]string{"eval", small, "--scales", "2,4", "--model", "/nonexistent"}, exitInput, "c.png: too small for ×4"},
		{[]string{"eval", fifos, "--model", "/nonexistent"}, exitInput, "f.png: not a regular file"},
	} {
		code, _, stderr := runCLI(c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, %s; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}

// Never the input, whatever names it, even with -y: the output itself, a symbolic link to it, a
// path through a symbolically linked directory, a hard link; two names of one output are
// refused too. Image and video mode alike; the input is untouched.
func TestOutputIsInput(t *testing.T) {
	d := t.TempDir()
	img := filepath.Join(d, "2x.png")
	writePNG(t, img, 8, 8, false)
	vid := filepath.Join(d, "2x.mp4")
	if b, err := os.ReadFile(sample); err == nil {
		os.WriteFile(vid, b, 0o644)
	}
	os.Symlink(d, filepath.Join(d, "dirlink"))
	for _, in := range []string{img, vid} {
		ext := filepath.Ext(in)
		os.Symlink(in, filepath.Join(d, "link"+ext))
		os.Link(in, filepath.Join(d, "hard"+ext))
		before, _ := os.ReadFile(in)
		for _, c := range []struct{ out, msg string }{
			{in, "is the input"},
			{"2:" + filepath.Join(d, "link"+ext), "is the input"},
			{"2:" + filepath.Join(d, "dirlink", filepath.Base(in)), "is the input"},
			{"2:" + filepath.Join(d, "hard"+ext), "is the input"},
			{"2:" + filepath.Join(d, "new"+ext) + ",2:" + filepath.Join(d, "dirlink", "new"+ext), "same file"},
		} {
			code, _, stderr := runCLI(in, "--out", c.out, "-y", "--model", tiny, "--device", "cpu", "--progress", "never")
			if code != exitUsage || !strings.Contains(stderr, c.msg) {
				t.Errorf("%s --out %s -y: exit %d %q, want %d and %q", in, c.out, code, stderr, exitUsage, c.msg)
			}
			if after, _ := os.ReadFile(in); !bytes.Equal(before, after) {
				t.Fatalf("%s: input modified by --out %s", in, c.out)
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(d, ".*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// Image outputs: a character device is written in place (not replaced by a file), a directory
// is refused, and a 249-byte file name works.
func TestImageSpecialOutputs(t *testing.T) {
	d := t.TempDir()
	in := filepath.Join(d, "in.png")
	writePNG(t, in, 8, 6, false)
	null := "/dev/null"
	if os.Getuid() == 0 { // a copy, so a regression cannot replace the system's
		null = filepath.Join(d, "null")
		if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Fatal(err)
		}
	}
	long := filepath.Join(d, "2x"+strings.Repeat("b", 243)+".png")
	dir := filepath.Join(d, "dir.png")
	os.Mkdir(dir, 0o755)
	for _, c := range []struct {
		out  string
		code int
		msg  string
	}{
		{"2:" + dir, exitUsage, "is a directory"},
		{long, 0, ""},
	} {
		code, _, stderr := runCLI(in, "--out", c.out, "--model", tiny, "--device", "cpu")
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("--out %s: exit %d %q, want %d and %q", c.out, code, stderr, c.code, c.msg)
		}
	}
	// the device: "2:" + null has no image extension, so name it through a .png symlink
	link := filepath.Join(d, "dev.png")
	os.Symlink(null, link)
	if code, _, stderr := runCLI(in, "--out", "2:"+link, "--model", tiny, "--device", "cpu"); code != 0 {
		t.Fatalf("--out a device: exit %d %s", code, stderr)
	}
	if fi, err := os.Lstat(null); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("the device was replaced: %v", fi.Mode())
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symbolic link was replaced")
	}
	if img, err := imageio.Read(long); err != nil || img.W != 16 {
		t.Fatalf("long name: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(d, ".*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
