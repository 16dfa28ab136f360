package ns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// A container's measurement view is read from inside its own namespace:
// there ima_measurements_start/next skip every entry whose internal ns_id
// is not the reader's, whatever template the entry was logged with. On the
// newest openEuler code namespace entries use the host's template (ima-ng
// unless the host boots with ima_template=ima-ns), so from the host they
// carry no namespace id and cannot be told apart (docs/kernel-abi.md,
// "Measurement list" and "ima-ns template"). Reading from inside after the container
// stopped needs the namespace to outlive its last task: the hook pins it at
// createRuntime with a bind mount of /proc/<pid>/ns/ima, as `ip netns add`
// pins network namespaces, reads the view through the pin at poststop and
// then drops it. While pinned, the kernel cannot hand the id to another
// namespace (ns_alloc_inum), so the id in records stays unambiguous.

// Pinner is what both kernels of this package offer besides Kernel: a file
// that keeps a namespace alive after its last task, so that its own view
// can still be read.
type Pinner interface {
	// Pin makes path (created here, it must not exist) hold pid's active
	// IMA namespace, which must be expect.
	Pin(pid int, expect imansid.ID, path string) error
	// PinnedNamespace returns the namespace path holds.
	PinnedNamespace(path string) (imansid.ID, error)
	// PinnedView returns the binary measurement list as a task inside the
	// pinned namespace reads it (the kernel filters it by each entry's own
	// namespace, whatever the template), at most max bytes.
	PinnedView(path string, expect imansid.ID, max int64) ([]byte, error)
	// Unpin drops the pin and removes path.
	Unpin(path string) error
	// NamespacesInUse returns the namespaces a live task is in or will give
	// birth into (one scan of every process).
	NamespacesInUse() (map[imansid.ID]bool, error)
}

// PinDir is where the hook keeps its pins under the run dir.
func PinDir(runDir string) string { return filepath.Join(runDir, "ns") }

// PinName is the file name of container id's pin of namespace ns: the id
// names the life of the container, as no other namespace can have it
// while the pin exists.
func PinName(containerID string, ns imansid.ID) string { return containerID + "-" + ns.String() }

// ParsePinName splits a PinName; ok is false for anything else (including
// the lock file and temporary names).
func ParsePinName(name string) (containerID string, ns imansid.ID, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return "", 0, false
	}
	digits := name[i+1:]
	if len(digits) > 10 || (len(digits) > 1 && digits[0] == '0') {
		return "", 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return "", 0, false
	}
	return name[:i], imansid.ID(n), true
}

// The view stage: a re-executed copy whose C stage joined the pinned
// namespace (imans_install wants a single-threaded caller) copies the
// binary list it reads there to stdout.
const (
	stageView      = "view"
	envViewExpect  = "_IMA_HOOK_VIEW_EXPECT"
	envViewMax     = "_IMA_HOOK_VIEW_MAX"
	envViewPinPath = "_IMA_HOOK_VIEW_PIN"
)

// ErrViewTooLarge is returned when a namespace's view exceeds the bound.
var ErrViewTooLarge = errors.New("the namespace's measurement view exceeds the size bound")

// runViewStage runs cmd (set up to join the namespace) and returns what it
// wrote, at most max bytes.
func runViewStage(cmd *exec.Cmd, expect imansid.ID, max int64) ([]byte, error) {
	cmd.Env = append(cmd.Env, envViewExpect+"="+expect.String(), envViewMax+"="+strconv.FormatInt(max, 10))
	ctx, cancel := context.WithTimeout(context.Background(), PopulateTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd.Stdin = nil
	over := &limitedWriter{w: &stdout, n: int(max) + 1}
	cmd.Stdout = over
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the view stage: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		return nil, fmt.Errorf("reading the namespace's view took longer than %s", PopulateTimeout)
	}
	if err != nil {
		msg := strings.TrimPrefix(firstLine(strings.TrimSpace(stderr.String())), "ima-hook: ")
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("reading the view inside namespace %d: %s", expect, msg)
	}
	if int64(stdout.Len()) > max {
		return nil, fmt.Errorf("%w (%d bytes)", ErrViewTooLarge, max)
	}
	return stdout.Bytes(), nil
}

// serveView is the stage's Go side: check that the process is in the
// expected namespace, then copy the list to stdout, bounded.
func serveView(self func() (imansid.ID, error), open func() (io.ReadCloser, error)) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "ima-hook: view stage: "+format+"\n", args...)
		return 1
	}
	expect, err := strconv.ParseUint(os.Getenv(envViewExpect), 10, 32)
	if err != nil {
		return fail("bad expected namespace: %v", err)
	}
	max, err := strconv.ParseInt(os.Getenv(envViewMax), 10, 64)
	if err != nil || max <= 0 {
		return fail("bad size bound %q", os.Getenv(envViewMax))
	}
	id, err := self()
	if err != nil {
		return fail("%v", err)
	}
	if id != imansid.ID(expect) {
		return fail("joined namespace %d through the pin, expected %d", id, expect)
	}
	rc, err := open()
	if err != nil {
		return fail("%v", err)
	}
	defer rc.Close()
	// One byte more than the bound, so the parent sees the overflow.
	if _, err := io.Copy(os.Stdout, io.LimitReader(rc, max+1)); err != nil {
		return fail("%v", err)
	}
	return 0
}
