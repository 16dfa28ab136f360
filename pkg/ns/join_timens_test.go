//go:build linux && timens && !imaemu

package ns

import (
	"errors"
	"os"
	"testing"
)

// The timens build's kernel (time namespaces stand in for IMA ones) refuses
// to join a process in the caller's own namespace when asked to, judging
// the namespace file opened under the pidfd, before anything is executed.
func TestJoinRefusesTheCallersOwnNamespace(t *testing.T) {
	k := Default()
	err := k.JoinAndExec(os.Getpid(), ExecRequest{Argv: []string{"/bin/true"}, RefuseOwn: true})
	if !errors.Is(err, ErrJoinOwn) {
		t.Fatalf("join of a host process: %v", err)
	}
}
