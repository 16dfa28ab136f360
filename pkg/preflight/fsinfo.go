package preflight

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Filesystem magics (include/uapi/linux/magic.h) and the names the kernel
// registers them under (file_system_type.name, what fsname= compares).
const (
	MagicOverlay uint32 = 0x794c7630
	MagicTmpfs   uint32 = 0x01021994
	MagicExt4    uint32 = 0xef53
	MagicXFS     uint32 = 0x58465342
	MagicBtrfs   uint32 = 0x9123683e
)

var fsNames = map[uint32]string{
	MagicOverlay: "overlay",
	MagicTmpfs:   "tmpfs",
	MagicExt4:    "ext4", // also ext2/ext3 share the magic; ext4 drives them on modern kernels
	MagicXFS:     "xfs",
	MagicBtrfs:   "btrfs",
	0x858458f6:   "ramfs",
	0x6969:       "nfs",
	0x65735546:   "fuse",
	0x73717368:   "squashfs",
	0x9fa0:       "proc",
	0x62656572:   "sysfs",
}

// FSInfo is the filesystem the container sees its rootfs files on, for
// fsmagic=, fsname= and fsuuid= conditions.
type FSInfo struct {
	Magic uint32 `json:"magic"`
	Name  string `json:"name,omitempty"` // "" when unknown: fsname= conditions stay undecided
	UUID  string `json:"uuid,omitempty"` // "" when unknown: fsuuid= conditions stay undecided
}

func (f FSInfo) String() string {
	s := fmt.Sprintf("0x%x", f.Magic)
	if f.Name != "" {
		s = f.Name + " (" + s + ")"
	}
	if f.UUID != "" {
		s += " uuid " + f.UUID
	}
	return s
}

// FSNameOf returns the kernel's name for a filesystem magic, "" if unknown.
func FSNameOf(magic uint32) string { return fsNames[magic] }

// ParseFSMagic reads "overlay", "tmpfs", "ext4", ... or a number
// ("0x794c7630").
func ParseFSMagic(s string) (uint32, error) {
	for m, n := range fsNames {
		if strings.EqualFold(s, n) {
			return m, nil
		}
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("filesystem %q: want a name (overlay, tmpfs, ext4, xfs, btrfs) or a hexadecimal magic such as 0x794c7630", s)
	}
	return uint32(n), nil
}

// DetectFS reports the filesystem a directory is on (statfs). At
// createRuntime the hook sees the container's mounted root (for podman and
// containerd the overlay mount itself), so this is the filesystem the
// container will see; for an unpacked rootfs directory that a runtime will
// later mount through overlayfs it is not.
func DetectFS(dir string) (FSInfo, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return FSInfo{}, fmt.Errorf("statfs %s: %w", dir, err)
	}
	m := uint32(st.Type)
	return FSInfo{Magic: m, Name: FSNameOf(m)}, nil
}
