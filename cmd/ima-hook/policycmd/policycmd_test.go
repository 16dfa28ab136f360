package policycmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

const kconfig = "../../../pkg/policy/testdata/oracle/kernel-6.1.config"

func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	rc := Run(args, strings.NewReader(stdin), &out, &errb)
	return rc, out.String(), errb.String()
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "web.policy")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const mixed = "# web\nmeasure func=BPRM_CHECK mask=MAY_EXEC\n\nmeasure func=BOGUS\nmeasure digest_type=verity\nappraise pcr=3\n"

func TestTextReport(t *testing.T) {
	f := writeFile(t, mixed)
	rc, out, errs := run(t, "", "check", "--kernel-config", kconfig, "--lsm", "capability,apparmor", f)
	if rc != 1 {
		t.Fatalf("rc=%d stderr=%s", rc, errs)
	}
	want := []string{
		f + `:4:9: rule 2: token "func=BOGUS": unknown func`,
		f + `:5:1: warning: rule 3: verity rules should include d-ngv2`,
		// Rule 1 decides every exec before rule 3 (func-less) is reached.
		f + `:5:1: warning: rule 3: never applies to func=BPRM_CHECK: rule 1 (line 2: "measure func=BPRM_CHECK mask=MAY_EXEC") comes first`,
		f + `:6:10: rule 4: token "pcr=3": pcr= is only valid in measure rules`,
		f + ": 4 rules: 2 accepted, 2 refused, 2 warnings; checked against the kernel config " + kconfig + " (kernel 6.1)",
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d:\n got %s\nwant %s…", i+1, lines[i], w)
		}
	}
}

func TestJSONReport(t *testing.T) {
	rc, out, _ := run(t, mixed, "check", "--format", "json", "--kernel-config", kconfig, "-")
	if rc != 1 {
		t.Fatalf("rc=%d", rc)
	}
	var rep struct {
		Source string `json:"source"`
		OK     bool   `json:"ok"`
		Rules  []struct {
			Index, Line, Col int
			OK               bool   `json:"ok"`
			Error            string `json:"error"`
			Token            string `json:"token"`
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.OK || rep.Source != "<stdin>" || len(rep.Rules) != 4 {
		t.Fatalf("%+v", rep)
	}
	r := rep.Rules[1]
	if r.OK || r.Line != 4 || r.Col != 9 || r.Token != "func=BOGUS" || !strings.Contains(r.Error, "rule 2 (line 4, col 9)") {
		t.Errorf("rule 2: %+v", r)
	}
	if !rep.Rules[0].OK || rep.Rules[0].Error != "" {
		t.Errorf("rule 1: %+v", rep.Rules[0])
	}
}

func TestAllAcceptedExitsZero(t *testing.T) {
	rc, out, _ := run(t, "measure func=BPRM_CHECK\n", "check", "--kernel-config", kconfig, "-")
	if rc != 0 || !strings.Contains(out, "<stdin>: 1 rule: 1 accepted, 0 refused") {
		t.Fatalf("rc=%d out=%s", rc, out)
	}
}

func TestKcmdAndExplain(t *testing.T) {
	rc, out, _ := run(t, "", "check", "--kernel-config", kconfig, "--kcmd", "ima_policy=critical_data|tcb", "--explain")
	if rc != 0 {
		t.Fatalf("rc=%d out=%s", rc, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "kcmd: ok: ima_policy=critical_data|tcb" || !strings.HasPrefix(lines[2], "builtin:tcb") ||
		!strings.HasSuffix(lines[len(lines)-1], "measure func=CRITICAL_DATA") {
		t.Fatalf("explain output:\n%s", out)
	}
	// With a policy, the built-ins are replaced.
	rc, out, _ = run(t, "measure func=BPRM_CHECK\n", "check", "--kernel-config", kconfig, "--kcmd", "ima_policy=tcb", "--explain", "-")
	if rc != 0 || !strings.Contains(out, "replaces the kcmd built-ins") || !strings.Contains(out, "policy                 measure func=BPRM_CHECK") ||
		strings.Contains(out, "builtin:tcb") {
		t.Fatalf("explain with policy (rc %d):\n%s", rc, out)
	}
	rc, out, _ = run(t, "", "check", "--kernel-config", kconfig, "--kcmd", "ima_template=ima-ng")
	if rc != 1 || !strings.Contains(out, `kcmd parameter "ima_template"`) {
		t.Fatalf("rc=%d out=%s", rc, out)
	}
	rc, _, _ = run(t, "", "check", "--kernel-config", kconfig, "--allow-kcmd-template", "--kcmd", "ima_template=ima-ng")
	if rc != 0 {
		t.Fatalf("--allow-kcmd-template: rc=%d", rc)
	}
}

// Shadowed rules: text and JSON, over the rules in force (the kcmd's
// built-ins are replaced by the policy, so they shadow nothing).
func TestShadowWarnings(t *testing.T) {
	keylime := "measure func=BPRM_CHECK\ndont_measure fsmagic=0x794c7630\nmeasure func=BPRM_CHECK uid=0\n"
	rc, out, _ := run(t, keylime, "check", "--kernel-config", kconfig, "--kcmd", "ima_policy=tcb", "-")
	want := []string{
		"kcmd: ok: ima_policy=tcb",
		`<stdin>:2:1: warning: rule 2: never applies to func=BPRM_CHECK: rule 1 (line 1: "measure func=BPRM_CHECK") comes first and matches every BPRM_CHECK access this rule matches, so it decides whether to measure`,
		`<stdin>:3:1: warning: rule 3: shadowed by rule 1 (line 1: "measure func=BPRM_CHECK"): it comes first and matches every access this rule matches, so this rule never decides whether to measure`,
		"<stdin>: 3 rules: 3 accepted, 0 refused, 2 warnings; checked",
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if rc != 0 || len(lines) != len(want) {
		t.Fatalf("rc=%d (warnings do not fail the check)\n%s", rc, out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d:\n got %s\nwant %s…", i+1, lines[i], w)
		}
	}

	rc, out, _ = run(t, keylime, "check", "--format", "json", "--kernel-config", kconfig, "--kcmd", "ima_policy=tcb", "-")
	var rep struct {
		Rules []struct {
			Index    int      `json:"index"`
			Warnings []string `json:"warnings"`
		} `json:"rules"`
		Shadowed []struct {
			Rule struct {
				Position int    `json:"position"`
				Source   string `json:"source"`
				Index    int    `json:"index"`
				Text     string `json:"text"`
			} `json:"rule"`
			By struct {
				Index int    `json:"index"`
				Text  string `json:"text"`
			} `json:"by"`
			Func    string `json:"func"`
			Message string `json:"message"`
		} `json:"shadowed"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rc != 0 {
		t.Fatalf("rc=%d %v\n%s", rc, err, out)
	}
	if len(rep.Shadowed) != 2 || rep.Shadowed[0].Rule.Index != 2 || rep.Shadowed[0].Func != "BPRM_CHECK" || rep.Shadowed[0].By.Index != 1 ||
		rep.Shadowed[1].Rule.Index != 3 || rep.Shadowed[1].Func != "" || rep.Shadowed[1].Rule.Source != "policy" {
		t.Fatalf("shadowed: %+v", rep.Shadowed)
	}
	if len(rep.Rules) != 3 || len(rep.Rules[0].Warnings) != 0 || len(rep.Rules[1].Warnings) != 1 || rep.Rules[1].Warnings[0] != rep.Shadowed[0].Message {
		t.Fatalf("rule warnings: %+v", rep.Rules)
	}

	// The built-ins shadow one another by the kernel's design (secure_boot
	// first): not reported.
	rc, out, _ = run(t, "", "check", "--kernel-config", kconfig, "--kcmd", "ima_policy=tcb|secure_boot|appraise_tcb")
	if rc != 0 || strings.Contains(out, "warning") {
		t.Fatalf("kcmd only: rc=%d\n%s", rc, out)
	}

	// The exclusion first: nothing shadowed.
	rc, out, _ = run(t, "dont_measure fsmagic=0x794c7630\nmeasure func=BPRM_CHECK\n", "check", "--kernel-config", kconfig, "--kcmd", "ima_policy=tcb", "-")
	if rc != 0 || strings.Contains(out, "warning") {
		t.Fatalf("rc=%d\n%s", rc, out)
	}
}

func TestNamespaceSignedPolicy(t *testing.T) {
	rc, out, _ := run(t, "measure func=BPRM_CHECK\n", "check", "--kernel-config", kconfig, "--namespace", "--kcmd", "ima_policy=secure_boot", "-")
	if rc != 1 || !strings.Contains(out, "EACCES") {
		t.Fatalf("rc=%d out=%s", rc, out)
	}
}

func TestFeatureSwitch(t *testing.T) {
	rc, _, _ := run(t, "measure func=MMAP_CHECK_REQPROT\n", "check", "--kernel-config", kconfig, "-")
	if rc != 1 {
		t.Fatal("MMAP_CHECK_REQPROT accepted on 6.1")
	}
	rc, out, _ := run(t, "measure func=MMAP_CHECK_REQPROT\n", "check", "--kernel-config", kconfig, "--feature", "mmap_check_reqprot=on", "-")
	if rc != 0 {
		t.Fatalf("with the feature: rc=%d %s", rc, out)
	}
	rc, out, _ = run(t, "measure template=ima-ngv2\n", "check", "--kernel-config", kconfig, "--feature", "digest_type=off", "-")
	if rc != 1 || !strings.Contains(out, "unknown template") {
		t.Fatalf("templates follow features: rc=%d %s", rc, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frob"},
		{"check"},
		{"check", "--format", "xml", "-"},
		{"check", "a", "b"},
		{"check", "--lsm", "apparmor", "-"},
		{"check", "--kernel-config", "/nonexistent", "-"},
		{"check", "--kernel-config", kconfig, "/nonexistent/policy"},
		{"check", "--kernel-config", kconfig, "--feature", "digest_type", "-"},
		{"check", "--kernel-config", kconfig, t.TempDir()},
	} {
		rc, _, errs := run(t, "", args...)
		if rc != 2 {
			t.Errorf("%v: rc=%d, want 2", args, rc)
		}
		if len(args) > 1 && (!strings.HasPrefix(errs, "ima-hook: ") || strings.Count(strings.TrimSpace(errs), "\n") > 0) {
			t.Errorf("%v: stderr must be one ima-hook: line, got %q", args, errs)
		}
	}
	if rc, _, errs := run(t, "", "check", "--help"); rc != 0 || !strings.Contains(errs, "Exit status") {
		t.Errorf("--help: rc=%d", rc)
	}
}

func TestShowProfile(t *testing.T) {
	rc, out, _ := run(t, "", "check", "--kernel-config", kconfig, "--lsm", "capability,selinux", "--show-profile")
	if rc != 0 || !strings.Contains(out, `"selinux"`) || !strings.Contains(out, `"version"`) {
		t.Fatalf("rc=%d out=%s", rc, out)
	}
}

func TestOversizedInput(t *testing.T) {
	big := strings.Repeat("measure\n", (1<<20)/8+1)
	rc, out, _ := run(t, big, "check", "--kernel-config", kconfig, "-")
	if rc != 1 || !strings.Contains(out, "the limit is") {
		t.Fatalf("rc=%d out=%.200s", rc, out)
	}
}

// printableLines fails unless every line of out is valid UTF-8 made of
// printable characters.
func printableLines(t *testing.T, out string) {
	t.Helper()
	for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !utf8.ValidString(l) {
			t.Fatalf("line %d is not UTF-8: %q", i+1, l)
		}
		for _, r := range l {
			if !strconv.IsPrint(r) {
				t.Fatalf("line %d has %U: %q", i+1, r, l)
			}
		}
	}
}

// TestTextReportQuotesControls: a policy whose rules and file name carry
// ESC, NUL or a newline yields a report of printable lines; before, the
// raw bytes reached the terminal.
func TestTextReportQuotesControls(t *testing.T) {
	p := filepath.Join(t.TempDir(), "we\x1b[2Jb\n.policy")
	if err := os.WriteFile(p, []byte("measure func=BPRM_CHECK\x1b[31m\nappraise fowner=\x00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, errs := run(t, "", "check", p)
	printableLines(t, out)
	printableLines(t, errs)
	if !strings.Contains(out, strconv.Quote(p)+":1:") {
		t.Errorf("the file name is not quoted:\n%s", out)
	}
}

// FuzzTextReportLines: whatever the policy text holds, the text report has
// one line per refused rule, warning and policy-wide error, plus the
// summary, each of them printable.
func FuzzTextReportLines(f *testing.F) {
	f.Add("measure func=BPRM_CHECK\nappraise fowner=0\n")
	f.Add(mixed)
	f.Fuzz(func(t *testing.T, text string) {
		rc, out, _ := run(t, text, "check", "-")
		if rc == 2 {
			return // unreadable input: not a report
		}
		_, js, _ := run(t, text, "check", "--format", "json", "-")
		var rep checkReport
		if err := json.Unmarshal([]byte(js), &rep); err != nil {
			t.Fatalf("json: %v", err)
		}
		want := 1 + len(rep.Errors)
		for _, r := range rep.Rules {
			if !r.OK {
				want++
			}
			want += len(r.Warnings)
		}
		if got := strings.Count(out, "\n"); got != want {
			t.Fatalf("%d lines, want %d:\n%s", got, want, out)
		}
		printableLines(t, out)
	})
}
