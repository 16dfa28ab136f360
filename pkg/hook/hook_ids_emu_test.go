//go:build imaemu

package hook

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// An id that is no file name is refused only when the container asks for
// IMA; without IMA the hook has nothing to do, whatever the id.
func TestUnsafeIDOnlyRefusedForIMA(t *testing.T) {
	e := setup(t)
	pid := e.container("plain", "", false)
	if err := e.hook.CreateRuntime(state("web+1", pid, map[string]string{"other": "x"})); err != nil {
		t.Errorf("container without IMA refused for its id: %v", err)
	}
	err := e.hook.CreateRuntime(state("web+1", pid, map[string]string{config.AnnEnable: "true"}))
	if err == nil || !strings.Contains(err.Error(), "not a safe file name") {
		t.Errorf("IMA container with id web+1: %v", err)
	}
	// poststop with a hostile id touches no file outside the run dir.
	outside := filepath.Join(e.dir, "run", "victim.nsid")
	os.MkdirAll(filepath.Dir(outside), 0o700)
	os.WriteFile(outside, []byte("1"), 0o600)
	if err := e.hook.Poststop(&specs.State{ID: "../victim", Status: "stopped"}); err != nil {
		t.Errorf("poststop: %v", err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("poststop removed a file outside created/: %v", err)
	}
}

// createRuntime notes the init process of a container in a namespace the
// wrapper created (record.Store.NoteLive), and poststop removes every note.
func TestInitNotedAndNotesRemoved(t *testing.T) {
	e := setup(t)
	ann := map[string]string{config.AnnEnable: "true"}
	pid := e.container("n1", "ima_policy=tcb", true)
	if err := e.hook.CreateRuntime(state("n1", pid, ann)); err != nil {
		t.Fatal(err)
	}
	p, err := record.ReadProcNote(e.hook.Store.InitPath("n1"))
	if err != nil || p.PID != pid || !p.Alive() || !e.hook.Store.NoteLive("n1") {
		t.Fatalf("init note %+v %v", p, err)
	}
	if err := e.hook.Poststop(&specs.State{ID: "n1", Status: "stopped"}); err != nil {
		t.Fatal(err)
	}
	if e.hook.Store.HasNotes("n1") {
		t.Error("poststop left notes")
	}
}

// The hook reads config.json when the state carries no annotations: a
// FIFO there is refused at once, not waited on.
func TestConfigFIFORefused(t *testing.T) {
	e := setup(t)
	bundle := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(bundle, "config.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.hook.CreateRuntime(&specs.State{ID: "f1", Pid: os.Getpid(), Bundle: bundle}) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe (FIFO), not a regular file") {
			t.Errorf("%v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hook blocked on a FIFO config.json")
	}
}
