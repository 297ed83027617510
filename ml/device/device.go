// Package device opens compute backends by name and picks one automatically.
package device

import (
	"fmt"
	"strings"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/ml/cpu"
	"github.com/hitsr/hitsr/ml/vulkan"
	"github.com/hitsr/hitsr/vk"
)

// Open returns the backend named by spec:
//   - "" or "auto": a discrete or integrated Vulkan GPU if there is one, else the CPU backend;
//     notice then says in one line why Vulkan was not used.
//   - "cpu": the CPU backend.
//   - "vulkan": the best Vulkan GPU (error if none); "vulkan:N": device N, CPU drivers such as
//     lavapipe included; any other string: the first Vulkan device whose name contains it.
func Open(spec string) (b ml.Backend, notice string, err error) {
	switch s := strings.ToLower(strings.TrimSpace(spec)); s {
	case "cpu":
		return cpu.New(), "", nil
	case "", "auto":
		vb, err := vulkan.New("auto")
		if err == nil {
			return vb, "", nil
		}
		return cpu.New(), fmt.Sprintf("using the CPU backend: %v", err), nil
	default:
		vb, err := vulkan.New(s)
		if err != nil {
			return nil, "", fmt.Errorf("device %q: %w", spec, err)
		}
		return vb, "", nil
	}
}

// All opens the CPU backend and every Vulkan device (CPU drivers included), for tests and
// benchmarks. skipped explains devices that could not be opened.
func All() (backends []ml.Backend, skipped []string) {
	backends = append(backends, cpu.New())
	devs, err := vk.Devices()
	if err != nil {
		return backends, []string{err.Error()}
	}
	for _, d := range devs {
		vb, err := vulkan.New(fmt.Sprintf("vulkan:%d", d.Index))
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		backends = append(backends, vb)
	}
	return backends, skipped
}

// ErrNoGPU is returned by Open("vulkan") when only CPU Vulkan drivers exist.
var ErrNoGPU = vk.ErrNoGPU
