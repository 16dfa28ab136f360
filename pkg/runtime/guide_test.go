package runtime

import (
	"slices"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
)

// The guide's daemon.json shapes (issue 13.3): every form a runtimeArgs
// entry takes, in front of what Docker adds, comes out as the same
// defaults, and the runtime gets exactly the rest.
func TestSplitGuideFlags(t *testing.T) {
	docker := []string{"--root", "/var/run/docker/runtime-runc/moby", "--log", "/run/x/log.json", "--log-format", "json", "create", "--bundle", "/b", "ctr"}
	want := config.RuntimeDefaults{Enable: true, X509: "/etc/ima-hook/keys/x.der", Kcmd: "ima_policy=appraise_tcb ima_appraise=log"}
	for name, front := range map[string][]string{
		"one element each (the guide)":  {"--imans", "--ima-x509 /etc/ima-hook/keys/x.der", "--ima-kcmd ima_policy=appraise_tcb ima_appraise=log"},
		"flag and value apart":          {"--imans", "--ima-x509", "/etc/ima-hook/keys/x.der", "--ima-kcmd", "ima_policy=appraise_tcb ima_appraise=log"},
		"with =":                        {"--imans=true", "--ima-x509=/etc/ima-hook/keys/x.der", "--ima-kcmd=ima_policy=appraise_tcb ima_appraise=log"},
		"quoted, one dash, other order": {"-ima-kcmd \"ima_policy=appraise_tcb ima_appraise=log\"", "-imans", "--ima-x509 '/etc/ima-hook/keys/x.der'"},
		"extra spaces":                  {"--imans ", "--ima-x509   /etc/ima-hook/keys/x.der ", "--ima-kcmd\tima_policy=appraise_tcb ima_appraise=log"},
		// What Docker 20.10's runtime script makes of the guide's
		// entries: split at every space (seen in data/runtimes/NAME).
		"split by docker's script": {"--imans", "--ima-x509", "/etc/ima-hook/keys/x.der", "--ima-kcmd", "ima_policy=appraise_tcb", "ima_appraise=log"},
		"split after =":            {"--ima-kcmd=ima_policy=appraise_tcb", "ima_appraise=log", "--imans", "--ima-x509=/etc/ima-hook/keys/x.der"},
	} {
		args := append(slices.Clone(front), docker...)
		d, rest, err := SplitGuideFlags(args)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d != want {
			t.Errorf("%s: %+v, want %+v", name, d, want)
		}
		if !slices.Equal(rest, docker) {
			t.Errorf("%s: the runtime gets %q", name, rest)
		}
	}
	// Nothing to take: the line is untouched.
	d, rest, err := SplitGuideFlags(docker)
	if err != nil || !d.IsZero() || !slices.Equal(rest, docker) {
		t.Errorf("plain line: %+v %q %v", d, rest, err)
	}
	// Only leading flags: after the runtime's first argument they are the
	// runtime's (which refuses them), never taken silently.
	late := []string{"--root", "/r", "--imans", "create", "c"}
	if d, rest, _ := SplitGuideFlags(late); !d.IsZero() || !slices.Equal(rest, late) {
		t.Errorf("late flag taken: %+v %q", d, rest)
	}
	// --imans=false is no flag; the rest stays.
	if d, rest, err := SplitGuideFlags([]string{"--imans=false", "state", "c"}); err != nil || d.Enable || !slices.Equal(rest, []string{"state", "c"}) {
		t.Errorf("--imans=false: %+v %q %v", d, rest, err)
	}
	// Args renders what the hook gets, read back the same.
	if back, rest, err := SplitGuideFlags(want.Args()); err != nil || back != want || len(rest) != 0 {
		t.Errorf("Args round trip: %+v %q %v", back, rest, err)
	}
}

func TestSplitGuideFlagsErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--ima-x509"}, "--ima-x509 needs a value"},
		{[]string{"--ima-x509="}, "--ima-x509 has an empty value"},
		{[]string{"--ima-kcmd ''", "create"}, "--ima-kcmd has an empty value"},
		{[]string{"--imans", "--imans", "create"}, "--imans given twice"},
		{[]string{"--ima-x509 /a", "--ima-x509=/b", "create"}, "--ima-x509 given twice"},
		{[]string{"--imans=yes", "create"}, "--imans takes no value"},
		{[]string{"--ima-kcmd " + strings.Repeat("x", maxGuideValue+1)}, "more than 4096"},
		{[]string{"--ima-kcmd=a\nb"}, "NUL or newline"},
	} {
		_, rest, err := SplitGuideFlags(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
			continue
		}
		if line := userror.Line(err); !strings.HasPrefix(line, "ima-hook: runtime argument ") || strings.Contains(line, "\n") {
			t.Errorf("%q: line %q", c.args, line)
		}
		if !slices.Equal(rest, c.args) {
			t.Errorf("%q: rest %q on error", c.args, rest)
		}
	}
}

func FuzzSplitGuideFlags(f *testing.F) {
	f.Add("--imans\x00--ima-x509 /k/x.der\x00--ima-kcmd ima_policy=tcb\x00create\x00c")
	f.Add("--ima-x509\x00/k\x00--ima-kcmd=\"a b\"\x00run")
	f.Add("-imans=false\x00--root\x00/r")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		d, rest, err := SplitGuideFlags(args)
		if err != nil {
			if !slices.Equal(rest, args) {
				t.Fatalf("rest changed on error")
			}
			if strings.Contains(userror.Line(err), "\n") {
				t.Fatalf("multi-line error %q", userror.Line(err))
			}
			return
		}
		// rest is a suffix of args, and what was taken reads back the same.
		if len(rest) > len(args) || !slices.Equal(rest, args[len(args)-len(rest):]) {
			t.Fatalf("rest %q is not a suffix of %q", rest, args)
		}
		back, r2, err := SplitGuideFlags(d.Args())
		if err != nil || back != d || len(r2) != 0 {
			t.Fatalf("Args %q of %+v reads back as %+v %q %v", d.Args(), d, back, r2, err)
		}
		if len(d.X509) > maxGuideValue || len(d.Kcmd) > maxGuideValue {
			t.Fatalf("value over the bound")
		}
	})
}
