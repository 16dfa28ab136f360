package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// jsonErr names the byte offset (and line) of a JSON error.
func jsonErr(err error, b []byte) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v (byte %d, line %d)", se, se.Offset, lineOf(b, se.Offset))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%v (byte %d, line %d)", te, te.Offset, lineOf(b, te.Offset))
	}
	return err.Error()
}

func lineOf(b []byte, off int64) int {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}
