#include "shim.h"
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

static PFN_vkGetInstanceProcAddr gipa;

void *hs_load(void) {
	if (gipa) return (void *)gipa;
	void *h = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h) return NULL;
	gipa = (PFN_vkGetInstanceProcAddr)dlsym(h, "vkGetInstanceProcAddr");
	return (void *)gipa;
}

void hs_query_extra(VkInstance inst, VkPhysicalDevice pd, uint32_t api, hs_extra *out) {
	memset(out, 0, sizeof *out);
	PFN_vkGetPhysicalDeviceProperties gp = (PFN_vkGetPhysicalDeviceProperties)gipa(inst, "vkGetPhysicalDeviceProperties");
	if (gp) {
		VkPhysicalDeviceProperties p;
		gp(pd, &p);
		out->maxPerStageSSBO = p.limits.maxPerStageDescriptorStorageBuffers;
		out->maxBoundSets = p.limits.maxBoundDescriptorSets;
	}
	if (api < VK_MAKE_VERSION(1, 1, 0)) return;
	PFN_vkGetPhysicalDeviceProperties2 gp2 = (PFN_vkGetPhysicalDeviceProperties2)gipa(inst, "vkGetPhysicalDeviceProperties2");
	PFN_vkGetPhysicalDeviceFeatures2 gf2 = (PFN_vkGetPhysicalDeviceFeatures2)gipa(inst, "vkGetPhysicalDeviceFeatures2");
	if (gp2) {
		VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
		VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &m3};
		VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg};
		gp2(pd, &p2);
		out->subgroupSize = sg.subgroupSize;
		out->maxAlloc = m3.maxMemoryAllocationSize;
	}
	if (gf2) {
		VkPhysicalDevice16BitStorageFeatures s16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
		VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &s16};
		gf2(pd, &f2);
		out->f16storage = s16.storageBuffer16BitAccess;
		out->int64 = f2.features.shaderInt64;
	}
}

VkResult hs_create_device(VkInstance inst, VkPhysicalDevice pd, uint32_t family, int f16, int int64, VkDevice *out) {
	PFN_vkCreateDevice cd = (PFN_vkCreateDevice)gipa(inst, "vkCreateDevice");
	if (!cd) return VK_ERROR_INITIALIZATION_FAILED;
	float prio = 1.0f;
	VkDeviceQueueCreateInfo q = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
		.queueFamilyIndex = family, .queueCount = 1, .pQueuePriorities = &prio};
	VkPhysicalDevice16BitStorageFeatures s16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
		.storageBuffer16BitAccess = VK_TRUE};
	VkPhysicalDeviceFeatures feats = {.shaderInt64 = int64 ? VK_TRUE : VK_FALSE};
	VkDeviceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = f16 ? &s16 : NULL,
		.queueCreateInfoCount = 1, .pQueueCreateInfos = &q, .pEnabledFeatures = &feats};
	return cd(pd, &ci, NULL, out);
}

struct hs_dev {
	VkDevice dev;
	PFN_vkAllocateDescriptorSets allocSets;
	PFN_vkUpdateDescriptorSets updateSets;
	PFN_vkResetDescriptorPool resetPool;
	PFN_vkResetCommandBuffer resetCB;
	PFN_vkBeginCommandBuffer beginCB;
	PFN_vkEndCommandBuffer endCB;
	PFN_vkCmdPipelineBarrier barrier;
	PFN_vkCmdBindPipeline bindPipeline;
	PFN_vkCmdBindDescriptorSets bindSets;
	PFN_vkCmdPushConstants push;
	PFN_vkCmdDispatch dispatch;
	PFN_vkCmdCopyBuffer copy;
	PFN_vkQueueSubmit submit;
	PFN_vkWaitForFences wait;
	PFN_vkResetFences resetFences;
};

hs_dev *hs_dev_new(VkInstance inst, VkDevice dev) {
	PFN_vkGetDeviceProcAddr gdpa = (PFN_vkGetDeviceProcAddr)gipa(inst, "vkGetDeviceProcAddr");
	if (!gdpa) return NULL;
	hs_dev *d = calloc(1, sizeof *d);
	if (!d) return NULL;
	d->dev = dev;
#define L(f, n) if (!(d->f = (void *)gdpa(dev, n))) { free(d); return NULL; }
	L(allocSets, "vkAllocateDescriptorSets") L(updateSets, "vkUpdateDescriptorSets")
	L(resetPool, "vkResetDescriptorPool") L(resetCB, "vkResetCommandBuffer")
	L(beginCB, "vkBeginCommandBuffer") L(endCB, "vkEndCommandBuffer")
	L(barrier, "vkCmdPipelineBarrier") L(bindPipeline, "vkCmdBindPipeline")
	L(bindSets, "vkCmdBindDescriptorSets") L(push, "vkCmdPushConstants")
	L(dispatch, "vkCmdDispatch") L(copy, "vkCmdCopyBuffer") L(submit, "vkQueueSubmit")
	L(wait, "vkWaitForFences") L(resetFences, "vkResetFences")
#undef L
	return d;
}

void hs_dev_free(hs_dev *d) { free(d); }

static void mem_barrier(hs_dev *d, VkCommandBuffer cb, VkPipelineStageFlags src, VkAccessFlags srcA,
		VkPipelineStageFlags dst, VkAccessFlags dstA) {
	VkMemoryBarrier b = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = srcA, .dstAccessMask = dstA};
	d->barrier(cb, src, dst, 0, 1, &b, 0, NULL, 0, NULL);
}

// hs_begin resets and begins cb, then orders it after all earlier host, transfer
// and compute writes (earlier submits, uploads).
VkResult hs_begin(hs_dev *d, VkCommandBuffer cb) {
	VkResult r = d->resetCB(cb, 0);
	if (r) return r;
	VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
		.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
	if ((r = d->beginCB(cb, &bi))) return r;
	mem_barrier(d, cb,
		VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
		VK_ACCESS_HOST_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT,
		VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
		VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
	return VK_SUCCESS;
}

VkResult hs_reset_pool(hs_dev *d, VkDescriptorPool pool) { return d->resetPool(d->dev, pool, 0); }

// hs_barrier: compute writes before it are visible to, and reads finished before, compute after it.
void hs_barrier(hs_dev *d, VkCommandBuffer cb) {
	mem_barrier(d, cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
		VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
}

#define HS_MAX_BINDINGS 64

VkResult hs_dispatch(hs_dev *d, VkCommandBuffer cb, VkDescriptorPool pool, VkDescriptorSetLayout dsl,
		VkPipelineLayout pl, VkPipeline p, uint32_t n, const VkBuffer *bufs, const VkDeviceSize *offs,
		const VkDeviceSize *sizes, const void *push, uint32_t pushSize, uint32_t gx, uint32_t gy, uint32_t gz) {
	if (n > HS_MAX_BINDINGS) return VK_ERROR_TOO_MANY_OBJECTS;
	VkDescriptorSet set = VK_NULL_HANDLE;
	if (n > 0) {
		VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
			.descriptorPool = pool, .descriptorSetCount = 1, .pSetLayouts = &dsl};
		VkResult r = d->allocSets(d->dev, &ai, &set);
		if (r) return r;
		VkDescriptorBufferInfo bi[HS_MAX_BINDINGS];
		VkWriteDescriptorSet w[HS_MAX_BINDINGS];
		for (uint32_t i = 0; i < n; i++) {
			bi[i] = (VkDescriptorBufferInfo){.buffer = bufs[i], .offset = offs[i], .range = sizes[i]};
			w[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
				.dstBinding = i, .descriptorCount = 1, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
				.pBufferInfo = &bi[i]};
		}
		d->updateSets(d->dev, n, w, 0, NULL);
	}
	d->bindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p);
	if (n > 0) d->bindSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pl, 0, 1, &set, 0, NULL);
	if (pushSize > 0) d->push(cb, pl, VK_SHADER_STAGE_COMPUTE_BIT, 0, pushSize, push);
	d->dispatch(cb, gx, gy, gz);
	return VK_SUCCESS;
}

// hs_submit makes device writes visible to the host, ends cb, submits it and waits.
// Returns VK_TIMEOUT if the fence did not signal in time (cb is then still pending).
VkResult hs_submit(hs_dev *d, VkQueue q, VkCommandBuffer cb, VkFence f, uint64_t timeout) {
	mem_barrier(d, cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
		VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
		VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT | VK_ACCESS_HOST_WRITE_BIT);
	VkResult r = d->endCB(cb);
	if (r) return r;
	VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cb};
	if ((r = d->submit(q, 1, &si, f))) return r;
	if ((r = d->wait(d->dev, 1, &f, VK_TRUE, timeout))) return r;
	return d->resetFences(d->dev, 1, &f);
}

void hs_copy(hs_dev *d, VkCommandBuffer cb, VkBuffer src, VkDeviceSize srcOff, VkBuffer dst,
		VkDeviceSize dstOff, VkDeviceSize n) {
	VkBufferCopy c = {.srcOffset = srcOff, .dstOffset = dstOff, .size = n};
	d->copy(cb, src, dst, 1, &c);
}
