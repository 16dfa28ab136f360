package runtime

import (
	"errors"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// io.imans.scope=pod: a container whose settings name the pod's namespace
// owners is born in the first of them that runs; when none runs it creates
// the namespace itself.
func TestCreateJoinsThePodNamespace(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	resolve := h.w.Resolve
	h.w.Resolve = func(a map[string]string) (*Settings, error) {
		s, err := resolve(a)
		if s != nil {
			s.Join = []string{"gone", "running"}
		}
		return s, err
	}
	h.run("--root /r create --bundle BUNDLE --pid-file /p ctr2")
	if h.k.Spawned != nil || h.k.Joined != 4242 ||
		!reflect.DeepEqual(h.k.Join.Argv, []string{"/usr/sbin/runc", "--root", "/r", "create", "--bundle", h.bundle, "--pid-file", "/p", "ctr2"}) {
		t.Fatalf("spawned %v, joined %d argv %q; stderr %q", h.k.Spawned, h.k.Joined, h.k.Join.Argv, h.stderr.String())
	}

	h = newHarness(t, map[string]string{"io.imans.enable": "true"})
	resolve = h.w.Resolve
	h.w.Resolve = func(a map[string]string) (*Settings, error) {
		s, err := resolve(a)
		if s != nil {
			s.Join = []string{"gone", "ctr3"} // none runs (and never itself)
		}
		return s, err
	}
	h.run("--root /r create --bundle BUNDLE ctr3")
	if h.k.Spawned == nil || h.k.Joined != 0 {
		t.Fatalf("first container of the pod: spawned %v joined %d", h.k.Spawned, h.k.Joined)
	}
}

// A container started in its pod's namespace (it created nothing, so it has
// no nsid note) is noted by the wrapper all the same: an exec into it while
// the runtime's state cannot be read is refused in one line, never passed
// through into the host's namespace, even with no hook record to go by
// (the hook did not run, or its record is unreadable).
func TestExecIntoJoinedContainerStateFails(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	resolve := h.w.Resolve
	h.w.Resolve = func(a map[string]string) (*Settings, error) {
		s, err := resolve(a)
		if s != nil {
			s.Join = []string{"running"}
		}
		return s, err
	}
	h.run("--root /r create --bundle BUNDLE joiner")
	if h.k.Joined != 4242 || h.k.Spawned != nil {
		t.Fatalf("create: joined %d spawned %v; stderr %q", h.k.Joined, h.k.Spawned, h.stderr.String())
	}
	if owner, ok := h.w.Store.ReadJoinedNote("joiner"); !ok || owner != "running" {
		t.Errorf("join note: %q %v", owner, ok)
	}
	h.k.Joined = 0
	h.stderr.Reset()
	h.w.State = func(string, []string, string, []string) (*specs.State, error) {
		return nil, errors.New("runc state joiner: simulated failure")
	}
	h.expectRefused(t, h.run("exec joiner sh"), "ima-hook: ima-runtime exec: container joiner has an IMA namespace (the wrapper started it in the pod's namespace of running")

	// delete removes the join note with the others (once the wrapper that
	// noted them has ended).
	deadOwner(t, h.w.Store, "joiner")
	h.stderr.Reset()
	if st := h.run("delete joiner"); st != 0 || h.w.Store.HasNotes("joiner") {
		t.Errorf("delete: status %d, notes left %v; stderr %q", st, h.w.Store.HasNotes("joiner"), h.stderr.String())
	}
}
