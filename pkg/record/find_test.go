package record

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"
)

func TestFind(t *testing.T) {
	s := testStore(t)
	const (
		web = "4f1c2a9e0b7d4c3a8e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a291800"
		db  = "4f1c99990b7d4c3a8e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a291811"
		old = "7a0000000000000000000000000000000000000000000000000000000000000a"
	)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.WriteLive(Record{ContainerID: web, Names: []string{"web", "default/shop/web"}, Time: t0}))
	must(s.WriteLive(Record{ContainerID: db, Names: []string{"db"}, Time: t0}))
	_, err := s.Archive(Record{ContainerID: old, Names: []string{"batch"}, Time: t0}, nil)
	must(err)
	// A name two containers share (a pod author may set any annotation).
	must(s.WriteLive(Record{ContainerID: "x1", Names: []string{"dup"}, Time: t0}))
	_, err = s.Archive(Record{ContainerID: "x2", Names: []string{"dup"}, Time: t0.Add(time.Minute)}, nil)
	must(err)
	// Not records: the wrapper's notes and a log in the run directory.
	must(s.PrepareNotes(web))
	must(os.WriteFile(s.RunDir+"/ima-hook.log", nil, 0o600))

	for _, c := range []struct{ query, id, by string }{
		{web, web, ByID},
		{"web", web, ByName},
		{"default/shop/web", web, ByName},
		{"batch", old, ByName},
		{web[:12], web, ByPrefix},
		{"4f1c2", web, ByPrefix},
		{"7", old, ByPrefix},
		{"x1", "x1", ByID},
	} {
		id, by, err := s.Find(c.query)
		if err != nil || id != c.id || by != c.by {
			t.Errorf("Find(%q) = %q, %q, %v; want %q by %s", c.query, id, by, err, c.id, c.by)
		}
	}
	for _, c := range []struct {
		query, by string
		n         int
	}{{"4f1c", ByPrefix, 2}, {"dup", ByName, 2}, {"x", ByPrefix, 2}} {
		_, _, err := s.Find(c.query)
		var amb *AmbiguousError
		if !errors.As(err, &amb) || amb.By != c.by || len(amb.Candidates) != c.n {
			t.Errorf("Find(%q): want ambiguous by %s among %d, got %v", c.query, c.by, c.n, err)
			continue
		}
		for _, cand := range amb.Candidates {
			if !strings.Contains(err.Error(), cand.ID) {
				t.Errorf("%q: %v does not list %s", c.query, err, cand.ID)
			}
		}
	}
	for _, q := range []string{"nope", "ima-hook.log", "created", "../lib", "4f1c2a9e0b7d4c3a8e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a291800ff"} {
		if _, _, err := s.Find(q); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Find(%q): want not found, got %v", q, err)
		}
	}
	if _, _, err := s.Find(""); err == nil {
		t.Error("empty query accepted")
	}
}

func TestEngineNames(t *testing.T) {
	for _, c := range []struct {
		ann  map[string]string
		want []string
	}{
		{map[string]string{"nerdctl/name": "web"}, []string{"web"}},
		{map[string]string{ // containerd's CRI plugin
			"io.kubernetes.cri.container-name": "web", "io.kubernetes.cri.sandbox-name": "shop", "io.kubernetes.cri.sandbox-namespace": "default",
		}, []string{"web", "default/shop/web"}},
		{map[string]string{ // CRI-O
			"io.kubernetes.container.name": "web", "io.kubernetes.pod.name": "shop", "io.kubernetes.pod.namespace": "default",
			"io.kubernetes.cri-o.ContainerName": "k8s_web_shop_default_0a1b_0",
		}, []string{"web", "k8s_web_shop_default_0a1b_0", "default/shop/web"}},
		{map[string]string{"io.container.manager": "libpod", "io.podman.annotations.autoremove": "TRUE"}, nil}, // podman: none
		{map[string]string{"nerdctl/name": "a b"}, nil},
		{map[string]string{"nerdctl/name": "\x1b[31mred"}, nil},
		{map[string]string{"nerdctl/name": strings.Repeat("n", 254)}, nil},
		{nil, nil},
	} {
		got := EngineNames(c.ann)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%v: %q, want %q", c.ann, got, c.want)
		}
	}
}

func FuzzEngineNames(f *testing.F) {
	f.Add("web", "shop", "default")
	f.Add("a\x00b", "", "x")
	f.Fuzz(func(t *testing.T, ctr, pod, ns string) {
		for _, n := range EngineNames(map[string]string{"nerdctl/name": ctr, "io.kubernetes.cri.container-name": ctr,
			"io.kubernetes.cri.sandbox-name": pod, "io.kubernetes.cri.sandbox-namespace": ns}) {
			if !printableName(n) || strings.ContainsAny(n, " \n\t\x00") {
				t.Fatalf("name %q recorded", n)
			}
		}
	})
}
