// Package vmtest boots Debian's stock 6.1 kernel (CONFIG_IMA=y) under
// qemu with a busybox initramfs, runs a shell script as root inside the
// guest and hands back what the script exported. Tests in other packages use
// it as an oracle for behaviour only a real IMA kernel shows: which policy
// rules the kernel accepts, what a real measurement list looks like, how
// appraisal treats signed files. See docs/vm-oracle.md.
//
// Typical use:
//
//	if r := vmtest.Unavailable(); r != "" {
//		t.Skip(r)
//	}
//	res, err := vmtest.Run(ctx, vmtest.Options{Script: "export_file /sys/kernel/security/ima/ascii_runtime_measurements list"})
package vmtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// File is placed into the guest's root filesystem (the initramfs, a tmpfs).
type File struct {
	Path string // absolute guest path; parent directories are created
	Data []byte
	Mode os.FileMode // permission bits; 0 means 0644
	// Xattrs are set inside the guest with setfattr before Script runs
	// (cpio cannot carry xattrs). The rootfs is tmpfs, and Debian's kernel
	// has CONFIG_TMPFS_XATTR=y, so security.ima set this way is what IMA
	// appraisal reads. Setting any Xattrs adds the host's setfattr to the
	// guest (package attr).
	Xattrs map[string][]byte
}

// Options describe one guest run.
type Options struct {
	// Script is a busybox sh script run as root inside the guest after /init
	// mounted proc, sysfs, securityfs and devtmpfs. It can call
	// `export_file GUEST_PATH NAME` to hand a file back in Result.Files.
	Script string
	// Files are extra files placed into the initramfs.
	Files []File
	// Cmdline is appended to the kernel command line, e.g.
	// "ima_policy=tcb ima_template=ima-ng ima_hash=sha256".
	Cmdline string
	// TPM starts swtpm (TPM 2.0, PCR banks sha1 and sha256) and attaches it
	// as tpm-tis; the guest then has /sys/class/tpm/tpm0.
	TPM bool
	// Timeout bounds the whole run (TPM setup, boot, script, power-off).
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// HostTools are host executables (names looked up in $PATH, or absolute
	// paths) copied into the guest at the same path together with the shared
	// libraries ldd reports, e.g. "keyctl", "evmctl".
	HostTools []string
	// Modules are kernel modules (names as in lsmod, e.g. "ext4",
	// "virtio_blk") loaded with insmod, dependencies first, before Script
	// runs. Only the module trees Kernel unpacks are available
	// (fs, drivers/block, drivers/virtio, lib, crypto, security, net/9p).
	Modules []string
}

// Result is what one guest run produced.
type Result struct {
	// Console is everything the guest printed on ttyS0 (kernel log and the
	// script's stdout/stderr), with exported payloads replaced by one line
	// each. Bounded by MaxConsole.
	Console string
	// Files holds the files the script exported with export_file, by NAME.
	Files map[string][]byte
	// ExitCode is the exit status of Script.
	ExitCode int
	// Elapsed is the wall time from starting qemu to its exit.
	Elapsed time.Duration
}

const (
	// DefaultTimeout applies when Options.Timeout is zero.
	DefaultTimeout = 120 * time.Second
	// MaxConsole bounds the raw console stream (kernel log, script output
	// and base64 payloads); a guest that prints more is killed.
	MaxConsole = 64 << 20
	// MaxFiles bounds the number of exported files.
	MaxFiles = 256
)

// ErrIncomplete is wrapped by Run's error when the guest stopped before the
// script finished (kernel panic, timeout, qemu failure).
var ErrIncomplete = errors.New("guest did not finish the script")

var availOnce struct {
	sync.Once
	reason string
}

// Unavailable tells why a guest cannot be booted on this machine, or "" when
// it can. It may download the kernel (see Kernel) on its first call.
// Setting IMA_HOOK_VM_SKIP to a non-empty value makes it always report a
// reason, for developers who do not want the slow tests.
func Unavailable() string {
	if os.Getenv("IMA_HOOK_VM_SKIP") != "" {
		return "vmtest: IMA_HOOK_VM_SKIP is set"
	}
	availOnce.Do(func() { availOnce.reason = unavailable() })
	return availOnce.reason
}

func unavailable() string {
	if _, err := exec.LookPath(qemuBinary); err != nil {
		return "vmtest: " + qemuBinary + " not found (apt-get install qemu-system-x86)"
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		return "vmtest: cpio not found (apt-get install cpio)"
	}
	if _, err := staticBusybox(); err != nil {
		return "vmtest: " + err.Error()
	}
	if _, _, err := Kernel(); err != nil {
		return "vmtest: kernel unavailable: " + err.Error()
	}
	return ""
}

// TPMUnavailable tells why Options.TPM cannot be used here ("" when it can).
func TPMUnavailable() string {
	if r := Unavailable(); r != "" {
		return r
	}
	for _, tool := range []string{"swtpm", "swtpm_setup"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "vmtest: " + tool + " not found (apt-get install swtpm swtpm-tools)"
		}
	}
	return ""
}

// Run boots the guest, runs opt.Script and returns the console and the
// exported files. It returns an error (wrapping ErrIncomplete) when the
// guest did not reach the end of the script; a script that exits non-zero is
// not an error: see Result.ExitCode.
func Run(ctx context.Context, opt Options) (*Result, error) {
	if r := Unavailable(); r != "" {
		return nil, errors.New(r)
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	timeout = time.Duration(float64(timeout) * timeoutFactor())
	// Waiting for a guest slot does not count against the timeout: with
	// `go test ./...` several packages boot guests at once, and TCG guests
	// sharing a core each take several times longer.
	release, err := acquireSlot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	vmlinuz, _, modDir, err := kernelTree()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "vmtest-")
	if err != nil {
		return nil, fmt.Errorf("vmtest: %w", err)
	}
	defer os.RemoveAll(work)

	var tokBytes [8]byte
	if _, err := rand.Read(tokBytes[:]); err != nil {
		return nil, fmt.Errorf("vmtest: %w", err)
	}
	token := hex.EncodeToString(tokBytes[:])

	initrd := filepath.Join(work, "initrd.cpio")
	if err := buildInitramfs(initrd, filepath.Join(work, "root"), modDir, token, opt); err != nil {
		return nil, err
	}

	args := []string{
		"-accel", accel(), "-cpu", cpuModel(), "-m", "512",
		"-nographic", "-nodefaults", "-no-user-config", "-serial", "stdio",
		"-no-reboot",
		"-kernel", vmlinuz, "-initrd", initrd,
		"-append", kernelCmdline(opt.Cmdline),
	}
	if opt.TPM {
		if r := TPMUnavailable(); r != "" {
			return nil, errors.New(r)
		}
		stop, tpmArgs, err := startTPM(ctx, filepath.Join(work, "tpm"))
		if err != nil {
			return nil, err
		}
		defer stop()
		args = append(args, tpmArgs...)
	}
	return runQEMU(ctx, args, token, timeout)
}

const qemuBinary = "qemu-system-x86_64"

// timeoutFactor scales every Timeout by $IMA_HOOK_VM_TIMEOUT_FACTOR (a
// positive number, default 1): TCG speed follows the host's load, and a
// busy CI machine was seen to need 10x the idle boot time.
func timeoutFactor() float64 {
	if s := os.Getenv("IMA_HOOK_VM_TIMEOUT_FACTOR"); s != "" {
		if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f <= 100 {
			return f
		}
	}
	return 1
}

// accel is "tcg" unless IMA_HOOK_VM_ACCEL says otherwise: KVM was seen to
// fail on one build machine (docs/vm-oracle.md), TCG boots everywhere.
func accel() string {
	if a := os.Getenv("IMA_HOOK_VM_ACCEL"); a != "" {
		return a
	}
	return "tcg"
}

func cpuModel() string {
	if c := os.Getenv("IMA_HOOK_VM_CPU"); c != "" {
		return c
	}
	return "max"
}

// kernelCmdline: console on the first UART; panic=-1 plus qemu's
// -no-reboot turns a kernel panic into a qemu exit instead of a hang.
func kernelCmdline(extra string) string {
	base := "console=ttyS0 panic=-1 rdinit=/init"
	if s := strings.TrimSpace(extra); s != "" {
		return base + " " + s
	}
	return base
}

// maxGuests is how many guests may run at once on this machine, across
// processes: $IMA_HOOK_VM_PARALLEL or the number of CPUs (a TCG guest keeps
// one core busy).
func maxGuests() int {
	if s := os.Getenv("IMA_HOOK_VM_PARALLEL"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 && n <= 64 {
			return n
		}
	}
	return max(1, runtime.NumCPU())
}

// acquireSlot takes one of maxGuests() flock'ed slot files in CacheDir,
// polling until ctx ends. The kernel drops the lock if the process dies.
func acquireSlot(ctx context.Context) (func(), error) {
	dir := CacheDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("vmtest: %w", err)
	}
	n := maxGuests()
	for {
		for i := 0; i < n; i++ {
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf(".guest-slot-%d", i)), os.O_CREATE|os.O_RDWR, 0o644)
			if err != nil {
				return nil, fmt.Errorf("vmtest: guest slot: %w", err)
			}
			if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
				return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
			}
			f.Close()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("vmtest: waiting for a free guest slot (%d in use): %w", n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
