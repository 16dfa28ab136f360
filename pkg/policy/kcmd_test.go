package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestNextArgMirrorsKernel(t *testing.T) {
	// Expected values worked out from lib/cmdline.c next_arg.
	for _, c := range []struct {
		in, param, val string
		hasVal         bool
		rest           string
	}{
		{"ima_policy=tcb", "ima_policy", "tcb", true, ""},
		{"ima_policy=tcb  ima_appraise=fix", "ima_policy", "tcb", true, "ima_appraise=fix"},
		{`ima_policy="tcb appraise_tcb" x=1`, "ima_policy", "tcb appraise_tcb", true, "x=1"},
		{`"ima_policy=tcb appraise_tcb"`, "ima_policy", "tcb appraise_tcb", true, ""},
		{`"ima_tcb"`, "ima_tcb", "", false, ""},
		{`ima_policy="tcb`, "ima_policy", "tcb", true, ""},
		{`ima_policy="tcb appraise_tcb`, "ima_policy", "tcb appraise_tcb", true, ""},
		{`ima_policy=""`, "ima_policy", "", true, ""},
		{`ima_policy="`, "ima_policy", "", true, ""},
		{"=tcb", "=tcb", "", false, ""},
		{"=a=b", "=a", "b", true, ""},
		{"a==b", "a", "=b", true, ""},
		{"ima_tcb\nima_policy=tcb", "ima_tcb", "", false, "ima_policy=tcb"},
		{"a=b\xa0c=d", "a", "b", true, "c=d"},
		{`a=x"y z"`, "a", `x"y z"`, true, ""},
	} {
		p, v, hv, rest := nextArg(c.in)
		if p != c.param || v != c.val || hv != c.hasVal || rest != c.rest {
			t.Errorf("nextArg(%q) = (%q, %q, %v, %q), want (%q, %q, %v, %q)", c.in, p, v, hv, rest, c.param, c.val, c.hasVal, c.rest)
		}
	}
}

func TestParseKcmd(t *testing.T) {
	p := DefaultProfile()
	ok := []struct {
		in   string
		opt  KcmdOptions
		want Kcmd
	}{
		{"ima_policy=tcb", KcmdOptions{}, Kcmd{Policies: []string{"tcb"}}},
		{"  ima_policy=tcb|appraise_tcb ima_appraise=fix\n", KcmdOptions{Profile: &p}, Kcmd{Policies: []string{"tcb", "appraise_tcb"}, Appraise: "fix"}},
		{`ima_policy="tcb secure_boot" ima_policy=fail_securely`, KcmdOptions{}, Kcmd{Policies: []string{"tcb", "secure_boot", "fail_securely"}}},
		{"ima_policy=tcb||appraise_tcb|", KcmdOptions{}, Kcmd{Policies: []string{"tcb", "appraise_tcb"}}},
		{"ima_policy=tcb ima_template=ima-ns", KcmdOptions{AllowTemplate: true, Profile: &p}, Kcmd{Policies: []string{"tcb"}, Template: "ima-ns"}},
		{"ima_template=d-ng|n-ng", KcmdOptions{AllowTemplate: true, Profile: &p}, Kcmd{Template: "d-ng|n-ng"}},
		{"ima_appraise=enforce", KcmdOptions{Profile: &p}, Kcmd{Appraise: "enforce"}},
		{"", KcmdOptions{}, Kcmd{}},
		{" \t\n", KcmdOptions{}, Kcmd{}},
	}
	for _, c := range ok {
		k, err := ParseKcmd(c.in, c.opt)
		if err != nil {
			t.Errorf("ParseKcmd(%q) = %v", c.in, err)
			continue
		}
		c.want.Raw = c.in
		if !reflect.DeepEqual(k, c.want) {
			t.Errorf("ParseKcmd(%q) = %+v, want %+v", c.in, k, c.want)
		}
		// The normalized form parses to the same settings.
		k2, err := ParseKcmd(k.String(), c.opt)
		if err != nil || !reflect.DeepEqual(k2.Policies, k.Policies) || k2.Appraise != k.Appraise || k2.Template != k.Template {
			t.Errorf("round trip of %q via %q: %+v, %v", c.in, k.String(), k2, err)
		}
	}

	noBootParam := p
	noBootParam.AppraiseBootParam = false
	sb := p
	sb.SecureBoot = true
	old := p
	old.Features.CriticalData = false
	bad := []struct {
		in    string
		opt   KcmdOptions
		param string
		want  string
	}{
		{"ima_tcb", KcmdOptions{}, "ima_tcb", "write ima_policy=tcb"},
		{"ima_appraise_tcb", KcmdOptions{}, "ima_appraise_tcb", "ima_policy=appraise_tcb"},
		{"ima_policy", KcmdOptions{}, "ima_policy", "no value"},
		{"ima_policy=tbc", KcmdOptions{}, "ima_policy", `unknown built-in policy "tbc"`},
		{"ima_policy=", KcmdOptions{}, "ima_policy", "names no built-in policy"},
		{"ima_policy=|", KcmdOptions{}, "ima_policy", "names no built-in policy"},
		{"ima_policy=critical_data", KcmdOptions{Profile: &old}, "ima_policy", "5.12"},
		{"ima_appraise=fixed", KcmdOptions{}, "ima_appraise", "unknown value"},
		{"ima_appraise=fix ima_appraise=log", KcmdOptions{}, "ima_appraise", "twice"},
		{"ima_appraise=log", KcmdOptions{Profile: &noBootParam}, "ima_appraise", "CONFIG_IMA_APPRAISE_BOOTPARAM"},
		{"ima_appraise=off", KcmdOptions{Profile: &sb}, "ima_appraise", "secure boot"},
		{"ima_template=ima-ns", KcmdOptions{}, "ima_template", "only ima_policy and ima_appraise"},
		{"ima_template=ima-nx", KcmdOptions{AllowTemplate: true, Profile: &p}, "ima_template", "unknown template"},
		{"ima_template=", KcmdOptions{AllowTemplate: true}, "ima_template", "empty"},
		{"ima_template=ima-ng ima_template=ima-ns", KcmdOptions{AllowTemplate: true}, "ima_template", "twice"},
		{"ima_hash=sha256", KcmdOptions{}, "ima_hash", "boot command line only"},
		{"ima-policy=tcb", KcmdOptions{}, "ima-policy", "write ima_policy"},
		{"ima_policy=tcb foo=bar", KcmdOptions{}, "foo", "unknown parameter"},
		{"=tcb", KcmdOptions{}, "=tcb", "no value"},
	}
	for _, c := range bad {
		_, err := ParseKcmd(c.in, c.opt)
		var ke *KcmdError
		if !errors.As(err, &ke) || ke.Param != c.param || !strings.Contains(ke.Msg, c.want) {
			t.Errorf("ParseKcmd(%q) = %v, want param %q and %q", c.in, err, c.param, c.want)
		}
	}
	if _, err := ParseKcmd(strings.Repeat(" ", MaxKcmdBytes+1), KcmdOptions{}); err == nil {
		t.Error("oversized kcmd accepted")
	}
	if _, err := ParseKcmd("ima_policy=tcb\x00", KcmdOptions{}); err == nil {
		t.Error("NUL accepted")
	}
	if got := (&KcmdError{Param: "ima_hash", Msg: "m"}).Error(); got != `kcmd parameter "ima_hash": m` {
		t.Errorf("Error() = %q", got)
	}
}

func TestKcmdSignedPolicy(t *testing.T) {
	p := DefaultProfile()
	for in, want := range map[string]bool{
		"ima_policy=tcb":                  false,
		"ima_policy=secure_boot":          true,
		"ima_policy=appraise_tcb":         true, // CONFIG_IMA_WRITE_POLICY adds appraise func=POLICY_CHECK
		"ima_policy=tcb|critical_data":    false,
		"ima_policy=tcb ima_appraise=fix": false,
	} {
		k, err := ParseKcmd(in, KcmdOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := k.SignedPolicyRequired(p); got != want {
			t.Errorf("%q: SignedPolicyRequired = %v, want %v", in, got, want)
		}
	}
	p.WritePolicy = false
	k, _ := ParseKcmd("ima_policy=appraise_tcb", KcmdOptions{})
	if k.SignedPolicyRequired(p) {
		t.Error("appraise_tcb without CONFIG_IMA_WRITE_POLICY has no POLICY_CHECK rule")
	}
}
