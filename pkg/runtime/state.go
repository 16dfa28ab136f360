package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/pkg/oci"
)

const stateTimeout = 30 * time.Second

// RuntimeState runs `<runtime> <global flags> state <id>` (same --root as
// the exec it serves) and returns the container's state: pid, status,
// bundle, annotations. runc and crun print the OCI state plus a few fields.
// The output is read as a hook reads its state (oci.ReadState): whole up
// to the config bound, streamed past it, so that a container with large
// annotations (which runc prints indented) still has a state.
func RuntimeState(runtime string, global []string, id string, env []string) (*specs.State, error) {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	args := append(append(append([]string{}, global...), "state"), id)
	cmd := exec.CommandContext(ctx, runtime, args...)
	cmd.Env = env
	// Once the runtime is gone (or stopped), whatever it left holding our
	// pipes must not keep us waiting.
	cmd.WaitDelay = time.Second
	var stderr limitedBuffer
	stderr.max = 4096
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s state %s: %w", runtime, id, err)
	}
	st, rerr := oci.ReadState(stdout)
	stopped := false
	if rerr != nil {
		// Let a failing runtime finish and say why; stop one that has
		// more to say than was read.
		if n, _ := io.Copy(io.Discard, io.LimitReader(stdout, 1<<20)); n >= 1<<20 {
			cancel()
			stopped = true
		}
	}
	if err := cmd.Wait(); err != nil && !stopped {
		return nil, fmt.Errorf("%s state %s: %v: %s", runtime, id, err, strings.TrimSpace(stderr.String()))
	}
	if rerr != nil {
		return nil, fmt.Errorf("%s state %s: %w", runtime, id, rerr)
	}
	if st.ID != id {
		return nil, fmt.Errorf("%s state %s: the runtime answered for %q", runtime, id, st.ID)
	}
	return st, nil
}

// RunRuntime runs the runtime as a child with our stdio and returns its
// exit status (128+signal when a signal ended it), passing on the signals
// that would end the wrapper, so that the caller sees the runtime as if it
// had been exec'd.
func RunRuntime(path string, argv, env []string) (int, error) {
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}

// limitedBuffer keeps the first max bytes and notes an overflow, so a
// misbehaving runtime cannot make us hold unbounded output.
type limitedBuffer struct {
	strings.Builder
	max      int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		b.overflow = true
		if room > 0 {
			b.Builder.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Builder.Write(p)
}
