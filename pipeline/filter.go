package pipeline

// Filter chains in FFmpeg's syntax (--vf, an output's #vf): every filter but hitsr runs in a
// libavfilter graph; hitsr names where the run's one model pass sits.

/*
#cgo pkg-config: libavfilter libavutil
#include <stdlib.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>

// hs_graph_check parses desc alone into a throwaway graph: each filter is created and
// initialised with its options, nothing is linked or configured.
static int hs_graph_check(const char *desc) {
	AVFilterGraph *g = avfilter_graph_alloc();
	AVFilterInOut *in = NULL, *out = NULL;
	int r = g ? avfilter_graph_parse2(g, desc, &in, &out) : AVERROR(ENOMEM);
	avfilter_inout_free(&in);
	avfilter_inout_free(&out);
	avfilter_graph_free(&g);
	return r;
}
// Not pushed: the sink pulls what the end releases a frame at a time (pushing would run a
// chain that generates frames, fps=1e9, to its end in one call).
static int hs_src_close(AVFilterContext *s, int64_t pts) {
	return av_buffersrc_close(s, pts, 0);
}
static void hs_sink_props(AVFilterContext *s, int *w, int *h, int *pf, AVRational *tb, AVRational *fr, AVRational *sar) {
	*w = av_buffersink_get_w(s);
	*h = av_buffersink_get_h(s);
	*pf = av_buffersink_get_format(s);
	*tb = av_buffersink_get_time_base(s);
	*fr = av_buffersink_get_frame_rate(s);
	*sar = av_buffersink_get_sample_aspect_ratio(s);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/asticode/go-astiav"

	"github.com/hitsr/hitsr/imageio"
)

// HitsrFilter is the name of the model's filter in a chain.
const HitsrFilter = "hitsr"

// Chain is a parsed filter chain (FFmpeg syntax: filters separated by commas, "\" and '…'
// quoting) that names hitsr at most once.
type Chain struct {
	Text   string     // as given
	Before string     // the filters ahead of hitsr (all of them when it is not named), FFmpeg text
	After  string     // the filters after hitsr, FFmpeg text
	Hitsr  *HitsrOpts // nil: the chain does not name hitsr
}

// HitsrOpts are hitsr's options in a chain: hitsr=2, hitsr=scales=2|4:mode=fidelity.
type HitsrOpts struct {
	Scales []int  // the scales it produces (empty: those the outputs ask for)
	Mode   string // fidelity, full or "" (the run's --mode)
}

// hitsrKeys are hitsr's options in positional order.
var hitsrKeys = []string{"scales", "mode"}

// chainFilter is one filter of a chain: its name, its options (FFmpeg's first level of
// quoting removed) and its text as written.
type chainFilter struct {
	name, args string
	raw        string
}

const whitespace = " \n\t\r"

// getToken reads one token of s as FFmpeg's av_get_token does: leading whitespace skipped,
// "\" escapes the next character, '…' quotes, unquoted trailing whitespace dropped; it stops
// before the first unquoted character of term. It returns the token and the rest of s.
func getToken(s, term string) (tok, rest string) {
	s = strings.TrimLeft(s, whitespace)
	var b strings.Builder
	keep := 0 // b's length up to the last escaped or quoted character
	i := 0
	for i < len(s) && !strings.ContainsRune(term, rune(s[i])) {
		c := s[i]
		i++
		switch {
		case c == '\\' && i < len(s):
			b.WriteByte(s[i])
			i++
			keep = b.Len()
		case c == '\'':
			for i < len(s) && s[i] != '\'' {
				b.WriteByte(s[i])
				i++
			}
			if i < len(s) {
				i++
			}
			keep = b.Len()
		default:
			b.WriteByte(c)
		}
	}
	t := b.String()
	return t[:keep] + strings.TrimRight(t[keep:], whitespace), s[i:]
}

// splitChain splits a chain into its filters as FFmpeg's graph parser reads them.
func splitChain(text string) ([]chainFilter, error) {
	var fs []chainFilter
	rest := text
	for {
		start := len(text) - len(strings.TrimLeft(rest, whitespace))
		if strings.TrimLeft(rest, whitespace) == "" {
			return nil, errors.New("empty filter (a chain is filters separated by commas)")
		}
		if strings.HasPrefix(strings.TrimLeft(rest, whitespace), "[") {
			return nil, errors.New("pad labels ([…]) are not taken (one chain only: filters separated by commas)")
		}
		var f chainFilter
		f.name, rest = getToken(rest, "=,;[]")
		if strings.HasPrefix(rest, "=") {
			f.args, rest = getToken(rest[1:], "[],;")
		}
		if f.name == "" {
			return nil, errors.New("empty filter name (a chain is filters separated by commas)")
		}
		rest = strings.TrimLeft(rest, whitespace)
		f.raw = strings.TrimSpace(text[start : len(text)-len(rest)])
		fs = append(fs, f)
		switch {
		case rest == "":
			return fs, nil
		case rest[0] == ',':
			rest = rest[1:]
		case rest[0] == ';':
			return nil, fmt.Errorf("after %s: ';' starts another chain (one chain only: filters separated by commas)", f.name)
		default:
			return nil, fmt.Errorf("after %s: pad labels ([…]) are not taken (one chain only: filters separated by commas)", f.name)
		}
	}
}

// filterName is a filter's name without its instance label (unsharp@a → unsharp).
func filterName(n string) string { name, _, _ := strings.Cut(n, "@"); return name }

// ParseChain parses a chain and checks every filter's name and options (libavfilter creates
// each filter once, alone): a bad chain fails here with one line naming the filter.
func ParseChain(text string) (*Chain, error) {
	fs, err := splitChain(text)
	if err != nil {
		return nil, fmt.Errorf("filter chain %q: %v", text, err)
	}
	c := &Chain{Text: text}
	var before, after []string
	for _, f := range fs {
		if filterName(f.name) == HitsrFilter {
			if c.Hitsr != nil {
				return nil, fmt.Errorf("filter chain %q: hitsr is named twice (the model runs once per frame)", text)
			}
			if c.Hitsr, err = parseHitsrOpts(f.args); err != nil {
				return nil, fmt.Errorf("filter chain %q: %s: %v", text, f.raw, err)
			}
			continue
		}
		if astiav.FindFilterByName(filterName(f.name)) == nil {
			return nil, fmt.Errorf("filter chain %q: no such filter %q", text, filterName(f.name))
		}
		if err := checkFilter(f.raw); err != nil {
			return nil, fmt.Errorf("filter chain %q: %s: %v", text, f.raw, err)
		}
		if c.Hitsr == nil {
			before = append(before, f.raw)
		} else {
			after = append(after, f.raw)
		}
	}
	c.Before, c.After = strings.Join(before, ","), strings.Join(after, ",")
	return c, nil
}

// avContext strips FFmpeg's "[Parsed_unsharp_0 @ 0x…] " prefix from a log line.
var avContext = regexp.MustCompile(`^\[[^]]*@ 0x[0-9a-f]+\] *`)

// checkFilter creates one filter from its text with its options.
func checkFilter(raw string) error {
	cs := C.CString(raw)
	defer C.free(unsafe.Pointer(cs))
	mark := avMark()
	if r := C.hs_graph_check(cs); r < 0 {
		return errors.New(avContext.ReplaceAllString(explain(astiavErr(int(r)), mark), ""))
	}
	return nil
}

// parseHitsrOpts reads hitsr's options with FFmpeg's option syntax: key=value pairs separated
// by ':' (or values alone, in the order scales, mode), '|' between the scales.
func parseHitsrOpts(args string) (*HitsrOpts, error) {
	o := &HitsrOpts{}
	pos := 0
	seen := map[string]bool{}
	for rest := args; rest != ""; {
		var key, val string
		key, rest = getToken(rest, "=:")
		if strings.HasPrefix(rest, "=") {
			val, rest = getToken(rest[1:], ":")
		} else {
			if pos >= len(hitsrKeys) {
				return nil, fmt.Errorf("too many options (it takes %s)", strings.Join(hitsrKeys, ", "))
			}
			key, val = hitsrKeys[pos], key
			pos++
		}
		rest = strings.TrimPrefix(rest, ":")
		if seen[key] {
			return nil, fmt.Errorf("option %s given twice", key)
		}
		seen[key] = true
		switch key {
		case "scales", "scale":
			for _, s := range strings.Split(val, "|") {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n < 1 || n > 16 {
					return nil, fmt.Errorf("bad scale %q (want integers such as 2|4)", s)
				}
				if !slices.Contains(o.Scales, n) {
					o.Scales = append(o.Scales, n)
				}
			}
		case "mode":
			if val != "fidelity" && val != "full" {
				return nil, fmt.Errorf("mode %q: want fidelity or full", val)
			}
			o.Mode = val
		default:
			return nil, fmt.Errorf("no option %q (it takes %s)", key, strings.Join(hitsrKeys, ", "))
		}
	}
	return o, nil
}

// frameSpec describes the frames entering or leaving a graph.
type frameSpec struct {
	w, h         int
	pf           astiav.PixelFormat
	tb, fps, sar astiav.Rational
}

// graph is one libavfilter chain between a buffer source and a buffer sink.
type graph struct {
	desc      string
	g         *astiav.FilterGraph
	src, sink *astiav.FilterContext
	frame     *astiav.Frame // the frame the sink fills
	in, out   frameSpec
	end       int64 // where the last frame pushed ends (its pts + duration): the stream's end
}

// newGraph configures desc ("" runs nothing but format) for frames of in; with outPF set the
// sink gives that pixel format. Errors are usage errors naming the chain.
func newGraph(desc string, in frameSpec, outPF astiav.PixelFormat) (_ *graph, err error) {
	full := desc
	if outPF != astiav.PixelFormatNone {
		full = strings.Trim(desc+",format=pix_fmts="+outPF.Name(), ",")
	}
	if full == "" {
		full = "null"
	}
	g := &graph{desc: desc, g: astiav.AllocFilterGraph(), frame: astiav.AllocFrame(), in: in, end: astiav.NoPtsValue}
	defer func() {
		if err != nil {
			g.free()
		}
	}()
	g.g.SetThreadCount(1)
	sar := in.sar
	if sar.Num() <= 0 || sar.Den() <= 0 {
		sar = astiav.NewRational(1, 1)
	}
	args := astiav.FilterArgs{
		"video_size":   fmt.Sprintf("%dx%d", in.w, in.h),
		"pix_fmt":      strconv.Itoa(int(in.pf)),
		"time_base":    fmt.Sprintf("%d/%d", in.tb.Num(), in.tb.Den()),
		"pixel_aspect": fmt.Sprintf("%d/%d", sar.Num(), sar.Den()),
	}
	if in.fps.Num() > 0 && in.fps.Den() > 0 {
		args["frame_rate"] = fmt.Sprintf("%d/%d", in.fps.Num(), in.fps.Den())
	}
	mark := avMark()
	fail := func(what string, e error) error {
		return errf(KindUsage, "filter chain %q: %s %dx%d %s frames: %s", desc, what, in.w, in.h, in.pf.Name(),
			avContext.ReplaceAllString(explain(e, mark), ""))
	}
	if g.src, err = g.g.NewFilterContext(astiav.FindFilterByName("buffer"), "in", args); err != nil {
		return nil, fail("no buffer source for", err)
	}
	if g.sink, err = g.g.NewFilterContext(astiav.FindFilterByName("buffersink"), "out", nil); err != nil {
		return nil, fail("no buffer sink for", err)
	}
	outputs, inputs := astiav.AllocFilterInOut(), astiav.AllocFilterInOut()
	defer outputs.Free()
	defer inputs.Free()
	outputs.SetName("in")
	outputs.SetFilterContext(g.src)
	inputs.SetName("out")
	inputs.SetFilterContext(g.sink)
	if err := g.g.Parse(full, inputs, outputs); err != nil {
		return nil, fail("cannot build it for", err)
	}
	if err := g.g.Configure(); err != nil {
		return nil, fail("cannot run it on", err)
	}
	var w, h, pf C.int
	var tb, fr, sr C.AVRational
	C.hs_sink_props((*C.AVFilterContext)(cptr(g.sink)), &w, &h, &pf, &tb, &fr, &sr)
	g.out = frameSpec{w: int(w), h: int(h), pf: astiav.PixelFormat(pf),
		tb: astiav.NewRational(int(tb.num), int(tb.den)), fps: astiav.NewRational(int(fr.num), int(fr.den)),
		sar: astiav.NewRational(int(sr.num), int(sr.den))}
	if err := imageio.CheckSize(g.out.w, g.out.h); err != nil {
		return nil, errf(KindUsage, "filter chain %q: output: %v", desc, err)
	}
	return g, nil
}

// push sends a frame lasting dur into the graph (nil: the end of the stream, at the end of the
// last frame, as ffmpeg closes its inputs) and hands every frame the graph has ready to emit;
// emit owns the frame only during the call.
func (g *graph) push(f *astiav.Frame, dur int64, emit func(*astiav.Frame) error) error {
	var err error
	if f != nil {
		g.end = f.Pts() + dur
		err = g.src.BuffersrcAddFrame(f, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef))
	} else if r := C.hs_src_close((*C.AVFilterContext)(cptr(g.src)), C.int64_t(g.end)); r < 0 {
		err = astiavErr(int(r))
	}
	if err != nil {
		return fmt.Errorf("filter chain %q: %w", g.desc, err)
	}
	for {
		err := g.sink.BuffersinkGetFrame(g.frame, astiav.NewBuffersinkFlags())
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("filter chain %q: %w", g.desc, err)
		}
		err = emit(g.frame)
		g.frame.Unref()
		if err != nil {
			return err
		}
	}
}

func (g *graph) free() {
	if g == nil {
		return
	}
	if g.frame != nil {
		g.frame.Free()
	}
	if g.g != nil {
		g.g.Free() // frees its filter contexts
	}
}

// parseChains parses the run's chain and each output's before anything is opened, and returns
// each output's filters after the model (the run chain's filters after hitsr, then its own).
func (p *Pipeline) parseChains() ([]string, error) {
	o := p.o
	if o.VF != "" {
		c, err := ParseChain(o.VF)
		if err != nil {
			return nil, errf(KindUsage, "--vf: %v", err)
		}
		p.chain = c
	}
	posts := make([]string, len(o.Outputs))
	for i, out := range o.Outputs {
		var parts []string
		if p.chain != nil && p.chain.After != "" {
			parts = append(parts, p.chain.After)
		}
		if out.VF != "" {
			c, err := ParseChain(out.VF)
			if err != nil {
				return nil, errf(KindUsage, "%s: vf: %v", out.URL, err)
			}
			if c.Hitsr != nil {
				return nil, errf(KindUsage, "%s: vf: %q names hitsr: the model runs once per frame for every output; name it in --vf", out.URL, out.VF)
			}
			parts = append(parts, c.Before)
		}
		posts[i] = strings.Join(parts, ",")
		if (o.VF != "" || out.VF != "") && o.Segment != nil {
			return nil, errf(KindUsage, "filter chains are not taken by a scale-out segment run (a timing filter would cut across segments)")
		}
		if p.chain != nil && p.chain.Hitsr != nil && len(p.chain.Hitsr.Scales) > 0 {
			if t := out.Target; t.W > 0 || !slices.Contains(p.chain.Hitsr.Scales, int(t.Scale)) || t.Scale != float64(int(t.Scale)) {
				return nil, errf(KindUsage, "%s: output %s is not one of the scales of --vf's hitsr (%v)", out.URL, t, p.chain.Hitsr.Scales)
			}
		}
	}
	return posts, nil
}

// setChain runs desc on the decoded frames: the frames the model sees are its output (size,
// time base and frame rate).
func (in *input) setChain(desc string) error {
	cp := in.vst.CodecParameters()
	pf := in.dec.PixelFormat()
	if pf == astiav.PixelFormatNone {
		pf = cp.PixelFormat()
	}
	g, err := newGraph(desc, frameSpec{w: in.w, h: in.h, pf: pf, tb: in.vst.TimeBase(), fps: in.fps(),
		sar: cp.SampleAspectRatio()}, astiav.PixelFormatNone)
	if err != nil {
		return errf(KindUsage, "--vf: %v", err)
	}
	in.chain = g
	in.streamDur = in.frameDur
	in.w, in.h = g.out.w, g.out.h
	fps := in.fps()
	in.frameDur = max(astiav.RescaleQ(1, astiav.NewRational(fps.Den(), fps.Num()), in.timeBase()), 1)
	return nil
}

// filter hands a decoded frame to deliver, through the --vf chain when there is one (f nil:
// the end of the stream flushes the chain). deliver returns false to stop.
func (in *input) filter(f *astiav.Frame, deliver func(*astiav.Frame) (bool, error)) (bool, error) {
	if in.chain == nil {
		if f == nil {
			return true, nil
		}
		return deliver(f)
	}
	dur := in.streamDur
	if f != nil {
		f.SetPts(bestEffortPts(f))
		if d := frameDuration(f); d > 0 {
			dur = d
		}
	}
	more := true
	err := in.chain.push(f, dur, func(out *astiav.Frame) error {
		var err error
		if more, err = deliver(out); err == nil && !more {
			return errChainStopped // no more frames wanted: the chain may have endless ones (fps=1e9)
		}
		return err
	})
	if errors.Is(err, errChainStopped) {
		err = nil
	}
	return more, err
}

var errChainStopped = errors.New("filter chain: stopped")

// frameTimes are a frame's timestamp and duration in timeBase(): the decoder's best effort,
// or the chain's pts and one frame at its rate.
func (in *input) frameTimes(f *astiav.Frame) (pts, dur int64) {
	if in.chain != nil {
		return f.Pts(), in.frameDur
	}
	return bestEffortPts(f), frameDuration(f)
}

// setPost runs desc on this output's frames after the model: model results (ow×oh) enter as
// RGB, the encoder takes the chain's output size, time base and frame rate.
func (w *output) setPost(in *input, desc string, ow, oh int) (int, int, error) {
	g, err := newGraph(desc, frameSpec{w: ow, h: oh, pf: astiav.PixelFormatGbrpf32Le, tb: in.timeBase(), fps: in.fps(),
		sar: outputSAR(in, ow, oh)}, astiav.PixelFormatGbrpf32Le)
	if err != nil {
		return 0, 0, errf(KindUsage, "%s: vf: %v", w.spec.URL, err)
	}
	w.post = g
	w.inputEnd = in.endTime
	fps := w.srcFPS(in)
	w.postDur = max(astiav.RescaleQ(1, astiav.NewRational(fps.Den(), fps.Num()), g.out.tb), 1)
	if w.postIn, err = allocVideoFrame(ow, oh, astiav.PixelFormatGbrpf32Le); err != nil {
		return 0, 0, errf(KindFailure, "%v", err)
	}
	return g.out.w, g.out.h, nil
}

// srcTB, srcFPS and srcSAR describe the frames the encoder gets: the model's, or the output
// chain's.
func (w *output) srcTB(in *input) astiav.Rational {
	if w.post != nil {
		return w.post.out.tb
	}
	return in.timeBase()
}

func (w *output) srcFPS(in *input) astiav.Rational {
	if w.post != nil && w.post.out.fps.Num() > 0 && w.post.out.fps.Den() > 0 {
		return w.post.out.fps
	}
	return in.fps()
}

func (w *output) srcSAR(in *input, ow, oh int) astiav.Rational {
	if w.post != nil && w.post.out.sar.Num() > 0 && w.post.out.sar.Den() > 0 {
		return w.post.out.sar
	}
	return outputSAR(in, ow, oh)
}

// filterEncode runs a model result through the output's chain and encodes what comes out
// (j nil: the end of the stream).
func (w *output) filterEncode(j *frameJob) error {
	var f *astiav.Frame
	var dur int64
	if j == nil { // the chain ends where the input does (ffmpeg's one graph sees that end)
		w.post.end = max(w.post.end, w.inputEnd())
	} else {
		dur = j.dur
		if err := makeWritable(w.postIn); err != nil {
			return err
		}
		writeRGB(w.postIn, j.img.Pix)
		w.postIn.SetPts(j.pts)
		f = w.postIn
	}
	// Once stop is requested a push gets at most one frame out: a chain that generates frames
	// (fps=1e9) would not end otherwise.
	n := 0
	err := w.post.push(f, dur, func(out *astiav.Frame) error {
		if n++; n > 1 && w.stop.Err() != nil {
			return errChainStopped
		}
		return w.encodeRGB(out, out.Pts(), w.postDur)
	})
	if errors.Is(err, errChainStopped) {
		err = nil
	}
	return err
}

// endTime is where the input's last frame ends, in timeBase().
func (in *input) endTime() int64 {
	if in.chain != nil {
		return astiav.RescaleQ(in.chain.end, in.vst.TimeBase(), in.chain.out.tb)
	}
	return in.lastPts + in.lastDur
}

// sampleAspect is the sample aspect ratio of the frames the model sees.
func (in *input) sampleAspect() astiav.Rational {
	if in.chain != nil {
		return in.chain.out.sar
	}
	return in.vst.CodecParameters().SampleAspectRatio()
}
