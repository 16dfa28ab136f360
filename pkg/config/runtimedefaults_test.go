package config

import (
	"strings"
	"testing"
)

// The guide's runtime flags as the admin's defaults (issue 13.3): --imans
// gives every container a namespace without an annotation, --ima-x509 and
// --ima-kcmd are the defaults, annotations override them only where the
// admin allows it, and a bad value names the flag.
func TestApplyRuntimeDefaults(t *testing.T) {
	f := newFixture(t)
	a := f.admin
	if err := a.ApplyRuntimeDefaults(RuntimeDefaults{Enable: true, X509: f.cert, Kcmd: "ima_policy=appraise_tcb"}); err != nil {
		t.Fatal(err)
	}
	c, err := Resolve(nil, a) // no annotation at all: --imans enables
	if err != nil || c == nil {
		t.Fatalf("no annotations: %+v %v", c, err)
	}
	if c.KcmdText != "ima_policy=appraise_tcb" || c.X509Path != f.cert || c.Sources[AnnKcmd] != "--ima-kcmd (runtime argument)" || c.Sources[AnnX509] != "--ima-x509 (runtime argument)" {
		t.Errorf("resolved %q %q, sources %v", c.KcmdText, c.X509Path, c.Sources)
	}
	// An annotation overrides the flag where allowed.
	c, err = Resolve(map[string]string{AnnKcmd: "ima_policy=tcb"}, a)
	if err != nil || c.KcmdText != "ima_policy=tcb" || c.X509Path != f.cert {
		t.Errorf("override: %+v %v", c, err)
	}
	// ... and is refused where not.
	a.AllowAnnotationOverride = false
	if line := errLine(t, map[string]string{AnnKcmd: "ima_policy=tcb"}, a); !strings.Contains(line, AnnKcmd) {
		t.Errorf("override refused: %s", line)
	}

	// Without --imans the flags are defaults only: an unannotated container
	// gets nothing.
	g := newFixture(t)
	if err := g.admin.ApplyRuntimeDefaults(RuntimeDefaults{Kcmd: "ima_policy=tcb"}); err != nil {
		t.Fatal(err)
	}
	if c, err := Resolve(nil, g.admin); c != nil || err != nil {
		t.Errorf("defaults alone enabled IMA: %+v %v", c, err)
	}

	// A kcmd the kernel would refuse fails at once, naming the flag.
	h := newFixture(t)
	err = h.admin.ApplyRuntimeDefaults(RuntimeDefaults{Enable: true, Kcmd: "ima_policy=bogus"})
	if err == nil || !strings.HasPrefix(err.Error(), "--ima-kcmd (runtime argument)") {
		t.Errorf("bad kcmd: %v", err)
	}
	if h.admin.Mandatory || h.admin.Defaults.Kcmd != BuiltinAdmin().Defaults.Kcmd {
		t.Errorf("a failed flag left half a config: mandatory %v kcmd %q", h.admin.Mandatory, h.admin.Defaults.Kcmd)
	}
	// A certificate outside keys_dir is refused per container, naming the flag.
	k := newFixture(t)
	if err := k.admin.ApplyRuntimeDefaults(RuntimeDefaults{Enable: true, X509: "/etc/passwd"}); err != nil {
		t.Fatal(err)
	}
	if line := errLine(t, nil, k.admin); !strings.HasPrefix(line, "ima-hook: --ima-x509 (runtime argument)") {
		t.Errorf("x509 outside keys_dir: %s", line)
	}
	// Nothing given changes nothing.
	z := newFixture(t)
	before := *z.admin
	if err := z.admin.ApplyRuntimeDefaults(RuntimeDefaults{}); err != nil || z.admin.Mandatory != before.Mandatory || z.admin.Defaults != before.Defaults {
		t.Errorf("zero defaults changed the admin config: %v", err)
	}
}
