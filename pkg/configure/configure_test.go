package configure

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)

// node makes a node root with files (node path -> content).
func node(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		h := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(h), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(h, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tree lists every file under root with its content.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[strings.TrimPrefix(p, root)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func parseTOML(t *testing.T, text string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := decodeTOML([]byte(text), &m); err != nil {
		t.Fatalf("does not parse: %v\n%s", err, text)
	}
	return m
}

// configureTwice applies the plan, checks that a second run changes
// nothing, and returns the tree after the first.
func configureTwice(t *testing.T, o Options) (*Plan, map[string]string) {
	t.Helper()
	p, err := Make(o)
	if err != nil {
		t.Fatalf("Make: %v", err)
	}
	if len(p.Changes) == 0 {
		t.Fatalf("nothing to change: %v", p.Unchanged)
	}
	if _, err := p.Apply(now); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	after := tree(t, o.Root)
	p2, err := Make(o)
	if err != nil {
		t.Fatalf("second Make: %v", err)
	}
	if len(p2.Changes) != 0 {
		t.Fatalf("second run would change %v", p2.Changes[0].Path)
	}
	if len(p2.Unchanged) == 0 {
		t.Fatal("second run says nothing about what is in place")
	}
	return p, after
}

func TestContainerdDefaults(t *testing.T) {
	for _, c := range []struct {
		name, file string
		systemd    any
	}{
		{"containerd config default (1.6.20)", "containerd-1.6.20-default.toml", false},
		{"Debian 12's config.toml", "containerd-debian12.toml", nil},
		{"systemd cgroups", "containerd-debian12.toml" + "+systemd", true},
		{"no config file", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{}
			var orig string
			switch {
			case strings.HasSuffix(c.file, "+systemd"):
				orig = testdata(t, strings.TrimSuffix(c.file, "+systemd")) +
					"  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n    SystemdCgroup = true\n"
			case c.file != "":
				orig = testdata(t, c.file)
			}
			if c.file != "" {
				files[ContainerdConfig] = orig
			}
			root := node(t, files)
			p, after := configureTwice(t, Options{Engine: "containerd", Root: root})
			if !strings.Contains(p.Restart, "systemctl restart containerd") {
				t.Errorf("restart %q", p.Restart)
			}
			text := after[ContainerdConfig]
			if orig != "" && !strings.HasPrefix(text, orig) {
				t.Fatalf("the original text is not kept as it was")
			}
			got := parseTOML(t, text)
			rt := lookup(got, "plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", "ima").(map[string]any)
			want := map[string]any{"runtime_type": "io.containerd.runc.v2", "pod_annotations": []any{"io.imans.*"}, "container_annotations": []any{"io.imans.*"},
				"options": map[string]any{"BinaryName": "/usr/local/bin/ima-runtime-inject"}}
			if c.systemd != nil {
				want["options"].(map[string]any)["SystemdCgroup"] = c.systemd
			}
			if !reflect.DeepEqual(rt, want) {
				t.Errorf("runtime entry %v, want %v", rt, want)
			}
			// Nothing else changed meaning.
			if orig != "" {
				delete(lookup(got, "plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes").(map[string]any), "ima")
				if !reflect.DeepEqual(normalize(got), normalize(parseTOML(t, orig))) {
					t.Error("other settings changed")
				}
				backups := 0
				for p, content := range after {
					if strings.HasPrefix(p, ContainerdConfig+".ima-hook-backup-") {
						backups++
						if content != orig {
							t.Error("the backup is not the original")
						}
					}
				}
				if backups != 1 {
					t.Errorf("%d backups", backups)
				}
			} else if got["version"] != int64(2) {
				t.Errorf("created config without version 2: %v", got["version"])
			}
			script := after["/usr/local/bin/ima-runtime-inject"]
			if !strings.HasPrefix(script, "#!/bin/sh\n") || !strings.Contains(script, "exec /usr/local/libexec/oci/hooks.d/ima-hook runtime --inject-hooks -- \"$@\"\n") {
				t.Errorf("inject script %q", script)
			}
			if fi, err := os.Stat(filepath.Join(root, "usr/local/bin/ima-runtime-inject")); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("inject script mode: %v %v", fi.Mode(), err)
			}
		})
	}
}

func TestContainerdVersion3AndPrefix(t *testing.T) {
	root := node(t, map[string]string{ContainerdConfig: "version = 3\n[plugins.'io.containerd.cri.v1.runtime']\n  enable_selinux = false\n"})
	_, after := configureTwice(t, Options{Engine: "containerd", Root: root, Prefix: "/opt/ima", Handler: "ima-tenant"})
	got := parseTOML(t, after[ContainerdConfig])
	if b := lookup(got, "plugins", "io.containerd.cri.v1.runtime", "containerd", "runtimes", "ima-tenant", "options", "BinaryName"); b != "/opt/ima/bin/ima-runtime-inject" {
		t.Fatalf("BinaryName %v in\n%s", b, after[ContainerdConfig])
	}
}

// Refusals: one line naming the file, and nothing written.
func TestRefusalsChangeNothing(t *testing.T) {
	for _, c := range []struct {
		name, engine string
		files        map[string]string
		says         string
	}{
		{"containerd: broken TOML", "containerd", map[string]string{ContainerdConfig: "version = 2\n[plugins\n"}, "/etc/containerd/config.toml: not valid TOML: "},
		{"containerd: version 1", "containerd", map[string]string{ContainerdConfig: "[plugins.cri]\n"}, "config version <nil>: only versions 2 and 3"},
		{"containerd: another ima runtime", "containerd", map[string]string{ContainerdConfig: "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.ima]\n  runtime_type = \"io.containerd.kata.v2\"\n"},
			"runtime ima is there already, but container_annotations does not list io.imans.*"},
		{"containerd: inline runtimes table", "containerd", map[string]string{ContainerdConfig: "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\nruntimes = {runc = {runtime_type = \"io.containerd.runc.v2\"}}\n"},
			"cannot be appended to this file's layout"},
		{"cri-o: broken drop-in", "cri-o", map[string]string{CRIOConfig: "[crio.runtime]\n", CRIODropIns + "/10-x.conf": "[crio.runtime\n"}, "/etc/crio/crio.conf.d/10-x.conf: not valid TOML"},
		{"cri-o: a later drop-in resets hooks_dir", "cri-o", map[string]string{CRIODropIns + "/90-site.conf": "[crio.runtime]\nhooks_dir = [\"/etc/hooks\"]\n"},
			"90-site.conf: sets crio.runtime.hooks_dir after 50-ima-hook.conf"},
		{"cri-o: ima defined elsewhere", "cri-o", map[string]string{CRIOConfig: "[crio.runtime.runtimes.ima]\nruntime_path = \"/usr/bin/other\"\n"}, "defines runtime ima already, differently"},
		{"podman: broken containers.conf", "podman", map[string]string{PodmanConfig: "[engine\n"}, "/etc/containers/containers.conf: not valid TOML"},
		{"docker: broken daemon.json", "docker", map[string]string{DockerConfig: "{\"runtimes\": {"}, "/etc/docker/daemon.json: not valid JSON"},
		{"docker: another ima", "docker", map[string]string{DockerConfig: `{"runtimes": {"ima": {"path": "/usr/bin/crun"}}}`}, "runtime ima is there already, differently"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := node(t, c.files)
			before := tree(t, root)
			_, err := Make(Options{Engine: c.engine, Root: root})
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.says) || strings.Contains(msg, "\n") || !strings.Contains(msg, "nothing was changed") {
				t.Errorf("error %q, want one line with %q and 'nothing was changed'", msg, c.says)
			}
			if !reflect.DeepEqual(before, tree(t, root)) {
				t.Error("files changed")
			}
		})
	}
	if _, err := Make(Options{Engine: "lxc"}); err == nil || !strings.Contains(err.Error(), "use one of containerd, cri-o, podman, docker") {
		t.Errorf("unknown engine: %v", err)
	}
	if _, err := Make(Options{Engine: "docker", Handler: "IMA"}); err == nil {
		t.Error("an upper-case handler was accepted")
	}
}

func TestCRIODropIn(t *testing.T) {
	root := node(t, map[string]string{CRIOConfig: testdata(t, "crio-1.28-default.conf"), CRIODropIns + "/10-site.conf": "[crio.runtime]\nlog_level = \"debug\"\n"})
	p, after := configureTwice(t, Options{Engine: "cri-o", Root: root})
	if after[CRIOConfig] != testdata(t, "crio-1.28-default.conf") {
		t.Error("crio.conf changed")
	}
	d := parseTOML(t, after[CRIODropIns+"/"+DropInName])
	if h := lookup(d, "crio", "runtime", "hooks_dir"); !reflect.DeepEqual(h, []any{"/usr/share/containers/oci/hooks.d", "/usr/local/share/containers/oci/hooks.d"}) {
		t.Errorf("hooks_dir %v", h)
	}
	rt := lookup(d, "crio", "runtime", "runtimes", "ima").(map[string]any)
	if rt["runtime_path"] != "/usr/local/bin/ima-runtime" || rt["runtime_type"] != "oci" || rt["runtime_root"] != "/run/runc" {
		t.Errorf("runtime %v", rt)
	}
	if !strings.Contains(p.Restart, "systemctl restart crio") {
		t.Errorf("restart %q", p.Restart)
	}
	// With the directory already in force, hooks_dir is left alone.
	root = node(t, map[string]string{CRIOConfig: strings.Replace(testdata(t, "crio-1.28-default.conf"),
		"\t\"/usr/share/containers/oci/hooks.d\",\n", "\t\"/usr/share/containers/oci/hooks.d\",\n\t\"/usr/local/share/containers/oci/hooks.d\",\n", 1)})
	_, after = configureTwice(t, Options{Engine: "cri-o", Root: root})
	if h := lookup(parseTOML(t, after[CRIODropIns+"/"+DropInName]), "crio", "runtime", "hooks_dir"); h != nil {
		t.Errorf("hooks_dir set again: %v", h)
	}
}

func TestPodmanDropIn(t *testing.T) {
	root := node(t, map[string]string{PodmanVendorConf: testdata(t, "podman-4.3-containers.conf")})
	p, after := configureTwice(t, Options{Engine: "podman", Root: root})
	d := parseTOML(t, after[PodmanDropIns+"/"+DropInName])
	if h := lookup(d, "engine", "hooks_dir"); !reflect.DeepEqual(h, []any{"/usr/share/containers/oci/hooks.d", "/usr/local/share/containers/oci/hooks.d"}) {
		t.Errorf("hooks_dir %v", h)
	}
	if r := lookup(d, "engine", "runtimes", "ima"); !reflect.DeepEqual(r, []any{"/usr/local/bin/ima-runtime"}) {
		t.Errorf("runtime %v", r)
	}
	if !strings.HasPrefix(p.Restart, "none") {
		t.Errorf("restart %q", p.Restart)
	}
	// The admin's hooks_dir in containers.conf is kept in the drop-in.
	root = node(t, map[string]string{PodmanConfig: "[engine]\nhooks_dir = [\"/etc/containers/oci/hooks.d\"]\n"})
	_, after = configureTwice(t, Options{Engine: "podman", Root: root})
	if h := lookup(parseTOML(t, after[PodmanDropIns+"/"+DropInName]), "engine", "hooks_dir"); !reflect.DeepEqual(h, []any{"/etc/containers/oci/hooks.d", "/usr/local/share/containers/oci/hooks.d"}) {
		t.Errorf("hooks_dir %v", h)
	}
}

func TestDocker(t *testing.T) {
	for _, orig := range []string{"", `{"log-driver": "journald", "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 1024, "Soft": 1024}}, "runtimes": {"crun": {"path": "/usr/bin/crun"}}}`} {
		files := map[string]string{}
		if orig != "" {
			files[DockerConfig] = orig
		}
		root := node(t, files)
		p, after := configureTwice(t, Options{Engine: "docker", Root: root})
		var got map[string]any
		if err := json.Unmarshal([]byte(after[DockerConfig]), &got); err != nil {
			t.Fatal(err)
		}
		rt := got["runtimes"].(map[string]any)
		want := map[string]any{"path": "/usr/local/libexec/oci/hooks.d/ima-hook", "runtimeArgs": []any{"runtime", "--inject-hooks", "--"}}
		if !reflect.DeepEqual(rt["ima"], want) {
			t.Errorf("runtime %v", rt["ima"])
		}
		if orig != "" {
			var before map[string]any
			_ = json.Unmarshal([]byte(orig), &before)
			delete(rt, "ima")
			if !reflect.DeepEqual(got, before) {
				t.Errorf("other settings changed: %v", got)
			}
		}
		if !strings.Contains(p.Restart, "reload docker") {
			t.Errorf("restart %q", p.Restart)
		}
	}
}

// TestApplyWritesNothingHalf: a plan whose second file cannot be written
// leaves the first written and reports the second; files are never half
// written (temporary file and rename).
func TestApplyReportsWhatItWrote(t *testing.T) {
	root := node(t, map[string]string{ContainerdConfig: testdata(t, "containerd-debian12.toml")})
	p, err := Make(Options{Engine: "containerd", Root: root})
	if err != nil {
		t.Fatal(err)
	}
	lines, err := p.Apply(now)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "wrote /etc/containerd/config.toml: added runtime handler ima") ||
		!strings.Contains(lines[0], "(backup /etc/containerd/config.toml.ima-hook-backup-20261202T070000Z)") ||
		!strings.HasPrefix(lines[1], "wrote /usr/local/bin/ima-runtime-inject") {
		t.Errorf("lines %q", lines)
	}
}

// FuzzContainerdAppend: whatever config.toml holds, configure either
// refuses it or appends an entry that reads back as meant and leaves the
// rest of the configuration as it was.
func FuzzContainerdAppend(f *testing.F) {
	f.Add("version = 2\n")
	f.Add("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\nSystemdCgroup = true")
	f.Add("version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd]\nruntimes = {}\n")
	f.Add("version = 2\nplugins = {}\n")
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 4096 {
			return
		}
		root := t.TempDir()
		h := filepath.Join(root, ContainerdConfig)
		if err := os.MkdirAll(filepath.Dir(h), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(h, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Make(Options{Engine: "containerd", Root: root})
		if err != nil {
			return
		}
		for _, c := range p.Changes {
			if c.Path != ContainerdConfig {
				continue
			}
			if !strings.HasPrefix(string(c.New), text) {
				t.Fatal("the original text was not kept")
			}
			after := map[string]any{}
			if err := decodeTOML(c.New, &after); err != nil {
				t.Fatalf("planned config does not parse: %v", err)
			}
			v, _ := after["version"].(int64)
			if lookup(after, "plugins", criPlugin[v], "containerd", "runtimes", "ima", "options", "BinaryName") != "/usr/local/bin/ima-runtime-inject" {
				t.Fatal("the entry does not read back")
			}
		}
	})
}
