package device

import (
	"strings"
	"testing"

	"github.com/hitsr/hitsr/vk"
)

func TestOpen(t *testing.T) {
	b, notice, err := Open("cpu")
	if err != nil || notice != "" || !strings.HasPrefix(b.Name(), "cpu") {
		t.Fatalf("Open(cpu) = %v, %q, %v", b, notice, err)
	}

	b, notice, err = Open("auto")
	if err != nil {
		t.Fatalf("Open(auto): %v", err)
	}
	defer b.Close()
	info, selErr := vk.SelectDevice("auto")
	switch {
	case selErr != nil && (!strings.HasPrefix(b.Name(), "cpu") || !strings.Contains(notice, "CPU backend")):
		t.Errorf("without a GPU (%v) auto gave %s, notice %q; want the CPU backend and a notice", selErr, b.Name(), notice)
	case selErr == nil && !strings.Contains(b.Name(), info.Name):
		t.Errorf("auto gave %s, want GPU %s", b.Name(), info.Name)
	}
	if strings.Contains(notice, "\n") {
		t.Errorf("notice spans lines: %q", notice)
	}

	if _, _, err := Open("vulkan:99"); err == nil || !strings.Contains(err.Error(), "vulkan:99") {
		t.Errorf("Open(vulkan:99) error = %v, want one naming the device", err)
	}
}
