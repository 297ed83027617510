// C side of package vk: loader, Vulkan 1.1 queries vulkan-go lacks, and the
// per-dispatch / per-submit hot path (vulkan-go marshals every struct through
// calloc'd copies that are never freed, which would leak on every dispatch).
#ifndef HITSR_VK_SHIM_H
#define HITSR_VK_SHIM_H
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

void *hs_load(void);

typedef struct {
	uint32_t subgroupSize, f16storage, int64;
	uint64_t maxAlloc;
	uint32_t maxPerStageSSBO, maxBoundSets;
} hs_extra;
void hs_query_extra(VkInstance inst, VkPhysicalDevice pd, uint32_t api, hs_extra *out);
VkResult hs_create_device(VkInstance inst, VkPhysicalDevice pd, uint32_t family, int f16, int int64, VkDevice *out);

typedef struct hs_dev hs_dev;
hs_dev *hs_dev_new(VkInstance inst, VkDevice dev);
void hs_dev_free(hs_dev *d);
VkResult hs_begin(hs_dev *d, VkCommandBuffer cb);
VkResult hs_reset_pool(hs_dev *d, VkDescriptorPool pool);
void hs_barrier(hs_dev *d, VkCommandBuffer cb);
VkResult hs_dispatch(hs_dev *d, VkCommandBuffer cb, VkDescriptorPool pool, VkDescriptorSetLayout dsl,
	VkPipelineLayout pl, VkPipeline p, uint32_t n, const VkBuffer *bufs, const VkDeviceSize *offs,
	const VkDeviceSize *sizes, const void *push, uint32_t pushSize, uint32_t gx, uint32_t gy, uint32_t gz);
VkResult hs_submit(hs_dev *d, VkQueue q, VkCommandBuffer cb, VkFence f, uint64_t timeout);
void hs_copy(hs_dev *d, VkCommandBuffer cb, VkBuffer src, VkDeviceSize srcOff, VkBuffer dst,
	VkDeviceSize dstOff, VkDeviceSize n);
#endif
