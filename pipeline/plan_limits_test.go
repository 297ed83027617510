package pipeline

import (
	"errors"
	"math"
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

// A plan file must hold one plan: data after it (garbage, a second plan) is refused, and frame
// counts whose sum would overflow are refused before they are added.
func TestReadPlanStrict(t *testing.T) {
	d := t.TempDir()
	p := Plan{Version: planVersion, Source: Source{TimeBase: "1/25", Frames: 10}, Segments: []Segment{{Start: 0, End: 10, Frames: 10}}}
	p.ID = p.hash()
	write := func(name string, b []byte) string {
		path := filepath.Join(d, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if _, err := ReadPlan(write("ok.json", append(p.JSON(), "\n \n"...))); err != nil {
		t.Fatalf("a plan with trailing blank lines: %v", err)
	}
	for name, b := range map[string][]byte{
		"garbage.json": append(p.JSON(), "garbage"...),
		"twice.json":   append(p.JSON(), p.JSON()...),
		"brace.json":   append(p.JSON(), '}'),
	} {
		if _, err := ReadPlan(write(name, b)); err == nil || !strings.Contains(err.Error(), "data after the plan") {
			t.Errorf("%s: %v", name, err)
		}
	}
	big := p
	big.Segments = []Segment{{Start: 0, End: 5, Frames: math.MaxInt}, {Start: 5, End: 10, Frames: math.MaxInt}}
	big.ID = big.hash()
	if _, err := ReadPlan(write("big.json", big.JSON())); err == nil || !strings.Contains(err.Error(), "more frames than the source's 10") {
		t.Errorf("frame counts past int: %v", err)
	}
}
