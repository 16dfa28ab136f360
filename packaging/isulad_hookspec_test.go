// Package packaging holds no code: its test checks the iSulad hook-spec
// template (hooks.d/isulad/hook-spec.json.in) against iSulad's documented
// format, which no engine on the build machines can check (docs/openeuler.md).
package packaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// isuladHook is one entry of an iSulad hook-spec, as openEuler's container
// documentation ("Supporting OCI hooks") defines it: path (required,
// absolute), args and env (optional string arrays, env entries KEY=VALUE),
// timeout (optional integer, greater than 0).
type isuladHook struct {
	Path    *string          `json:"path"`
	Args    []string         `json:"args"`
	Env     []string         `json:"env"`
	Timeout *json.RawMessage `json:"timeout"`
}

// maxHookSpecSize is iSulad's limit on a hook-spec file (10 MB).
const maxHookSpecSize = 10 << 20

// checkHookSpec applies iSulad's documented rules for the hook-spec file
// itself: JSON whose only keys are prestart, poststart and poststop, each
// a list of hooks, within the size limit. (The rules on the binary a path
// names, root-owned and writable by root only, are checked on the
// installed file by tests/bats/rpm.bats.)
func checkHookSpec(data []byte) (map[string][]isuladHook, error) {
	if len(data) > maxHookSpecSize {
		return nil, fmt.Errorf("%d bytes, iSulad refuses more than 10 MB", len(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var spec struct {
		Prestart  []isuladHook `json:"prestart"`
		Poststart []isuladHook `json:"poststart"`
		Poststop  []isuladHook `json:"poststop"`
	}
	if err := dec.Decode(&spec); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON object")
	}
	out := map[string][]isuladHook{"prestart": spec.Prestart, "poststart": spec.Poststart, "poststop": spec.Poststop}
	for stage, hooks := range out {
		for i, h := range hooks {
			where := fmt.Sprintf("%s[%d]", stage, i)
			if h.Path == nil || !filepath.IsAbs(*h.Path) || filepath.Clean(*h.Path) != *h.Path {
				return nil, fmt.Errorf("%s: path must be a clean absolute path", where)
			}
			for _, e := range h.Env {
				if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
					return nil, fmt.Errorf("%s: env entry %q is not KEY=VALUE", where, e)
				}
			}
			if h.Timeout != nil {
				var n int64
				if err := json.Unmarshal(*h.Timeout, &n); err != nil || n <= 0 {
					return nil, fmt.Errorf("%s: timeout must be an integer greater than 0, got %s", where, *h.Timeout)
				}
			}
		}
	}
	return out, nil
}

// checkDocker1809 adds the stricter rules of openEuler's Docker 18.09
// --hook-spec, which reads the same format: path, args and env are all
// required, timeout an integer from 1 to 120.
func checkDocker1809(spec map[string][]isuladHook) error {
	for stage, hooks := range spec {
		for i, h := range hooks {
			where := fmt.Sprintf("%s[%d]", stage, i)
			if len(h.Args) == 0 || len(h.Env) == 0 {
				return fmt.Errorf("%s: Docker 18.09 requires args and env", where)
			}
			if h.Timeout != nil {
				var n int64
				if err := json.Unmarshal(*h.Timeout, &n); err != nil || n < 1 || n > 120 {
					return fmt.Errorf("%s: Docker 18.09 takes a timeout from 1 to 120, got %s", where, *h.Timeout)
				}
			}
		}
	}
	return nil
}

// render does what `make install` does to the template.
func render(t *testing.T, libexec string) []byte {
	t.Helper()
	tmpl, err := os.ReadFile("../hooks.d/isulad/hook-spec.json.in")
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.ReplaceAll(tmpl, []byte("@LIBEXECDIR@"), []byte(libexec))
	if bytes.Contains(out, []byte("@")) {
		t.Fatalf("a placeholder other than @LIBEXECDIR@ is left: %s", out)
	}
	return out
}

func TestISuladHookSpecTemplate(t *testing.T) {
	for _, libexec := range []string{"/usr/libexec", "/usr/local/libexec"} {
		spec, err := checkHookSpec(render(t, libexec))
		if err != nil {
			t.Fatalf("rendered for %s: %v", libexec, err)
		}
		if err := checkDocker1809(spec); err != nil {
			t.Errorf("rendered for %s: %v", libexec, err)
		}
		bin := libexec + "/oci/hooks.d/ima-hook" // where make install puts the binary
		// The hook runs at prestart (ima-hook's createRuntime work; iSulad
		// has no createRuntime stage) and poststop, once each, nothing at
		// poststart.
		want := map[string]string{"prestart": "prestart", "poststop": "poststop"}
		for stage, hooks := range spec {
			arg, wanted := want[stage]
			if !wanted {
				if len(hooks) != 0 {
					t.Errorf("%s: %d hooks, want none", stage, len(hooks))
				}
				continue
			}
			if len(hooks) != 1 {
				t.Fatalf("%s: %d hooks, want 1", stage, len(hooks))
			}
			h := hooks[0]
			if *h.Path != bin {
				t.Errorf("%s: path %s, want %s", stage, *h.Path, bin)
			}
			if !slices.Equal(h.Args, []string{"ima-hook", "hook", "--stage", arg}) {
				t.Errorf("%s: args %q", stage, h.Args)
			}
			// Like the hooks.d files: 30 s, above the preflight's 10 s budget.
			if h.Timeout == nil || string(*h.Timeout) != "30" {
				t.Errorf("%s: timeout %v, want 30", stage, h.Timeout)
			}
			if !slices.ContainsFunc(h.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=/") }) {
				t.Errorf("%s: env %q has no PATH (the hook finds nothing else without it)", stage, h.Env)
			}
		}
	}
}

// The checker refuses what iSulad refuses, so the test above can fail.
func TestCheckHookSpecRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"relative path":  `{"prestart":[{"path":"bin/ima-hook"}]}`,
		"no path":        `{"prestart":[{"args":["x"]}]}`,
		"zero timeout":   `{"prestart":[{"path":"/x","timeout":0}]}`,
		"string timeout": `{"prestart":[{"path":"/x","timeout":"30"}]}`,
		"unknown stage":  `{"createRuntime":[{"path":"/x"}]}`,
		"unknown field":  `{"prestart":[{"path":"/x","when":{}}]}`,
		"bad env":        `{"poststop":[{"path":"/x","env":["PATH"]}]}`,
		"not JSON":       `prestart: /x`,
		"too big":        `{"prestart":[]}` + strings.Repeat(" ", maxHookSpecSize),
	} {
		if _, err := checkHookSpec([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := checkHookSpec([]byte(`{"prestart":[{"path":"/usr/bin/echo","args":["a"],"env":["k=v"],"timeout":30}],"poststart":[{"path":"/usr/bin/ls"}]}`)); err != nil {
		t.Errorf("the documented example: %v", err)
	}
	for name, in := range map[string]string{
		"no env":        `{"prestart":[{"path":"/x","args":["x"]}]}`,
		"no args":       `{"prestart":[{"path":"/x","env":["A=b"]}]}`,
		"timeout > 120": `{"prestart":[{"path":"/x","args":["x"],"env":["A=b"],"timeout":121}]}`,
	} {
		spec, err := checkHookSpec([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if checkDocker1809(spec) == nil {
			t.Errorf("%s: accepted by the Docker 18.09 rules", name)
		}
	}
}
