package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every row of the flag table is, for each command it names, a flag, a config-file key (unless
// flag-only) and a HITSR_ variable, listed in the usage; flags win over the environment, which
// wins over the file, which wins over the default. Rows added later are checked the same way.
func TestFlagTable(t *testing.T) {
	d := t.TempDir()
	t.Setenv("HOME", d) // no user config file
	t.Setenv("XDG_CONFIG_HOME", d)
	cfg := filepath.Join(d, "c.yaml")
	help := usage()
	for _, e := range table {
		if !strings.Contains(help, "--"+e.name+" ") && !strings.Contains(help, "--"+e.name+"\n") {
			t.Errorf("--%s is not in the usage", e.name)
		}
		if e.name == "help" || e.name == "config" {
			continue // checked below
		}
		// three distinct valid values: file, environment, flag
		var vals [3]string
		switch e.def.(type) {
		case int:
			for i := range vals {
				vals[i] = strconv.Itoa(e.min + i)
			}
		case bool:
			vals = [3]string{"true", "false", "true"}
		case float64:
			step := 1.0
			if e.max != 0 { // inside min..max
				step = float64(e.max-e.min) / 4
			}
			for i := range vals {
				vals[i] = fmt.Sprint(float64(e.min) + step*(0.25+float64(i)))
			}
		case []string:
			vals = [3]string{"", "1x.mkv", "2x.mkv"}
		case string:
			vals = [3]string{"1", "2", "3"}
			for i := range vals {
				if e.choices != nil {
					vals[i] = e.choices[i%len(e.choices)]
				}
			}
			if e.name == "sample" { // parsed (model.ParseSampling)
				vals = [3]string{"topk=1", "topk=2:seed=5", "greedy"}
			}
		}
		for _, cmd := range []command{cmdUpscale, cmdEval, cmdPlan, cmdJoin} {
			if e.cmds&cmd == 0 {
				if _, _, err := loadSettings(cmd, []string{"--" + e.name + "=" + vals[2]}); err == nil {
					t.Errorf("--%s is taken by a command it is not for", e.name)
				}
				continue
			}
			name := map[command]string{cmdUpscale: "upscale", cmdEval: "eval", cmdPlan: "plan", cmdJoin: "join"}[cmd]
			get := func(file string, env *string, flag *string) (string, error) {
				os.WriteFile(cfg, []byte(file), 0o644)
				args := []string{"--config", cfg}
				if cmd&(cmdUpscale|cmdJoin) != 0 && e.name != "out" {
					args = append(args, "--out", "2x.mkv")
				}
				if flag != nil {
					args = append(args, "--"+e.name+"="+*flag)
				}
				if env != nil {
					t.Setenv(envName(e.name), *env)
				} else {
					os.Unsetenv(envName(e.name))
				}
				s, _, err := loadSettings(cmd, args)
				if err != nil {
					return "", err
				}
				v := fmt.Sprint(reflectValue(e.field(s)))
				return v, nil
			}
			check := func(what, want string, file string, env, flag *string) {
				t.Helper()
				got, err := get(file, env, flag)
				if err != nil || got != want {
					t.Errorf("%s --%s from %s: got %q (%v), want %q", name, e.name, what, got, err, want)
				}
			}
			def := fmt.Sprint(e.def)
			if e.def == nil || def == "[]" {
				def = "[]"
			}
			if e.name != "out" { // required
				check("the default", def, "", nil, nil)
			}
			key := e.name + ": " + vals[0] + "\n"
			if e.notInFile {
				if _, err := get(key, nil, nil); err == nil || !strings.Contains(err.Error(), "unknown setting") {
					t.Errorf("%s: %s in the config file: err = %v, want unknown setting", name, e.name, err)
				}
				key = ""
			} else {
				check("the file", vals[0], key, nil, nil)
			}
			wantEnv, wantFlag := vals[1], vals[2]
			if _, ok := e.def.([]string); ok {
				wantEnv, wantFlag = "["+vals[1]+"]", "["+vals[2]+"]"
			}
			check("the environment over the file", wantEnv, key, &vals[1], nil)
			check("the flag over the environment", wantFlag, key, &vals[1], &vals[2])
			os.Unsetenv(envName(e.name))
		}
	}
	for _, cmd := range []command{cmdUpscale, cmdEval, cmdPlan, cmdJoin} {
		if _, _, err := loadSettings(cmd, []string{"--help"}); !errors.Is(err, errHelp) {
			t.Errorf("--help: %v", err)
		}
		os.WriteFile(cfg, []byte("nope: 1\n"), 0o644)
		if _, _, err := loadSettings(cmd, []string{"--config", cfg}); err == nil || !strings.Contains(err.Error(), `unknown setting "nope"`) {
			t.Errorf("unknown config key: %v", err)
		}
		t.Setenv("HITSR_CONFIG", filepath.Join(d, "missing.yaml"))
		if _, _, err := loadSettings(cmd, nil); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
			t.Errorf("HITSR_CONFIG: %v", err)
		}
		os.Unsetenv("HITSR_CONFIG")
	}
	// bad values name where they came from
	t.Setenv("HITSR_CRF", "99")
	if _, _, err := loadSettings(cmdUpscale, []string{"--out", "2x.mkv"}); err == nil || !strings.Contains(err.Error(), "HITSR_CRF 99: out of range") {
		t.Errorf("HITSR_CRF=99: %v", err)
	}
	os.Unsetenv("HITSR_CRF")
	for _, v := range []string{"-0.5", "NaN", "+Inf"} {
		if _, _, err := loadSettings(cmdUpscale, []string{"--out", "2x.mkv", "--reuse-threshold", v}); err == nil || !strings.Contains(err.Error(), "--reuse-threshold") {
			t.Errorf("--reuse-threshold %s: %v", v, err)
		}
	}
	for _, v := range []string{"-0.1", "1.01", "NaN", "+Inf"} {
		if _, _, err := loadSettings(cmdUpscale, []string{"--out", "2x.mkv", "--stabilize", v}); err == nil || !strings.Contains(err.Error(), "--stabilize "+v+": out of range (0..1)") {
			t.Errorf("--stabilize %s: %v", v, err)
		}
	}
}

// reflectValue dereferences a settings field pointer.
func reflectValue(p any) any {
	switch p := p.(type) {
	case *string:
		return *p
	case *int:
		return *p
	case *bool:
		return *p
	case *float64:
		return *p
	case *[]string:
		if len(*p) == 0 {
			return "[]"
		}
		return *p
	}
	panic("unknown field type")
}

// eval takes its settings from the config file and the environment like the upscaler, and
// ignores the file's upscaler-only settings.
func TestEvalSettings(t *testing.T) {
	d := t.TempDir()
	writePNG(t, filepath.Join(d, "a.png"), 24, 20, false)
	csvPath := filepath.Join(d, "out.csv")
	cfg := filepath.Join(d, "hitsr.yaml")
	os.WriteFile(cfg, []byte("scales: \"4\"\ncrf: 20\ndevice: cpu\ncsv: "+csvPath+"\nmodel: "+tiny+"\n"), 0o644)
	rows := func() string {
		b, _ := os.ReadFile(csvPath)
		var scales []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
			scales = append(scales, strings.Split(l, ",")[1])
		}
		return strings.Join(scales, ",")
	}
	if code, _, stderr := runCLI("eval", d, "--config", cfg); code != 0 || rows() != "4,4,4" {
		t.Fatalf("scales from the file: exit %d %s, csv scales %q", code, stderr, rows())
	}
	t.Setenv("HITSR_SCALES", "2")
	if code, _, stderr := runCLI("eval", d, "--config", cfg, "-y"); code != 0 || rows() != "2,2,2" {
		t.Fatalf("scales from HITSR_SCALES: exit %d %s, csv scales %q", code, stderr, rows())
	}
	if code, _, stderr := runCLI("eval", d, "--config", cfg, "--crf", "3"); code != exitUsage || !strings.Contains(stderr, "crf") {
		t.Fatalf("eval --crf: exit %d %s, want a usage error", code, stderr)
	}
}
