//go:build linux

package ns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The mechanics of a namespace pin, for any namespace type (the release
// build pins IMA namespaces; tests pin UTS ones, which this kernel has).

// nsfsMagic is NSFS_MAGIC, the f_type of a namespace file.
const nsfsMagic = 0x6e736673

// bindNamespace pins the namespace nsFile (an open /proc/<pid>/ns/<type>)
// refers to at path, as `ip netns add` does: an empty file is created,
// never over an existing one, and the namespace file is bind-mounted onto
// it. The mount holds a reference on the namespace until it is unmounted.
func bindNamespace(nsFile *os.File, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o400)
	if err != nil {
		return err
	}
	f.Close()
	// /proc/self/fd/N of an nsfs file resolves to the namespace inode
	// itself: the bind mount shows that inode at path.
	src := "/proc/self/fd/" + strconv.Itoa(int(nsFile.Fd()))
	if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		return fmt.Errorf("bind mount of the namespace onto %s: %w", path, err)
	}
	return nil
}

// unbindNamespace drops the pin at path: a lazy unmount (an open file on
// the pin, e.g. a reader that just joined through it, must not make it
// fail; the reference goes when that file is closed) and the placeholder's
// removal. A path that is no longer a mount point (EINVAL: a crash between
// create and mount, or an earlier half-done release) is only removed.
//
// The removal is what releases the pin everywhere: every mount namespace
// created while the pin existed (a container's before its pivot_root, a
// systemd service with private mounts) holds a copy of the bind mount, and
// the unmount here reaches those copies only through mount propagation,
// which a private or slave copy does not receive (and this host's mounts
// may be private to begin with). Unlinking the placeholder, once it is no
// mount point here, detaches the mounts on it in every other mount
// namespace (the kernel's detach_mounts, since Linux 3.18), whatever their
// propagation; `ip netns`'s shared run directory covers only the shared
// and slave copies. TestPinReleasedInLaterMountNamespaces checks it.
func unbindNamespace(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// pinnedInode returns the namespace inode a pin shows; a path that is not
// a namespace file (the bare placeholder) is an error.
func pinnedInode(path string) (uint64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &sfs); err != nil {
		return 0, err
	}
	if sfs.Type != nsfsMagic {
		return 0, fmt.Errorf("%s is not a namespace pin (not an nsfs file)", path)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// namespacesInUse returns the inodes that processes under proc have as one
// of their namespaces of the given link names (e.g. "ima" and
// "ima_for_children"): one pass over /proc however many pins are checked.
// Processes that vanish during the scan are skipped; an exited process
// waiting to be reaped has no namespace links any more.
func namespacesInUse(proc string, links []string) (map[uint64]bool, error) {
	d, err := os.Open(proc)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	used := map[uint64]bool{}
	for {
		names, err := d.Readdirnames(256)
		for _, name := range names {
			if name == "" || name[0] < '1' || name[0] > '9' {
				continue
			}
			for _, l := range links {
				target, err := os.Readlink(filepath.Join(proc, name, "ns", l))
				if err != nil {
					continue
				}
				i := strings.LastIndexByte(target, '[')
				if i < 0 || !strings.HasSuffix(target, "]") {
					continue
				}
				if n, err := strconv.ParseUint(target[i+1:len(target)-1], 10, 64); err == nil {
					used[n] = true
				}
			}
		}
		if err != nil {
			return used, nil // io.EOF ends the directory
		}
	}
}
