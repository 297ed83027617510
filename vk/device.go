package vk

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// Device is a logical Vulkan device with one compute queue. Use it from one
// goroutine at a time; the mutex only guards the allocator, caches and queue.
type Device struct {
	mu      sync.Mutex
	info    DeviceInfo
	pd      vk.PhysicalDevice
	dev     vk.Device
	c       *C.hs_dev // hot-path function table
	queue   vk.Queue
	family  uint32
	cmdPool vk.CommandPool
	fence   vk.Fence
	cache   vk.PipelineCache
	err     error // sticky: device lost or hung; every later call fails with it
	closed  bool

	mem   memState
	pipes map[string]*Pipeline
	idle  []*seqRes // recycled command buffers + descriptor pools
	seqs  []*seqRes // all of them, for Close
}

// Open creates a logical device on physical device index (see Devices).
func Open(index int) (*Device, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	if index < 0 || index >= len(physical) {
		return nil, fmt.Errorf("vulkan: no device vulkan:%d; %s", index, listDevices(infos))
	}
	d := &Device{info: infos[index], pd: physical[index], pipes: map[string]*Pipeline{}}
	fam, ok := computeFamily(d.pd)
	if !ok {
		return nil, fmt.Errorf("vulkan: device %q has no compute queue", d.info.Name)
	}
	d.family = fam
	f16 := C.int(0)
	if d.info.F16Storage {
		f16 = 1
	}
	i64 := C.int(0)
	if d.info.Int64 {
		i64 = 1
	}
	var cdev C.VkDevice
	r := C.hs_create_device(C.VkInstance(unsafe.Pointer(instance)), C.VkPhysicalDevice(unsafe.Pointer(d.pd)), C.uint32_t(fam), f16, i64, &cdev)
	if err := check("vkCreateDevice", vk.Result(r)); err != nil {
		return nil, err
	}
	d.dev = vk.Device(unsafe.Pointer(cdev))
	if err := d.init(); err != nil {
		d.destroy()
		return nil, err
	}
	return d, nil
}

func computeFamily(pd vk.PhysicalDevice) (uint32, bool) {
	var n uint32
	vk.GetPhysicalDeviceQueueFamilyProperties(pd, &n, nil)
	props := make([]vk.QueueFamilyProperties, n)
	vk.GetPhysicalDeviceQueueFamilyProperties(pd, &n, props)
	for i := range props[:n] {
		props[i].Deref()
		if props[i].QueueFlags&vk.QueueFlags(vk.QueueComputeBit) != 0 && props[i].QueueCount > 0 {
			return uint32(i), true
		}
	}
	return 0, false
}

func (d *Device) init() error {
	d.c = C.hs_dev_new(C.VkInstance(unsafe.Pointer(instance)), C.VkDevice(unsafe.Pointer(d.dev)))
	if d.c == nil {
		return fmt.Errorf("vulkan: vkGetDeviceProcAddr failed for %q", d.info.Name)
	}
	var q vk.Queue // local: a Device field here trips cgocheck
	vk.GetDeviceQueue(d.dev, d.family, 0, &q)
	d.queue = q
	var pool vk.CommandPool
	if err := check("vkCreateCommandPool", vk.CreateCommandPool(d.dev, &vk.CommandPoolCreateInfo{
		SType: vk.StructureTypeCommandPoolCreateInfo, QueueFamilyIndex: d.family,
		Flags: vk.CommandPoolCreateFlags(vk.CommandPoolCreateResetCommandBufferBit),
	}, nil, &pool)); err != nil {
		return err
	}
	d.cmdPool = pool
	var f vk.Fence
	if err := check("vkCreateFence", vk.CreateFence(d.dev, &vk.FenceCreateInfo{SType: vk.StructureTypeFenceCreateInfo}, nil, &f)); err != nil {
		return err
	}
	d.fence = f
	if err := d.openCache(); err != nil {
		return err
	}
	return d.initMem()
}

// cachePath is where the pipeline cache for this device lives on disk.
func (d *Device) cachePath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "hitsr", "vk-pipelines-"+hex.EncodeToString(d.info.PipelineCacheUUID[:])+".bin")
}

// openCache creates the pipeline cache, seeded from disk when possible.
// The driver validates the header (vendor, device, UUID) and ignores stale data.
func (d *Device) openCache() error {
	data, _ := os.ReadFile(d.cachePath())
	create := func(data []byte) (vk.PipelineCache, vk.Result) {
		ci := &vk.PipelineCacheCreateInfo{SType: vk.StructureTypePipelineCacheCreateInfo}
		if len(data) > 0 {
			p := C.CBytes(data)
			defer C.free(p)
			ci.InitialDataSize, ci.PInitialData = uint(len(data)), p
		}
		var c vk.PipelineCache
		r := vk.CreatePipelineCache(d.dev, ci, nil, &c)
		return c, r
	}
	c, r := create(data)
	if r != vk.Success && len(data) > 0 {
		c, r = create(nil)
	}
	if err := check("vkCreatePipelineCache", r); err != nil {
		return err
	}
	d.cache = c
	return nil
}

// saveCache writes the pipeline cache (tmp file + rename); errors are ignored.
func (d *Device) saveCache() {
	path := d.cachePath()
	if path == "" || d.cache == vk.NullPipelineCache {
		return
	}
	var n uint
	if vk.GetPipelineCacheData(d.dev, d.cache, &n, nil) != vk.Success || n == 0 {
		return
	}
	p := C.malloc(C.size_t(n))
	defer C.free(p)
	if vk.GetPipelineCacheData(d.dev, d.cache, &n, p) != vk.Success {
		return
	}
	data := C.GoBytes(p, C.int(n))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".vk-pipelines-*.tmp")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
		os.Remove(tmp.Name())
	}
}

// Info returns the physical device description.
func (d *Device) Info() DeviceInfo { return d.info }

// Close waits for the device to go idle, saves the pipeline cache and destroys
// every object. Buffers, pipelines and sequences of d are invalid afterwards.
// Safe to call more than once.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	err := check("vkDeviceWaitIdle", vk.DeviceWaitIdle(d.dev))
	if err == nil && d.err == nil {
		d.saveCache()
	}
	d.destroy()
	return err
}

// destroy releases everything; the device must be idle.
func (d *Device) destroy() {
	d.closed = true
	if d.dev == nil {
		return
	}
	for _, p := range d.pipes {
		p.destroy()
	}
	d.pipes = nil
	for _, r := range d.seqs {
		for _, p := range r.pools {
			vk.DestroyDescriptorPool(d.dev, p, nil)
		}
	}
	d.seqs, d.idle = nil, nil
	d.freeMem()
	if d.cmdPool != vk.NullCommandPool {
		vk.DestroyCommandPool(d.dev, d.cmdPool, nil) // frees its command buffers
	}
	if d.fence != vk.NullFence {
		vk.DestroyFence(d.dev, d.fence, nil)
	}
	if d.cache != vk.NullPipelineCache {
		vk.DestroyPipelineCache(d.dev, d.cache, nil)
	}
	if d.c != nil {
		C.hs_dev_free(d.c)
		d.c = nil
	}
	vk.DestroyDevice(d.dev, nil)
	d.dev = nil
}

// usable reports why d cannot be used, or nil. Call with d.mu held.
func (d *Device) usable() error {
	if d.closed {
		return errClosed
	}
	return d.err
}

// allocCmd allocates one primary command buffer.
func (d *Device) allocCmd() (vk.CommandBuffer, error) {
	cbs := make([]vk.CommandBuffer, 1)
	err := check("vkAllocateCommandBuffers", vk.AllocateCommandBuffers(d.dev, &vk.CommandBufferAllocateInfo{
		SType: vk.StructureTypeCommandBufferAllocateInfo, CommandPool: d.cmdPool,
		Level: vk.CommandBufferLevelPrimary, CommandBufferCount: 1,
	}, cbs))
	return cbs[0], err
}

// run ends, submits and waits for cb; maps loss and timeouts to sticky errors.
// Call with d.mu held.
func (d *Device) run(cb vk.CommandBuffer) error {
	r := vk.Result(C.hs_submit(d.c, C.VkQueue(unsafe.Pointer(d.queue)), C.VkCommandBuffer(unsafe.Pointer(cb)),
		C.VkFence(unsafe.Pointer(d.fence)), C.uint64_t(submitTimeout.Nanoseconds())))
	switch r {
	case vk.Success:
		return nil
	case vk.ErrorDeviceLost:
		d.err = fmt.Errorf("vulkan: device lost during submit (driver reset or crash); results are invalid: %w", ErrDeviceLost)
	case vk.Timeout:
		d.err = fmt.Errorf("vulkan: submit did not finish within %v; device is unusable", submitTimeout)
	default:
		return check("vkQueueSubmit", r)
	}
	return d.err
}
