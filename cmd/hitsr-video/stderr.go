package main

import (
	"bufio"
	"os"
	"runtime/debug"
	"syscall"

	"go.uber.org/zap"
)

// libStderr carries what libraries print straight to file descriptor 2, outside FFmpeg's log
// (x265's statistics, SVT-AV1's banner), into the log, so every line on stderr is in the log's
// format. Set by main; nil in tests, which run the command in-process.
var libStderr *stderrPipe

type stderrPipe struct {
	real  *os.File // the process's stderr: the logger writes here
	saved int      // its descriptor, put back as 2 by end
	lines chan string
}

// captureStderr makes descriptor 2 a pipe read into lines; crashes still reach the real stderr.
func captureStderr() (*stderrPipe, error) {
	saved, err := syscall.Dup(2)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err == nil {
		err = syscall.Dup3(int(w.Fd()), 2, 0)
		w.Close()
	}
	if err != nil {
		syscall.Close(saved)
		return nil, err
	}
	p := &stderrPipe{real: os.NewFile(uintptr(saved), "/dev/stderr"), saved: saved, lines: make(chan string, 64)}
	debug.SetCrashOutput(p.real, debug.CrashOptions{})
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p, nil
}

// forward logs the captured lines; end puts the real stderr back as descriptor 2 and returns
// once every line printed before has been logged.
func (p *stderrPipe) forward(log *zap.Logger) (end func()) {
	done := make(chan struct{})
	go func() {
		for line := range p.lines {
			if line != "" {
				log.Info("library output", zap.String("text", line))
			}
		}
		close(done)
	}()
	return func() {
		syscall.Dup3(p.saved, 2, 0) // the pipe's last writer closes
		<-done
	}
}
