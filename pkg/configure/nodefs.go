package configure

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/ima-hook/ima-hook/internal/userror"
)

// The node's engine files are read and written as root, possibly through a
// DaemonSet's mount of the node (Options.Root): configure never follows a
// symlink out of the node root (an absolute one would resolve in the
// DaemonSet's own filesystem), never writes through a symlink at a file it
// replaces, reads only regular files of bounded size (a FIFO would hang
// it), and replaces each file by a rename of a complete temporary file in
// the same directory. Every access goes through an os.Root of the node, so
// a directory on the way that is an absolute symlink, or a relative one
// leading out, is refused too.

// maxEngineConfig bounds an engine configuration file.
const maxEngineConfig = 16 << 20

// openNode opens the node root.
func (o Options) openNode() (*os.Root, error) {
	dir := o.Root
	if dir == "" {
		dir = "/"
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, userror.Wrapf(err, dir, "give the node's root (--root) as an existing directory; nothing was changed", "cannot open the node root")
	}
	return r, nil
}

// rel is node path p relative to the node root.
func rel(p string) string {
	r := strings.TrimLeft(path.Clean("/"+p), "/")
	if r == "" {
		return "."
	}
	return r
}

// symlinkRefusal is the one line for a symlink where configure reads or
// writes a file.
func (o Options) symlinkRefusal(r *os.Root, p string) error {
	target, _ := r.Readlink(rel(p))
	return userror.New(o.host(p), fmt.Sprintf("is a symlink (to %s): configure does not read or write engine files through symlinks", userror.Quote(target)),
		"replace the link by the file it points to, or add the entry by hand (docs/kubernetes.md); nothing was changed")
}

// pathRefusal is the one line for a path that leads out of the node root
// (an absolute symlink, or a relative one climbing out, on the way).
func (o Options) pathRefusal(p string, err error) error {
	return userror.Wrapf(err, o.host(p), "make the directories on the way real directories (or relative links inside the node root); nothing was changed",
		"cannot be reached without following a symlink out of the node root")
}

// readNodeFile returns the content of node file p, nil when it does not
// exist. follow takes a symlink at p that stays inside the node root (a
// file configure only reads); without it a symlink at p is refused (a file
// configure may replace: replacing the link would leave its target
// stale).
func (o Options) readNodeFile(p string, follow bool) ([]byte, error) {
	r, err := o.openNode()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	stat := r.Lstat
	if follow {
		stat = r.Stat
	}
	st, err := stat(rel(p))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil && isEscape(err):
		return nil, o.pathRefusal(p, err)
	case err != nil:
		return nil, userror.Wrapf(err, o.host(p), "run as root; nothing was changed", "cannot read it")
	case st.Mode()&fs.ModeSymlink != 0:
		return nil, o.symlinkRefusal(r, p)
	case !st.Mode().IsRegular():
		return nil, userror.New(o.host(p), "is not a regular file", "replace it by the engine's config file; nothing was changed")
	}
	flags := os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY
	if !follow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := r.OpenFile(rel(p), flags, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, o.symlinkRefusal(r, p)
		}
		return nil, userror.Wrapf(err, o.host(p), "run as root; nothing was changed", "cannot read it")
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, userror.New(o.host(p), "is not a regular file", "replace it by the engine's config file; nothing was changed")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxEngineConfig+1))
	if err != nil {
		return nil, userror.Wrapf(err, o.host(p), "run as root; nothing was changed", "cannot read it")
	}
	if len(b) > maxEngineConfig {
		return nil, userror.New(o.host(p), fmt.Sprintf("is larger than %d bytes", maxEngineConfig), "check the file; nothing was changed")
	}
	return b, nil
}

// readNodeDir lists node directory p (nil when it does not exist).
func (o Options) readNodeDir(p string) ([]fs.DirEntry, error) {
	r, err := o.openNode()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	d, err := r.Open(rel(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		if isEscape(err) {
			return nil, o.pathRefusal(p, err)
		}
		return nil, userror.Wrapf(err, o.host(p), "run as root; nothing was changed", "cannot read the directory")
	}
	defer d.Close()
	return d.ReadDir(-1)
}

func isEscape(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

// staged is a complete temporary file beside its destination.
type staged struct {
	tmp, dst string // relative to the node root
}

// stage writes b to a new temporary file in node path p's directory
// (created if missing), mode mode, flushed; the destination must not be a
// symlink.
func (o Options) stage(r *os.Root, p string, b []byte, mode os.FileMode) (staged, error) {
	dst := rel(p)
	dir := path.Dir(dst)
	if err := r.MkdirAll(dir, 0o755); err != nil {
		if isEscape(err) {
			return staged{}, o.pathRefusal(p, err)
		}
		return staged{}, userror.Wrapf(err, o.host(path.Dir("/"+dst)), "fix permissions; nothing was changed", "cannot create the directory")
	}
	if st, err := r.Lstat(dst); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		return staged{}, o.symlinkRefusal(r, p)
	} else if err == nil && st.IsDir() {
		return staged{}, userror.New(o.host(p), "is a directory", "remove it; nothing was changed")
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return staged{}, err
	}
	tmp := path.Join(dir, "."+path.Base(dst)+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return staged{}, userror.Wrapf(err, o.host(p), "free space or fix permissions; nothing was changed", "cannot write beside it")
	}
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Chmod(mode)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = r.Remove(tmp)
		return staged{}, userror.Wrapf(werr, o.host(p), "free space or fix permissions; nothing was changed", "cannot write beside it")
	}
	return staged{tmp: tmp, dst: dst}, nil
}
