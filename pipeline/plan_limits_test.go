package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadPlanRefusesNonRegular checks that a plan that is a device, a FIFO or over the cap
// is a usage error naming the file, returned at once (not read without end, not blocking).
func TestReadPlanRefusesNonRegular(t *testing.T) {
	d := t.TempDir()
	fifo := filepath.Join(d, "plan.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(d, "huge.json") // sparse: no disk used
	if err := os.WriteFile(huge, nil, 0o644); err != nil || os.Truncate(huge, maxPlanBytes+1) != nil {
		t.Fatal("cannot make a sparse file")
	}
	for path, want := range map[string]string{
		"/dev/zero": "plan /dev/zero: not a regular file",
		fifo:        "plan " + fifo + ": not a regular file",
		huge:        "plan " + huge + ": larger than the limit of 16 MiB",
		d:           "plan " + d + ": not a regular file",
	} {
		done := make(chan error, 1)
		go func() { _, err := ReadPlan(path); done <- err }()
		select {
		case err := <-done:
			var pe *Error
			if !errors.As(err, &pe) || pe.Kind != KindUsage || err.Error() != want {
				t.Errorf("%s: %v, want a usage error %q", path, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("ReadPlan(%s) did not return within 5 s", path)
		}
	}
}

// TestPlanSizeLimit checks that a plan of the most segments a Kubernetes Indexed Job runs
// (100,000) fits the cap ReadPlan applies, so that MakePlan's refusal is for plans no Job runs.
func TestPlanSizeLimit(t *testing.T) {
	p := &Plan{Version: planVersion, Input: "/data/" + strings.Repeat("x", 200), Source: Source{TimeBase: "1/90000"}}
	for i := range 100_000 {
		// Long pts and frame counts, fractional seconds: about the longest entries.
		start := int64(i)*7_777_777 + 123_456_789_012
		p.Segments = append(p.Segments, Segment{Start: start, End: start + 7_777_777, Frames: 99_999,
			StartSeconds: 86_399.999, Seconds: 863.999})
	}
	if n := len(p.JSON()); n > maxPlanBytes {
		t.Fatalf("a 100,000-segment plan is %d bytes, over the %d-byte cap", n, maxPlanBytes)
	}
}
