package policy

import (
	"errors"
	"strings"
	"testing"
)

// Every built-in rule, written as text, must be one the real kernel takes:
// the hook loads kcmd built-ins through the policy file when no wrapper
// created the namespace. Each text is in the oracle corpus, so the recorded
// kernel verdicts check it.
func TestBuiltinsAcceptedByRealKernel(t *testing.T) {
	corpus := loadCorpus(t)
	rec := loadRecorded(t)
	kernel := map[string]string{}
	for i, c := range corpus {
		kernel[c.Text] = rec.Verdict[i+1]
	}
	p := debian61(t)
	p.WritePolicy, p.AppraiseSignedInit = true, true // cover both forms of appraise_tcb
	for _, name := range BuiltinNames(p) {
		rules, err := BuiltinRules(name, p)
		if name == "fail_securely" {
			if !errors.Is(err, ErrFlagOnly) {
				t.Errorf("fail_securely: %v, want ErrFlagOnly", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(rules) == 0 {
			t.Fatalf("%s: no rules", name)
		}
		for _, r := range rules {
			if r.Source != "builtin:"+name || len(r.Warnings) != 0 {
				t.Errorf("%s: %+v", name, r)
			}
			v, ok := kernel[r.Text]
			if !ok {
				t.Errorf("%s: rule %q is not in the oracle corpus", name, r.Text)
				continue
			}
			if v != "ok" {
				t.Errorf("%s: the real kernel refuses %q (%s)", name, r.Text, v)
			}
		}
	}
}

func TestBuiltinTables(t *testing.T) {
	p := debian61(t)
	tcb, _ := BuiltinRules("tcb", p)
	if len(tcb) != 13+7 || tcb[3].Text != "dont_measure fsmagic=0x1021994" || tcb[15].Text != "measure func=FILE_CHECK mask=^MAY_READ euid=0" {
		t.Errorf("tcb: %d rules: %v", len(tcb), texts(tcb))
	}
	orig, _ := BuiltinRules("ima_tcb", p)
	if len(orig) != 13+5 || orig[15].Text != "measure func=FILE_CHECK mask=MAY_READ uid=0" {
		t.Errorf("ima_tcb: %v", texts(orig))
	}
	p.WritePolicy = false
	at, _ := BuiltinRules("appraise_tcb", p)
	if len(at) != 15 || at[4].Text != "dont_appraise fsmagic=0x858458f6" || at[14].Text != "appraise fowner=0" {
		t.Errorf("appraise_tcb without WRITE_POLICY: %v", texts(at))
	}
	p.WritePolicy, p.AppraiseSignedInit = true, true
	at, _ = BuiltinRules("appraise_tcb", p)
	if len(at) != 16 || at[14].Text != "appraise func=POLICY_CHECK appraise_type=imasig" || at[15].Text != "appraise fowner=0 appraise_type=imasig" {
		t.Errorf("appraise_tcb with WRITE_POLICY and SIGNED_INIT: %v", texts(at))
	}
	sb, _ := BuiltinRules("secure_boot", p)
	if len(sb) != 4 {
		t.Errorf("secure_boot: %v", texts(sb))
	}
	if _, err := BuiltinRules("nope", p); err == nil {
		t.Error("unknown built-in accepted")
	}
	old := DefaultProfile()
	if _, err := BuiltinRules("critical_data", old); err == nil {
		t.Error("critical_data on 5.10")
	}
	old.Features.DigestLists = true
	tcbDL, _ := BuiltinRules("tcb", old)
	if tcbDL[len(tcbDL)-1].Text != "measure func=DIGEST_LIST_CHECK" {
		t.Errorf("openEuler tcb: %v", texts(tcbDL))
	}
	exec, err := BuiltinRules("exec_tcb", old)
	if err != nil || strings.Contains(strings.Join(texts(exec), "\n"), "FILE_CHECK") || strings.Contains(strings.Join(texts(exec), "\n"), tmpfsMagic+"\n") {
		t.Errorf("exec_tcb: %v %v", err, texts(exec))
	}
}

func TestExpandKcmdOrder(t *testing.T) {
	p := debian61(t)
	p.SecureBoot = true
	p.ArchPolicy, p.KexecSig, p.ModuleSig = true, false, true
	p.BuildAppraise = []string{"FIRMWARE_CHECK"}
	k, err := ParseKcmd("ima_policy=critical_data|appraise_tcb|tcb|fail_securely", KcmdOptions{Profile: &p})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ExpandKcmd(k, p)
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, r := range rules {
		if len(sources) == 0 || sources[len(sources)-1] != r.Source {
			sources = append(sources, r.Source)
		}
	}
	// ima_init_policy order: tcb, arch, (secure_boot), build, appraise_tcb, critical_data.
	want := "builtin:tcb arch build builtin:appraise_tcb builtin:critical_data"
	if got := strings.Join(sources, " "); got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	arch := ArchRules(p)
	if len(arch) != 3 || arch[0].Text != "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig" {
		t.Errorf("arch rules: %v", texts(arch))
	}
	// secure_boot replaces the build rules in the boot policy.
	k2, _ := ParseKcmd("ima_policy=secure_boot", KcmdOptions{})
	rules, _ = ExpandKcmd(k2, p)
	for _, r := range rules {
		if r.Source == "build" {
			t.Errorf("build rule with secure_boot: %+v", r)
		}
	}
	// In a namespace the build rules never apply.
	p.Namespace.Enabled = true
	if br := BuildRules(p); len(br) != 0 {
		t.Errorf("build rules in a namespace: %v", texts(br))
	}

	// A loaded policy replaces the built-ins; arch rules stay in front.
	pol, errs := Parse("measure func=BPRM_CHECK", p)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	eff, err := Effective(k, pol, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(eff) != 4 || eff[0].Source != "arch" || eff[3].Source != "policy" {
		t.Errorf("effective: %v", texts(eff))
	}
	if _, err := ExpandKcmd(Kcmd{Policies: []string{"bogus"}}, p); err == nil {
		t.Error("unknown name expanded")
	}
}

func texts(rs []Rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Text
	}
	return out
}

// The hook writes what the kernel keeps: with a custom policy, that policy
// alone (ima_update_policy replaces the kcmd's built-ins and keeps the
// architecture rules), so the rules in force are Effective's, and a custom
// exclusion is not shadowed by built-ins written back in front of it.
func TestHookRulesReplaceBuiltins(t *testing.T) {
	p := DefaultProfile()
	p.SecureBoot, p.KexecSig = true, false // architecture rules present
	k, err := ParseKcmd("ima_policy=tcb|appraise_tcb", KcmdOptions{Profile: &p})
	if err != nil {
		t.Fatal(err)
	}
	pol, errs := Parse("dont_measure fsmagic=0x794c7630\nmeasure func=BPRM_CHECK\n", p)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	written, err := HookRules(k, pol, p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(texts(written), "\n"), strings.Join(texts(pol.Rules), "\n"); got != want {
		t.Errorf("hook writes\n%s\nwant exactly the custom policy\n%s", got, want)
	}
	inForce, err := InForce(k, pol, p)
	if err != nil {
		t.Fatal(err)
	}
	eff, _ := Effective(k, pol, p)
	if got, want := strings.Join(texts(inForce), "\n"), strings.Join(texts(eff), "\n"); got != want {
		t.Errorf("in force after the hook:\n%s\nthe kernel's answer:\n%s", got, want)
	}
	want := append(texts(ArchRules(p)), texts(pol.Rules)...)
	if got := texts(inForce); strings.Join(got, "\n") != strings.Join(want, "\n") || len(ArchRules(p)) == 0 {
		t.Errorf("in force %q, want the architecture rules then the policy %q", got, want)
	}
	// Only the architecture rules (KEXEC_KERNEL_CHECK, MODULE_CHECK) come
	// before the exclusion; an exec reaches it.
	for _, sh := range Shadowed(inForce) {
		if sh.By.Source != "arch" || sh.Func == "BPRM_CHECK" || sh.Func == "" {
			t.Errorf("shadow in force: %+v", sh)
		}
	}
	replaced, _ := ReplacedBuiltins(k, p)
	for _, r := range replaced {
		if r.Source == "arch" || r.Source == "build" || !strings.HasPrefix(r.Source, "builtin:") {
			t.Errorf("replaced %+v", r)
		}
	}
	if len(replaced) == 0 {
		t.Error("tcb|appraise_tcb replaces nothing")
	}

	// Without a custom policy, a namespace that was not created with the
	// kcmd is loaded with the kcmd's built-ins, architecture rules left
	// to the kernel.
	written, _ = HookRules(k, nil, p)
	if strings.Join(texts(written), "\n") != strings.Join(texts(replaced), "\n") {
		t.Errorf("without a policy the hook writes %q", texts(written))
	}
	if got, _ := InForce(k, nil, p); len(got) != len(replaced)+len(ArchRules(p)) {
		t.Errorf("kcmd only: %q", texts(got))
	}
}

// CheckKcmd is ExpandKcmd's verdict: whatever it accepts expands (the
// wrapper decides with CheckKcmd and the hook then expands), and what it
// refuses ExpandKcmd refuses too.
func TestCheckKcmdIsExpandKcmdsVerdict(t *testing.T) {
	names := append(KcmdPolicyNames(&profilesForFuzz(t)[2]), "bogus", "ima_tcb")
	for _, p := range profilesForFuzz(t) {
		for _, a := range names {
			for _, b := range append([]string{""}, names...) {
				k := Kcmd{Policies: []string{a}}
				if b != "" {
					k.Policies = append(k.Policies, b)
				}
				_, xerr := ExpandKcmd(k, p)
				if cerr := CheckKcmd(k, p); (cerr == nil) != (xerr == nil) {
					t.Fatalf("%v under kernel %v (digest lists %v): CheckKcmd %v, ExpandKcmd %v", k.Policies, p.Version, p.Features.DigestLists, cerr, xerr)
				}
			}
		}
	}
}
