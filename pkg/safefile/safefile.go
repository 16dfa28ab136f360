// Package safefile reads small configuration inputs (keys, policies) that a
// container annotation names by path, without letting that path reach any
// file outside the directory the administrator allowed.
//
// Annotations are written by whoever creates the container, while the hook
// runs as root on the host: "io.imans.x509=/etc/ima-hook/keys/../../shadow"
// or a symlink planted inside the key directory must not make the hook read
// (and log, or hand to the kernel) an arbitrary host file. The resolution
// of every path component therefore happens inside the allowed directory
// (os.Root, which resolves each component with openat relative to the
// directory and refuses symlinks that leave it), never on the host.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Error says which check a path failed. It prints as
// "<path>: <problem>; <fix>" so callers can hand it to userror unchanged.
type Error struct {
	Path    string // the path as given
	Problem string
	Fix     string
	Err     error // underlying error (errors.Is works through it)
}

func (e *Error) Error() string {
	s := e.Path + ": " + e.Problem
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Sentinel causes, for errors.Is.
var (
	ErrOutside    = errors.New("path outside the allowed directory")
	ErrEscape     = errors.New("symlink escapes the allowed directory")
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("file too large")
	ErrNotFound   = fs.ErrNotExist
)

// ReadInDir reads the file at path, which must lie inside dir.
//
// path may be absolute (then it must name a location under dir once
// cleaned) or relative (then it is taken relative to dir). Every component
// is resolved inside dir: symlinks are followed only while they stay inside
// it, and must be relative (an absolute target is refused, since inside the
// directory it could only mean a host path). The final file must be a
// regular file of at most max bytes. FIFOs are opened non-blocking so a
// planted FIFO cannot hang the hook.
//
// resolvedPath is the host path of the file actually read, as the kernel
// reports it for the open descriptor (/proc/self/fd), so that a caller that
// must hand a path to the kernel passes the file that was checked.
func ReadInDir(dir, path string, max int64) (data []byte, resolvedPath string, err error) {
	if max <= 0 {
		return nil, "", &Error{Path: path, Problem: "internal: size bound must be positive, got " + strconv.FormatInt(max, 10)}
	}
	rel, err := relInside(dir, path)
	if err != nil {
		return nil, "", err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, "", &Error{Path: path, Problem: fmt.Sprintf("allowed directory %s cannot be opened: %v", dir, unwrapPathErr(err)),
			Fix: "create it or point the admin config at an existing directory", Err: err}
	}
	defer root.Close()

	// O_NONBLOCK: opening a FIFO for reading would otherwise block until a
	// writer appears. It has no effect on regular files.
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, "", classifyOpenErr(dir, path, err)
	}
	defer f.Close()

	st, err := f.Stat()
	if err != nil {
		return nil, "", &Error{Path: path, Problem: "cannot stat: " + unwrapPathErr(err).Error(), Err: err}
	}
	if !st.Mode().IsRegular() {
		return nil, "", &Error{Path: path, Problem: "is " + DescribeMode(st.Mode()) + ", not a regular file",
			Fix: "point it at a regular file inside " + dir, Err: ErrNotRegular}
	}
	if st.Size() > max {
		return nil, "", tooLarge(path, st.Size(), max)
	}
	// The size can change between fstat and read; the limit is enforced on
	// what is actually read, too.
	data, err = io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, "", &Error{Path: path, Problem: "read failed: " + unwrapPathErr(err).Error(), Err: err}
	}
	if int64(len(data)) > max {
		return nil, "", tooLarge(path, int64(len(data)), max)
	}
	resolvedPath = filepath.Join(dir, rel)
	if l, lerr := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); lerr == nil && filepath.IsAbs(l) {
		resolvedPath = l
	}
	return data, resolvedPath, nil
}

// relInside turns path into a path relative to dir, refusing anything that
// lexically leaves dir. Symlinks are not looked at here (os.Root does that).
func relInside(dir, path string) (string, error) {
	if path == "" {
		return "", &Error{Path: path, Problem: "empty path", Fix: "name a file inside " + dir, Err: ErrOutside}
	}
	if strings.IndexByte(path, 0) >= 0 {
		return "", &Error{Path: path, Problem: "path contains a NUL byte", Fix: "remove it", Err: ErrOutside}
	}
	if !filepath.IsAbs(dir) {
		return "", &Error{Path: path, Problem: "internal: allowed directory " + strconv.Quote(dir) + " is not absolute"}
	}
	cdir := filepath.Clean(dir)
	p := path
	if !filepath.IsAbs(p) {
		p = filepath.Join(cdir, p)
	}
	p = filepath.Clean(p)
	rel, err := filepath.Rel(cdir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", &Error{Path: path, Problem: "lies outside the allowed directory " + cdir,
			Fix: "place the file inside " + cdir + " or change the allowed directory in the admin config", Err: ErrOutside}
	}
	if rel == "." {
		return "", &Error{Path: path, Problem: "is the allowed directory itself, not a file", Fix: "name a file inside " + cdir, Err: ErrNotRegular}
	}
	return rel, nil
}

func classifyOpenErr(dir, path string, err error) error {
	inner := unwrapPathErr(err)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Path: path, Problem: "does not exist inside " + dir, Fix: "check the path (it is resolved inside " + dir + ")", Err: err}
	case errors.Is(err, fs.ErrPermission):
		return &Error{Path: path, Problem: "permission denied", Fix: "make it readable by root", Err: err}
	case errors.Is(err, syscall.ELOOP):
		return &Error{Path: path, Problem: "too many levels of symlinks", Fix: "replace the symlink chain by the file", Err: err}
	case errors.Is(err, syscall.ENOTDIR):
		return &Error{Path: path, Problem: "a path component is not a directory", Fix: "check the path", Err: err}
	case isEscape(inner):
		// os.Root reports both "../" escapes through symlinks and absolute
		// symlink targets with the same unexported error.
		return &Error{Path: path, Problem: "resolves through a symlink that leaves " + dir + " or is absolute",
			Fix: "use a file inside " + dir + " (symlinks there must be relative and stay inside)", Err: errors.Join(ErrEscape, err)}
	}
	return &Error{Path: path, Problem: "cannot open: " + inner.Error(), Err: err}
}

// isEscape recognises os.Root's "path escapes from parent" error, which is
// not exported. A test pins the wording on the Go version in use.
func isEscape(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func tooLarge(path string, size, max int64) error {
	return &Error{Path: path, Problem: fmt.Sprintf("is %d bytes, more than the limit of %d", size, max),
		Fix: "use a smaller file (a certificate or policy is far below this)", Err: ErrTooLarge}
}

// DescribeMode names the kind of a file that is not a regular one, with
// its article, for refusal lines ("is a named pipe (FIFO), not a regular
// file"): every reader of files that must be regular (this package's,
// pkg/oci's config reader) words it the same way.
func DescribeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "a special file (" + m.String() + ")"
}
