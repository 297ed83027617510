package vk

import (
	"errors"
	"fmt"

	"github.com/vulkan-go/vulkan"
)

// Sentinel errors, matched with errors.Is.
var (
	ErrNoGPU       = errors.New("vulkan: no GPU device (only CPU devices such as llvmpipe); use device vulkan:N to force one")
	ErrDeviceLost  = errors.New("vulkan: device lost")
	ErrOutOfMemory = errors.New("vulkan: out of device memory")
	errClosed      = errors.New("vulkan: device is closed")
	errSeqFinished = errors.New("vulkan: sequence already submitted or aborted")
	errWrongDevice = errors.New("vulkan: buffer or pipeline belongs to another device")
)

// resultError is a failed Vulkan call.
type resultError struct {
	call string
	r    vulkan.Result
}

func (e *resultError) Error() string { return "vulkan: " + e.call + ": " + resultName(e.r) }

func (e *resultError) Is(target error) bool {
	switch e.r {
	case vulkan.ErrorDeviceLost:
		return target == ErrDeviceLost
	case vulkan.ErrorOutOfDeviceMemory, vulkan.ErrorOutOfHostMemory:
		return target == ErrOutOfMemory
	}
	return false
}

// check turns a VkResult into nil or an error naming the call.
func check(call string, r vulkan.Result) error {
	if r == vulkan.Success {
		return nil
	}
	return &resultError{call, r}
}

var resultNames = map[vulkan.Result]string{
	vulkan.NotReady:                  "VK_NOT_READY",
	vulkan.Timeout:                   "VK_TIMEOUT",
	vulkan.Incomplete:                "VK_INCOMPLETE",
	vulkan.ErrorOutOfHostMemory:      "VK_ERROR_OUT_OF_HOST_MEMORY",
	vulkan.ErrorOutOfDeviceMemory:    "VK_ERROR_OUT_OF_DEVICE_MEMORY",
	vulkan.ErrorInitializationFailed: "VK_ERROR_INITIALIZATION_FAILED",
	vulkan.ErrorDeviceLost:           "VK_ERROR_DEVICE_LOST",
	vulkan.ErrorMemoryMapFailed:      "VK_ERROR_MEMORY_MAP_FAILED",
	vulkan.ErrorLayerNotPresent:      "VK_ERROR_LAYER_NOT_PRESENT",
	vulkan.ErrorExtensionNotPresent:  "VK_ERROR_EXTENSION_NOT_PRESENT",
	vulkan.ErrorFeatureNotPresent:    "VK_ERROR_FEATURE_NOT_PRESENT",
	vulkan.ErrorIncompatibleDriver:   "VK_ERROR_INCOMPATIBLE_DRIVER",
	vulkan.ErrorTooManyObjects:       "VK_ERROR_TOO_MANY_OBJECTS",
	vulkan.ErrorFormatNotSupported:   "VK_ERROR_FORMAT_NOT_SUPPORTED",
	vulkan.ErrorFragmentedPool:       "VK_ERROR_FRAGMENTED_POOL",
	vulkan.ErrorOutOfPoolMemory:      "VK_ERROR_OUT_OF_POOL_MEMORY",
	-1000072003:                      "VK_ERROR_INVALID_EXTERNAL_HANDLE",
	-1000161000:                      "VK_ERROR_FRAGMENTATION",
	-1000257000:                      "VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS",
	-13:                              "VK_ERROR_UNKNOWN",
}

func resultName(r vulkan.Result) string {
	if n, ok := resultNames[r]; ok {
		return n
	}
	return fmt.Sprintf("VkResult(%d)", int32(r))
}
