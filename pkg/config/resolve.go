package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/keys"
	"github.com/ima-hook/ima-hook/pkg/policy"
	"github.com/ima-hook/ima-hook/pkg/safefile"
)

// Annotation keys. Any other key under Prefix is refused: a misspelt
// io.imans.polcy would otherwise silently start a container without the
// policy its author meant.
const (
	Prefix         = "io.imans."
	AnnEnable      = Prefix + "enable"
	AnnRequired    = Prefix + "required"
	AnnKcmd        = Prefix + "kcmd"
	AnnX509        = Prefix + "x509"
	AnnPolicy      = Prefix + "policy"
	AnnPolicyRules = Prefix + "policy-rules"
	AnnPreflight   = Prefix + "preflight"
	AnnScope       = Prefix + "scope"
)

var known = []string{AnnEnable, AnnRequired, AnnKcmd, AnnX509, AnnPolicy, AnnPolicyRules, AnnPreflight, AnnScope}

// Size bounds for files named by annotations.
const (
	MaxKeySize    = 64 << 10
	MaxPolicySize = 1 << 20
	// MaxAnnotation bounds any single io.imans.* value (inline rules are the
	// long ones); the kernel takes at most one page per policy write anyway.
	MaxAnnotation = 256 << 10
)

// Config is one container's validated IMA configuration.
type Config struct {
	Required bool
	// Kcmd is the parsed kcmd; KcmdText what the wrapper writes to
	// kcmd_for_children ("" for none).
	Kcmd     policy.Kcmd
	KcmdText string
	// X509Path is the resolved absolute host path of the appraisal key, and
	// Cert its parsed certificate (nil when none).
	X509Path string
	Cert     *keys.Certificate
	// Policy holds the custom rules (nil when none); PolicyPath the resolved
	// policy file when the rules came from one.
	Policy     *policy.Policy
	PolicyPath string
	// PolicySHA256 is the hex sha256 of PolicyText.
	PolicyText   string
	PolicySHA256 string
	Keyring      string
	Profile      policy.Profile
	// Preflight is off, warn or enforce: whether the hook predicts which
	// of the rootfs's files appraisal will refuse, and what it does then.
	Preflight string
	// Sources say where each setting came from (annotation key or admin
	// setting), for records and messages.
	Sources map[string]string
	// Scope is ScopeContainer or ScopePod (kube.go); Sandbox says the
	// container is a pod's sandbox (pause) container, which gets no
	// namespace of its own. Never under mandatory = true: the CRI
	// container-type annotation is anyone's to set outside a CRI engine
	// (podman, runc) and, through the other engine's key, a pod author's
	// under CRI-O, so a claim to be a sandbox must not exempt a container
	// from the IMA the admin made mandatory.
	Scope   string
	Sandbox bool
}

// Enabled reports whether IMA is requested for a container with these
// annotations (the admin's mandatory switch included). It validates only
// the enable annotation itself.
func Enabled(ann map[string]string, a *Admin) (bool, error) {
	v, ok := ann[AnnEnable]
	if !ok {
		return a.Mandatory, nil
	}
	on, err := parseBool(AnnEnable, v)
	if err != nil {
		return false, err
	}
	return on || a.Mandatory, nil
}

// Resolve merges the annotations over the admin defaults and validates
// everything. It returns (nil, nil) when IMA is not enabled.
func Resolve(ann map[string]string, a *Admin) (*Config, error) {
	return resolve(ann, a, true)
}

// CheckDefaults validates the admin's [defaults] exactly as they are
// validated when a container without io.imans.* settings starts (the same
// code path, key and policy files read): what `ima-hook status` reports,
// so that a broken default shows before every container is refused.
func (a *Admin) CheckDefaults() error {
	_, err := resolve(map[string]string{AnnEnable: "true"}, a, true)
	return err
}

// checkDefaultsText is the part of CheckDefaults that needs no file other
// than the admin config itself (kcmd, inline rules, policy and
// policy_rules together, preflight mode): LoadAdmin runs it, so that a
// command reading a broken admin file says so, whatever the key and
// policy directories hold at the moment.
func (a *Admin) checkDefaultsText() error {
	_, err := resolve(map[string]string{AnnEnable: "true"}, a, false)
	return err
}

// resolve is Resolve; with readFiles false it validates everything except
// the key and policy files it would read.
func resolve(ann map[string]string, a *Admin, readFiles bool) (*Config, error) {
	on, err := Enabled(ann, a)
	if err != nil || !on {
		return nil, err
	}
	if err := checkKeys(ann, a); err != nil {
		return nil, err
	}
	c := &Config{Sources: map[string]string{}, Keyring: a.Kernel.Keyring}
	pick := func(annKey, adminKey, def string) (string, string) {
		if v, ok := ann[annKey]; ok {
			c.Sources[annKey] = annKey
			return v, annKey
		}
		c.Sources[annKey] = a.where("defaults." + adminKey)
		return def, a.where("defaults." + adminKey)
	}

	reqText, reqSrc := pick(AnnRequired, "required", fmt.Sprint(a.Defaults.Required))
	if c.Required, err = parseBool(reqSrc, reqText); err != nil {
		return nil, err
	}
	if a.Mandatory {
		// mandatory = true (or a runtime entry's --imans): every container
		// has IMA, so none may start without it; io.imans.required=false
		// (validated above) cannot make it optional.
		c.Required = true
	}

	pf, pfSrc := pick(AnnPreflight, "preflight", a.Defaults.Preflight)
	switch pf {
	case "off", "warn", "enforce":
		c.Preflight = pf
	default:
		return nil, userror.New(pfSrc, fmt.Sprintf("%s is not a preflight mode", userror.Quote(pf)), `use "off", "warn" or "enforce"`)
	}

	scope, scopeSrc := pick(AnnScope, "scope", a.Defaults.Scope)
	if err := resolveScope(c, ann, scope, scopeSrc, a.Mandatory); err != nil {
		return nil, err
	}

	// The kernel profile may mean reading the kernel's config: without
	// files, only when there are rules to judge with it.
	if readFiles {
		if c.Profile, err = profile(a); err != nil {
			return nil, err
		}
	}

	kcmd, kcmdSrc := pick(AnnKcmd, "kcmd", a.Defaults.Kcmd)
	if strings.TrimSpace(kcmd) != "" {
		k, err := policy.ParseKcmd(kcmd, policy.KcmdOptions{AllowTemplate: a.Kernel.AllowTemplate})
		if err != nil {
			fix := "use ima_policy=<tcb|appraise_tcb|secure_boot|fail_securely>, ima_appraise=<off|log|fix|enforce>"
			if a.Kernel.AllowTemplate {
				fix += " or ima_template=<name>"
			} else if strings.Contains(kcmd, "ima_template") {
				fix = "remove ima_template (this kernel's kcmd_for_children does not take it), or set [kernel] allow_template = true in the admin config if it does"
			}
			return nil, userror.Wrapf(err, kcmdSrc, fix, "")
		}
		c.Kcmd, c.KcmdText = k, kcmd
	}

	x509, x509Src := pick(AnnX509, "x509", a.Defaults.X509)
	if err := checkName(a, x509Src, x509, a.KeysDir); err != nil {
		return nil, err
	}
	if x509 != "" && readFiles {
		data, resolved, err := safefile.ReadInDir(a.KeysDir, x509, MaxKeySize)
		if err != nil {
			return nil, attribute(err, x509Src, "", "put the DER certificate in "+a.KeysDir+" and name it by its path there")
		}
		cert, err := keys.LoadCertificate(data)
		if err != nil {
			return nil, attribute(err, x509Src, resolved, "give a DER X.509 certificate (openssl x509 -outform DER)")
		}
		if cert.FromPEM {
			// The wrapper hands the path to x509_for_children and the kernel
			// loads the file itself (integrity_load_x509): DER only.
			return nil, userror.New(x509Src, resolved+": is PEM, but the kernel reads this file itself and takes only DER",
				"convert it: openssl x509 -in "+resolved+" -outform DER -out cert.der")
		}
		c.X509Path, c.Cert = resolved, cert
	}

	file, fileSrc := pick(AnnPolicy, "policy", a.Defaults.Policy)
	if err := checkName(a, fileSrc, file, a.PoliciesDir); err != nil {
		return nil, err
	}
	inline, inlineSrc := pick(AnnPolicyRules, "policy_rules", a.Defaults.PolicyRules)
	_, annFile := ann[AnnPolicy]
	_, annInline := ann[AnnPolicyRules]
	switch {
	case annFile && annInline:
		return nil, userror.New(AnnPolicy, "both io.imans.policy and io.imans.policy-rules are set", "set only one of them")
	case annFile:
		inline = "" // an annotation replaces whichever default the admin set
	case annInline:
		file = ""
	case file != "" && inline != "":
		return nil, userror.New(a.where("defaults"), "both policy and policy_rules are set", "set only one of them")
	}
	// A policy was asked for when a file is named, or when rules were given
	// (an annotation counts even when empty: its author meant rules). Such
	// a policy must yield rules: an empty file (say, one caught while it is
	// rewritten) must not start the container without the policy its author
	// asked for.
	var text, textSrc, askedBy, emptyWhat string
	switch {
	case file != "" && !readFiles:
	case file != "":
		data, resolved, err := safefile.ReadInDir(a.PoliciesDir, file, MaxPolicySize)
		if err != nil {
			return nil, attribute(err, fileSrc, "", "put the policy in "+a.PoliciesDir+" and name it by its path there")
		}
		text, textSrc, c.PolicyPath = string(data), resolved, resolved
		askedBy, emptyWhat = fileSrc, userror.Text(resolved)+": the policy file"
	case annInline || inline != "":
		text, textSrc = inline, inlineSrc
		askedBy, emptyWhat = inlineSrc, "the inline policy"
	}
	if askedBy != "" {
		noRules := func(why string) error {
			return userror.New(askedBy, emptyWhat+" has no rules ("+why+"), but a policy that is asked for must have rules",
				"write the rules (`ima-hook policy check` checks them), or remove "+askedBy+" to start with the kcmd's built-in policy only")
		}
		if why := EmptyPolicy(text); why != "" {
			return nil, noRules(why)
		}
		if !readFiles {
			if c.Profile, err = profile(a); err != nil {
				return nil, err
			}
		}
		p, errs := policy.Parse(text, c.Profile)
		if len(errs) > 0 {
			more := ""
			if len(errs) > 1 {
				more = fmt.Sprintf(" (and %d more)", len(errs)-1)
			}
			return nil, userror.New(userror.Text(textSrc), errs[0].Error()+more, "fix the rule; `ima-hook policy check` lists every problem")
		}
		if len(p.Rules) == 0 {
			return nil, noRules("nothing but blank lines and comments")
		}
		c.Policy = p
		c.PolicyText = RulesText(p)
		sum := sha256.Sum256([]byte(c.PolicyText))
		c.PolicySHA256 = hex.EncodeToString(sum[:])
	}
	return c, nil
}

// EmptyPolicy says why text holds no rule at all ("" when it may hold
// some: the parser judges it then): empty, blank, or only comments.
func EmptyPolicy(text string) string {
	switch {
	case text == "":
		return "it is empty"
	case strings.TrimSpace(text) == "":
		return "only white space"
	}
	for _, line := range strings.Split(text, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return ""
		}
	}
	return "only comments"
}

// RulesText is the exact text the hook writes to the kernel: one
// normalized rule per line. Its sha256 is what records report.
func RulesText(p *policy.Policy) string {
	var b strings.Builder
	for _, r := range p.Rules {
		b.WriteString(r.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

func checkKeys(ann map[string]string, a *Admin) error {
	var keysSeen []string
	for k := range ann {
		if strings.HasPrefix(k, Prefix) {
			keysSeen = append(keysSeen, k)
		}
	}
	sort.Strings(keysSeen)
	for _, k := range keysSeen {
		v := ann[k]
		if !isKnown(k) {
			return userror.New(userror.Text(k), "unknown annotation", "known ones are "+strings.Join(known, ", "))
		}
		if len(v) > MaxAnnotation {
			return userror.New(k, fmt.Sprintf("value is %d bytes, more than %d", len(v), MaxAnnotation), "use a policy file (io.imans.policy)")
		}
		if !a.AllowAnnotationOverride && k != AnnEnable {
			return userror.New(k, "the admin config forbids per-container IMA settings (allow_annotation_override = false)",
				"remove the annotation; the admin's defaults apply")
		}
	}
	return nil
}

func isKnown(k string) bool {
	for _, n := range known {
		if k == n {
			return true
		}
	}
	return false
}

func parseBool(subject, v string) (bool, error) {
	switch v {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, userror.New(subject, fmt.Sprintf("%s is not a boolean", userror.Quote(v)), `use "true" or "false"`)
}

func profile(a *Admin) (policy.Profile, error) {
	switch a.Kernel.Config {
	case "":
		return policy.DefaultProfile(), nil
	case "auto":
		p, err := policy.ProfileFromSystem()
		if err != nil {
			return p, userror.Wrapf(err, a.where("kernel.config"), "give a kernel config file path instead of auto", "cannot read this kernel's configuration")
		}
		return p, nil
	}
	f, err := os.Open(a.Kernel.Config)
	if err != nil {
		return policy.Profile{}, userror.Wrap(err, a.where("kernel.config"), errText(err), "give the path of the target kernel's config file")
	}
	defer f.Close()
	p, err := policy.ProfileFromConfig(f, a.Kernel.LSM)
	if err != nil {
		return p, userror.Wrapf(err, a.Kernel.Config, "give a kernel .config file", "")
	}
	return p, nil
}

// attribute makes err a user error about subject (and file, when the
// problem is in a file the subject named). Errors that already explain
// themselves (pkg/keys, pkg/safefile) keep their problem and fix; only the
// subject changes, so the line does not say things twice.
func attribute(err error, subject, file, fix string) error {
	problem := err.Error()
	var ue *userror.Error
	var se *safefile.Error
	switch {
	case errors.As(err, &ue):
		problem = ue.Problem
		if ue.Subject != "" && ue.Subject != file {
			problem = ue.Subject + ": " + problem
		}
		if ue.Fix != "" {
			fix = ue.Fix
		}
	case errors.As(err, &se):
		problem = se.Path + ": " + se.Problem
		if se.Fix != "" {
			fix = se.Fix
		}
	}
	if file != "" {
		problem = file + ": " + problem
	}
	return userror.Wrap(err, subject, problem, fix)
}

// LookalikeKeys returns a warning for each annotation key that looks like
// an io.imans.* key but is not one: the prefix in another case
// (IO.IMANS.policy) or spelt with non-ASCII lookalike characters (a
// Cyrillic "і" or "о", a fullwidth dot). Such keys are not ours, so they
// are ignored, and the container starts without what their author meant;
// the warning makes the typo visible. Keys are shown quoted (userror.Text).
func LookalikeKeys(ann map[string]string) []string {
	var out []string
	for k := range ann {
		if strings.HasPrefix(k, Prefix) || !looksLikePrefix(k) {
			continue
		}
		out = append(out, fmt.Sprintf("annotation %s looks like an %s* key but is not one (case or lookalike characters): it is ignored; spell it %s",
			userror.Quote(k), Prefix, userror.Quote(suggestKey(k))))
	}
	sort.Strings(out)
	if len(out) > MaxLookalikeWarnings {
		// The warnings go into the log and the container's record: a
		// config with thousands of such keys must not make either
		// unbounded (a record past the readers' bound breaks exec's and
		// pod scope's reading of every record).
		n := len(out) - MaxLookalikeWarnings
		out = append(out[:MaxLookalikeWarnings], fmt.Sprintf("and %d more annotations that look like %s* keys but are not (ignored)", n, Prefix))
	}
	return out
}

// MaxLookalikeWarnings bounds the lookalike-key warnings of one container.
const MaxLookalikeWarnings = 16

// looksLikePrefix: the key's first runes spell "io.imans." in any case,
// with any of them possibly replaced by a lookalike (foldLookalike).
func looksLikePrefix(k string) bool {
	rs := []rune(k)
	if len(rs) < len(Prefix) {
		return false
	}
	for i, want := range Prefix {
		if unicode.ToLower(foldLookalike(rs[i])) != want {
			return false
		}
	}
	return true
}

// lookalikes are the non-ASCII characters that pass for the letters of
// "io.imans." in common fonts (Cyrillic, Greek, Armenian, dot-like
// punctuation); fullwidth forms are folded separately.
var lookalikes = map[rune]rune{
	'і': 'i', 'І': 'I', 'ı': 'i', 'ι': 'i', 'Ι': 'I', 'ӏ': 'i', 'Ӏ': 'I', 'ⅰ': 'i', 'Ⅰ': 'I',
	'о': 'o', 'О': 'O', 'ο': 'o', 'Ο': 'O', 'օ': 'o', 'ℴ': 'o',
	'м': 'm', 'М': 'M', 'Μ': 'M', 'ⅿ': 'm', 'Ⅿ': 'M',
	'а': 'a', 'А': 'A', 'α': 'a', 'Α': 'A', 'ɑ': 'a',
	'ո': 'n', 'Ν': 'N', 'ռ': 'n',
	'ѕ': 's', 'Ѕ': 'S', 'ꜱ': 's',
	'․': '.', '‧': '.', '。': '.', '·': '.', '⋅': '.', '∙': '.',
}

// foldLookalike maps a lookalike or fullwidth character to the ASCII
// character it passes for; any other rune is returned as it is.
func foldLookalike(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E { // fullwidth ASCII
		return r - 0xFEE0
	}
	if a, ok := lookalikes[r]; ok {
		return a
	}
	return r
}

// suggestKey is the key with its prefix spelt right.
func suggestKey(k string) string {
	return Prefix + string([]rune(k)[len(Prefix):])
}
