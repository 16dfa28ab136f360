package keys

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// hashBufSize is the read size for content hashing. 256 KiB keeps the
// syscall count low (a 1 GiB tree costs ~4k reads) while a few buffers in
// flight stay far below the preflight's 64 MiB RSS goal.
const hashBufSize = 256 << 10

var hashBufs = sync.Pool{New: func() any { b := make([]byte, hashBufSize); return &b }}

// HashReader hashes everything r yields with algo, through one pooled
// fixed-size buffer (memory use does not grow with the input).
//
// It reads into the buffer itself instead of io.Copy: *os.File implements
// io.WriterTo, and io.Copy would then hash through os.File's own 32 KiB
// generic path.
func HashReader(r io.Reader, algo HashAlgo) ([]byte, error) {
	h, ok := algo.New()
	if !ok {
		return nil, fmt.Errorf("%w: hash algorithm %s cannot be computed here", ErrUnsupported, algo)
	}
	bp := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(bp)
	buf := *bp
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return h.Sum(nil), nil
}

// HashFile hashes a file's content as IMA does (ima_calc_file_hash: the
// plain digest of the bytes). It opens with O_NOATIME when allowed (a
// preflight should not touch atimes) and tells the kernel the read is
// sequential so readahead is generous.
func HashFile(path string, algo HashAlgo) ([]byte, error) {
	f, err := openNoATime(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return HashOpenFile(f, algo)
}

// HashOpenFile hashes an already opened file from its current offset,
// e.g. one opened through an os.Root.
func HashOpenFile(f *os.File, algo HashAlgo) ([]byte, error) {
	AdviseSequential(f)
	return HashReader(f, algo)
}

func openNoATime(path string) (*os.File, error) {
	// O_NOATIME is refused with EPERM unless we own the file or hold
	// CAP_FOWNER; fall back to a plain open then.
	f, err := os.OpenFile(path, os.O_RDONLY|oNoATime|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.EPERM) {
		f, err = os.OpenFile(path, os.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, st.Mode().Type())
	}
	return f, nil
}

// ReadIMAXattr reads security.ima of path without following a final
// symlink. A missing attribute is ErrNoXattr.
func ReadIMAXattr(path string) ([]byte, error) {
	buf := make([]byte, 1024) // fits RSA-4096 signatures; grown on ERANGE
	for {
		n, err := unix.Lgetxattr(path, XattrName, buf)
		switch {
		case err == nil:
			return buf[:n], nil
		case errors.Is(err, unix.ENODATA):
			return nil, ErrNoXattr
		case errors.Is(err, unix.ERANGE) && len(buf) < MaxXattrSize:
			buf = make([]byte, MaxXattrSize)
			continue
		}
		return nil, &os.PathError{Op: "lgetxattr " + XattrName, Path: path, Err: err}
	}
}

// ReadIMAXattrFile reads security.ima of an open file (fgetxattr), for
// files opened through an os.Root so no path is resolved twice.
func ReadIMAXattrFile(f *os.File) ([]byte, error) {
	buf := make([]byte, 1024)
	for {
		n, err := unix.Fgetxattr(int(f.Fd()), XattrName, buf)
		switch {
		case err == nil:
			return buf[:n], nil
		case errors.Is(err, unix.ENODATA):
			return nil, ErrNoXattr
		case errors.Is(err, unix.ERANGE) && len(buf) < MaxXattrSize:
			buf = make([]byte, MaxXattrSize)
			continue
		}
		return nil, &os.PathError{Op: "fgetxattr " + XattrName, Path: f.Name(), Err: err}
	}
}
