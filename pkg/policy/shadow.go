package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Shadowing. The kernel's ima_match_policy walks the rules in order and,
// for each action class (measure/dont_measure, appraise/dont_appraise,
// audit, hash/dont_hash), lets the first rule that matches decide; every
// later rule of that class is skipped for that access. A rule is shadowed
// when an earlier rule of its class matches every access it matches: it
// can never decide anything.
//
// The check is conservative: it reports only what it can prove from the two
// rules alone, so it may miss a rule that several earlier rules shadow
// together, and it never reports a rule that can still decide. Earlier rule
// A shadows later rule B (same class) when every matching condition of A
// also holds for every access B matches:
//
//   - func: A has none, or the same func as B. A func-less A never shadows a
//     rule for KEY_CHECK or CRITICAL_DATA (the kernel matches those only
//     against rules naming the func), nor for KEXEC_CMDLINE or
//     SETXATTR_CHECK (not file accesses; left out to stay exact).
//   - each other condition of A (mask, fsmagic, fsname, fsuuid, uid, euid,
//     gid, egid, fowner, fgroup, keyrings, label) appears in B with the same
//     operator and value (numbers compared as the kernel parses them), or is
//     a mask the access implies: mask=^X is implied by B's mask=X, and
//     BPRM_CHECK, CREDS_CHECK, MMAP_CHECK and MMAP_CHECK_REQPROT are always
//     called with MAY_EXEC, MODULE_CHECK, FIRMWARE_CHECK, KEXEC_*_CHECK and
//     POLICY_CHECK with MAY_READ.
//   - A has no LSM condition (subj_*/obj_*): a label the LSM cannot resolve
//     makes a rule match nothing, so its reach is not known here.
//
// Options that do not take part in matching (appraise_type, appraise_flag,
// appraise_algos, permit_directio, pcr, template, digest_type) are ignored.
//
// A func-less B can also be shadowed for one func only: an earlier rule
// with func=F whose other conditions B implies decides every F access B
// matches. That is how a custom `dont_measure fsmagic=0x794c7630` after
// tcb's `measure func=BPRM_CHECK mask=MAY_EXEC` never applies to an exec.

// ShadowRef names one rule of the list a Shadow was found in.
type ShadowRef struct {
	Position int    `json:"position"` // 1-based position in the rules in force
	Source   string `json:"source"`   // "policy", "builtin:tcb", "arch", "build"
	Index    int    `json:"index,omitempty"`
	Line     int    `json:"line,omitempty"`
	Text     string `json:"text"`
}

// Shadow is a rule that an earlier rule keeps from deciding.
type Shadow struct {
	Rule ShadowRef `json:"rule"`
	By   ShadowRef `json:"by"`
	// Func is set when only accesses of that func are shadowed (Rule has
	// no func= condition, By has func=Func); empty: every access.
	Func    string `json:"func,omitempty"`
	Message string `json:"message"`
}

// Shadowed returns, in rule order, the rules of rules (the rules in force,
// in the kernel's order) that an earlier rule shadows, each with the first
// rule that does. A rule shadowed entirely is not also reported per func.
func Shadowed(rules []Rule) []Shadow {
	conds := make([]ruleConds, len(rules))
	for i := range rules {
		conds[i] = condsOf(&rules[i])
	}
	var out []Shadow
	for j := range rules {
		b := &conds[j]
		if b.class == "" {
			continue
		}
		full := false
		for i := 0; i < j && !full; i++ {
			if a := &conds[i]; a.class == b.class && a.shadows(b, b.fn) {
				out = append(out, newShadow(rules, i, j, ""))
				full = true
			}
		}
		if full || b.fn != "" {
			continue
		}
		seen := map[string]bool{}
		for i := 0; i < j; i++ {
			a := &conds[i]
			if a.class != b.class || a.fn == "" || seen[a.fn] || !fileFunc(a.fn) {
				continue
			}
			if a.shadows(b, a.fn) {
				seen[a.fn] = true
				out = append(out, newShadow(rules, i, j, a.fn))
			}
		}
	}
	return out
}

func newShadow(rules []Rule, i, j int, fn string) Shadow {
	s := Shadow{Rule: refOf(rules, j), By: refOf(rules, i), Func: fn}
	verb := strings.TrimPrefix(rules[j].Action, "dont_")
	if fn == "" {
		s.Message = fmt.Sprintf("shadowed by %s: it comes first and matches every access this rule matches, so this rule never decides whether to %s",
			describeRef(s.By), verb)
	} else {
		s.Message = fmt.Sprintf("never applies to func=%s: %s comes first and matches every %s access this rule matches, so it decides whether to %s",
			fn, describeRef(s.By), fn, verb)
	}
	return s
}

func refOf(rules []Rule, i int) ShadowRef {
	r := &rules[i]
	return ShadowRef{Position: i + 1, Source: r.Source, Index: r.Index, Line: r.Line, Text: r.Text}
}

func describeRef(r ShadowRef) string {
	if r.Source == "policy" && r.Index > 0 {
		if r.Line > 0 {
			return fmt.Sprintf("rule %d (line %d: %q)", r.Index, r.Line, r.Text)
		}
		return fmt.Sprintf("rule %d (%q)", r.Index, r.Text)
	}
	return fmt.Sprintf("the %s rule %q", r.Source, r.Text)
}

// ruleConds is what matching depends on in one rule.
type ruleConds struct {
	class string // "" for a rule the check leaves alone
	fn    string
	conds map[string]string // key -> operator and normalized value
	lsm   bool
}

func actionClass(action string) string {
	switch action {
	case "measure", "dont_measure":
		return "measure"
	case "appraise", "dont_appraise":
		return "appraise"
	case "audit":
		return "audit"
	case "hash", "dont_hash":
		return "hash"
	}
	return ""
}

// nonMatching are rule options ima_match_rules never looks at.
var nonMatching = map[string]bool{"appraise_type": true, "appraise_flag": true, "appraise_algos": true,
	"permit_directio": true, "pcr": true, "template": true, "digest_type": true}

func condsOf(r *Rule) ruleConds {
	c := ruleConds{class: actionClass(r.Action), fn: r.Func, conds: map[string]string{}}
	if r.Err != nil || len(r.Tokens) == 0 {
		c.class = ""
		return c
	}
	for _, t := range r.Tokens[1:] {
		switch {
		case t.Key == "func" || nonMatching[t.Key]:
		case isLSMKey(t.Key):
			c.lsm = true
			c.conds[t.Key] = t.Op + t.Value
		default:
			c.conds[t.Key] = t.Op + normalizeCond(t.Key, t.Value)
		}
	}
	return c
}

func isLSMKey(k string) bool {
	_, ok := lsmSlots[k]
	return ok
}

// normalizeCond writes a value the way the kernel compares it: fsmagic is
// parsed as hex (kstrtoul base 16), ids as decimal, fsuuid without case.
func normalizeCond(key, v string) string {
	switch key {
	case "fsmagic":
		if n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(v), "0x"), 16, 64); err == nil {
			return "0x" + strconv.FormatUint(n, 16)
		}
	case "uid", "euid", "gid", "egid", "fowner", "fgroup":
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			return strconv.FormatUint(n, 10)
		}
	case "fsuuid":
		return strings.ToLower(v)
	}
	return v
}

// fileFunc: hooks on file accesses, where a func-less rule matches too.
func fileFunc(fn string) bool {
	switch fn {
	case "KEY_CHECK", "CRITICAL_DATA", "KEXEC_CMDLINE", "SETXATTR_CHECK":
		return false
	}
	return true
}

// impliedMask is the mask the kernel always passes for fn ("" when it
// varies).
func impliedMask(fn string) string {
	switch fn {
	case "BPRM_CHECK", "CREDS_CHECK", "MMAP_CHECK", "MMAP_CHECK_REQPROT":
		return "MAY_EXEC"
	case "MODULE_CHECK", "FIRMWARE_CHECK", "KEXEC_KERNEL_CHECK", "KEXEC_INITRAMFS_CHECK", "POLICY_CHECK":
		return "MAY_READ"
	}
	return ""
}

// shadows reports whether a matches every access of func fn ("": any) that
// b matches.
func (a *ruleConds) shadows(b *ruleConds, fn string) bool {
	if a.lsm {
		return false
	}
	switch {
	case a.fn != "" && a.fn != fn:
		return false
	case a.fn == "" && fn != "" && !fileFunc(fn):
		return false
	}
	for k, v := range a.conds {
		if b.conds[k] == v {
			continue
		}
		if k != "mask" {
			return false
		}
		want := strings.TrimPrefix(v, "=")
		inmask := strings.HasPrefix(want, "^")
		want = strings.TrimPrefix(want, "^")
		switch {
		case inmask && b.conds["mask"] == "="+want:
		case fn != "" && impliedMask(fn) == want:
		default:
			return false
		}
	}
	return true
}
