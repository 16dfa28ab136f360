package kube

import (
	"strings"
	"testing"
)

// The annotations as containerd 1.6's CRI plugin wrote them into the
// config.json of a sandbox and an app container (captured from the CRI
// suite, tests/bats/cri-containerd.bats), and as CRI-O writes them.
var (
	ctrdSandbox = map[string]string{
		"io.kubernetes.cri.container-type":        "sandbox",
		"io.kubernetes.cri.sandbox-id":            "d9d3cb757049",
		"io.kubernetes.cri.sandbox-log-directory": "",
		"io.kubernetes.cri.sandbox-name":          "web",
		"io.kubernetes.cri.sandbox-namespace":     "default",
		"io.kubernetes.cri.sandbox-uid":           "uid-web-1",
	}
	ctrdApp = map[string]string{
		"io.kubernetes.cri.container-name":    "app",
		"io.kubernetes.cri.container-type":    "container",
		"io.kubernetes.cri.image-name":        "docker.io/library/ih-app:1",
		"io.kubernetes.cri.sandbox-id":        "d9d3cb757049",
		"io.kubernetes.cri.sandbox-name":      "web",
		"io.kubernetes.cri.sandbox-namespace": "default",
		"io.kubernetes.cri.sandbox-uid":       "uid-web-1",
	}
	crioSandbox = map[string]string{
		"io.kubernetes.cri-o.ContainerType": "sandbox",
		"io.kubernetes.cri-o.SandboxID":     "5f0e",
		"io.kubernetes.container.name":      "POD",
		"io.kubernetes.pod.name":            "web",
		"io.kubernetes.pod.namespace":       "shop",
		"io.kubernetes.pod.uid":             "1b2c",
	}
	crioApp = map[string]string{
		"io.kubernetes.cri-o.ContainerType": "container",
		"io.kubernetes.cri-o.SandboxID":     "5f0e",
		"io.kubernetes.container.name":      "app",
		"io.kubernetes.pod.name":            "web",
		"io.kubernetes.pod.namespace":       "shop",
		"io.kubernetes.pod.uid":             "1b2c",
	}
)

func TestFromAnnotations(t *testing.T) {
	for _, c := range []struct {
		name string
		ann  map[string]string
		want *Identity
		str  string
	}{
		{"containerd sandbox", ctrdSandbox, &Identity{Namespace: "default", Pod: "web", PodUID: "uid-web-1", SandboxID: "d9d3cb757049", Sandbox: true, Engine: Containerd},
			"pod=default/web container=(sandbox) pod_uid=uid-web-1"},
		{"containerd app", ctrdApp, &Identity{Namespace: "default", Pod: "web", PodUID: "uid-web-1", Container: "app", SandboxID: "d9d3cb757049", Engine: Containerd},
			"pod=default/web container=app pod_uid=uid-web-1"},
		{"cri-o sandbox", crioSandbox, &Identity{Namespace: "shop", Pod: "web", PodUID: "1b2c", SandboxID: "5f0e", Sandbox: true, Engine: CRIO},
			"pod=shop/web container=(sandbox) pod_uid=1b2c"},
		{"cri-o app", crioApp, &Identity{Namespace: "shop", Pod: "web", PodUID: "1b2c", Container: "app", SandboxID: "5f0e", Engine: CRIO},
			"pod=shop/web container=app pod_uid=1b2c"},
		{"no pod", map[string]string{"io.imans.enable": "true", "nerdctl/name": "x"}, nil, ""},
		{"a name with a slash is not a name", map[string]string{CtrdPodNamespace: "a/b", CtrdPodName: "web"}, nil, ""},
		{"a container name with a space is left out", map[string]string{CtrdPodNamespace: "ns", CtrdPodName: "web", CtrdContainerName: "a b"},
			&Identity{Namespace: "ns", Pod: "web", Engine: Containerd}, "pod=ns/web"},
		{"a type alone still marks the sandbox", map[string]string{CrioContainerType: "sandbox"}, &Identity{Sandbox: true, Engine: CRIO}, "pod=? container=(sandbox)"},
		{"too long", map[string]string{CtrdPodNamespace: strings.Repeat("n", MaxValue+1), CtrdPodName: "web"}, nil, ""},
	} {
		got := FromAnnotations(c.ann)
		switch {
		case (got == nil) != (c.want == nil):
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		case got != nil && *got != *c.want:
			t.Errorf("%s: got %+v, want %+v", c.name, *got, *c.want)
		}
		if s := got.String(); s != c.str {
			t.Errorf("%s: String %q, want %q", c.name, s, c.str)
		}
		if IsSandbox(c.ann) != (c.want != nil && c.want.Sandbox) {
			t.Errorf("%s: IsSandbox %v", c.name, IsSandbox(c.ann))
		}
	}
}

func FuzzFromAnnotations(f *testing.F) {
	f.Add("default", "web", "app", "uid", "sandbox", true)
	f.Add("a/b", "w\x00", "a b", "", "container", false)
	f.Fuzz(func(t *testing.T, ns, pod, ctr, uid, typ string, crio bool) {
		keys := engines[0]
		if crio {
			keys = engines[1]
		}
		id := FromAnnotations(map[string]string{keys.ns: ns, keys.pod: pod, keys.ctr: ctr, keys.uid: uid, keys.typ: typ})
		if id == nil {
			return
		}
		for _, v := range []string{id.Namespace, id.Pod, id.Container, id.PodUID, id.SandboxID} {
			if clean(v) != v || strings.ContainsAny(v, "/ \n\t\x00") || len(v) > MaxValue {
				t.Fatalf("value %q kept", v)
			}
		}
		if id.Sandbox && id.Container != "" {
			t.Fatalf("a sandbox with container name %q", id.Container)
		}
		if strings.Contains(id.String(), "\n") {
			t.Fatalf("log text %q has a newline", id.String())
		}
	})
}

// Under CRI-O a pod author's annotations reach every container's config,
// containerd's keys among them: they must not let the container pass for
// another pod's (its sandbox id would join that pod's io.imans.scope=pod
// namespace, its name would put the container's evidence under that pod)
// nor for a sandbox. CRI-O's own keys are believed.
func TestCRIOKeysWinOverForgedContainerdKeys(t *testing.T) {
	ann := map[string]string{
		CrioContainerType: "container", CrioSandboxID: "own-sandbox", CrioPodNamespace: "dev", CrioPodName: "web",
		CrioPodUID: "uid-own", CrioContainerName: "app",
		// from the pod author's pod annotations
		CtrdContainerType: "sandbox", CtrdSandboxID: "victim-sandbox", CtrdPodNamespace: "prod", CtrdPodName: "bank",
		CtrdPodUID: "uid-victim", CtrdContainerName: "teller",
	}
	id := FromAnnotations(ann)
	if id == nil || id.Engine != CRIO || id.SandboxID != "own-sandbox" || id.PodName() != "dev/web" || id.Container != "app" || id.Sandbox {
		t.Errorf("identity %+v", id)
	}
	if IsSandbox(ann) {
		t.Error("taken for a sandbox by containerd's forged key")
	}
}
