package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cast"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/internal/regfile"
	"github.com/hitsr/hitsr/model"
)

// command is a bit set of the subcommands a setting applies to.
type command uint8

const (
	cmdUpscale command = 1 << iota // hitsr-video INPUT --out …
	cmdEval                        // hitsr-video eval DIR
	cmdPlan                        // hitsr-video plan INPUT --segments N
	cmdJoin                        // hitsr-video join --plan FILE --out …
	cmdAll     = cmdUpscale | cmdEval
	cmdAny     = cmdAll | cmdPlan | cmdJoin
)

// setting is one row of the flag table. Its name is the flag (--name), the config-file key and,
// upper-cased with "-" as "_", the environment variable (HITSR_PIX_FMT).
type setting struct {
	name, short string
	arg         string // value placeholder in the usage; "" for a switch
	def         any    // default: string, int, bool or []string (a repeatable flag)
	help        string
	cmds        command
	notInFile   bool     // flag and environment only
	choices     []string // allowed values of a string
	min, max    int      // allowed range of an int (max 0: no upper bound)
	field       func(*settings) any
}

// crfMin..crfMax is the CRF range --crf and an output's #crf= accept (-1: the encoder's default).
const crfMin, crfMax = -1, 63

// table is every setting of every command: it drives pflag, the config keys, the HITSR_*
// variables, the usage text and the checks. Adding a setting is adding a row (and its field).
var table = []setting{
	{name: "out", short: "o", arg: "SPEC", def: []string(nil), cmds: cmdUpscale | cmdJoin, notInFile: true,
		help:  `outputs (required unless the config file lists "outputs")`,
		field: func(s *settings) any { return &s.outArgs }},
	{name: "codec", arg: "NAME", def: "", cmds: cmdUpscale,
		help:  "video encoder (default libx264 where the container takes H.264)",
		field: func(s *settings) any { return &s.codec }},
	{name: "crf", arg: "N", def: 18, min: crfMin, max: crfMax, cmds: cmdUpscale,
		help:  "constant-rate factor; -1: the encoder's default (x264 takes 0..51)",
		field: func(s *settings) any { return &s.crf }},
	{name: "bitrate", arg: "R", def: "", cmds: cmdUpscale,
		help:  "target bitrate instead of CRF (e.g. 8M, 800k)",
		field: func(s *settings) any { return &s.bitrateArg }},
	{name: "preset", arg: "P", def: "medium", cmds: cmdUpscale, help: "encoder preset",
		field: func(s *settings) any { return &s.preset }},
	{name: "pix-fmt", arg: "F", def: "", cmds: cmdUpscale, help: "output pixel format (default yuv420p)",
		field: func(s *settings) any { return &s.pixFmt }},
	{name: "format", arg: "F", def: "", cmds: cmdUpscale | cmdJoin,
		help:  `output container for "-" and URLs (default: from the name; nut for "-")`,
		field: func(s *settings) any { return &s.format }},
	{name: "vf", arg: "CHAIN", def: "", cmds: cmdUpscale,
		help:  `filter chain on the decoded frames in FFmpeg syntax ("yadif,hqdn3d"); "hitsr" in it is where the model runs (hitsr=scales=2|4:mode=fidelity), the filters after it run on every output`,
		field: func(s *settings) any { return &s.vf }},
	{name: "input-format", short: "f", arg: "F", def: "", cmds: cmdUpscale | cmdPlan | cmdJoin, help: "input container (default: probed)",
		field: func(s *settings) any { return &s.inputFormat }},
	{name: "realtime", def: false, cmds: cmdUpscale,
		help:  "drop frames when the model falls behind (live input) instead of queueing",
		field: func(s *settings) any { return &s.realtime }},
	{name: "queue", arg: "N", def: 0, min: 0, max: 256, cmds: cmdUpscale,
		help:  "frames buffered between stages (0: 4, or with --realtime two seconds of the input's frames)",
		field: func(s *settings) any { return &s.queue }},
	{name: "max-delay", arg: "S", def: float64(0), min: 0, max: 3600, cmds: cmdUpscale,
		help:  "with --realtime, the longest a frame waits for the model: older frames are dropped, oldest first, while newer ones wait (0: the queue's length in input time, 2 s by default)",
		field: func(s *settings) any { return &s.maxDelay }},
	{name: "frames", arg: "N", def: 0, min: 0, cmds: cmdUpscale, help: "stop after N frames (0: all)",
		field: func(s *settings) any { return &s.frames }},
	{name: "input-timeout", arg: "S", def: 10, min: 0, cmds: cmdUpscale,
		help:  "a network input (udp://, srt://, rtmp://…) ends when no data arrives for S seconds after the first; the outputs are finalised (0: wait forever)",
		field: func(s *settings) any { return &s.inputTimeout }},
	{name: "output-timeout", arg: "S", def: 30, min: 0, cmds: cmdUpscale,
		help:  "a network output whose receiver accepts no data for S seconds fails the run (0: wait forever)",
		field: func(s *settings) any { return &s.outputTimeout }},
	{name: "ladder", arg: "LIST", def: "1,2,4", cmds: cmdUpscale,
		help:  `renditions of an hls:DIR output: scales or WxH sizes, each with its own settings if wanted ("1,2#bitrate=2M,1920x1080#crf=20")`,
		field: func(s *settings) any { return &s.ladder }},
	{name: "hls-time", arg: "S", def: 2, min: 1, max: 60, cmds: cmdUpscale,
		help:  "HLS segment length in seconds (a keyframe at every boundary, in every rendition)",
		field: func(s *settings) any { return &s.hlsTime }},
	{name: "hls-list-size", arg: "N", def: 0, min: 0, max: math.MaxInt32, cmds: cmdUpscale,
		help:  "segments in a live HLS playlist, older ones deleted (0: every segment, a VOD playlist)",
		field: func(s *settings) any { return &s.hlsListSize }},
	{name: "yes", short: "y", def: false, cmds: cmdUpscale | cmdEval | cmdPlan | cmdJoin, help: "overwrite existing outputs",
		field: func(s *settings) any { return &s.overwrite }},
	{name: "progress", arg: "M", def: "auto", choices: []string{"auto", "always", "never"}, cmds: cmdUpscale,
		help:  "progress bar (fps, ×realtime, ETA) on a terminal",
		field: func(s *settings) any { return &s.progress }},
	{name: "plan", arg: "FILE", def: "", cmds: cmdUpscale | cmdPlan | cmdJoin,
		help:  `scale-out plan: written by "plan" (default stdout), read by a --segment run and by "join"`,
		field: func(s *settings) any { return &s.plan }},
	{name: "segment", arg: "I", def: "", cmds: cmdUpscale, notInFile: true,
		help:  "upscale only segment I of --plan (default $JOB_COMPLETION_INDEX, as a Kubernetes Indexed Job sets it)",
		field: func(s *settings) any { return &s.segment }},
	{name: "segments", arg: "N", def: 0, min: 0, cmds: cmdPlan, help: "split into N segments of about equal frame counts",
		field: func(s *settings) any { return &s.segments }},
	{name: "segment-seconds", arg: "S", def: 0, min: 0, cmds: cmdPlan, help: "split into segments of about S seconds (instead of --segments)",
		field: func(s *settings) any { return &s.segmentSeconds }},
	{name: "scales", arg: "LIST", def: "2,4", cmds: cmdEval, help: "scales to evaluate",
		field: func(s *settings) any { return &s.scales }},
	{name: "csv", arg: "FILE", def: "", cmds: cmdEval, help: "write every score as CSV",
		field: func(s *settings) any { return &s.csv }},
	{name: "chart", arg: "FILE", def: "", cmds: cmdEval, help: "write a PNG chart of the means",
		field: func(s *settings) any { return &s.chart }},
	{name: "device", arg: "D", def: "auto", cmds: cmdAll,
		help:  "auto (a Vulkan GPU, else the CPU), cpu, vulkan or vulkan:N",
		field: func(s *settings) any { return &s.device }},
	{name: "model", arg: "PATH", def: "", cmds: cmdAll,
		help:  "weights file (default: the model built into the binary)",
		field: func(s *settings) any { return &s.model }},
	{name: "mode", arg: "M", def: "auto", choices: []string{"auto", "fidelity", "full"}, cmds: cmdAll,
		help:  "fidelity: the conv backbone alone (fast); full: the H-VAR token pass; auto: fidelity if the model has it",
		field: func(s *settings) any { return &s.mode }},
	{name: "batch", arg: "N", def: hitsr.DefaultBatch, min: 1, cmds: cmdAll, help: "tiles per model call",
		field: func(s *settings) any { return &s.batch }},
	{name: "sample", arg: "S", def: "greedy", cmds: cmdAll,
		help:  "full mode's token choice: greedy, or topk=K[:temperature=T][:seed=S], a seeded draw among the K likeliest tokens (a seed gives the same output on every device)",
		field: func(s *settings) any { return &s.sample }},
	{name: "reuse", def: true, cmds: cmdUpscale,
		help:  "reuse earlier frames' work on still tiles: full mode keeps a tile's tokens while its input stays within --reuse-threshold (false: every tile every frame)",
		field: func(s *settings) any { return &s.reuse }},
	{name: "reuse-threshold", arg: "F", def: hitsr.DefaultReuseThreshold, cmds: cmdUpscale,
		help:  "mean change of a tile's input (8-bit levels) since its tokens were generated up to which they are reused (0: identical tiles only, output as without reuse)",
		field: func(s *settings) any { return &s.reuseThreshold }},
	{name: "scene-cut", arg: "F", def: float64(hitsr.DefaultSceneCut), cmds: cmdUpscale,
		help:  "mean change of a frame from the previous one (8-bit levels of 8×8 block means) above which every tile's tokens are generated afresh",
		field: func(s *settings) any { return &s.sceneCut }},
	{name: "stabilize", arg: "F", def: hitsr.DefaultStabilize, max: 1, cmds: cmdUpscale,
		help:  "weight of the previous output, carried by the input's change, where a frame is still (the network follows each frame's noise; 0: off)",
		field: func(s *settings) any { return &s.stabilize }},
	{name: "config", arg: "FILE", def: "", cmds: cmdAny, notInFile: true,
		help:  "YAML config; without it, the first of ./hitsr.yaml, $XDG_CONFIG_HOME/hitsr/config.yaml, /etc/hitsr/config.yaml",
		field: func(s *settings) any { return &s.cfgFile }},
	{name: "log-level", arg: "L", def: "info", choices: []string{"debug", "info", "warn", "error"}, cmds: cmdAny,
		help:  "logs on stderr: human-readable on a terminal, JSON lines otherwise",
		field: func(s *settings) any { return &s.logLevel }},
	{name: "help", short: "h", def: false, cmds: cmdAny, notInFile: true, help: "this text",
		field: func(s *settings) any { return &s.help }},
}

// maxConfigBytes caps a config file (a few KB is a large one).
const maxConfigBytes = 1 << 20

// outputsKey is the config file's structured list of outputs (the file's form of --out).
const outputsKey = "outputs"

// settings is the merged configuration: flags > HITSR_* environment > config file > defaults.
type settings struct {
	common
	outArgs                           []string
	outs                              []outSpec
	codec, preset, pixFmt, bitrateArg string
	format, inputFormat               string
	vf                                string
	crf, queue, frames                int
	bitrate                           int64
	realtime, overwrite, help         bool
	logLevel, progress, cfgFile       string
	scales, csv, chart                string
	plan, segment                     string
	segments, segmentSeconds          int
	ladder                            string
	hlsTime, hlsListSize              int
	inputTimeout, outputTimeout       int
	reuse                             bool
	reuseThreshold, sceneCut          float64
	stabilize                         float64
	maxDelay                          float64 // seconds
}

func envName(name string) string {
	return "HITSR_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func newFlagSet(cmd command) *pflag.FlagSet {
	fs := pflag.NewFlagSet("hitsr-video", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SetInterspersed(true)
	for _, e := range table {
		if e.cmds&cmd == 0 {
			continue
		}
		switch d := e.def.(type) {
		case string:
			fs.StringP(e.name, e.short, d, e.help)
		case int:
			v := decimalInt(d)
			fs.VarP(&v, e.name, e.short, e.help)
		case float64:
			fs.Float64P(e.name, e.short, d, e.help)
		case bool:
			fs.BoolP(e.name, e.short, d, e.help)
		case []string:
			fs.StringArrayP(e.name, e.short, d, e.help)
		default:
			panic("flag table: unsupported default type for " + e.name)
		}
	}
	return fs
}

// decimalInt is an integer flag in base 10 only, as config files and HITSR_* take it (pflag's
// IntP reads "010" as octal 8 and takes "0x10" and "1_0").
type decimalInt int

func (d *decimalInt) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 0)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return errors.New("out of range")
	case err != nil:
		return errors.New("want a decimal integer")
	}
	*d = decimalInt(n)
	return nil
}

func (d *decimalInt) String() string { return strconv.Itoa(int(*d)) }
func (d *decimalInt) Type() string   { return "int" }

// configSearchPath is where a config file is looked for when --config is not given.
func configSearchPath() []string {
	paths := []string{"hitsr.yaml"}
	if dir, err := os.UserConfigDir(); err == nil {
		paths = append(paths, filepath.Join(dir, "hitsr", "config.yaml"))
	}
	return append(paths, "/etc/hitsr/config.yaml")
}

// loadSettings parses cmd's args (flags anywhere) and merges the environment and config file.
func loadSettings(cmd command, args []string) (*settings, []string, error) {
	fs := newFlagSet(cmd)
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
	cfg := viper.New()
	if s.cfgFile != "" {
		format := strings.ToLower(strings.TrimPrefix(filepath.Ext(s.cfgFile), ".")) // YAML without one
		if format == "" {
			format = "yaml"
		}
		cfg.SetConfigType(format)
		// Read here rather than by viper: a regular file only (opening a FIFO blocks), size-capped.
		b, err := regfile.Read(s.cfgFile, maxConfigBytes)
		if err == nil {
			err = cfg.ReadConfig(bytes.NewReader(b))
		}
		if err != nil {
			return nil, nil, fail(exitUsage, "config %s: %v", s.cfgFile, oneLine(err))
		}
		if k := repeatedKey(b, format); k != "" {
			return nil, nil, fail(exitUsage, "config %s: %s given twice (keys ignore case)", s.cfgFile, k)
		}
		for _, k := range cfg.AllKeys() {
			top, _, _ := strings.Cut(k, ".")
			if i := slices.IndexFunc(table, func(e setting) bool { return e.name == top }); (i < 0 || table[i].notInFile) && top != outputsKey {
				return nil, nil, fail(exitUsage, "config %s: unknown setting %q", s.cfgFile, k)
			}
		}
		if err := v.MergeConfigMap(cfg.AllSettings()); err != nil {
			return nil, nil, fail(exitUsage, "config %s: %v", s.cfgFile, err)
		}
	}
	// source names where a setting's value came from, for error messages.
	source := func(name string) string {
		if fs.Changed(name) {
			return "--" + name
		}
		if _, ok := os.LookupEnv(envName(name)); ok {
			return envName(name)
		}
		if cfg.IsSet(name) {
			return fmt.Sprintf("config %s: %s", s.cfgFile, name)
		}
		return "--" + name
	}
	for _, e := range table {
		if e.cmds&cmd == 0 {
			continue
		}
		raw := v.Get(e.name)
		var err error
		switch p := e.field(s).(type) {
		case *string:
			*p, err = toString(raw)
			if err == nil && e.choices != nil && !slices.Contains(e.choices, *p) {
				return nil, nil, fail(exitUsage, "%s %q: want %s", source(e.name), *p, strings.Join(e.choices, ", "))
			}
		case *int:
			*p, err = toInt(raw, e.min, e.max)
		case *bool:
			*p, err = toBool(raw)
		case *float64:
			*p, err = toFloat(raw, e.min, e.max)
		case *[]string:
			switch str, ok := raw.(string); {
			case fs.Changed(e.name): // as given (viper would re-split it as CSV; GetStringArray drops a lone "")
				*p = fs.Lookup(e.name).Value.(pflag.SliceValue).GetSlice()
			case ok: // HITSR_OUT=2x.mp4,4x.mp4
				*p = []string{str}
			default:
				if *p, err = cast.ToStringSliceE(raw); err != nil {
					err = &valueError{want: "a list", got: show(raw)}
				}
			}
		}
		if err != nil {
			return nil, nil, fail(exitUsage, "%s%v", source(e.name), err)
		}
	}
	if cmd&cmdAll != 0 {
		var err error
		if s.sampling, err = model.ParseSampling(s.sample); err != nil {
			return nil, nil, fail(exitUsage, "%s: %v", source("sample"), err)
		}
	}
	if cmd&(cmdUpscale|cmdJoin) != 0 {
		var err error
		if s.bitrate, err = parseBitrate(s.bitrateArg); err != nil {
			return nil, nil, fail(exitUsage, "%s: %v", source("bitrate"), err)
		}
		if cfgOuts := cfg.Get(outputsKey); len(s.outArgs) > 0 || cfgOuts == nil {
			if s.outs, err = parseOuts(s.outArgs); err != nil {
				return nil, nil, &exitError{exitUsage, err}
			}
		} else if s.outs, err = configOuts(cfgOuts); err != nil {
			return nil, nil, fail(exitUsage, "config %s: %v", s.cfgFile, err)
		}
	}
	return s, fs.Args(), nil
}

// repeatedKey is the first key (as a path: outputs[0].crf) a config file gives twice in one
// map, compared as viper compares them, ignoring case (viper keeps one of CRF and crf), and
// for JSON as written too (its decoder keeps the last of two crf); "" if none.
func repeatedKey(b []byte, format string) string {
	if format == "json" {
		return jsonRepeat(json.NewDecoder(bytes.NewReader(b)), "")
	}
	m := map[string]any{}
	if d, err := viper.NewCodecRegistry().Decoder(format); err != nil || d.Decode(b, m) != nil {
		return "" // ReadConfig read it: not reached
	}
	return mapRepeat(reflect.ValueOf(m), "")
}

// mapRepeat is repeatedKey in a decoded value; at is its path's prefix ("", "outputs[0].").
func mapRepeat(v reflect.Value, at string) string {
	switch v.Kind() {
	case reflect.Interface:
		return mapRepeat(v.Elem(), at)
	case reflect.Map:
		seen := map[string]bool{}
		for it := v.MapRange(); it.Next(); {
			k := at + strings.ToLower(fmt.Sprint(it.Key().Interface()))
			if seen[k] {
				return k
			}
			seen[k] = true
			if r := mapRepeat(it.Value(), k+"."); r != "" {
				return r
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if r := mapRepeat(v.Index(i), fmt.Sprintf("%s[%d].", strings.TrimSuffix(at, "."), i)); r != "" {
				return r
			}
		}
	}
	return ""
}

// jsonRepeat is repeatedKey in the JSON value d reads next.
func jsonRepeat(d *json.Decoder, at string) string {
	tok, err := d.Token()
	switch {
	case err != nil:
	case tok == json.Delim('{'):
		seen := map[string]bool{}
		for d.More() {
			key, err := d.Token()
			if err != nil {
				return ""
			}
			name, _ := key.(string)
			k := at + strings.ToLower(name)
			if seen[k] {
				return k
			}
			seen[k] = true
			if r := jsonRepeat(d, k+"."); r != "" {
				return r
			}
		}
		d.Token() // }
	case tok == json.Delim('['):
		for i := 0; d.More(); i++ {
			if r := jsonRepeat(d, fmt.Sprintf("%s[%d].", strings.TrimSuffix(at, "."), i)); r != "" {
				return r
			}
		}
		d.Token() // ]
	}
	return ""
}

// valueError is a value that does not fit its setting; its text follows the setting's name
// ("--queue 300: out of range (0..256)", "config c.yaml: crf: want an integer, got 20.7").
type valueError struct {
	got, want string
	rng       bool // out of range (want is the range), else of the wrong kind
}

func (e *valueError) Error() string {
	if e.rng {
		return fmt.Sprintf(" %s: out of range (%s)", e.got, e.want)
	}
	return fmt.Sprintf(": want %s, got %s", e.want, e.got)
}

// show is a value as an error names it.
func show(raw any) string {
	v := reflect.ValueOf(raw)
	switch v.Kind() {
	case reflect.Invalid:
		return "nothing"
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Map, reflect.Struct:
		return "a map"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return fmt.Sprint(raw)
}

// limits is the range min..max (max 0: no upper bound) as an error names it.
func limits(min, max int) string {
	if max == 0 {
		return fmt.Sprintf("≥ %d", min)
	}
	return fmt.Sprintf("%d..%d", min, max)
}

// toInt, toFloat, toBool and toString are the one conversion of a setting's value, whatever
// its source: a flag's or variable's text, or a config file's YAML, JSON or TOML value. They
// are strict: no rounding (20.7 is not an integer, 20.0 is), no booleans as numbers or numbers
// as booleans, no map or list as a scalar, and a range check on the value given (min..max,
// max 0: no upper bound) before any narrowing. Numbers go through toString's exact text.
func toInt(raw any, min, max int) (int, error) {
	s, err := toString(raw)
	var n int64
	if err == nil {
		n, err = strconv.ParseInt(s, 10, 64)
	}
	over := errors.Is(err, strconv.ErrRange) // past int64
	if err != nil && !over {
		return 0, &valueError{want: "an integer", got: show(raw)}
	}
	if over && max == 0 {
		max = math.MaxInt
	}
	if over || n < int64(min) || max != 0 && n > int64(max) {
		return 0, &valueError{got: strings.Trim(show(raw), `"`), want: limits(min, max), rng: true}
	}
	return int(n), nil
}

func toFloat(raw any, min, max int) (float64, error) {
	s, err := toString(raw)
	var f float64
	if err == nil {
		f, err = strconv.ParseFloat(s, 64) // past float64: ±Inf, out of range below
	}
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, &valueError{want: "a number", got: show(raw)}
	}
	if !(f >= float64(min)) || math.IsInf(f, 1) || max != 0 && f > float64(max) { // NaN too
		return 0, &valueError{got: strings.Trim(show(raw), `"`), want: limits(min, max), rng: true}
	}
	return f, nil
}

func toBool(raw any) (bool, error) {
	switch v := raw.(type) {
	case bool:
		return v, nil
	case string:
		if b, err := strconv.ParseBool(v); err == nil {
			return b, nil
		}
	}
	return false, &valueError{want: "true or false", got: show(raw)}
}

func toString(raw any) (string, error) {
	switch v := reflect.ValueOf(raw); v.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), nil
	case reflect.Float32, reflect.Float64: // exact: JSON's 8000000 is a float, 20.0 is 20
		return strconv.FormatFloat(v.Float(), 'f', -1, 64), nil
	}
	return "", &valueError{want: "a string", got: show(raw)}
}

// flagUsage lists cmd's flags, one per line, from the table.
func flagUsage(cmd command) string {
	var b strings.Builder
	for _, e := range table {
		if e.cmds&cmd == 0 {
			continue
		}
		left := "    "
		if e.short != "" {
			left = "-" + e.short + ", "
		}
		left += "--" + e.name
		if e.arg != "" {
			left += " " + e.arg
		}
		var notes []string
		if e.choices != nil {
			notes = append(notes, strings.Join(e.choices, "|"))
		}
		if d := fmt.Sprint(e.def); d != "" && d != "0" && d != "false" && d != "[]" {
			notes = append(notes, "default "+d)
		}
		help := e.help
		if notes != nil {
			help += " (" + strings.Join(notes, ", ") + ")"
		}
		// Word-wrap the help to the right of the flag column.
		const col, width = 27, 100
		line := fmt.Sprintf("  %-*s", col-3, left)
		for _, word := range strings.Fields(help) {
			if len(line) >= col && len(line)+1+len(word) > width {
				b.WriteString(line + "\n")
				line = strings.Repeat(" ", col-1)
			}
			line += " " + word
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// configOuts reads the config file's "outputs" list: {path, scale | size, per-output keys},
// each value checked as its flag or --out option is.
func configOuts(raw any) ([]outSpec, error) {
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("%s: want a list of {path, scale or size, ...}", outputsKey)
	}
	var outs []outSpec
	for i, item := range list {
		m, err := cast.ToStringMapE(item)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: want a map", outputsKey, i)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := outSpec{opts: map[string]string{}}
		if o.path, err = toString(m["path"]); err != nil || o.path == "" {
			return nil, fmt.Errorf("%s[%d]: no path (want a name)", outputsKey, i)
		}
		if err := checkName(o.path); err != nil {
			return nil, fmt.Errorf("%s[%d] (%q): %v", outputsKey, i, o.path, err)
		}
		for _, k := range keys {
			var v string
			switch v, err = toString(m[k]); {
			case k == "path":
			case k == "scale" || k == "size":
				parse, want := parseScale, "a number"
				if k == "size" {
					parse, want = parseSize, "WxH"
				}
				switch {
				case o.target != (hitsr.Target{}):
					err = errors.New("scale and size conflict (give one)")
				case err != nil:
					err = fmt.Errorf("%s%v", k, &valueError{want: want, got: show(m[k])})
				default:
					o.target, err = parse(v)
				}
			case slices.Contains(perOutputKeys, k):
				err = setOpt(o.opts, k, m[k])
			default:
				err = fmt.Errorf("unknown key %q", k)
			}
			if err != nil {
				return nil, fmt.Errorf("%s[%d] (%s): %v", outputsKey, i, o.path, err)
			}
		}
		if o.target == (hitsr.Target{}) {
			t, err := parseTarget(o.path)
			if err != nil {
				return nil, fmt.Errorf("%s[%d] (%s): %v", outputsKey, i, o.path, err)
			}
			o.path, o.target, o.hls = t.path, t.target, t.hls
		}
		outs = append(outs, o)
	}
	return outs, checkDistinct(outs)
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
