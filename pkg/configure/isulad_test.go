package configure

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// testdata/isulad-daemon.json is the daemon.json iSulad installs
// (iSulad's src/contrib/config/daemon.json, the default the openEuler
// package ships as /etc/isulad/daemon.json): lcr as the default runtime,
// no runtimes, and a hook-spec already set to
// /etc/default/isulad/hooks/default.json.
const isuladDefaultSpec = "/etc/default/isulad/hooks/default.json"

func decodeObject(t *testing.T, text string) map[string]any {
	t.Helper()
	m, err := decodeJSONObject([]byte(text))
	if err != nil {
		t.Fatalf("does not parse: %v\n%s", err, text)
	}
	return m
}

// TestIsuladInjectsHooksByDefault: the wrapper as runtime "ima" with
// --inject-hooks in iSulad's runtime-args; every other setting, the
// admin's hook-spec included, stays as it was; a second run changes
// nothing.
func TestIsuladInjectsHooksByDefault(t *testing.T) {
	orig := testdata(t, "isulad-daemon.json")
	root := node(t, map[string]string{IsuladConfig: orig, isuladDefaultSpec: `{"prestart": [{"path": "/usr/bin/other-hook"}]}`})
	p, after := configureTwice(t, Options{Engine: "isulad", Root: root})
	got := decodeObject(t, after[IsuladConfig])
	rt := got["runtimes"].(map[string]any)
	want := map[string]any{"path": "/usr/local/libexec/oci/hooks.d/ima-hook", "runtime-args": []any{"runtime", "--inject-hooks", "--"}}
	if !reflect.DeepEqual(rt["ima"], want) || len(rt) != 1 {
		t.Errorf("runtimes %v", rt)
	}
	delete(got, "runtimes")
	if before := decodeObject(t, orig); !reflect.DeepEqual(got, before) {
		t.Errorf("other settings changed:\n%v\n%v", got, before)
	}
	if after[isuladDefaultSpec] != `{"prestart": [{"path": "/usr/bin/other-hook"}]}` {
		t.Error("the admin's hook-spec changed")
	}
	if !strings.Contains(p.Restart, "systemctl restart isulad") {
		t.Errorf("restart %q", p.Restart)
	}
	// No daemon.json at all: one with just the runtime.
	_, after = configureTwice(t, Options{Engine: "isulad", Root: node(t, nil)})
	if got := decodeObject(t, after[IsuladConfig]); len(got) != 1 || !reflect.DeepEqual(got["runtimes"].(map[string]any)["ima"], want) {
		t.Errorf("new daemon.json %v", got)
	}
}

// TestIsuladHookSpec: with the hook-spec option the runtime is the plain
// wrapper and the hooks come from daemon.json's hook-spec: the shipped
// file when none is set, else ima-hook's two entries added to the file
// daemon.json names (iSulad takes one), its own entries kept.
func TestIsuladHookSpec(t *testing.T) {
	plain := map[string]any{"path": "/usr/local/libexec/oci/hooks.d/ima-hook", "runtime-args": []any{"runtime", "--"}}
	// iSulad's default: the entries go into /etc/default/isulad/hooks/default.json.
	other := map[string]any{"path": "/usr/bin/other-hook", "args": []any{"other-hook"}, "timeout": json.Number("10")}
	otherText, _ := json.Marshal(map[string]any{"prestart": []any{other}})
	root := node(t, map[string]string{IsuladConfig: testdata(t, "isulad-daemon.json"), isuladDefaultSpec: string(otherText)})
	o := Options{Engine: "isulad", Root: root, IsuladHookSpec: true}
	p, after := configureTwice(t, o)
	cfg := decodeObject(t, after[IsuladConfig])
	if !reflect.DeepEqual(cfg["runtimes"].(map[string]any)["ima"], plain) || cfg["hook-spec"] != isuladDefaultSpec {
		t.Errorf("daemon.json %v", cfg)
	}
	spec := decodeObject(t, after[isuladDefaultSpec])
	hooks := Options{Prefix: DefaultPrefix}.isuladHooks()
	if !reflect.DeepEqual(spec["prestart"], []any{other, hooks["prestart"].([]any)[0]}) || !reflect.DeepEqual(spec["poststop"], hooks["poststop"]) {
		t.Errorf("hook-spec %v", spec)
	}
	if len(p.Changes) != 2 {
		t.Errorf("%d changes, want daemon.json and the hook-spec", len(p.Changes))
	}
	// No hook-spec set: daemon.json points at the shipped file.
	root = node(t, map[string]string{IsuladConfig: `{"default-runtime": "lcr"}`})
	_, after = configureTwice(t, Options{Engine: "isulad", Root: root, IsuladHookSpec: true, Prefix: "/usr"})
	cfg = decodeObject(t, after[IsuladConfig])
	if cfg["hook-spec"] != "/usr/share/ima-hook/isulad-hook-spec.json" || cfg["default-runtime"] != "lcr" {
		t.Errorf("daemon.json %v", cfg)
	}
}

// TestIsuladShippedHookSpecEntries: the entries configure adds to an
// admin's hook-spec are those of the shipped template as make install
// renders it.
func TestIsuladShippedHookSpecEntries(t *testing.T) {
	b, err := os.ReadFile("../../hooks.d/isulad/hook-spec.json.in")
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte("@LIBEXECDIR@"), []byte("/opt/ima/libexec"))
	got, want := Options{Prefix: "/opt/ima"}.isuladHooks(), decodeObject(t, string(b))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("configure's entries\n%v\nthe template's\n%v", got, want)
	}
}

// TestIsuladNeverRunsTheHookTwice and the other refusals: configure never
// leaves a runtime that injects the hooks together with a hook-spec that
// runs ima-hook for every container, and refuses what it cannot parse; in
// each case nothing changes.
func TestIsuladRefusals(t *testing.T) {
	ours := `{"prestart": [{"path": "/usr/libexec/oci/hooks.d/ima-hook", "args": ["ima-hook", "hook", "--stage", "prestart"]}]}`
	for _, c := range []struct {
		name     string
		hookSpec bool
		files    map[string]string
		says     string
	}{
		{"broken daemon.json", false, map[string]string{IsuladConfig: `{"runtimes": {`}, "/etc/isulad/daemon.json: not valid JSON"},
		{"runtimes not an object", false, map[string]string{IsuladConfig: `{"runtimes": []}`}, `"runtimes" is not an object`},
		{"relative hook-spec", false, map[string]string{IsuladConfig: `{"hook-spec": "hooks.json"}`}, `"hook-spec" is not an absolute path`},
		{"another ima", false, map[string]string{IsuladConfig: `{"runtimes": {"ima": {"path": "/usr/bin/kata-runtime"}}}`}, "runtime ima is there already, differently"},
		{"inject while the hook-spec runs ima-hook", false,
			map[string]string{IsuladConfig: `{"hook-spec": "/etc/isulad/hooks.json"}`, "/etc/isulad/hooks.json": ours},
			"hook-spec /etc/isulad/hooks.json runs ima-hook for every container already, and runtime ima would add it again"},
		{"inject while the hook-spec is the shipped one", false,
			map[string]string{IsuladConfig: `{"hook-spec": "/usr/local/share/ima-hook/isulad-hook-spec.json"}`},
			"hook-spec /usr/local/share/ima-hook/isulad-hook-spec.json runs ima-hook for every container already"},
		{"inject while the hook-spec is unparseable", false,
			map[string]string{IsuladConfig: `{"hook-spec": "/etc/isulad/hooks.json"}`, "/etc/isulad/hooks.json": `{"prestart": [`}, "not valid JSON"},
		{"hook-spec while the plain ima entry injects", true,
			map[string]string{IsuladConfig: `{"runtimes": {"ima": {"path": "/usr/local/libexec/oci/hooks.d/ima-hook", "runtime-args": ["runtime", "--inject-hooks", "--"]}}}`},
			"runtime ima is there already, differently"},
		{"hook-spec while another entry has the guide's flags", true,
			map[string]string{IsuladConfig: `{"runtimes": {"runc-ima": {"path": "/usr/bin/ima-runtime", "runtime-args": ["--imans", "--ima-kcmd ima_policy=tcb"]}}}`},
			"runtime runc-ima adds ima-hook's hooks itself"},
		{"hook-spec file missing", true, map[string]string{IsuladConfig: testdata(t, "isulad-daemon.json")}, "the hook-spec /etc/isulad/daemon.json names does not exist"},
		{"hook-spec file has another ima-hook entry", true,
			map[string]string{IsuladConfig: `{"hook-spec": "/etc/isulad/hooks.json"}`, "/etc/isulad/hooks.json": ours},
			"its prestart list runs ima-hook already, differently"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := node(t, c.files)
			before := tree(t, root)
			_, err := Make(Options{Engine: "isulad", Root: root, IsuladHookSpec: c.hookSpec})
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
	if _, err := Make(Options{Engine: "docker", IsuladHookSpec: true, Root: node(t, nil)}); err == nil || !strings.Contains(err.Error(), "--hook-spec: is for --engine isulad only") {
		t.Errorf("--hook-spec with docker: %v", err)
	}
}

// FuzzIsulad: whatever daemon.json holds, configure either refuses or
// plans a daemon.json that parses, has the runtime, and never combines an
// injecting runtime with the shipped hook-spec.
func FuzzIsulad(f *testing.F) {
	b, err := os.ReadFile("testdata/isulad-daemon.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b), false)
	f.Add(`{"runtimes": {"kata": {"path": "/usr/bin/kata-runtime", "runtime-args": ["--kata-config", "/x.toml"]}}}`, true)
	f.Add(`{"hook-spec": "/usr/local/share/ima-hook/isulad-hook-spec.json"}`, false)
	f.Fuzz(func(t *testing.T, text string, hookSpec bool) {
		root := t.TempDir()
		if err := os.MkdirAll(root+"/etc/isulad", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root+IsuladConfig, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Make(Options{Engine: "isulad", Root: root, IsuladHookSpec: hookSpec})
		if err != nil {
			return
		}
		cfg := decodeObject(t, text)
		for _, c := range p.Changes {
			if c.Path == IsuladConfig {
				cfg = decodeObject(t, string(c.New))
			}
		}
		rt, _ := cfg["runtimes"].(map[string]any)
		if rt["ima"] == nil {
			t.Fatalf("no runtime ima in %v", cfg)
		}
		if shipped := (Options{Prefix: DefaultPrefix}).isuladSpec(); injectsHooks(rt["ima"]) && cfg["hook-spec"] == shipped {
			t.Fatalf("injecting runtime with the shipped hook-spec: %v", cfg)
		}
	})
}
