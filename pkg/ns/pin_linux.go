//go:build linux && !imaemu

package ns

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
)

var _ Pinner = (*linuxKernel)(nil)

// Pin bind-mounts /proc/<pid>/ns/ima onto path. A pidfd keeps the pid from
// being recycled between opening its namespace file and checking that the
// file is the namespace expected.
func (k *linuxKernel) Pin(pid int, expect imansid.ID, path string) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open(%d): %w", pid, err)
	}
	defer unix.Close(pidfd)
	nsFile, err := os.Open(filepath.Join(k.proc, fmt.Sprint(pid), "ns/ima"))
	if err != nil {
		return fmt.Errorf("opening the IMA namespace of pid %d: %w", pid, err)
	}
	defer nsFile.Close()
	if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
		return fmt.Errorf("container init %d exited before its namespace could be pinned: %w", pid, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(nsFile.Fd()), &st); err != nil {
		return err
	}
	if imansid.ID(st.Ino) != expect {
		return fmt.Errorf("pid %d is in IMA namespace %d, expected %d", pid, st.Ino, expect)
	}
	return bindNamespace(nsFile, path)
}

func (k *linuxKernel) PinnedNamespace(path string) (imansid.ID, error) {
	ino, err := pinnedInode(path)
	return imansid.ID(ino), err
}

// PinnedView joins the pinned namespace in the C stage (setns on the pin
// file) and reads binary_runtime_measurements there.
func (k *linuxKernel) PinnedView(path string, expect imansid.ID, max int64) ([]byte, error) {
	cmd, err := nsenter.Command(nsenter.StagePlan{SetnsPath: path, Stage: stageView})
	if err != nil {
		return nil, err
	}
	return runViewStage(cmd, expect, max)
}

func (k *linuxKernel) Unpin(path string) error { return unbindNamespace(path) }

func (k *linuxKernel) NamespacesInUse() (map[imansid.ID]bool, error) {
	inos, err := namespacesInUse(k.proc, []string{"ima", "ima_for_children"})
	used := make(map[imansid.ID]bool, len(inos))
	for ino := range inos {
		used[imansid.ID(ino)] = true
	}
	return used, err
}

// serveViewStage is RunStage's view stage on the real kernel.
func serveViewStage(k *linuxKernel) int {
	return serveView(func() (imansid.ID, error) { return readNSLink("/proc/self/ns/ima") },
		func() (io.ReadCloser, error) { return os.Open(filepath.Join(k.secfs, "binary_runtime_measurements")) })
}
