package runtime

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/pkg/oci"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// noteNS writes the note the wrapper leaves when it creates id's namespace.
func (h *harness) noteNS(t *testing.T, id string) {
	t.Helper()
	p := h.w.Store.PendingNSPath(id)
	os.MkdirAll(filepath.Dir(p), 0o700)
	if err := os.WriteFile(p, []byte("4026532000"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// deadOwner writes the owner note of a wrapper that has ended, which ran
// /usr/local/sbin/runc --root /other.
func deadOwner(t *testing.T, s record.Store, id string) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p, _ := record.ProcOf(cmd.Process.Pid)
	cmd.Process.Kill()
	cmd.Wait()
	b, _ := json.Marshal(record.Owner{Proc: p, Runtime: "/usr/local/sbin/runc", Global: []string{"--root", "/other"}})
	if err := os.WriteFile(s.OwnerPath(id), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// deadNote notes a process that has ended.
func deadNote(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := record.WriteProcNote(path, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	cmd.Wait()
}

func (h *harness) expectRefused(t *testing.T, status int, want string) {
	t.Helper()
	out := h.stderr.String()
	if status != 1 || h.execArgv != nil || h.k.Joined != 0 || !strings.Contains(out, want) || strings.Count(out, "\n") != 1 {
		t.Errorf("status %d exec %q joined %d stderr %q, want one line with %q", status, h.execArgv, h.k.Joined, out, want)
	}
}

// The wrapper's own records decide that a container has an IMA namespace:
// when the runtime's state cannot be read (it fails, or prints more than
// the wrapper reads), the exec is refused, never passed through into the
// host's namespace.
func TestExecStateFailsButNamespaceNoted(t *testing.T) {
	stateErr := errors.New("runc state running: output larger than 1048576 bytes")
	for name, prep := range map[string]func(t *testing.T, h *harness){
		"wrapper's note": func(t *testing.T, h *harness) { h.noteNS(t, "running") },
		"hook's record": func(t *testing.T, h *harness) {
			if err := h.w.Store.WriteLive(record.Record{ContainerID: "running", NS: 7, Result: "applied"}); err != nil {
				t.Fatal(err)
			}
		},
		"mandatory": func(t *testing.T, h *harness) { h.w.Mandatory = true },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, map[string]string{"io.imans.enable": "true"})
			prep(t, h)
			h.w.State = func(string, []string, string, []string) (*specs.State, error) { return nil, stateErr }
			h.expectRefused(t, h.run("exec running sh"), "ima-hook: ima-runtime exec: container running has an IMA namespace")
		})
	}
	// Nothing noted, not mandatory: the runtime reports the missing
	// container itself.
	h := newHarness(t, nil)
	h.w.State = func(string, []string, string, []string) (*specs.State, error) { return nil, stateErr }
	if h.run("exec running sh"); h.execArgv == nil {
		t.Errorf("exec into an unknown container not passed through: %s", h.stderr.String())
	}
}

// A noted namespace is joined even when the state's annotations (and the
// bundle's) say nothing of IMA.
func TestExecJoinsNotedNamespace(t *testing.T) {
	h := newHarness(t, map[string]string{"other": "x"})
	h.noteNS(t, "running")
	h.run("exec running sh")
	if h.k.Joined != 4242 || h.execArgv != nil {
		t.Errorf("joined %d exec %q stderr %q", h.k.Joined, h.execArgv, h.stderr.String())
	}
}

func writeBigConfig(t *testing.T, dir string, ann map[string]string) {
	t.Helper()
	ann["org.example.big"] = strings.Repeat("b", oci.MaxConfigSize)
	writeConfig(t, dir, "config.json", ann)
}

// A config past the whole-read bound is refused only for a container that
// asks for IMA.
func TestCreateLargeConfig(t *testing.T) {
	h := newHarness(t, nil)
	writeBigConfig(t, h.bundle, map[string]string{"io.imans.enable": "false"})
	h.run("create --bundle BUNDLE c")
	if h.execArgv == nil || h.k.Spawned != nil {
		t.Errorf("large config without IMA not passed through: %s", h.stderr.String())
	}
	h = newHarness(t, nil)
	writeBigConfig(t, h.bundle, map[string]string{"io.imans.enable": "true"})
	h.expectRefused(t, h.run("create --bundle BUNDLE c"), "a container that asks for IMA may have a config of at most 16777216")
	if h.k.Spawned != nil {
		t.Error("spawned")
	}
}

// A FIFO as config.json is refused at once, not waited on.
func TestCreateFIFOConfig(t *testing.T) {
	h := newHarness(t, nil)
	os.Remove(filepath.Join(h.bundle, "config.json"))
	if err := syscall.Mkfifo(filepath.Join(h.bundle, "config.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { done <- h.run("create --bundle BUNDLE c") }()
	select {
	case st := <-done:
		h.expectRefused(t, st, "named pipe (FIFO), not a regular file")
	case <-time.After(5 * time.Second):
		t.Fatal("the wrapper blocked on a FIFO config.json")
	}
}

// create notes its own process as the namespace's owner, and removes the
// notes of containers that are gone; it refuses to overwrite the notes of
// a container that still runs.
func TestCreateNotesAndSweeps(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	s := h.w.Store
	h.noteNS(t, "gone")
	deadNote(t, s.OwnerPath("gone"))
	deadNote(t, s.InitPath("gone"))
	h.noteNS(t, "alive")
	if err := record.WriteProcNote(s.InitPath("alive"), os.Getpid()); err != nil {
		t.Fatal(err)
	}
	// Started without the hook: no init noted; the runtime its owner ran
	// (with its --root) is asked.
	for _, id := range []string{"hookless", "deleted"} {
		h.noteNS(t, id)
		deadOwner(t, s, id)
	}
	var asked []string
	h.w.State = func(rt string, global []string, id string, env []string) (*specs.State, error) {
		asked = append(asked, rt+" "+strings.Join(global, " ")+" state "+id)
		if id == "hookless" {
			return &specs.State{ID: id, Pid: os.Getpid(), Status: "running"}, nil
		}
		return nil, errors.New("container does not exist")
	}
	h.run("create --bundle BUNDLE ctr1")
	slices.Sort(asked)
	if !slices.Equal(asked, []string{"/usr/local/sbin/runc --root /other state deleted", "/usr/local/sbin/runc --root /other state hookless"}) {
		t.Errorf("asked %q", asked)
	}
	if !s.HasNSNote("hookless") || s.HasNotes("deleted") {
		t.Errorf("hookless kept %v, deleted kept %v", s.HasNSNote("hookless"), s.HasNotes("deleted"))
	}
	if h.k.Spawned == nil {
		t.Fatalf("no spawn: %s", h.stderr.String())
	}
	if o, err := s.ReadOwner("ctr1"); err != nil || o.PID != os.Getpid() || o.Runtime != "/usr/sbin/runc" {
		t.Errorf("owner note %+v %v", o, err)
	}
	if s.HasNotes("gone") || !s.HasNSNote("alive") {
		t.Errorf("sweep: gone kept %v, alive kept %v", s.HasNotes("gone"), s.HasNSNote("alive"))
	}
	h = newHarness(t, map[string]string{"io.imans.enable": "true"})
	h.w.Store = s
	h.expectRefused(t, h.run("create --bundle BUNDLE alive"), "container alive already exists")
	if h.k.Spawned != nil {
		t.Error("spawned over a live container's notes")
	}
}

// delete through the wrapper removes the container's notes once the
// runtime deleted it; a container without notes is deleted by a plain exec.
func TestDeleteRemovesNotes(t *testing.T) {
	h := newHarness(t, nil)
	s := h.w.Store
	h.run("delete --force plain")
	if h.execArgv == nil || h.childArgv != nil {
		t.Errorf("delete without notes: exec %q child %q", h.execArgv, h.childArgv)
	}
	h.noteNS(t, "c1")
	deadNote(t, s.InitPath("c1"))
	h.childExit = 1
	if st := h.run("delete c1"); st != 1 || !s.HasNSNote("c1") {
		t.Errorf("failed delete: status %d, notes kept %v", st, s.HasNSNote("c1"))
	}
	h.childExit = 0
	if st := h.run("--root /r delete --force c1"); st != 0 || s.HasNotes("c1") || strings.Join(h.childArgv, " ") != "/usr/sbin/runc --root /r delete --force c1" {
		t.Errorf("delete: status %d, notes kept %v, child %q", st, s.HasNotes("c1"), h.childArgv)
	}
}

// After the constructor's hand-off fork the engine waits on the parent,
// not on this process: the owner note names the pid the wrapper is given
// (Wrapper.PID), which lives as long as the runtime.
func TestOwnerNoteNamesTheWaitingProcess(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	h.w.PID = os.Getppid()
	h.run("create --bundle BUNDLE ctr1")
	if h.k.Spawned == nil {
		t.Fatalf("no spawn: %s", h.stderr.String())
	}
	o, err := h.w.Store.ReadOwner("ctr1")
	if err != nil || o.PID != os.Getppid() {
		t.Fatalf("owner note %+v %v, want pid %d", o, err, os.Getppid())
	}
	if !o.Alive() {
		t.Error("the owner note does not name the live waiting process")
	}
}
