// Package sysfile opens, reads and writes the few small files a container
// start touches (the admin config, the bundle's config.json, the wrapper's
// notes and lock, /proc/<pid>/stat, the log file) with plain system calls
// instead of *os.File.
//
// Why: the runtime wrapper is a process that lives a few milliseconds on
// every container start, and it never waits on a file. os.OpenFile hands
// every descriptor to the Go runtime's poller: the first open in a process
// creates an epoll instance and an eventfd, and every open then costs four
// fcntl calls and an epoll_ctl that fails for regular files. Measured on
// the namespace path (bench/startup.sh), that is some 30 us of the wrapper's
// start for nothing. A File here is one descriptor and its path: reads and
// writes are read(2) and write(2), retried on EINTR; nothing is registered.
//
// Errors are *fs.PathError with the system call's errno, as the os
// package's, so errors.Is(err, fs.ErrNotExist) and messages such as
// "open /x: no such file or directory" stay as callers know them.
package sysfile

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// File is an open descriptor and the path it was opened by.
type File struct {
	fd   int
	path string
}

// OpenFile opens path with flag (O_CLOEXEC always added) and, with
// O_CREATE, perm; as os.OpenFile, without the poller.
func OpenFile(path string, flag int, perm fs.FileMode) (*File, error) {
	fd, err := openRetry(path, flag|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &File{fd: fd, path: path}, nil
}

// Open opens path read-only.
func Open(path string) (*File, error) { return OpenFile(path, unix.O_RDONLY, 0) }

func openRetry(path string, flag int, perm uint32) (int, error) {
	for {
		fd, err := unix.Open(path, flag, perm)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// Name is the path the file was opened by.
func (f *File) Name() string { return f.path }

// Fd is the descriptor (for flock, fstat and the like).
func (f *File) Fd() int { return f.fd }

// Read reads into p; at the end of the file it returns 0, io.EOF.
func (f *File) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(f.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// Write writes all of p, or says why not.
func (f *File) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(f.fd, p[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, &fs.PathError{Op: "write", Path: f.path, Err: err}
		}
		if n == 0 {
			return done, &fs.PathError{Op: "write", Path: f.path, Err: io.ErrShortWrite}
		}
		done += n
	}
	return done, nil
}

// Sync flushes the file to its device (fsync).
func (f *File) Sync() error {
	if err := unix.Fsync(f.fd); err != nil {
		return &fs.PathError{Op: "sync", Path: f.path, Err: err}
	}
	return nil
}

// Close closes the descriptor; a second Close is an error, not a close of
// whatever descriptor took the number meanwhile.
func (f *File) Close() error {
	if f.fd < 0 {
		return &fs.PathError{Op: "close", Path: f.path, Err: fs.ErrClosed}
	}
	err := unix.Close(f.fd)
	f.fd = -1
	if err != nil {
		return &fs.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}

// Mode is the file's type and permission bits (fstat).
func (f *File) Mode() (fs.FileMode, int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return 0, 0, &fs.PathError{Op: "stat", Path: f.path, Err: err}
	}
	return modeOf(st.Mode), st.Size, nil
}

// modeOf turns st_mode into an fs.FileMode, as os.Stat reports it.
func modeOf(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// ReadAtMost reads the rest of the file, but never more than max+1 bytes:
// a result longer than max tells the caller the file is larger than it
// accepts, without reading a hostile file whole.
func (f *File) ReadAtMost(max int64) ([]byte, error) {
	if max < 0 {
		return nil, errors.New("sysfile: negative bound")
	}
	return io.ReadAll(io.LimitReader(f, max+1))
}

// ErrNotRegular is the cause ReadRegular gives for a path that is no
// regular file (a FIFO, a device, a directory).
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens path for reading when it is a regular file; flag adds
// open flags such as O_NOFOLLOW. It opens with O_NONBLOCK and O_NOCTTY, so
// that a FIFO or a terminal planted where a file was expected is refused,
// not waited on or adopted: then the error's cause is ErrNotRegular and
// mode says what the path is instead. size is what fstat said.
func OpenRegular(path string, flag int) (f *File, mode fs.FileMode, size int64, err error) {
	f, err = OpenFile(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|flag, 0)
	if err != nil {
		return nil, 0, 0, err
	}
	mode, size, err = f.Mode()
	if err == nil && !mode.IsRegular() {
		err = &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	if err != nil {
		f.Close()
		return nil, mode, size, err
	}
	return f, mode, size, nil
}

// ReadRegular reads path as OpenRegular opens it, up to max+1 bytes (a
// longer result means "larger than max").
func ReadRegular(path string, flag int, max int64) (data []byte, size int64, err error) {
	f, _, size, err := OpenRegular(path, flag)
	if err != nil {
		return nil, size, err
	}
	defer f.Close()
	data, err = f.ReadAtMost(max)
	return data, size, err
}

// CreateTemp creates a new file in dir whose name is pattern with its
// last "*" replaced by a random number (appended without one), opened
// for writing with mode 0600, as os.CreateTemp; O_NOFOLLOW as well.
func CreateTemp(dir, pattern string) (*File, error) {
	if strings.ContainsRune(pattern, filepath.Separator) {
		return nil, &fs.PathError{Op: "createtemp", Path: pattern, Err: errors.New("pattern contains a path separator")}
	}
	prefix, suffix := pattern, ""
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10)+suffix)
		f, err := OpenFile(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err == nil || !errors.Is(err, fs.ErrExist) || try == 100 {
			return f, err
		}
	}
}
