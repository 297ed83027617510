// Command hitsr-bench measures the compute core on every backend in one run: GEMM and conv2d
// throughput next to a same-run OpenBLAS baseline, and the cost of batching dispatches.
package main

import (
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/hitsr/hitsr/internal/benchutil"
	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/ml/cpu"
	"github.com/hitsr/hitsr/ml/device"
)

func main() {
	quick := flag.Bool("quick", false, "fewer repetitions and smaller problems (a smoke run)")
	flag.Parse()
	if err := run(*quick); err != nil {
		fmt.Fprintln(os.Stderr, "hitsr-bench:", err)
		os.Exit(1)
	}
}

// median times fn (after one warm-up call) over at least reps runs or minDur.
func median(reps int, minDur time.Duration, fn func() error) (time.Duration, error) {
	return benchutil.Median(reps, minDur, 200, fn)
}

// timeOp times Compute of a graph built by build on fresh contexts.
func timeOp(b ml.Backend, reps int, build func(*ml.Context)) (time.Duration, error) {
	return median(reps, time.Second, func() error {
		ctx := ml.NewContext(b)
		defer ctx.Close()
		build(ctx)
		return ctx.Compute()
	})
}

func gflops(flop float64, d time.Duration) float64 { return flop / d.Seconds() / 1e9 }

func run(quick bool) error {
	reps := 5
	if quick {
		reps = 2
	}
	backends, skipped := device.All()
	for _, s := range skipped {
		fmt.Println("skipped:", s)
	}
	defer func() {
		for _, b := range backends {
			b.Close()
		}
	}()
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	defer w.Flush()

	sizes := [][3]int{{1024, 1024, 1024}, {256, 1024, 1024}}
	if quick {
		sizes = [][3]int{{256, 256, 256}}
	}
	fmt.Fprintln(w, "GEMM M×K×N\tbackend\tms\tGFLOP/s\t× OpenBLAS\t")
	for _, s := range sizes {
		m, k, n := s[0], s[1], s[2]
		a, bm, c := benchutil.RandFloats(m*k), benchutil.RandFloats(k*n), make([]float32, m*n)
		flop := 2 * float64(m*k*n)
		base, _ := median(reps, time.Second, func() error {
			cpu.Sgemm(false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
			return nil
		})
		label := fmt.Sprintf("%d×%d×%d", m, k, n)
		fmt.Fprintf(w, "%s\tOpenBLAS sgemm\t%.2f\t%.1f\t1.00\t\n", label, ms(base), gflops(flop, base))
		for _, b := range backends {
			ta, err1 := ml.NewTensor(b, ml.F32, []int{m, k}, a)
			tb, err2 := ml.NewTensor(b, ml.F32, []int{k, n}, bm)
			if err := firstErr(err1, err2); err != nil {
				return err
			}
			d, err := timeOp(b, reps, func(ctx *ml.Context) { ctx.MatMul(ta, tb, false, false) })
			ml.Free(b, ta)
			ml.Free(b, tb)
			if err != nil {
				return fmt.Errorf("%s: %w", b.Name(), err)
			}
			fmt.Fprintf(w, "%s\t%s\t%.2f\t%.1f\t%.2f\t\n", label, b.Name(), ms(d), gflops(flop, d), base.Seconds()/d.Seconds())
		}
	}
	w.Flush()

	hw := 256
	if quick {
		hw = 64
	}
	fmt.Fprintln(w, "\nconv2d 3×3 64→64\tbackend\tms\tGFLOP/s\t\t")
	flop := 2 * float64(64*64*9*hw*hw)
	x, wt, bias := benchutil.RandFloats(64*hw*hw), benchutil.RandFloats(64*64*9), benchutil.RandFloats(64)
	for _, b := range backends {
		tx, e1 := ml.NewTensor(b, ml.F32, []int{1, 64, hw, hw}, x)
		tw, e2 := ml.NewTensor(b, ml.F32, []int{64, 64, 3, 3}, wt)
		tbias, e3 := ml.NewTensor(b, ml.F32, []int{64}, bias)
		if err := firstErr(e1, e2, e3); err != nil {
			return err
		}
		d, err := timeOp(b, reps, func(ctx *ml.Context) { ctx.Conv2D(tx, tw, tbias, 1, 1) })
		for _, t := range []*ml.Tensor{tx, tw, tbias} {
			ml.Free(b, t)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", b.Name(), err)
		}
		fmt.Fprintf(w, "%d×%d\t%s\t%.2f\t%.1f\t\t\n", hw, hw, b.Name(), ms(d), gflops(flop, d))
	}
	w.Flush()

	fmt.Fprintln(w, "\ndispatch batching (1024 elems)\tbackend\t1 op ms\t100 ops, 1 Compute ms\t100 ops, 100 Computes ms\t1 Compute / 1 op\t")
	small := benchutil.RandFloats(1024)
	for _, b := range backends {
		t, err := ml.NewTensor(b, ml.F32, []int{1024}, small)
		if err != nil {
			return err
		}
		chain := func(n int) func(*ml.Context) {
			return func(ctx *ml.Context) {
				x := t
				for range n {
					x = ctx.Scale(x, 0.999)
				}
			}
		}
		one, err1 := timeOp(b, reps*4, chain(1))
		batched, err2 := timeOp(b, reps*4, chain(100))
		separate, err3 := median(reps, time.Second, func() error {
			ctx := ml.NewContext(b)
			defer ctx.Close()
			x := t
			for range 100 {
				x = ctx.Scale(x, 0.999)
				if err := ctx.Compute(); err != nil {
					return err
				}
			}
			return nil
		})
		ml.Free(b, t)
		if err := firstErr(err1, err2, err3); err != nil {
			return fmt.Errorf("%s: %w", b.Name(), err)
		}
		fmt.Fprintf(w, "\t%s\t%.3f\t%.3f\t%.3f\t%.1f\t\n", b.Name(), ms(one), ms(batched), ms(separate), batched.Seconds()/one.Seconds())
	}
	return nil
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
