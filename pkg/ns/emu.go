//go:build imaemu

package ns

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/kconfig"
	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/ns/emukernel"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
)

// EmuDirEnv names the emulator's state directory; every process of one
// test (wrapper, hook, tools) must see the same value.
const EmuDirEnv = "IMA_HOOK_EMU_DIR"

// DefaultEmuDir is used when EmuDirEnv is unset.
const DefaultEmuDir = "/run/ima-hook-emu"

// EmuBeforeForkEnv names a shell command the emulated build's wrapper runs
// after its checks and before it creates the namespace, whose first fork
// makes the kernel read x509_for_children: tests change files in that
// window.
const EmuBeforeForkEnv = "IMA_HOOK_EMU_BEFORE_FORK"

// EmuPolicyBusyWaitEnv shortens PolicyBusyWait in the emulated build's
// populate stage (a duration such as "300ms"), for tests of the EBUSY path.
const EmuPolicyBusyWaitEnv = "IMA_HOOK_EMU_POLICY_BUSY_WAIT"

const (
	stageEmuPopulate = "emu-populate"
	stageEmuJoin     = "emu-join"
	envEmuTarget     = "_IMA_HOOK_EMU_TARGET"
)

// emuKernel drives the emulated kernel through the same single-threaded
// re-exec path as the real one, so the plumbing is exercised in tests and
// the emulator can enforce imans_install's single-thread rule.
type emuKernel struct{ k *emukernel.Kernel }

var _ Kernel = (*emuKernel)(nil)

// Default returns the kernel of this build: the emulator.
func Default() Kernel {
	k, err := Emulator()
	if err != nil {
		fmt.Fprintln(os.Stderr, userror.Line(userror.Wrapf(err, EmuDirEnv, "set "+EmuDirEnv+" to a writable directory", "cannot open the emulated kernel")))
		os.Exit(1)
	}
	return &emuKernel{k: k}
}

// EmuDir is the emulator's state directory named by the environment.
func EmuDir() string {
	if dir := os.Getenv(EmuDirEnv); dir != "" {
		return dir
	}
	return DefaultEmuDir
}

// Emulator opens the emulated kernel named by the environment; the first
// process to open it creates it with the switches of its switches.json
// (emukernel.SwitchesFile), the defaults without one.
func Emulator() (*emukernel.Kernel, error) {
	return emukernel.OpenConfigured(EmuDir())
}

func (e *emuKernel) Probe() Features {
	f := Features{Kernel: "emulator", SecurityFSDir: filepath.Join(e.k.Dir(), "securityfs/ima"), SecurityFSMounted: true,
		IMA: true, Namespaces: true, KcmdForChildren: true, X509ForChildren: true, PolicyFile: true, PolicyWritable: true,
		ImaKeyring: ".ima", Template: e.hostTemplate(), SecureBoot: e.secureBoot()}
	if present, writable, err := e.k.PolicyFileState(); err == nil {
		f.PolicyFile, f.PolicyWritable = present, writable
	}
	// The emulated kernel's config, read like /proc/config.gz: from the
	// file its switches generated, if they make it readable.
	paths := []string{filepath.Join(e.k.Dir(), "no-kernel-config")}
	if p := e.k.KernelConfigPath(); p != "" {
		paths = []string{p}
	}
	if c, err := kconfig.Read(paths); err == nil {
		f.KernelConfig = c
	} else {
		f.KernelConfigError = err.Error()
	}
	return f
}

// SpawnMissing: the emulator creates IMA namespaces.
func (e *emuKernel) SpawnMissing() string { return e.Probe().Missing() }

// secureBoot is the emulated platform's secure boot (switch secure_boot).
func (e *emuKernel) secureBoot() bool {
	sw, err := e.k.Switches()
	return err == nil && sw.SecureBoot
}

// hostTemplate is the host list's template under the ns_template switch.
func (e *emuKernel) hostTemplate() string {
	if t, err := e.k.HostTemplate(); err == nil {
		return t
	}
	return ""
}

func (e *emuKernel) NamespaceOf(pid int) (imansid.ID, error) {
	active, _, err := e.k.TaskNamespaces(pid)
	return active, err
}

func (e *emuKernel) Populate(pid int, req PopulateRequest) (PopulateResult, error) {
	// As on the real kernel: a hook born into the container's namespace
	// (under the wrapper) populates it from where it is.
	target, _, err := e.k.TaskNamespaces(pid)
	if err != nil {
		return PopulateResult{}, err
	}
	self := os.Getpid()
	if active, children, err := e.k.TaskNamespaces(self); err == nil && active == target && children == target && target != emukernel.InitialNS {
		return populateHere(&emuSecfs{k: e.k, pid: self}, req)
	}
	cmd, err := nsenter.Command(nsenter.StagePlan{Stage: stageEmuPopulate})
	if err != nil {
		return PopulateResult{}, err
	}
	cmd.Env = append(cmd.Env, envEmuTarget+"="+strconv.Itoa(pid))
	return runPopulateStage(cmd, req)
}

func (e *emuKernel) Spawn(req SpawnRequest) error {
	self := os.Getpid()
	// Test hook point: after the wrapper's checks, before the namespace
	// exists (a child forked after the unshare would activate it).
	if hookCmd := os.Getenv(EmuBeforeForkEnv); hookCmd != "" {
		c := exec.Command("/bin/sh", "-c", hookCmd)
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("%s: %w", EmuBeforeForkEnv, err)
		}
	}
	if req.NoteListStart != nil {
		n, err := e.k.Counter(self, "runtime_measurements_count")
		if err != nil {
			return err
		}
		if err := req.NoteListStart(n); err != nil {
			return err
		}
	}
	id, err := e.k.Unshare(self)
	if err != nil {
		return err
	}
	if req.Kcmd != "" {
		if err := e.k.WriteForChildren(self, "kcmd_for_children", []byte(req.Kcmd)); err != nil {
			return err
		}
	}
	if req.X509Path != "" {
		if err := e.k.WriteForChildren(self, "x509_for_children", []byte(req.X509Path)); err != nil {
			return err
		}
	}
	if req.NoteNSID != nil {
		if err := req.NoteNSID(id); err != nil {
			return err
		}
	}
	// The re-exec keeps our pid and start time, so the emulator still
	// knows us as the unsharer; the C stage forks and execs the runtime,
	// which is then born into the pending namespace.
	return nsenter.Exec(nsenter.StagePlan{Fork: true, Exec: req.Argv, Env: req.Env,
		ErrorLog: req.ErrorLog.Path, ErrorLogJSON: req.ErrorLog.JSON})
}

func (e *emuKernel) JoinAndExec(pid int, req ExecRequest) error {
	argv, env := req.Argv, req.Env
	target, err := e.NamespaceOf(pid)
	if err != nil {
		return err
	}
	if req.RefuseOwn {
		own, err := e.NamespaceOf(os.Getpid())
		if err != nil {
			return err
		}
		if target == own {
			return fmt.Errorf("join: process %d: %w", pid, ErrJoinOwn)
		}
	}
	env = append(append([]string(nil), env...), envEmuTarget+"="+strconv.FormatUint(uint64(target), 10))
	// Re-exec through the C stage so the join happens single-threaded, then
	// exec the runtime from the same process (see RunStage).
	return nsenter.Exec(nsenter.StagePlan{Stage: stageEmuJoin, Env: append(env, "_IMA_HOOK_EMU_ARGV="+joinArgv(argv))})
}

func (e *emuKernel) OpenMeasurements(binary bool) (io.ReadCloser, error) {
	entries, err := e.k.Entries(os.Getpid())
	if err != nil {
		return nil, err
	}
	sw, err := e.k.Switches()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := RenderEmulated(&buf, entries, binary, sw); err != nil {
		return nil, err
	}
	return io.NopCloser(&buf), nil
}

// RunStage runs the Go side of a re-executed stage.
func RunStage(stage string) int {
	k, err := Emulator()
	if err != nil {
		fmt.Fprintln(os.Stderr, userror.Line(err))
		return 2
	}
	self := os.Getpid()
	if d, err := time.ParseDuration(os.Getenv(EmuPolicyBusyWaitEnv)); err == nil && d > 0 {
		PolicyBusyWait = d
	}
	switch stage {
	case stageEmuPopulate:
		return serveStage(func(req PopulateRequest) (PopulateResult, error) {
			pid, err := strconv.Atoi(os.Getenv(envEmuTarget))
			if err != nil {
				return PopulateResult{}, fmt.Errorf("emulator: bad target pid: %w", err)
			}
			target, _, err := k.TaskNamespaces(pid)
			if err != nil {
				return PopulateResult{}, err
			}
			if err := k.Setns(self, imansid.ID(target), nsenter.SingleThreadedEntry()); err != nil {
				return PopulateResult{}, err
			}
			return populateHere(&emuSecfs{k: k, pid: self}, req)
		})
	case stageEmuView:
		return serveEmuView(k) // pin_emu.go
	case stageEmuJoin:
		target, err := strconv.ParseUint(os.Getenv(envEmuTarget), 10, 32)
		if err == nil {
			err = k.Setns(self, imansid.ID(target), nsenter.SingleThreadedEntry())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, userror.Line(userror.Wrapf(err, "IMA namespace", "is the container running?", "joining the container's namespace failed")))
			return 1
		}
		argv := splitArgv(os.Getenv("_IMA_HOOK_EMU_ARGV"))
		env := withoutEnv(os.Environ(), envEmuTarget, "_IMA_HOOK_EMU_ARGV")
		if len(argv) == 0 {
			fmt.Fprintln(os.Stderr, "ima-hook: emulator join: no command")
			return 2
		}
		path, err := exec.LookPath(argv[0])
		if err == nil {
			err = syscall.Exec(path, argv, env)
		}
		fmt.Fprintf(os.Stderr, "ima-hook: exec %s: %v\n", argv[0], err)
		return 127
	}
	fmt.Fprintf(os.Stderr, "ima-hook: unknown internal stage %q\n", stage)
	return 2
}

type emuSecfs struct {
	k   *emukernel.Kernel
	pid int
}

func (s *emuSecfs) self() (imansid.ID, error) {
	a, _, err := s.k.TaskNamespaces(s.pid)
	return a, err
}

func (s *emuSecfs) writePolicy(rules []string, path string) (int, error) {
	if err := s.k.OpenPolicy(s.pid); err != nil {
		return 0, userror.Wrapf(err, "policy", "", "opening the emulated policy file")
	}
	written := 0
	var werr error
	if path != "" {
		if werr = s.k.WritePolicy(s.pid, path); werr == nil {
			written = 1
		}
	} else {
		writes := make([]string, len(rules))
		for i, r := range rules {
			writes[i] = r + "\n"
		}
		written, werr = s.k.WritePolicies(s.pid, writes)
		if werr != nil {
			werr = fmt.Errorf("rule %d %s: %w", written+1, userror.Quote(rules[written]), werr)
		}
	}
	cerr := s.k.ClosePolicy(s.pid)
	if werr != nil {
		return written, userror.Wrapf(werr, "policy", "see `ima-hook policy check`", "the kernel refused the policy")
	}
	return written, cerr
}

func (s *emuSecfs) addKey(der []byte, keyring string) (int32, error) { return s.k.AddKey(s.pid, der) }

func (s *emuSecfs) counter(name string) (uint64, error) { return s.k.Counter(s.pid, name) }

func (s *emuSecfs) keyIDs(keyring string) ([]uint32, error) { return s.k.KeyIDs(s.pid) }

func (s *emuSecfs) hasAggregate(id imansid.ID) (bool, error) {
	entries, err := s.k.Entries(s.pid)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if e.Name == measure.NSAggregateName(id) && e.NS == id {
			return true, nil
		}
	}
	return false, nil
}
