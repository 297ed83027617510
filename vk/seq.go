package vk

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"slices"
	"time"
	"unsafe"

	"github.com/vulkan-go/vulkan"
)

const (
	submitTimeout = 10 * time.Minute
	poolSets      = 512 // descriptor sets per pool
	poolBuffers   = 8   // storage-buffer descriptors per set, on average
)

// seqRes is a command buffer, descriptor pools and scratch space, recycled
// across Seqs.
type seqRes struct {
	cb    vulkan.CommandBuffer
	pools []vulkan.DescriptorPool
	cur   int // pool being allocated from

	written, read []rng // buffer ranges touched since the last barrier
	bufs          []C.VkBuffer
	offs, sizes   []C.VkDeviceSize
	push          []byte
}

// Seq records many dispatches into one command buffer for one submit.
type Seq struct {
	d        *Device
	r        *seqRes
	n        int
	barriers int
	done     bool
}

// rng is a byte range of a block.
type rng struct {
	blk    *block
	lo, hi int64
}

// Begin starts recording. Finish with Submit or Abort.
func (d *Device) Begin() (*Seq, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usable(); err != nil {
		return nil, err
	}
	var r *seqRes
	if n := len(d.idle); n > 0 {
		r, d.idle = d.idle[n-1], d.idle[:n-1]
	} else {
		cb, err := d.allocCmd()
		if err != nil {
			return nil, err
		}
		r = &seqRes{cb: cb}
		d.seqs = append(d.seqs, r)
	}
	if err := check("vkBeginCommandBuffer", vulkan.Result(C.hs_begin(d.c, C.VkCommandBuffer(unsafe.Pointer(r.cb))))); err != nil {
		d.idle = append(d.idle, r)
		return nil, err
	}
	r.written, r.read = r.written[:0], r.read[:0]
	return &Seq{d: d, r: r}, nil
}

// Dispatches returns the number of dispatches recorded so far.
func (s *Seq) Dispatches() int { return s.n }

// Dispatch records p over groups workgroups with bufs bound at bindings
// 0..len(bufs)-1. writes[i] marks bufs[i] as written (nil: all written);
// a barrier is inserted only when this dispatch conflicts with one since the
// last barrier (read-after-write, write-after-write, write-after-read on
// overlapping ranges). push is zero-padded to the pipeline's push size. A
// zero group count records nothing.
func (s *Seq) Dispatch(p *Pipeline, bufs []*Buffer, writes []bool, push []byte, groups [3]uint32) error {
	if s.done {
		return errSeqFinished
	}
	d := s.d
	if d.closed || d.err != nil {
		return d.usable()
	}
	if p == nil || p.d != d {
		return errWrongDevice
	}
	if len(bufs) != p.nBuffers {
		return fmt.Errorf("vulkan: dispatch %s: %d buffers, pipeline has %d bindings", p.name, len(bufs), p.nBuffers)
	}
	if writes != nil && len(writes) != len(bufs) {
		return fmt.Errorf("vulkan: dispatch %s: %d write flags for %d buffers", p.name, len(writes), len(bufs))
	}
	if len(push) > p.pushSize {
		return fmt.Errorf("vulkan: dispatch %s: %d bytes of push constants, pipeline takes %d", p.name, len(push), p.pushSize)
	}
	for i, g := range groups {
		if g > d.info.MaxWorkgroupCount[i] {
			return fmt.Errorf("vulkan: dispatch %s: %d workgroups in dimension %d exceeds device limit %d",
				p.name, g, i, d.info.MaxWorkgroupCount[i])
		}
	}
	for i, b := range bufs {
		if b == nil || b.freed {
			return fmt.Errorf("vulkan: dispatch %s: buffer %d is nil or freed", p.name, i)
		}
		if b.blk.d != d {
			return errWrongDevice
		}
	}
	if groups[0] == 0 || groups[1] == 0 || groups[2] == 0 {
		return nil
	}

	r := s.r
	barrier := false
	for i, b := range bufs {
		w := writes == nil || writes[i]
		if overlaps(r.written, b) || (w && overlaps(r.read, b)) {
			barrier = true
			break
		}
	}
	cb := C.VkCommandBuffer(unsafe.Pointer(r.cb))
	if barrier {
		C.hs_barrier(d.c, cb)
		s.barriers++
		r.written, r.read = r.written[:0], r.read[:0]
	}
	r.bufs, r.offs, r.sizes = r.bufs[:0], r.offs[:0], r.sizes[:0]
	for i, b := range bufs {
		x := rng{b.blk, b.off, b.off + b.size}
		if writes == nil || writes[i] {
			r.written = append(r.written, x)
		} else {
			r.read = append(r.read, x)
		}
		r.bufs = append(r.bufs, C.VkBuffer(unsafe.Pointer(b.blk.buf)))
		r.offs = append(r.offs, C.VkDeviceSize(b.off))
		r.sizes = append(r.sizes, C.VkDeviceSize(b.size))
	}
	var pushPtr unsafe.Pointer
	if p.pushSize > 0 {
		if len(push) < p.pushSize {
			n := len(push)
			r.push = slices.Grow(append(r.push[:0], push...), p.pushSize-n)[:p.pushSize]
			clear(r.push[n:])
			push = r.push
		}
		pushPtr = unsafe.Pointer(&push[0])
	}
	var bufPtr *C.VkBuffer
	var offPtr, sizePtr *C.VkDeviceSize
	if len(bufs) > 0 {
		bufPtr, offPtr, sizePtr = &r.bufs[0], &r.offs[0], &r.sizes[0]
	}
	for {
		created := false
		if r.cur == len(r.pools) {
			if err := s.addPool(); err != nil {
				return err
			}
			created = true
		}
		res := vulkan.Result(C.hs_dispatch(d.c, cb, C.VkDescriptorPool(unsafe.Pointer(r.pools[r.cur])),
			C.VkDescriptorSetLayout(unsafe.Pointer(p.dsl)), C.VkPipelineLayout(unsafe.Pointer(p.layout)),
			C.VkPipeline(unsafe.Pointer(p.pipe)), C.uint32_t(len(bufs)), bufPtr, offPtr, sizePtr,
			pushPtr, C.uint32_t(p.pushSize), C.uint32_t(groups[0]), C.uint32_t(groups[1]), C.uint32_t(groups[2])))
		switch {
		case res == vulkan.Success:
			s.n++
			return nil
		case (res == vulkan.ErrorOutOfPoolMemory || res == vulkan.ErrorFragmentedPool) && !created:
			r.cur++ // this pool is full: move on to the next one
		default:
			return check("vkAllocateDescriptorSets", res)
		}
	}
}

func overlaps(list []rng, b *Buffer) bool {
	for _, r := range list {
		if r.blk == b.blk && r.lo < b.off+b.size && b.off < r.hi {
			return true
		}
	}
	return false
}

func (s *Seq) addPool() error {
	var pool vulkan.DescriptorPool
	err := check("vkCreateDescriptorPool", vulkan.CreateDescriptorPool(s.d.dev, &vulkan.DescriptorPoolCreateInfo{
		SType: vulkan.StructureTypeDescriptorPoolCreateInfo, MaxSets: poolSets, PoolSizeCount: 1,
		PPoolSizes: []vulkan.DescriptorPoolSize{{Type: vulkan.DescriptorTypeStorageBuffer, DescriptorCount: poolSets * poolBuffers}},
	}, nil, &pool))
	if err == nil {
		s.r.pools = append(s.r.pools, pool)
	}
	return err
}

// Submit ends recording, submits once and waits for completion. The Seq is
// finished afterwards whatever the outcome.
func (s *Seq) Submit() error {
	if s.done {
		return errSeqFinished
	}
	s.done = true
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usable(); err != nil {
		return err
	}
	if s.n == 0 {
		return s.recycle()
	}
	if err := d.run(s.r.cb); err != nil {
		if d.err == nil { // not pending on the GPU: safe to recycle
			s.recycle()
		}
		return err
	}
	return s.recycle()
}

// Abort discards the recording without submitting.
func (s *Seq) Abort() {
	if s.done {
		return
	}
	s.done = true
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if s.d.closed {
		return
	}
	s.recycle()
}

// recycle resets the descriptor pools used and returns the resources to the
// device. The command buffer is reset by the next Begin. Call with d.mu held.
func (s *Seq) recycle() error {
	var err error
	for i := 0; i <= s.r.cur && i < len(s.r.pools); i++ {
		if e := check("vkResetDescriptorPool", vulkan.Result(C.hs_reset_pool(s.d.c, C.VkDescriptorPool(unsafe.Pointer(s.r.pools[i]))))); e != nil && err == nil {
			err = e
		}
	}
	s.r.cur = 0
	s.d.idle = append(s.d.idle, s.r)
	return err
}
