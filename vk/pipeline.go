package vk

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"github.com/vulkan-go/vulkan"
)

// maxBindings matches HS_MAX_BINDINGS in shim.c.
const maxBindings = 64

// Pipeline is a compute pipeline with its layouts.
type Pipeline struct {
	d        *Device
	name     string
	pipe     vulkan.Pipeline
	layout   vulkan.PipelineLayout
	dsl      vulkan.DescriptorSetLayout
	nBuffers int
	pushSize int // bytes, multiple of 4
}

// Name returns the name the pipeline was created under.
func (p *Pipeline) Name() string { return p.name }

// Pipeline returns the compute pipeline for a SPIR-V module (entry point
// "main") with storage buffers at set 0, bindings 0..nBuffers-1, pushSize bytes
// of push constants and uint32 specialization constants (constant_id i =
// spec[i]). Pipelines are cached by (name, nBuffers, pushSize, spec): later
// calls with the same key return the cached one without looking at spirv.
func (d *Device) Pipeline(name string, spirv []byte, nBuffers int, pushSize int, spec []uint32) (*Pipeline, error) {
	key := pipeKey(name, nBuffers, pushSize, spec)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usable(); err != nil {
		return nil, err
	}
	if p := d.pipes[key]; p != nil {
		return p, nil
	}
	if nBuffers < 0 || nBuffers > maxBindings || uint32(nBuffers) > d.info.MaxStorageBuffersPerStage {
		return nil, fmt.Errorf("vulkan: pipeline %s: %d storage buffers, device allows %d per stage (package limit %d)",
			name, nBuffers, d.info.MaxStorageBuffersPerStage, maxBindings)
	}
	if pushSize < 0 || pushSize > int(d.info.MaxPushConstantsSize) {
		return nil, fmt.Errorf("vulkan: pipeline %s: push constant size %d exceeds device limit %d",
			name, pushSize, d.info.MaxPushConstantsSize)
	}
	code, err := spirvWords(spirv)
	if err != nil {
		return nil, fmt.Errorf("vulkan: pipeline %s: %v", name, err)
	}
	p := &Pipeline{d: d, name: name, nBuffers: nBuffers, pushSize: (pushSize + 3) &^ 3}
	if err := p.create(code, spec); err != nil {
		p.destroy()
		return nil, fmt.Errorf("pipeline %s: %w", name, err)
	}
	d.pipes[key] = p
	return p, nil
}

func pipeKey(name string, nBuffers, pushSize int, spec []uint32) string {
	var sb strings.Builder
	sb.WriteString(name)
	for _, v := range append([]uint32{uint32(nBuffers), uint32(pushSize)}, spec...) {
		sb.WriteByte('|')
		sb.WriteString(strconv.FormatUint(uint64(v), 10))
	}
	return sb.String()
}

// spirvWords checks the magic number and converts to host-order words.
func spirvWords(b []byte) ([]uint32, error) {
	if len(b) < 20 || len(b)%4 != 0 {
		return nil, fmt.Errorf("SPIR-V of %d bytes is not a whole module", len(b))
	}
	if binary.LittleEndian.Uint32(b) != 0x07230203 {
		return nil, fmt.Errorf("not little-endian SPIR-V (bad magic %#x)", binary.LittleEndian.Uint32(b))
	}
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w, nil
}

func (p *Pipeline) create(code []uint32, spec []uint32) error {
	dev := p.d.dev
	binds := make([]vulkan.DescriptorSetLayoutBinding, p.nBuffers)
	for i := range binds {
		binds[i] = vulkan.DescriptorSetLayoutBinding{Binding: uint32(i), DescriptorType: vulkan.DescriptorTypeStorageBuffer,
			DescriptorCount: 1, StageFlags: vulkan.ShaderStageFlags(vulkan.ShaderStageComputeBit)}
	}
	var dsl vulkan.DescriptorSetLayout
	if err := check("vkCreateDescriptorSetLayout", vulkan.CreateDescriptorSetLayout(dev, &vulkan.DescriptorSetLayoutCreateInfo{
		SType: vulkan.StructureTypeDescriptorSetLayoutCreateInfo, BindingCount: uint32(len(binds)), PBindings: binds,
	}, nil, &dsl)); err != nil {
		return err
	}
	p.dsl = dsl
	li := &vulkan.PipelineLayoutCreateInfo{SType: vulkan.StructureTypePipelineLayoutCreateInfo,
		SetLayoutCount: 1, PSetLayouts: []vulkan.DescriptorSetLayout{dsl}}
	if p.pushSize > 0 {
		li.PushConstantRangeCount = 1
		li.PPushConstantRanges = []vulkan.PushConstantRange{{StageFlags: vulkan.ShaderStageFlags(vulkan.ShaderStageComputeBit), Size: uint32(p.pushSize)}}
	}
	var layout vulkan.PipelineLayout
	r := vulkan.CreatePipelineLayout(dev, li, nil, &layout)
	runtime.KeepAlive(li) // vulkan-go hands the Go slice PSetLayouts to C as is
	if err := check("vkCreatePipelineLayout", r); err != nil {
		return err
	}
	p.layout = layout
	var mod vulkan.ShaderModule
	r = vulkan.CreateShaderModule(dev, &vulkan.ShaderModuleCreateInfo{
		SType: vulkan.StructureTypeShaderModuleCreateInfo, CodeSize: uint(len(code) * 4), PCode: code,
	}, nil, &mod)
	runtime.KeepAlive(code) // likewise PCode
	if err := check("vkCreateShaderModule", r); err != nil {
		return err
	}
	defer vulkan.DestroyShaderModule(dev, mod, nil)
	stage := vulkan.PipelineShaderStageCreateInfo{SType: vulkan.StructureTypePipelineShaderStageCreateInfo,
		Stage: vulkan.ShaderStageComputeBit, Module: mod, PName: "main\x00"}
	if len(spec) > 0 {
		entries := make([]vulkan.SpecializationMapEntry, len(spec))
		for i := range entries {
			entries[i] = vulkan.SpecializationMapEntry{ConstantID: uint32(i), Offset: uint32(4 * i), Size: 4}
		}
		data := C.malloc(C.size_t(4 * len(spec))) // C memory: vulkan-go copies the pointer only
		defer C.free(data)
		copy(unsafe.Slice((*uint32)(data), len(spec)), spec)
		stage.PSpecializationInfo = []vulkan.SpecializationInfo{{MapEntryCount: uint32(len(spec)),
			PMapEntries: entries, DataSize: uint(4 * len(spec)), PData: data}}
	}
	pipes := make([]vulkan.Pipeline, 1)
	if err := check("vkCreateComputePipelines", vulkan.CreateComputePipelines(dev, p.d.cache, 1, []vulkan.ComputePipelineCreateInfo{{
		SType: vulkan.StructureTypeComputePipelineCreateInfo, Stage: stage, Layout: layout,
	}}, nil, pipes)); err != nil {
		return err
	}
	p.pipe = pipes[0]
	return nil
}

func (p *Pipeline) destroy() {
	dev := p.d.dev
	if p.pipe != vulkan.NullPipeline {
		vulkan.DestroyPipeline(dev, p.pipe, nil)
	}
	if p.layout != vulkan.NullPipelineLayout {
		vulkan.DestroyPipelineLayout(dev, p.layout, nil)
	}
	if p.dsl != vulkan.NullDescriptorSetLayout {
		vulkan.DestroyDescriptorSetLayout(dev, p.dsl, nil)
	}
}
