package policy

import (
	"errors"
	"fmt"
	"strings"
)

// Filesystem magics of the kernel's built-in rules (include/uapi/linux/magic.h).
const (
	procMagic       = "0x9fa0"
	sysfsMagic      = "0x62656572"
	debugfsMagic    = "0x64626720"
	tmpfsMagic      = "0x1021994"
	ramfsMagic      = "0x858458f6"
	devptsMagic     = "0x1cd1"
	binfmtfsMagic   = "0x42494e4d"
	securityfsMagic = "0x73636673"
	selinuxMagic    = "0xf97cff8c"
	smackMagic      = "0x43415d53"
	cgroupMagic     = "0x27e0eb"
	cgroup2Magic    = "0x63677270"
	nsfsMagic       = "0x6e736673"
	efivarfsMagic   = "0xde5e81e4"
)

// dont_measure_rules: filesystems the TCB policies never measure.
var dontMeasureMagics = []string{procMagic, sysfsMagic, debugfsMagic, tmpfsMagic, devptsMagic,
	binfmtfsMagic, securityfsMagic, selinuxMagic, smackMagic, cgroupMagic, cgroup2Magic, nsfsMagic, efivarfsMagic}

// default_appraise_rules' dont_appraise part (note RAMFS here, not above).
var dontAppraiseMagics = []string{procMagic, sysfsMagic, debugfsMagic, tmpfsMagic, ramfsMagic, devptsMagic,
	binfmtfsMagic, securityfsMagic, selinuxMagic, smackMagic, nsfsMagic, efivarfsMagic, cgroupMagic, cgroup2Magic}

// ErrFlagOnly is returned by BuiltinRules for fail_securely: it is a
// switch of the namespace (unverifiable signatures fail appraisal), not a
// set of rules, so it cannot be loaded through the policy file; only the
// creator of the namespace can set it through kcmd_for_children.
var ErrFlagOnly = errors.New("fail_securely is a switch, not rules: only kcmd_for_children at namespace creation can set it")

// BuiltinNames are the names BuiltinRules knows: the ima_policy= names and
// the original "ima_tcb" policy (the valueless ima_tcb boot flag).
func BuiltinNames(p Profile) []string {
	return append([]string{"ima_tcb"}, KcmdPolicyNames(&p)...)
}

// BuiltinRules expands one built-in policy to its rules, in the kernel's
// order for that profile (ima_policy.c's rule tables). The rules carry
// Source "builtin:NAME" and Text that the policy file accepts.
func BuiltinRules(name string, p Profile) ([]Rule, error) {
	texts, err := builtinTexts(name, &p)
	if err != nil {
		return nil, err
	}
	return textsToRules(texts, "builtin:"+name, &p), nil
}

func builtinTexts(name string, p *Profile) ([]string, error) {
	dl := p.Features.DigestLists
	switch name {
	case "tcb", "exec_tcb":
		if name == "exec_tcb" && !dl {
			break
		}
		var t []string
		for _, m := range dontMeasureMagics {
			// exec_tcb (openEuler) leaves out the tmpfs exclusion and the
			// FILE_CHECK rules.
			if name == "exec_tcb" && m == tmpfsMagic {
				continue
			}
			t = append(t, "dont_measure fsmagic="+m)
		}
		t = append(t, "measure func=MMAP_CHECK mask=MAY_EXEC", "measure func=BPRM_CHECK mask=MAY_EXEC")
		if name == "tcb" {
			t = append(t, "measure func=FILE_CHECK mask=^MAY_READ euid=0", "measure func=FILE_CHECK mask=^MAY_READ uid=0")
		}
		t = append(t, "measure func=MODULE_CHECK", "measure func=FIRMWARE_CHECK", "measure func=POLICY_CHECK")
		if dl {
			t = append(t, "measure func=DIGEST_LIST_CHECK")
		}
		return t, nil
	case "ima_tcb":
		var t []string
		for _, m := range dontMeasureMagics {
			t = append(t, "dont_measure fsmagic="+m)
		}
		return append(t, "measure func=MMAP_CHECK mask=MAY_EXEC", "measure func=BPRM_CHECK mask=MAY_EXEC",
			"measure func=FILE_CHECK mask=MAY_READ uid=0", "measure func=MODULE_CHECK", "measure func=FIRMWARE_CHECK"), nil
	case "appraise_tcb", "appraise_exec_tcb":
		if name == "appraise_exec_tcb" && !dl {
			break
		}
		var t []string
		for _, m := range dontAppraiseMagics {
			if name == "appraise_exec_tcb" && m == tmpfsMagic {
				continue
			}
			t = append(t, "dont_appraise fsmagic="+m)
		}
		if name == "appraise_exec_tcb" {
			// Only the dont_appraise part of default_appraise_rules, then
			// signed executables.
			return append(t, "appraise func=BPRM_CHECK appraise_type=imasig", "appraise func=MMAP_CHECK appraise_type=imasig"), nil
		}
		if p.WritePolicy {
			t = append(t, "appraise func=POLICY_CHECK appraise_type=imasig")
		}
		if p.AppraiseSignedInit {
			t = append(t, "appraise fowner=0 appraise_type=imasig")
		} else {
			t = append(t, "appraise fowner=0")
		}
		return t, nil
	case "appraise_exec_immutable":
		if !dl {
			break
		}
		// A modifier of appraise_exec_tcb's BPRM_CHECK rule, no rules of
		// its own.
		return nil, nil
	case "secure_boot":
		t := []string{"appraise func=MODULE_CHECK appraise_type=imasig", "appraise func=FIRMWARE_CHECK appraise_type=imasig",
			"appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig", "appraise func=POLICY_CHECK appraise_type=imasig"}
		if dl {
			t = append(t, "appraise func=DIGEST_LIST_CHECK appraise_type=imasig")
		}
		return t, nil
	case "critical_data":
		if !p.Features.CriticalData {
			return nil, fmt.Errorf("built-in policy critical_data needs kernel 5.12 or newer (profile: %s)", p.Version)
		}
		return []string{"measure func=CRITICAL_DATA"}, nil
	case "fail_securely":
		return nil, ErrFlagOnly
	}
	return nil, fmt.Errorf("unknown built-in policy %q (known: %s)", name, strings.Join(BuiltinNames(*p), ", "))
}

// ArchRules are the rules the kernel prepends when the machine boots with
// EFI secure boot and CONFIG_IMA_ARCH_POLICY (ima_efi.c sb_arch_rules);
// they stay in force after a custom policy is loaded.
func ArchRules(p Profile) []Rule {
	if !p.ArchPolicy || !p.SecureBoot {
		return nil
	}
	var t []string
	if !p.KexecSig {
		t = append(t, "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig")
	}
	t = append(t, "measure func=KEXEC_KERNEL_CHECK")
	if !p.ModuleSig {
		t = append(t, "appraise func=MODULE_CHECK appraise_type=imasig")
	}
	t = append(t, "measure func=MODULE_CHECK")
	return textsToRules(t, "arch", &p)
}

// BuildRules are the CONFIG_IMA_APPRAISE_REQUIRE_*_SIGS rules; they stay
// in force after a custom policy is loaded, in the initial namespace only.
func BuildRules(p Profile) []Rule {
	if p.Namespace.Enabled {
		return nil
	}
	var t []string
	for _, fn := range p.BuildAppraise {
		t = append(t, "appraise func="+fn+" appraise_type=imasig")
	}
	return textsToRules(t, "build", &p)
}

func textsToRules(texts []string, source string, p *Profile) []Rule {
	rules := make([]Rule, 0, len(texts))
	for i, t := range texts {
		r, err := checkLine(t, 0, i+1, p)
		if err != nil {
			// A built-in the profile's own parser refuses (e.g. a
			// func the profile switched off): keep it, say so.
			r.Warnings = append(r.Warnings, "this kernel's parser would refuse the rule as text: "+err.Msg)
		}
		r.Line, r.Source = 0, source
		rules = append(rules, r)
	}
	return rules
}

// CheckKcmd is ExpandKcmd's verdict without the rules: an error when k
// names a built-in policy this profile's kernel does not have. A caller
// that only decides (the runtime wrapper on every namespace start, a
// policy load) is spared parsing some twenty built-in rules.
func CheckKcmd(k Kcmd, p Profile) error {
	for _, n := range k.Policies {
		if _, err := builtinTexts(n, &p); err != nil && !errors.Is(err, ErrFlagOnly) {
			return err
		}
	}
	return nil
}

// ExpandKcmd returns the rules a namespace created with kcmd k starts with,
// in the order ima_init_policy / ima_init_ns_policy adds them: the
// dont_measure and measure rules of tcb, the architecture rules, the
// secure_boot rules, the build-time rules (initial namespace only),
// appraise_tcb, critical_data. Unknown names are errors; fail_securely adds
// no rules.
func ExpandKcmd(k Kcmd, p Profile) ([]Rule, error) {
	if err := CheckKcmd(k, p); err != nil {
		return nil, err
	}
	has := map[string]bool{}
	for _, n := range k.Policies {
		has[n] = true
	}
	var out []Rule
	add := func(name string) error {
		r, err := BuiltinRules(name, p)
		if err != nil {
			return err
		}
		out = append(out, r...)
		return nil
	}
	dl := p.Features.DigestLists
	// The first of tcb and exec_tcb chooses the measurement policy
	// (policy_setup sets ima_policy only while it is unset).
	for _, n := range k.Policies {
		if n == "tcb" || (n == "exec_tcb" && dl) {
			if err := add(n); err != nil {
				return nil, err
			}
			break
		}
	}
	out = append(out, ArchRules(p)...)
	if has["secure_boot"] || (dl && has["appraise_exec_tcb"]) {
		if err := add("secure_boot"); err != nil {
			return nil, err
		}
	}
	if !has["secure_boot"] {
		out = append(out, BuildRules(p)...)
	}
	switch {
	case dl && has["appraise_exec_tcb"]:
		if err := add("appraise_exec_tcb"); err != nil {
			return nil, err
		}
	case has["appraise_tcb"]:
		if err := add("appraise_tcb"); err != nil {
			return nil, err
		}
	}
	if has["critical_data"] {
		if err := add("critical_data"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Effective returns the rules that are in force once policy pol (may be
// nil) is loaded into a namespace created with kcmd k, in the kernel's
// order: without pol the kcmd's built-ins (ExpandKcmd); with pol what the
// first load leaves (Loaded), the built-ins gone.
func Effective(k Kcmd, pol *Policy, p Profile) ([]Rule, error) {
	if pol == nil || len(pol.Rules) == 0 {
		return ExpandKcmd(k, p)
	}
	if err := CheckKcmd(k, p); err != nil {
		return nil, err
	}
	return Loaded(pol.Rules, p), nil
}

// Loaded returns the rules in force after the first policy load of a
// namespace whose loaded rules are written: the kernel's
// ima_update_policy switches the namespace from its default list (the
// kcmd's built-ins) to its custom list, which ima_init_policy seeded with
// the architecture rules and (initial namespace only) the build-time
// rules, and the loaded rules follow them. Every other built-in is
// replaced, whatever the kcmd asked for.
func Loaded(written []Rule, p Profile) []Rule {
	var out []Rule
	out = append(out, ArchRules(p)...)
	out = append(out, BuildRules(p)...)
	return append(out, written...)
}

// ReplacedBuiltins are the kcmd k's built-in rules that the first policy
// load takes out of force (all but the architecture and build-time rules,
// which stay on the custom list). None means loading a policy loses
// nothing the kcmd asked for.
func ReplacedBuiltins(k Kcmd, p Profile) ([]Rule, error) {
	builtins, err := ExpandKcmd(k, p)
	if err != nil {
		return nil, err
	}
	var out []Rule
	for _, r := range builtins {
		if r.Source == "arch" || r.Source == "build" {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// HookRules are the rules ima-hook writes into a namespace for kcmd k and
// custom policy pol (nil: none), so that the namespace ends up with what
// the kernel itself makes of k and pol (Effective). With pol that is pol
// alone: the kernel replaces the kcmd's built-ins at the first load
// (ima_update_policy), and the hook does not write them back, which would
// put them in front of pol and shadow pol's rules (the first matching rule
// of each action decides). Without pol, a namespace created with k already
// has its built-ins and needs nothing; HookRules then returns the
// built-ins to load into a namespace that was created without k (the
// architecture rules are in force there by themselves).
func HookRules(k Kcmd, pol *Policy, p Profile) ([]Rule, error) {
	builtins, err := ReplacedBuiltins(k, p)
	if err != nil {
		return nil, err
	}
	if pol != nil && len(pol.Rules) > 0 {
		return append([]Rule(nil), pol.Rules...), nil
	}
	return builtins, nil
}

// InForce are the rules a namespace created with kcmd k has once ima-hook
// loaded pol (nil: none) into it, in the order the kernel matches them:
// the same answer as Effective, since the hook writes what the kernel
// would keep.
func InForce(k Kcmd, pol *Policy, p Profile) ([]Rule, error) {
	return Effective(k, pol, p)
}
