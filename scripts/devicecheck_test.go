// Package scripts holds the GPU device check (device-prep.sh, device-check.sh, devbench,
// devcheck_summary.py; docs/training.md). This test is its dry run: the same scripts, here, on
// lavapipe and CPU torch with every stage shrunk, so they cannot rot between GPU draws.
package scripts

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const python = "/usr/bin/python3" // Debian's, with torch (the python3 on PATH may have none)

func run(t *testing.T, name string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("%s: %.1f s", name, time.Since(t0).Seconds())
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// TestDeviceCheckDryRun builds the carried folder as device-prep.sh does (binaries, libraries,
// a pack of 3 training images), runs device-check.sh with DRY_RUN=1 and checks what it leaves
// in $OUT against the device tool's limits and the documented contents.
func TestDeviceCheckDryRun(t *testing.T) {
	if exec.Command(python, "-c", "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is None)").Run() != nil {
		t.Skip(python + " has no torch (make deps installs python3-torch)")
	}
	tmp := t.TempDir()
	dc := filepath.Join(tmp, "devcheck")
	out := filepath.Join(tmp, "out")
	if err := os.MkdirAll(dc, 0o755); err != nil {
		t.Fatal(err)
	}
	data := os.Getenv("HITSR_DATA")
	if data == "" {
		data = "/work/shared/data"
	}
	src := []string{"--images", "3"}
	if _, err := os.Stat(filepath.Join(data, "train", "T91")); err != nil {
		t.Logf("no training data (%v): packing synthetic images", err)
		src = []string{"--synthetic", "3"}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the pack beside the Go builds
		defer wg.Done()
		run(t, "pack", nil, append([]string{python, "train/pack_backbone.py", "--out", filepath.Join(dc, "backbone_pack.npz"),
			"--mb", "0.5", "--val-images", "1"}, src...)...)
	}()
	run(t, "device-prep.sh", []string{"DRY_RUN=1", "DEVCHECK_DIR=" + dc}, "bash", "scripts/device-prep.sh")
	wg.Wait()
	if t.Failed() {
		return
	}
	t0 := time.Now()
	run(t, "device-check.sh", []string{"DRY_RUN=1", "DEVCHECK_DIR=" + dc, "OUT=" + out, "DEVCHECK_WORK=" + filepath.Join(tmp, "work")},
		"bash", "scripts/device-check.sh")
	if d := time.Since(t0); d > 90*time.Second {
		t.Errorf("the dry run took %v (its budget is 90 s)", d)
	}

	// $OUT within the device tool's limits: ≤ 8 plain files, ≤ 16 MB each, ≤ 2 folders down,
	// names of letters, digits, '.', '_', '-'.
	want := []string{"bench.log", "check.log", "ops.log", "run/ckpt.pt", "run/log.jsonl", "run/snapshot.pt", "summary.json", "train.log"}
	var got []string
	okName := regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == out {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		for _, part := range strings.Split(rel, string(filepath.Separator)) {
			if !okName.MatchString(part) {
				t.Errorf("$OUT/%s: name the device tool does not return", rel)
			}
		}
		if !fi.IsDir() {
			got = append(got, filepath.ToSlash(rel))
			if fi.Size() > 16<<20 {
				t.Errorf("$OUT/%s: %d bytes, over 16 MiB", rel, fi.Size())
			}
			if strings.Count(rel, string(filepath.Separator)) > 2 {
				t.Errorf("$OUT/%s: too deep", rel)
			}
		}
		return nil
	})
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("$OUT holds %v, want %v", got, want)
	}

	var s struct {
		DryRun bool `json:"dry_run"`
		Stages []struct {
			Stage, Status string
			Seconds       int
		}
		Vulkan []struct{ Name, Type string } `json:"vulkan_devices"`
		Bench  struct {
			Devbench struct {
				Core []struct {
					GFLOPs float64 `json:"gflop_s"`
				}
				Model []struct {
					Mode          string
					FPS           float64
					GFLOPPerFrame float64 `json:"gflop_per_frame"`
					Note          string
				}
				Done bool
			}
			HitsrBench map[string][][]string `json:"hitsr_bench"`
		}
		Ops map[string]struct {
			OK       bool
			Passed   int
			Backends []string
		}
		Train struct {
			Steps    int
			ValStart map[string]float64 `json:"val_start"`
			ValEnd   map[string]float64 `json:"val_end"`
		}
		Files []string
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if !s.DryRun {
		t.Error("summary.json: dry_run is false")
	}
	var stages []string
	for _, st := range s.Stages {
		stages = append(stages, st.Stage)
		t.Logf("stage %s: %s, %d s", st.Stage, st.Status, st.Seconds)
		if st.Status != "ok" {
			t.Errorf("stage %s: %s\n%s", st.Stage, st.Status, tail(filepath.Join(out, logOf(st.Stage))))
		}
	}
	if strings.Join(stages, " ") != "setup bench ops train" && strings.Join(stages, " ") != "setup bench train ops" {
		t.Errorf("stages %v, want setup, bench, then ops and train", stages)
	}
	if len(s.Vulkan) == 0 {
		t.Error("no Vulkan device listed")
	}
	db := s.Bench.Devbench
	if !db.Done || len(db.Core) != 2 || len(db.Model) != 2 {
		t.Errorf("devbench: done %v, %d core rows, %d model rows; want done, 2, 2", db.Done, len(db.Core), len(db.Model))
	}
	for _, m := range db.Model {
		if m.Note == "" && (m.FPS <= 0 || m.GFLOPPerFrame <= 0) {
			t.Errorf("devbench %s: %v frames/s, %v GFLOP/frame", m.Mode, m.FPS, m.GFLOPPerFrame)
		}
	}
	for _, sec := range []string{"gemm", "conv2d", "dispatch"} {
		if len(s.Bench.HitsrBench[sec]) < 2 {
			t.Errorf("hitsr-bench table %q not parsed: %v", sec, s.Bench.HitsrBench)
		}
	}
	for _, name := range []string{"opstest.test", "vulkan.test", "device.test", "cpu.test"} {
		if o := s.Ops[name]; !o.OK || o.Passed == 0 {
			t.Errorf("ops %s: %+v", name, o)
		}
	}
	if bs := s.Ops["opstest.test"].Backends; len(bs) < 2 || !strings.Contains(strings.Join(bs, ","), "vulkan") {
		t.Errorf("opstest backends %v: want cpu and a Vulkan device", bs)
	}
	if s.Train.Steps <= 0 || len(s.Train.ValStart) == 0 || len(s.Train.ValEnd) == 0 {
		t.Errorf("train: %+v", s.Train)
	}
	if len(s.Files) != len(want) {
		t.Errorf("summary files %v", s.Files)
	}
	// The returned snapshot is what finalize_backbone.sh / export_backbone.py read.
	run(t, "load snapshot", nil, python, "-c", `import sys; sys.path.insert(0, "train")
from hitsr.backbone import load_backbone
net, step = load_backbone(sys.argv[1]); assert step > 0; print(step)`, filepath.Join(out, "run"))
}

func logOf(stage string) string {
	if stage == "setup" {
		return "check.log"
	}
	return stage + ".log"
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
