package policy

import "strings"

// tokenDef is one entry of the kernel's policy_tokens match table. The
// kernel's match_token tries the patterns in table order: a pattern without
// a value ("measure") must equal the token, a pattern "key=%s" matches any
// token that starts with "key=" and has at least one byte after it (lib/
// parser.c match_one refuses an empty %s).
type tokenDef struct {
	key   string // "measure", "uid", "fowner", ...
	op    string // "=", "<", ">" for key/value tokens, "" for bare words
	kind  tokenKind
	avail func(*Profile) bool // nil: in every modelled kernel
	match string              // key+op, filled in by init
}

func tok(key, op string, kind tokenKind, avail func(*Profile) bool) tokenDef {
	return tokenDef{key: key, op: op, kind: kind, avail: avail, match: key + op}
}

type tokenKind int

const (
	kAction tokenKind = iota
	kLSM
	kFunc
	kMask
	kFsmagic
	kFsname
	kFsuuid
	kUID    // uid, euid
	kGID    // gid, egid
	kFowner // fowner
	kFgroup // fgroup
	kDigestType
	kAppraiseType
	kAppraiseFlag
	kAppraiseAlgos
	kPermitDirectio
	kPCR
	kTemplate
	kKeyrings
	kLabel
)

func hasGID(p *Profile) bool        { return p.Features.GIDConds }
func hasDigestType(p *Profile) bool { return p.Features.DigestType }
func hasAlgos(p *Profile) bool      { return p.Features.AppraiseAlgos }
func hasLabel(p *Profile) bool      { return p.Features.CriticalData }

// policyTokens follows the order of ima_policy.c's policy_tokens (6.1).
var policyTokens = []tokenDef{
	tok("measure", "", kAction, nil),
	tok("dont_measure", "", kAction, nil),
	tok("appraise", "", kAction, nil),
	tok("dont_appraise", "", kAction, nil),
	tok("audit", "", kAction, nil),
	tok("hash", "", kAction, nil),
	tok("dont_hash", "", kAction, nil),
	tok("obj_user", "=", kLSM, nil),
	tok("obj_role", "=", kLSM, nil),
	tok("obj_type", "=", kLSM, nil),
	tok("subj_user", "=", kLSM, nil),
	tok("subj_role", "=", kLSM, nil),
	tok("subj_type", "=", kLSM, nil),
	tok("func", "=", kFunc, nil),
	tok("mask", "=", kMask, nil),
	tok("fsmagic", "=", kFsmagic, nil),
	tok("fsname", "=", kFsname, nil),
	tok("fsuuid", "=", kFsuuid, nil),
	tok("uid", "=", kUID, nil),
	tok("euid", "=", kUID, nil),
	tok("gid", "=", kGID, hasGID),
	tok("egid", "=", kGID, hasGID),
	tok("fowner", "=", kFowner, nil),
	tok("fgroup", "=", kFgroup, hasGID),
	tok("uid", ">", kUID, nil),
	tok("euid", ">", kUID, nil),
	tok("gid", ">", kGID, hasGID),
	tok("egid", ">", kGID, hasGID),
	tok("fowner", ">", kFowner, nil),
	tok("fgroup", ">", kFgroup, hasGID),
	tok("uid", "<", kUID, nil),
	tok("euid", "<", kUID, nil),
	tok("gid", "<", kGID, hasGID),
	tok("egid", "<", kGID, hasGID),
	tok("fowner", "<", kFowner, nil),
	tok("fgroup", "<", kFgroup, hasGID),
	tok("digest_type", "=", kDigestType, hasDigestType),
	tok("appraise_type", "=", kAppraiseType, nil),
	tok("appraise_flag", "=", kAppraiseFlag, nil),
	tok("appraise_algos", "=", kAppraiseAlgos, hasAlgos),
	tok("permit_directio", "", kPermitDirectio, nil),
	tok("pcr", "=", kPCR, nil),
	tok("template", "=", kTemplate, nil),
	tok("keyrings", "=", kKeyrings, nil),
	tok("label", "=", kLabel, hasLabel),
}

// featureOf names the Features field behind a gated token, for messages.
func featureOf(d *tokenDef) (name, since string) {
	switch d.kind {
	case kGID, kFgroup:
		return "gid_conditions", "6.0"
	case kDigestType:
		return "digest_type", "5.19"
	case kAppraiseAlgos:
		return "appraise_algos", "5.15"
	case kLabel:
		return "critical_data", "5.12"
	}
	return "", ""
}

// matchToken returns the definition the kernel's match_token would pick for
// tok, and its value; nil when the kernel would see Opt_err.
func matchToken(tok string, p *Profile) (*tokenDef, string) {
	for i := range policyTokens {
		d := &policyTokens[i]
		if d.avail != nil && !d.avail(p) {
			continue
		}
		if d.op == "" {
			if tok == d.key {
				return d, ""
			}
			continue
		}
		if len(tok) > len(d.match) && tok[:len(d.match)] == d.match {
			return d, tok[len(d.match):]
		}
	}
	return nil, ""
}

// explainUnknown says why a token matched nothing, as precisely as it can:
// a known key with a missing or empty value, a wrong operator, a feature
// this kernel lacks, wrong case, or a near miss.
func explainUnknown(tok string, p *Profile) string {
	key, op, val := splitKey(tok)
	var known *tokenDef
	for i := range policyTokens {
		d := &policyTokens[i]
		if d.key == key {
			known = d
			if d.op == op {
				break
			}
		}
	}
	if known != nil {
		if known.avail != nil && !known.avail(p) {
			name, since := featureOf(known)
			return key + op + " is not known to this kernel (mainline " + since + " or newer; profile: " +
				p.Version.String() + "); if the kernel has it, switch on feature " + name
		}
		if known.op == "" {
			if op != "" {
				return key + " takes no value"
			}
		} else {
			if op == "" {
				return key + " needs a value: " + key + "=VALUE"
			}
			if val == "" {
				return "empty value after " + key + op + " (the kernel needs at least one character)"
			}
			var ops []string
			for i := range policyTokens {
				if policyTokens[i].key == key {
					ops = append(ops, policyTokens[i].op)
				}
			}
			return key + " takes only " + strings.Join(ops, ", ") + " as operator"
		}
	}
	if lower := strings.ToLower(key); lower != key {
		for i := range policyTokens {
			if policyTokens[i].key == lower {
				return "unknown token; keys are lower case: " + lower
			}
		}
	}
	if s := suggest(key); s != "" {
		return "unknown token; did you mean " + s + "?"
	}
	if strings.HasPrefix(tok, "#") {
		return "unknown token; a comment must be on its own line (the kernel has no trailing comments)"
	}
	return "unknown token (actions: measure, dont_measure, appraise, dont_appraise, audit, hash, dont_hash; " +
		"conditions: func, mask, fsmagic, fsname, fsuuid, uid, euid, gid, egid, fowner, fgroup, " +
		"subj_user, subj_role, subj_type, obj_user, obj_role, obj_type; options: digest_type, " +
		"appraise_type, appraise_flag, appraise_algos, permit_directio, pcr, template, keyrings, label)"
}

// splitKey splits "uid<5" into ("uid", "<", "5"); a token without an
// operator is all key.
func splitKey(tok string) (key, op, val string) {
	i := strings.IndexAny(tok, "=<>")
	if i < 0 {
		return tok, "", ""
	}
	return tok[:i], tok[i : i+1], tok[i+1:]
}

// suggest returns the known key closest to key when it is a likely typo
// (edit distance at most 2 and shorter than the key).
func suggest(key string) string {
	if len(key) > 64 {
		return ""
	}
	best, bestD := "", 3
	seen := map[string]bool{}
	for i := range policyTokens {
		k := policyTokens[i].key
		if seen[k] {
			continue
		}
		seen[k] = true
		if d := editDistance(key, k); d < bestD && d < len(key) {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			if prev[j]+1 < c {
				c = prev[j] + 1
			}
			if cur[j-1]+1 < c {
				c = cur[j-1] + 1
			}
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
