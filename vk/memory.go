package vk

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"unsafe"

	"github.com/vulkan-go/vulkan"
)

const (
	defaultBlockSize = 64 << 20 // bytes per VkDeviceMemory block unless a request needs more
	stagingSize      = 16 << 20 // host-visible bounce buffer when device memory is not mappable
)

// Buffer is a suballocation of a device memory block.
type Buffer struct {
	blk       *block
	off, size int64 // offset in blk, usable size (multiple of 4)
	span      int64 // bytes reserved in blk (size rounded up to the alignment)
	freed     bool
}

// Size returns the usable size in bytes (the requested size rounded up to 4).
func (b *Buffer) Size() int64 { return b.size }

// Offset returns the byte offset of b within its block's VkBuffer.
func (b *Buffer) Offset() int64 { return b.off }

type span struct{ off, size int64 }

// block is one VkDeviceMemory with one VkBuffer covering all of it.
type block struct {
	d    *Device
	mem  vulkan.DeviceMemory
	buf  vulkan.Buffer
	size int64
	used int64
	ptr  unsafe.Pointer // persistent mapping, nil if not host visible
	free []span         // sorted by offset, coalesced
}

// memState is the per-device allocator.
type memState struct {
	props     vulkan.PhysicalDeviceMemoryProperties
	align     int64
	maxBlock  int64
	typ       int // memory type of blocks, -1 until the first block
	mapped    bool
	cached    bool // mapped and HOST_CACHED: reading the mapping is fast
	blocks    []*block
	staging   *block
	stagingCB vulkan.CommandBuffer
	noMap     bool // tests: force the staging path
}

func (d *Device) initMem() error {
	m := &d.mem
	var props vulkan.PhysicalDeviceMemoryProperties // local: see GetDeviceQueue in init
	vulkan.GetPhysicalDeviceMemoryProperties(d.pd, &props)
	props.Deref()
	m.props = props
	for i := range m.props.MemoryTypes {
		m.props.MemoryTypes[i].Deref()
	}
	for i := range m.props.MemoryHeaps {
		m.props.MemoryHeaps[i].Deref()
	}
	m.align = max(int64(d.info.MinStorageBufferOffsetAlignment), 16)
	m.maxBlock = int64(d.info.MaxMemoryAllocationSize)
	if m.maxBlock <= 0 {
		m.maxBlock = int64(d.info.HeapSize)
	}
	m.maxBlock = m.maxBlock / m.align * m.align
	m.typ = -1
	return nil
}

const (
	memDL = vulkan.MemoryPropertyFlags(vulkan.MemoryPropertyDeviceLocalBit)
	memHV = vulkan.MemoryPropertyFlags(vulkan.MemoryPropertyHostVisibleBit)
	memHC = vulkan.MemoryPropertyFlags(vulkan.MemoryPropertyHostCoherentBit)
	memCA = vulkan.MemoryPropertyFlags(vulkan.MemoryPropertyHostCachedBit)
)

// pickType chooses the memory type for blocks: device-local and host-mappable
// if that heap is (nearly) the whole VRAM (UMA, ReBAR, lavapipe), else plain
// device-local with staging.
func (m *memState) pickType(bits uint32) (typ int, mapped bool) {
	var largest vulkan.DeviceSize
	for i := uint32(0); i < m.props.MemoryHeapCount; i++ {
		largest = max(largest, m.props.MemoryHeaps[i].Size)
	}
	find := func(want vulkan.MemoryPropertyFlags, minHeap vulkan.DeviceSize) int {
		for i := uint32(0); i < m.props.MemoryTypeCount; i++ {
			t := m.props.MemoryTypes[i]
			if bits&(1<<i) != 0 && t.PropertyFlags&want == want && m.props.MemoryHeaps[t.HeapIndex].Size >= minHeap {
				return int(i)
			}
		}
		return -1
	}
	if t := find(memDL|memHV|memHC, largest/2); t >= 0 {
		return t, true
	}
	if t := find(memDL, 0); t >= 0 {
		return t, false
	}
	if t := find(memHV|memHC, 0); t >= 0 {
		return t, true
	}
	return find(0, 0), false
}

// newBlock allocates size bytes of memory with one buffer over all of it,
// of the main block type or, for staging, host-visible.
func (d *Device) newBlock(size int64, staging bool) (*block, error) {
	m := &d.mem
	usage := vulkan.BufferUsageFlags(vulkan.BufferUsageStorageBufferBit | vulkan.BufferUsageTransferSrcBit | vulkan.BufferUsageTransferDstBit)
	var buf vulkan.Buffer
	if err := check("vkCreateBuffer", vulkan.CreateBuffer(d.dev, &vulkan.BufferCreateInfo{
		SType: vulkan.StructureTypeBufferCreateInfo, Size: vulkan.DeviceSize(size), Usage: usage,
		SharingMode: vulkan.SharingModeExclusive}, nil, &buf)); err != nil {
		return nil, err
	}
	var req vulkan.MemoryRequirements
	vulkan.GetBufferMemoryRequirements(d.dev, buf, &req)
	req.Deref()
	typ, mapped := m.typ, m.mapped
	if staging {
		typ, mapped = m.stagingType(req.MemoryTypeBits), true
	} else if typ < 0 {
		typ, mapped = m.pickType(req.MemoryTypeBits)
		mapped = mapped && !m.noMap
	}
	if typ < 0 || req.MemoryTypeBits&(1<<typ) == 0 {
		vulkan.DestroyBuffer(d.dev, buf, nil)
		return nil, fmt.Errorf("vulkan: no suitable memory type for storage buffers (bits %#x)", req.MemoryTypeBits)
	}
	var mem vulkan.DeviceMemory
	if err := check("vkAllocateMemory", vulkan.AllocateMemory(d.dev, &vulkan.MemoryAllocateInfo{
		SType: vulkan.StructureTypeMemoryAllocateInfo, AllocationSize: req.Size, MemoryTypeIndex: uint32(typ)}, nil, &mem)); err != nil {
		vulkan.DestroyBuffer(d.dev, buf, nil)
		return nil, err
	}
	b := &block{d: d, mem: mem, buf: buf, size: size, free: []span{{0, size}}}
	if err := check("vkBindBufferMemory", vulkan.BindBufferMemory(d.dev, buf, mem, 0)); err != nil {
		b.release()
		return nil, err
	}
	if mapped {
		var p unsafe.Pointer
		if err := check("vkMapMemory", vulkan.MapMemory(d.dev, mem, 0, vulkan.DeviceSize(vulkan.WholeSize), 0, &p)); err != nil {
			b.release()
			return nil, err
		}
		b.ptr = p
	}
	if !staging {
		m.typ, m.mapped = typ, mapped
		m.cached = mapped && m.props.MemoryTypes[typ].PropertyFlags&memCA != 0
	}
	return b, nil
}

// stagingType prefers host-cached coherent memory (fast readback).
func (m *memState) stagingType(bits uint32) int {
	for _, want := range []vulkan.MemoryPropertyFlags{memHV | memHC | memCA, memHV | memHC} {
		for i := uint32(0); i < m.props.MemoryTypeCount; i++ {
			if bits&(1<<i) != 0 && m.props.MemoryTypes[i].PropertyFlags&want == want {
				return int(i)
			}
		}
	}
	return -1
}

func (b *block) release() {
	if b.ptr != nil {
		vulkan.UnmapMemory(b.d.dev, b.mem)
		b.ptr = nil
	}
	vulkan.DestroyBuffer(b.d.dev, b.buf, nil)
	vulkan.FreeMemory(b.d.dev, b.mem, nil)
}

// take reserves n bytes (best fit); n is a multiple of the alignment.
func (b *block) take(n int64) (int64, bool) {
	best := -1
	for i, s := range b.free {
		if s.size >= n && (best < 0 || s.size < b.free[best].size) {
			best = i
		}
	}
	if best < 0 {
		return 0, false
	}
	s := &b.free[best]
	off := s.off
	s.off += n
	s.size -= n
	if s.size == 0 {
		b.free = append(b.free[:best], b.free[best+1:]...)
	}
	b.used += n
	return off, true
}

// give returns [off, off+n) to the free list, merging with its neighbours.
func (b *block) give(off, n int64) {
	b.used -= n
	i := sort.Search(len(b.free), func(i int) bool { return b.free[i].off > off })
	if i > 0 && b.free[i-1].off+b.free[i-1].size == off { // merge left
		b.free[i-1].size += n
		if i < len(b.free) && off+n == b.free[i].off { // and right
			b.free[i-1].size += b.free[i].size
			b.free = append(b.free[:i], b.free[i+1:]...)
		}
		return
	}
	if i < len(b.free) && off+n == b.free[i].off { // merge right
		b.free[i].off = off
		b.free[i].size += n
		return
	}
	b.free = append(b.free, span{})
	copy(b.free[i+1:], b.free[i:])
	b.free[i] = span{off, n}
}

// Alloc suballocates size bytes (rounded up to 4) of device memory. Offsets are
// aligned to max(minStorageBufferOffsetAlignment, 16). Contents are undefined.
func (d *Device) Alloc(size int64) (*Buffer, error) {
	if size <= 0 {
		return nil, fmt.Errorf("vulkan: Alloc size must be positive, got %d", size)
	}
	size = (size + 3) &^ 3
	if limit := int64(d.info.MaxStorageBufferRange); size > limit {
		return nil, fmt.Errorf("vulkan: Alloc of %d bytes exceeds the device's maxStorageBufferRange of %d bytes", size, limit)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usable(); err != nil {
		return nil, err
	}
	m := &d.mem
	n := (size + m.align - 1) / m.align * m.align
	for _, b := range m.blocks {
		if off, ok := b.take(n); ok {
			return &Buffer{blk: b, off: off, size: size, span: n}, nil
		}
	}
	bsize := max(n, defaultBlockSize)
	if m.maxBlock > 0 {
		bsize = min(bsize, m.maxBlock)
	}
	if n > bsize {
		return nil, fmt.Errorf("%w allocating %d bytes (maxMemoryAllocationSize %d)", ErrOutOfMemory, size, m.maxBlock)
	}
	b, err := d.newBlock(bsize, false)
	if err != nil && errors.Is(err, ErrOutOfMemory) {
		d.releaseSpares()
		b, err = d.newBlock(n, false) // a block just big enough may still fit
	}
	if err != nil {
		if errors.Is(err, ErrOutOfMemory) {
			return nil, fmt.Errorf("%w allocating %d bytes", ErrOutOfMemory, size)
		}
		return nil, err
	}
	m.blocks = append(m.blocks, b)
	off, _ := b.take(n)
	return &Buffer{blk: b, off: off, size: size, span: n}, nil
}

// Free returns b to its block. Empty blocks other than the first are released,
// keeping at most one spare. Freeing nil or twice is a no-op. b must not be in
// use by an unsubmitted Seq.
func (d *Device) Free(b *Buffer) {
	if b == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if b.freed || d.closed || b.blk.d != d {
		return
	}
	b.freed = true
	blk := b.blk
	blk.give(b.off, b.span)
	if blk.used != 0 || blk == d.mem.blocks[0] {
		return
	}
	spare := 0
	for _, x := range d.mem.blocks[1:] {
		if x.used == 0 {
			spare++
		}
	}
	if spare > 1 {
		d.mem.blocks = slices.DeleteFunc(d.mem.blocks, func(x *block) bool { return x == blk })
		blk.release()
	}
}

// releaseSpares frees all empty blocks except the first.
func (d *Device) releaseSpares() {
	first := d.mem.blocks[:min(1, len(d.mem.blocks))]
	rest := slices.DeleteFunc(d.mem.blocks[len(first):], func(x *block) bool {
		if x.used == 0 {
			x.release()
			return true
		}
		return false
	})
	d.mem.blocks = append(first, rest...)
}

func (d *Device) freeMem() {
	for _, b := range d.mem.blocks {
		b.release()
	}
	d.mem.blocks = nil
	if d.mem.staging != nil {
		d.mem.staging.release()
		d.mem.staging = nil
	}
}

// hostRange validates [off, off+n) inside b and returns the device state error.
func (d *Device) hostRange(b *Buffer, off int64, n int, op string) error {
	if b == nil || b.freed {
		return fmt.Errorf("vulkan: %s on a nil or freed buffer", op)
	}
	if b.blk.d != d {
		return errWrongDevice
	}
	if off < 0 || off+int64(n) > b.size {
		return fmt.Errorf("vulkan: %s of %d bytes at offset %d outside buffer of %d bytes", op, n, off, b.size)
	}
	return d.usable()
}

// Upload copies src into b at byte offset off.
func (d *Device) Upload(b *Buffer, off int64, src []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.hostRange(b, off, len(src), "Upload"); err != nil || len(src) == 0 {
		return err
	}
	if p := b.blk.ptr; p != nil {
		copy(unsafe.Slice((*byte)(unsafe.Add(p, b.off+off)), len(src)), src)
		return nil
	}
	return d.staged(b, off, src, true)
}

// Download copies len(dst) bytes of b at byte offset off into dst. Uncached
// mappings (write-combined VRAM behind ReBAR) are read through staging.
func (d *Device) Download(b *Buffer, off int64, dst []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.hostRange(b, off, len(dst), "Download"); err != nil || len(dst) == 0 {
		return err
	}
	if p := b.blk.ptr; p != nil && d.mem.cached {
		copy(dst, unsafe.Slice((*byte)(unsafe.Add(p, b.off+off)), len(dst)))
		return nil
	}
	return d.staged(b, off, dst, false)
}

// staged moves data through the staging buffer in chunks, one submit each.
func (d *Device) staged(b *Buffer, off int64, data []byte, up bool) error {
	m := &d.mem
	if m.staging == nil {
		s, err := d.newBlock(stagingSize, true)
		if err != nil {
			return err
		}
		cb, err := d.allocCmd()
		if err != nil {
			s.release()
			return err
		}
		m.staging, m.stagingCB = s, cb
	}
	s, cb := m.staging, C.VkCommandBuffer(unsafe.Pointer(m.stagingCB))
	for done := 0; done < len(data); {
		n := min(len(data)-done, stagingSize)
		win := unsafe.Slice((*byte)(s.ptr), n)
		if up {
			copy(win, data[done:done+n])
		}
		if err := check("vkBeginCommandBuffer", vulkan.Result(C.hs_begin(d.c, cb))); err != nil {
			return err
		}
		src, dst := C.VkBuffer(unsafe.Pointer(s.buf)), C.VkBuffer(unsafe.Pointer(b.blk.buf))
		srcOff, dstOff := C.VkDeviceSize(0), C.VkDeviceSize(b.off+off+int64(done))
		if !up {
			src, dst, srcOff, dstOff = dst, src, dstOff, srcOff
		}
		C.hs_copy(d.c, cb, src, srcOff, dst, dstOff, C.VkDeviceSize(n))
		if err := d.run(m.stagingCB); err != nil {
			return err
		}
		if !up {
			copy(data[done:done+n], win)
		}
		done += n
	}
	return nil
}
