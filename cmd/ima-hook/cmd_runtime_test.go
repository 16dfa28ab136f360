package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
)

func TestResolveRuntime(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "runc")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	admin := config.BuiltinAdmin()

	if got, err := resolveRuntime("", admin); err != nil || got != fake {
		t.Errorf("default runc from PATH: %q %v", got, err)
	}
	if got, err := resolveRuntime(fake, admin); err != nil || got != fake {
		t.Errorf("--runtime absolute: %q %v", got, err)
	}
	admin.Runtime = "crun"
	_, err := resolveRuntime("", admin)
	if err == nil || !strings.Contains(userror.Line(err), `runtime "crun" not found in PATH`) {
		t.Errorf("missing runtime: %v", err)
	}
	self, _ := os.Executable()
	_, err = resolveRuntime(self, admin)
	if err == nil || !strings.Contains(err.Error(), "is ima-hook itself") {
		t.Errorf("the wrapper as its own runtime: %v", err)
	}
	_, err = resolveRuntime(filepath.Join(dir, "nope"), admin)
	if err == nil || !strings.HasPrefix(userror.Line(err), "ima-hook: --runtime: runtime ") {
		t.Errorf("nonexistent path: %v", err)
	}
}

func TestHookSpecCarriesIMAHookEnv(t *testing.T) {
	t.Setenv("IMA_HOOK_EMU_DIR", "/tmp/emu")
	t.Setenv("OTHER", "x")
	h, err := hookSpec("rel.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(h.Config) || !filepath.IsAbs(h.Path) {
		t.Errorf("paths not absolute: %+v", h)
	}
	env := strings.Join(h.Env, " ")
	if !strings.Contains(env, "IMA_HOOK_EMU_DIR=/tmp/emu") || strings.Contains(env, "OTHER") || !strings.HasPrefix(env, "PATH=") {
		t.Errorf("hook env %q", env)
	}
}
