package policy

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var fuzzProfiles struct {
	once sync.Once
	list []Profile
}

// profilesForFuzz: the oracle kernel, the namespace default, and a
// feature-rich SELinux/modsig kernel, so every branch is reachable.
func profilesForFuzz(t testing.TB) []Profile {
	fuzzProfiles.once.Do(func() {
		rich := DefaultProfile()
		rich.Version = KernelVersion{6, 6}
		rich.Features = FeaturesFor(rich.Version)
		rich.Features.DigestLists, rich.Features.IMANSTemplate = true, true
		rich.Templates = BuiltinTemplates(rich.Features)
		rich.Modsig = true
		rich.LSMLabels = []string{"bin_t", "system_u"}
		rich.UIDMap = []IDMap{{0, 100000, 65536}}
		rich.Namespace.DeadFuncsAreErrors = true
		fuzzProfiles.list = []Profile{debian61(t), DefaultProfile(), rich}
	})
	return fuzzProfiles.list
}

func addCorpusSeeds(f *testing.F) {
	data, err := os.ReadFile(corpusPath)
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "##") {
			continue
		}
		if s, err := strconv.Unquote(line); err == nil {
			line = s
		}
		f.Add(line)
	}
	f.Add("measure func=FILE_CHECK\n#c\n\nappraise fowner=0 appraise_type=imasig\r\nmeasure uid=0 euid=0")
}

func FuzzParse(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, text string) {
		lines := strings.Split(text, "\n")
		for _, p := range profilesForFuzz(t) {
			pol, errs := Parse(text, p)
			if pol == nil {
				t.Fatal("nil policy")
			}
			last := 0
			for _, r := range pol.All() {
				if r.Index <= last {
					t.Fatalf("rule indexes not increasing: %d after %d", r.Index, last)
				}
				last = r.Index
			}
			for _, e := range errs {
				if e.Index == 0 {
					continue
				}
				if e.Line < 1 || e.Line > len(lines) {
					t.Fatalf("error line %d outside 1..%d: %v", e.Line, len(lines), e)
				}
				if e.Col < 1 || e.Col > len(lines[e.Line-1])+1 {
					t.Fatalf("error col %d outside line %q: %v", e.Col, lines[e.Line-1], e)
				}
				if e.Token != "" && !strings.Contains(lines[e.Line-1], e.Token) {
					t.Fatalf("token %q not in line %q", e.Token, lines[e.Line-1])
				}
				if strings.ContainsAny(e.Error(), "\n") {
					t.Fatalf("multi-line error %q", e.Error())
				}
			}
			for _, r := range pol.Rules {
				if len(r.Text) > MaxRuleBytes || r.Text == "" || r.Text[0] == '/' || strings.ContainsAny(r.Text, "\n\r\x00\t") {
					t.Fatalf("accepted rule text %q", r.Text)
				}
				// Normalization is a fixed point and keeps the verdict.
				r2, err := CheckRule(r.Text, p)
				if err != nil || r2.Text != r.Text || r2.Action != r.Action || r2.Func != r.Func {
					t.Fatalf("re-check of %q: %v %+v", r.Text, err, r2)
				}
			}
			// A shadow names an earlier rule of the same action class,
			// and a rule is shadowed by the rule it duplicates.
			for _, sh := range Shadowed(pol.Rules) {
				a, b := pol.Rules[sh.By.Position-1], pol.Rules[sh.Rule.Position-1]
				if sh.By.Position >= sh.Rule.Position || actionClass(a.Action) != actionClass(b.Action) || a.Text != sh.By.Text || b.Text != sh.Rule.Text {
					t.Fatalf("shadow %+v", sh)
				}
			}
			if n := len(pol.Rules); n > 0 && actionClass(pol.Rules[0].Action) != "" && !strings.Contains(pol.Rules[0].Text, "_user=") &&
				!strings.Contains(pol.Rules[0].Text, "_role=") && !strings.Contains(pol.Rules[0].Text, "_type=") {
				dup := Shadowed([]Rule{pol.Rules[0], pol.Rules[0]})
				if len(dup) != 1 || dup[0].Func != "" {
					t.Fatalf("a duplicate of %q is not shadowed: %+v", pol.Rules[0].Text, dup)
				}
			}
		}
	})
}

func FuzzParseKcmd(f *testing.F) {
	for _, s := range []string{"ima_policy=tcb", "ima_policy=tcb|appraise_tcb ima_appraise=fix", `"ima_policy=tcb secure_boot"`,
		`ima_policy="tcb appraise_tcb" ima_template=ima-ns`, "ima_tcb", "=x", "a==b", "ima_policy=\"", "ima_appraise=log\xa0ima_policy=tcb",
		"ima_template=d-ng|n-ng|ns", " \t\n", "ima-policy=tcb"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, allowTemplate bool) {
		for _, p := range profilesForFuzz(t) {
			p := p
			opt := KcmdOptions{AllowTemplate: allowTemplate, Profile: &p}
			k, err := ParseKcmd(s, opt)
			if err != nil {
				ke, ok := err.(*KcmdError)
				if !ok {
					t.Fatalf("error of type %T", err)
				}
				if ke.Param != "" && !strings.Contains(s, strings.Trim(ke.Param, `"`)) {
					t.Fatalf("error names parameter %q not in %q", ke.Param, s)
				}
				continue
			}
			k2, err := ParseKcmd(k.String(), opt)
			if err != nil {
				t.Fatalf("normalized %q of %q refused: %v", k.String(), s, err)
			}
			if !reflect.DeepEqual(k2.Policies, k.Policies) || k2.Appraise != k.Appraise || k2.Template != k.Template {
				t.Fatalf("round trip %q → %q: %+v vs %+v", s, k.String(), k, k2)
			}
			if _, err := ExpandKcmd(k, p); err != nil {
				t.Fatalf("accepted kcmd %q does not expand: %v", s, err)
			}
		}
	})
}

// FuzzKstrtoull compares the kernel-number parser with strconv on the
// inputs where both define the answer.
func FuzzKstrtoull(f *testing.F) {
	for _, s := range []string{"0", "+1", "18446744073709551615", "18446744073709551616", "0x1f", "ff", "-1", "", "+", "0x"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, hex bool) {
		base := uint64(10)
		if hex {
			base = 16
		}
		got, err := kstrtoull(s, base)
		ref := strings.TrimPrefix(s, "+")
		if hex && len(ref) >= 2 && ref[0] == '0' && (ref[1]|0x20) == 'x' {
			ref = ref[2:]
		}
		if ref == "" || strings.ContainsAny(ref, "+-_ \n") {
			if err == nil && !strings.HasSuffix(s, "\n") {
				t.Fatalf("kstrtoull(%q) = %d, want an error", s, got)
			}
			return
		}
		want, werr := strconv.ParseUint(ref, int(base), 64)
		if (err == nil) != (werr == nil) || (err == nil && got != want) {
			t.Fatalf("kstrtoull(%q, %d) = %d, %v; strconv says %d, %v", s, base, got, err, want, werr)
		}
	})
}
