package policy

import (
	"fmt"
	"strings"
)

// KcmdOptions are the uncertain points of the kcmd_for_children grammar.
type KcmdOptions struct {
	// AllowTemplate accepts ima_template=: [U] only kernels with the
	// IMA-namespace RFC's patch 30/30 take it; the openEuler snapshot's
	// parameter table has only ima_policy and ima_appraise and answers
	// EINVAL to anything else.
	AllowTemplate bool
	// Profile, when set, checks values against that kernel: ima_appraise=
	// needs CONFIG_IMA_APPRAISE_BOOTPARAM and no secure boot, critical_data
	// needs 5.12, ima_template= must name a template the kernel has.
	Profile *Profile
}

// Kcmd is a checked kcmd_for_children string.
type Kcmd struct {
	// Policies are the ima_policy= built-in names in the order given
	// (every ima_policy= parameter contributes; empty items dropped).
	Policies []string `json:"policies,omitempty"`
	// Appraise is the ima_appraise= value ("" when absent).
	Appraise string `json:"appraise,omitempty"`
	// Template is the ima_template= value ("" when absent).
	Template string `json:"template,omitempty"`
	// Raw is the string as given.
	Raw string `json:"raw"`
}

// String is the normalized kcmd to write to kcmd_for_children (without a
// trailing newline; the kernel would skip it, but nothing needs it).
func (k Kcmd) String() string {
	var parts []string
	if len(k.Policies) > 0 {
		parts = append(parts, "ima_policy="+strings.Join(k.Policies, "|"))
	}
	if k.Appraise != "" {
		parts = append(parts, "ima_appraise="+k.Appraise)
	}
	if k.Template != "" {
		parts = append(parts, "ima_template="+k.Template)
	}
	return strings.Join(parts, " ")
}

// SignedPolicyRequired reports whether a namespace created with this kcmd
// appraises POLICY_CHECK, so that it refuses every policy rule written as
// text (EACCES) and takes only a signed policy file.
func (k Kcmd) SignedPolicyRequired(p Profile) bool {
	return signedPolicyRequired(k.Policies, &p)
}

// KcmdError is a refused kcmd; Param names the parameter at fault ("" for
// the string as a whole).
type KcmdError struct {
	Param string
	Msg   string
}

func (e *KcmdError) Error() string {
	if e.Param == "" {
		return "kcmd: " + e.Msg
	}
	return "kcmd parameter " + quoteToken(e.Param) + ": " + e.Msg
}

// MaxKcmdBytes is the longest kcmd the kernel takes in one write
// (count >= PAGE_SIZE is refused with EINVAL).
const MaxKcmdBytes = 4095

// KcmdPolicyNames are the ima_policy= names a kernel with profile p
// knows, in the order ima_policy_setup tests them.
func KcmdPolicyNames(p *Profile) []string {
	names := []string{"tcb", "appraise_tcb", "secure_boot"}
	if p == nil || p.Features.CriticalData {
		names = append(names, "critical_data")
	}
	names = append(names, "fail_securely")
	if p != nil && p.Features.DigestLists {
		names = append(names, "exec_tcb", "appraise_exec_tcb", "appraise_exec_immutable")
	}
	return names
}

// ParseKcmd checks a kcmd_for_children string (docs/kernel-abi.md
// #kcmd_for_children): the kernel splits it with its command-line tokenizer (skip_spaces
// and next_arg: whitespace-separated name=value items, double quotes
// protect spaces) and refuses (EINVAL) an item without '=' or with an
// unknown name. Where the kernel silently ignores a value (an unknown
// ima_policy name, an ima_appraise value other than off, log, fix) this
// refuses it too, because the namespace would not get what was asked for.
func ParseKcmd(s string, opt KcmdOptions) (Kcmd, error) {
	k := Kcmd{Raw: s}
	if len(s) > MaxKcmdBytes {
		return k, &KcmdError{Msg: fmt.Sprintf("%d bytes; the kernel takes at most %d in one write", len(s), MaxKcmdBytes)}
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return k, &KcmdError{Msg: fmt.Sprintf("NUL byte at offset %d", i)}
	}
	p := opt.Profile
	rest := skipSpaces(s)
	seen := map[string]bool{}
	for rest != "" {
		var param, val string
		var hasVal bool
		param, val, hasVal, rest = nextArg(rest)
		if !hasVal {
			msg := "has no value; write name=value"
			switch param {
			case "ima_tcb":
				msg = "valueless boot flags are refused here; write ima_policy=tcb"
			case "ima_appraise_tcb":
				msg = "valueless boot flags are refused here; write ima_policy=appraise_tcb"
			}
			return k, &KcmdError{Param: param, Msg: msg}
		}
		switch param {
		case "ima_policy":
			n := 0
			for _, name := range strings.FieldsFunc(val, func(r rune) bool { return r == ' ' || r == '|' || r == '\n' }) {
				if !contains(KcmdPolicyNames(p), name) {
					msg := fmt.Sprintf("unknown built-in policy %q (the kernel would ignore it silently); known: %s",
						name, strings.Join(KcmdPolicyNames(p), ", "))
					if name == "critical_data" {
						msg = "critical_data needs kernel 5.12 or newer (feature critical_data)"
					}
					return k, &KcmdError{Param: param, Msg: msg}
				}
				n++
				k.Policies = append(k.Policies, name)
			}
			if n == 0 {
				return k, &KcmdError{Param: param, Msg: "names no built-in policy; e.g. ima_policy=tcb|appraise_tcb"}
			}
		case "ima_appraise":
			if seen[param] {
				return k, &KcmdError{Param: param, Msg: "given twice"}
			}
			switch val {
			case "off", "log", "fix", "enforce":
			default:
				return k, &KcmdError{Param: param, Msg: fmt.Sprintf("unknown value %q (off, log, fix or enforce; the kernel would ignore it and enforce)", val)}
			}
			if p != nil {
				switch {
				case !p.Appraise:
					return k, &KcmdError{Param: param, Msg: "kernel built without CONFIG_IMA_APPRAISE: there is no appraisal to configure"}
				case !p.AppraiseBootParam:
					return k, &KcmdError{Param: param, Msg: "kernel built without CONFIG_IMA_APPRAISE_BOOTPARAM ignores ima_appraise="}
				case p.SecureBoot && val != "enforce":
					return k, &KcmdError{Param: param, Msg: "ignored because the machine booted with secure boot (appraisal stays enforcing)"}
				}
			}
			k.Appraise = val
		case "ima_template":
			if !opt.AllowTemplate {
				return k, &KcmdError{Param: param, Msg: "this kernel's kcmd_for_children takes only ima_policy and ima_appraise " +
					"(ima_template comes with IMA-namespace RFC patch 30; enable it only for kernels that have it)"}
			}
			if seen[param] {
				return k, &KcmdError{Param: param, Msg: "given twice"}
			}
			if val == "" {
				return k, &KcmdError{Param: param, Msg: "empty template name"}
			}
			if p != nil && p.lookupTemplate(val) == nil {
				return k, &KcmdError{Param: param, Msg: fmt.Sprintf("unknown template %q (known: %s; the kernel would ignore it)", val, p.templateNames())}
			}
			k.Template = val
		default:
			msg := "unknown parameter; kcmd_for_children takes ima_policy=, ima_appraise="
			if opt.AllowTemplate {
				msg += ", ima_template="
			}
			switch param {
			case "ima_hash", "ima_template_fmt", "ima_canonical_fmt":
				msg = "not a per-namespace parameter (boot command line only)"
			case "ima-policy", "ima-appraise", "ima-template":
				msg = "the kernel compares names exactly here; write " + strings.ReplaceAll(param, "-", "_")
			}
			return k, &KcmdError{Param: param, Msg: msg}
		}
		seen[param] = true
	}
	return k, nil
}

// skipSpaces mirrors the kernel's skip_spaces (isspace of lib/ctype.c:
// \t \n \v \f \r, space and 0xa0).
func skipSpaces(s string) string {
	i := 0
	for i < len(s) && kisspace(s[i]) {
		i++
	}
	return s[i:]
}

func kisspace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0
}

// nextArg mirrors lib/cmdline.c next_arg: one item up to unquoted
// whitespace; a leading quote is dropped (and a trailing one with it), the
// value loses its surrounding quotes; '=' at position 0 does not count.
func nextArg(args string) (param, val string, hasVal bool, rest string) {
	inQuote, quoted := false, false
	if args != "" && args[0] == '"' {
		args = args[1:]
		inQuote, quoted = true, true
	}
	i, equals := 0, 0
	for ; i < len(args); i++ {
		if kisspace(args[i]) && !inQuote {
			break
		}
		if equals == 0 && args[i] == '=' {
			equals = i
		}
		if args[i] == '"' {
			inQuote = !inQuote
		}
	}
	item := args[:i]
	if i < len(args) {
		rest = skipSpaces(args[i+1:])
	}
	// The kernel cuts the item's closing quote in place; that quote is the
	// last character of the item.
	endQuote := i > 0 && args[i-1] == '"'
	if equals == 0 {
		param = item
		if quoted && endQuote {
			param = item[:len(item)-1]
		}
		return param, "", false, rest
	}
	param = item[:equals]
	val = item[equals+1:]
	if strings.HasPrefix(val, "\"") {
		val = val[1:]
		if endQuote && val != "" && strings.HasSuffix(val, "\"") {
			val = val[:len(val)-1]
		}
	} else if quoted && endQuote && strings.HasSuffix(val, "\"") {
		val = val[:len(val)-1]
	}
	return param, val, true, rest
}
