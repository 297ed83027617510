package vk

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lavapipe returns the index of the llvmpipe device, skipping if Vulkan or
// lavapipe is unavailable.
func lavapipe(t testing.TB) int {
	t.Helper()
	devs, err := Devices()
	if err != nil {
		t.Skipf("Vulkan not available: %v", err)
	}
	for _, d := range devs {
		if strings.Contains(strings.ToLower(d.Name), "llvmpipe") {
			return d.Index
		}
	}
	t.Skipf("no llvmpipe device among %d devices", len(devs))
	return -1
}

func open(t testing.TB) *Device {
	t.Helper()
	d, err := Open(lavapipe(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestMain keeps pipeline caches (ours and Mesa's) out of the user's cache dir.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vk-test-cache-")
	if err == nil {
		os.Setenv("XDG_CACHE_HOME", dir)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func spv(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".spv"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func u32s(v ...uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return b
}

func download32(t testing.TB, d *Device, b *Buffer, n int) []uint32 {
	t.Helper()
	raw := make([]byte, 4*n)
	if err := d.Download(b, 0, raw); err != nil {
		t.Fatal(err)
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	return out
}

func TestDevices(t *testing.T) {
	idx := lavapipe(t)
	devs, _ := Devices()
	lp := devs[idx]
	t.Logf("%+v", lp)
	if lp.Type != DeviceCPU || lp.Type.String() != "cpu" {
		t.Errorf("llvmpipe type = %v, want cpu", lp.Type)
	}
	if lp.SubgroupSize == 0 || lp.MaxStorageBufferRange == 0 || lp.HeapSize == 0 || lp.MaxPushConstantsSize < 128 {
		t.Errorf("limits not filled: %+v", lp)
	}
	onlyCPU := true
	for _, d := range devs {
		onlyCPU = onlyCPU && d.Type == DeviceCPU
	}
	for _, spec := range []string{"", "auto", "vulkan"} {
		got, err := SelectDevice(spec)
		if onlyCPU && !errors.Is(err, ErrNoGPU) {
			t.Errorf("SelectDevice(%q) = %v, %v; want ErrNoGPU", spec, got.Name, err)
		}
		if !onlyCPU && (err != nil || got.Type == DeviceCPU) {
			t.Errorf("SelectDevice(%q) = %v, %v; want a GPU", spec, got.Name, err)
		}
	}
	if got, err := SelectDevice("vulkan:" + string(rune('0'+idx))); err != nil || got.Index != idx {
		t.Errorf("SelectDevice(vulkan:%d) = %v, %v", idx, got.Index, err)
	}
	if got, err := SelectDevice("LLVMpipe"); err != nil || got.Index != idx {
		t.Errorf("SelectDevice(LLVMpipe) = %v, %v", got.Index, err)
	}
	for _, spec := range []string{"vulkan:99", "vulkan:x", "no-such-gpu"} {
		if _, err := SelectDevice(spec); err == nil || !strings.Contains(err.Error(), "llvmpipe") {
			t.Errorf("SelectDevice(%q) error = %v, want one listing devices", spec, err)
		}
	}
}

func TestAllocFree(t *testing.T) {
	d := open(t)
	align := max(int64(d.Info().MinStorageBufferOffsetAlignment), 16)
	var bufs []*Buffer
	for i := 0; i < 200; i++ {
		b, err := d.Alloc(int64(1 + i*997))
		if err != nil {
			t.Fatal(err)
		}
		if b.Offset()%align != 0 || b.Size()%4 != 0 || b.Size() < int64(1+i*997) {
			t.Fatalf("alloc %d: offset %d size %d", i, b.Offset(), b.Size())
		}
		bufs = append(bufs, b)
	}
	for i, a := range bufs { // no two live buffers overlap
		for _, b := range bufs[i+1:] {
			if a.blk == b.blk && a.off < b.off+b.span && b.off < a.off+a.span {
				t.Fatalf("overlap: [%d,+%d) and [%d,+%d)", a.off, a.span, b.off, b.span)
			}
		}
	}
	for i := 0; i < len(bufs); i += 2 { // free every other one, then the rest
		d.Free(bufs[i])
	}
	for i := 1; i < len(bufs); i += 2 {
		d.Free(bufs[i])
	}
	d.Free(bufs[0]) // double free is a no-op
	if n := len(d.mem.blocks); n != 1 {
		t.Fatalf("%d blocks after freeing everything, want 1", n)
	}
	if blk := d.mem.blocks[0]; len(blk.free) != 1 || blk.free[0] != (span{0, blk.size}) || blk.used != 0 {
		t.Fatalf("free list not coalesced: %+v used %d", blk.free, blk.used)
	}
	b, err := d.Alloc(1000)
	if err != nil || b.Offset() != 0 {
		t.Fatalf("re-alloc after free: offset %v err %v", b, err)
	}
	// A request larger than the default block gets a block of its own.
	big := min(int64(d.Info().MaxStorageBufferRange), 100<<20)
	bb, err := d.Alloc(big)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.mem.blocks) != 2 || bb.blk.size < big {
		t.Fatalf("big alloc: %d blocks, block size %d", len(d.mem.blocks), bb.blk.size)
	}
	bb2, err := d.Alloc(big)
	if err != nil || len(d.mem.blocks) != 3 {
		t.Fatalf("second big alloc: %v, %d blocks", err, len(d.mem.blocks))
	}
	d.Free(bb)
	d.Free(bb2) // one empty spare block is kept, the other released
	if len(d.mem.blocks) != 2 {
		t.Fatalf("%d blocks after freeing both big buffers, want 2", len(d.mem.blocks))
	}
	d.Free(b)
}

func TestAllocErrors(t *testing.T) {
	d := open(t)
	if _, err := d.Alloc(0); err == nil {
		t.Error("Alloc(0) succeeded")
	}
	limit := int64(d.Info().MaxStorageBufferRange)
	if _, err := d.Alloc(limit + 4); err == nil || !strings.Contains(err.Error(), "maxStorageBufferRange") {
		t.Errorf("Alloc over limit: %v", err)
	}
	b, _ := d.Alloc(16)
	if err := d.Upload(b, 8, make([]byte, 9)); err == nil {
		t.Error("Upload past the end succeeded")
	}
	if _, err := d.Pipeline("probe", spv(t, "probe"), 1, int(d.Info().MaxPushConstantsSize)+4, nil); err == nil {
		t.Error("too-large push size accepted")
	}
	if _, err := d.Pipeline("bad", []byte("not spirv at all, sorry"), 1, 0, nil); err == nil {
		t.Error("bad SPIR-V accepted")
	}
}

func TestResultErrors(t *testing.T) {
	if !errors.Is(check("vkAllocateMemory", -2), ErrOutOfMemory) || !errors.Is(check("x", -4), ErrDeviceLost) || check("x", 0) != nil {
		t.Error("sentinel matching broken")
	}
	if got := check("vkCreateComputePipelines", -2).Error(); got != "vulkan: vkCreateComputePipelines: VK_ERROR_OUT_OF_DEVICE_MEMORY" {
		t.Errorf("error text %q", got)
	}
}

func roundTrip(t *testing.T, d *Device) {
	b, err := d.Alloc(1<<20 + 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ off, n int }{{0, 1}, {1, 7}, {3, 4099}, {3, 1 << 20}, {int(b.Size()) - 5, 5}} {
		src := make([]byte, c.n)
		for i := range src {
			src[i] = byte(i*7 + c.off)
		}
		if err := d.Upload(b, int64(c.off), src); err != nil {
			t.Fatal(err)
		}
		dst := make([]byte, c.n)
		if err := d.Download(b, int64(c.off), dst); err != nil {
			t.Fatal(err)
		}
		if string(src) != string(dst) {
			t.Fatalf("round trip at offset %d, %d bytes differs", c.off, c.n)
		}
	}
}

func TestUploadDownload(t *testing.T) { roundTrip(t, open(t)) }

// TestStaging forces device memory to stay unmapped so transfers go through
// the staging buffer and vkCmdCopyBuffer (the path discrete GPUs take).
func TestStaging(t *testing.T) {
	d := open(t)
	d.mem.noMap = true
	roundTrip(t, d)
	if d.mem.blocks[0].ptr != nil || d.mem.staging == nil {
		t.Fatal("staging path not taken")
	}
	big := make([]byte, stagingSize+stagingSize/2+12) // several chunks
	for i := range big {
		big[i] = byte(i / 4093)
	}
	b, err := d.Alloc(int64(len(big)) + 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Upload(b, 4, big); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(big))
	if err := d.Download(b, 4, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(big) {
		t.Fatal("multi-chunk staged round trip differs")
	}
	addChain(t, d, 1000, 10)
}

// addChain runs n add-one dispatches on one buffer in one Seq.
func addChain(t *testing.T, d *Device, elems, n int) {
	p, err := d.Pipeline("add1", spv(t, "add1"), 1, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Alloc(int64(4 * elems))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Free(b)
	if err := d.Upload(b, 0, make([]byte, 4*elems)); err != nil {
		t.Fatal(err)
	}
	s, err := d.Begin()
	if err != nil {
		t.Fatal(err)
	}
	groups := [3]uint32{uint32((elems + 63) / 64), 1, 1}
	for i := 0; i < n; i++ {
		if err := s.Dispatch(p, []*Buffer{b}, []bool{true}, u32s(uint32(elems)), groups); err != nil {
			t.Fatal(err)
		}
	}
	if s.Dispatches() != n || s.barriers != n-1 {
		t.Fatalf("%d dispatches, %d barriers; want %d, %d", s.Dispatches(), s.barriers, n, n-1)
	}
	if err := s.Submit(); err != nil {
		t.Fatal(err)
	}
	for i, v := range download32(t, d, b, elems) {
		if v != uint32(n) {
			t.Fatalf("element %d = %d after %d dispatches", i, v, n)
		}
	}
}

func TestDispatchChain(t *testing.T) {
	d := open(t)
	addChain(t, d, 1_000_000, 100)
	addChain(t, d, 1000, 1200) // more descriptor sets than a pool's maxSets; reuses the Seq resources
	pools := len(d.seqs[0].pools)
	addChain(t, d, 1000, 1200)
	if len(d.seqs) != 1 || len(d.seqs[0].pools) != pools {
		t.Fatal("Seq resources not reused")
	}
}

func TestBarriersAndSpec(t *testing.T) {
	d := open(t)
	const n = 1000
	p3, err := d.Pipeline("axpb", spv(t, "axpb"), 2, 8, []uint32{3})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := d.Pipeline("axpb", spv(t, "axpb"), 2, 8, []uint32{1})
	if err != nil || p1 == p3 {
		t.Fatal("spec constants not part of the cache key", err)
	}
	if again, _ := d.Pipeline("axpb", nil, 2, 8, []uint32{3}); again != p3 {
		t.Fatal("pipeline not cached")
	}
	a, _ := d.Alloc(4 * n)
	b, _ := d.Alloc(4 * n)
	c, _ := d.Alloc(4 * n)
	src := make([]uint32, n)
	for i := range src {
		src[i] = uint32(i)
	}
	if err := d.Upload(a, 0, u32s(src...)); err != nil {
		t.Fatal(err)
	}
	s, _ := d.Begin()
	g := [3]uint32{(n + 63) / 64, 1, 1}
	rw := []bool{false, true}
	steps := []struct {
		p        *Pipeline
		in, out  *Buffer
		add      uint32
		barriers int
	}{
		{p3, a, b, 5, 0}, // b = 3a+5
		{p1, a, c, 1, 0}, // c = a+1: independent, no barrier
		{p3, b, c, 2, 1}, // reads b (RAW) and rewrites c (WAW): barrier; c = 3b+2
		{p1, c, a, 0, 2}, // RAW on c and WAR on a: barrier; a = c
		{p1, c, c, 0, 3}, // WAR on c (read by the previous step)
	}
	for i, st := range steps {
		if err := s.Dispatch(st.p, []*Buffer{st.in, st.out}, rw, u32s(n, st.add), g); err != nil {
			t.Fatal(err)
		}
		if s.barriers != st.barriers {
			t.Fatalf("step %d: %d barriers, want %d", i, s.barriers, st.barriers)
		}
	}
	if err := s.Dispatch(p3, []*Buffer{a, b}, rw, nil, [3]uint32{0, 1, 1}); err != nil || s.Dispatches() != 5 {
		t.Fatal("zero-group dispatch not a no-op", err)
	}
	if err := s.Dispatch(p3, []*Buffer{a, b}, rw, nil, [3]uint32{1 << 31, 1, 1}); err == nil {
		t.Fatal("huge group count accepted")
	}
	if err := s.Dispatch(p3, []*Buffer{a}, nil, nil, g); err == nil {
		t.Fatal("wrong buffer count accepted")
	}
	if err := s.Submit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Submit(); err == nil {
		t.Fatal("second Submit succeeded")
	}
	ga := download32(t, d, a, n)
	for i := range n {
		want := 3*(3*uint32(i)+5) + 2
		if ga[i] != want {
			t.Fatalf("a[%d] = %d, want %d", i, ga[i], want)
		}
	}
	// Abort discards; nothing runs.
	s, _ = d.Begin()
	s.Dispatch(p1, []*Buffer{a, b}, rw, u32s(n, 7), g)
	s.Abort()
	if download32(t, d, b, 1)[0] == 7 {
		t.Fatal("aborted dispatch ran")
	}
}

func TestSpecAndPush(t *testing.T) {
	d := open(t)
	p, err := d.Pipeline("probe", spv(t, "probe"), 1, 16, []uint32{7, 8})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := d.Alloc(40)
	s, _ := d.Begin()
	if err := s.Dispatch(p, []*Buffer{out}, nil, u32s(11, 12, 13), [3]uint32{1, 1, 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Submit(); err != nil {
		t.Fatal(err)
	}
	want := []uint32{7, 8, 300, 11, 12, 13, 0, 10} // S2 keeps its default, p3 zero-padded, length from range
	got := download32(t, d, out, 8)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("probe output %v, want %v", got, want)
		}
	}
}

func TestPipelineCacheFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", dir)
	d, err := Open(lavapipe(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pipeline("add1", spv(t, "add1"), 1, 4, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := d.Alloc(4); err == nil {
		t.Fatal("Alloc after Close succeeded")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "hitsr", "vk-pipelines-*.bin"))
	if len(files) != 1 {
		t.Fatalf("cache files: %v", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Size() == 0 {
		t.Fatalf("cache file empty: %v", err)
	}
	d, err = Open(lavapipe(t)) // loads the saved cache
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pipeline("add1", spv(t, "add1"), 1, 4, nil); err != nil {
		t.Fatal(err)
	}
	d.Close()
}
