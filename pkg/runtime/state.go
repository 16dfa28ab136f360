package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/pkg/oci"
)

const (
	maxStateOutput = 1 << 20
	stateTimeout   = 30 * time.Second
)

// RuntimeState runs `<runtime> <global flags> state <id>` (same --root as
// the exec it serves) and returns the container's state: pid, status,
// bundle, annotations. runc and crun print the OCI state plus a few fields.
func RuntimeState(runtime string, global []string, id string, env []string) (*specs.State, error) {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	args := append(append(append([]string{}, global...), "state"), id)
	cmd := exec.CommandContext(ctx, runtime, args...)
	cmd.Env = env
	var stdout limitedBuffer
	stdout.max = maxStateOutput
	var stderr limitedBuffer
	stderr.max = 4096
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s state %s: %v: %s", runtime, id, err, strings.TrimSpace(stderr.String()))
	}
	if stdout.overflow {
		return nil, fmt.Errorf("%s state %s: output larger than %d bytes", runtime, id, maxStateOutput)
	}
	st, err := oci.ReadState(bytes.NewReader(stdout.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("%s state %s: %w", runtime, id, err)
	}
	if st.ID != id {
		return nil, fmt.Errorf("%s state %s: the runtime answered for %q", runtime, id, st.ID)
	}
	return st, nil
}

// limitedBuffer keeps the first max bytes and notes an overflow, so a
// misbehaving runtime cannot make us hold unbounded output.
type limitedBuffer struct {
	bytes.Buffer
	max      int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		b.overflow = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
