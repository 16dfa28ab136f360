//go:build imaemu

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/ns/emukernel"
)

// TestStatusKernelWithoutWritePolicy: a kernel whose config says it loads
// no policy per namespace (CONFIG_IMA_WRITE_POLICY off, with or without
// CONFIG_IMA_READ_POLICY) makes the hook refuse every container with a
// policy, so status must not say "ready: yes" next to the warning: it says
// "ready: limited: <one line>", "ready": false with "limited" in JSON, and
// exits 3. When the config is not readable the kernel cannot be judged
// beforehand and status stays ready. Before, it said "ready: yes", exit 0.
func TestStatusKernelWithoutWritePolicy(t *testing.T) {
	cases := []struct {
		name                    string
		writePolicy, readPolicy bool
		readable                bool
		limited                 string // "" when status must say ready: yes
	}{
		{"read_policy only", false, true, true, "CONFIG_IMA_READ_POLICY without CONFIG_IMA_WRITE_POLICY"},
		{"neither", false, false, true, "neither CONFIG_IMA_WRITE_POLICY nor CONFIG_IMA_READ_POLICY"},
		{"write_policy", true, true, true, ""},
		{"config not readable", false, true, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			emu := filepath.Join(dir, "emu")
			if err := os.MkdirAll(emu, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("IMA_HOOK_EMU_DIR", emu)
			sw := map[string]bool{"write_policy": c.writePolicy, "read_policy": c.readPolicy, "kernel_config_readable": c.readable}
			b, _ := json.Marshal(sw)
			if err := os.WriteFile(filepath.Join(emu, emukernel.SwitchesFile), b, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "admin.toml")
			if err := os.WriteFile(cfg, []byte("run_dir = \""+dir+"/run\"\narchive_dir = \""+dir+"/archive\"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			status, stdout, stderr := runCaptured(t, "status", "--config", cfg)
			jstatus, jout, _ := runCaptured(t, "status", "--json", "--config", cfg)
			var rep struct {
				Ready   bool   `json:"ready"`
				Limited string `json:"limited"`
			}
			if err := json.Unmarshal([]byte(jout), &rep); err != nil {
				t.Fatalf("--json: %v\n%s", err, jout)
			}
			if c.limited == "" {
				if status != 0 || !strings.Contains(stdout, "ready:                  yes\n") || jstatus != 0 || !rep.Ready || rep.Limited != "" {
					t.Errorf("status %d / %d, want ready\n%s%s\n%s", status, jstatus, stdout, stderr, jout)
				}
				return
			}
			want := "ready:                  limited: ima-hook: kernel: this kernel has " + c.limited
			if status != 3 || !strings.Contains(stdout, want) || strings.Contains(stdout, "ready:                  yes") ||
				!strings.Contains(stdout, "every container with a custom policy (io.imans.policy, io.imans.policy-rules) is refused, the others start; boot a kernel built with CONFIG_IMA_WRITE_POLICY=y\n") {
				t.Errorf("status %d, want 3 and %q\n%s%s", status, want, stdout, stderr)
			}
			if jstatus != 3 || rep.Ready || !strings.HasPrefix(rep.Limited, "ima-hook: kernel: this kernel has "+c.limited) {
				t.Errorf("--json: status %d, ready %v, limited %q", jstatus, rep.Ready, rep.Limited)
			}
		})
	}
}
