//go:build linux && !imaemu

package ns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
)

// spawnKindT is the namespace type the runtime wrapper creates and joins.
// The release build uses IMA (linux_spawn_ima.go); the timens test build
// (linux_spawn_timens.go) uses time namespaces, which follow the same
// pending -> configured -> born-into rules on a real kernel
// (docs/testing.md, layer 2). Each build's file defines spawnKind.
type spawnKindT struct {
	name       string // /proc/<pid>/ns/<name>
	flag       uint64 // unshare flag
	writes     func(k *linuxKernel, req SpawnRequest) []nsenter.Write
	missing    func(k *linuxKernel) string
	childrenNS string // /proc/self/ns/<childrenNS> names the new namespace after unshare
}

// SpawnMissing says why Spawn cannot work on this kernel ("" when it can):
// for the namespace type this build creates.
func (k *linuxKernel) SpawnMissing() string { return spawnKind.missing(k) }

// Spawn re-executes this binary into the C stage (nsenter), or hands the
// plan to the constructor's waiting parent (nsenter's hand-off), which
// unshares the namespace, writes its configuration, records its id and
// forks: the child execs the runtime and is born into the namespace
// (imans_on_fork activates it); the parent waits and passes the status
// through. All of it happens in a process that runs no Go, because after
// unshare(CLONE_NEWIMA) copy_process refuses threads (EINVAL).
func (k *linuxKernel) Spawn(req SpawnRequest) error {
	if len(req.Argv) == 0 || !filepath.IsAbs(req.Argv[0]) {
		return fmt.Errorf("spawn: the runtime path must be absolute, got %q", req.Argv)
	}
	p := nsenter.StagePlan{
		Unshare: spawnKind.flag,
		Writes:  spawnKind.writes(k, req),
		Fork:    true,
		Exec:    req.Argv,
		Env:     req.Env,

		ErrorLog:     req.ErrorLog.Path,
		ErrorLogJSON: req.ErrorLog.JSON,
	}
	if req.NoteListStart != nil {
		if n, ok := readCount(filepath.Join(k.secfs, "runtime_measurements_count")); ok {
			if err := req.NoteListStart(n); err != nil {
				return fmt.Errorf("spawn: note the list start: %w", err)
			}
		}
	}
	if req.NSIDFile != "" {
		p.NSIDLink = filepath.Join(k.proc, "self/ns", spawnKind.childrenNS)
		p.NSIDFile = req.NSIDFile
	}
	return nsenter.Exec(p)
}

// JoinAndExec joins the active namespace of pid through an fd opened while a
// pidfd pins the process (so a recycled pid cannot send us elsewhere), then
// execs argv in the C stage: imans_install refuses a multi-threaded caller
// (EUSERS). Joining changes both ima_ns and ima_ns_for_children, so the
// runtime may start threads again.
func (k *linuxKernel) JoinAndExec(pid int, req ExecRequest) error {
	if pid <= 0 {
		return fmt.Errorf("join: invalid pid %d", pid)
	}
	pidfd, perr := unix.PidfdOpen(pid, 0)
	if perr != nil && !errors.Is(perr, unix.ENOSYS) {
		return fmt.Errorf("join: process %d: %w", pid, perr)
	}
	if perr == nil {
		defer unix.Close(pidfd)
	}
	nsPath := filepath.Join(k.proc, fmt.Sprint(pid), "ns", spawnKind.name)
	f, err := os.Open(nsPath)
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	defer f.Close()
	if perr == nil {
		// Still alive after the open: the fd is that process's namespace.
		if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
			return fmt.Errorf("join: process %d exited while its namespace was opened: %w", pid, err)
		}
	}
	if req.RefuseOwn {
		var got, own unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &got); err != nil {
			return fmt.Errorf("join: %w", err)
		}
		if err := unix.Stat(filepath.Join(k.proc, "self", "ns", spawnKind.name), &own); err != nil {
			return fmt.Errorf("join: %w", err)
		}
		if got.Ino == own.Ino && got.Dev == own.Dev {
			return fmt.Errorf("join: process %d: %w", pid, ErrJoinOwn)
		}
	}
	err = nsenter.Exec(nsenter.StagePlan{SetnsFD: int(f.Fd()), Exec: req.Argv, Env: req.Env,
		ErrorLog: req.ErrorLog.Path, ErrorLogJSON: req.ErrorLog.JSON})
	runtime.KeepAlive(f)
	return err
}

// readCount reads a measurement counter file; ok is false when the kernel
// has none (no IMA): the wrapper then refuses or passes through for other
// reasons.
func readCount(countFile string) (uint64, bool) {
	b, err := os.ReadFile(countFile)
	if err != nil {
		return 0, false
	}
	n, err := parseCounter(b)
	return n, err == nil
}
