// Package regfile reads small files named by users (config, plan, model) with a size cap:
// never a FIFO or device (which could block or never end), never more than the cap.
package regfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrNotRegular is returned for a directory, FIFO, device or socket.
var ErrNotRegular = errors.New("not a regular file")

// TooLargeError is returned for a file over the cap.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("larger than the limit of %s", FormatSize(e.Limit))
}

// Read returns the contents of the regular file at path, at most limit bytes. Errors do not
// name the path (callers do); os errors are unwrapped to their errno (errors.Is still holds).
func Read(path string, limit int64) ([]byte, error) { return ReadChecked(path, limit, nil) }

// ReadChecked is Read where check, given the opened file and its size, may refuse it before
// it is read whole (a large file whose first bytes already show it is not what it claims).
func ReadChecked(path string, limit int64, check func(r io.ReaderAt, size int64) error) ([]byte, error) {
	// Refuse before opening: opening a FIFO blocks, and opening a device can have effects.
	if fi, err := os.Stat(path); err != nil {
		return nil, unwrapPath(err)
	} else if !fi.Mode().IsRegular() {
		return nil, ErrNotRegular
	}
	// O_NONBLOCK and the fstat cover a FIFO or device swapped in after the stat.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return nil, unwrapPath(err)
	case !fi.Mode().IsRegular():
		return nil, ErrNotRegular
	case fi.Size() > limit:
		return nil, &TooLargeError{limit}
	}
	if check != nil {
		if err := check(f, fi.Size()); err != nil {
			return nil, unwrapPath(err)
		}
	}
	// Bounded even if the file grows while it is read.
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, unwrapPath(err)
	}
	if int64(buf.Len()) > limit {
		return nil, &TooLargeError{limit}
	}
	return buf.Bytes(), nil
}

// FormatSize writes a byte count in the largest binary unit that divides it (2 GiB, 1 MiB).
func FormatSize(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

func unwrapPath(err error) error {
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
