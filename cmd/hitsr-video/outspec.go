package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hitsr/hitsr/hitsr"
	"github.com/hitsr/hitsr/imageio"
)

type outSpec struct {
	path   string
	target hitsr.Target
}

var (
	reSize  = regexp.MustCompile(`^(\d+)x(\d+):(.+)$`)
	reScale = regexp.MustCompile(`^(\d+(?:\.\d+)?):(.+)$`)
	reName  = regexp.MustCompile(`^(\d+(?:\.\d+)?)x`)
)

// parseOuts parses --out: comma-separated "Nx….ext", "S:name" or "WxH:name".
func parseOuts(s string) ([]outSpec, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--out is required (e.g. --out 2x.png,4x.png)")
	}
	var outs []outSpec
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("--out %q: empty entry", s)
		}
		var o outSpec
		if m := reSize.FindStringSubmatch(item); m != nil {
			w, err1 := strconv.Atoi(m[1])
			h, err2 := strconv.Atoi(m[2])
			if err1 != nil || err2 != nil || w <= 0 || h <= 0 || w > imageio.MaxSide || h > imageio.MaxSide {
				return nil, fmt.Errorf("--out %q: invalid size %sx%s (1..%d per side)", item, m[1], m[2], imageio.MaxSide)
			}
			o = outSpec{m[3], hitsr.Target{W: w, H: h}}
		} else if m := reScale.FindStringSubmatch(item); m != nil {
			sc, err := strconv.ParseFloat(m[1], 64)
			if err != nil || !(sc > 0) || sc > imageio.MaxSide {
				return nil, fmt.Errorf("--out %q: invalid scale %s", item, m[1])
			}
			o = outSpec{m[2], hitsr.Target{Scale: sc}}
		} else if m := reName.FindStringSubmatch(filepath.Base(item)); m != nil {
			sc, err := strconv.ParseFloat(m[1], 64)
			if err != nil || !(sc > 0) || sc > imageio.MaxSide {
				return nil, fmt.Errorf("--out %q: invalid scale %s", item, m[1])
			}
			o = outSpec{item, hitsr.Target{Scale: sc}}
		} else {
			return nil, fmt.Errorf("--out %q: no scale (name it like 2x.png, or use S:name or WxH:name)", item)
		}
		if imageio.Format(o.path) == "" {
			return nil, fmt.Errorf("--out %q: unknown format (use .png, .jpg or .jpeg)", item)
		}
		if seen[o.path] {
			return nil, fmt.Errorf("--out: %s listed twice", o.path)
		}
		seen[o.path] = true
		outs = append(outs, o)
	}
	return outs, nil
}
