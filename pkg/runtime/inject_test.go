package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testHook = HookSpec{Path: "/usr/local/libexec/oci/hooks.d/ima-hook", Config: "/etc/ima-hook/x.toml",
	Env: []string{"PATH=/usr/bin:/bin"}, Timeout: 30}

func writeRaw(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

func readHooks(t *testing.T, p string) (map[string]any, map[string][]map[string]any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var h struct {
		Hooks map[string][]map[string]any `json:"hooks"`
	}
	json.Unmarshal(b, &h)
	return doc, h.Hooks
}

func TestInjectHooksAddsBothAndKeepsTheRest(t *testing.T) {
	p := writeRaw(t, `{"ociVersion":"1.2.0","futureField":{"x":[1,2.50,"y"]},"annotations":{"io.imans.enable":"true"},
		"hooks":{"createRuntime":[{"path":"/usr/bin/other"}],"prestart":[{"path":"/usr/bin/p"}]}}`)
	changed, err := InjectHooks(p, testHook)
	if err != nil || !changed {
		t.Fatalf("changed %v err %v", changed, err)
	}
	doc, hooks := readHooks(t, p)
	if f, _ := json.Marshal(doc["futureField"]); string(f) != `{"x":[1,2.5,"y"]}` {
		t.Errorf("unknown field changed: %s", f)
	}
	cr := hooks["createRuntime"]
	if len(cr) != 2 || cr[0]["path"] != testHook.Path || cr[1]["path"] != "/usr/bin/other" {
		t.Errorf("createRuntime %v, want ima-hook first then the existing hook", cr)
	}
	args, _ := json.Marshal(cr[0]["args"])
	if string(args) != `["ima-hook","hook","--stage","createRuntime","--config","/etc/ima-hook/x.toml"]` {
		t.Errorf("args %s", args)
	}
	if ps := hooks["poststop"]; len(ps) != 1 || ps[0]["timeout"] != float64(30) {
		t.Errorf("poststop %v", ps)
	}
	if len(hooks["prestart"]) != 1 {
		t.Errorf("prestart lost: %v", hooks)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", st.Mode())
	}
	// Idempotent.
	if changed, err := InjectHooks(p, testHook); err != nil || changed {
		t.Errorf("second injection: changed %v err %v", changed, err)
	}
}

// podman and CRI-O already put the hooks.d entries in: nothing to add.
func TestInjectHooksRespectsHooksD(t *testing.T) {
	p := writeRaw(t, `{"hooks":{
		"createRuntime":[{"path":"/usr/libexec/oci/hooks.d/ima-hook","args":["ima-hook","hook","--stage","createRuntime"]}],
		"poststop":[{"path":"/usr/libexec/oci/hooks.d/ima-hook","args":["ima-hook","hook","--stage=poststop"]}]}}`)
	if changed, err := InjectHooks(p, testHook); err != nil || changed {
		t.Errorf("changed %v err %v", changed, err)
	}
	// Only one stage present: the other is added.
	p = writeRaw(t, `{"hooks":{"createRuntime":[{"path":"/x/ima-hook-emu","args":["ima-hook","hook","--stage","createRuntime"]}]}}`)
	if changed, err := InjectHooks(p, testHook); err != nil || !changed {
		t.Fatalf("changed %v err %v", changed, err)
	}
	_, hooks := readHooks(t, p)
	if len(hooks["createRuntime"]) != 1 || len(hooks["poststop"]) != 1 {
		t.Errorf("hooks %v", hooks)
	}
}

func TestInjectHooksErrors(t *testing.T) {
	for body, want := range map[string]string{
		`[1]`:                         "not a JSON object",
		"{\n\"a\": }":                 "line 2",
		`{"hooks": 3}`:                "hooks:",
		`{"hooks": {"poststop": {}}}`: "hooks.poststop",
		`{"hooks": null, "x": true}`:  "",
	} {
		p := writeRaw(t, body)
		_, err := InjectHooks(p, testHook)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", body, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

func TestCreateInjectsBeforeSpawn(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	h.w.Inject = &testHook
	h.run("create --bundle BUNDLE c")
	if h.k.Spawned == nil {
		t.Fatalf("no spawn: %s", h.stderr.String())
	}
	_, hooks := readHooks(t, filepath.Join(h.bundle, "config.json"))
	if len(hooks["createRuntime"]) != 1 || len(hooks["poststop"]) != 1 {
		t.Errorf("hooks %v", hooks)
	}
	// Not for a container without IMA.
	h = newHarness(t, map[string]string{})
	h.w.Inject = &testHook
	h.run("create --bundle BUNDLE c")
	if _, hooks := readHooks(t, filepath.Join(h.bundle, "config.json")); len(hooks) != 0 {
		t.Errorf("plain container got hooks %v", hooks)
	}
}
