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

	"github.com/hitsr/hitsr/internal/regfile"
	"github.com/vulkan-go/vulkan"
)

// Device is a logical Vulkan device with one compute queue. Use it from one
// goroutine at a time; the mutex only guards the allocator, caches and queue.
type Device struct {
	mu      sync.Mutex
	info    DeviceInfo
	pd      vulkan.PhysicalDevice
	dev     vulkan.Device
	c       *C.hs_dev // hot-path function table
	queue   vulkan.Queue
	family  uint32
	cmdPool vulkan.CommandPool
	fence   vulkan.Fence
	cache   vulkan.PipelineCache
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
	if err := check("vkCreateDevice", vulkan.Result(r)); err != nil {
		return nil, err
	}
	d.dev = vulkan.Device(unsafe.Pointer(cdev))
	if err := d.init(); err != nil {
		d.destroy()
		return nil, err
	}
	return d, nil
}

func computeFamily(pd vulkan.PhysicalDevice) (uint32, bool) {
	var n uint32
	vulkan.GetPhysicalDeviceQueueFamilyProperties(pd, &n, nil)
	props := make([]vulkan.QueueFamilyProperties, n)
	vulkan.GetPhysicalDeviceQueueFamilyProperties(pd, &n, props)
	for i := range props[:n] {
		props[i].Deref()
		if props[i].QueueFlags&vulkan.QueueFlags(vulkan.QueueComputeBit) != 0 && props[i].QueueCount > 0 {
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
	var q vulkan.Queue // local: a Device field here trips cgocheck
	vulkan.GetDeviceQueue(d.dev, d.family, 0, &q)
	d.queue = q
	var pool vulkan.CommandPool
	if err := check("vkCreateCommandPool", vulkan.CreateCommandPool(d.dev, &vulkan.CommandPoolCreateInfo{
		SType: vulkan.StructureTypeCommandPoolCreateInfo, QueueFamilyIndex: d.family,
		Flags: vulkan.CommandPoolCreateFlags(vulkan.CommandPoolCreateResetCommandBufferBit),
	}, nil, &pool)); err != nil {
		return err
	}
	d.cmdPool = pool
	var f vulkan.Fence
	if err := check("vkCreateFence", vulkan.CreateFence(d.dev, &vulkan.FenceCreateInfo{SType: vulkan.StructureTypeFenceCreateInfo}, nil, &f)); err != nil {
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
	data, _ := regfile.Read(d.cachePath(), 256<<20) // not a FIFO or device left in the cache directory
	create := func(data []byte) (vulkan.PipelineCache, vulkan.Result) {
		ci := &vulkan.PipelineCacheCreateInfo{SType: vulkan.StructureTypePipelineCacheCreateInfo}
		if len(data) > 0 {
			p := C.CBytes(data)
			defer C.free(p)
			ci.InitialDataSize, ci.PInitialData = uint(len(data)), p
		}
		var c vulkan.PipelineCache
		r := vulkan.CreatePipelineCache(d.dev, ci, nil, &c)
		return c, r
	}
	c, r := create(data)
	if r != vulkan.Success && len(data) > 0 {
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
	if path == "" || d.cache == vulkan.NullPipelineCache {
		return
	}
	var n uint
	if vulkan.GetPipelineCacheData(d.dev, d.cache, &n, nil) != vulkan.Success || n == 0 {
		return
	}
	p := C.malloc(C.size_t(n))
	defer C.free(p)
	if vulkan.GetPipelineCacheData(d.dev, d.cache, &n, p) != vulkan.Success {
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
	err := check("vkDeviceWaitIdle", vulkan.DeviceWaitIdle(d.dev))
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
			vulkan.DestroyDescriptorPool(d.dev, p, nil)
		}
	}
	d.seqs, d.idle = nil, nil
	d.freeMem()
	if d.cmdPool != vulkan.NullCommandPool {
		vulkan.DestroyCommandPool(d.dev, d.cmdPool, nil) // frees its command buffers
	}
	if d.fence != vulkan.NullFence {
		vulkan.DestroyFence(d.dev, d.fence, nil)
	}
	if d.cache != vulkan.NullPipelineCache {
		vulkan.DestroyPipelineCache(d.dev, d.cache, nil)
	}
	if d.c != nil {
		C.hs_dev_free(d.c)
		d.c = nil
	}
	vulkan.DestroyDevice(d.dev, nil)
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
func (d *Device) allocCmd() (vulkan.CommandBuffer, error) {
	cbs := make([]vulkan.CommandBuffer, 1)
	err := check("vkAllocateCommandBuffers", vulkan.AllocateCommandBuffers(d.dev, &vulkan.CommandBufferAllocateInfo{
		SType: vulkan.StructureTypeCommandBufferAllocateInfo, CommandPool: d.cmdPool,
		Level: vulkan.CommandBufferLevelPrimary, CommandBufferCount: 1,
	}, cbs))
	return cbs[0], err
}

// run ends, submits and waits for cb; maps loss and timeouts to sticky errors.
// Call with d.mu held.
func (d *Device) run(cb vulkan.CommandBuffer) error {
	r := vulkan.Result(C.hs_submit(d.c, C.VkQueue(unsafe.Pointer(d.queue)), C.VkCommandBuffer(unsafe.Pointer(cb)),
		C.VkFence(unsafe.Pointer(d.fence)), C.uint64_t(submitTimeout.Nanoseconds())))
	switch r {
	case vulkan.Success:
		return nil
	case vulkan.ErrorDeviceLost:
		d.err = fmt.Errorf("vulkan: device lost during submit (driver reset or crash); results are invalid: %w", ErrDeviceLost)
	case vulkan.Timeout:
		d.err = fmt.Errorf("vulkan: submit did not finish within %v; device is unusable", submitTimeout)
	default:
		return check("vkQueueSubmit", r)
	}
	return d.err
}
