//go:build imaemu

package emukernel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// The capability checks of the IMA-namespace code are ns_capable(X,
// CAP_SYS_ADMIN) for some user namespace X (the owner of a namespace, or the
// caller's own). The emulator decides them from the real process: its
// effective capabilities (CapEff in /proc/<pid>/status, which are relative
// to its own user namespace), its effective uid, and the chain of user
// namespaces from its own up to the initial one (nsfs ioctls), so rootless
// and user-namespace flows fail here exactly where the kernel's
// cap_capable makes them fail.

const capSysAdmin = 21

// initUserNSIno is PROC_USER_INIT_INO, the initial user namespace's inode.
const initUserNSIno = 0xEFFFFFFD

// userNS is one user namespace of a chain: its nsfs inode and the uid
// (as the initial namespace sees it) of the process that created it.
type userNS struct {
	Ino      uint64 `json:"ino"`
	OwnerUID uint32 `json:"owner_uid"`
}

// cred is what cap_capable looks at.
type cred struct {
	chain    []userNS // chain[0] is the task's own user namespace, the last the initial one
	sysAdmin bool     // CAP_SYS_ADMIN in the effective set (relative to chain[0])
	euid     uint32
	threads  int
}

// nsfs ioctls (linux/nsfs.h).
const (
	nsGetParent   = 0xb702 // _IO(0xb7, 0x2)
	nsGetOwnerUID = 0xb704 // _IO(0xb7, 0x4)
)

// procCred reads pid's credentials.
func procCred(pid int) (cred, error) {
	var c cred
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return c, err
	}
	var haveCap, haveUID bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		switch k {
		case "CapEff":
			if len(f) != 1 {
				return c, fmt.Errorf("/proc/%d/status: CapEff %q", pid, v)
			}
			caps, err := strconv.ParseUint(f[0], 16, 64)
			if err != nil {
				return c, fmt.Errorf("/proc/%d/status: CapEff: %w", pid, err)
			}
			c.sysAdmin, haveCap = caps&(1<<capSysAdmin) != 0, true
		case "Uid":
			if len(f) < 2 {
				return c, fmt.Errorf("/proc/%d/status: Uid %q", pid, v)
			}
			u, err := strconv.ParseUint(f[1], 10, 32)
			if err != nil {
				return c, fmt.Errorf("/proc/%d/status: Uid: %w", pid, err)
			}
			c.euid, haveUID = uint32(u), true
		case "Threads":
			if len(f) == 1 {
				c.threads, _ = strconv.Atoi(f[0])
			}
		}
	}
	if !haveCap || !haveUID {
		return c, fmt.Errorf("/proc/%d/status: no CapEff or Uid line", pid)
	}
	c.chain, err = userNSChain(pid)
	return c, err
}

// userNSChain returns pid's user namespace and its ancestors.
func userNSChain(pid int) ([]userNS, error) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("user namespace of %d: %w", pid, err)
	}
	var chain []userNS
	for depth := 0; ; depth++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, err
		}
		var uid uint32
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), nsGetOwnerUID, uintptr(unsafe.Pointer(&uid))); errno != 0 {
			unix.Close(fd)
			return nil, fmt.Errorf("NS_GET_OWNER_UID: %w", errno)
		}
		chain = append(chain, userNS{Ino: st.Ino, OwnerUID: uid})
		parent, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), nsGetParent, 0)
		unix.Close(fd)
		if errno != 0 {
			// EPERM: no parent we may see: the initial namespace, or the
			// top of what the calling process may see (the emulator runs
			// in each caller, e.g. a rootless wrapper inside its own user
			// namespace); the chain always ends at the initial one.
			if errors.Is(errno, unix.EPERM) {
				if chain[len(chain)-1].Ino != initUserNSIno {
					chain = append(chain, userNS{Ino: initUserNSIno})
				}
				return chain, nil
			}
			return nil, fmt.Errorf("NS_GET_PARENT: %w", errno)
		}
		if depth > 32 { // user namespaces nest at most 32 deep
			unix.Close(int(parent))
			return nil, errors.New("user namespace chain deeper than 32")
		}
		fd = int(parent)
	}
}

// cred is procCred through the transaction's cache.
func (s *state) cred(pid int) (cred, error) {
	if c, ok := s.creds[pid]; ok {
		return c, nil
	}
	c, err := procCred(pid)
	if err != nil {
		return c, err
	}
	if s.creds == nil {
		s.creds = map[int]cred{}
	}
	s.creds[pid] = c
	return c, nil
}

// capable is ns_capable(target, CAP_SYS_ADMIN) for c (cap_capable): walking
// from target up, c has the capability if it lives in that namespace and
// has it effective, or owns that namespace's child on the way (the creator
// of a user namespace holds every capability in it from the parent). A nil
// target is the initial user namespace.
func (c cred) capable(target []userNS) bool {
	if len(c.chain) == 0 {
		return false
	}
	if target == nil {
		target = []userNS{{Ino: initUserNSIno}}
	}
	own := c.chain[0].Ino
	for i, ns := range target {
		if ns.Ino == own {
			return c.sysAdmin
		}
		if i+1 < len(target) && target[i+1].Ino == own && ns.OwnerUID == c.euid {
			return true
		}
	}
	return false
}

// ownerOf returns the owner user namespace chain of namespace id (nil:
// the initial user namespace, which owns the initial IMA namespace).
func (s *state) ownerOf(id imansid.ID) []userNS {
	if n := s.ns(id); n != nil {
		return n.Owner
	}
	return nil
}

// requireCap fails with EPERM unless pid has CAP_SYS_ADMIN over owner.
func (s *state) requireCap(pid int, owner []userNS, op, why string) error {
	c, err := s.cred(pid)
	if err != nil {
		return err
	}
	if !c.capable(owner) {
		return opErr(op, unix.EPERM, why)
	}
	return nil
}
