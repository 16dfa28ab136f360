package policy

import (
	"fmt"
	"strings"
	"testing"
)

// shadowsOf parses text (one rule a line) with the openEuler profile and
// returns its shadows as "RULE<-BY[@FUNC]" with 1-based positions.
func shadowsOf(t *testing.T, text string) []string {
	t.Helper()
	pol, errs := Parse(text, DefaultProfile())
	if len(errs) != 0 {
		t.Fatalf("%q: %v", text, errs[0])
	}
	return shadowKeys(Shadowed(pol.Rules))
}

func shadowKeys(sh []Shadow) []string {
	var out []string
	for _, s := range sh {
		k := fmt.Sprintf("%d<-%d", s.Rule.Position, s.By.Position)
		if s.Func != "" {
			k += "@" + s.Func
		}
		out = append(out, k)
	}
	return out
}

func TestShadowedTruePositives(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       string
	}{
		// Keylime's example policy excludes overlayfs, but a BPRM_CHECK
		// measure rule in front decides every exec first.
		{"keylime dont_measure fsmagic after measure func=BPRM_CHECK",
			"measure func=BPRM_CHECK\ndont_measure fsmagic=0x794c7630", "2<-1@BPRM_CHECK"},
		{"tcb's mask=MAY_EXEC is implied by BPRM_CHECK",
			"measure func=BPRM_CHECK mask=MAY_EXEC\ndont_measure fsmagic=0x794c7630", "2<-1@BPRM_CHECK"},
		{"a func-less rule in front of a narrower one",
			"dont_measure fsmagic=0x9fa0\nmeasure func=FILE_CHECK fsmagic=0x9FA0 uid=0", "2<-1"},
		{"options do not narrow a rule",
			"measure func=BPRM_CHECK\nmeasure func=BPRM_CHECK mask=MAY_EXEC pcr=11 template=ima-ng", "2<-1"},
		{"mask=^MAY_READ covers mask=MAY_READ",
			"appraise mask=^MAY_READ\ndont_appraise func=FILE_CHECK mask=MAY_READ uid=0", "2<-1"},
		{"func synonyms and the mmap mask",
			"measure func=MMAP_CHECK mask=MAY_EXEC\ndont_measure func=FILE_MMAP fsmagic=0x1", "2<-1"},
		{"a duplicate rule", "audit func=BPRM_CHECK\naudit func=BPRM_CHECK", "2<-1"},
		{"ids compared as numbers", "dont_measure uid=0\nmeasure func=BPRM_CHECK uid=00", "2<-1"},
		{"first shadowing rule named once",
			"dont_hash fsmagic=0x1\ndont_hash\nhash fsmagic=0x01", "3<-1"},
		{"module reads are MAY_READ",
			"measure func=MODULE_CHECK mask=^MAY_READ\ndont_measure fowner=0", "2<-1@MODULE_CHECK"},
		{"per func, each func once",
			"measure func=BPRM_CHECK\nmeasure func=MMAP_CHECK\nmeasure func=BPRM_CHECK uid=0\ndont_measure fsmagic=0x794c7630",
			"3<-1 4<-1@BPRM_CHECK 4<-2@MMAP_CHECK"},
	} {
		if got := strings.Join(shadowsOf(t, c.text), " "); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestShadowedTrueNegatives(t *testing.T) {
	for _, c := range []struct{ name, text string }{
		{"keylime order: the exclusion first", "dont_measure fsmagic=0x794c7630\nmeasure func=BPRM_CHECK"},
		{"another action class", "measure func=BPRM_CHECK\nappraise fsmagic=0x794c7630"},
		{"the earlier rule is narrower", "measure func=FILE_CHECK uid=0\nmeasure func=FILE_CHECK"},
		{"another func", "measure func=BPRM_CHECK\ndont_measure func=FILE_CHECK"},
		{"func-less before KEY_CHECK (matched only by func)", "measure uid=0\nmeasure func=KEY_CHECK uid=0 keyrings=.ima"},
		{"func-less before KEXEC_CMDLINE (not a file access)", "dont_measure\nmeasure func=KEXEC_CMDLINE"},
		{"exact mask is not implied by ^mask", "measure mask=MAY_READ\nmeasure func=FILE_CHECK mask=^MAY_READ"},
		{"FILE_CHECK has no fixed mask", "measure func=FILE_CHECK mask=MAY_EXEC\ndont_measure fsmagic=0x794c7630"},
		{"uid and euid differ", "dont_measure uid=0\nmeasure euid=0"},
		{"operators are not reasoned about", "dont_measure uid<1000\nmeasure func=BPRM_CHECK uid=0"},
		{"different values", "dont_measure fsmagic=0x9fa0\nmeasure fsmagic=0x9fa1"},
		{"LSM labels may resolve to nothing", "dont_measure obj_type=foo_t\nmeasure func=BPRM_CHECK obj_type=foo_t"},
		{"per func needs a func-less later rule", "measure func=BPRM_CHECK\ndont_measure func=MMAP_CHECK fsmagic=0x794c7630"},
		{"a func-less later rule against a narrower func rule", "measure func=BPRM_CHECK uid=0\ndont_measure fsmagic=0x794c7630"},
	} {
		if got := shadowsOf(t, c.text); len(got) != 0 {
			t.Errorf("%s: reported %v", c.name, got)
		}
	}
}

// The tcb built-ins in front of a custom exclusion (what ima-hook used to
// write) shadow it for every func tcb measures without further conditions;
// the rules the kernel keeps after the load (Effective) do not.
func TestShadowedBuiltinsInFront(t *testing.T) {
	p := DefaultProfile()
	k, err := ParseKcmd("ima_policy=tcb", KcmdOptions{Profile: &p})
	if err != nil {
		t.Fatal(err)
	}
	pol, errs := Parse("dont_measure fsmagic=0x794c7630\nmeasure func=BPRM_CHECK\n", p)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	builtins, _ := ExpandKcmd(k, p)
	sh := Shadowed(append(builtins, pol.Rules...))
	var funcs []string
	for _, s := range sh {
		if s.Rule.Source == "policy" && s.Rule.Index == 1 {
			funcs = append(funcs, s.Func)
			if s.By.Source != "builtin:tcb" || !strings.Contains(s.Message, "the builtin:tcb rule") {
				t.Errorf("shadow %+v", s)
			}
		}
	}
	if got := strings.Join(funcs, " "); got != "MMAP_CHECK BPRM_CHECK MODULE_CHECK FIRMWARE_CHECK POLICY_CHECK" {
		t.Errorf("exclusion shadowed for %q", got)
	}
	eff, err := Effective(k, pol, p)
	if err != nil {
		t.Fatal(err)
	}
	if sh := Shadowed(eff); len(sh) != 0 {
		t.Errorf("rules in force after the load report shadows: %+v", sh)
	}
}

func TestShadowMessages(t *testing.T) {
	pol, _ := Parse("measure func=BPRM_CHECK\ndont_measure fsmagic=0x794c7630\ndont_measure fsmagic=0x794c7630\n", DefaultProfile())
	sh := Shadowed(pol.Rules)
	if len(sh) != 2 {
		t.Fatalf("%+v", sh)
	}
	if want := `never applies to func=BPRM_CHECK: rule 1 (line 1: "measure func=BPRM_CHECK") comes first`; !strings.HasPrefix(sh[0].Message, want) {
		t.Errorf("message %q, want %q…", sh[0].Message, want)
	}
	if want := `shadowed by rule 2 (line 2: "dont_measure fsmagic=0x794c7630")`; !strings.HasPrefix(sh[1].Message, want) ||
		!strings.HasSuffix(sh[1].Message, "whether to measure") {
		t.Errorf("message %q, want %q…", sh[1].Message, want)
	}
}
