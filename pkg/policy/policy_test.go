package policy

import (
	"os"
	"strings"
	"testing"
)

// debian61 is the oracle kernel's profile (recorded config, AppArmor with
// no profile loaded), the profile whose verdicts the real kernel confirmed.
func debian61(t testing.TB) Profile {
	t.Helper()
	f, err := os.Open(configPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := ProfileFromConfig(f, "lockdown,capability,landlock,yama,apparmor,tomoyo,bpf")
	if err != nil {
		t.Fatal(err)
	}
	p.LSMLabels = []string{}
	return p
}

func TestParseCollectsAllErrorsSortedWithPositions(t *testing.T) {
	p := debian61(t)
	text := "# header comment\n" +
		"measure func=FILE_CHECK\n" +
		"\n" +
		"measure func=BOGUS\n" + // rule 2
		"   # indented comment\n" +
		"appraise pcr=10\n" + // rule 3
		"dont_measure fsmagic=0x9fa0\n" + // rule 4
		"measure  uid=0   euid=0\n" // rule 5
	pol, errs := Parse(text, p)
	if len(errs) != 3 {
		t.Fatalf("got %d errors, want 3: %v", len(errs), errs)
	}
	want := []struct {
		line, col, index int
		token            string
	}{{4, 9, 2, "func=BOGUS"}, {6, 10, 3, "pcr=10"}, {8, 18, 5, "euid=0"}}
	for i, w := range want {
		e := errs[i]
		if e.Line != w.line || e.Col != w.col || e.Index != w.index || e.Token != w.token {
			t.Errorf("error %d = %+v, want line %d col %d index %d token %q", i, e, w.line, w.col, w.index, w.token)
		}
	}
	if got := errs[0].Error(); got != `rule 2 (line 4, col 9): token "func=BOGUS": unknown func (FILE_CHECK, MMAP_CHECK, BPRM_CHECK, CREDS_CHECK, MODULE_CHECK, FIRMWARE_CHECK, KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK, POLICY_CHECK, KEXEC_CMDLINE, KEY_CHECK, CRITICAL_DATA, SETXATTR_CHECK)` {
		t.Errorf("Error() = %s", got)
	}
	if len(pol.Rules) != 2 || pol.Rules[0].Index != 1 || pol.Rules[1].Index != 4 {
		t.Fatalf("accepted rules = %+v", pol.Rules)
	}
	if len(pol.Refused) != 3 || pol.Refused[2].Err != errs[2] {
		t.Fatalf("refused rules = %+v", pol.Refused)
	}
	if all := pol.All(); len(all) != 5 || all[2].Index != 3 {
		t.Fatalf("All() order wrong: %+v", all)
	}
}

func TestParseNormalizesText(t *testing.T) {
	p := debian61(t)
	pol, errs := Parse("\t measure\tfunc=FILE_CHECK    mask=^MAY_READ \t\nappraise fowner=0", p)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if got := pol.Text(); got != "measure func=FILE_CHECK mask=^MAY_READ\nappraise fowner=0\n" {
		t.Fatalf("Text() = %q", got)
	}
	r := pol.Rules[0]
	if r.Action != "measure" || r.Func != "FILE_CHECK" || r.Col != 3 || len(r.Tokens) != 3 {
		t.Fatalf("rule = %+v", r)
	}
	if tok := r.Tokens[2]; tok.Key != "mask" || tok.Op != "=" || tok.Value != "^MAY_READ" || tok.Col != 30 {
		t.Fatalf("token = %+v", tok)
	}
	if string(r.WriteBytes()) != "measure func=FILE_CHECK mask=^MAY_READ\n" {
		t.Fatalf("WriteBytes = %q", r.WriteBytes())
	}
	// Aliases keep their spelling in Text (the kernel takes them) and
	// are canonical in Func.
	pol, _ = Parse("measure func=PATH_CHECK\nmeasure func=FILE_MMAP", p)
	if pol.Rules[0].Func != "FILE_CHECK" || pol.Rules[1].Func != "MMAP_CHECK" || pol.Rules[0].Text != "measure func=PATH_CHECK" {
		t.Fatalf("aliases: %+v", pol.Rules)
	}
}

func TestParsePolicyLevelErrors(t *testing.T) {
	p := debian61(t)
	for _, text := range []string{"", "# only a comment\n\n   \n"} {
		_, errs := Parse(text, p)
		if len(errs) != 1 || errs[0].Index != 0 || !strings.Contains(errs[0].Error(), "policy: no rules") {
			t.Errorf("Parse(%q) = %v, want the empty-policy error", text, errs)
		}
	}
	q := p
	q.SignedPolicyRequired = true
	_, errs := Parse("measure func=FILE_CHECK", q)
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "EACCES") {
		t.Errorf("signed policy: %v", errs)
	}
	q = p
	q.IMA = false
	if _, errs := Parse("measure", q); len(errs) != 1 || !strings.Contains(errs[0].Msg, "CONFIG_IMA") {
		t.Errorf("no IMA: %v", errs)
	}
}

func TestParseLimits(t *testing.T) {
	p := debian61(t)
	p.Limits = Limits{MaxBytes: 100, MaxRules: 3, MaxTokens: 4}
	if _, errs := Parse(strings.Repeat("measure\n", 13), p); len(errs) != 1 || !strings.Contains(errs[0].Msg, "limit is 100") {
		t.Errorf("size limit: %v", errs)
	}
	_, errs := Parse("measure\nmeasure\n# c\nmeasure\nmeasure\nmeasure\n", p)
	if len(errs) != 1 || errs[0].Line != 5 || errs[0].Index != 4 || !strings.Contains(errs[0].Msg, "more than 3 rules") {
		t.Errorf("rule limit: %v", errs)
	}
	_, errs = Parse("measure permit_directio permit_directio permit_directio permit_directio", p)
	if len(errs) != 1 || errs[0].Col != 57 || !errs[0].Stricter {
		t.Errorf("token limit: %+v", errs)
	}
	p = debian61(t)
	long := "measure fsname=" + strings.Repeat("x", MaxRuleBytes-len("measure fsname=")+1)
	_, errs = Parse(long, p)
	if len(errs) != 1 || errs[0].Col != 9 || !strings.Contains(errs[0].Msg, "4095 bytes") {
		t.Errorf("rule length: %+v", errs)
	}
	if _, errs := Parse(long[:MaxRuleBytes], p); len(errs) != 0 {
		t.Errorf("a rule of exactly MaxRuleBytes must pass: %v", errs)
	}
}

func TestParseHygiene(t *testing.T) {
	p := debian61(t)
	for _, c := range []struct{ text, want string }{
		{"/etc/ima/policy", "cannot start with '/'"},
		{"  /etc/ima/policy", "cannot start with '/'"},
		{"measure fsname=ext4\r", "carriage return"},
		{"measure\x00", "NUL"},
		{"measure fsname=a\x7fb", "control character"},
	} {
		_, errs := Parse(c.text, p)
		if len(errs) != 1 || !strings.Contains(errs[0].Msg, c.want) {
			t.Errorf("Parse(%q) = %v, want %q", c.text, errs, c.want)
		}
	}
}

func TestMessages(t *testing.T) {
	p := debian61(t)
	for _, c := range []struct{ rule, want string }{
		{"mesure", "did you mean measure"},
		{"measure Func=FILE_CHECK", "lower case: func"},
		{"measure func=file_check", "upper case: FILE_CHECK"},
		{"measure func", "func needs a value"},
		{"measure func=", "empty value after func="},
		{"measure pcr<5", "pcr takes only ="},
		{"measure permit_directio=1", "permit_directio takes no value"},
		{"measure # c", "comment must be on its own line"},
		{"template=ima-ng measure", "must come after the measure action"},
		{"measure func=KEY_CHECK mask=MAY_READ", "mask is not allowed with func=KEY_CHECK"},
		{"appraise appraise_type=sigv3 digest_type=verity", "needs digest_type=verity before it"},
		{"appraise appraise_type=modsig", "spells it appraise_type=imasig|modsig"},
		{"appraise appraise_type=imasig|modsig", "CONFIG_IMA_APPRAISE_MODSIG"},
		{"appraise appraise_algos=SHA256", "spells it sha256"},
		{"appraise appraise_algos=sm3", "unavailable: not built into this kernel"},
		{"measure uid=4294967295", "(uid_t)-1"},
		{"measure uid=0 euid=0", "share one slot"},
		{"measure subj_type=x", "AppArmor defines only subj_role"},
		{"measure subj_role=foo", `no AppArmor profile "foo"`},
		{"measure func=KEY_CHECK subj_role=unconfined", "cannot have LSM label conditions"},
		{"appraise func=SETXATTR_CHECK", "needs appraise_algos="},
		{"func=FILE_CHECK", "no action"},
		{"measure func=MMAP_CHECK_REQPROT", "6.4 or newer"},
	} {
		_, err := CheckRule(c.rule, p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckRule(%q) = %v, want it to mention %q", c.rule, err, c.want)
		}
	}
}

func TestFeatureGates(t *testing.T) {
	p := debian61(t)
	p.Version = KernelVersion{5, 10}
	p.Features = FeaturesFor(p.Version)
	p.Templates = builtinTemplates(p.Features)
	for _, c := range []struct{ rule, want string }{
		{"measure gid=0", "gid= is not known to this kernel (mainline 6.0"},
		{"measure fgroup<5", "fgroup< is not known"},
		{"measure digest_type=verity", "digest_type= is not known"},
		{"appraise appraise_algos=sha256", "appraise_algos= is not known"},
		{"measure func=CRITICAL_DATA", "needs kernel 5.12"},
		{"measure func=CRITICAL_DATA label=x", "needs kernel 5.12"},
		{"appraise func=SETXATTR_CHECK appraise_algos=sha256", "needs kernel 5.15"},
		{"appraise appraise_type=sigv3", "5.19 or newer"},
		{"measure template=ima-ngv2", "unknown template"},
		{"measure template=evm-sig", "unknown template"},
	} {
		_, err := CheckRule(c.rule, p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("5.10: CheckRule(%q) = %v, want %q", c.rule, err, c.want)
		}
	}
	if err := p.Features.SetFeature("gid_conditions", true); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckRule("measure gid=0", p); err != nil {
		t.Errorf("gid with the feature switched on: %v", err)
	}
	if err := p.Features.SetFeature("nope", true); err == nil {
		t.Error("SetFeature accepted an unknown name")
	}
	// Older than modelled: verdict as 5.10, with a warning.
	p.Version = KernelVersion{4, 19}
	pol, errs := Parse("measure func=BPRM_CHECK", p)
	if len(errs) != 0 || len(pol.Rules[0].Warnings) == 0 {
		t.Errorf("4.19: %v %+v", errs, pol.Rules)
	}
}

func TestDigestListsFeature(t *testing.T) {
	p := DefaultProfile()
	p.Features.DigestLists = true
	for _, ok := range []string{"measure func=DIGEST_LIST_CHECK", "appraise func=BPRM_CHECK appraise_type=meta_immutable", "measure pcr=12"} {
		if _, err := CheckRule(ok, p); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"measure pcr=11", "measure appraise_type=meta_immutable", "measure func=DIGEST_LIST_CHECK parser"} {
		if _, err := CheckRule(bad, p); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLSMs(t *testing.T) {
	sel := DefaultProfile()
	sel.LSMs = []string{"capability", "selinux"}
	r, err := CheckRule("measure obj_type=bin_t subj_user=system_u", sel)
	if err != nil || len(r.Warnings) != 2 {
		t.Errorf("SELinux unchecked: %v %v", err, r.Warnings)
	}
	sel.LSMLabels = []string{"bin_t"}
	if _, err := CheckRule("measure obj_type=bin_t", sel); err != nil {
		t.Error(err)
	}
	if _, err := CheckRule("measure obj_type=etc_t", sel); err == nil || !strings.Contains(err.Msg, `no type "etc_t"`) {
		t.Errorf("SELinux known labels: %v", err)
	}
	sel.CustomPolicyLoaded = true
	r, err = CheckRule("measure obj_type=etc_t", sel)
	if err != nil || len(r.Warnings) != 1 {
		t.Errorf("after a custom policy an undefined label is taken with a warning: %v %v", err, r.Warnings)
	}
	// ... and then counts as an LSM condition for KEY_CHECK.
	if _, err := CheckRule("measure func=KEY_CHECK obj_type=etc_t", sel); err == nil {
		t.Error("KEY_CHECK with a kept LSM condition accepted")
	}

	smack := DefaultProfile()
	smack.LSMs = []string{"capability", "smack"}
	for rule, ok := range map[string]bool{
		"measure subj_user=_":                          true,
		"measure obj_user=web-server":                  true,
		"measure subj_role=x":                          false,
		"measure obj_user=-x":                          false,
		"measure obj_user=a/b":                         false,
		"measure obj_user=" + strings.Repeat("a", 256): false,
	} {
		if _, err := CheckRule(rule, smack); (err == nil) != ok {
			t.Errorf("Smack %q: %v", rule, err)
		}
	}

	none := DefaultProfile()
	none.LSMs = []string{"capability", "yama"}
	if _, err := CheckRule("measure subj_role=x", none); err == nil || !strings.Contains(err.Msg, "no active LSM") {
		t.Errorf("no LSM: %v", err)
	}
	none.LSMRules = false
	if _, err := CheckRule("measure subj_role=x", none); err == nil || !strings.Contains(err.Msg, "CONFIG_IMA_LSM_RULES") {
		t.Errorf("no IMA_LSM_RULES: %v", err)
	}

	aa := DefaultProfile()
	aa.LSMs = []string{"apparmor"}
	if r, err := CheckRule("measure subj_role=docker-default", aa); err != nil || len(r.Warnings) != 1 {
		t.Errorf("AppArmor, profiles unknown: %v %v", err, r.Warnings)
	}
	if err := aa.SetAppArmorProfiles(strings.NewReader("docker-default (enforce)\n/usr/bin/man (enforce)\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckRule("measure subj_role=/usr/bin/man", aa); err != nil {
		t.Errorf("loaded AppArmor profile: %v", err)
	}
	if _, err := CheckRule("measure subj_role=other", aa); err == nil {
		t.Error("AppArmor profile that is not loaded accepted")
	}
}

func TestIDMaps(t *testing.T) {
	p := DefaultProfile()
	p.UIDMap = []IDMap{{Inside: 0, Outside: 100000, Count: 65536}}
	if _, err := CheckRule("measure uid=65535", p); err != nil {
		t.Error(err)
	}
	if _, err := CheckRule("measure fowner=65536", p); err == nil || !strings.Contains(err.Msg, "not mapped") {
		t.Errorf("unmapped fowner: %v", err)
	}
	p.UIDMap = []IDMap{{Inside: 0, Outside: 4294967295, Count: 1}}
	if _, err := CheckRule("measure uid=0", p); err == nil {
		t.Error("uid mapped to (uid_t)-1 accepted")
	}
}

func TestNamespaceMode(t *testing.T) {
	p := DefaultProfile()
	if !p.Namespace.Enabled {
		t.Fatal("DefaultProfile must be in namespace mode")
	}
	r, err := CheckRule("measure func=KEXEC_KERNEL_CHECK", p)
	if err != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "never fires") {
		t.Errorf("kexec rule in a namespace: %v %v", err, r.Warnings)
	}
	p.Namespace.DeadFuncsAreErrors = true
	if _, err := CheckRule("measure func=KEXEC_CMDLINE", p); err == nil || !err.Stricter {
		t.Errorf("DeadFuncsAreErrors: %v", err)
	}
	if _, err := CheckRule("measure template=ima-ns", p); err != nil {
		t.Errorf("ima-ns template on the namespace kernel: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	p := debian61(t)
	r, err := CheckRule("measure digest_type=verity", p)
	if err != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "d-ngv2") {
		t.Errorf("verity notice: %v %v", err, r.Warnings)
	}
	p.Modsig = true
	r, err = CheckRule("appraise func=MODULE_CHECK appraise_type=imasig|modsig template=ima-ng", p)
	if err == nil {
		t.Errorf("template on an appraise rule accepted: %+v", r)
	}
	p.DefaultTemplate = "d-ng|n-ng|modsig"
	p.Templates = append(p.Templates, Template{Fmt: "d-ng|n-ng|modsig"})
	r, err = CheckRule("appraise func=MODULE_CHECK appraise_type=imasig|modsig appraise_flag=check_blacklist", p)
	if err != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "d-modsig") {
		t.Errorf("modsig notice: %v %v", err, r.Warnings)
	}
	p.Appraise = false
	if r, _ := CheckRule("appraise fowner=0", p); len(r.Warnings) != 1 {
		t.Errorf("appraise without CONFIG_IMA_APPRAISE: %v", r.Warnings)
	}
}

func TestKstrto(t *testing.T) {
	for _, c := range []struct {
		s    string
		base uint64
		want uint64
		ok   bool
	}{
		{"0", 10, 0, true}, {"+7", 10, 7, true}, {"++7", 10, 0, false}, {"-7", 10, 0, false},
		{"0x1F", 16, 31, true}, {"0X1f", 16, 31, true}, {"0x", 16, 0, false}, {"1f", 16, 31, true},
		{"18446744073709551615", 10, 1<<64 - 1, true}, {"18446744073709551616", 10, 0, false},
		{"7\n", 10, 7, true}, {"7\n\n", 10, 0, false}, {"", 10, 0, false}, {"0x10", 10, 0, false},
	} {
		got, err := kstrtoull(c.s, c.base)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("kstrtoull(%q, %d) = %d, %v", c.s, c.base, got, err)
		}
	}
	for _, c := range []struct {
		s    string
		want int64
		ok   bool
	}{{"-0", 0, true}, {"+5", 5, true}, {"-+5", 0, false}, {"2147483647", 2147483647, true},
		{"2147483648", 0, false}, {"-2147483648", -2147483648, true}, {"-2147483649", 0, false},
		{"-9223372036854775808", 0, false}, {"-99999999999999999999", 0, false}} {
		got, err := kstrtoint(c.s, 10)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("kstrtoint(%q) = %d, %v", c.s, got, err)
		}
	}
}

func TestCheckRuleRefusesNonRules(t *testing.T) {
	p := debian61(t)
	for _, s := range []string{"", "   ", "\t# comment"} {
		if _, err := CheckRule(s, p); err == nil {
			t.Errorf("CheckRule(%q) accepted", s)
		}
	}
}

// KernelExact gives the kernel's verdict for each write: it drops what
// follows a NUL, takes PAGE_SIZE-1 bytes, keeps control bytes in tokens,
// and makes none of the validator's stricter refusals.
func TestKernelExactMode(t *testing.T) {
	p := DefaultProfile()
	strict, exact := p, p
	exact.KernelExact = true
	for _, rule := range []string{
		"measure\x00 func=BOGUS",
		"measure func=FILE_CHECK fsname=ext4\r",
		"measure func=FILE_CHECK fsname=" + strings.Repeat("a", 5000),
	} {
		if _, err := CheckRule(rule, strict); err == nil || !err.Stricter {
			t.Errorf("%q: default mode must refuse it as stricter, got %v", rule[:20], err)
		}
		if _, err := CheckRule(rule, exact); err != nil {
			t.Errorf("%q: kernel-exact mode must take it as the kernel does: %v", rule[:20], err)
		}
	}
	// A real error stays an error in both modes.
	if _, err := CheckRule("measure func=BOGUS", exact); err == nil {
		t.Error("kernel-exact accepted an unknown func")
	}
}
