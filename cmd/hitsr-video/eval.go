package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/hitsr/hitsr/imageio"
	"github.com/hitsr/hitsr/metrics"
	"github.com/hitsr/hitsr/pipeline"
	"github.com/hitsr/hitsr/resample"
)

var methods = []string{"hitsr", "bicubic", "lanczos3"}

type score struct {
	image  string
	scale  int
	method string
	psnr   float64
	ssim   float64
	detail float64 // DetailY(output) / DetailY(HR)
}

// modcrop crops the RGB planes of img to multiples of s.
func modcrop(img *imageio.Image, s int) *imageio.Image {
	w, h := img.W-img.W%s, img.H-img.H%s
	out := imageio.New(w, h, 3)
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			copy(out.Pix[(c*h+y)*w:][:w], img.Pix[(c*img.H+y)*img.W:][:w])
		}
	}
	return out
}

func runEval(s *settings, pos []string, stdout, stderr io.Writer, log *zap.Logger) error {
	c, scalesFlag, csvPath, chartPath := s.common, &s.scales, &s.csv, &s.chart
	if len(pos) != 1 {
		return fail(exitUsage, "eval wants one directory (got %d)", len(pos))
	}
	var scales []int
	for _, s := range strings.Split(*scalesFlag, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || (v != 2 && v != 4) {
			return fail(exitUsage, "--scales %q: each scale must be 2 or 4", *scalesFlag)
		}
		if slices.Contains(scales, v) {
			return fail(exitUsage, "--scales %q: %d given twice", *scalesFlag, v)
		}
		scales = append(scales, v)
	}
	for _, p := range []string{*csvPath, *chartPath} {
		if p != "" && filepath.Ext(p) == "" {
			return fail(exitUsage, "%s: missing extension", p)
		}
	}
	if *chartPath != "" && imageio.Format(*chartPath) != "png" {
		return fail(exitUsage, "--chart %s: must be a .png", *chartPath)
	}
	var files []string
	ents, err := os.ReadDir(pos[0])
	if err != nil {
		return fail(exitInput, "%v", err)
	}
	for _, e := range ents {
		if !e.IsDir() && imageio.Format(e.Name()) != "" {
			files = append(files, filepath.Join(pos[0], e.Name()))
		}
	}
	for _, f := range files { // a FIFO or device named like an image would block or never end
		if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
			return fail(exitInput, "%s: not a regular file", f)
		}
	}
	slices.Sort(files)
	if len(files) == 0 {
		return fail(exitInput, "%s: no PNG/JPEG images", pos[0])
	}
	var outNames []string // --csv and --chart, where asked for
	for _, p := range []string{*csvPath, *chartPath} {
		if p != "" {
			outNames = append(outNames, p)
		}
	}
	outs, err := planEvalOutputs(files, outNames, s.overwrite)
	if err != nil {
		return err
	}
	if err := checkStdout(stdout, files...); err != nil { // the table
		return err
	}
	defer discardOnSignal(log, outs)()
	for _, f := range outs {
		defer f.Discard() // unless committed
	}
	for _, f := range files { // every size against every scale, from the headers, before any work
		if err := checkImageHeader(f, func(w, h int) error {
			for _, s := range scales {
				if w < 2*s || h < 2*s {
					return fail(exitInput, "%s: too small for ×%d", f, s)
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	m, notice, err := c.load()
	if err != nil {
		return err
	}
	defer m.Close()
	if notice != "" {
		fmt.Fprintln(stderr, "hitsr-video:", notice)
	}
	// One image at a time, decoded once for every scale: memory does not grow with the folder.
	// Rows stay grouped by scale, as the table and the CSV list them.
	type total struct {
		dt         time.Duration
		mpx, flops float64
	}
	totals, byScale := make([]total, len(scales)), make([][]score, len(scales))
	for _, f := range files {
		img, err := readImage(f, func(int, int) error { return nil })
		if err != nil {
			return err
		}
		for k, s := range scales {
			hr := modcrop(img, s)
			lr := &imageio.Image{W: hr.W / s, H: hr.H / s, C: 3, Pix: metrics.Degrade(hr.Pix, hr.H, hr.W, s)}
			t0, flops0 := time.Now(), m.Flops()
			srs, err := m.UpscaleImages([]*imageio.Image{lr}, s)
			if err != nil {
				return fail(exitFailure, "%s ×%d: %v", f, s, err)
			}
			totals[k].dt += time.Since(t0)
			totals[k].flops += m.Flops() - flops0
			totals[k].mpx += float64(hr.W*hr.H) / 1e6
			outs := map[string][]float32{
				"hitsr":    srs[0][0].Pix,
				"bicubic":  metrics.Bicubic(lr.Pix, lr.H, lr.W, hr.H, hr.W),
				"lanczos3": resample.Resize(lr.Pix, 3, lr.H, lr.W, hr.H, hr.W, resample.Lanczos3),
			}
			hrDetail := metrics.DetailY(hr.Pix, hr.H, hr.W, s)
			for _, meth := range methods {
				o := outs[meth]
				byScale[k] = append(byScale[k], score{filepath.Base(f), s, meth, metrics.PSNRY(o, hr.Pix, hr.H, hr.W, s),
					metrics.SSIMY(o, hr.Pix, hr.H, hr.W, s), metrics.DetailY(o, hr.H, hr.W, s) / hrDetail})
			}
		}
	}
	var scores []score
	for k, s := range scales {
		t := totals[k]
		fmt.Fprintf(stderr, "×%d: hitsr (%s mode) on %d images in %.1f s (%.3f output Mpx/s, %.1f kFLOP per output px, %s backend)\n",
			s, m.Mode, len(files), t.dt.Seconds(), t.mpx/t.dt.Seconds(), t.flops/t.mpx/1e9, m.Backend().Name())
		scores = append(scores, byScale[k]...)
	}
	printTable(stdout, scores, scales)
	write := map[string]func(io.Writer) error{
		*csvPath:   func(w io.Writer) error { return writeCSV(w, scores) },
		*chartPath: func(w io.Writer) error { return writeChart(w, meanScores(scores, scales)) },
	}
	for _, f := range outs {
		if err := writeOutput(f, write[f.Name]); err != nil {
			return err
		}
	}
	return nil
}

// planEvalOutputs plans eval's output files as every output is planned (pipeline.PlanFiles),
// before any work: each checked against the others and against every image evaluated.
func planEvalOutputs(images, names []string, overwrite bool) ([]*pipeline.File, error) {
	var files []*pipeline.File
	for _, img := range images { // PlanFiles compares the outputs with one input: each image in turn
		var err error
		if files, err = pipeline.PlanFiles(img, names, overwrite); err != nil {
			return nil, pipelineError(err)
		}
	}
	for i, f := range files {
		if f == nil {
			return nil, fail(exitUsage, "%s: eval writes local files, not URLs or pipes", names[i])
		}
	}
	return files, nil
}

// meanScores are the per-scale means, one score per (scale, method), image "mean".
func meanScores(scores []score, scales []int) []score {
	var out []score
	for _, s := range scales {
		for _, meth := range methods {
			var p, q, d float64
			n := 0
			for _, sc := range scores {
				if sc.scale == s && sc.method == meth {
					p, q, d, n = p+sc.psnr, q+sc.ssim, d+sc.detail, n+1
				}
			}
			out = append(out, score{"mean", s, meth, p / float64(n), q / float64(n), d / float64(n)})
		}
	}
	return out
}

func printTable(w io.Writer, scores []score, scales []int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "image\tscale\thitsr PSNR/SSIM/detail\tbicubic PSNR/SSIM/detail\tlanczos3 PSNR/SSIM/detail\t")
	row := func(img string, s int, get func(meth string) score) {
		fmt.Fprintf(tw, "%s\t×%d", img, s)
		for _, meth := range methods {
			sc := get(meth)
			fmt.Fprintf(tw, "\t%.2f / %.4f / %.3f", sc.psnr, sc.ssim, sc.detail)
		}
		fmt.Fprintln(tw, "\t")
	}
	means := meanScores(scores, scales)
	for _, s := range scales {
		var names []string
		for _, sc := range scores {
			if sc.scale == s && !slices.Contains(names, sc.image) {
				names = append(names, sc.image)
			}
		}
		for _, n := range names {
			row(n, s, func(meth string) score {
				i := slices.IndexFunc(scores, func(x score) bool { return x.image == n && x.scale == s && x.method == meth })
				return scores[i]
			})
		}
		row("MEAN", s, func(meth string) score {
			i := slices.IndexFunc(means, func(x score) bool { return x.scale == s && x.method == meth })
			return means[i]
		})
	}
	tw.Flush()
}

func writeCSV(w io.Writer, scores []score) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"image", "scale", "method", "psnr_y", "ssim_y", "detail_ratio"})
	for _, sc := range scores {
		cw.Write([]string{sc.image, strconv.Itoa(sc.scale), sc.method,
			strconv.FormatFloat(sc.psnr, 'f', 4, 64), strconv.FormatFloat(sc.ssim, 'f', 5, 64),
			strconv.FormatFloat(sc.detail, 'f', 4, 64)})
	}
	cw.Flush()
	return cw.Error()
}
