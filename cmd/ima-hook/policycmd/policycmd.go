// Package policycmd is the `ima-hook policy check` command: flags, profile
// selection, and the text and JSON reports over pkg/policy. It lives apart
// from cmd/ima-hook so that it can be tested without building the binary.
package policycmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/policy"
)

// Summary is the one-line description for the command list.
const Summary = "check IMA policy rules and kcmd strings the way the kernel will judge them"

const policyUsage = `Usage: ima-hook policy check [FILE|-] [flags]

Checks every rule of an IMA policy the way the kernel's policy parser will
judge it when the hook writes it, and names the rule, line, column and token
of each problem. The kernel itself only answers EINVAL and logs the reason
to the audit log; this tells you before anything is written.

  FILE     a policy file, one rule per line ('#' comments and blank lines
           are skipped); '-' reads standard input. Optional with --kcmd.

What the kernel accepts depends on how it was built and which LSMs run. By
default the running kernel is described from /proc/config.gz (or
/boot/config-$(uname -r)) and /sys/kernel/security/lsm; --kernel-config and
--lsm describe another kernel (e.g. the container hosts'). Without either
the built-in openEuler CONFIG_IMA_NS profile is used.

Output: one line per refused rule as FILE:LINE:COL: message, warnings as
FILE:LINE:COL: warning: message, then a summary line. --format json prints
one object with an entry per rule ("line", "ok", "error", ...).

A rule that an earlier rule of its action class always decides first
(shadowed: IMA takes the first matching rule per action) gets a warning,
checked over the rules in force: the architecture rules, then the policy.
Loading a policy replaces the kcmd's built-in rules, as the kernel does
(--explain lists what is left).

Exit status: 0 when every rule (and the kcmd) is accepted, 1 when something
is refused, 2 on usage errors or unreadable input.

Examples:
  ima-hook policy check /etc/ima-hook/policies/web.policy
  printf 'measure func=BPRM_CHECK\n' | ima-hook policy check -
  ima-hook policy check --kcmd 'ima_policy=tcb|appraise_tcb ima_appraise=fix' --explain
  ima-hook policy check --kernel-config /boot/config-6.1.0-13-amd64 --lsm capability,apparmor p.policy

Flags:
`

// Run is `ima-hook policy ARGS...`; it returns the exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, policyUsage)
		fs := policyFlags(&policyOpts{})
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] != "check" {
		fmt.Fprintf(stderr, "ima-hook: policy: unknown subcommand %s; use 'ima-hook policy check --help'\n", userror.Quote(args[0]))
		return 2
	}
	return runCheck(args[1:], stdin, stdout, stderr)
}

type policyOpts struct {
	format        string
	kcmd          string
	explain       bool
	kernelConfig  string
	lsm           string
	namespace     bool
	allowTemplate bool
	kernelExact   bool
	features      []string
	showProfile   bool
}

func policyFlags(o *policyOpts) *pflag.FlagSet {
	fs := pflag.NewFlagSet("policy check", pflag.ContinueOnError)
	fs.StringVar(&o.format, "format", "text", "output `FORMAT`: text or json")
	fs.StringVar(&o.kcmd, "kcmd", "", "also check this kcmd_for_children `STRING` (e.g. 'ima_policy=tcb ima_appraise=fix')")
	fs.BoolVar(&o.explain, "explain", false, "print the rules in force, built-ins expanded, in the kernel's order")
	fs.StringVar(&o.kernelConfig, "kernel-config", "", "describe the kernel built with this config `FILE` instead of the running one")
	fs.StringVar(&o.lsm, "lsm", "", "active LSMs, comma-separated `LIST` as in /sys/kernel/security/lsm (with --kernel-config; default: from the config)")
	fs.BoolVar(&o.namespace, "namespace", false, "rules go into a non-initial IMA namespace (default: when the kernel has CONFIG_IMA_NS)")
	fs.BoolVar(&o.kernelExact, "kernel-exact", false, "give the kernel's own verdict for each rule written in one write(), without ima-hook's stricter refusals (control bytes, NUL, over-long rules); the hook never loads such rules")
	fs.BoolVar(&o.allowTemplate, "allow-kcmd-template", false, "the kernel's kcmd_for_children takes ima_template= (IMA-namespace RFC patch 30)")
	fs.StringArrayVar(&o.features, "feature", nil, "switch a grammar feature `NAME=on|off` (repeatable; "+strings.Join(policy.FeatureNames(), ", ")+")")
	fs.BoolVar(&o.showProfile, "show-profile", false, "print the kernel profile the rules are checked against (JSON) and exit")
	fs.SortFlags = false
	return fs
}

// checkReport is the JSON output.
type checkReport struct {
	Source    string        `json:"source,omitempty"`
	OK        bool          `json:"ok"`
	Profile   string        `json:"profile"`
	Rules     []ruleReport  `json:"rules"`
	Errors    []string      `json:"errors,omitempty"` // problems with the policy as a whole
	Kcmd      *kcmdReport   `json:"kcmd,omitempty"`
	Effective []policy.Rule `json:"effective,omitempty"`
	// Shadowed are the policy's rules that an earlier rule in force always
	// decides first (policy.Shadowed); each is also among its warnings.
	Shadowed []policy.Shadow `json:"shadowed,omitempty"`
}

type ruleReport struct {
	Index    int      `json:"index"`
	Line     int      `json:"line"`
	Col      int      `json:"col"`
	OK       bool     `json:"ok"`
	Text     string   `json:"text"`
	Error    string   `json:"error,omitempty"`
	Token    string   `json:"token,omitempty"`
	Message  string   `json:"message,omitempty"`
	Stricter bool     `json:"stricter,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

type kcmdReport struct {
	Raw      string   `json:"raw"`
	OK       bool     `json:"ok"`
	Error    string   `json:"error,omitempty"`
	Policies []string `json:"policies,omitempty"`
	Appraise string   `json:"appraise,omitempty"`
	Template string   `json:"template,omitempty"`
}

func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o policyOpts
	fs := policyFlags(&o)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, policyUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, userror.UsageLine("policy check", err))
		return 2
	}
	if o.format != "text" && o.format != "json" {
		fmt.Fprintln(stderr, userror.Line(userror.New("--format", fmt.Sprintf("unknown format %s", userror.Quote(o.format)), "use text or json")))
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, userror.Line(userror.New("policy check", "more than one file given", "check one policy at a time")))
		return 2
	}
	if fs.NArg() == 0 && !fs.Changed("kcmd") && !o.showProfile {
		fmt.Fprintln(stderr, userror.Line(userror.New("policy check", "nothing to check", "name a policy FILE (or - for stdin), or give --kcmd")))
		return 2
	}

	p, profileName, err := checkProfile(&o, fs.Changed("namespace"), stderr)
	if err != nil {
		fmt.Fprintln(stderr, userror.Line(err))
		return 2
	}
	if o.showProfile {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(p)
		return 0
	}

	rep := checkReport{OK: true, Profile: profileName}
	var kc policy.Kcmd
	if fs.Changed("kcmd") {
		k, err := policy.ParseKcmd(o.kcmd, policy.KcmdOptions{AllowTemplate: o.allowTemplate, Profile: &p})
		kr := &kcmdReport{Raw: o.kcmd, OK: err == nil, Policies: k.Policies, Appraise: k.Appraise, Template: k.Template}
		if err != nil {
			kr.Error = err.Error()
			rep.OK = false
		} else {
			kc = k
			if p.Namespace.Enabled && k.SignedPolicyRequired(p) {
				p.SignedPolicyRequired = true
			}
		}
		rep.Kcmd = kr
	}

	var pol *policy.Policy
	if fs.NArg() == 1 {
		name := fs.Arg(0)
		text, err := readPolicy(name, stdin, p)
		if err != nil {
			fmt.Fprintln(stderr, userror.Line(err))
			return 2
		}
		rep.Source = name
		if name == "-" {
			rep.Source = "<stdin>"
		}
		var errs []*policy.RuleError
		pol, errs = policy.Parse(text, p)
		for _, r := range pol.All() {
			rr := ruleReport{Index: r.Index, Line: r.Line, Col: r.Col, OK: r.Err == nil, Text: r.Text, Warnings: r.Warnings}
			if r.Err != nil {
				rr.Error, rr.Token, rr.Message, rr.Stricter = r.Err.Error(), r.Err.Token, r.Err.Msg, r.Err.Stricter
				rr.Col = r.Err.Col
			}
			rep.Rules = append(rep.Rules, rr)
		}
		for _, e := range errs {
			if e.Index == 0 {
				rep.Errors = append(rep.Errors, e.Msg)
			}
		}
		if len(errs) > 0 {
			rep.OK = false
		}
	}

	if rep.Kcmd == nil || rep.Kcmd.OK {
		// The rules in force: what --explain prints, and where a rule can
		// be shadowed (by an architecture rule too).
		eff, err := policy.Effective(kc, pol, p)
		if err != nil {
			rep.Errors = append(rep.Errors, "explain: "+err.Error())
			rep.OK = false
		}
		if o.explain {
			rep.Effective = eff
		}
		// Only the policy's own rules: the built-ins shadow each other by
		// the kernel's design (secure_boot's rules first, on purpose).
		for _, sh := range policy.Shadowed(eff) {
			if sh.Rule.Source != "policy" {
				continue
			}
			rep.Shadowed = append(rep.Shadowed, sh)
			for i := range rep.Rules {
				if rep.Rules[i].Index == sh.Rule.Index {
					rep.Rules[i].Warnings = append(rep.Rules[i].Warnings, sh.Message)
				}
			}
		}
	}

	if o.format == "json" {
		if rep.Rules == nil {
			rep.Rules = []ruleReport{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printCheck(stdout, &rep, pol, kc, o.explain)
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// checkProfile picks the kernel description: --kernel-config, else the
// running kernel, else the built-in openEuler profile.
func checkProfile(o *policyOpts, nsSet bool, stderr io.Writer) (policy.Profile, string, error) {
	var p policy.Profile
	var name string
	switch {
	case o.kernelConfig != "":
		f, err := os.Open(o.kernelConfig)
		if err != nil {
			return p, "", userror.Wrap(err, o.kernelConfig, "cannot read the kernel config: "+errText(err), "give the path of a kernel .config file")
		}
		defer f.Close()
		p, err = policy.ProfileFromConfig(f, o.lsm)
		if err != nil {
			return p, "", userror.Wrapf(err, o.kernelConfig, "give the config of a kernel built with CONFIG_IMA", "")
		}
		name = "kernel config " + o.kernelConfig
	case o.lsm != "":
		return p, "", userror.New("--lsm", "needs --kernel-config", "give the kernel config the LSM list belongs to")
	default:
		var err error
		p, err = policy.ProfileFromSystem()
		if err != nil {
			fmt.Fprintf(stderr, "ima-hook: policy check: using the built-in openEuler CONFIG_IMA_NS profile (%v)\n", err)
			p, name = policy.DefaultProfile(), "built-in openEuler CONFIG_IMA_NS profile"
		} else {
			name = "running kernel"
		}
	}
	for _, f := range o.features {
		n, v, ok := strings.Cut(f, "=")
		on := v == "on" || v == "true" || v == "1"
		if !ok || !(on || v == "off" || v == "false" || v == "0") {
			return p, "", userror.New("--feature", fmt.Sprintf("%s is not NAME=on|off", userror.Quote(f)), "e.g. --feature digest_type=on")
		}
		if err := p.Features.SetFeature(n, on); err != nil {
			return p, "", userror.Wrapf(err, "--feature", "use one of the listed names", "")
		}
	}
	if len(o.features) > 0 {
		// Templates follow the template features.
		p.Templates = policyTemplates(p)
	}
	if nsSet {
		p.Namespace.Enabled = o.namespace
	}
	p.KernelExact = o.kernelExact
	name = fmt.Sprintf("%s (kernel %s", name, p.Version)
	if p.Namespace.Enabled {
		name += ", namespace mode"
	}
	return p, name + ")", nil
}

// policyTemplates recomputes the template list after feature switches,
// keeping custom formats (ima_template_fmt=) the profile had.
func policyTemplates(p policy.Profile) []policy.Template {
	fresh := policy.BuiltinTemplates(p.Features)
	for _, t := range p.Templates {
		if t.Name == "" {
			fresh = append(fresh, t)
		}
	}
	return fresh
}

func readPolicy(name string, stdin io.Reader, p policy.Profile) (string, error) {
	limit := p.Limits.MaxBytes
	if limit <= 0 {
		limit = policy.DefaultLimits.MaxBytes
	}
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return "", userror.Wrap(err, name, "cannot read the policy: "+errText(err), "check the path")
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
			return "", userror.New(name, "not a regular file", "give a policy file")
		}
		r = f
	}
	// One byte over the limit is enough for Parse to report the size.
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return "", userror.Wrap(err, name, "cannot read the policy: "+errText(err), "check the file")
	}
	return string(data), nil
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func printCheck(w io.Writer, rep *checkReport, pol *policy.Policy, kc policy.Kcmd, explain bool) {
	// Everything here may come from the policy text or the command line:
	// userror.Fprintf keeps each report line one printable line.
	src := userror.Text(rep.Source)
	if rep.Kcmd != nil {
		if rep.Kcmd.OK {
			userror.Fprintf(w, "kcmd: ok: %s\n", kc.String())
		} else {
			userror.Fprintf(w, "%s\n", rep.Kcmd.Error)
		}
	}
	if pol != nil {
		refused, warned := 0, 0
		for _, r := range rep.Rules {
			if !r.OK {
				refused++
				tok := ""
				if r.Token != "" {
					tok = "token " + quoteTok(r.Token) + ": "
				}
				userror.Fprintf(w, "%s:%d:%d: rule %d: %s%s\n", src, r.Line, r.Col, r.Index, tok, r.Message)
			}
			for _, wn := range r.Warnings {
				warned++
				userror.Fprintf(w, "%s:%d:%d: warning: rule %d: %s\n", src, r.Line, r.Col, r.Index, wn)
			}
		}
		for _, e := range rep.Errors {
			userror.Fprintf(w, "%s: %s\n", src, e)
		}
		summary := fmt.Sprintf("%s: %s: %d accepted, %d refused", src, plural(len(rep.Rules), "rule"), len(rep.Rules)-refused, refused)
		if warned > 0 {
			summary += ", " + plural(warned, "warning")
		}
		userror.Fprintf(w, "%s; checked against the %s\n", summary, rep.Profile)
	} else {
		for _, e := range rep.Errors {
			userror.Fprintf(w, "%s\n", e)
		}
	}
	if explain && (rep.Kcmd == nil || rep.Kcmd.OK) {
		if pol != nil && len(pol.Rules) > 0 && len(kc.Policies) > 0 {
			fmt.Fprintln(w, "# loading the policy replaces the kcmd built-ins; rules in force afterwards:")
		} else {
			fmt.Fprintln(w, "# rules in force, in the kernel's order:")
		}
		if len(rep.Effective) == 0 {
			fmt.Fprintln(w, "# (none: nothing is measured or appraised)")
		}
		for _, r := range rep.Effective {
			userror.Fprintf(w, "%-22s %s\n", r.Source, r.Text)
		}
	}
}

func quoteTok(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%q…", s[:80])
	}
	return fmt.Sprintf("%q", s)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
