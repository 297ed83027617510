package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigStrictValues checks that a setting's value is never coerced, whatever its source: a
// fraction for an integer, a boolean for a number (and the reverse), a map or list for a scalar,
// a number past int64, a value past its range, scale and size together, an empty value, a
// name with a control character, a key given twice: each one usage line naming the setting
// and the file, variable or --out entry it came from. Whole values of any spelling still load.
func TestConfigStrictValues(t *testing.T) {
	d := noUserConfig(t)
	cfg := func(name, text string) string {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	y := cfg("c.yaml", "")
	for _, c := range []struct{ file, msg string }{
		{"crf: 20.7\n", "config " + y + ": crf: want an integer, got 20.7"},
		{"crf: true\n", "config " + y + ": crf: want an integer, got true"},
		{"crf: [1]\n", "config " + y + ": crf: want an integer, got a list"},
		{"queue: 99999999999999999999\n", "config " + y + ": queue 1e+20: out of range (0..256)"},
		{"queue: 300\n", "config " + y + ": queue 300: out of range (0..256)"},
		{"frames: '99999999999999999999'\n", "config " + y + ": frames 99999999999999999999: out of range (0..9223372036854775807)"},
		{"realtime: 1\n", "config " + y + ": realtime: want true or false, got 1"},
		{"max-delay: true\n", "config " + y + ": max-delay: want a number, got true"},
		{"preset: {a: 1}\n", "config " + y + ": preset: want a string, got a map"},
		{"outputs:\n  - {path: a.mkv, scale: 2, size: 100x100}\n", "config " + y + ": outputs[0] (a.mkv): scale and size conflict (give one)"},
		{"outputs:\n  - {path: a.mkv, scale: 2, crf: {a: 1}}\n", "config " + y + ": outputs[0] (a.mkv): crf: want an integer, got a map"},
		{"outputs:\n  - {path: a.mkv, scale: 2, crf: 20.7}\n", "config " + y + ": outputs[0] (a.mkv): crf: want an integer, got 20.7"},
		{"outputs:\n  - {path: a.mkv, scale: 2, crf: 64}\n", "config " + y + ": outputs[0] (a.mkv): crf 64: out of range (-1..63)"},
		{"outputs:\n  - {path: 2x.mkv, codec: ''}\n", "config " + y + ": outputs[0] (2x.mkv): codec: want a value, got \"\""},
		{"outputs:\n  - {path: 2x.mkv, preset: true}\n", "config " + y + ": outputs[0] (2x.mkv): preset: want a string, got true"},
		{"outputs:\n  - {path: 2x.mkv, bitrate: 8X}\n", "config " + y + ": outputs[0] (2x.mkv): bitrate: invalid bitrate \"8X\" (1 to 1e12 bits/s, e.g. 8M, 800k)"},
		{"outputs:\n  - {path: 2x.mkv, scale: true}\n", "config " + y + ": outputs[0] (2x.mkv): scale: want a number, got true"},
		{"outputs:\n  - {path: \"2x\\nb.mkv\"}\n", "config " + y + `: outputs[0] ("2x\nb.mkv"): the name holds a control character ('\n')`},
		{"outputs:\n  - {path: [a]}\n", "config " + y + ": outputs[0]: no path (want a name)"},
	} {
		cfg("c.yaml", c.file)
		code, err := settingsErr(t, "--config", y, "in.mp4")
		if code != exitUsage || err.Error() != c.msg {
			t.Errorf("%q: exit %d, %v; want exit %d, %q", c.file, code, err, exitUsage, c.msg)
		}
	}
	// A key given twice in one map, as viper compares keys (ignoring case) or, in JSON, as
	// written: viper (JSON's decoder) keeps one of them.
	for name, c := range map[string]struct{ text, key string }{
		"r.yaml":  {"crf: 20\nCRF: 30\n", "crf"},
		"r.json":  {`{"crf": 20, "crf": 30}`, "crf"},
		"r2.json": {`{"outputs": [{"path": "2x.mkv"}, {"path": "4x.mkv", "Crf": 1, "crf": 2}]}`, "outputs[1].crf"},
		"r.toml":  {"crf = 20\nCRF = 30\n", "crf"},
		"r2.yaml": {"outputs:\n  - {path: a.mkv, scale: 2, crf: 20, CRF: 30}\n", "outputs[0].crf"},
	} {
		p := cfg(name, c.text)
		if code, err := settingsErr(t, "--config", p, "in.mp4", "--out", "2x.mkv"); code != exitUsage || err.Error() != "config "+p+": "+c.key+" given twice (keys ignore case)" {
			t.Errorf("%s: exit %d, %v; want %s given twice", name, code, err, c.key)
		}
	}
	// Whole numbers in any spelling (JSON's are floats; TOML and env give text) still load.
	for name, text := range map[string]string{
		"w.yaml": "crf: 20.0\nframes: 9223372036854775807\noutputs:\n  - {path: a.mkv, scale: 2, crf: '21'}\n",
		"w.json": `{"crf": 20, "frames": 5, "outputs": [{"path": "a.mkv", "size": "100x100", "crf": 21, "bitrate": 8000000}]}`,
		"w.toml": "crf = 20\nframes = 5\n[[outputs]]\npath = \"a.mkv\"\nscale = 2.5\ncrf = \"21\"\n",
	} {
		s, _, err := loadSettings(cmdUpscale, []string{"--config", cfg(name, text), "in.mp4"})
		if err != nil || s.crf != 20 || len(s.outs) != 1 || s.outs[0].opts["crf"] != "21" {
			t.Errorf("%s: %v; want crf 20 and an output with crf 21", name, err)
		}
	}
	// Flags are decimal too: a leading zero is not octal.
	if s, _, err := loadSettings(cmdUpscale, []string{"in.mp4", "--out", "2x.mkv", "--crf", "010", "--frames=+7"}); err != nil || s.crf != 10 || s.frames != 7 {
		t.Errorf("--crf 010 --frames=+7: %v; want crf 10, frames 7", err)
	}
	t.Setenv("HITSR_CRF", "20.5")
	if code, err := settingsErr(t, "in.mp4", "--out", "2x.mkv"); code != exitUsage || err.Error() != `HITSR_CRF: want an integer, got "20.5"` {
		t.Errorf("HITSR_CRF=20.5: exit %d, %v", code, err)
	}
}

// TestOutSpecStrict checks --out and --ladder entries: an option given twice, a bad per-output
// value, a name with a control character and an empty --out are one usage line naming the
// entry; join, which
// writes files, refuses an HLS ladder before reading its (upscale-only) --ladder.
func TestOutSpecStrict(t *testing.T) {
	noUserConfig(t)
	for _, c := range []struct{ out, msg string }{
		{"2x.mkv#crf=1:crf=50", `--out "2x.mkv#crf=1:crf=50": crf given twice`},
		{"2x.mkv#codec=a:preset=b:codec=c", `--out "2x.mkv#codec=a:preset=b:codec=c": codec given twice`},
		{"2x.mkv#crf=1.5", `--out "2x.mkv#crf=1.5": crf: want an integer, got "1.5"`},
		{"2x.mkv#crf=99", `--out "2x.mkv#crf=99": crf 99: out of range (-1..63)`},
		{"2x.mkv#bitrate=fast", `--out "2x.mkv#bitrate=fast": bitrate: invalid bitrate "fast" (1 to 1e12 bits/s, e.g. 8M, 800k)`},
		{"2:a\nb.mkv", `--out "2:a\nb.mkv": the name holds a control character ('\n')`},
		{"hls:a\tb", `--out "hls:a\tb": the name holds a control character ('\t')`},
		{"", `--out "": empty entry`},
	} {
		if code, err := settingsErr(t, "in.mp4", "--out", c.out); code != exitUsage || err.Error() != c.msg {
			t.Errorf("--out %q: exit %d, %v; want exit %d, %q", c.out, code, err, exitUsage, c.msg)
		}
	}
	if _, err := parseLadder("1,2#crf=20:crf=22"); err == nil || !strings.Contains(err.Error(), "crf given twice") {
		t.Errorf("--ladder with crf twice: %v", err)
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exitError); ok {
		return ee.code
	}
	return 0
}

// TestStrictCLIExit runs the CLI on some of the cases above: exit 2 and one stderr line that
// names the setting and where it came from, before any input is opened.
func TestStrictCLIExit(t *testing.T) {
	d := noUserConfig(t)
	p := filepath.Join(d, "c.yaml")
	for _, c := range []struct {
		file string
		args []string
		msg  string
	}{
		{"crf: 20.7\n", []string{"in.mp4", "--config", p, "--out", "2x.mkv"}, "config " + p + ": crf: want an integer, got 20.7"},
		{"outputs:\n  - {path: a.mkv, scale: 2, size: 100x100}\n", []string{"in.mp4", "--config", p}, "config " + p + ": outputs[0] (a.mkv): scale and size conflict"},
		{"", []string{"in.mp4", "--out", "2x.mkv#crf=1:crf=50"}, `--out "2x.mkv#crf=1:crf=50": crf given twice`},
		{"", []string{"join", "--plan", "p.json", "--out", "hls:h"}, "join: hls:h: join writes files, not an HLS ladder"},
		{"", []string{"in.mp4", "--out", "2x.mkv", "--crf", "0x10"}, `invalid argument "0x10" for "--crf" flag: want a decimal integer`},
		{"", []string{"in.mp4", "--out", "2x.mkv", "--frames=1_0"}, `invalid argument "1_0" for "--frames" flag: want a decimal integer`},
		{"", []string{"in.mp4", "--out", "2x.mkv", "--crf", "099999999999999999999"}, `invalid argument "099999999999999999999" for "--crf" flag: out of range`},
	} {
		if err := os.WriteFile(p, []byte(c.file), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(c.args...)
		if code != exitUsage || stdout != "" || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line", c.args, code, stdout, stderr)
			continue
		}
		oneErrorLine(t, stderr, exitUsage, c.msg)
	}
}
