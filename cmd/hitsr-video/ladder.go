package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/hitsr/hitsr/pipeline"
)

// hlsPrefix marks an --out entry that is an HLS ladder: "hls:DIR" (DIR/master.m3u8).
const hlsPrefix = "hls:"

// ladderOf is the HLS ladder of an "hls:DIR" output: its renditions from --ladder, each with
// its own options over the entry's, over the globals.
func ladderOf(o outSpec, s *settings) (pipeline.Ladder, error) {
	l := pipeline.Ladder{Dir: o.path, SegmentTime: time.Duration(s.hlsTime) * time.Second, ListSize: s.hlsListSize}
	if _, ok := o.opts[vfKey]; ok {
		return l, fail(exitUsage, "%s%s: a ladder takes no %s (use --vf)", hlsPrefix, o.path, vfKey)
	}
	rends, err := parseLadder(s.ladder)
	if err != nil {
		return l, fail(exitUsage, "--ladder %q: %v", s.ladder, err)
	}
	for _, r := range rends {
		opts := map[string]string{}
		for _, src := range []map[string]string{o.opts, r.opts} {
			for k, v := range src {
				opts[k] = v
			}
		}
		l.Renditions = append(l.Renditions, outputOf(outSpec{path: hlsPrefix + o.path, target: r.target, opts: opts}, s))
	}
	return l, nil
}

// parseLadder reads --ladder: comma-separated renditions, each a scale ("2" or "2x") or a size
// ("1280x720"), optionally followed by its own settings ("#bitrate=2M:preset=fast").
func parseLadder(v string) ([]outSpec, error) {
	var rends []outSpec
	for _, item := range strings.Split(v, ",") {
		target, optStr, _ := strings.Cut(strings.TrimSpace(item), "#")
		var r outSpec
		var err error
		if reDims.MatchString(target) {
			r.target, err = parseSize(target)
		} else {
			r.target, err = parseScale(strings.TrimSuffix(target, "x"))
		}
		if err == nil {
			r.opts, err = parseOpts(optStr)
		}
		for _, k := range []string{"format", vfKey} {
			if _, ok := r.opts[k]; ok && err == nil {
				err = fmt.Errorf("%s is not a rendition setting", k)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%q: %v", item, err)
		}
		rends = append(rends, r)
	}
	return rends, nil
}
