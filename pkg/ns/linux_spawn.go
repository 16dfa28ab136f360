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

// spawnKind is the namespace type the runtime wrapper creates and joins. The
// release build uses IMA; the timens test build (linux_spawn_timens.go)
// swaps in time namespaces, which follow the same pending -> configured ->
// born-into rules on a real kernel (docs/testing.md, layer 2).
type spawnKindT struct {
	name       string // /proc/<pid>/ns/<name>
	flag       uint64 // unshare flag
	writes     func(k *linuxKernel, req SpawnRequest) []nsenter.Write
	missing    func(k *linuxKernel) string
	childrenNS string // /proc/self/ns/<childrenNS> names the new namespace after unshare
}

var spawnKind = spawnKindT{
	name:       "ima",
	flag:       CloneNewIMA,
	childrenNS: "ima_for_children",
	writes: func(k *linuxKernel, req SpawnRequest) []nsenter.Write {
		// ima_write_*_for_children take the value verbatim (no trimming: a
		// trailing newline would become part of the x509 path), one write each.
		var w []nsenter.Write
		if req.Kcmd != "" {
			w = append(w, nsenter.Write{Path: filepath.Join(k.secfs, "kcmd_for_children"), Data: req.Kcmd})
		}
		if req.X509Path != "" {
			w = append(w, nsenter.Write{Path: filepath.Join(k.secfs, "x509_for_children"), Data: req.X509Path})
		}
		return w
	},
	missing: func(k *linuxKernel) string { return k.Probe().Missing() },
}

// SpawnMissing says why Spawn cannot work on this kernel ("" when it can).
// The wrapper asks this rather than Probe so that the timens test build can
// answer for time namespaces.
func (k *linuxKernel) SpawnMissing() string { return spawnKind.missing(k) }

// SpawnNamespace names the namespace type Spawn creates ("ima", or "time" in
// the timens test build), for messages and logs.
func (k *linuxKernel) SpawnNamespace() string { return spawnKind.name }

// Spawn re-executes this binary into the C stage (nsenter), which unshares
// the namespace, writes its configuration, records its id and forks: the
// child execs the runtime and is born into the namespace (imans_on_fork
// activates it); the parent waits and passes the status through. All of it
// happens before the Go runtime starts, because after unshare(CLONE_NEWIMA)
// copy_process refuses threads (EINVAL).
func (k *linuxKernel) Spawn(req SpawnRequest) error {
	if len(req.Argv) == 0 || !filepath.IsAbs(req.Argv[0]) {
		return fmt.Errorf("spawn: the runtime path must be absolute, got %q", req.Argv)
	}
	p := nsenter.Plan{
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
	err = nsenter.Exec(nsenter.Plan{SetnsFD: int(f.Fd()), Exec: req.Argv, Env: req.Env,
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
