package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/imageio"
)

// outSpec is one --out entry: where, which size, and per-output encoder settings.
type outSpec struct {
	path   string
	target hitsr.Target
	opts   map[string]string // codec, crf, bitrate, preset, pix-fmt, format
	hls    bool              // an HLS ladder in the directory path (hls:DIR)
}

var (
	reSize  = regexp.MustCompile(`^(\d+)x(\d+):(.+)$`)
	reScale = regexp.MustCompile(`^(\d+(?:\.\d+)?):(.+)$`)
	reName  = regexp.MustCompile(`^(\d+(?:\.\d+)?)x`)
	reDims  = regexp.MustCompile(`^(\d+)x(\d+)$`)
)

// perOutputKeys are the settings an output may override ("2x.mkv#codec=libx265:crf=22").
var perOutputKeys = []string{"codec", "crf", "bitrate", "preset", "pix-fmt", "format", vfKey}

// vfKey is the per-output filter chain; its value runs to the end of the --out value (it may
// hold ':' and ','), so it is the last key of the last entry of that value.
const vfKey = "vf"

// parseOuts parses --out values: comma-separated "Nx….ext", "S:name" or "WxH:name", each
// optionally followed by "#key=value:key=value".
func parseOuts(values []string) ([]outSpec, error) {
	var items []string
	for _, v := range values {
		items = append(items, splitOuts(v)...)
	}
	if len(values) == 0 {
		return nil, fmt.Errorf("--out is required (e.g. --out 2x.mp4,4x.mp4)")
	}
	var outs []outSpec
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("--out %q: empty entry", strings.Join(values, ","))
		}
		name, optStr, _ := strings.Cut(item, "#")
		o, err := parseTarget(name)
		if err != nil {
			return nil, fmt.Errorf("--out %q: %v", item, err)
		}
		if o.opts, err = parseOpts(optStr); err != nil {
			return nil, fmt.Errorf("--out %q: %v", item, err)
		}
		outs = append(outs, o)
	}
	return outs, checkDistinct(outs)
}

func parseTarget(item string) (outSpec, error) {
	if err := checkName(item); err != nil {
		return outSpec{}, err
	}
	if dir, ok := strings.CutPrefix(item, hlsPrefix); ok {
		if dir == "" {
			return outSpec{}, fmt.Errorf("no directory after %s", hlsPrefix)
		}
		return outSpec{path: dir, hls: true}, nil
	}
	if m := reSize.FindStringSubmatch(item); m != nil {
		t, err := parseSize(m[1] + "x" + m[2])
		return outSpec{path: m[3], target: t}, err
	}
	if m := reScale.FindStringSubmatch(item); m != nil {
		t, err := parseScale(m[1])
		return outSpec{path: m[2], target: t}, err
	}
	if m := reName.FindStringSubmatch(filepath.Base(item)); m != nil {
		t, err := parseScale(m[1])
		return outSpec{path: item, target: t}, err
	}
	return outSpec{}, fmt.Errorf("no scale (name it like 2x.mp4, or use S:name, WxH:name or hls:DIR)")
}

func parseSize(s string) (hitsr.Target, error) {
	m := reDims.FindStringSubmatch(s)
	if m == nil {
		return hitsr.Target{}, fmt.Errorf("invalid size %q (want WxH)", s)
	}
	w, err1 := strconv.Atoi(m[1])
	h, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil || w <= 0 || h <= 0 || w > imageio.MaxSide || h > imageio.MaxSide {
		return hitsr.Target{}, fmt.Errorf("invalid size %sx%s (1..%d per side)", m[1], m[2], imageio.MaxSide)
	}
	return hitsr.Target{W: w, H: h}, nil
}

func parseScale(s string) (hitsr.Target, error) {
	sc, err := strconv.ParseFloat(s, 64)
	if err != nil || !(sc > 0) || sc > imageio.MaxSide {
		return hitsr.Target{}, fmt.Errorf("invalid scale %s", s)
	}
	return hitsr.Target{Scale: sc}, nil
}

func parseOpts(s string) (map[string]string, error) {
	opts := map[string]string{}
	if s == "" {
		return opts, nil
	}
	for i, kv := range strings.Split(s, ":") {
		k, v, ok := strings.Cut(kv, "=")
		if k == vfKey && ok {
			v = strings.Join(append([]string{v}, strings.Split(s, ":")[i+1:]...), ":")
			if v == "" {
				return nil, fmt.Errorf("bad output option %q (an empty filter chain)", kv)
			}
			return opts, setOpt(opts, k, v)
		}
		if !ok || v == "" || !slices.Contains(perOutputKeys, k) {
			return nil, fmt.Errorf("bad output option %q (want key=value with key one of %s)", kv, strings.Join(perOutputKeys, ", "))
		}
		if err := setOpt(opts, k, v); err != nil {
			return nil, err
		}
	}
	return opts, nil
}

// setOpt sets an output's option k (one of perOutputKeys) to raw, from --out, --ladder or a
// config entry: once per output, and a value of the setting's kind and range.
func setOpt(opts map[string]string, k string, raw any) error {
	if _, dup := opts[k]; dup {
		return fmt.Errorf("%s given twice", k)
	}
	v, err := toString(raw)
	switch {
	case k == "crf":
		var crf int
		if crf, err = toInt(raw, crfMin, crfMax); err == nil {
			v = strconv.Itoa(crf)
		}
	case err == nil && v == "":
		err = &valueError{want: "a value", got: `""`}
	case err == nil && k == "bitrate":
		if _, err = parseBitrate(v); err != nil {
			err = fmt.Errorf(": %v", err)
		}
	}
	if err != nil {
		return fmt.Errorf("%s%v", k, err)
	}
	opts[k] = v
	return nil
}

// checkName refuses an output name holding a control character (a newline, a tab, …).
func checkName(name string) error {
	if i := strings.IndexFunc(name, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return fmt.Errorf("the name holds a control character (%q)", r)
	}
	return nil
}

// splitOuts splits an --out value into entries at commas, except inside an entry's vf chain,
// which runs to the end of the value.
func splitOuts(v string) []string {
	var items []string
	for {
		item, rest, more := strings.Cut(v, ",")
		if _, opts, ok := strings.Cut(item, "#"); ok && (strings.HasPrefix(opts, vfKey+"=") || strings.Contains(opts, ":"+vfKey+"=")) {
			return append(items, v)
		}
		items = append(items, item)
		if !more {
			return items
		}
		v = rest
	}
}

func checkDistinct(outs []outSpec) error {
	seen := map[string]bool{}
	stdout := 0
	for _, o := range outs {
		if o.path == "-" {
			if stdout++; stdout > 1 {
				return fmt.Errorf("--out: only one output can go to stdout")
			}
			continue
		}
		if seen[o.path] {
			return fmt.Errorf("--out: %s listed twice", o.path)
		}
		seen[o.path] = true
	}
	return nil
}

// parseBitrate reads "8M", "800k" or bits per second.
func parseBitrate(s string) (int64, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	num, mult := s, 1.0
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		num, mult = s[:len(s)-1], 1e3
	case "m":
		num, mult = s[:len(s)-1], 1e6
	}
	v, err := strconv.ParseFloat(num, 64)
	bps := v * mult
	if err != nil || !(bps >= 1 && bps <= 1e12) {
		return 0, fmt.Errorf("invalid bitrate %q (1 to 1e12 bits/s, e.g. 8M, 800k)", s)
	}
	return int64(bps), nil
}
