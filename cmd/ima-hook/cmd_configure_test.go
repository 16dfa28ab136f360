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
	if code != 2 || errs != "ima-hook: --engine: missing; use one of containerd, cri-o, podman, docker\n" {
		t.Fatalf("no engine: %d %q", code, errs)
	}
}
