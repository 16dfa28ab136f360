//go:build imaemu

package emukernel

import (
	"errors"
	"fmt"
	"strings"
)

// The kcmd_for_children writer as the openEuler ima_ns.c has it: the text
// goes through the kernel's command-line tokenizer (skip_spaces, next_arg)
// and each name=value through a setup table with only ima_policy and
// ima_appraise (ima_template with RFC patch 30, Switches.AllowTemplate).
// It is lenient where the kernel is: unknown ima_policy tokens are ignored
// (policy_setup only logs them), ima_appraise is compared on its first
// three characters, a later value wins, and without
// CONFIG_IMA_APPRAISE_BOOTPARAM ima_appraise is ignored. pkg/policy's
// validator refuses all of that on purpose; this is the kernel the
// validator protects users from, and it must not be kinder or stricter.

// kcmdPolicyFlags are the tokens policy_setup knows, in the order the
// namespace's policy is built from them (ima_init_ns_policy).
var kcmdPolicyFlags = []string{"tcb", "secure_boot", "appraise_tcb", "fail_securely"}

// kernelKcmd is the parsed setup: which built-ins, the appraise mode ("" =
// the default, enforce), and an RFC 30 template.
type kernelKcmd struct {
	Policies []string
	Appraise string
	Template string
	// Ignored are what the kernel would only log (pr_err / pr_info).
	Ignored []string
}

var errKcmdSyntax = errors.New("kcmd")

// parseKernelKcmd parses one write. An error means EINVAL: a parameter
// without =value, or a name the setup table does not have.
func parseKernelKcmd(text string, sw Switches) (kernelKcmd, error) {
	var k kernelKcmd
	flags := map[string]bool{}
	rest := skipSpaces(text)
	for rest != "" {
		var param, val string
		var hasVal bool
		param, val, hasVal, rest = nextArg(rest)
		if !hasVal {
			return kernelKcmd{}, fmt.Errorf("%w: parameter %q has no value", errKcmdSyntax, param)
		}
		switch {
		case param == "ima_policy":
			// strsep(" |\n"): empty tokens are skipped, unknown ones logged.
			for _, tok := range strings.FieldsFunc(val, func(r rune) bool { return r == ' ' || r == '|' || r == '\n' }) {
				known := false
				for _, f := range kcmdPolicyFlags {
					if tok == f {
						flags[f], known = true, true
					}
				}
				if !known {
					k.Ignored = append(k.Ignored, fmt.Sprintf("policy %q not found", tok))
				}
			}
		case param == "ima_appraise":
			if !sw.AppraiseBootParam {
				k.Ignored = append(k.Ignored, "ima_appraise= ignored (no CONFIG_IMA_APPRAISE_BOOTPARAM)")
				continue
			}
			switch {
			case strings.HasPrefix(val, "off"):
				k.Appraise = "off"
			case strings.HasPrefix(val, "log"):
				k.Appraise = "log"
			case strings.HasPrefix(val, "fix"):
				k.Appraise = "fix"
			default:
				// The handler's result is ignored: the value stays.
				k.Ignored = append(k.Ignored, fmt.Sprintf("ima_appraise=%q ignored", val))
			}
		case param == "ima_template" && sw.AllowTemplate:
			k.Template = val
		default:
			return kernelKcmd{}, fmt.Errorf("%w: unknown parameter %q", errKcmdSyntax, param)
		}
	}
	for _, f := range kcmdPolicyFlags {
		if flags[f] {
			k.Policies = append(k.Policies, f)
		}
	}
	return k, nil
}

// kisspace is the kernel's isspace (lib/ctype.c): \t \n \v \f \r, space
// and 0xa0.
func kisspace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0
}

func skipSpaces(s string) string {
	i := 0
	for i < len(s) && kisspace(s[i]) {
		i++
	}
	return s[i:]
}

// nextArg is lib/cmdline.c next_arg: an argument runs to the next space
// outside double quotes; the first '=' (not at offset 0) splits name and
// value; quotes around the value, and around a whole quoted argument, are
// dropped.
func nextArg(args string) (param, val string, hasVal bool, rest string) {
	b := []byte(args)
	quoted, inQuote := false, false
	if len(b) > 0 && b[0] == '"' {
		b = b[1:]
		inQuote, quoted = true, true
	}
	i, equals := 0, 0
	for ; i < len(b); i++ {
		if kisspace(b[i]) && !inQuote {
			break
		}
		if equals == 0 && b[i] == '=' {
			equals = i
		}
		if b[i] == '"' {
			inQuote = !inQuote
		}
	}
	arg := b[:i]
	if i < len(b) {
		rest = string(b[i+1:])
	}
	// The kernel NUL-terminates in place; cut at the same offsets.
	end := len(arg)
	valStart := -1
	if equals != 0 {
		valStart = equals + 1
		if valStart < len(arg) && arg[valStart] == '"' {
			valStart++
			if i > 0 && arg[i-1] == '"' {
				end = i - 1
			}
		}
	}
	if quoted && i > 0 && arg[i-1] == '"' {
		end = i - 1
	}
	if equals == 0 {
		param = cstr(arg[:end])
	} else {
		param = cstr(arg[:equals])
		if valStart <= end {
			val = cstr(arg[valStart:end])
		}
		hasVal = true
	}
	return param, val, hasVal, skipSpaces(rest)
}

// cstr is what C sees of b: up to the first NUL.
func cstr(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}
