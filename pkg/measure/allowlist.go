package measure

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Allowlist is a keylime runtime policy (RUNTIME_POLICY_SCHEMA, meta.version
// 1): "digests" maps a path to the allowed hex digests, "excludes" lists
// regular expressions of paths not checked. keylime matches the excludes
// with Python's re.match (anchored at the start); here they are compiled as
// RE2, so Python-only syntax (look-arounds, back-references) is rejected
// when loading, naming the expression.
type Allowlist struct {
	digests  map[string][]string // path -> lowercase hex digests
	excludes *regexp.Regexp
	Source   string
	Paths    int
	Excludes int
}

// AllowStatus is the allowlist verdict for one entry.
type AllowStatus uint8

const (
	AllowUnchecked      AllowStatus = iota // no allowlist
	AllowOK                                // path listed with this digest
	AllowExcluded                          // path matches an exclude
	AllowSkipped                           // not a file measurement: violation, boot/ns aggregate, no digest
	AllowNotListed                         // path not in the allowlist: flagged
	AllowDigestMismatch                    // path listed, digest not: flagged
)

var allowNames = [...]string{"unchecked", "ok", "excluded", "skipped", "not-listed", "digest-mismatch"}

func (s AllowStatus) String() string { return allowNames[s] }

// Flagged reports whether s fails the allowlist.
func (s AllowStatus) Flagged() bool { return s == AllowNotListed || s == AllowDigestMismatch }

// maxAllowlist bounds the policy file; keylime users report policies of
// ~20 MiB (keylime#1167).
const maxAllowlist = 256 << 20

type runtimePolicy struct {
	Meta *struct {
		Version int `json:"version"`
	} `json:"meta"`
	Digests  map[string][]string `json:"digests"`
	Hashes   map[string][]string `json:"hashes"` // pre-6.x keylime JSON allowlists
	Excludes []string            `json:"excludes"`
}

// LoadAllowlist reads a runtime policy file.
func LoadAllowlist(path string) (*Allowlist, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseAllowlist(f, path)
}

// ParseAllowlist parses a runtime policy.
func ParseAllowlist(r io.Reader, source string) (*Allowlist, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxAllowlist+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAllowlist {
		return nil, fmt.Errorf("%s: larger than %d MiB", source, maxAllowlist>>20)
	}
	var p runtimePolicy
	if err := json.Unmarshal(data, &p); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line, col := lineCol(data, se.Offset)
			return nil, fmt.Errorf("%s: line %d, column %d: %v", source, line, col, se)
		case errors.As(err, &te):
			line, col := lineCol(data, te.Offset)
			return nil, fmt.Errorf("%s: line %d, column %d: %s must be %s (runtime policy schema)", source, line, col, te.Field, te.Type)
		}
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if p.Meta != nil && p.Meta.Version > 1 {
		return nil, fmt.Errorf("%s: runtime policy version %d is newer than the supported 1", source, p.Meta.Version)
	}
	if p.Digests == nil {
		p.Digests = p.Hashes
	}
	a := &Allowlist{digests: make(map[string][]string, 2*len(p.Digests)), Source: source, Paths: len(p.Digests), Excludes: len(p.Excludes)}
	for path, ds := range p.Digests {
		norm := make([]string, 0, len(ds))
		for _, d := range ds {
			d = strings.ToLower(strings.TrimSpace(d))
			if _, err := hex.DecodeString(d); err != nil || d == "" {
				return nil, fmt.Errorf("%s: digests[%q]: %q is not a hex digest", source, path, d)
			}
			norm = append(norm, d)
		}
		a.digests[path] = append(a.digests[path], norm...)
		// The kernel logs spaces in names as '_' (ima_write_template_field_data),
		// so a listed path with spaces is also found under its logged name.
		if logged := strings.ReplaceAll(path, " ", "_"); logged != path {
			a.digests[logged] = append(a.digests[logged], norm...)
		}
	}
	if len(p.Excludes) > 0 {
		parts := make([]string, len(p.Excludes))
		for i, x := range p.Excludes {
			if _, err := regexp.Compile(x); err != nil {
				return nil, fmt.Errorf("%s: excludes[%d] %q: %v (Python-only regex syntax is not supported)", source, i, x, err)
			}
			parts[i] = "(?:" + x + ")"
		}
		re, err := regexp.Compile("^(?:" + strings.Join(parts, "|") + ")")
		if err != nil {
			return nil, fmt.Errorf("%s: excludes: %v", source, err)
		}
		a.excludes = re
	}
	return a, nil
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// Check returns the verdict for e.
func (a *Allowlist) Check(e *Entry) AllowStatus {
	if a == nil {
		return AllowUnchecked
	}
	if e.Violation() {
		return AllowSkipped
	}
	name := e.eventName()
	if a.excludes != nil && a.excludes.Match(name) {
		return AllowExcluded
	}
	allowed, listed := a.digests[string(name)]
	_, sum, ok := e.fileDigest()
	if !listed {
		// Aggregates and buffer events are not files: flag them only when
		// the policy names them.
		if !ok || string(name) == "boot_aggregate" || bytes.HasPrefix(name, []byte(nsAggregatePrefix)) || e.hasField("buf") {
			return AllowSkipped
		}
		return AllowNotListed
	}
	if !ok {
		return AllowDigestMismatch
	}
	var buf [2 * MaxDigestSize]byte
	if len(sum) > MaxDigestSize {
		return AllowDigestMismatch
	}
	h := buf[:hex.Encode(buf[:], sum)]
	for _, d := range allowed {
		if d == string(h) {
			return AllowOK
		}
	}
	return AllowDigestMismatch
}
