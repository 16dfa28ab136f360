package preflight

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ima-hook/ima-hook/pkg/keys"
	"github.com/ima-hook/ima-hook/pkg/policy"
)

// Kernel MAY_* bits (include/linux/fs.h), the mask process_measurement gets.
const (
	mayExec   uint32 = 0x1
	mayWrite  uint32 = 0x2
	mayRead   uint32 = 0x4
	mayAppend uint32 = 0x8
)

// maskTable is the one mapping between the policy's mask names and their
// bits, for parsing rules, reading results back and naming masks.
var maskTable = []struct {
	bit  uint32
	name string
}{{mayExec, "MAY_EXEC"}, {mayWrite, "MAY_WRITE"}, {mayRead, "MAY_READ"}, {mayAppend, "MAY_APPEND"}}

// maskBit is the bit of one mask name; false for a name the kernel lacks.
func maskBit(name string) (uint32, bool) {
	for _, b := range maskTable {
		if b.name == name {
			return b.bit, true
		}
	}
	return 0, false
}

func maskName(m uint32) string {
	var parts []string
	for _, b := range maskTable {
		if m&b.bit != 0 {
			parts = append(parts, b.name)
		}
	}
	return strings.Join(parts, "|")
}

// tri is a condition's value when not everything is known statically.
type tri uint8

const (
	no tri = iota
	yes
	maybe
)

// idCond is one uid=, euid=, gid=, egid=, fowner= or fgroup= condition with
// its value already turned into a kernel id (make_kuid through the policy
// writer's user namespace, as ima_parse_rule does).
type idCond struct {
	key   string // "uid", "euid", "fowner", ...
	op    byte   // '=', '<', '>'
	val   uint32 // kernel id
	valid bool   // false: the value is unmapped in the writer's namespace (never matches)
}

// test is rule->uid_op & co: uid_eq, uid_lt, uid_gt on kernel ids.
func (c *idCond) test(id uint32) bool {
	if !c.valid {
		return false
	}
	switch c.op {
	case '<':
		return id < c.val
	case '>':
		return id > c.val
	}
	return id == c.val
}

func (c *idCond) String() string { return c.key + string(c.op) + strconv.FormatUint(uint64(c.val), 10) }

// compiledRule is a policy.Rule as ima_match_rules sees it.
type compiledRule struct {
	rule   policy.Rule
	ref    *RuleRef // shared by every result this rule decides for certain
	action string
	fn     string

	hasMask, inMask bool
	mask            uint32
	fsmagic         *uint64
	fsname          *string
	fsuuid          *string
	uid             *idCond // uid or euid (one slot in the kernel)
	gid             *idCond // gid or egid
	fowner, fgroup  *idCond
	lsm             []string

	digsig, modsig, verity bool
	algos                  map[keys.HashAlgo]bool // appraise_algos=; nil: any
}

// IDMap maps ids of a user namespace to kernel ids, like a uid_map file.
type IDMap = policy.IDMap

// mapID is make_kuid: the kernel id of id inside a namespace with this map;
// an empty map is the initial user namespace (identity).
func mapID(m []IDMap, id uint32) (uint32, bool) {
	if len(m) == 0 {
		return id, true
	}
	for _, e := range m {
		if id >= e.Inside && uint64(id) < uint64(e.Inside)+uint64(e.Count) {
			return e.Outside + (id - e.Inside), true
		}
	}
	return 0, false
}

// unmapID is from_kuid: the id a namespace with this map sees for kernel id
// k; unmapped ids show as the overflow id 65534.
func unmapID(m []IDMap, k uint32) (uint32, bool) {
	if len(m) == 0 {
		return k, true
	}
	for _, e := range m {
		if k >= e.Outside && uint64(k) < uint64(e.Outside)+uint64(e.Count) {
			return e.Inside + (k - e.Outside), true
		}
	}
	return 65534, false
}

// compileRules keeps the appraise and dont_appraise rules, the only ones
// that decide appraisal (ima_match_policy stops looking for the appraise
// class at the first of them that matches). uidMap and gidMap are the id
// maps of the user namespace that wrote the rules.
func compileRules(rules []policy.Rule, uidMap, gidMap []IDMap) ([]*compiledRule, error) {
	var out []*compiledRule
	for _, r := range rules {
		if r.Err != nil {
			continue // refused by the kernel: never in force
		}
		if r.Action != "appraise" && r.Action != "dont_appraise" {
			continue
		}
		c := &compiledRule{rule: r, action: r.Action, fn: r.Func,
			ref: &RuleRef{Index: r.Index, Source: r.Source, Line: r.Line, Text: r.Text}}
		for _, t := range r.Tokens {
			if err := c.apply(t, uidMap, gidMap); err != nil {
				return nil, fmt.Errorf("rule %d (%s) col %d: %w", r.Index, r.Source, t.Col, err)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func (c *compiledRule) apply(t policy.Token, uidMap, gidMap []IDMap) error {
	switch t.Key {
	case "mask":
		v := t.Value
		c.inMask = strings.HasPrefix(v, "^")
		bit, ok := maskBit(strings.TrimPrefix(v, "^"))
		if !ok {
			return fmt.Errorf("unknown mask %q", t.Value)
		}
		c.mask = bit
		c.hasMask = true
	case "fsmagic":
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(t.Value, "0x"), "0X"), 16, 64)
		if err != nil {
			return fmt.Errorf("fsmagic %q: %v", t.Value, err)
		}
		c.fsmagic = &n
	case "fsname":
		v := t.Value
		c.fsname = &v
	case "fsuuid":
		v := strings.ToLower(t.Value)
		if len(v) > 36 {
			v = v[:36] // uuid_parse reads 36 characters
		}
		c.fsuuid = &v
	case "uid", "euid", "gid", "egid", "fowner", "fgroup":
		n, err := strconv.ParseUint(t.Value, 10, 32)
		if err != nil {
			return fmt.Errorf("%s %q: %v", t.Key, t.Value, err)
		}
		m := uidMap
		if t.Key == "gid" || t.Key == "egid" || t.Key == "fgroup" {
			m = gidMap
		}
		k, ok := mapID(m, uint32(n))
		cond := &idCond{key: t.Key, op: t.Op[0], val: k, valid: ok}
		switch t.Key {
		case "uid", "euid":
			c.uid = cond
		case "gid", "egid":
			c.gid = cond
		case "fowner":
			c.fowner = cond
		case "fgroup":
			c.fgroup = cond
		}
	case "obj_user", "obj_role", "obj_type", "subj_user", "subj_role", "subj_type":
		c.lsm = append(c.lsm, t.Text)
	case "appraise_type":
		switch t.Value {
		case "imasig", "sigv3":
			c.digsig = true
		case "imasig|modsig":
			c.digsig, c.modsig = true, true
		}
	case "digest_type":
		c.verity = t.Value == "verity"
	case "appraise_algos":
		c.algos = map[keys.HashAlgo]bool{}
		for _, name := range strings.Split(t.Value, ",") {
			if a, err := keys.ParseHashAlgo(name); err == nil {
				c.algos[a] = true
			}
		}
	}
	return nil
}

// access is one way a file reaches IMA: the hook (func) and the mask
// process_measurement gets.
type access struct {
	fn   string
	mask uint32
	// post: the access happens with the credentials after exec
	// (bprm->cred), not the caller's.
	post bool
}

// The accesses the preflight models (ima_main.c):
//   - ima_file_check on open: FILE_CHECK with the open's MAY_* bits;
//     open_exec (execve's file, a script interpreter, the ELF interpreter)
//     opens with MAY_EXEC;
//   - ima_bprm_check on exec: BPRM_CHECK with the caller's credentials, then
//     CREDS_CHECK with the new ones;
//   - ima_file_mmap on mmap with PROT_EXEC: MMAP_CHECK (and
//     MMAP_CHECK_REQPROT for the requested protection, kernels >= 6.4).
var (
	accRead     = access{fn: "FILE_CHECK", mask: mayRead, post: true}
	accOpenExec = access{fn: "FILE_CHECK", mask: mayExec}
	accBprm     = access{fn: "BPRM_CHECK", mask: mayExec}
	accCreds    = access{fn: "CREDS_CHECK", mask: mayExec, post: true}
	accMmap     = access{fn: "MMAP_CHECK", mask: mayExec, post: true}
	accMmapReq  = access{fn: "MMAP_CHECK_REQPROT", mask: mayExec, post: true}
)

func (a access) name() string {
	switch {
	case a.fn == "FILE_CHECK" && a.mask == mayRead:
		return "read"
	case a.fn == "FILE_CHECK" && a.mask == mayExec:
		return "open for exec"
	case a.fn == "BPRM_CHECK":
		return "exec"
	case a.fn == "CREDS_CHECK":
		return "exec (new credentials)"
	case a.fn == "MMAP_CHECK" || a.fn == "MMAP_CHECK_REQPROT":
		return "mmap exec"
	}
	return a.fn
}

// creds are the credentials an access is made with, as kernel ids. Known
// is false when the accessing process cannot be known statically.
type creds struct {
	known            bool
	uid, euid, suid  uint32
	gid, egid, sgid  uint32
	capSetuid        tri // CAP_SETUID in the initial user namespace
	capSetgid        tri
	desc             string // for messages: "process.user 0:0"
	unknownCredsNote string // why they are unknown
}

// fileFacts is what ima_match_rules reads from the inode.
type fileFacts struct {
	uid, gid uint32 // kernel ids of owner and group (i_uid_into_mnt)
}

// fsFacts describes the filesystem the container sees the file on.
type fsFacts struct {
	magic      uint32
	magicKnown bool
	name       string // "" unknown
	uuid       string // "" unknown
}

// match is ima_match_rules with three-valued logic: a condition that
// cannot be decided statically makes the result maybe, unless another
// condition already rules the rule out. undecided names the open
// conditions.
func (c *compiledRule) match(a access, f fileFacts, fs fsFacts, cr *creds) (res tri, undecided []string) {
	if c.fn != "" && c.fn != a.fn {
		return no, nil
	}
	if c.hasMask {
		if c.inMask && c.mask&a.mask == 0 {
			return no, nil
		}
		if !c.inMask && c.mask != a.mask {
			return no, nil
		}
	}
	res = yes
	unknown := func(why string) {
		res = maybe
		undecided = append(undecided, why)
	}
	if c.fsmagic != nil {
		switch {
		case !fs.magicKnown:
			unknown(fmt.Sprintf("fsmagic=0x%x (filesystem type unknown)", *c.fsmagic))
		case *c.fsmagic != uint64(fs.magic):
			return no, nil
		}
	}
	if c.fsname != nil {
		switch {
		case fs.name == "":
			unknown("fsname=" + *c.fsname + " (filesystem name unknown)")
		case *c.fsname != fs.name:
			return no, nil
		}
	}
	if c.fsuuid != nil {
		switch {
		case fs.uuid == "":
			unknown("fsuuid=" + *c.fsuuid + " (filesystem UUID unknown; give it with --fsuuid)")
		case !strings.EqualFold(*c.fsuuid, fs.uuid):
			return no, nil
		}
	}
	if c.uid != nil {
		switch r := credTest(c.uid, cr, cr.uid, cr.euid, cr.suid, cr.capSetuid); r {
		case no:
			return no, nil
		case maybe:
			unknown(c.uid.String() + " (" + credNote(cr) + ")")
		}
	}
	if c.gid != nil {
		switch r := credTest(c.gid, cr, cr.gid, cr.egid, cr.sgid, cr.capSetgid); r {
		case no:
			return no, nil
		case maybe:
			unknown(c.gid.String() + " (" + credNote(cr) + ")")
		}
	}
	if c.fowner != nil && !c.fowner.test(f.uid) {
		return no, nil
	}
	if c.fgroup != nil && !c.fgroup.test(f.gid) {
		return no, nil
	}
	for _, l := range c.lsm {
		unknown(l + " (LSM labels are not known statically)")
	}
	return res, undecided
}

func credNote(cr *creds) string {
	if cr.known {
		return "CAP_SETUID/CAP_SETGID of the process unknown"
	}
	if cr.unknownCredsNote != "" {
		return cr.unknownCredsNote
	}
	return "credentials of the accessing process unknown"
}

// credTest is the uid/euid (gid/egid) part of ima_match_rules: uid= tests
// the real id; euid= the effective one, and with CAP_SETUID in the initial
// user namespace also the saved and real ids.
func credTest(c *idCond, cr *creds, real, eff, saved uint32, capSet tri) tri {
	if !cr.known {
		return maybe
	}
	if c.key == "uid" || c.key == "gid" {
		return triOf(c.test(real))
	}
	if c.test(eff) {
		return yes
	}
	if c.test(saved) || c.test(real) {
		switch capSet {
		case yes:
			return yes
		case maybe:
			return maybe
		}
	}
	return no
}

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

// candidate is a rule that decides appraisal for an access, definitely
// (undecided empty) or only if its undecided conditions hold. A nil rule
// is "no appraise rule matches".
type candidate struct {
	rule      *compiledRule
	undecided []string
}

// candidates walks the rules in order as ima_match_policy does for the
// appraise class: the first rule that matches wins; rules that may match
// are kept as alternatives and the walk goes on until a rule matches for
// certain (or the rules run out, meaning "not appraised").
func candidates(rules []*compiledRule, a access, f fileFacts, fs fsFacts, cr *creds) []candidate {
	var out []candidate
	for _, r := range rules {
		m, und := r.match(a, f, fs, cr)
		switch m {
		case yes:
			return append(out, candidate{rule: r})
		case maybe:
			out = append(out, candidate{rule: r, undecided: und})
		}
	}
	return append(out, candidate{})
}
