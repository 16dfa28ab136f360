//go:build imaemu

package emukernel

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// Pins and the template of namespace entries.
//
// On the kernel a bind mount of /proc/<pid>/ns/ima holds a reference on the
// namespace (nsfs keeps the ns_common alive as long as the mount exists),
// so the namespace outlives its last task and its inum is not handed out
// again (ns_alloc_inum) until the mount goes. This directory's processes
// cannot make such a mount (there is no ima entry in /proc here), so a pin
// is a placeholder file registered in the state: the liveness scan
// (collect) counts it as a reference until Unpin, as umount is the only
// way to drop a kernel pin (unlinking a mount point fails with EBUSY).

// pin is one registered placeholder: the namespace and the file's identity,
// so that a file replaced under the same name is not taken for the pin.
type pin struct {
	NS  imansid.ID `json:"ns"`
	Dev uint64     `json:"dev"`
	Ino uint64     `json:"ino"`
}

// Template switch values (Switches.NSTemplate).
const (
	// NSTemplateKcmd: a namespace's entries use its own template (the
	// kcmd's ima_template= or CONFIG_IMA_DEFAULT_TEMPLATE): ima-ns,
	// carrying the namespace id.
	NSTemplateKcmd = "kcmd"
	// NSTemplateHost: every namespace's entries and its ns_aggregate use
	// the host's current template, ima_template_desc_current() in the
	// newest openEuler ima_ns.c: a host booted without
	// ima_template=ima-ns logs ima-ng entries with no namespace field.
	NSTemplateHost = "host"
	// hostBootTemplate is the host's boot template under NSTemplateHost
	// (the openEuler default, CONFIG_IMA_NG_TEMPLATE).
	hostBootTemplate = "ima-ng"
)

// entryTemplate is the template of an entry logged in namespace n (nil:
// the initial namespace).
func (s *state) entryTemplate(n *namespace) string {
	if s.Switches.NSTemplate == NSTemplateHost {
		return hostBootTemplate
	}
	if n == nil {
		return "ima-ns"
	}
	return n.Template
}

// HostTemplate is the template of the host list's entries as Probe reports
// it: ima-ng under NSTemplateHost, ima-ns otherwise.
func (k *Kernel) HostTemplate() (string, error) {
	var t string
	err := k.tx(func(s *state) error {
		t = s.entryTemplate(nil)
		return nil
	})
	return t, err
}

func fileID(path string) (dev, ino uint64, err error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, 0, fmt.Errorf("%s is not a regular file", path)
	}
	return uint64(st.Dev), st.Ino, nil
}

// Pin is `mount --bind /proc/<pid>/ns/ima path` by the caller: path must be
// an existing regular file (the mount point); the pin refers to pid's
// active namespace and keeps it alive. A second pin on the same path is
// refused (EBUSY) rather than stacked.
func (k *Kernel) Pin(pid int, path string) (imansid.ID, error) {
	var id imansid.ID
	err := k.tx(func(s *state) error {
		t, err := s.lookup(pid)
		if err != nil {
			return err
		}
		dev, ino, err := fileID(path)
		if err != nil {
			return opErr("mount", unix.ENOENT, err.Error())
		}
		if _, ok := s.Pins[path]; ok {
			return opErr("mount", unix.EBUSY, path+" is already a pin")
		}
		if s.Pins == nil {
			s.Pins = map[string]pin{}
		}
		s.Pins[path] = pin{NS: t.NS, Dev: dev, Ino: ino}
		id = t.NS
		return nil
	})
	return id, err
}

// PinnedNS is stat(path)'s inode on a pin: the namespace it holds. A path
// that is no pin, or whose file was replaced, is EINVAL, as a setns on a
// file that is not an nsfs inode.
func (k *Kernel) PinnedNS(path string) (imansid.ID, error) {
	var id imansid.ID
	err := k.tx(func(s *state) error {
		p, err := s.pinAt(path)
		id = p.NS
		return err
	})
	return id, err
}

func (s *state) pinAt(path string) (pin, error) {
	p, ok := s.Pins[path]
	if !ok {
		return pin{}, opErr("open pin", unix.EINVAL, path+" is not a namespace pin")
	}
	dev, ino, err := fileID(path)
	if err != nil || dev != p.Dev || ino != p.Ino {
		return pin{}, opErr("open pin", unix.EINVAL, path+" was replaced after it was pinned")
	}
	return p, nil
}

// Unpin is umount(path): the reference goes; the namespace dies when no
// task holds it either. Unlinking the placeholder is the caller's job.
func (k *Kernel) Unpin(path string) error {
	return k.tx(func(s *state) error {
		if _, ok := s.Pins[path]; !ok {
			return opErr("umount", unix.EINVAL, path+" is not a mount point")
		}
		delete(s.Pins, path)
		return nil
	})
}

// SetnsPinned is setns(open(path), 0) by pid: join the namespace a pin
// holds.
func (k *Kernel) SetnsPinned(pid int, path string, singleThreaded bool) (imansid.ID, error) {
	id, err := k.PinnedNS(path)
	if err != nil {
		return 0, err
	}
	return id, k.Setns(pid, id, singleThreaded)
}

// InUse returns the namespaces a live task has as its active or
// for_children namespace (what a scan of /proc/*/ns/ima{,_for_children}
// shows: a zombie's links are gone).
func (k *Kernel) InUse() ([]imansid.ID, error) {
	var ids []imansid.ID
	err := k.tx(func(s *state) error {
		s.collect()
		seen := map[imansid.ID]bool{}
		for _, t := range s.Tasks {
			if s.exited(t) {
				continue
			}
			for _, id := range []imansid.ID{t.NS, t.ForChildren} {
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
		return nil
	})
	return ids, err
}

// pinnedIDs are the namespaces pins keep alive, for collect.
func (s *state) pinnedIDs() []imansid.ID {
	ids := make([]imansid.ID, 0, len(s.Pins))
	for _, p := range s.Pins {
		ids = append(ids, p.NS)
	}
	return ids
}
