package pipeline

import (
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
)

var stderrMu sync.Mutex

// quietStderr runs fn with file descriptor 2 going to a pipe, and returns what was written
// there: libraries such as x264 print some errors straight to stderr, outside FFmpeg's log.
func quietStderr(fn func() error) (string, error) {
	stderrMu.Lock()
	defer stderrMu.Unlock()
	r, w, err := os.Pipe()
	if err != nil {
		return "", fn()
	}
	defer r.Close()
	saved, err := syscall.Dup(2)
	if err != nil {
		w.Close()
		return "", fn()
	}
	defer syscall.Close(saved)
	if err := syscall.Dup3(int(w.Fd()), 2, 0); err != nil {
		w.Close()
		return "", fn()
	}
	w.Close()
	text := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		text <- string(b)
	}()
	ferr := fn()
	syscall.Dup3(saved, 2, 0) // the pipe's last writer closes: the reader sees EOF
	return strings.TrimSpace(<-text), ferr
}
