// Package preflightcmd is the `ima-hook preflight` command: flags, policy
// and key loading, and the text and JSON reports over pkg/preflight. It
// lives apart from cmd/ima-hook so that it can be tested without building
// the binary.
package preflightcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/keys"
	"github.com/ima-hook/ima-hook/pkg/oci"
	"github.com/ima-hook/ima-hook/pkg/policy"
	"github.com/ima-hook/ima-hook/pkg/preflight"
)

// Summary is the one-line description for the command list.
const Summary = "predict which files of a container IMA appraisal will refuse, before it starts"

// Exit statuses.
const (
	ExitOK         = 0 // nothing on the entrypoint chain would be refused
	ExitRefused    = 1 // a file on the entrypoint chain would be refused
	ExitUsage      = 2 // bad flags, unreadable policy, key or rootfs
	ExitIncomplete = 3 // the time budget ran out before the chain was judged
)

const usage = `Usage: ima-hook preflight --rootfs DIR [--bundle DIR] [policy and key flags]

With IMA appraisal on, a container whose files lack a valid security.ima
signature or hash dies with "Permission denied" at its first exec. This
command tells you before the container starts: it walks the root filesystem
(never following a symlink out of it, never writing anything), finds for
each file the appraise rules of the namespace's policy that apply to the
ways it can be used, and judges its security.ima with the given keys the
way the kernel would.

What is checked:
  - the entrypoint chain (needs --bundle or --entrypoint): process.args[0]
    looked up through PATH from process.env inside the rootfs, its "#!"
    interpreters, its ELF interpreter (ld.so) and the DT_NEEDED libraries
    the loader maps, each for exactly the checks that exec makes
    (FILE_CHECK, BPRM_CHECK, CREDS_CHECK, MMAP_CHECK) with process.user;
  - every regular file of the rootfs, for every way any process may use it:
    read (FILE_CHECK), exec if it has an x bit (BPRM_CHECK, CREDS_CHECK),
    mmap if it is an ELF shared object (MMAP_CHECK).

Verdicts: pass (appraised, security.ima verifies), not-appraised (no
appraise rule applies), refused (with the cause: no-xattr, wrong-hash,
unknown-key-id, bad-signature, hash-only where appraise_type=imasig asks for
a signature, ...), undecidable (the rule depends on what a static view
cannot know: LSM labels, the uid of later processes, an fs-verity
signature; the reason names the condition).

The policy is the namespace's: the built-ins of --kcmd's ima_policy= names
followed by the custom rules (--policy FILE or --policy-rules TEXT), in
kernel order. Rule ids (uid=, fowner=) are host ids, as the hook writes
them; --rule-ids container reads them through the bundle's uidMappings.
With --bundle and none of --kcmd, --policy, --policy-rules, --x509, the
bundle's io.imans.* annotations and the admin config (--config) are used,
exactly as the hook would.

The filesystem the container sees (for fsmagic= and fsname= conditions)
is overlayfs unless --fsmagic says otherwise (--fsmagic auto: the rootfs'
own filesystem, right when DIR is the mounted container root).

Exit status: 0 when nothing on the entrypoint chain would be refused (also
when the appraisal mode only logs), 1 when something would be (or, with
--strict, is undecidable or was not followed in full), 2 on usage errors or
unreadable input, 3 when the time budget ran out before the entrypoint
chain was judged. The report's last line says OK only for a chain judged in
full; otherwise REFUSED, NOT FULLY CHECKED, UNDECIDED or ROOTFS ONLY.

Examples:
  ima-hook preflight --bundle /var/lib/ctr/b1 --x509 app.der \
      --policy-rules 'appraise func=BPRM_CHECK appraise_type=imasig'
  ima-hook preflight --rootfs ./rootfs --entrypoint /app/server \
      --kcmd 'ima_policy=appraise_tcb' --x509 app.der --format json
  ima-hook preflight --bundle /run/containers/b1     # as the hook would

Flags:
`

type opts struct {
	rootfs, bundle, configPath string
	kcmd                       string
	kcmdSet                    bool
	policyFile, policyRules    string
	x509                       []string
	entrypoint                 string
	format                     string
	timeout                    time.Duration
	fsmagic, fsname, fsuuid    string
	ruleIDs                    string
	kernelConfig               string
	all, strict, skipWalk      bool
	maxFiles, maxDepth         int
	maxBytes                   string
	workers                    int
}

func flags(o *opts) *pflag.FlagSet {
	fs := pflag.NewFlagSet("preflight", pflag.ContinueOnError)
	fs.StringVar(&o.rootfs, "rootfs", "", "the container's root filesystem `DIR` (default: root.path of --bundle)")
	fs.StringVar(&o.bundle, "bundle", "", "OCI bundle `DIR`: config.json gives process.args, env, cwd, user, id mappings and mounts")
	fs.StringVar(&o.configPath, "config", config.DefaultPath, "admin config `FILE`, used when the policy comes from the bundle's annotations")
	fs.StringVar(&o.kcmd, "kcmd", "", "the namespace's kcmd `STRING` (e.g. 'ima_policy=appraise_tcb'); its ima_policy= built-ins come first")
	fs.StringVar(&o.policyFile, "policy", "", "custom policy `FILE`")
	fs.StringVar(&o.policyRules, "policy-rules", "", "custom rules `TEXT`, one per line")
	fs.StringArrayVar(&o.x509, "x509", nil, "certificate `FILE` (DER or PEM) in the namespace's IMA keyring (repeatable)")
	fs.StringVar(&o.entrypoint, "entrypoint", "", "without --bundle: check this `PATH` as process.args[0] (user 0:0, default PATH)")
	fs.StringVar(&o.format, "format", "text", "output `FORMAT`: text or json")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "time `BUDGET` for the whole run")
	fs.StringVar(&o.fsmagic, "fsmagic", "overlay", "filesystem the container sees: `NAME` (overlay, tmpfs, ext4, ...), hex magic, or auto")
	fs.StringVar(&o.fsname, "fsname", "", "filesystem `NAME` for fsname= (default: from --fsmagic)")
	fs.StringVar(&o.fsuuid, "fsuuid", "", "filesystem `UUID` for fsuuid= (default unknown: such conditions stay undecided)")
	fs.StringVar(&o.ruleIDs, "rule-ids", "host", "user namespace of the rules' uid=/fowner= values: `host` or container")
	fs.StringVar(&o.kernelConfig, "kernel-config", "", "parse rules for the kernel built with this config `FILE` ('running': this kernel; default: openEuler CONFIG_IMA_NS profile)")
	fs.BoolVar(&o.all, "all", false, "text: list every file, not only refused and undecidable ones")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 also when a file on the entrypoint chain is undecidable, or the chain was not followed in full")
	fs.BoolVar(&o.skipWalk, "entrypoint-only", false, "check only the entrypoint chain, not the whole rootfs")
	fs.IntVar(&o.maxFiles, "max-files", 0, "stop the walk after `N` regular files (default 200000)")
	fs.IntVar(&o.maxDepth, "max-depth", 0, "do not enter directories deeper than `N` (default 64)")
	fs.StringVar(&o.maxBytes, "max-bytes", "", "hash at most `SIZE` bytes in total, e.g. 4G (default 16G)")
	fs.IntVar(&o.workers, "workers", 0, "judge `N` files in parallel (default min(4, CPUs))")
	fs.SortFlags = false
	return fs
}

// Run is `ima-hook preflight ARGS...`; it returns the exit status.
func Run(args []string, stdout, stderr io.Writer) int {
	var o opts
	fs := flags(&o)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "help" {
			fmt.Fprint(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return ExitOK
		}
	}
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(stderr, userror.UsageLine("preflight", err))
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ima-hook: preflight: unexpected argument %s; give the rootfs with --rootfs\n", userror.Quote(fs.Arg(0)))
		return ExitUsage
	}
	o.kcmdSet = fs.Changed("kcmd")
	popt, err := o.options()
	if err != nil {
		fmt.Fprintln(stderr, userror.Line(err))
		return ExitUsage
	}
	if o.format != "text" && o.format != "json" {
		fmt.Fprintln(stderr, userror.Line(userror.New("--format", "unknown format "+userror.Quote(o.format), "use text or json")))
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	rep, err := preflight.Run(ctx, *popt)
	var inc *preflight.IncompleteError
	if err != nil && !errors.As(err, &inc) {
		fmt.Fprintln(stderr, userror.Line(userror.Wrapf(err, popt.Rootfs, "give the container's root filesystem directory", "")))
		return ExitUsage
	}
	if o.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, userror.Line(err))
			return ExitUsage
		}
	} else {
		writeText(stdout, rep, popt, o.all)
	}
	if inc != nil {
		fmt.Fprintln(stderr, userror.Line(userror.Wrapf(inc, "--timeout", "raise --timeout or lower --max-bytes", "")))
		if !inc.ChainDone {
			return ExitIncomplete
		}
	}
	if len(rep.Blocking) > 0 {
		return ExitRefused
	}
	if o.strict && popt.Spec != nil && !rep.ChainDecided() {
		return ExitRefused
	}
	return ExitOK
}

// options turns the flags into preflight.Options.
func (o *opts) options() (*preflight.Options, error) {
	var spec *specs.Spec
	if o.bundle != "" {
		s, err := oci.ReadConfig(o.bundle)
		if err != nil {
			return nil, userror.Wrapf(err, "--bundle", "give an OCI bundle directory holding config.json", "")
		}
		spec = s
	}
	rootfs := o.rootfs
	if rootfs == "" {
		if spec == nil || spec.Root == nil || spec.Root.Path == "" {
			return nil, userror.New("--rootfs", "no root filesystem given", "give --rootfs DIR, or --bundle DIR whose config.json has root.path")
		}
		rootfs = spec.Root.Path
		if !filepath.IsAbs(rootfs) {
			rootfs = filepath.Join(o.bundle, rootfs)
		}
	}
	if st, err := os.Stat(rootfs); err != nil || !st.IsDir() {
		if err == nil {
			err = fmt.Errorf("not a directory")
		}
		return nil, userror.Wrapf(err, rootfs, "give the container's root directory with --rootfs", "cannot use it as the root filesystem")
	}
	if o.entrypoint != "" {
		if spec != nil {
			return nil, userror.New("--entrypoint", "given together with --bundle", "the bundle's process.args[0] is the entrypoint; drop one of them")
		}
		spec = &specs.Spec{Process: &specs.Process{Args: []string{o.entrypoint}, Cwd: "/", Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}}
	}
	popt := &preflight.Options{Rootfs: rootfs, Spec: spec, SkipWalk: o.skipWalk,
		Limits: preflight.Limits{MaxFiles: o.maxFiles, MaxDepth: o.maxDepth, Workers: o.workers}}
	if o.maxBytes != "" {
		n, err := parseSize(o.maxBytes)
		if err != nil {
			return nil, userror.New("--max-bytes", err.Error(), "give a size such as 512M or 4G")
		}
		popt.Limits.MaxBytes = n
	}
	switch o.ruleIDs {
	case "host":
		popt.RuleIDs = preflight.RuleIDsHost
	case "container":
		popt.RuleIDs = preflight.RuleIDsContainer
	default:
		return nil, userror.New("--rule-ids", "unknown value "+userror.Quote(o.ruleIDs), "use host or container")
	}
	if o.fsmagic == "auto" {
		fi, err := preflight.DetectFS(rootfs)
		if err != nil {
			return nil, userror.Wrapf(err, "--fsmagic", "give the filesystem by name, e.g. --fsmagic overlay", "")
		}
		popt.FSMagic, popt.FSName = fi.Magic, fi.Name
	} else {
		m, err := preflight.ParseFSMagic(o.fsmagic)
		if err != nil {
			return nil, userror.New("--fsmagic", err.Error(), "e.g. --fsmagic overlay or --fsmagic 0x794c7630")
		}
		popt.FSMagic = m
	}
	if o.fsname != "" {
		popt.FSName = o.fsname
	}
	popt.FSUUID = o.fsuuid

	explicit := o.kcmdSet || o.policyFile != "" || o.policyRules != "" || len(o.x509) > 0
	if !explicit && spec != nil && o.bundle != "" && hasIMAAnnotations(spec.Annotations) {
		return popt, o.fromAnnotations(popt, spec)
	}
	return popt, o.fromFlags(popt)
}

func hasIMAAnnotations(ann map[string]string) bool {
	for k := range ann {
		if strings.HasPrefix(k, config.Prefix) {
			return true
		}
	}
	return false
}

// fromAnnotations resolves the bundle's io.imans.* annotations with the
// admin config, as the hook does.
func (o *opts) fromAnnotations(popt *preflight.Options, spec *specs.Spec) error {
	admin, err := config.LoadAdmin(o.configPath)
	if err != nil {
		return err
	}
	cfg, err := config.Resolve(spec.Annotations, admin)
	if err != nil {
		return err
	}
	if cfg == nil {
		return userror.New("--bundle", "the bundle's annotations do not enable IMA (io.imans.enable) and the admin config does not make it mandatory",
			"nothing would be appraised; give the policy with --kcmd/--policy/--policy-rules to check anyway")
	}
	rules, err := preflight.EffectiveRules(cfg.Kcmd, cfg.Policy, cfg.Profile)
	if err != nil {
		return userror.Wrapf(err, config.AnnKcmd, "use a built-in policy the kernel knows", "")
	}
	popt.Rules, popt.Appraise = rules, cfg.Kcmd.Appraise
	if cfg.Cert != nil {
		popt.Certs = []*keys.Certificate{cfg.Cert}
	}
	return nil
}

func (o *opts) fromFlags(popt *preflight.Options) error {
	prof, err := o.profile()
	if err != nil {
		return err
	}
	var k policy.Kcmd
	if strings.TrimSpace(o.kcmd) != "" {
		k, err = policy.ParseKcmd(o.kcmd, policy.KcmdOptions{AllowTemplate: true})
		if err != nil {
			return userror.Wrapf(err, "--kcmd", "use ima_policy=<tcb|appraise_tcb|secure_boot|...> and ima_appraise=<off|log|fix>", "")
		}
	}
	if o.policyFile != "" && o.policyRules != "" {
		return userror.New("--policy", "given together with --policy-rules", "give the custom rules one way")
	}
	var pol *policy.Policy
	text, src := o.policyRules, "--policy-rules"
	if o.policyFile != "" {
		b, err := readBounded(o.policyFile, config.MaxPolicySize)
		if err != nil {
			return userror.Wrapf(err, o.policyFile, "give a readable policy file", "")
		}
		text, src = string(b), o.policyFile
	}
	if o.policyFile != "" || o.policyRules != "" {
		// As the hook does: custom rules that were given but hold none are
		// refused, not taken for "no custom policy".
		if why := config.EmptyPolicy(text); why != "" {
			return userror.New(userror.Text(src), "the policy has no rules ("+why+")", "give the rules the namespace will load")
		}
		p, errs := policy.Parse(text, prof)
		if len(errs) > 0 {
			return userror.New(userror.Text(src), errs[0].Error(), "fix the rule (ima-hook policy check explains every rule)")
		}
		if len(p.Rules) == 0 {
			return userror.New(userror.Text(src), "the policy has no rules (nothing but blank lines and comments)", "give the rules the namespace will load")
		}
		pol = p
	}
	rules, err := preflight.EffectiveRules(k, pol, prof)
	if err != nil {
		return userror.Wrapf(err, "--kcmd", "use a built-in policy the kernel knows", "")
	}
	popt.Rules, popt.Appraise = rules, k.Appraise
	for _, f := range o.x509 {
		b, err := readBounded(f, keys.MaxCertSize)
		if err != nil {
			return userror.Wrapf(err, f, "give a DER or PEM X.509 certificate file", "")
		}
		// Certificates without a subjectKeyIdentifier are taken: the files
		// they signed are then reported as the kernel sees them (unknown
		// key id), which is what the user needs to learn.
		c, err := keys.ParseCertificate(b, keys.Options{AllowNoSKID: true})
		if err != nil {
			return userror.Wrapf(err, f, "give a DER or PEM X.509 certificate file", "")
		}
		popt.Certs = append(popt.Certs, c)
	}
	return nil
}

func (o *opts) profile() (policy.Profile, error) {
	switch o.kernelConfig {
	case "":
		return policy.DefaultProfile(), nil
	case "running":
		p, err := policy.ProfileFromSystem()
		if err != nil {
			return p, userror.Wrapf(err, "--kernel-config", "give a kernel config file instead", "")
		}
		return p, nil
	}
	f, err := os.Open(o.kernelConfig)
	if err != nil {
		return policy.Profile{}, userror.Wrapf(err, o.kernelConfig, "give the target kernel's config file", "")
	}
	defer f.Close()
	p, err := policy.ProfileFromConfig(f, "")
	if err != nil {
		return p, userror.Wrapf(err, o.kernelConfig, "give a kernel .config file", "")
	}
	return p, nil
}

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "T"):
		mult, s = 1<<40, strings.TrimSuffix(s, "T")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q is not a positive number with an optional K, M, G or T suffix", s)
	}
	return n * mult, nil
}

// writeText prints the human report: the chain, then the rootfs files
// that need attention, notes and the summary line. Everything in it that
// comes from the rootfs (file names, xattrs, reasons quoting them) is
// untrusted: file names go through userror.Text, and every other string
// through userror.Fprintf, so each report line stays one printable line
// that a crafted name cannot forge. (The JSON report stays exact.)
func writeText(w io.Writer, rep *preflight.Report, popt *preflight.Options, all bool) {
	appraise := 0
	for _, r := range popt.Rules {
		if r.Action == "appraise" || r.Action == "dont_appraise" {
			appraise++
		}
	}
	p := func(format string, args ...any) { _, _ = userror.Fprintf(w, format, args...) }
	p("preflight of %s: filesystem %s, %d appraise/dont_appraise rules, %d keys\n", userror.Text(rep.Rootfs), rep.FS.String(), appraise, len(popt.Certs))
	if appraise == 0 {
		p("note: the policy has no appraise rules: nothing is appraised\n")
	}
	line := func(f preflight.FileResult) {
		label := strings.ToUpper(string(f.Verdict))
		if f.Verdict == preflight.Pass || f.Verdict == preflight.NotAppraised {
			label = string(f.Verdict)
		}
		role := ""
		if f.Role != "" {
			role = " [" + f.Role + "]"
		}
		reason := ""
		if f.Reason != "" {
			reason = ": " + f.Reason
		}
		p("  %-13s %s%s%s\n", label, userror.Text(f.Path), role, reason)
		if f.Verdict == preflight.Refused || f.Verdict == preflight.Undecidable {
			if f.Xattr != "" {
				p("      security.ima: %s\n", shortXattr(f.Xattr))
			}
			if f.Rule != nil {
				p("      %s\n", f.Rule.String())
			}
		}
	}
	if len(rep.Entrypoint) > 0 {
		p("entrypoint chain (what the first exec loads):\n")
		for _, f := range rep.Entrypoint {
			line(f)
		}
	}
	if len(rep.Files) > 0 {
		if all {
			p("rootfs files:\n")
		} else {
			p("rootfs files refused or undecidable when used (--all lists every file):\n")
		}
		shown := 0
		for _, f := range rep.Files {
			if all || f.Verdict == preflight.Refused || f.Verdict == preflight.Undecidable {
				line(f)
				shown++
			}
		}
		if shown == 0 {
			p("  (none)\n")
		}
	}
	if len(rep.Notes) > 0 {
		p("notes:\n")
		for _, n := range rep.Notes {
			p("  - %s\n", n)
		}
	}
	p("stats: %d files, %d dirs, %d symlinks, %d special; %d hashed (%d bytes) in %s\n",
		rep.Stats.Files, rep.Stats.Dirs, rep.Stats.Symlinks, rep.Stats.Special, rep.Stats.Hashed, rep.Stats.Bytes, rep.Stats.Duration.Round(time.Millisecond).String())
	p("%s; %s\n", verdictLine(rep, popt.Spec != nil), rep.Summary(5))
}

// verdictLine is the report's conclusion: it says OK only when the
// entrypoint chain was judged in full and nothing on it would be refused.
func verdictLine(rep *preflight.Report, chainAsked bool) string {
	undecided := 0
	for _, f := range rep.Entrypoint {
		if f.Verdict == preflight.Undecidable {
			undecided++
		}
	}
	switch {
	case len(rep.Blocking) > 0:
		return "REFUSED: the container would not start"
	case !chainAsked:
		return "ROOTFS ONLY: no entrypoint was given (--bundle or --entrypoint), so nothing is said about the container's start"
	case rep.Incomplete && !rep.ChainChecked:
		return "NOT FULLY CHECKED: the time budget ran out before the entrypoint chain was judged, so nothing is said about the container's start"
	case !rep.ChainChecked:
		return "NOT FULLY CHECKED: the entrypoint chain was not followed in full (see the notes); nothing on the part checked would be refused"
	case undecided > 0:
		verb := "are"
		if undecided == 1 {
			verb = "is"
		}
		return fmt.Sprintf("UNDECIDED: nothing on the entrypoint chain would be refused, but %d of its files %s undecidable (--strict refuses them)", undecided, verb)
	case rep.Incomplete:
		return "OK: nothing on the entrypoint chain would be refused, but the rootfs walk was not fully checked (the time budget ran out)"
	}
	return "OK: nothing on the entrypoint chain would be refused"
}

func shortXattr(s string) string {
	if len(s) > 100 {
		return s[:97] + "..."
	}
	return s
}
