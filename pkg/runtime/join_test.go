package runtime

import (
	"reflect"
	"testing"
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
