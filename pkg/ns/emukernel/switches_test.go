//go:build imaemu

package emukernel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Not a kernel rule: how a test chooses the kernel it runs against.
// switches.json's fields go over DefaultSwitches when the state is created,
// an unknown field is an error (a misspelt switch must not leave the test
// on the default kernel), and the state keeps what it was created with.
func TestSwitchesFile(t *testing.T) {
	dir := t.TempDir()
	if sw, err := LoadSwitches(dir); err != nil || sw != DefaultSwitches() {
		t.Fatalf("no file: %+v, %v; want the defaults", sw, err)
	}
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, SwitchesFile), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{`{"write_polcy": false}`, `{"write_policy": "no"}`, `{"max_namespaces": -1}`, `{} {}`, `[`,
		// A kernel Kconfig cannot build: CONFIG_IMA_LOAD_X509 depends on
		// CONFIG_IMA_TRUSTED_KEYRING.
		`{"trusted_keyring_requires_ca": false}`, `{"load_x509": true, "trusted_keyring_requires_ca": false}`} {
		write(bad)
		if _, err := LoadSwitches(dir); err == nil {
			t.Errorf("%s: accepted", bad)
		}
		if _, err := OpenConfigured(dir); err == nil {
			t.Errorf("%s: the emulator opened", bad)
		}
	}
	if _, err := Open(t.TempDir(), Switches{LoadX509: true}); err == nil {
		t.Error("Open took load_x509 without trusted_keyring_requires_ca")
	}
	write(`{"load_x509": false, "trusted_keyring_requires_ca": false}`)
	if _, err := LoadSwitches(dir); err != nil {
		t.Errorf("load_x509=false without the trusted keyring: %v", err)
	}
	write(`{"write_policy": false, "read_policy": true}`)
	want := DefaultSwitches()
	want.WritePolicy, want.ReadPolicy = false, true
	if sw, err := CurrentSwitches(dir); err != nil || sw != want {
		t.Fatalf("before the state exists: %+v, %v; want %+v", sw, err, want)
	}
	k, err := OpenConfigured(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sw, err := k.Switches(); err != nil || sw != want {
		t.Fatalf("state created with %+v, %v; want %+v", sw, err, want)
	}
	// Changing the file afterwards does not change a running kernel.
	write(`{"write_policy": true}`)
	if sw, err := CurrentSwitches(dir); err != nil || sw != want {
		t.Fatalf("after the state exists: %+v, %v; want %+v", sw, err, want)
	}
	if _, err := OpenConfigured(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "state.json"))
	if !strings.Contains(string(b), `"write_policy":false`) {
		t.Fatalf("state rewritten: %s", b)
	}
}
