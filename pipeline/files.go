package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

var (
	reScheme = regexp.MustCompile(`^([a-zA-Z0-9+.-]+):`) // as FFmpeg finds a protocol (avio.c)
	rePipe   = regexp.MustCompile(`^pipe:(\d*)$`)
)

// remoteSchemes are the FFmpeg protocols a name may use besides file: and pipe:, the ones that
// reach another machine or process. The others (tee:, md5:, async:, cache:, concat:, subfile:,
// crypto:, hls:, …) reach local files under names no same-file check can see through.
var remoteSchemes = []string{"data", "ftp", "gopher", "gophers", "http", "https", "icecast", "mmsh",
	"mmst", "rtmp", "rtmpe", "rtmps", "rtmpt", "rtmpte", "rtmpts", "rtp", "rtsp", "rtsps", "sftp", "srt",
	"srtp", "tcp", "tls", "udp", "udplite", "unix"}

// scheme is the protocol FFmpeg opens name with, lower-cased; "" for a file path.
func scheme(name string) string {
	if rest, ok := strings.CutPrefix(name, "subfile,"); ok && strings.Contains(rest, ":") {
		return "subfile" // its options come between the name and the colon
	}
	if m := reScheme.FindStringSubmatch(name); m != nil {
		return strings.ToLower(m[1])
	}
	return ""
}

// CheckName refuses a name under a protocol that is neither a file, a pipe nor a network protocol.
func CheckName(name string) error {
	switch s := scheme(name); {
	case s == "" || s == "file" || s == "pipe" || slices.Contains(remoteSchemes, s):
		return nil
	default:
		return errf(KindUsage, "%s: protocol %q is not supported (files, pipes and network URLs are; a file with this name: ./%s)", name, s, name)
	}
}

// IsFile reports whether an input/output name is a local file (not "-", "pipe:N" or a URL).
func IsFile(u string) bool {
	return u != "-" && (scheme(u) == "" || strings.HasPrefix(u, "file:"))
}

// stat identifies what a name refers to, links followed: a file, or the descriptor behind
// "-" and "pipe:N" (stdin for inputs, stdout for outputs); nil for URLs and missing files.
func stat(name string, std int) os.FileInfo {
	path := strings.TrimPrefix(name, "file:")
	if name == "-" {
		name = "pipe:"
	}
	if m := rePipe.FindStringSubmatch(name); m != nil {
		fd := std
		if m[1] != "" {
			fd, _ = strconv.Atoi(m[1])
		}
		path = "/dev/fd/" + strconv.Itoa(fd)
	} else if !IsFile(name) {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	return fi
}

// refuseReads refuses, before anything is written, an output file that is one of the files the
// run reads besides its input (a plan, the segments a join reads), whatever names them.
func refuseReads(files []*File, reads []string) error {
	for _, f := range files {
		if f == nil || f.old == nil {
			continue
		}
		for _, r := range reads {
			if fi := stat(r, 0); fi != nil && os.SameFile(f.old, fi) {
				return errf(KindUsage, "%s is %s, which this run reads", f.Name, r)
			}
		}
	}
	return nil
}

// File is a local output file, checked before any work by PlanFiles. A regular file is written
// under a temporary name next to its final one and renamed by Commit; an existing character
// device or FIFO is written in place.
type File struct {
	Name      string      // as given
	final     string      // the path replaced or created (symbolic links resolved)
	dir       os.FileInfo // its directory, for a file that does not exist yet
	old       os.FileInfo // what is at final now, or nil
	input     os.FileInfo // the run's input, never replaced
	overwrite bool

	mu        sync.Mutex
	h         *os.File // the temporary file, or the device / FIFO
	tmp       string
	committed bool
	aborted   bool
}

// same reports whether two planned outputs are one file.
func (f *File) same(g *File) bool {
	if f.old != nil || g.old != nil {
		return f.old != nil && g.old != nil && os.SameFile(f.old, g.old)
	}
	return f.dir != nil && g.dir != nil && os.SameFile(f.dir, g.dir) && filepath.Base(f.final) == filepath.Base(g.final)
}

// direct reports whether the file is written in place (an existing device or FIFO).
func (f *File) direct() bool { return f.old != nil && !f.old.Mode().IsRegular() }

// PlanFiles checks every output against the input and against each other by identity (device
// and inode, symbolic links and hard links included), refuses directories and other files that
// cannot be written safely, existing files unless overwrite, and names under protocols that reach
// local files behind these checks (CheckName). The result has one entry per output: nil for
// stdout and URLs. Nothing is created.
func PlanFiles(input string, outputs []string, overwrite bool) ([]*File, error) {
	for _, name := range append([]string{input}, outputs...) {
		if err := CheckName(name); err != nil {
			return nil, err
		}
	}
	in := stat(input, 0)
	type descriptor struct {
		name string
		fi   os.FileInfo
	}
	var fds []descriptor // what "-" and pipe:N outputs write to
	for _, name := range outputs {
		out := stat(name, 1)
		if IsFile(name) || out == nil { // files below; URLs are not compared
			continue
		}
		if in != nil && os.SameFile(in, out) {
			return nil, errf(KindUsage, "%s: the output descriptor is the input file", name)
		}
		for _, d := range fds {
			if os.SameFile(out, d.fi) {
				return nil, errf(KindUsage, "%s and %s are the same output", d.name, name)
			}
		}
		fds = append(fds, descriptor{name, out})
	}
	files := make([]*File, len(outputs))
	for i, name := range outputs {
		if !IsFile(name) {
			continue
		}
		f := &File{Name: name, final: strings.TrimPrefix(name, "file:"), input: in, overwrite: overwrite}
		switch _, err := os.Lstat(f.final); {
		case err == nil:
			if f.final, err = filepath.EvalSymlinks(f.final); err != nil {
				return nil, errf(KindUsage, "%s: a symbolic link to a missing file (or a loop)", name)
			}
			if f.old, err = os.Stat(f.final); err != nil {
				return nil, errf(KindFailure, "%s: %v", name, unwrapPath(err))
			}
		case !errors.Is(err, fs.ErrNotExist): // a name too long, a file as a directory, …
			return nil, errf(KindFailure, "%s: cannot write: %v", name, unwrapPath(err))
		default:
			if f.dir, err = os.Stat(filepath.Dir(f.final)); err != nil {
				return nil, errf(KindFailure, "%s: cannot write: %v", name, unwrapPath(err))
			}
		}
		switch m := f.old; {
		case m != nil && in != nil && os.SameFile(m, in):
			return nil, errf(KindUsage, "%s is the input file", name)
		case m == nil:
		case m.IsDir():
			return nil, errf(KindUsage, "%s is a directory", name)
		case m.Mode()&(fs.ModeCharDevice|fs.ModeNamedPipe) != 0:
		case !m.Mode().IsRegular():
			return nil, errf(KindUsage, "%s is not a regular file, character device or FIFO (%s)", name, m.Mode().Type())
		case !overwrite:
			return nil, errf(KindUsage, "%s exists (use -y to overwrite)", name)
		}
		for j, g := range files[:i] {
			if g != nil && f.same(g) {
				return nil, errf(KindUsage, "%s and %s are the same file", outputs[j], name)
			}
		}
		for _, d := range fds {
			if f.old != nil && os.SameFile(f.old, d.fi) {
				return nil, errf(KindUsage, "%s and %s are the same file", d.name, name)
			}
		}
		files[i] = f
	}
	return files, nil
}

// maxName is the longest file name (bytes) Linux file systems take.
const maxName = 255

// tempPattern is os.CreateTemp's pattern for a temporary file next to base: ".BASE.partial-*",
// with BASE shortened so the name stays within maxName bytes.
func tempPattern(base string) string {
	keep := maxName - len(".") - len(".partial-") - 10 // CreateTemp's "*": up to 10 digits
	for len(base) > keep {
		_, n := utf8.DecodeLastRuneInString(base)
		base = base[:len(base)-n]
	}
	return "." + base + ".partial-*"
}

// Create opens what the output is written to: a new temporary file, or the device or FIFO
// (checked to be the one planned; a FIFO waits for its reader). Writing through the returned
// handle (or URL) never touches anything else.
func (f *File) Create() (*os.File, error) {
	var h *os.File
	var err error
	if f.direct() {
		if h, err = os.OpenFile(f.final, os.O_WRONLY, 0); err == nil { // unlocked: it may block
			if fi, err := h.Stat(); err != nil || !os.SameFile(fi, f.old) {
				h.Close()
				return nil, errf(KindFailure, "%s: replaced by another file since it was checked", f.Name)
			}
		}
	} else if h, err = os.CreateTemp(filepath.Dir(f.final), tempPattern(filepath.Base(f.final))); err == nil {
		mode := os.FileMode(0o644) // CreateTemp makes 0600; outputs are ordinary files
		if f.old != nil {
			mode = f.old.Mode().Perm() // as the file it replaces
		}
		h.Chmod(mode)
	}
	if err != nil {
		return nil, errf(KindFailure, "%s: cannot write: %v", f.Name, unwrapPath(err))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.aborted { // Discard came first
		h.Close()
		if !f.direct() {
			os.Remove(h.Name())
		}
		return nil, ErrAborted
	}
	if !f.direct() {
		f.tmp = h.Name()
	}
	f.h = h
	return h, nil
}

// URL is the name FFmpeg opens to write what Create opened: its descriptor, so a path
// swapped in the meantime is never written.
func (f *File) URL() string { return "/dev/fd/" + strconv.Itoa(int(f.h.Fd())) }

// Commit closes the output and, for a temporary file, renames it to its final name. A final
// name that changed meanwhile into something that must not be replaced (a new file without
// overwrite, a non-regular file, the input) keeps the output under its temporary name.
func (f *File) Commit() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.aborted {
		return ErrAborted
	}
	if f.committed {
		return nil
	}
	err := f.h.Close()
	if err == nil && f.tmp != "" {
		err = f.rename()
	}
	if err != nil {
		return errf(KindFailure, "%s: %v", f.Name, unwrapPath(err))
	}
	f.committed = true
	return nil
}

func (f *File) rename() error {
	keep := func(why string) error {
		f.committed = true // the output stays under its temporary name
		return fmt.Errorf("%s while the output was written; it was kept and the output is %s", why, f.tmp)
	}
	fi, err := os.Lstat(f.final)
	switch {
	case err == nil && !f.overwrite:
		return keep("appeared")
	case err == nil && (!fi.Mode().IsRegular() || f.input != nil && os.SameFile(fi, f.input)):
		return keep("was replaced by something that is not a plain output file")
	case err == nil:
		return os.Rename(f.tmp, f.final)
	}
	// A new name: link(2) fails if the name appeared meanwhile, where rename would replace it.
	switch err := os.Link(f.tmp, f.final); {
	case err == nil:
		return os.Remove(f.tmp)
	case errors.Is(err, fs.ErrExist):
		return keep("appeared")
	}
	return os.Rename(f.tmp, f.final) // a file system without hard links
}

// Discard closes the output and removes an uncommitted temporary file; it is safe from any
// goroutine and at any time (an output already committed stays).
func (f *File) Discard() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.discard()
}

func (f *File) discard() {
	if f.committed || f.aborted {
		return
	}
	f.aborted = true
	if f.h != nil {
		f.h.Close()
	}
	if f.tmp != "" {
		os.Remove(f.tmp)
	}
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
