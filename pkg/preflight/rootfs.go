package preflight

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks is the kernel's MAXSYMLINKS: a path walk following more
// symlinks fails with ELOOP.
const maxSymlinks = 40

// maxPathComponents bounds a path walk (PATH_MAX/2: every component takes
// at least one character and one slash).
const maxPathComponents = 2048

// ErrEscape is never returned for a path inside the rootfs: symlinks are
// resolved as the container sees them, an absolute target or ".." at the
// top stays at the rootfs' top (a chroot's view). It exists for errors.Is on
// the one thing that must not happen.
var ErrEscape = errors.New("path leaves the rootfs")

// rootFS is the container's root filesystem opened as a directory fd.
// Every lookup is relative to that fd, one component at a time, with
// O_NOFOLLOW: no path string naming a host location is ever handed to the
// kernel, so neither a symlink nor a concurrent rename can lead outside.
type rootFS struct {
	fd   int
	path string
}

func openRoot(dir string) (*rootFS, error) {
	fd, err := unix.Open(dir, oPath|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open rootfs", Path: dir, Err: err}
	}
	return &rootFS{fd: fd, path: dir}, nil
}

func (r *rootFS) close() { unix.Close(r.fd) }

// resolved is a file found by resolve.
type resolved struct {
	Path string // clean absolute path in the container's view, no symlinks
	File *os.File
	Stat unix.Stat_t
}

// resolve finds name in the rootfs the way the kernel resolves a path for
// a process whose root is the rootfs (path_lookupat under chroot): a
// relative name starts at cwd, ".." never goes above the top, an absolute
// symlink target starts again at the top, at most 40 symlinks. The final
// component must be a regular file; it is opened read-only (O_NOFOLLOW,
// O_NONBLOCK so that a planted FIFO cannot block, O_NOATIME when
// permitted) from its parent directory's fd.
func (r *rootFS) resolve(name, cwd string) (*resolved, error) {
	return r.walk(name, cwd, false)
}

// resolveDir is resolve for a directory; the result's File is the
// directory opened for reading its entries.
func (r *rootFS) resolveDir(name string) (*resolved, error) {
	return r.walk(name, "/", true)
}

func (r *rootFS) walk(name, cwd string, wantDir bool) (*resolved, error) {
	if name == "" {
		return nil, fmt.Errorf("empty path")
	}
	if len(name) > unix.PathMax {
		return nil, fmt.Errorf("path of %d bytes is longer than PATH_MAX", len(name))
	}
	var todo []string
	if !strings.HasPrefix(name, "/") {
		todo = append(todo, splitComponents(cwd)...)
	}
	todo = append(todo, walkComponents(name)...)

	// stack holds the directories walked so far: fds (O_PATH) and names.
	type dir struct {
		fd   int
		name string
	}
	var stack []dir
	cur := func() int {
		if len(stack) == 0 {
			return r.fd
		}
		return stack[len(stack)-1].fd
	}
	defer func() {
		for _, d := range stack {
			unix.Close(d.fd)
		}
	}()
	toTop := func() {
		for _, d := range stack {
			unix.Close(d.fd)
		}
		stack = stack[:0]
	}
	links := 0
	steps := 0
	for len(todo) > 0 {
		steps++
		if steps > maxPathComponents+maxSymlinks*maxPathComponents/16 {
			return nil, fmt.Errorf("%s: path walk too long", name)
		}
		comp := todo[0]
		todo = todo[1:]
		switch comp {
		case ".":
			continue
		case "..":
			if len(stack) > 0 {
				unix.Close(stack[len(stack)-1].fd)
				stack = stack[:len(stack)-1]
			}
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(cur(), comp, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, &os.PathError{Op: "lookup", Path: joinStack(stack, comp, func(d dir) string { return d.name }), Err: err}
		}
		last := len(todo) == 0
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			links++
			if links > maxSymlinks {
				return nil, &os.PathError{Op: "lookup", Path: name, Err: unix.ELOOP}
			}
			target, err := readlinkat(cur(), comp)
			if err != nil {
				return nil, &os.PathError{Op: "readlink", Path: joinStack(stack, comp, func(d dir) string { return d.name }), Err: err}
			}
			rest := walkComponents(target)
			if len(rest)+len(todo) > maxPathComponents {
				return nil, fmt.Errorf("%s: path too long after following symlinks", name)
			}
			todo = append(rest, todo...)
			if strings.HasPrefix(target, "/") {
				toTop()
			}
		case unix.S_IFDIR:
			if last && !wantDir {
				return nil, &os.PathError{Op: "open", Path: name, Err: unix.EISDIR}
			}
			fd, err := unix.Openat(cur(), comp, oPath|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, &os.PathError{Op: "open", Path: joinStack(stack, comp, func(d dir) string { return d.name }), Err: err}
			}
			stack = append(stack, dir{fd, comp})
		case unix.S_IFREG:
			if wantDir {
				return nil, &os.PathError{Op: "lookup", Path: name, Err: unix.ENOTDIR}
			}
			if !last {
				return nil, &os.PathError{Op: "lookup", Path: name, Err: unix.ENOTDIR}
			}
			f, fst, err := openRegularAt(cur(), comp)
			if err != nil {
				return nil, &os.PathError{Op: "open", Path: joinStack(stack, comp, func(d dir) string { return d.name }), Err: err}
			}
			p := "/"
			for _, d := range stack {
				p = path.Join(p, d.name)
			}
			return &resolved{Path: path.Join(p, comp), File: f, Stat: fst}, nil
		default:
			if !last {
				return nil, &os.PathError{Op: "lookup", Path: name, Err: unix.ENOTDIR}
			}
			return nil, &os.PathError{Op: "open", Path: name, Err: errNotRegular}
		}
	}
	if !wantDir {
		return nil, &os.PathError{Op: "open", Path: name, Err: unix.EISDIR}
	}
	p := "/"
	for _, d := range stack {
		p = path.Join(p, d.name)
	}
	dfd, err := unix.Openat(cur(), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	res := &resolved{Path: p, File: os.NewFile(uintptr(dfd), p)}
	if err := unix.Fstat(dfd, &res.Stat); err != nil {
		res.File.Close()
		return nil, err
	}
	return res, nil
}

var errNotRegular = errors.New("not a regular file")

func joinStack[T any](stack []T, comp string, name func(T) string) string {
	p := "/"
	for _, d := range stack {
		p = path.Join(p, name(d))
	}
	return path.Join(p, comp)
}

// walkComponents is splitComponents for a path to walk: a trailing slash
// keeps a final "." so that the last real component must be a directory,
// as the kernel's lookup requires (a regular file then fails with ENOTDIR).
func walkComponents(p string) []string {
	c := splitComponents(p)
	if strings.HasSuffix(p, "/") && len(c) > 0 {
		c = append(c, ".")
	}
	return c
}

func splitComponents(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		if len(buf) >= unix.PathMax {
			return "", fmt.Errorf("symlink target longer than PATH_MAX")
		}
		buf = make([]byte, unix.PathMax)
	}
}

// openRegularAt opens name in dirfd for reading without following a
// symlink, and checks that what was opened is a regular file. O_NOATIME
// keeps the preflight from touching atimes; it is refused (EPERM) for files
// we neither own nor have CAP_FOWNER over, and then dropped.
func openRegularAt(dirfd int, name string) (*os.File, unix.Stat_t, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	fd, err := unix.Openat(dirfd, name, flags|oNoATime, 0)
	if err == unix.EPERM {
		fd, err = unix.Openat(dirfd, name, flags, 0)
	}
	var st unix.Stat_t
	if err != nil {
		return nil, st, err
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, st, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, st, errNotRegular
	}
	return os.NewFile(uintptr(fd), name), st, nil
}

// readDirNames lists a directory inside the rootfs (for ld.so.conf
// includes): at most max names.
func (r *rootFS) readDirNames(dirPath string, max int) ([]string, error) {
	d, err := r.resolveDir(dirPath)
	if err != nil {
		return nil, err
	}
	defer d.File.Close()
	return d.File.Readdirnames(max)
}
