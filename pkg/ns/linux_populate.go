//go:build linux && !imaemu

package ns

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/keys"
	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
)

// The populate stage runs in a re-executed copy of the binary whose C stage
// (pkg/ns/nsenter) entered the target IMA namespace before the Go runtime
// started: imans_install refuses a multi-threaded caller with EUSERS, and a
// Go process always has threads by the time main runs. The parent sends the
// request as JSON on stdin and reads the answer as JSON on stdout.
const stagePopulate = "populate"

// Populate enters pid's IMA namespace from the single-threaded C stage and
// writes the policy and key there.
func (k *linuxKernel) Populate(pid int, req PopulateRequest) (PopulateResult, error) {
	// The pidfd pins the process: after opening its namespace file we check
	// that the same process is still alive, so a recycled pid cannot make us
	// populate somebody else's namespace.
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return PopulateResult{}, fmt.Errorf("pidfd_open(%d): %w", pid, err)
	}
	defer unix.Close(pidfd)
	nsFile, err := os.Open(filepath.Join(k.proc, fmt.Sprint(pid), "ns/ima"))
	if err != nil {
		return PopulateResult{}, fmt.Errorf("opening the IMA namespace of pid %d: %w", pid, err)
	}
	defer nsFile.Close()
	if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
		return PopulateResult{}, fmt.Errorf("container init %d exited before its namespace could be populated: %w", pid, err)
	}
	if alreadyInside(nsFile) {
		// Under the runtime wrapper the hook is born into the container's
		// namespace (runc is): the securityfs files already act on it
		// (get_current_ns), so there is nothing to enter.
		return populateHere(&linuxSecfs{dir: k.secfs}, req)
	}
	cmd, err := nsenter.Command(nsenter.StagePlan{SetnsFD: 3, Stage: stagePopulate})
	if err != nil {
		return PopulateResult{}, err
	}
	cmd.ExtraFiles = []*os.File{nsFile} // fd 3 in the child
	return runPopulateStage(cmd, req)
}

// alreadyInside reports whether this process's active and for_children
// IMA namespaces are both the one nsFile refers to.
func alreadyInside(nsFile *os.File) bool {
	var target, self, children unix.Stat_t
	if unix.Fstat(int(nsFile.Fd()), &target) != nil ||
		unix.Stat("/proc/self/ns/ima", &self) != nil ||
		unix.Stat("/proc/self/ns/ima_for_children", &children) != nil {
		return false
	}
	same := func(a, b *unix.Stat_t) bool { return a.Dev == b.Dev && a.Ino == b.Ino }
	return same(&target, &self) && same(&target, &children)
}

// RunStage runs the Go side of a re-executed stage; main calls it when
// nsenter.Stage() is not empty.
func RunStage(stage string) int {
	switch stage {
	case stagePopulate:
		k := newLinux()
		return serveStage(func(req PopulateRequest) (PopulateResult, error) {
			return populateHere(&linuxSecfs{dir: k.secfs}, req)
		})
	case stageView:
		return serveViewStage(newLinux()) // pin_linux.go
	}
	fmt.Fprintf(os.Stderr, "ima-hook: unknown internal stage %q\n", stage)
	return 2
}

type linuxSecfs struct{ dir string }

func (l *linuxSecfs) self() (imansid.ID, error) { return readNSLink("/proc/self/ns/ima") }

func (l *linuxSecfs) writePolicy(rules []string, path string) (int, error) {
	policyFile := filepath.Join(l.dir, "policy")
	f, err := os.OpenFile(policyFile, os.O_WRONLY, 0)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist):
			// ima_release_policy removes the file after the first load on
			// kernels without CONFIG_IMA_WRITE_POLICY, in every namespace.
			return 0, userror.Wrap(err, policyFile, "the IMA policy file is gone: this kernel lacks CONFIG_IMA_WRITE_POLICY and a policy was already loaded since boot",
				"use a kernel built with CONFIG_IMA_WRITE_POLICY=y, or give the policy through io.imans.kcmd ima_policy= built-ins")
		case errors.Is(err, syscall.EBUSY):
			return 0, userror.Wrap(err, policyFile, "another process is writing an IMA policy right now (EBUSY)", "retry the container start")
		}
		return 0, userror.Wrapf(err, policyFile, "run the hook as real root (CAP_SYS_ADMIN in the namespace owner)", "cannot open for writing")
	}
	written := 0
	var werr error
	if path != "" {
		// A leading '/' makes ima_write_policy read the file itself, which
		// lets a namespace that appraises POLICY_CHECK check its signature.
		if _, werr = f.Write([]byte(path)); werr == nil {
			written = 1
		}
	} else {
		for i, r := range rules {
			if _, werr = f.Write([]byte(r + "\n")); werr != nil {
				werr = fmt.Errorf("rule %d %s: %w", i+1, userror.Quote(r), werr)
				break
			}
			written++
		}
	}
	// On close ima_release_policy installs the staged rules only if every
	// write parsed; after a failed write it discards all of them, so the
	// namespace never gets half a policy.
	cerr := f.Close()
	if werr != nil {
		fix := "check the kernel's audit log for the reason; `ima-hook policy check` validates rules offline"
		if errors.Is(werr, syscall.EACCES) {
			fix = "this namespace appraises POLICY_CHECK (e.g. ima_policy=secure_boot): give a signed policy file with io.imans.policy"
		}
		return written, userror.Wrapf(werr, policyFile, fix, "the kernel refused the policy")
	}
	if cerr != nil {
		return written, userror.Wrapf(cerr, policyFile, "check the kernel log (dmesg)", "closing the policy file")
	}
	return written, nil
}

func (l *linuxSecfs) addKey(der []byte, keyring string) (int32, error) {
	if keyring == "" {
		keyring = "auto"
	}
	serial, ring, err := keys.AddToKeyring(der, keyring)
	if err != nil {
		return 0, userror.Wrapf(err, "keyring "+ring, "the key must be acceptable to the keyring (on CONFIG_INTEGRITY_TRUSTED_KEYRING kernels it must be signed by a trusted key)", "adding the appraisal key failed")
	}
	return serial, nil
}

func (l *linuxSecfs) keyIDs(keyring string) ([]uint32, error) {
	ids, _, err := keys.Keyrings{}.KeyIDsIn(keyring)
	return ids, err
}

func (l *linuxSecfs) counter(name string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(l.dir, name))
	if err != nil {
		return 0, err
	}
	return parseCounter(b)
}

func (l *linuxSecfs) hasAggregate(id imansid.ID) (bool, error) {
	f, err := os.Open(filepath.Join(l.dir, "ascii_runtime_measurements"))
	if err != nil {
		return false, err
	}
	defer f.Close()
	return scanForAggregate(f, id)
}

// firstTemplate reads the template name of the first entry of an ASCII list.
func firstTemplate(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 8192), 64<<10)
	if sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 3 {
			return fields[2]
		}
	}
	return ""
}

// scanForAggregate looks for id's ns_aggregate entry among the first lines
// of an ASCII measurement view. In a namespace's own view it is the first
// entry (added right after activation), so a short scan suffices.
func scanForAggregate(r io.Reader, id imansid.ID) (bool, error) {
	want := " " + measure.NSAggregateName(id)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	for i := 0; i < 64 && sc.Scan(); i++ {
		line := sc.Text()
		if strings.Contains(line, want+" ") || strings.HasSuffix(line, want) {
			return true, nil
		}
	}
	return false, sc.Err()
}

func parseCounter(b []byte) (uint64, error) {
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}
