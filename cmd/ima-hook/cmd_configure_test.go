package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigureCommand(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "etc/docker/daemon.json")
	must(t, os.MkdirAll(filepath.Dir(conf), 0o755))
	must(t, os.WriteFile(conf, []byte(`{"log-driver": "journald"}`), 0o644))
	runIt := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := configureMain(append(args, "--root", root), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := runIt("--engine", "docker", "--dry-run")
	if b, _ := os.ReadFile(conf); code != 0 || string(b) != `{"log-driver": "journald"}` ||
		!strings.Contains(out, "would replace /etc/docker/daemon.json: added runtime ima") || !strings.Contains(out, "dry run: nothing was changed; after a real run: systemctl reload docker") {
		t.Fatalf("dry run: %d %q %q", code, out, errs)
	}
	code, out, errs = runIt("--engine", "docker")
	if code != 0 || !strings.HasPrefix(out, "wrote /etc/docker/daemon.json: added runtime ima") || !strings.Contains(out, "(backup /etc/docker/daemon.json.ima-hook-backup-") ||
		!strings.Contains(out, "restart needed: systemctl reload docker") {
		t.Fatalf("run: %d %q %q", code, out, errs)
	}
	code, out, _ = runIt("--engine", "docker")
	if code != 0 || out != "unchanged /etc/docker/daemon.json: runtime ima (already there)\ndocker is configured for ima-hook already; nothing to do\n" {
		t.Fatalf("again: %d %q", code, out)
	}
	must(t, os.WriteFile(conf, []byte(`{"runtimes": `), 0o644))
	code, out, errs = runIt("--engine", "docker")
	if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "ima-hook: "+conf+": not valid JSON: ") {
		t.Fatalf("broken: %d %q %q", code, out, errs)
	}
	code, _, errs = runIt()
	if code != 2 || errs != "ima-hook: --engine: missing; use one of containerd, cri-o, podman, docker, isulad\n" {
		t.Fatalf("no engine: %d %q", code, errs)
	}
}

// TestConfigureIsulad: --engine isulad through the command: what it wrote,
// the restart, and --hook-spec refused with another engine. Before, isulad
// was an unknown engine.
func TestConfigureIsulad(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "etc/isulad/daemon.json")
	must(t, os.MkdirAll(filepath.Dir(conf), 0o755))
	must(t, os.WriteFile(conf, []byte(`{"default-runtime": "lcr"}`), 0o644))
	runIt := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := configureMain(append(args, "--root", root), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := runIt("--engine", "isulad", "--prefix", "/usr")
	if code != 0 || !strings.HasPrefix(out, "wrote /etc/isulad/daemon.json: added runtime ima (/usr/libexec/oci/hooks.d/ima-hook runtime --inject-hooks --)") ||
		!strings.Contains(out, "restart needed: systemctl restart isulad") {
		t.Fatalf("run: %d %q %q", code, out, errs)
	}
	code, out, _ = runIt("--engine", "isulad", "--prefix", "/usr")
	if code != 0 || !strings.HasSuffix(out, "isulad is configured for ima-hook already; nothing to do\n") {
		t.Fatalf("again: %d %q", code, out)
	}
	// Switching to the hook-spec would leave the injecting entry: refused.
	code, _, errs = runIt("--engine", "isulad", "--prefix", "/usr", "--hook-spec")
	if code != 1 || !strings.Contains(errs, "runtime ima is there already, differently") {
		t.Fatalf("--hook-spec over the injecting entry: %d %q", code, errs)
	}
	code, _, errs = runIt("--engine", "docker", "--hook-spec")
	if code != 1 || errs != "ima-hook: --hook-spec: is for --engine isulad only; leave it out\n" {
		t.Fatalf("--hook-spec with docker: %d %q", code, errs)
	}
}
