package policy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// KernelVersion is the major.minor of the kernel the profile describes.
// The zero value means "unknown"; features then follow DefaultVersion.
type KernelVersion struct{ Major, Minor int }

func (v KernelVersion) String() string {
	if v.Major == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

// AtLeast reports whether v is major.minor or newer.
func (v KernelVersion) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// ParseKernelVersion reads "6.1", "6.1.192" or "5.10.0-136.12.0.86.oe2203sp1".
func ParseKernelVersion(s string) (KernelVersion, error) {
	s = strings.TrimSpace(s)
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return KernelVersion{}, fmt.Errorf("kernel version %q: want MAJOR.MINOR", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minorDigits := parts[1]
	if i := strings.IndexFunc(minorDigits, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minorDigits = minorDigits[:i]
	}
	minor, err2 := strconv.Atoi(minorDigits)
	if err1 != nil || err2 != nil || major <= 0 || major > 99 || minor < 0 || minor > 999 {
		return KernelVersion{}, fmt.Errorf("kernel version %q: want MAJOR.MINOR", s)
	}
	return KernelVersion{major, minor}, nil
}

// DefaultVersion is assumed when a profile has no version: the openEuler
// OLK-5.10 kernels are where CONFIG_IMA_NS exists.
var DefaultVersion = KernelVersion{5, 10}

// OldestModelled is the oldest kernel whose policy parser this package
// models. Older kernels validated rules less strictly (no per-func
// condition sets before 5.10's ima_validate_rule); their verdicts are
// predicted as for 5.10 and a warning says so.
var OldestModelled = KernelVersion{5, 10}

// Features are the parts of the rule grammar that came with a kernel
// release (mainline version noted; distribution kernels may backport, so
// each can be switched by hand, e.g. `policy check --feature digest_type=on`).
type Features struct {
	// CriticalData: func=CRITICAL_DATA, label=, built-in policy
	// critical_data (mainline 5.12).
	CriticalData bool `json:"critical_data"`
	// AppraiseAlgos: appraise_algos= and func=SETXATTR_CHECK (mainline 5.15).
	AppraiseAlgos bool `json:"appraise_algos"`
	// GIDConds: gid=, egid=, fgroup= with =, < and > (mainline 6.0;
	// approximate, see docs/policy.md).
	GIDConds bool `json:"gid_conditions"`
	// DigestType: digest_type=verity and appraise_type=sigv3, templates
	// ima-ngv2 and ima-sigv2 (mainline 5.19).
	DigestType bool `json:"digest_type"`
	// EVMSigTemplate: the evm-sig template (mainline 5.13).
	EVMSigTemplate bool `json:"evm_sig_template"`
	// MmapReqprot: func=MMAP_CHECK_REQPROT (mainline 6.4; approximate).
	MmapReqprot bool `json:"mmap_check_reqprot"`
	// DigestLists: [U] openEuler's IMA Digest Lists: func=DIGEST_LIST_CHECK,
	// appraise_type=meta_immutable, pcr= may not name DigestListPCR, and the
	// built-ins exec_tcb, appraise_exec_tcb, appraise_exec_immutable. Read
	// in an openEuler 6.6 tree; whether the IMA-namespace kernels carry it
	// is not known.
	DigestLists bool `json:"digest_lists"`
	// IMANSTemplate: [U] the ima-ns template ("d-ng|n-ng|ns") of the
	// IMA-namespace patches (RFC 13/30).
	IMANSTemplate bool `json:"ima_ns_template"`
}

// FeaturesFor returns the features mainline kernel v has.
func FeaturesFor(v KernelVersion) Features {
	if v.Major == 0 {
		v = DefaultVersion
	}
	return Features{
		CriticalData:   v.AtLeast(5, 12),
		AppraiseAlgos:  v.AtLeast(5, 15),
		GIDConds:       v.AtLeast(6, 0),
		DigestType:     v.AtLeast(5, 19),
		EVMSigTemplate: v.AtLeast(5, 13),
		MmapReqprot:    v.AtLeast(6, 4),
	}
}

// featureNames maps the --feature names to the fields.
var featureNames = []string{"critical_data", "appraise_algos", "gid_conditions", "digest_type",
	"evm_sig_template", "mmap_check_reqprot", "digest_lists", "ima_ns_template"}

// FeatureNames lists the names SetFeature accepts.
func FeatureNames() []string { return append([]string(nil), featureNames...) }

// SetFeature switches one feature by its name (see FeatureNames).
func (f *Features) SetFeature(name string, on bool) error {
	switch name {
	case "critical_data":
		f.CriticalData = on
	case "appraise_algos":
		f.AppraiseAlgos = on
	case "gid_conditions":
		f.GIDConds = on
	case "digest_type":
		f.DigestType = on
	case "evm_sig_template":
		f.EVMSigTemplate = on
	case "mmap_check_reqprot":
		f.MmapReqprot = on
	case "digest_lists":
		f.DigestLists = on
	case "ima_ns_template":
		f.IMANSTemplate = on
	default:
		return fmt.Errorf("unknown feature %q (known: %s)", name, strings.Join(featureNames, ", "))
	}
	return nil
}

// Template is one entry of the kernel's defined_templates list; a rule's
// template= may name either field (lookup_template_desc compares both).
type Template struct {
	Name string `json:"name"`
	Fmt  string `json:"fmt"`
}

// IDMap is one line of a user namespace's uid_map or gid_map: IDs
// Inside..Inside+Count-1 of the writer's namespace map to kernel IDs.
type IDMap struct {
	Inside, Outside, Count uint32
}

// Namespace describes writing rules into a non-initial IMA namespace
// (openEuler CONFIG_IMA_NS, docs/kernel-abi.md#policy-file). The
// rule grammar itself is the same as in the initial namespace (the
// namespace patches do not change ima_parse_rule); what differs is listed
// here, every uncertain point as a switch.
type Namespace struct {
	// Enabled: rules are written into a non-initial IMA namespace.
	Enabled bool `json:"enabled"`
	// DeadFuncsAreErrors: refuse rules whose func can never fire inside a
	// non-initial namespace (kexec_file_load is refused there with EPERM
	// and the kexec command line is never measured, so KEXEC_KERNEL_CHECK,
	// KEXEC_INITRAMFS_CHECK and KEXEC_CMDLINE rules are inert) instead of
	// accepting them with a warning. The kernel itself accepts them. [U]
	// whether the openEuler kernel kept these RFC 09/30 restrictions.
	DeadFuncsAreErrors bool `json:"dead_funcs_are_errors"`
}

// Limits bound untrusted policy text. The kernel takes at most
// PAGE_SIZE-1 bytes per write and the hook writes each rule followed by a
// newline, so a rule can have at most MaxRuleBytes = 4094 bytes.
type Limits struct {
	MaxBytes  int `json:"max_bytes"`  // whole policy text
	MaxRules  int `json:"max_rules"`  // rules (comments and blank lines not counted)
	MaxTokens int `json:"max_tokens"` // tokens in one rule
}

// MaxRuleBytes is the longest rule text the kernel takes in one write
// (PAGE_SIZE-1 = 4095 bytes, one of which is the newline ending the rule).
// A longer write is silently truncated by ima_write_policy, so a longer rule
// would not be the rule the user wrote.
const MaxRuleBytes = 4094

// DefaultLimits are generous for real policies (the kernel's own built-in
// policies have at most 22 rules, rules at most 8 tokens).
var DefaultLimits = Limits{MaxBytes: 1 << 20, MaxRules: 2048, MaxTokens: 64}

// Profile is what a kernel accepts: its build options, its active LSMs and
// whether rules are being written into a non-initial IMA namespace.
type Profile struct {
	// KernelExact judges each rule exactly as the kernel does when the rule
	// and its newline are written in one write(): the parser sees a C
	// string (everything after a NUL is dropped), ima_write_policy takes at
	// most PAGE_SIZE-1 bytes, and the validator's own stricter refusals
	// (RuleError.Stricter: control bytes, token and length bounds, rules
	// the namespace never triggers) are not made. For comparing with a
	// kernel; the hook never sets it.
	KernelExact bool `json:"kernel_exact,omitempty"`

	// Version is the kernel release (from the config header); it selects
	// Features in ProfileFromConfig.
	Version  KernelVersion `json:"version"`
	Features Features      `json:"features"`

	// IMA is CONFIG_IMA; without it there is no policy file at all.
	IMA bool `json:"ima"`
	// Appraise is CONFIG_IMA_APPRAISE (kcmd ima_appraise needs it).
	Appraise bool `json:"appraise"`
	// AppraiseBootParam is CONFIG_IMA_APPRAISE_BOOTPARAM: without it
	// ima_appraise= is ignored.
	AppraiseBootParam bool `json:"appraise_bootparam"`
	// Modsig is CONFIG_IMA_APPRAISE_MODSIG: appraise_type=imasig|modsig
	// and appraise_flag=check_blacklist.
	Modsig bool `json:"modsig"`
	// AsymmetricKeys is CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS: func=KEY_CHECK
	// and keyrings=.
	AsymmetricKeys bool `json:"asymmetric_keys"`
	// LSMRules is CONFIG_IMA_LSM_RULES: without it no subj_*/obj_* label
	// can be defined.
	LSMRules bool `json:"lsm_rules"`
	// WritePolicy and ReadPolicy are CONFIG_IMA_WRITE_POLICY and
	// CONFIG_IMA_READ_POLICY: they shape the appraise_tcb built-in and say
	// whether the policy file survives the first load.
	WritePolicy bool `json:"write_policy"`
	ReadPolicy  bool `json:"read_policy"`
	// AppraiseSignedInit is CONFIG_IMA_APPRAISE_SIGNED_INIT (appraise_tcb
	// then requires signatures).
	AppraiseSignedInit bool `json:"appraise_signed_init"`
	// ArchPolicy, KexecSig and ModuleSig are CONFIG_IMA_ARCH_POLICY,
	// CONFIG_KEXEC_SIG and CONFIG_MODULE_SIG: they shape the architecture
	// rules added when the machine boots with secure boot.
	ArchPolicy bool `json:"arch_policy"`
	KexecSig   bool `json:"kexec_sig"`
	ModuleSig  bool `json:"module_sig"`
	// SecureBoot: the machine booted with EFI secure boot (runtime state,
	// not a build option): the kernel then prepends its architecture rules
	// and ignores ima_appraise=.
	SecureBoot bool `json:"secure_boot"`
	// BuildAppraise lists the funcs of the CONFIG_IMA_APPRAISE_REQUIRE_*_SIGS
	// build-time rules (MODULE_CHECK, FIRMWARE_CHECK, KEXEC_KERNEL_CHECK,
	// POLICY_CHECK); they apply to the initial namespace only.
	BuildAppraise []string `json:"build_appraise,omitempty"`
	// HashAlgos are the hash algorithms appraise_algos= accepts: the names
	// in the kernel's hash_algo_name table whose crypto driver is built in
	// (true) or a module (false). crypto_has_alg loads modules on demand.
	HashAlgos map[string]bool `json:"hash_algos"`
	// ModulesLoadable: a hash algorithm built as a module counts as
	// available (the kernel loads it on demand through modprobe). False for
	// a kernel booted without its modules (an initramfs without them).
	ModulesLoadable bool `json:"modules_loadable"`
	// Templates are the templates lookup_template_desc finds.
	Templates []Template `json:"templates"`
	// DefaultTemplate is CONFIG_IMA_DEFAULT_TEMPLATE (or ima_template=).
	DefaultTemplate string `json:"default_template"`
	// PCRs is the number of PCR indexes pcr= accepts: the bits of the
	// kernel's measured_pcrs (unsigned long: 64 on 64-bit kernels).
	PCRs int `json:"pcrs"`
	// DigestListPCR is the PCR that openEuler's digest lists reserve
	// (pcr= may not name it) when Features.DigestLists is on. [U]
	DigestListPCR int `json:"digest_list_pcr,omitempty"`

	// LSMs are the active LSMs in order (/sys/kernel/security/lsm).
	LSMs []string `json:"lsms"`
	// LSMLabels are the labels the active label-providing LSM knows
	// (SELinux users, roles and types; AppArmor profile names). Nil means
	// not known: labels are then accepted with a warning (SELinux, whose
	// policy cannot be listed without its tools).
	LSMLabels []string `json:"lsm_labels,omitempty"`
	// CustomPolicyLoaded: the target namespace already runs a policy
	// written through the policy file. ima_lsm_rule_init refuses a label
	// no LSM defines only while the built-in (boot or kcmd) policy is
	// active; afterwards it accepts it with a warning.
	CustomPolicyLoaded bool `json:"custom_policy_loaded"`
	// SignedPolicyRequired: the target namespace appraises POLICY_CHECK
	// (IMA_APPRAISE_POLICY: ima_policy=secure_boot, or appraise_tcb with
	// CONFIG_IMA_WRITE_POLICY, or CONFIG_IMA_APPRAISE_REQUIRE_POLICY_SIGS),
	// so ima_write_policy refuses every inline rule with EACCES; only a
	// signed policy file can be loaded.
	SignedPolicyRequired bool `json:"signed_policy_required"`
	// UIDMap and GIDMap are the ID maps of the user namespace of the task
	// that writes the policy: ima_parse_rule maps uid=, euid=, fowner=,
	// gid=, egid=, fgroup= through them (make_kuid(current_user_ns())) and
	// refuses an unmapped value. Empty means the initial user namespace.
	UIDMap []IDMap `json:"uid_map,omitempty"`
	GIDMap []IDMap `json:"gid_map,omitempty"`

	Namespace Namespace `json:"namespace"`
	Limits    Limits    `json:"limits"`
}

// BuiltinTemplates returns the templates of ima_template.c's
// builtin_templates for the given features, in the kernel's order.
func BuiltinTemplates(f Features) []Template { return builtinTemplates(f) }

func builtinTemplates(f Features) []Template {
	t := []Template{
		{"ima", "d|n"},
		{"ima-ng", "d-ng|n-ng"},
		{"ima-sig", "d-ng|n-ng|sig"},
	}
	if f.DigestType {
		t = append(t, Template{"ima-ngv2", "d-ngv2|n-ng"}, Template{"ima-sigv2", "d-ngv2|n-ng|sig"})
	}
	t = append(t, Template{"ima-buf", "d-ng|n-ng|buf"}, Template{"ima-modsig", "d-ng|n-ng|sig|d-modsig|modsig"})
	if f.EVMSigTemplate {
		t = append(t, Template{"evm-sig", "d-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|imode"})
	}
	if f.IMANSTemplate {
		t = append(t, Template{"ima-ns", "d-ng|n-ng|ns"})
	}
	return t
}

// hashAlgoNames is the kernel's hash_algo_name table (crypto/hash_info.c);
// appraise_algos= names must be spelled exactly like this.
var hashAlgoNames = []string{"md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224",
	"rmd128", "rmd256", "rmd320", "wp256", "wp384", "wp512", "tgr128", "tgr160", "tgr192", "sm3",
	"streebog256", "streebog512"}

// DefaultProfile is a sensible openEuler CONFIG_IMA_NS kernel (OLK-5.10)
// with rules going into a non-initial IMA namespace. Prefer
// ProfileFromSystem on the machine itself: every point below is a guess
// about a build this package could not inspect.
func DefaultProfile() Profile {
	v := DefaultVersion
	f := FeaturesFor(v)
	f.IMANSTemplate = true
	p := Profile{
		Version:           v,
		Features:          f,
		IMA:               true,
		Appraise:          true,
		AppraiseBootParam: true,
		AsymmetricKeys:    true,
		LSMRules:          true,
		WritePolicy:       true,
		ReadPolicy:        true,
		ArchPolicy:        true,
		KexecSig:          true,
		ModuleSig:         true,
		HashAlgos: map[string]bool{
			"md5": true, "sha1": true, "sha256": true, "sha224": true,
			"sha384": true, "sha512": true, "sm3": true,
		},
		ModulesLoadable: true,
		DefaultTemplate: "ima-ng",
		PCRs:            64,
		DigestListPCR:   11,
		LSMs:            []string{"capability", "selinux"},
		Namespace:       Namespace{Enabled: true},
		Limits:          DefaultLimits,
	}
	p.Templates = builtinTemplates(f)
	return p
}

// labelLSM is the first active LSM that implements audit_rule_init: the
// kernel's security_audit_rule_init calls the hooks in order and stops at
// the first that answers non-zero, and SELinux, Smack and AppArmor are
// mutually exclusive, so at most one of them matters.
func (p *Profile) labelLSM() string {
	for _, l := range p.LSMs {
		switch l {
		case "selinux", "smack", "apparmor":
			return l
		}
	}
	return ""
}

func (p *Profile) hashAvailable(name string) (known, available bool) {
	for _, n := range hashAlgoNames {
		if n == name {
			known = true
			break
		}
	}
	builtin, ok := p.HashAlgos[name]
	return known, ok && (builtin || p.ModulesLoadable)
}

func (p *Profile) limits() Limits {
	l := p.Limits
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxRules <= 0 {
		l.MaxRules = DefaultLimits.MaxRules
	}
	if l.MaxTokens <= 0 {
		l.MaxTokens = DefaultLimits.MaxTokens
	}
	return l
}

func (p *Profile) pcrs() int {
	if p.PCRs <= 0 {
		return 64
	}
	return p.PCRs
}

// availableHashes lists the usable appraise_algos names, sorted.
func (p *Profile) availableHashes() []string {
	var out []string
	for _, n := range hashAlgoNames {
		if _, ok := p.hashAvailable(n); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// mapID maps id through m like the kernel's map_id_down: an empty map is
// the identity of the initial user namespace, where only (uid_t)-1 is
// invalid.
func mapID(m []IDMap, id uint64) bool {
	if id > 0xFFFFFFFF {
		return false
	}
	if len(m) == 0 {
		return id != 0xFFFFFFFF
	}
	for _, e := range m {
		if uint64(e.Inside) <= id && id < uint64(e.Inside)+uint64(e.Count) {
			return uint64(e.Outside)+(id-uint64(e.Inside)) != 0xFFFFFFFF
		}
	}
	return false
}
