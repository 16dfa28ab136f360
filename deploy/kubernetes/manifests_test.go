// Package kubernetes_test checks the manifests in deploy/kubernetes: each
// decodes strictly into its Kubernetes API type (an unknown or misspelt
// field fails), and the values that must agree with the code do: the
// runtime handler name, the annotation keys and the example pod's config,
// the admin config, the directories the DaemonSet installs into.
package kubernetes_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"sigs.k8s.io/yaml"

	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/configure"
)

// The API versions the manifests may use: served by every Kubernetes
// release since 1.20 (RuntimeClass node.k8s.io/v1 since 1.20).
var served = map[string][]string{
	"v1":             {"Namespace", "ConfigMap", "Secret", "Pod"},
	"apps/v1":        {"DaemonSet"},
	"node.k8s.io/v1": {"RuntimeClass"},
}

type manifests struct {
	runtimeClasses []nodev1.RuntimeClass
	daemonSets     []appsv1.DaemonSet
	configMaps     map[string]corev1.ConfigMap
	secrets        map[string]corev1.Secret
	pods           []corev1.Pod
	namespaces     []string
}

func load(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := manifests{configMaps: map[string]corev1.ConfigMap{}, secrets: map[string]corev1.Secret{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			var tm struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s #%d: %v", f, i, err)
			}
			if !slices.Contains(served[tm.APIVersion], tm.Kind) {
				t.Fatalf("%s #%d: %s %s is not one of the served kinds %v", f, i, tm.APIVersion, tm.Kind, served)
			}
			strict := func(v any) {
				t.Helper()
				if err := yaml.UnmarshalStrict(doc, v); err != nil {
					t.Fatalf("%s #%d (%s): %v", f, i, tm.Kind, err)
				}
			}
			switch tm.Kind {
			case "RuntimeClass":
				var o nodev1.RuntimeClass
				strict(&o)
				m.runtimeClasses = append(m.runtimeClasses, o)
			case "DaemonSet":
				var o appsv1.DaemonSet
				strict(&o)
				m.daemonSets = append(m.daemonSets, o)
			case "ConfigMap":
				var o corev1.ConfigMap
				strict(&o)
				m.configMaps[o.Name] = o
			case "Secret":
				var o corev1.Secret
				strict(&o)
				m.secrets[o.Name] = o
			case "Pod":
				var o corev1.Pod
				strict(&o)
				m.pods = append(m.pods, o)
			case "Namespace":
				var o corev1.Namespace
				strict(&o)
				m.namespaces = append(m.namespaces, o.Name)
			}
		}
	}
	return m
}

func TestManifestsAgreeWithTheCode(t *testing.T) {
	m := load(t)
	if len(m.runtimeClasses) != 1 || len(m.daemonSets) != 1 || len(m.pods) != 1 {
		t.Fatalf("want one RuntimeClass, DaemonSet and example Pod: %d %d %d", len(m.runtimeClasses), len(m.daemonSets), len(m.pods))
	}
	rc := m.runtimeClasses[0]
	if rc.Handler != configure.DefaultHandler {
		t.Errorf("RuntimeClass handler %q, configure registers %q", rc.Handler, configure.DefaultHandler)
	}

	// The admin config loads, and the example pod's annotations resolve
	// with it, against the policies and keys the ConfigMap and Secret give.
	cm, ok := m.configMaps["ima-hook-config"]
	if !ok {
		t.Fatal("no ConfigMap ima-hook-config")
	}
	dir := t.TempDir()
	adminPath := filepath.Join(dir, "ima-hook.toml")
	if err := os.WriteFile(adminPath, []byte(cm.Data["ima-hook.toml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	admin, err := config.LoadAdmin(adminPath)
	if err != nil {
		t.Fatalf("admin config: %v", err)
	}
	if admin.AllowAbsolutePaths {
		t.Error("the shipped admin config lets pods name node paths")
	}
	nodeKeys, nodePolicies := admin.KeysDir, admin.PoliciesDir
	admin.KeysDir, admin.PoliciesDir = filepath.Join(dir, "keys"), filepath.Join(dir, "policies")
	for d, files := range map[string]map[string]string{admin.PoliciesDir: m.configMaps["ima-hook-policies"].Data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(d, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, ok := m.secrets["ima-hook-keys"]; !ok {
		t.Error("no Secret ima-hook-keys")
	}
	pod := m.pods[0]
	if pod.Spec.RuntimeClassName == nil || *pod.Spec.RuntimeClassName != rc.Name {
		t.Errorf("example pod's runtimeClassName %v, RuntimeClass %q", pod.Spec.RuntimeClassName, rc.Name)
	}
	c, err := config.Resolve(pod.Annotations, admin)
	if err != nil || c == nil {
		t.Fatalf("the example pod's annotations do not resolve: %v", err)
	}
	if c.Policy == nil || c.Scope != config.ScopeContainer {
		t.Errorf("example pod: policy %v scope %q", c.Policy, c.Scope)
	}
	for k := range pod.Annotations {
		if !strings.HasPrefix(k, config.Prefix) {
			t.Errorf("example pod annotation %q is not an io.imans.* key", k)
		}
	}

	// The DaemonSet installs where the code looks: make install's prefix,
	// the admin config's keys and policies directories; the engine is one
	// configure knows; the host mounts hold those paths.
	ds := m.daemonSets[0]
	if !slices.Contains(m.namespaces, ds.Namespace) {
		t.Errorf("DaemonSet namespace %q is not created by namespace.yaml", ds.Namespace)
	}
	if len(ds.Spec.Template.Spec.InitContainers) != 1 {
		t.Fatal("want one install init container")
	}
	install := ds.Spec.Template.Spec.InitContainers[0]
	env := map[string]string{}
	for _, e := range install.Env {
		env[e.Name] = e.Value
	}
	for k, want := range map[string]string{"PREFIX": configure.DefaultPrefix, "IMA_HOOK_KEYS_DIR": nodeKeys, "IMA_HOOK_POLICIES_DIR": nodePolicies,
		"IMA_HOOK_CONFIG_DIR": filepath.Dir(config.DefaultPath), "HOST": "/host"} {
		if env[k] != want {
			t.Errorf("install env %s = %q, want %q", k, env[k], want)
		}
	}
	if !slices.Contains(configure.Engines, env["ENGINE"]) {
		t.Errorf("ENGINE %q is not one of %v", env["ENGINE"], configure.Engines)
	}
	hostPaths := map[string]string{}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	mounted := func(nodePath string) bool {
		for _, vm := range install.VolumeMounts {
			if hp, ok := hostPaths[vm.Name]; ok && vm.MountPath == "/host"+hp && (nodePath == hp || strings.HasPrefix(nodePath, hp+"/")) {
				return true
			}
		}
		return false
	}
	for _, p := range []string{configure.DefaultPrefix + "/libexec/oci/hooks.d", nodeKeys, nodePolicies, config.DefaultPath,
		configure.ContainerdConfig, configure.CRIODropIns} {
		if !mounted(p) {
			t.Errorf("%s is not on a host mount of the install container", p)
		}
	}
	for _, vm := range install.VolumeMounts {
		if vm.MountPath == "/config/admin" || vm.MountPath == "/config/policies" || vm.MountPath == "/config/keys" {
			continue
		}
		if _, ok := hostPaths[vm.Name]; !ok {
			t.Errorf("install mount %s is neither a host path nor a config source", vm.MountPath)
		}
	}
}

// The install script is valid shell and uses what the DaemonSet mounts
// and sets: the config sources, the node root and the prefix.
func TestNodeInstallScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	if out, err := exec.Command(sh, "-n", "node-install.sh").CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v %s", err, out)
	}
	b, err := os.ReadFile("node-install.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	for _, want := range []string{`configure --engine "$ENGINE" --root "$HOST" --prefix "$PREFIX"`, "/config/admin/ima-hook.toml", "/config/policies/", "/config/keys/",
		`"$HOST$PREFIX/bin/ima-runtime"`, "share/containers/oci/hooks.d"} {
		if !strings.Contains(script, want) {
			t.Errorf("node-install.sh lacks %q", want)
		}
	}
}
