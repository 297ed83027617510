package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cast"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/hitsr/hitsr/hitsr"
)

// settings is the merged configuration: flags > HITSR_* environment > config file > defaults.
type settings struct {
	common
	outs                        []outSpec
	codec, preset, pixFmt       string
	format, inputFormat         string
	crf                         int
	bitrate                     int64
	realtime, overwrite         bool
	queue, frames               int
	logLevel, progress, cfgFile string
}

// configKeys are the settings a config file may hold (besides "outputs").
var configKeys = []string{"device", "model", "batch", "codec", "crf", "bitrate", "preset", "pix-fmt",
	"format", "input-format", "realtime", "queue", "frames", "log-level", "progress", "yes"}

func newFlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("hitsr-video", pflag.ContinueOnError)
	fs.SetOutput(nilWriter{})
	fs.SetInterspersed(true)
	fs.StringArrayP("out", "o", nil, "")
	fs.String("config", "", "")
	fs.String("device", "auto", "")
	fs.String("model", "", "")
	fs.Int("batch", 32, "")
	fs.String("codec", "", "")
	fs.Int("crf", 18, "")
	fs.String("bitrate", "", "")
	fs.String("preset", "medium", "")
	fs.String("pix-fmt", "", "")
	fs.String("format", "", "")
	fs.StringP("input-format", "f", "", "")
	fs.Bool("realtime", false, "")
	fs.Int("queue", 4, "")
	fs.Int("frames", 0, "")
	fs.String("log-level", "info", "")
	fs.String("progress", "auto", "")
	fs.BoolP("yes", "y", false, "")
	fs.BoolP("help", "h", false, "")
	return fs
}

type nilWriter struct{}

func (nilWriter) Write(p []byte) (int, error) { return len(p), nil }

// configSearchPath is where a config file is looked for when --config is not given.
func configSearchPath() []string {
	paths := []string{"hitsr.yaml"}
	if dir, err := os.UserConfigDir(); err == nil {
		paths = append(paths, filepath.Join(dir, "hitsr", "config.yaml"))
	}
	return append(paths, "/etc/hitsr/config.yaml")
}

// loadSettings parses args (flags anywhere) and merges environment and config file.
func loadSettings(args []string) (*settings, []string, error) {
	fs := newFlagSet()
	if err := fs.Parse(args); err != nil {
		return nil, nil, fail(exitUsage, "%v", err)
	}
	if h, _ := fs.GetBool("help"); h {
		return nil, nil, errHelp
	}
	v := viper.New()
	v.SetEnvPrefix("HITSR")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if err := v.BindPFlags(fs); err != nil {
		return nil, nil, err
	}
	s := &settings{cfgFile: v.GetString("config")}
	if s.cfgFile == "" {
		for _, p := range configSearchPath() {
			if _, err := os.Stat(p); err == nil {
				s.cfgFile = p
				break
			}
		}
	}
	var cfgOuts any
	if s.cfgFile != "" {
		cfg := viper.New()
		cfg.SetConfigFile(s.cfgFile)
		if filepath.Ext(s.cfgFile) == "" {
			cfg.SetConfigType("yaml")
		}
		if err := cfg.ReadInConfig(); err != nil {
			return nil, nil, fail(exitUsage, "config %s: %v", s.cfgFile, oneLine(err))
		}
		for _, k := range cfg.AllKeys() {
			if top, _, _ := strings.Cut(k, "."); !contains(configKeys, top) && top != "outputs" {
				return nil, nil, fail(exitUsage, "config %s: unknown setting %q", s.cfgFile, k)
			}
		}
		if err := v.MergeConfigMap(cfg.AllSettings()); err != nil {
			return nil, nil, fail(exitUsage, "config %s: %v", s.cfgFile, err)
		}
		cfgOuts = cfg.Get("outputs")
	}
	var err error
	str := func(k string) string {
		x, e := cast.ToStringE(v.Get(k))
		if e != nil && err == nil {
			err = fail(exitUsage, "%s: want a string, got %v", k, v.Get(k))
		}
		return x
	}
	integer := func(k string) int {
		x, e := cast.ToIntE(v.Get(k))
		if e != nil && err == nil {
			err = fail(exitUsage, "%s: want an integer, got %q", k, fmt.Sprint(v.Get(k)))
		}
		return x
	}
	boolean := func(k string) bool {
		x, e := cast.ToBoolE(v.Get(k))
		if e != nil && err == nil {
			err = fail(exitUsage, "%s: want true or false, got %q", k, fmt.Sprint(v.Get(k)))
		}
		return x
	}
	s.device, s.model, s.batch = str("device"), str("model"), integer("batch")
	s.codec, s.preset, s.pixFmt = str("codec"), str("preset"), str("pix-fmt")
	s.format, s.inputFormat = str("format"), str("input-format")
	s.crf, s.queue, s.frames = integer("crf"), integer("queue"), integer("frames")
	s.realtime, s.overwrite = boolean("realtime"), boolean("yes")
	s.logLevel, s.progress = str("log-level"), str("progress")
	bitrate := str("bitrate")
	if err != nil {
		return nil, nil, err
	}
	if s.bitrate, err = parseBitrate(bitrate); err != nil {
		return nil, nil, fail(exitUsage, "--bitrate: %v", err)
	}
	if s.crf < -1 || s.crf > 63 {
		return nil, nil, fail(exitUsage, "--crf %d out of range (0..51 for x264; -1 = encoder default)", s.crf)
	}
	if s.queue < 1 || s.queue > 256 {
		return nil, nil, fail(exitUsage, "--queue %d out of range (1..256)", s.queue)
	}
	if s.frames < 0 {
		return nil, nil, fail(exitUsage, "--frames %d: want ≥ 0", s.frames)
	}
	if !contains([]string{"auto", "always", "never"}, s.progress) {
		return nil, nil, fail(exitUsage, "--progress %q: want auto, always or never", s.progress)
	}
	if flagOuts, _ := fs.GetStringArray("out"); len(flagOuts) > 0 || cfgOuts == nil {
		if s.outs, err = parseOuts(flagOuts); err != nil {
			return nil, nil, &exitError{exitUsage, err}
		}
	} else if s.outs, err = configOuts(cfgOuts); err != nil {
		return nil, nil, fail(exitUsage, "config %s: %v", s.cfgFile, err)
	}
	return s, fs.Args(), nil
}

// configOuts reads the config file's "outputs" list: {path, scale | size, per-output keys}.
func configOuts(raw any) ([]outSpec, error) {
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("outputs: want a list of {path, scale or size, ...}")
	}
	var outs []outSpec
	for i, item := range list {
		m, err := cast.ToStringMapStringE(item)
		if err != nil {
			return nil, fmt.Errorf("outputs[%d]: want a map", i)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := outSpec{path: m["path"], opts: map[string]string{}}
		if o.path == "" {
			return nil, fmt.Errorf("outputs[%d]: no path", i)
		}
		for _, k := range keys {
			switch val := m[k]; {
			case k == "path":
			case k == "scale":
				o.target, err = parseScale(val)
			case k == "size":
				o.target, err = parseSize(val)
			case contains(perOutputKeys, k):
				o.opts[k] = val
			default:
				err = fmt.Errorf("unknown key %q", k)
			}
			if err != nil {
				return nil, fmt.Errorf("outputs[%d] (%s): %v", i, o.path, err)
			}
		}
		if o.target == (hitsr.Target{}) {
			t, err := parseTarget(o.path)
			if err != nil {
				return nil, fmt.Errorf("outputs[%d] (%s): %v", i, o.path, err)
			}
			o.target = t.target
		}
		outs = append(outs, o)
	}
	return outs, checkDistinct(outs)
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
