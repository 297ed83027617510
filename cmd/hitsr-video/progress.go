package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hitsr/hitsr/pipeline"
)

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newLogger logs to w at level (checked by the flag table): human-readable on a terminal,
// JSON lines otherwise.
func newLogger(w io.Writer, level string) *zap.Logger {
	lvl, _ := zapcore.ParseLevel(level)
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	ec.EncodeDuration = zapcore.StringDurationEncoder
	var enc zapcore.Encoder
	if isTTY(w) {
		ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05")
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		enc = zapcore.NewJSONEncoder(ec)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), lvl))
}

// progress draws a one-line bar on a terminal, or logs a line every interval otherwise.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	log      *zap.Logger
	tty      bool
	last     time.Time
	interval time.Duration
	drawn    bool
}

func newProgress(w io.Writer, log *zap.Logger, mode string) *progress {
	p := &progress{w: w, log: log, tty: isTTY(w), interval: 10 * time.Second}
	switch mode {
	case "never":
		return nil
	case "always":
		p.tty = true
	}
	if p.tty {
		p.interval = 200 * time.Millisecond
	}
	return p
}

func (p *progress) update(s pipeline.Stats) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < p.interval {
		return
	}
	p.last = time.Now()
	fps := float64(s.Done) / max(s.Elapsed.Seconds(), 1e-9)
	speed := s.Position.Seconds() / max(s.Elapsed.Seconds(), 1e-9)
	eta := time.Duration(-1)
	if s.TotalFrames > 0 && fps > 0 {
		eta = time.Duration(float64(max(s.TotalFrames-s.Done, 0)) / fps * float64(time.Second))
	}
	if !p.tty {
		p.log.Info("progress", zap.Int("frames", s.Done), zap.Int("total", s.TotalFrames), zap.Int("dropped", s.Dropped),
			zap.Int("degraded", s.Degraded), zap.Int("queued", s.Queued), zap.Int("backlog", s.Backlog),
			zap.Float64("fps", round2(fps)), zap.String("speed", fmt.Sprintf("%.3g", speed)), zap.Duration("eta", eta.Round(time.Second)))
		return
	}
	bar, pct := "", ""
	if s.TotalFrames > 0 {
		const width = 24
		done := min(width*s.Done/s.TotalFrames, width)
		bar = "[" + strings.Repeat("#", done) + strings.Repeat("-", width-done) + "] "
		pct = fmt.Sprintf(" %3d%%", min(100*s.Done/s.TotalFrames, 100))
	}
	line := fmt.Sprintf("\r\033[K%sframe %d", bar, s.Done)
	if s.TotalFrames > 0 {
		line += fmt.Sprintf("/%d%s", s.TotalFrames, pct)
	}
	line += fmt.Sprintf("  %.2f fps  %.3g× realtime", fps, speed)
	if eta >= 0 {
		line += "  ETA " + eta.Round(time.Second).String()
	}
	if s.Dropped > 0 {
		line += fmt.Sprintf("  dropped %d", s.Dropped)
	}
	fmt.Fprint(p.w, line)
	p.drawn = true
}

// finish ends the bar's line so later output starts on a fresh one.
func (p *progress) finish() {
	if p != nil && p.drawn {
		fmt.Fprintln(p.w)
	}
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }
