package main

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzLoadSettings checks that any config file (YAML, JSON, TOML or extensionless YAML), flags
// and one HITSR_* variable either fail as a usage error (or ask for help) or give settings
// within the flag table's ranges and choices, and well-formed outputs (checkOuts).
func FuzzLoadSettings(f *testing.F) {
	for _, c := range []struct {
		file, args string
		env        uint8
		val        string
		ext        uint8
		eval       bool
	}{
		{"crf: 20\npreset: slow\ndevice: auto\noutputs:\n  - path: 2x.mp4\n  - path: hd.mkv\n    size: 1920x1080\n    codec: libx265\n    pix-fmt: yuv420p10le\n", "", 0, "", 0, false},
		{`{"crf": 20, "queue": 8, "outputs": [{"path": "a.mp4", "scale": "3"}]}`, "--frames 2", 2, "22", 1, false},
		{"crf = 20\nbitrate = \"8M\"\n[[outputs]]\npath = \"2x.mkv\"\ncrf = \"19\"\n", "-y", 3, "800k", 2, false},
		{"scales: 2,3\ncsv: out.csv\n", "DIR", 0, "", 3, true},
		{"crf: [1, 2]\n", "", 0, "", 0, false},
		{"outputs: {path: 2x.mp4}\n", "", 0, "", 0, false},
		{"outputs:\n  - [1, 2]\n  - path: \"\"\n", "", 0, "", 0, false},
		{"model: {a: b}\nunknown: 1\n", "", 0, "", 0, false},
		{"a: &a [*a]\n", "", 0, "", 0, false},
		{"? [1, 2]\n: x\n", "", 0, "", 0, false},
		{"", "--out 2x.mp4 --crf 99", 1, "x", 0, false},
		{"", "--out 2x.mp4 --help", 0, "", 0, false},
	} {
		f.Add(c.file, c.args, c.env, c.val, c.ext, c.eval)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file, args string, env uint8, val string, ext uint8, eval bool) {
		name := filepath.Join(dir, "hitsr"+[]string{".yaml", ".json", ".toml", ""}[ext%4])
		if err := os.WriteFile(name, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		argv := []string{"INPUT"}
		for _, a := range strings.Fields(args) {
			if !strings.HasPrefix(strings.TrimLeft(a, "-"), "config") { // only the file above
				argv = append(argv, a)
			}
		}
		argv = append(argv, "--config", name)
		if !strings.ContainsRune(val, 0) {
			t.Setenv(envName(table[int(env)%len(table)].name), val)
		}
		cmd := cmdUpscale
		if eval {
			cmd = cmdEval
		}
		s, _, err := loadSettings(cmd, argv)
		if err != nil {
			var ee *exitError
			if !errors.Is(err, errHelp) && (!errors.As(err, &ee) || ee.code != exitUsage || err.Error() == "") {
				t.Fatalf("error %q is neither help nor a usage error", err)
			}
			return
		}
		for _, e := range table {
			if e.cmds&cmd == 0 {
				continue
			}
			switch p := e.field(s).(type) {
			case *int:
				if *p < e.min || e.max != 0 && *p > e.max {
					t.Fatalf("%s = %d outside %d..%d", e.name, *p, e.min, e.max)
				}
			case *float64:
				if !(*p >= float64(e.min)) || math.IsInf(*p, 0) {
					t.Fatalf("%s = %g: not a finite number ≥ %d", e.name, *p, e.min)
				}
			case *string:
				if e.choices != nil && !slices.Contains(e.choices, *p) {
					t.Fatalf("%s = %q not one of %v", e.name, *p, e.choices)
				}
			}
		}
		if cmd == cmdUpscale {
			if s.bitrate < 0 || s.bitrate > 1e12 {
				t.Fatalf("bitrate %d", s.bitrate)
			}
			checkOuts(t, s.outs, s, 128, 72)
		}
	})
}
