// Package vk is a small Vulkan compute runtime on top of vulkan-go: device
// discovery, a suballocating memory manager, cached compute pipelines and
// batched command recording (many dispatches, one submit).
package vk

/*
#cgo LDFLAGS: -ldl
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/vulkan-go/vulkan"
)

// DeviceType is the kind of a physical device.
type DeviceType int

const (
	DeviceOther DeviceType = iota
	DeviceDiscrete
	DeviceIntegrated
	DeviceVirtual
	DeviceCPU
)

func (t DeviceType) String() string {
	switch t {
	case DeviceDiscrete:
		return "discrete"
	case DeviceIntegrated:
		return "integrated"
	case DeviceVirtual:
		return "virtual"
	case DeviceCPU:
		return "cpu"
	}
	return "other"
}

// DeviceInfo describes a physical device and the limits this package cares about.
type DeviceInfo struct {
	Index                           int
	Name                            string
	Type                            DeviceType
	VendorID, DeviceID              uint32
	APIVersion                      string
	DriverVersion                   uint32
	F16Storage                      bool // storageBuffer16BitAccess
	Int64                           bool // shaderInt64 (enabled on the device when present)
	SubgroupSize                    int  // 0 if unknown
	MaxWorkgroupInvocations         uint32
	MaxWorkgroupSize                [3]uint32
	MaxWorkgroupCount               [3]uint32
	MaxStorageBufferRange           uint64
	MinStorageBufferOffsetAlignment uint64
	MaxPushConstantsSize            uint32
	MaxMemoryAllocationSize         uint64 // 0 if unknown
	HeapSize                        uint64 // largest DEVICE_LOCAL heap
	PipelineCacheUUID               [16]byte
	MaxStorageBuffersPerStage       uint32 // maxPerStageDescriptorStorageBuffers
}

// Process-wide loader state, set once by Load.
var (
	loadOnce sync.Once
	loadErr  error
	instance vulkan.Instance
	physical []vulkan.PhysicalDevice
	infos    []DeviceInfo
)

// Load opens libvulkan.so.1, creates a Vulkan 1.1 instance and enumerates devices.
// It is safe to call many times; only the first call does work.
func Load() error {
	loadOnce.Do(func() { loadErr = load() })
	return loadErr
}

func load() error {
	gipa := C.hs_load()
	if gipa == nil {
		return errors.New("vulkan: loader libvulkan.so.1 not found")
	}
	vulkan.SetGetInstanceProcAddr(unsafe.Pointer(gipa))
	if err := vulkan.Init(); err != nil {
		return fmt.Errorf("vulkan: loader init: %v", err)
	}
	app := &vulkan.ApplicationInfo{SType: vulkan.StructureTypeApplicationInfo, ApiVersion: vulkan.MakeVersion(1, 1, 0),
		PApplicationName: "hitsr\x00", PEngineName: "hitsr\x00"}
	var inst vulkan.Instance
	r := vulkan.CreateInstance(&vulkan.InstanceCreateInfo{SType: vulkan.StructureTypeInstanceCreateInfo, PApplicationInfo: app}, nil, &inst)
	if r == vulkan.ErrorIncompatibleDriver {
		return fmt.Errorf("vulkan: no Vulkan driver found (install mesa-vulkan-drivers or a GPU driver): %w", check("vkCreateInstance", r))
	}
	if err := check("vkCreateInstance", r); err != nil {
		return err
	}
	if err := vulkan.InitInstance(inst); err != nil {
		return fmt.Errorf("vulkan: instance init: %v", err)
	}
	var n uint32
	if err := check("vkEnumeratePhysicalDevices", vulkan.EnumeratePhysicalDevices(inst, &n, nil)); err != nil {
		return err
	}
	pds := make([]vulkan.PhysicalDevice, n)
	if n > 0 {
		if err := check("vkEnumeratePhysicalDevices", vulkan.EnumeratePhysicalDevices(inst, &n, pds)); err != nil {
			return err
		}
	}
	instance, physical = inst, pds[:n]
	for i, pd := range physical {
		infos = append(infos, queryInfo(i, pd))
	}
	return nil
}

func queryInfo(index int, pd vulkan.PhysicalDevice) DeviceInfo {
	var p vulkan.PhysicalDeviceProperties
	vulkan.GetPhysicalDeviceProperties(pd, &p)
	p.Deref()
	p.Limits.Deref()
	l := &p.Limits
	var ex C.hs_extra
	C.hs_query_extra(C.VkInstance(unsafe.Pointer(instance)), C.VkPhysicalDevice(unsafe.Pointer(pd)), C.uint32_t(p.ApiVersion), &ex)
	info := DeviceInfo{
		Index:                           index,
		Name:                            vulkan.ToString(p.DeviceName[:]),
		VendorID:                        p.VendorID,
		DeviceID:                        p.DeviceID,
		APIVersion:                      fmt.Sprintf("%d.%d.%d", p.ApiVersion>>22, p.ApiVersion>>12&0x3ff, p.ApiVersion&0xfff),
		DriverVersion:                   p.DriverVersion,
		F16Storage:                      ex.f16storage != 0,
		Int64:                           ex.int64 != 0,
		SubgroupSize:                    int(ex.subgroupSize),
		MaxWorkgroupInvocations:         l.MaxComputeWorkGroupInvocations,
		MaxWorkgroupSize:                l.MaxComputeWorkGroupSize,
		MaxWorkgroupCount:               l.MaxComputeWorkGroupCount,
		MaxStorageBufferRange:           uint64(l.MaxStorageBufferRange),
		MinStorageBufferOffsetAlignment: uint64(l.MinStorageBufferOffsetAlignment),
		MaxPushConstantsSize:            l.MaxPushConstantsSize,
		MaxMemoryAllocationSize:         uint64(ex.maxAlloc),
		PipelineCacheUUID:               p.PipelineCacheUUID,
		MaxStorageBuffersPerStage:       uint32(ex.maxPerStageSSBO),
	}
	switch p.DeviceType {
	case vulkan.PhysicalDeviceTypeDiscreteGpu:
		info.Type = DeviceDiscrete
	case vulkan.PhysicalDeviceTypeIntegratedGpu:
		info.Type = DeviceIntegrated
	case vulkan.PhysicalDeviceTypeVirtualGpu:
		info.Type = DeviceVirtual
	case vulkan.PhysicalDeviceTypeCpu:
		info.Type = DeviceCPU
	}
	var mp vulkan.PhysicalDeviceMemoryProperties
	vulkan.GetPhysicalDeviceMemoryProperties(pd, &mp)
	mp.Deref()
	for i := uint32(0); i < mp.MemoryHeapCount; i++ {
		h := &mp.MemoryHeaps[i]
		h.Deref()
		if h.Flags&vulkan.MemoryHeapFlags(vulkan.MemoryHeapDeviceLocalBit) != 0 && uint64(h.Size) > info.HeapSize {
			info.HeapSize = uint64(h.Size)
		}
	}
	return info
}

// Devices lists the Vulkan physical devices in enumeration order.
func Devices() ([]DeviceInfo, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	return append([]DeviceInfo(nil), infos...), nil
}

// SelectDevice resolves a device spec: "", "auto" or "vulkan" picks the first
// discrete, else integrated, else virtual GPU (CPU devices are skipped: ErrNoGPU);
// "vulkan:N" picks index N of any type; anything else matches a device name
// case-insensitively. Errors do not repeat the spec (the caller names it).
func SelectDevice(spec string) (DeviceInfo, error) {
	devs, err := Devices()
	if err != nil {
		return DeviceInfo{}, err
	}
	s := strings.TrimSpace(spec)
	switch {
	case s == "" || strings.EqualFold(s, "auto") || strings.EqualFold(s, "vulkan"):
		for _, t := range []DeviceType{DeviceDiscrete, DeviceIntegrated, DeviceVirtual} {
			for _, d := range devs {
				if d.Type == t {
					return d, nil
				}
			}
		}
		return DeviceInfo{}, ErrNoGPU
	case strings.HasPrefix(strings.ToLower(s), "vulkan:"):
		n, err := strconv.Atoi(s[len("vulkan:"):])
		if err != nil || n < 0 || n >= len(devs) {
			return DeviceInfo{}, fmt.Errorf("no such Vulkan device; %s", listDevices(devs))
		}
		return devs[n], nil
	}
	for _, d := range devs {
		if strings.Contains(strings.ToLower(d.Name), strings.ToLower(s)) {
			return d, nil
		}
	}
	return DeviceInfo{}, fmt.Errorf("no Vulkan device's name contains it; %s", listDevices(devs))
}

func listDevices(devs []DeviceInfo) string {
	if len(devs) == 0 {
		return "no Vulkan devices found"
	}
	parts := make([]string, len(devs))
	for i, d := range devs {
		parts[i] = fmt.Sprintf("vulkan:%d = %s (%s)", d.Index, d.Name, d.Type)
	}
	return "available: " + strings.Join(parts, ", ")
}
