package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Token is one space- or tab-separated word of a rule.
type Token struct {
	Text  string `json:"text"`
	Key   string `json:"key"`             // "measure", "func", "uid", ...
	Op    string `json:"op,omitempty"`    // "=", "<", ">"; "" for bare words
	Value string `json:"value,omitempty"` // after the operator
	Col   int    `json:"col"`             // 1-based byte column in the line
}

// Rule is one policy rule.
type Rule struct {
	Line  int `json:"line"`  // 1-based line in the policy text (0 for built-ins)
	Index int `json:"index"` // 1-based rule number; comments and blank lines not counted
	Col   int `json:"col"`   // column of the first token
	// Text is the normalized rule: its tokens joined by single spaces. It
	// is what the hook writes to the kernel, followed by a newline.
	Text   string  `json:"text"`
	Action string  `json:"action,omitempty"` // measure, dont_measure, appraise, ...
	Func   string  `json:"func,omitempty"`   // canonical func (PATH_CHECK→FILE_CHECK, FILE_MMAP→MMAP_CHECK); "" without func=
	Tokens []Token `json:"tokens,omitempty"`
	// Source says where the rule comes from: "policy", "builtin:tcb",
	// "arch", "build".
	Source   string     `json:"source,omitempty"`
	Warnings []string   `json:"warnings,omitempty"`
	Err      *RuleError `json:"error,omitempty"` // set on refused rules (Policy.Refused)
}

// WriteBytes is what to write(2) to the kernel's policy file for this rule:
// the text and a newline, in one write. Always end the write with the
// newline: the kernel's ima_parse_add_rule returns the length of the line
// plus one, so a write without it reports one byte more than was written
// (Go's os.File.Write panics on that).
func (r *Rule) WriteBytes() []byte { return append([]byte(r.Text), '\n') }

// RuleError is a refused rule: where, which token and why. Index 0 with
// Line 0 is an error about the policy as a whole.
type RuleError struct {
	Line  int    `json:"line"`
	Col   int    `json:"col"`
	Index int    `json:"index"`
	Token string `json:"token,omitempty"`
	Msg   string `json:"message"`
	// Stricter is set when the refusal is the validator's own rule (a
	// hook limit or text hygiene: control characters, a rule longer than
	// one write, a leading '/'), not the kernel's parser; the kernel may
	// take such a rule, but it would not do what it says.
	Stricter bool `json:"stricter,omitempty"`
}

func (e *RuleError) Error() string {
	var b strings.Builder
	switch {
	case e.Index > 0:
		fmt.Fprintf(&b, "rule %d (line %d, col %d): ", e.Index, e.Line, e.Col)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	default:
		b.WriteString("policy: ")
	}
	if e.Token != "" {
		fmt.Fprintf(&b, "token %s: ", quoteToken(e.Token))
	}
	b.WriteString(e.Msg)
	return b.String()
}

// quoteToken shows an untrusted token bounded and escaped.
func quoteToken(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

// Flag bits of a rule entry, as ima_policy.c's IMA_* rule flags; only
// their identity matters here.
const (
	fFunc uint32 = 1 << iota
	fMask
	fFsmagic
	fUID
	fFowner
	fFsuuid
	fInmask
	fEUID
	fPCR
	fFsname
	fKeyrings
	fLabel
	fValidateAlgos
	fGID
	fEGID
	fFgroup
	fDigsig
	fPermitDirectio
	fModsig
	fBlacklist
	fVerity
	fMetaImmutable
	nFlags = iota
)

var flagNames = [nFlags]string{"func", "mask", "fsmagic", "uid", "fowner", "fsuuid", "mask", "euid",
	"pcr", "fsname", "keyrings", "label", "appraise_algos", "gid", "egid", "fgroup", "appraise_type",
	"permit_directio", "appraise_type=imasig|modsig", "appraise_flag", "digest_type", "appraise_type=meta_immutable"}

// Allowed flag sets per func group (ima_validate_rule).
const (
	fileGroup = fFunc | fMask | fFsmagic | fUID | fFowner | fFsuuid | fInmask | fEUID | fPCR | fFsname |
		fGID | fEGID | fFgroup | fDigsig | fPermitDirectio | fValidateAlgos | fVerity | fMetaImmutable
	moduleGroup = fFunc | fMask | fFsmagic | fUID | fFowner | fFsuuid | fInmask | fEUID | fPCR | fFsname |
		fGID | fEGID | fFgroup | fDigsig | fPermitDirectio | fModsig | fBlacklist | fValidateAlgos | fMetaImmutable
	kexecCmdlineGroup = fFunc | fFsmagic | fUID | fFowner | fFsuuid | fEUID | fPCR | fFsname | fGID | fEGID | fFgroup
	keyGroup          = fFunc | fUID | fGID | fPCR | fKeyrings
	criticalGroup     = fFunc | fUID | fGID | fPCR | fLabel
	setxattrGroup     = fFunc | fValidateAlgos
)

// funcNames maps what func= accepts to the canonical hook name.
func funcName(v string, p *Profile) (canon string, ok bool, why string) {
	switch v {
	case "FILE_CHECK", "PATH_CHECK":
		return "FILE_CHECK", true, ""
	case "MMAP_CHECK", "FILE_MMAP":
		return "MMAP_CHECK", true, ""
	case "MODULE_CHECK", "FIRMWARE_CHECK", "BPRM_CHECK", "CREDS_CHECK", "KEXEC_KERNEL_CHECK",
		"KEXEC_INITRAMFS_CHECK", "POLICY_CHECK", "KEXEC_CMDLINE":
		return v, true, ""
	case "KEY_CHECK":
		if !p.AsymmetricKeys {
			return "", false, "KEY_CHECK needs a kernel built with CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS"
		}
		return v, true, ""
	case "CRITICAL_DATA":
		if !p.Features.CriticalData {
			return "", false, "CRITICAL_DATA needs kernel 5.12 or newer (feature critical_data)"
		}
		return v, true, ""
	case "SETXATTR_CHECK":
		if !p.Features.AppraiseAlgos {
			return "", false, "SETXATTR_CHECK needs kernel 5.15 or newer (feature appraise_algos)"
		}
		return v, true, ""
	case "MMAP_CHECK_REQPROT":
		if !p.Features.MmapReqprot {
			return "", false, "MMAP_CHECK_REQPROT needs kernel 6.4 or newer (feature mmap_check_reqprot)"
		}
		return v, true, ""
	case "DIGEST_LIST_CHECK":
		if !p.Features.DigestLists {
			return "", false, "DIGEST_LIST_CHECK exists only in openEuler kernels with IMA digest lists (feature digest_lists)"
		}
		return v, true, ""
	}
	msg := "unknown func (FILE_CHECK, MMAP_CHECK, BPRM_CHECK, CREDS_CHECK, MODULE_CHECK, FIRMWARE_CHECK, " +
		"KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK, POLICY_CHECK, KEXEC_CMDLINE, KEY_CHECK, CRITICAL_DATA, SETXATTR_CHECK)"
	if u := strings.ToUpper(v); u != v {
		if _, ok, _ := funcName(u, p); ok {
			msg = "func names are upper case: " + u
		}
	}
	return "", false, msg
}

// measureOnlyFuncs are funcs whose rules may only measure or not measure.
func groupOf(fn string) (allowed uint32, measureOnly, appraiseOnly, noLSM bool) {
	switch fn {
	case "", "FILE_CHECK", "MMAP_CHECK", "MMAP_CHECK_REQPROT", "BPRM_CHECK", "CREDS_CHECK",
		"FIRMWARE_CHECK", "POLICY_CHECK", "DIGEST_LIST_CHECK":
		return fileGroup, false, false, false
	case "MODULE_CHECK", "KEXEC_KERNEL_CHECK", "KEXEC_INITRAMFS_CHECK":
		return moduleGroup, false, false, false
	case "KEXEC_CMDLINE":
		return kexecCmdlineGroup, true, false, false
	case "KEY_CHECK":
		return keyGroup, true, false, true
	case "CRITICAL_DATA":
		return criticalGroup, true, false, true
	case "SETXATTR_CHECK":
		return setxattrGroup, false, true, false
	}
	return 0, false, false, false
}

// lsmSlot indexes the six LSM condition slots of a rule entry.
var lsmSlots = map[string]int{"obj_user": 0, "obj_role": 1, "obj_type": 2, "subj_user": 3, "subj_role": 4, "subj_type": 5}

// entry is the state ima_parse_rule builds for one rule.
type entry struct {
	action    string
	fn        string
	flags     uint32
	flagTok   [nFlags]int // token index that first set each flag
	mask      bool
	fsmagic   uint64
	fsuuidSet bool // a non-null fsuuid is set
	uidSet    bool // uid or euid
	gidSet    bool // gid or egid
	fownerSet bool
	fgroupSet bool
	lsmRule   [6]bool // the LSM defined a rule for the slot
	lsmArgs   [6]bool // the slot keeps its argument (ima_rule_contains_lsm_cond)
	keyrings  bool
	label     bool
	algos     bool
	template  *Template
}

func (e *entry) set(f uint32, tok int) {
	if e.flags&f == 0 {
		for i := 0; i < nFlags; i++ {
			if f&(1<<i) != 0 && e.flags&(1<<i) == 0 {
				e.flagTok[i] = tok
			}
		}
	}
	e.flags |= f
}

// firstTok returns the index of the earliest token that set any flag in f.
func (e *entry) firstTok(f uint32) int {
	best := -1
	for i := 0; i < nFlags; i++ {
		if f&e.flags&(1<<i) != 0 && (best < 0 || e.flagTok[i] < best) {
			best = e.flagTok[i]
		}
	}
	return best
}

// ruleFailure is the first reason ima_parse_rule or ima_validate_rule
// refuses a rule, tied to a token (-1: the rule as a whole).
type ruleFailure struct {
	tok      int
	msg      string
	stricter bool
}

// checkRule runs the kernel's ima_parse_rule over the tokens of one rule
// and then ima_validate_rule. It returns the filled rule and the failure,
// if any. Like the kernel, it stops at the first failure.
func checkRule(toks []Token, p *Profile) (Rule, *ruleFailure) {
	var r Rule
	e := &entry{}
	fail := func(i int, format string, a ...any) *ruleFailure {
		return &ruleFailure{tok: i, msg: fmt.Sprintf(format, a...)}
	}
	for i := range toks {
		t := &toks[i]
		d, val := matchToken(t.Text, p)
		if d == nil {
			t.Key, t.Op, t.Value = splitKey(t.Text)
			return r, fail(i, "%s", explainUnknown(t.Text, p))
		}
		t.Key, t.Op, t.Value = d.key, d.op, val
		if f := applyToken(e, d, val, i, p, &r); f != nil {
			return r, f
		}
	}
	r.Action, r.Func = e.action, e.fn
	if f := validate(e, toks, p); f != nil {
		return r, f
	}
	warnRule(e, p, &r)
	return r, nil
}

// applyToken is one iteration of ima_parse_rule's token loop.
func applyToken(e *entry, d *tokenDef, v string, i int, p *Profile, r *Rule) *ruleFailure {
	fail := func(format string, a ...any) *ruleFailure {
		return &ruleFailure{tok: i, msg: fmt.Sprintf(format, a...)}
	}
	switch d.kind {
	case kAction:
		if e.action != "" {
			return fail("second action (the rule already says %s); a rule has exactly one action", e.action)
		}
		e.action = d.key
	case kFunc:
		if e.fn != "" {
			return fail("second func= (the rule already has func=%s); write one rule per func", e.fn)
		}
		canon, ok, why := funcName(v, p)
		if !ok {
			return fail("%s", why)
		}
		e.fn = canon
		e.set(fFunc, i)
	case kMask:
		if e.mask {
			return fail("second mask=; a rule has at most one mask")
		}
		m := v
		inmask := strings.HasPrefix(m, "^")
		if inmask {
			m = m[1:]
		}
		switch m {
		case "MAY_EXEC", "MAY_WRITE", "MAY_READ", "MAY_APPEND":
		default:
			return fail("unknown mask (MAY_EXEC, MAY_WRITE, MAY_READ, MAY_APPEND; prefix ^ to match any of the requested bits)")
		}
		e.mask = true
		if inmask {
			e.set(fInmask, i)
		} else {
			e.set(fMask, i)
		}
	case kFsmagic:
		// The kernel's duplicate test is "fsmagic value non-zero", so a
		// second fsmagic= after fsmagic=0 is taken.
		if e.fsmagic != 0 {
			return fail("second fsmagic=; a rule has at most one")
		}
		n, err := kstrtoull(v, 16)
		if err != nil {
			return fail("fsmagic is a hexadecimal number (e.g. 0x9fa0): %v", err)
		}
		e.fsmagic = n
		e.set(fFsmagic, i)
	case kFsname:
		// No duplicate test in the kernel: the last fsname= wins.
		e.set(fFsname, i)
	case kKeyrings:
		if !p.AsymmetricKeys {
			return fail("keyrings= needs a kernel built with CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS")
		}
		if e.keyrings {
			return fail("second keyrings=; list all keyrings in one, separated by |")
		}
		if msg := optList(v); msg != "" {
			return fail("%s", msg)
		}
		e.keyrings = true
		e.set(fKeyrings, i)
	case kLabel:
		if e.label {
			return fail("second label=; list all labels in one, separated by |")
		}
		if msg := optList(v); msg != "" {
			return fail("%s", msg)
		}
		e.label = true
		e.set(fLabel, i)
	case kFsuuid:
		if e.fsuuidSet {
			return fail("second fsuuid=; a rule has at most one")
		}
		ok, null := uuidParse(v)
		if !ok {
			return fail("fsuuid is a UUID: 8-4-4-4-12 hexadecimal digits, e.g. 8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6")
		}
		if len(v) > 36 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("fsuuid: the kernel ignores %q after the 36-character UUID", v[36:]))
		}
		e.fsuuidSet = !null
		e.set(fFsuuid, i)
	case kUID:
		// uid and euid share one slot in the kernel's rule entry.
		if e.uidSet {
			return fail("second user ID condition; uid and euid share one slot, so a rule has at most one of them")
		}
		if msg := idValue(v, p.UIDMap, "user"); msg != "" {
			return fail("%s", msg)
		}
		e.uidSet = true
		if d.key == "euid" {
			e.set(fEUID, i)
		} else {
			e.set(fUID, i)
		}
	case kGID:
		if e.gidSet {
			return fail("second group ID condition; gid and egid share one slot, so a rule has at most one of them")
		}
		if msg := idValue(v, p.GIDMap, "group"); msg != "" {
			return fail("%s", msg)
		}
		e.gidSet = true
		if d.key == "egid" {
			e.set(fEGID, i)
		} else {
			e.set(fGID, i)
		}
	case kFowner:
		if e.fownerSet {
			return fail("second fowner condition; a rule has at most one")
		}
		if msg := idValue(v, p.UIDMap, "user"); msg != "" {
			return fail("%s", msg)
		}
		e.fownerSet = true
		e.set(fFowner, i)
	case kFgroup:
		if e.fgroupSet {
			return fail("second fgroup condition; a rule has at most one")
		}
		if msg := idValue(v, p.GIDMap, "group"); msg != "" {
			return fail("%s", msg)
		}
		e.fgroupSet = true
		e.set(fFgroup, i)
	case kLSM:
		slot := lsmSlots[d.key]
		if e.lsmRule[slot] {
			return fail("second %s=; a rule has at most one", d.key)
		}
		defined, why, warn := p.lsmRuleInit(d.key, v)
		switch {
		case defined:
			e.lsmRule[slot], e.lsmArgs[slot] = true, true
			if warn != "" {
				r.Warnings = append(r.Warnings, warn)
			}
		case p.CustomPolicyLoaded:
			// ima_lsm_rule_init keeps the unresolved label once a custom
			// policy is active; the condition never matches.
			e.lsmArgs[slot] = true
			r.Warnings = append(r.Warnings, why+"; the kernel accepts the rule because a custom policy is already loaded, but the condition never matches")
		default:
			return fail("%s", why)
		}
	case kDigestType:
		if e.flags&fDigsig != 0 {
			return fail("digest_type= must come before appraise_type= (the kernel refuses it after a signature requirement)")
		}
		if v != "verity" {
			return fail("unknown digest_type (only verity)")
		}
		e.set(fVerity, i)
	case kAppraiseType:
		switch {
		case v == "imasig":
			if e.flags&fVerity != 0 {
				return fail("appraise_type=imasig cannot follow digest_type=verity; fs-verity digests need appraise_type=sigv3")
			}
			e.set(fDigsig, i)
		case v == "sigv3" && p.Features.DigestType:
			if e.flags&fVerity == 0 {
				return fail("appraise_type=sigv3 needs digest_type=verity before it (only fs-verity supports sigv3)")
			}
			e.set(fDigsig, i)
		case v == "imasig|modsig":
			if !p.Modsig {
				return fail("appraise_type=imasig|modsig needs a kernel built with CONFIG_IMA_APPRAISE_MODSIG")
			}
			if e.flags&fVerity != 0 {
				return fail("appraise_type=imasig|modsig cannot follow digest_type=verity")
			}
			e.set(fDigsig|fModsig, i)
		case v == "meta_immutable" && p.Features.DigestLists:
			e.set(fMetaImmutable, i)
		default:
			known := "imasig"
			if p.Modsig {
				known += ", imasig|modsig"
			}
			if p.Features.DigestType {
				known += ", sigv3 (after digest_type=verity)"
			}
			if p.Features.DigestLists {
				known += ", meta_immutable"
			}
			msg := "unknown appraise_type (this kernel takes " + known + ")"
			if v == "modsig" || v == "modsig|imasig" {
				msg = "the kernel spells it appraise_type=imasig|modsig"
			}
			if v == "sigv3" {
				msg = "appraise_type=sigv3 needs kernel 5.19 or newer (feature digest_type)"
			}
			return fail("%s", msg)
		}
	case kAppraiseFlag:
		if !p.Modsig {
			return fail("appraise_flag= needs a kernel built with CONFIG_IMA_APPRAISE_MODSIG")
		}
		// The kernel only looks for "blacklist" anywhere in the value.
		if !strings.Contains(v, "blacklist") {
			return fail("unknown appraise_flag (only check_blacklist)")
		}
		e.set(fBlacklist, i)
	case kAppraiseAlgos:
		if e.algos {
			return fail("second appraise_algos=; list all algorithms in one, separated by commas")
		}
		if msg := p.algoList(v); msg != "" {
			return fail("%s", msg)
		}
		e.algos = true
		e.set(fValidateAlgos, i)
	case kPermitDirectio:
		e.set(fPermitDirectio, i)
	case kPCR:
		// No duplicate test in the kernel: the last pcr= wins.
		n, err := kstrtoint(v, 10)
		if err != nil {
			return fail("pcr is a decimal number from 0 to %d: %v", p.pcrs()-1, err)
		}
		if n < 0 || n >= int64(p.pcrs()) {
			return fail("pcr %d is out of range (0 to %d)", n, p.pcrs()-1)
		}
		if p.Features.DigestLists && n == int64(p.DigestListPCR) {
			return fail("pcr %d is reserved for digest lists on this kernel", n)
		}
		e.set(fPCR, i)
	case kTemplate:
		if e.action != "measure" {
			if e.action == "" {
				return fail("template= must come after the measure action (the kernel checks the action when it reads template=)")
			}
			return fail("template= is only valid in measure rules")
		}
		t := p.lookupTemplate(v)
		if t == nil {
			return fail("unknown template (known: %s)", p.templateNames())
		}
		if e.template != nil {
			return fail("second template=; a rule has at most one")
		}
		e.template = t
	}
	return nil
}

// optList mirrors ima_alloc_rule_opt_list: |-separated, no empty item.
func optList(v string) string {
	for _, it := range strings.Split(v, "|") {
		if it == "" {
			return "empty item in the |-separated list"
		}
	}
	return ""
}

// idValue mirrors the uid/gid branches of ima_parse_rule: kstrtoul base 10,
// a 32-bit ID that the writer's user namespace maps.
func idValue(v string, m []IDMap, what string) string {
	n, err := kstrtoull(v, 10)
	if err != nil {
		return fmt.Sprintf("%s ID is a decimal number: %v", what, err)
	}
	if n > 0xFFFFFFFF {
		return fmt.Sprintf("%s ID %d does not fit 32 bits", what, n)
	}
	if !mapID(m, n) {
		if n == 0xFFFFFFFF {
			return fmt.Sprintf("%s ID 4294967295 is (uid_t)-1, never a valid ID", what)
		}
		return fmt.Sprintf("%s ID %d is not mapped in the user namespace of the policy writer", what, n)
	}
	return ""
}

// kernelHashSpelling guesses the hash_algo_name a user meant: "SHA-256"
// is sha256, and SM3 goes by its TPM and OpenSSL names too ("sm3_256",
// "SM3-256", the bank name in /sys/class/tpm), which the kernel's table
// calls plain sm3 (HASH_ALGO_SM3_256 = 17).
func kernelHashSpelling(a string) string {
	l := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(a))
	if l == "sm3256" {
		return "sm3"
	}
	return l
}

// algoList mirrors ima_parse_appraise_algos.
func (p *Profile) algoList(v string) string {
	for _, a := range strings.Split(v, ",") {
		known, avail := p.hashAvailable(a)
		switch {
		case a == "":
			return "empty item in the comma-separated algorithm list"
		case !known:
			msg := fmt.Sprintf("unknown hash algorithm %q (kernel names: %s)", a, strings.Join(hashAlgoNames, ", "))
			if l := kernelHashSpelling(a); l != a {
				if k, _ := p.hashAvailable(l); k {
					msg = fmt.Sprintf("unknown hash algorithm %q; the kernel spells it %s", a, l)
				}
			}
			return msg
		case !avail:
			why := "not built into this kernel"
			if _, ok := p.HashAlgos[a]; ok {
				why = "built as a module, and the profile says modules cannot be loaded"
			}
			return fmt.Sprintf("hash algorithm %s is unavailable: %s (available: %s)", a, why, strings.Join(p.availableHashes(), ", "))
		}
	}
	return ""
}

func (p *Profile) lookupTemplate(v string) *Template {
	for i := range p.Templates {
		if p.Templates[i].Name == v || p.Templates[i].Fmt == v {
			return &p.Templates[i]
		}
	}
	return nil
}

func (p *Profile) templateNames() string {
	var n []string
	for _, t := range p.Templates {
		if t.Name != "" {
			n = append(n, t.Name)
		} else {
			n = append(n, t.Fmt)
		}
	}
	return strings.Join(n, ", ")
}

// validate mirrors ima_validate_rule, in its order of checks.
func validate(e *entry, toks []Token, p *Profile) *ruleFailure {
	if e.action == "" {
		return &ruleFailure{tok: -1, msg: "no action; a rule starts with measure, dont_measure, appraise, dont_appraise, audit, hash or dont_hash"}
	}
	if e.action != "measure" && e.flags&fPCR != 0 {
		return &ruleFailure{tok: e.firstTok(fPCR), msg: "pcr= is only valid in measure rules"}
	}
	if e.action != "appraise" {
		if bad := e.flags & (fDigsig | fModsig | fBlacklist | fValidateAlgos | fMetaImmutable); bad != 0 {
			return &ruleFailure{tok: e.firstTok(bad), msg: fmt.Sprintf("only valid in appraise rules (this is a %s rule)", e.action)}
		}
	}
	allowed, measureOnly, appraiseOnly, noLSM := groupOf(e.fn)
	fn := e.fn
	if fn == "" {
		fn = "none"
	}
	if measureOnly && e.action != "measure" && e.action != "dont_measure" {
		return &ruleFailure{tok: funcTok(e), msg: fmt.Sprintf("func=%s rules can only measure or dont_measure", e.fn)}
	}
	if appraiseOnly {
		if e.action != "appraise" {
			return &ruleFailure{tok: funcTok(e), msg: "func=SETXATTR_CHECK rules can only appraise"}
		}
		if e.flags&fValidateAlgos == 0 {
			return &ruleFailure{tok: funcTok(e), msg: "func=SETXATTR_CHECK needs appraise_algos="}
		}
	}
	if bad := e.flags &^ allowed; bad != 0 {
		i := e.firstTok(bad)
		what := describeFlag(bad, e, i)
		return &ruleFailure{tok: i, msg: fmt.Sprintf("%s is not allowed with func=%s (allowed: %s)", what, fn, allowedList(allowed))}
	}
	if noLSM {
		for slot, has := range e.lsmArgs {
			if has {
				return &ruleFailure{tok: lsmTok(toks, slot), msg: fmt.Sprintf("func=%s rules cannot have LSM label conditions", e.fn)}
			}
		}
	}
	if e.flags&fBlacklist != 0 && e.flags&fModsig == 0 {
		return &ruleFailure{tok: e.firstTok(fBlacklist), msg: "appraise_flag=check_blacklist needs appraise_type=imasig|modsig"}
	}
	if e.action == "appraise" && e.flags&fVerity != 0 && e.flags&fDigsig == 0 {
		return &ruleFailure{tok: e.firstTok(fVerity), msg: "an appraise rule with digest_type=verity needs appraise_type=sigv3 (fs-verity digests must be signed)"}
	}
	if p.Namespace.Enabled && p.Namespace.DeadFuncsAreErrors && deadInNamespace(e.fn) {
		return &ruleFailure{tok: funcTok(e), msg: deadFuncMsg(e.fn), stricter: true}
	}
	return nil
}

func funcTok(e *entry) int {
	if e.flags&fFunc != 0 {
		return e.flagTok[0]
	}
	return -1
}

func lsmTok(toks []Token, slot int) int {
	for i, t := range toks {
		if s, ok := lsmSlots[t.Key]; ok && s == slot {
			return i
		}
	}
	return -1
}

func describeFlag(bad uint32, e *entry, tok int) string {
	for i := 0; i < nFlags; i++ {
		if bad&(1<<i) != 0 && e.flagTok[i] == tok {
			return flagNames[i]
		}
	}
	return "condition"
}

func allowedList(allowed uint32) string {
	var n []string
	seen := map[string]bool{}
	for i := 0; i < nFlags; i++ {
		if allowed&(1<<i) != 0 && i != 0 && !seen[flagNames[i]] {
			seen[flagNames[i]] = true
			n = append(n, flagNames[i])
		}
	}
	return strings.Join(n, ", ")
}

func deadInNamespace(fn string) bool {
	switch fn {
	case "KEXEC_KERNEL_CHECK", "KEXEC_INITRAMFS_CHECK", "KEXEC_CMDLINE":
		return true
	}
	return false
}

func deadFuncMsg(fn string) string {
	return fmt.Sprintf("func=%s never fires inside a non-initial IMA namespace (kexec is refused there), so this rule does nothing", fn)
}

// warnRule adds warnings for accepted rules: the kernel's own notices
// (check_template_modsig, check_template_field) and things that make a rule
// inert.
func warnRule(e *entry, p *Profile, r *Rule) {
	tmpl := e.template
	if tmpl == nil {
		tmpl = p.lookupTemplate(p.DefaultTemplate)
	}
	if e.flags&fModsig != 0 && tmpl != nil {
		f := templateFields(tmpl.Fmt)
		if f["modsig"] && !f["d-modsig"] {
			r.Warnings = append(r.Warnings, "template with 'modsig' field also needs 'd-modsig' field (kernel notice)")
		}
	}
	if e.action == "measure" && e.flags&fVerity != 0 && tmpl != nil && !templateFields(tmpl.Fmt)["d-ngv2"] {
		r.Warnings = append(r.Warnings, "verity rules should include d-ngv2 (kernel notice): use template=ima-ngv2 or ima-sigv2")
	}
	if p.Namespace.Enabled && deadInNamespace(e.fn) {
		r.Warnings = append(r.Warnings, deadFuncMsg(e.fn))
	}
	if (e.action == "appraise" || e.action == "dont_appraise") && !p.Appraise {
		r.Warnings = append(r.Warnings, "kernel built without CONFIG_IMA_APPRAISE: appraise rules are accepted but never enforced")
	}
}

func templateFields(fmtStr string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Split(fmtStr, "|") {
		m[f] = true
	}
	return m
}
