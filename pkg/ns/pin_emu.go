//go:build imaemu

package ns

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/ns/emukernel"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
)

// The emulated kernel has no /proc/<pid>/ns/ima to bind-mount: a pin is the
// same empty placeholder file, registered with the emulator, which counts
// it as a reference on the namespace until Unpin (emukernel/pin.go).

const stageEmuView = "emu-view"

var _ Pinner = (*emuKernel)(nil)

func (e *emuKernel) Pin(pid int, expect imansid.ID, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o400)
	if err != nil {
		return err
	}
	f.Close()
	id, err := e.k.Pin(pid, path)
	if err == nil && id != expect {
		_ = e.k.Unpin(path)
		err = fmt.Errorf("pid %d is in IMA namespace %d, expected %d", pid, id, expect)
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

func (e *emuKernel) PinnedNamespace(path string) (imansid.ID, error) {
	id, err := e.k.PinnedNS(path)
	return id, err
}

// PinnedView joins through the pin from the single-threaded stage, as on
// the kernel, and renders the list the emulator shows a task there.
func (e *emuKernel) PinnedView(path string, expect imansid.ID, max int64) ([]byte, error) {
	cmd, err := nsenter.Command(nsenter.StagePlan{Stage: stageEmuView})
	if err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env, envViewPinPath+"="+path)
	return runViewStage(cmd, expect, max)
}

// Unpin is umount then unlink; a placeholder the emulator does not know
// (a crash between create and registration) is only removed.
func (e *emuKernel) Unpin(path string) error {
	if err := e.k.Unpin(path); err != nil && !errors.Is(err, unix.EINVAL) {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (e *emuKernel) NamespacesInUse() (map[imansid.ID]bool, error) {
	ids, err := e.k.InUse()
	used := make(map[imansid.ID]bool, len(ids))
	for _, id := range ids {
		used[id] = true
	}
	return used, err
}

// serveEmuView is RunStage's emu-view stage.
func serveEmuView(k *emukernel.Kernel) int {
	self := os.Getpid()
	var joinErr error
	return serveView(func() (imansid.ID, error) {
		id, err := k.SetnsPinned(self, os.Getenv(envViewPinPath), nsenter.SingleThreadedEntry())
		joinErr = err
		return id, err
	}, func() (io.ReadCloser, error) {
		if joinErr != nil {
			return nil, joinErr
		}
		entries, err := k.Entries(self)
		if err != nil {
			return nil, err
		}
		sw, err := k.Switches()
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := RenderEmulated(&buf, entries, true, sw); err != nil {
			return nil, err
		}
		return io.NopCloser(&buf), nil
	})
}
