package imageio

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 13)
	}
	for i := 3; i < len(src.Pix); i += 4 {
		src.Pix[i] = 255
	}
	src.Pix[3] = 10 // one translucent pixel → RGBA
	var buf bytes.Buffer
	png.Encode(&buf, src)
	img, err := Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if img.W != 5 || img.H != 3 || img.C != 4 {
		t.Fatalf("got %d×%d×%d", img.W, img.H, img.C)
	}
	back := ToImage(img)
	if !bytes.Equal(back.Pix, src.Pix) {
		t.Fatalf("8-bit round trip differs:\n%v\n%v", back.Pix, src.Pix)
	}
	// opaque gray decodes to RGB
	g := image.NewGray(image.Rect(0, 0, 2, 2))
	g.Set(1, 1, color.Gray{200})
	if m := FromImage(g); m.C != 3 || Quant8(m.Plane(1)[3]) != 200 {
		t.Fatalf("gray: C=%d", m.C)
	}
}

func TestQuant8(t *testing.T) {
	for _, c := range []struct {
		v    float32
		want uint8
	}{{-1, 0}, {0, 0}, {0.5 / 255, 0}, {1.5 / 255, 2}, {1, 255}, {2, 255}, {0.2, 51}} {
		if got := Quant8(c.v); got != c.want {
			t.Errorf("Quant8(%v) = %d, want %d", c.v, got, c.want)
		}
	}
}

func TestWriteAtomic(t *testing.T) {
	d := t.TempDir()
	img := New(4, 4, 3)
	for _, name := range []string{"a.png", "b.jpg", "c.jpeg"} {
		p := filepath.Join(d, name)
		if err := WriteAtomic(p, img, false); err != nil {
			t.Fatal(err)
		}
		if m, err := Read(p); err != nil || m.W != 4 {
			t.Fatalf("%s: %v", name, err)
		}
		if err := WriteAtomic(p, img, false); err == nil || !strings.Contains(err.Error(), "exists") {
			t.Fatalf("overwrite without permission: %v", err)
		}
		if err := WriteAtomic(p, img, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteAtomic(filepath.Join(d, "x.gif"), img, true); err == nil {
		t.Fatal("gif accepted")
	}
	if err := WriteAtomic(filepath.Join(d, "nodir", "x.png"), img, true); err == nil {
		t.Fatal("missing directory accepted")
	}
	ents, _ := os.ReadDir(d)
	if len(ents) != 3 {
		t.Fatalf("files left: %v", ents)
	}
}

func TestCheckSize(t *testing.T) {
	for _, c := range [][2]int{{0, 0}, {0, 5}, {MaxSide + 1, 1}, {10000, 10000}} {
		if CheckSize(c[0], c[1]) == nil {
			t.Errorf("%v accepted", c)
		}
	}
	if CheckSize(MaxSide, 1) != nil || CheckSize(8000, 8000) != nil {
		t.Error("valid size rejected")
	}
}
