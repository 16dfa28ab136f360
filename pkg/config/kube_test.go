package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Pod authors name files, not node paths: a name resolves inside
// policies_dir / keys_dir; allow_absolute_paths = false refuses absolute
// paths in annotations (the admin's [defaults] may still use them).
func TestNamesNotPaths(t *testing.T) {
	f := newFixture(t)
	pol := f.policyFile(t, "tenant.policy", "measure func=BPRM_CHECK\n")
	c, err := Resolve(map[string]string{AnnEnable: "true", AnnPolicy: "tenant.policy", AnnX509: "ns.der"}, f.admin)
	if err != nil || c.PolicyPath != pol || c.X509Path != f.cert {
		t.Fatalf("names: %+v, %v", c, err)
	}
	// Absolute paths keep working by default.
	if _, err := Resolve(map[string]string{AnnEnable: "true", AnnPolicy: pol, AnnX509: f.cert}, f.admin); err != nil {
		t.Fatalf("absolute paths: %v", err)
	}
	f.admin.AllowAbsolutePaths = false
	for _, c := range []struct{ key, val, dir string }{{AnnPolicy, pol, f.admin.PoliciesDir}, {AnnX509, f.cert, f.admin.KeysDir}} {
		_, err := Resolve(map[string]string{AnnEnable: "true", c.key: c.val}, f.admin)
		want := c.key + ": " + `"` + c.val + `" is an absolute path, but the admin config does not allow them (allow_absolute_paths = false); name the file inside ` +
			c.dir + " instead, e.g. " + c.key + "=" + filepath.Base(c.val)
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v\nwant %s", c.key, err, want)
		}
	}
	if _, err := Resolve(map[string]string{AnnEnable: "true", AnnPolicy: "tenant.policy", AnnX509: "ns.der"}, f.admin); err != nil {
		t.Fatalf("names with allow_absolute_paths = false: %v", err)
	}
	// The admin's own defaults are not pod input.
	f.admin.Defaults.Policy = pol
	if _, err := Resolve(map[string]string{AnnEnable: "true"}, f.admin); err != nil {
		t.Fatalf("admin default with an absolute path: %v", err)
	}
	// A name never leaves the directory.
	f.admin.Defaults.Policy = ""
	if _, err := Resolve(map[string]string{AnnEnable: "true", AnnPolicy: "../keys/ns.der"}, f.admin); err == nil {
		t.Fatal("a name escaped policies_dir")
	}
}

func TestAllowAbsolutePathsSetting(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		text string
		want bool
	}{{"", true}, {"allow_absolute_paths = false\n", false}, {"allow_absolute_paths = true\n", true}} {
		p := filepath.Join(dir, "a.toml")
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := LoadAdmin(p)
		if err != nil || a.AllowAbsolutePaths != c.want {
			t.Errorf("%q: %v %v", c.text, a, err)
		}
	}
}

func TestScopeAndSandbox(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		ann     map[string]string
		scope   string
		sandbox bool
		err     string
	}{
		{map[string]string{AnnEnable: "true"}, ScopeContainer, false, ""},
		{map[string]string{AnnEnable: "true", AnnScope: "pod"}, ScopePod, false, ""},
		{map[string]string{AnnEnable: "true", AnnScope: "container", "io.kubernetes.cri.container-type": "sandbox"}, ScopeContainer, true, ""},
		{map[string]string{AnnEnable: "true", "io.kubernetes.cri-o.ContainerType": "sandbox"}, ScopeContainer, true, ""},
		{map[string]string{AnnEnable: "true", "io.kubernetes.cri.container-type": "container"}, ScopeContainer, false, ""},
		{map[string]string{AnnEnable: "true", AnnScope: "Pod"}, "", false, `io.imans.scope: "Pod" is not a scope; use "container"`},
	} {
		got, err := Resolve(c.ann, f.admin)
		switch {
		case c.err != "":
			if err == nil || !strings.HasPrefix(err.Error(), c.err) {
				t.Errorf("%v: %v, want %q", c.ann, err, c.err)
			}
		case err != nil || got.Scope != c.scope || got.Sandbox != c.sandbox:
			t.Errorf("%v: %+v %v", c.ann, got, err)
		}
	}
	// The admin's default scope is validated with the admin file.
	p := filepath.Join(t.TempDir(), "a.toml")
	if err := os.WriteFile(p, []byte("[defaults]\nscope = \"node\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAdmin(p); err == nil || !strings.Contains(err.Error(), `defaults.scope: "node" is not a scope`) {
		t.Errorf("admin default scope: %v", err)
	}
}

// Under mandatory = true (the admin file, or a runtime entry's --imans)
// nothing a container's annotations say lets it start without IMA: not
// io.imans.enable=false, not io.imans.required=false (which would let it
// start without a namespace where none can be had), and not a claim to be
// a pod's sandbox, which anyone can make outside a CRI engine (podman,
// runc) and a pod author can make under CRI-O through containerd's key.
func TestMandatoryCannotBeEscaped(t *testing.T) {
	escape := map[string]string{
		AnnEnable: "false", AnnRequired: "false",
		"io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri-o.ContainerType": "sandbox",
	}
	for name, mandatory := range map[string]func(a *Admin) error{
		"mandatory = true": func(a *Admin) error { a.Mandatory = true; return nil },
		"--imans":          func(a *Admin) error { return a.ApplyRuntimeDefaults(RuntimeDefaults{Enable: true}) },
	} {
		f := newFixture(t)
		if err := mandatory(f.admin); err != nil {
			t.Fatal(err)
		}
		c, err := Resolve(escape, f.admin)
		if err != nil || c == nil || !c.Required || c.Sandbox {
			t.Errorf("%s: %+v %v; want IMA, required, no sandbox exemption", name, c, err)
		}
	}
	// Without it the annotations decide, as before.
	f := newFixture(t)
	c, err := Resolve(map[string]string{AnnEnable: "true", AnnRequired: "false", "io.kubernetes.cri.container-type": "sandbox"}, f.admin)
	if err != nil || c == nil || c.Required || !c.Sandbox {
		t.Errorf("not mandatory: %+v %v", c, err)
	}
}
