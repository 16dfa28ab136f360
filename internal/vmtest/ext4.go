package vmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Ext4Modules are the modules a guest needs to mount an Ext4Image through
// a loop device (Debian builds ext4, its crc32c and loop as modules).
var Ext4Modules = []string{"loop", "crc32c_generic", "ext4"}

// MaxExt4ImageSize bounds Ext4Image: the image travels inside the
// initramfs, which lives in the guest's 512 MiB of RAM.
const MaxExt4ImageSize = 128 << 20

var ext4PathRE = regexp.MustCompile(`^(/[A-Za-z0-9._+-]+)+$`)

// Ext4Image builds an ext4 filesystem image of size bytes holding files
// (paths relative to the image root, written as absolute paths) with
// mke2fs -d, then sets each file's Xattrs inside the image with debugfs
// ea_set, so no xattr support is needed on the host's filesystem. Ship the
// result as a File, add Ext4Modules to Options.Modules and call
// `mount_ext4 IMAGE DIR` in the script. Use it when a test needs a real
// disk filesystem; File.Xattrs on the tmpfs rootfs is the lighter way.
// Paths are limited to [A-Za-z0-9._+-] components (debugfs quoting).
func Ext4Image(files []File, size int64) ([]byte, error) {
	if size < 1<<20 || size > MaxExt4ImageSize {
		return nil, fmt.Errorf("vmtest: ext4 image size %d outside 1 MiB..%d", size, MaxExt4ImageSize)
	}
	for _, tool := range []string{"mke2fs", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("vmtest: %s not found (apt-get install e2fsprogs)", tool)
		}
	}
	work, err := os.MkdirTemp("", "vmtest-ext4-")
	if err != nil {
		return nil, fmt.Errorf("vmtest: %w", err)
	}
	defer os.RemoveAll(work)
	stage := filepath.Join(work, "root")
	if err := os.Mkdir(stage, 0o755); err != nil {
		return nil, fmt.Errorf("vmtest: %w", err)
	}
	var cmds strings.Builder
	for i, f := range files {
		if !ext4PathRE.MatchString(f.Path) || path.Clean(f.Path) != f.Path {
			return nil, fmt.Errorf("vmtest: ext4 file %d: path %q must be absolute with [A-Za-z0-9._+-] components", i, f.Path)
		}
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		dst := filepath.Join(stage, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("vmtest: %w", err)
		}
		if err := os.WriteFile(dst, f.Data, mode); err != nil {
			return nil, fmt.Errorf("vmtest: %w", err)
		}
		if err := os.Chmod(dst, mode); err != nil {
			return nil, fmt.Errorf("vmtest: %w", err)
		}
		names := make([]string, 0, len(f.Xattrs))
		for n := range f.Xattrs {
			names = append(names, n)
		}
		sort.Strings(names)
		for j, n := range names {
			if !xattrNameRE.MatchString(n) {
				return nil, fmt.Errorf("vmtest: ext4 file %s: bad xattr name %q", f.Path, n)
			}
			vf := filepath.Join(work, fmt.Sprintf("xattr-%d-%d", i, j))
			if err := os.WriteFile(vf, f.Xattrs[n], 0o600); err != nil {
				return nil, fmt.Errorf("vmtest: %w", err)
			}
			fmt.Fprintf(&cmds, "ea_set -f %s %s %s\n", vf, f.Path, n)
		}
	}
	img := filepath.Join(work, "ext4.img")
	mk := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-d", stage, "-L", "vmtest", img, fmt.Sprintf("%dk", size>>10))
	if out, err := mk.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("vmtest: mke2fs: %v: %s", err, lastLines(string(out), 3))
	}
	if cmds.Len() > 0 {
		cf := filepath.Join(work, "debugfs.cmds")
		if err := os.WriteFile(cf, []byte(cmds.String()), 0o600); err != nil {
			return nil, fmt.Errorf("vmtest: %w", err)
		}
		// debugfs reports per-command failures on stderr but exits 0, so
		// any output that is not the command echo counts as failure.
		out, err := exec.Command("debugfs", "-w", "-f", cf, img).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("vmtest: debugfs: %v: %s", err, lastLines(string(out), 3))
		}
		for _, l := range strings.Split(string(out), "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "debugfs ") || strings.HasPrefix(l, "debugfs:") {
				continue
			}
			return nil, fmt.Errorf("vmtest: debugfs ea_set: %s", l)
		}
	}
	return os.ReadFile(img)
}
