package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ima-hook/ima-hook/internal/userror"
)

type fixture struct {
	admin *Admin
	dir   string
	cert  string // path of a valid DER cert inside keys_dir
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	a := BuiltinAdmin()
	a.KeysDir, a.PoliciesDir = filepath.Join(dir, "keys"), filepath.Join(dir, "policies")
	for _, d := range []string{a.KeysDir, a.PoliciesDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ns key"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		SubjectKeyId: []byte{9, 9, 9, 9, 0x12, 0x34, 0x56, 0x78}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(a.KeysDir, "ns.der")
	if err := os.WriteFile(cert, der, 0o644); err != nil {
		t.Fatal(err)
	}
	return &fixture{admin: a, dir: dir, cert: cert}
}

func (f *fixture) policyFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(f.admin.PoliciesDir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// errLine resolves and returns the one stderr line, failing if it passed.
func errLine(t *testing.T, ann map[string]string, a *Admin) string {
	t.Helper()
	_, err := Resolve(ann, a)
	if err == nil {
		t.Fatalf("accepted %v", ann)
	}
	line := userror.Line(err)
	if strings.Contains(line, "\n") {
		t.Fatalf("error is more than one line: %q", line)
	}
	return line
}

func TestNotEnabled(t *testing.T) {
	f := newFixture(t)
	for _, ann := range []map[string]string{nil, {AnnEnable: "false"}, {"other": "x"}} {
		c, err := Resolve(ann, f.admin)
		if c != nil || err != nil {
			t.Fatalf("%v: got %+v, %v", ann, c, err)
		}
	}
	f.admin.Mandatory = true
	c, err := Resolve(map[string]string{AnnEnable: "false"}, f.admin)
	if err != nil || c == nil {
		t.Fatalf("mandatory must win over enable=false: %+v %v", c, err)
	}
}

func TestFullConfig(t *testing.T) {
	f := newFixture(t)
	pol := f.policyFile(t, "p.policy", "# comment\nmeasure func=BPRM_CHECK mask=MAY_EXEC\n\nappraise func=BPRM_CHECK appraise_type=imasig\n")
	c, err := Resolve(map[string]string{AnnEnable: "true", AnnRequired: "false", AnnKcmd: "ima_policy=tcb|appraise_tcb ima_appraise=fix",
		AnnX509: f.cert, AnnPolicy: pol}, f.admin)
	if err != nil {
		t.Fatal(err)
	}
	if c.Required || c.Kcmd.Appraise != "fix" || len(c.Kcmd.Policies) != 2 || c.X509Path != f.cert || c.Cert == nil ||
		c.Cert.KeyID != 0x12345678 || c.PolicyPath != pol || len(c.Policy.Rules) != 2 || len(c.PolicySHA256) != 64 {
		t.Fatalf("config %+v", c)
	}
	if c.PolicyText != "measure func=BPRM_CHECK mask=MAY_EXEC\nappraise func=BPRM_CHECK appraise_type=imasig\n" {
		t.Fatalf("normalized text %q", c.PolicyText)
	}
}

func TestInvalidConfigs(t *testing.T) {
	f := newFixture(t)
	outside := filepath.Join(f.dir, "outside.der")
	data, _ := os.ReadFile(f.cert)
	os.WriteFile(outside, data, 0o644)
	os.Symlink(outside, filepath.Join(f.admin.KeysDir, "escape.der"))
	os.WriteFile(filepath.Join(f.admin.KeysDir, "garbage.der"), []byte("not a certificate"), 0o644)
	os.WriteFile(filepath.Join(f.admin.KeysDir, "huge.der"), make([]byte, MaxKeySize+1), 0o644)
	big := f.policyFile(t, "big.policy", strings.Repeat("measure func=BPRM_CHECK\n", MaxPolicySize/24+10))
	bad := f.policyFile(t, "bad.policy", "measure func=BPRM_CHECK\nmeasure fnc=FILE_CHECK\n")
	os.Mkdir(filepath.Join(f.admin.PoliciesDir, "adir"), 0o755)

	on := func(kv ...string) map[string]string {
		m := map[string]string{AnnEnable: "true"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name string
		ann  map[string]string
		want []string // substrings of the line
	}{
		{"bad enable", map[string]string{AnnEnable: "yes"}, []string{"io.imans.enable", "not a boolean"}},
		{"bad required", on(AnnRequired, "maybe"), []string{"io.imans.required", "not a boolean"}},
		{"unknown annotation", on("io.imans.polcy", "x"), []string{"io.imans.polcy", "unknown annotation"}},
		{"kcmd unknown param", on(AnnKcmd, "ima_hash=sha256"), []string{"io.imans.kcmd", "ima_hash"}},
		{"kcmd flag without value", on(AnnKcmd, "ima_appraise_tcb"), []string{"io.imans.kcmd", "ima_appraise_tcb"}},
		{"kcmd template off", on(AnnKcmd, "ima_template=ima-ns"), []string{"io.imans.kcmd", "allow_template"}},
		{"x509 outside", on(AnnX509, outside), []string{"io.imans.x509", f.admin.KeysDir}},
		{"x509 symlink escape", on(AnnX509, filepath.Join(f.admin.KeysDir, "escape.der")), []string{"io.imans.x509"}},
		{"x509 not a cert", on(AnnX509, filepath.Join(f.admin.KeysDir, "garbage.der")), []string{"io.imans.x509", "garbage.der"}},
		{"x509 too large", on(AnnX509, filepath.Join(f.admin.KeysDir, "huge.der")), []string{"io.imans.x509"}},
		{"x509 missing", on(AnnX509, filepath.Join(f.admin.KeysDir, "nope.der")), []string{"io.imans.x509"}},
		{"x509 relative escape", on(AnnX509, "../outside.der"), []string{"io.imans.x509"}},
		{"policy syntax", on(AnnPolicy, bad), []string{bad, "rule 2", "fnc"}},
		{"inline syntax", on(AnnPolicyRules, "measure func=BOGUS"), []string{"io.imans.policy-rules", "rule 1", "BOGUS"}},
		{"policy too large", on(AnnPolicy, big), []string{"io.imans.policy"}},
		{"policy missing", on(AnnPolicy, filepath.Join(f.admin.PoliciesDir, "none")), []string{"io.imans.policy"}},
		{"policy is a dir", on(AnnPolicy, filepath.Join(f.admin.PoliciesDir, "adir")), []string{"io.imans.policy"}},
		{"both policies", on(AnnPolicy, bad, AnnPolicyRules, "measure func=BPRM_CHECK"), []string{"io.imans.policy", "only one"}},
		{"empty policy", on(AnnPolicyRules, "# nothing\n\n"), []string{"io.imans.policy-rules", "no rules"}},
		{"bad preflight", on(AnnPreflight, "strict"), []string{"io.imans.preflight", "off"}},
		{"annotation too long", on(AnnPolicyRules, strings.Repeat("a", MaxAnnotation+1)), []string{"io.imans.policy-rules", "bytes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := errLine(t, tc.ann, f.admin)
			if !strings.HasPrefix(line, "ima-hook: ") || !strings.Contains(line, "; ") {
				t.Errorf("not the one-line shape: %q", line)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("line %q lacks %q", line, w)
				}
			}
		})
	}
}

func TestRelativePathsResolveInsideTheDirectory(t *testing.T) {
	f := newFixture(t)
	c, err := Resolve(map[string]string{AnnEnable: "true", AnnX509: "ns.der"}, f.admin)
	if err != nil || c.X509Path != f.cert {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestOverrideForbidden(t *testing.T) {
	f := newFixture(t)
	f.admin.AllowAnnotationOverride = false
	f.admin.Defaults.Kcmd = "ima_policy=appraise_tcb"
	line := errLine(t, map[string]string{AnnEnable: "true", AnnKcmd: "ima_policy=tcb"}, f.admin)
	if !strings.Contains(line, "io.imans.kcmd") || !strings.Contains(line, "allow_annotation_override") {
		t.Fatalf("line %q", line)
	}
	c, err := Resolve(map[string]string{AnnEnable: "true"}, f.admin)
	if err != nil || len(c.Kcmd.Policies) != 1 || c.Kcmd.Policies[0] != "appraise_tcb" {
		t.Fatalf("defaults must apply: %+v %v", c, err)
	}
}

func TestTemplateSwitch(t *testing.T) {
	f := newFixture(t)
	f.admin.Kernel.AllowTemplate = true
	c, err := Resolve(map[string]string{AnnEnable: "true", AnnKcmd: "ima_template=ima-ns ima_policy=tcb"}, f.admin)
	if err != nil || c.Kcmd.Template != "ima-ns" {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestLoadAdmin(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o600)
		return p
	}
	good := write("good.toml", `
mandatory = true
keys_dir = "/k"
[defaults]
kcmd = "ima_policy=appraise_tcb"
required = false
[kernel]
keyring = "_ima"
`)
	a, err := LoadAdmin(good)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Mandatory || a.KeysDir != "/k" || a.PoliciesDir != "/etc/ima-hook/policies" || a.Defaults.Required || a.Kernel.Keyring != "_ima" || a.Source != good {
		t.Fatalf("admin %+v", a)
	}
	for name, text := range map[string]string{
		"unknown.toml":  "mandatroy = true\n",
		"syntax.toml":   "mandatory = \n",
		"relative.toml": "keys_dir = \"keys\"\n",
		"keyring.toml":  "[kernel]\nkeyring = \"%user\"\n",
		"log.toml":      "log = \"kafka\"\n",
		"budget.toml":   "preflight_timeout = \"soon\"\n",
		"mode.toml":     "[defaults]\npreflight = \"maybe\"\n",
	} {
		if _, err := LoadAdmin(write(name, text)); err == nil {
			t.Errorf("%s accepted", name)
		} else if l := userror.Line(err); !strings.Contains(l, name) {
			t.Errorf("%s: line does not name the file: %q", name, l)
		}
	}
	if _, err := LoadAdmin(filepath.Join(dir, "missing.toml")); err == nil {
		t.Error("explicit missing file accepted")
	}
}

func FuzzResolve(f *testing.F) {
	f.Add("true", "ima_policy=tcb", "measure func=BPRM_CHECK", "")
	f.Add("1", "ima_policy=\"tcb|appraise_tcb\" ima_appraise=log", "appraise fowner=0 appraise_type=imasig", "false")
	f.Add("true", "ima_template=ima-ns", "measure func=FILE_CHECK mask=^MAY_READ uid<1000", "0")
	f.Fuzz(func(t *testing.T, enable, kcmd, rules, required string) {
		a := BuiltinAdmin()
		a.KeysDir, a.PoliciesDir = "/nonexistent/keys", "/nonexistent/policies"
		ann := map[string]string{AnnEnable: enable, AnnKcmd: kcmd, AnnPolicyRules: rules, AnnRequired: required}
		c, err := Resolve(ann, a)
		if err != nil {
			if l := userror.Line(err); strings.ContainsAny(l, "\r\n") || !strings.HasPrefix(l, "ima-hook: ") {
				t.Fatalf("bad error line %q", l)
			}
			return
		}
		if c != nil && c.Policy != nil {
			for _, r := range c.Policy.Rules {
				if strings.ContainsAny(r.Text, "\n") || len(r.Text) > 4095 {
					t.Fatalf("rule text unsafe for one write(): %q", r.Text)
				}
			}
		}
	})
}

// TestAskedForPolicyWithoutRulesIsRefused: a policy that was asked for and
// yields no rule refuses the container, whatever the reason. Before, an
// empty (0-byte) file, or an empty io.imans.policy-rules, or an admin
// default naming an empty file started the container with 0 rules.
func TestAskedForPolicyWithoutRulesIsRefused(t *testing.T) {
	f := newFixture(t)
	empty := f.policyFile(t, "empty.policy", "")
	blank := f.policyFile(t, "blank.policy", " \n\t\n")
	comments := f.policyFile(t, "comments.policy", "# rules come later\n\n# really\n")
	cases := []struct {
		name    string
		ann     map[string]string
		admin   func(*Admin)
		subject string
		want    string
	}{
		{"empty file", map[string]string{AnnPolicy: empty}, nil, AnnPolicy, empty + ": the policy file has no rules (it is empty)"},
		{"blank file", map[string]string{AnnPolicy: blank}, nil, AnnPolicy, "(only white space)"},
		{"comments-only file", map[string]string{AnnPolicy: comments}, nil, AnnPolicy, "(only comments)"},
		{"empty inline", map[string]string{AnnPolicyRules: ""}, nil, AnnPolicyRules, "the inline policy has no rules (it is empty)"},
		{"blank inline", map[string]string{AnnPolicyRules: "  \n "}, nil, AnnPolicyRules, "(only white space)"},
		{"admin default file", nil, func(a *Admin) { a.Defaults.Policy = "empty.policy" }, "defaults.policy", "(it is empty)"},
		{"admin default rules", nil, func(a *Admin) { a.Defaults.PolicyRules = "\n\n" }, "defaults.policy_rules", "(only white space)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := *f.admin
			a.Source = "/etc/ima-hook/ima-hook.toml"
			if tc.admin != nil {
				tc.admin(&a)
			}
			ann := map[string]string{AnnEnable: "true"}
			for k, v := range tc.ann {
				ann[k] = v
			}
			line := errLine(t, ann, &a)
			if !strings.HasPrefix(line, "ima-hook: ") || !strings.Contains(line, tc.subject+": ") || !strings.Contains(line, tc.want) ||
				!strings.Contains(line, "; write the rules") {
				t.Errorf("line %q: want subject %q and %q", line, tc.subject, tc.want)
			}
		})
	}
	// An empty admin default is no policy: nothing was asked for.
	c, err := Resolve(map[string]string{AnnEnable: "true"}, f.admin)
	if err != nil || c.Policy != nil {
		t.Fatalf("no policy asked for: %+v %v", c, err)
	}
}

// TestLookalikeKeysWarn: keys that pass for io.imans.* but are not (case,
// Cyrillic or fullwidth letters) are named in a warning; before they were
// ignored silently. Real keys, other prefixes and unrelated non-ASCII keys
// are not.
func TestLookalikeKeysWarn(t *testing.T) {
	ann := map[string]string{
		"IO.IMANS.policy":      "web.policy",
		"io.imans.enable":      "true",
		"Io.Imans.Enable":      "true",
		"іо.imans.kcmd":        "ima_policy=tcb", // Cyrillic і and о
		"io．imans.x509":        "k.der",          // fullwidth dot
		"io.imans\x1b[2J.x":    "x",              // not a lookalike: ESC is no letter
		"io.imansx.policy":     "x",
		"org.opencontainers.x": "y",
		"注释注释注释注释注释":           "z",
	}
	got := LookalikeKeys(ann)
	want := []string{`"IO.IMANS.policy"`, `"Io.Imans.Enable"`, `"io．imans.x509"`, `"іо.imans.kcmd"`}
	if len(got) != len(want) {
		t.Fatalf("got %d warnings, want %d: %q", len(got), len(want), got)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], "annotation "+w+" looks like an io.imans.* key") || !strings.Contains(got[i], "it is ignored") {
			t.Errorf("warning %d: %q, want it to name %s", i, got[i], w)
		}
	}
	if !strings.Contains(got[0], `spell it "io.imans.policy"`) {
		t.Errorf("no suggestion: %q", got[0])
	}
	// A key with control characters is shown escaped.
	got = LookalikeKeys(map[string]string{"IO.IMANS.\x1b[31mpolicy": "x"})
	if len(got) != 1 || !strings.Contains(got[0], `"IO.IMANS.\x1b[31mpolicy"`) || strings.ContainsRune(got[0], 0x1b) {
		t.Errorf("control characters: %q", got)
	}
}

// TestHostileKeysAndPathsStayOneLine: ESC, NUL and newlines in annotation
// keys and policy or key paths reach the error line escaped, never raw.
func TestHostileKeysAndPathsStayOneLine(t *testing.T) {
	f := newFixture(t)
	for _, ann := range []map[string]string{
		{"io.imans.\x1b[2Jpolicy\n": "x"},
		{"io.imans.pol\x00icy": "x"},
		{AnnPolicy: filepath.Join(f.admin.PoliciesDir, "a\x1b]0;pwned\a\nb.policy")},
		{AnnPolicy: "../\x1b[31m\x00/etc/shadow"},
		{AnnX509: filepath.Join(f.admin.KeysDir, "k\r\n\x1b[1A.der")},
	} {
		ann[AnnEnable] = "true"
		line := errLine(t, ann, f.admin)
		for _, r := range line {
			if !strconv.IsPrint(r) {
				t.Errorf("%q: %U in %q", ann, r, line)
				break
			}
		}
		if !utf8.ValidString(line) {
			t.Errorf("%q: not UTF-8: %q", ann, line)
		}
	}
	line := errLine(t, map[string]string{AnnEnable: "true", "io.imans.\x1b[2Jpolicy\n": "x"}, f.admin)
	if !strings.HasPrefix(line, `ima-hook: "io.imans.\x1b[2Jpolicy\n": unknown annotation;`) {
		t.Errorf("the key is not quoted: %q", line)
	}
}

// Lookalike-key warnings are bounded in number: they go into the log and
// the container's record, which the wrapper and the hook read back with a
// size bound; thousands of such keys in one config must not push a record
// past it.
func TestLookalikeWarningsBounded(t *testing.T) {
	ann := map[string]string{}
	for i := 0; i < 20000; i++ {
		ann[fmt.Sprintf("IO.IMANS.key%05d", i)] = "x"
	}
	w := LookalikeKeys(ann)
	if len(w) != MaxLookalikeWarnings+1 || !strings.HasPrefix(w[MaxLookalikeWarnings], fmt.Sprintf("and %d more annotations", 20000-MaxLookalikeWarnings)) {
		t.Fatalf("%d warnings, last %q", len(w), w[len(w)-1])
	}
	total := 0
	for _, s := range w {
		total += len(s)
	}
	if total > 16<<10 {
		t.Errorf("%d bytes of warnings", total)
	}
}
