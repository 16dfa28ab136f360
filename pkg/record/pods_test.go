package record

import (
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/ima-hook/ima-hook/pkg/kube"
)

func TestPodLives(t *testing.T) {
	s := testStore(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	id := func(ns, pod, uid, ctr string, sandbox bool) *kube.Identity {
		return &kube.Identity{Namespace: ns, Pod: pod, PodUID: uid, Container: ctr, Sandbox: sandbox, Engine: kube.Containerd}
	}
	// An earlier pod default/web (uid u1), archived; the current one (u2)
	// with two app containers, one archived; its sandbox; another pod; a
	// container outside Kubernetes.
	_, err := s.Archive(Record{ContainerID: "old-a", Kubernetes: id("default", "web", "u1", "a", false), Time: t0}, nil)
	must(err)
	must(s.WriteLive(Record{ContainerID: "sb", Kubernetes: id("default", "web", "u2", "", true), Time: t0.Add(time.Hour)}))
	must(s.WriteLive(Record{ContainerID: "new-a", Kubernetes: id("default", "web", "u2", "a", false), Time: t0.Add(2 * time.Hour)}))
	_, err = s.Archive(Record{ContainerID: "new-b", Kubernetes: id("default", "web", "u2", "b", false), Time: t0.Add(3 * time.Hour)}, nil)
	must(err)
	must(s.WriteLive(Record{ContainerID: "other", Kubernetes: id("shop", "web", "u3", "a", false), Time: t0}))
	must(s.WriteLive(Record{ContainerID: "plain", Names: []string{"web"}, Time: t0}))

	ids := func(lives []Life) (out []string) {
		for _, l := range lives {
			out = append(out, l.ContainerID)
		}
		return out
	}
	for _, c := range []struct {
		ns, pod, ctr string
		want         []string
	}{
		{"default", "web", "", []string{"new-a", "new-b"}},
		{"default", "web", "b", []string{"new-b"}},
		{"shop", "web", "", []string{"other"}},
	} {
		got, err := s.PodLives(c.ns, c.pod, c.ctr)
		if err != nil || len(got) != len(c.want) || (len(got) > 0 && ids(got)[0] != c.want[0]) || (len(got) > 1 && ids(got)[1] != c.want[1]) {
			t.Errorf("PodLives(%s, %s, %q) = %v, %v; want %v", c.ns, c.pod, c.ctr, ids(got), err, c.want)
		}
	}
	for _, c := range [][3]string{{"default", "web", "c"}, {"default", "nope", ""}, {"", "web", ""}} {
		if _, err := s.PodLives(c[0], c[1], c[2]); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("PodLives(%q): want not found, got %v", c, err)
		}
	}
}

func TestPodNamespaceOwners(t *testing.T) {
	s := testStore(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	who := func(sid, ctr string, sandbox bool) *kube.Identity {
		return &kube.Identity{Namespace: "default", Pod: "web", SandboxID: sid, Container: ctr, Sandbox: sandbox}
	}
	must(s.WriteLive(Record{ContainerID: "b", Kubernetes: who("s1", "b", false), NS: 7, Result: "applied", Time: t0.Add(time.Minute)}))
	must(s.WriteLive(Record{ContainerID: "a", Kubernetes: who("s1", "a", false), NS: 7, Result: "applied", Time: t0}))
	must(s.WriteLive(Record{ContainerID: "sb", Kubernetes: who("s1", "", true), NS: 7, Result: "applied", Time: t0}))
	must(s.WriteLive(Record{ContainerID: "refused", Kubernetes: who("s1", "c", false), NS: 7, Result: "failed: x", Time: t0}))
	must(s.WriteLive(Record{ContainerID: "skipped", Kubernetes: who("s1", "d", false), Result: "skipped: x", Time: t0}))
	must(s.WriteLive(Record{ContainerID: "other", Kubernetes: who("s2", "a", false), NS: 8, Result: "applied", Time: t0}))
	_, err := s.Archive(Record{ContainerID: "stopped", Kubernetes: who("s1", "e", false), NS: 7, Result: "applied", Time: t0}, nil)
	must(err)
	got, err := s.PodNamespaceOwners("s1")
	if err != nil || len(got) != 2 || got[0].ContainerID != "a" || got[1].ContainerID != "b" {
		t.Fatalf("owners %+v %v", got, err)
	}
	if got, err := s.PodNamespaceOwners(""); err != nil || got != nil {
		t.Fatalf("no sandbox id: %v %v", got, err)
	}
}
