//go:build imaemu

package ns

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A join that must land in a container's namespace refuses a process in
// the caller's own (the host's: the container's init pid reused by a host
// process) before anything is executed.
func TestJoinRefusesTheCallersOwnNamespace(t *testing.T) {
	t.Setenv(EmuDirEnv, filepath.Join(t.TempDir(), "emu"))
	k := Default()
	err := k.JoinAndExec(os.Getpid(), ExecRequest{Argv: []string{"/bin/true"}, RefuseOwn: true})
	if !errors.Is(err, ErrJoinOwn) {
		t.Fatalf("join of a host process: %v", err)
	}
}
