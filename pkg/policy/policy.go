package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Policy is a checked policy text.
type Policy struct {
	// Rules are the accepted rules in order. Write them (each with
	// Rule.WriteBytes, one write per rule) only when Parse returned no
	// errors: the kernel discards the whole update if any write fails.
	Rules []Rule `json:"rules"`
	// Refused are the rules the kernel would refuse, each with Err set.
	Refused []Rule `json:"refused,omitempty"`
}

// Text is the normalized policy: one rule per line, as the hook writes it.
func (pol *Policy) Text() string {
	var b strings.Builder
	for i := range pol.Rules {
		b.WriteString(pol.Rules[i].Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// All returns accepted and refused rules merged in rule order.
func (pol *Policy) All() []Rule {
	all := make([]Rule, 0, len(pol.Rules)+len(pol.Refused))
	all = append(all, pol.Rules...)
	all = append(all, pol.Refused...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Index < all[j].Index })
	return all
}

// Parse checks every rule of text against profile p, the way the kernel's
// ima_parse_add_rule would judge each line written to the policy file. It
// returns all errors sorted by line (it never stops at the first refused
// rule) and a Policy holding the accepted and the refused rules. Comment
// lines (first non-blank character '#') and blank lines are skipped and
// not counted as rules.
//
// Besides the kernel's verdict it enforces p.Limits, refuses control
// characters, rules longer than one kernel write and rules that start with
// '/' (the kernel would read a policy file from that path), and reports an
// empty policy (the kernel refuses it when the file is closed).
func Parse(text string, p Profile) (*Policy, []*RuleError) {
	pol := &Policy{}
	var errs []*RuleError
	lim := p.limits()
	if n := strings.Count(text, "\n") + 1; n <= lim.MaxRules {
		pol.Rules = make([]Rule, 0, n)
	}
	if !p.IMA {
		return pol, []*RuleError{{Msg: "kernel built without CONFIG_IMA: there is no policy file to write"}}
	}
	if len(text) > lim.MaxBytes {
		return pol, []*RuleError{{Msg: fmt.Sprintf("policy is %d bytes; the limit is %d", len(text), lim.MaxBytes)}}
	}
	index := 0
	lineNo := 0
	for rest := text; rest != ""; {
		var line string
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, ""
		}
		lineNo++
		// ima_parse_add_rule skips leading spaces and tabs, then ignores
		// empty lines and lines starting with '#'.
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		index++
		if index > lim.MaxRules {
			errs = append(errs, &RuleError{Line: lineNo, Col: 1, Index: index,
				Msg: fmt.Sprintf("more than %d rules; the policy is too long", lim.MaxRules)})
			break
		}
		r, rerr := checkLine(line, lineNo, index, &p)
		r.Source = "policy"
		if rerr != nil {
			r.Err = rerr
			pol.Refused = append(pol.Refused, r)
			errs = append(errs, rerr)
			continue
		}
		pol.Rules = append(pol.Rules, r)
	}
	if index == 0 {
		errs = append(errs, &RuleError{Msg: "no rules; the kernel refuses an empty policy when the policy file is closed"})
	} else if p.SignedPolicyRequired {
		errs = append(errs, &RuleError{Msg: "the target namespace appraises POLICY_CHECK (ima_policy=secure_boot, or appraise_tcb with " +
			"CONFIG_IMA_WRITE_POLICY), so the kernel refuses every rule written as text (EACCES); load a signed policy file instead"})
	}
	if p.Version.Major != 0 && !p.Version.AtLeast(OldestModelled.Major, OldestModelled.Minor) {
		for i := range pol.Rules {
			pol.Rules[i].Warnings = append(pol.Rules[i].Warnings, fmt.Sprintf("kernel %s is older than %s: verdicts follow %s, the oldest parser modelled",
				p.Version, OldestModelled, OldestModelled))
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return pol, errs
}

// CheckRule checks a single rule line (no comment, no newline) against p.
// A blank line or a comment is not a rule and is refused here.
func CheckRule(line string, p Profile) (Rule, *RuleError) {
	if t := strings.TrimLeft(line, " \t"); t == "" || t[0] == '#' {
		err := &RuleError{Line: 1, Col: 1, Index: 1, Msg: "not a rule (blank line or comment)"}
		return Rule{Line: 1, Index: 1, Source: "policy", Err: err}, err
	}
	r, err := checkLine(line, 1, 1, &p)
	r.Source = "policy"
	if err != nil {
		r.Err = err
	}
	return r, err
}

// checkLine checks one non-blank, non-comment line.
func checkLine(line string, lineNo, index int, p *Profile) (Rule, *RuleError) {
	lim := p.limits()
	r := Rule{Line: lineNo, Index: index}
	mkErr := func(col int, tok, msg string, stricter bool) *RuleError {
		return &RuleError{Line: lineNo, Col: col, Index: index, Token: tok, Msg: msg, Stricter: stricter}
	}
	if p.KernelExact {
		// ima_parse_rule works on a C string, and one write() carries at
		// most PAGE_SIZE-1 bytes.
		if i := strings.IndexByte(line, 0); i >= 0 {
			line = line[:i]
		}
		if len(line) > MaxRuleBytes+1 {
			line = line[:MaxRuleBytes+1] // PAGE_SIZE-1
		}
	}
	// Control characters first: the kernel treats them as part of a token,
	// so a value with a stray carriage return is taken but never matches.
	for i := 0; i < len(line) && !p.KernelExact; i++ {
		c := line[i]
		if c == '\t' || (c >= 0x20 && c != 0x7f) {
			continue
		}
		tokStart := strings.LastIndexAny(line[:i], " \t") + 1
		tokEnd := i + strings.IndexAny(line[i:]+" ", " \t")
		tok := line[tokStart:tokEnd]
		switch c {
		case '\r':
			return r, mkErr(i+1, tok, "carriage return in the rule (CRLF line endings?); the kernel would keep it as part of the token", true)
		case 0:
			return r, mkErr(i+1, tok, "NUL byte in the rule; the kernel would silently drop everything after it", true)
		default:
			return r, mkErr(i+1, tok, fmt.Sprintf("control character %q in the rule", c), true)
		}
	}
	// Tokenize like ima_parse_rule: strsep on space and tab, empty
	// tokens skipped.
	toks := make([]Token, 0, 8)
	for i := 0; i < len(line); {
		if line[i] == ' ' || line[i] == '\t' {
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if len(toks) == lim.MaxTokens && !p.KernelExact {
			return r, mkErr(i+1, line[i:j], fmt.Sprintf("more than %d tokens in one rule", lim.MaxTokens), true)
		}
		toks = append(toks, Token{Text: line[i:j], Col: i + 1})
		i = j
	}
	r.Col = toks[0].Col
	r.Text = normalize(line, toks)
	if len(r.Text) > MaxRuleBytes && !p.KernelExact {
		col := toks[0].Col
		for _, t := range toks {
			if t.Col-toks[0].Col+len(t.Text) > MaxRuleBytes {
				col = t.Col
				break
			}
		}
		return r, mkErr(col, "", fmt.Sprintf("rule is %d bytes; one kernel write takes at most %d bytes and a newline (the kernel would silently cut the rule)",
			len(r.Text), MaxRuleBytes), true)
	}
	if r.Text[0] == '/' {
		return r, mkErr(toks[0].Col, toks[0].Text, "a rule cannot start with '/': the kernel would read a policy file from that path instead", true)
	}
	rr, f := checkRule(toks, p)
	rr.Line, rr.Index, rr.Col, rr.Text, rr.Tokens = lineNo, index, r.Col, r.Text, toks
	if f != nil && !(p.KernelExact && f.stricter) {
		col, tok := r.Col, ""
		if f.tok >= 0 && f.tok < len(toks) {
			col, tok = toks[f.tok].Col, toks[f.tok].Text
		}
		return rr, mkErr(col, tok, f.msg, f.stricter)
	}
	return rr, nil
}

// normalize joins the tokens with single spaces; when the line already is
// in that form the result shares its memory.
func normalize(line string, toks []Token) string {
	first, last := toks[0], toks[len(toks)-1]
	span := line[first.Col-1 : last.Col-1+len(last.Text)]
	n := len(toks) - 1
	for _, t := range toks {
		n += len(t.Text)
	}
	if len(span) == n && !strings.ContainsRune(span, '\t') {
		return span
	}
	var b strings.Builder
	b.Grow(n)
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.Text)
	}
	return b.String()
}
