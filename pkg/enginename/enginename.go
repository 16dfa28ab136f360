// Package enginename asks the container engines on this machine which
// container a name means. podman and Docker keep a container's name in
// their own stores and put none into the OCI config.json the hook reads, so
// the records of their containers carry only ids; a user who names a
// container as the engine showed it is answered by asking that engine.
//
// The engines are run directly (never through a shell), only when their
// binary is on PATH, with the name after "--" so that it cannot be taken for
// a flag, each bounded in time and output; an answer must be a full
// 64-hex-digit container id.
package enginename

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/ima-hook/ima-hook/internal/userror"
)

// Engine is a command that prints the id of the container with a name.
type Engine struct {
	Name string
	// Args are the arguments before the name; the name follows "--".
	Args []string
}

// Engines are asked in this order. `container inspect` (not plain
// `inspect`, which also matches images, volumes and networks) with a Go
// template printing only the id.
var Engines = []Engine{
	{Name: "podman", Args: []string{"container", "inspect", "--format", "{{.Id}}"}},
	{Name: "docker", Args: []string{"container", "inspect", "--format", "{{.Id}}"}},
}

// Answer is what one engine said about a name.
type Answer struct {
	Engine string
	ID     string // the container's full id; "" when Err is set
	Err    error  // not on PATH, failed, timed out, or printed no id
}

// ErrNotOnPath: the engine's binary is not on PATH (it was not asked).
var ErrNotOnPath = errors.New("not on PATH")

// maxOutput bounds what an engine may print: one id is 65 bytes.
const maxOutput = 4 << 10

// isFullID says whether s is a full container id as the engines print it:
// 64 lower-case hex digits. A loop rather than a package-level regexp,
// which every ima-hook process (the runtime wrapper's pass-through
// included) would compile at start-up: 50 us of each start here.
func isFullID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Resolve asks each of engines for the id of the container called name,
// each within timeout, and returns every engine's answer in order.
func Resolve(ctx context.Context, engines []Engine, name string, timeout time.Duration) []Answer {
	answers := make([]Answer, 0, len(engines))
	for _, e := range engines {
		id, err := ask(ctx, e, name, timeout)
		answers = append(answers, Answer{Engine: e.Name, ID: id, Err: err})
	}
	return answers
}

func ask(ctx context.Context, e Engine, name string, timeout time.Duration) (string, error) {
	bin, err := exec.LookPath(e.Name)
	if err != nil {
		return "", ErrNotOnPath
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := append(append(append([]string{}, e.Args...), "--"), name)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr boundedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// An engine's helper processes may keep the pipes open after it is
	// killed: stop waiting for them shortly after.
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return "", fmt.Errorf("no answer within %s", timeout)
	}
	if err != nil {
		if msg := firstLine(stderr.String()); msg != "" {
			return "", fmt.Errorf("%s", msg)
		}
		return "", err
	}
	out := strings.TrimSpace(stdout.String())
	if !isFullID(out) {
		return "", fmt.Errorf("printed %s, not a container id", userror.Quote(firstLine(out)))
	}
	return out, nil
}

// firstLine is the first non-empty line of s as one printable line,
// bounded.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 200 {
				l = l[:200] + "..."
			}
			return userror.OneLine(l)
		}
	}
	return ""
}

// boundedBuffer keeps the first maxOutput bytes written to it and drops
// the rest, so that an engine printing without end cannot grow memory.
type boundedBuffer struct{ bytes.Buffer }

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
