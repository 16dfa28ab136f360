package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/ns"
)

// TestStatusValidatesTheAdminDefaults: a [defaults] section that would
// refuse every annotated container makes status say "ready: no" with the
// one line, and exit 2. Before, status said "ready: yes" and exited 0.
func TestStatusValidatesTheAdminDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("IMA_HOOK_EMU_DIR", filepath.Join(dir, "emu")) // the emulated build's kernel; unused otherwise
	keys, pols := filepath.Join(dir, "keys"), filepath.Join(dir, "policies")
	for _, d := range []string{keys, pols} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(pols, "web.policy"), []byte("measure func=BPRM_CHECK\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	head := "keys_dir = \"" + keys + "\"\npolicies_dir = \"" + pols + "\"\nrun_dir = \"" + dir + "/run\"\narchive_dir = \"" + dir + "/archive\"\n[defaults]\n"
	cases := []struct {
		name, defaults, want string
	}{
		{"kcmd", `kcmd = "ima_hash=sha1"`, "defaults.kcmd: "},
		{"policy and policy_rules", "policy = \"web.policy\"\npolicy_rules = \"measure func=FILE_CHECK\"", "defaults: both policy and policy_rules are set"},
		{"inline rule", `policy_rules = "measure func=BOGUS"`, "BOGUS"},
		{"missing key", `x509 = "gone.der"`, "defaults.x509: "},
		{"empty policy file", `policy = "empty.policy"`, "defaults.policy: "},
	}
	if err := os.WriteFile(filepath.Join(pols, "empty.policy"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := filepath.Join(dir, "admin.toml")
			if err := os.WriteFile(cfg, []byte(head+c.defaults+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			status, stdout, stderr := runCaptured(t, "status", "--config", cfg)
			readyLine := ""
			for _, l := range strings.Split(stdout, "\n") {
				if strings.HasPrefix(l, "ready:") {
					readyLine = l
				}
			}
			if status != 2 || !strings.HasPrefix(readyLine, "ready:                  no: ") || strings.Contains(stdout, "ready:                  yes") ||
				!strings.Contains(stdout, "admin config error:     ima-hook: "+cfg+" ") || !strings.Contains(stdout, c.want) {
				t.Errorf("status %d, want 2 with %q\nstdout:\n%s\nstderr: %s", status, c.want, stdout, stderr)
			}
			status, stdout, _ = runCaptured(t, "status", "--json", "--config", cfg)
			if status != 2 || !strings.Contains(stdout, `"ready": false`) || !strings.Contains(stdout, `"config_error": "ima-hook: `+cfg) {
				t.Errorf("--json: status %d\n%s", status, stdout)
			}
		})
	}
	// A valid config: no config error; ready when the kernel is (the
	// emulated build's kernel always is).
	cfg := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(cfg, []byte(head+"policy = \"web.policy\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr := runCaptured(t, "status", "--config", cfg)
	if status == 2 || strings.Contains(stdout, "admin config error") || (status == 0) != strings.Contains(stdout, "ready:                  yes") {
		t.Errorf("valid config: status %d\n%s%s", status, stdout, stderr)
	}
	if ns.Default().Probe().Kernel == "emulator" && status != 0 {
		t.Errorf("emulated kernel with a valid config: status %d\n%s", status, stdout)
	}
}
