// Package preflight predicts, before a container starts, which of its files
// IMA appraisal will refuse.
//
// With appraisal on, a file without a valid security.ima signature or hash
// fails with EACCES at its first exec, mmap or open; nothing tells the
// container's author in advance. Run walks the container's root filesystem
// (never following a symlink out of it), decides for each regular file which
// appraise rules of the namespace's policy apply to the ways it can be used
// (BPRM_CHECK and CREDS_CHECK for executables, MMAP_CHECK for shared
// libraries, FILE_CHECK for reads), evaluating each rule's conditions as far
// as a static view allows, and judges the file's security.ima with
// pkg/keys the way the kernel would. The entrypoint chain (process.args[0],
// its script interpreters, its ELF loader and the libraries the loader maps)
// is analysed separately: a refusal there means the container cannot start.
//
// It never writes anything: no xattr, no atime (files are opened with
// O_NOATIME where permitted).
package preflight

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/keys"
	"github.com/ima-hook/ima-hook/pkg/policy"
)

// Verdict is the appraisal outcome predicted for a file.
type Verdict string

const (
	// Pass: an appraise rule applies and the file's security.ima verifies.
	Pass Verdict = "pass"
	// NotAppraised: no appraise rule applies (or a dont_appraise rule does).
	NotAppraised Verdict = "not-appraised"
	// Refused: appraisal would fail with EACCES.
	Refused Verdict = "refused"
	// Undecidable: the outcome depends on something a static view cannot
	// know (a condition on the accessing process or an LSM label, a
	// signature form that is not checked here, a read error, a budget).
	Undecidable Verdict = "undecidable"
)

// Causes of a refusal (FileResult.Cause). The kernel's own audit causes
// are given in docs/preflight.md.
const (
	CauseNoXattr        = "no-xattr"                  // missing-hash / IMA-signature-required
	CauseWrongHash      = "wrong-hash"                // invalid-hash
	CauseUnknownKey     = "unknown-key-id"            // invalid-signature (-ENOKEY)
	CauseBadSignature   = "bad-signature"             // invalid-signature
	CauseHashOnly       = "hash-only"                 // IMA-signature-required
	CauseMalformed      = "malformed"                 // invalid-signature / invalid-hash
	CauseUnknownData    = "unknown-ima-data"          // unknown-ima-data
	CauseDeniedAlgo     = "denied-hash-algorithm"     // denied-hash-algorithm (appraise_algos=)
	CauseVerityRequired = "verity-signature-required" // verity-signature-required
)

// Roles of files on the entrypoint chain.
const (
	RoleEntrypoint  = "entrypoint"  // process.args[0]
	RoleInterpreter = "interpreter" // a "#!" interpreter
	RoleLoader      = "loader"      // the ELF PT_INTERP (ld.so)
	RoleLibrary     = "library"     // a DT_NEEDED library the loader maps
)

// Limits bound the work on an untrusted rootfs. Zero fields take the
// defaults (DefaultLimits).
type Limits struct {
	MaxFiles   int   `json:"max_files"`   // regular files examined in the walk
	MaxEntries int   `json:"max_entries"` // directory entries of any type visited
	MaxDepth   int   `json:"max_depth"`   // directory nesting below the rootfs
	MaxBytes   int64 `json:"max_bytes"`   // file content hashed, in total
	MaxChain   int   `json:"max_chain"`   // files on the entrypoint chain (libraries included)
	Workers    int   `json:"workers"`     // files judged in parallel
}

// DefaultLimits fit large images (a full distribution userland has ~100k
// files) while keeping a hostile rootfs from holding the hook for long; the
// time budget is the caller's context.
var DefaultLimits = Limits{MaxFiles: 200000, MaxEntries: 1000000, MaxDepth: 64, MaxBytes: 16 << 30, MaxChain: 512,
	Workers: min(4, max(1, runtime.GOMAXPROCS(0)))}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxFiles > 0 {
		d.MaxFiles = l.MaxFiles
	}
	if l.MaxEntries > 0 {
		d.MaxEntries = l.MaxEntries
	}
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxBytes > 0 {
		d.MaxBytes = l.MaxBytes
	}
	if l.MaxChain > 0 {
		d.MaxChain = l.MaxChain
	}
	if l.Workers > 0 {
		d.Workers = l.Workers
	}
	return d
}

// Options say what to check and against which policy and keys.
type Options struct {
	// Rootfs is the container's root directory on the host.
	Rootfs string
	// Spec is the bundle's config.json (nil: no entrypoint analysis, the
	// process's user unknown, no mounts known).
	Spec *specs.Spec
	// Rules are the namespace's effective rules in kernel order (built-ins
	// first, see EffectiveRules); only appraise and dont_appraise rules
	// matter.
	Rules []policy.Rule
	// Certs are the keys in the namespace's IMA keyring.
	Certs []*keys.Certificate
	// Appraise is the kcmd's ima_appraise= value: "" or "enforce" refuses;
	// "log", "fix" and "off" only log, so nothing blocks.
	Appraise string
	Limits   Limits
	// FSMagic is the filesystem type the container sees (0: overlayfs,
	// 0x794c7630, what podman, containerd and CRI-O mount). FSName and
	// FSUUID default from it: the name from the magic, the UUID unknown.
	FSMagic uint32
	FSName  string
	FSUUID  string
	// RuleIDs says in which user namespace the rules' ids were written
	// (default RuleIDsHost, as the hook writes them).
	RuleIDs RuleIDs
	// SkipWalk checks only the entrypoint chain.
	SkipWalk bool
}

// RuleRef names a policy rule in results.
type RuleRef struct {
	Index  int    `json:"index"`            // rule number among the effective rules (1-based)
	Source string `json:"source,omitempty"` // "policy", "builtin:appraise_tcb", ...
	Line   int    `json:"line,omitempty"`   // line in the policy text (custom rules)
	Text   string `json:"text"`
	// Undecided lists the rule's conditions that could not be decided: the
	// rule applies only if they hold.
	Undecided []string `json:"undecided,omitempty"`
}

func (r RuleRef) String() string {
	s := fmt.Sprintf("rule %d", r.Index)
	if r.Source != "" && r.Source != "policy" {
		s += " (" + r.Source + ")"
	} else if r.Line > 0 {
		s += fmt.Sprintf(" (line %d)", r.Line)
	}
	return s + " '" + r.Text + "'"
}

// AccessResult is the verdict for one way the file reaches IMA.
type AccessResult struct {
	Func    string  `json:"func"` // BPRM_CHECK, CREDS_CHECK, MMAP_CHECK, FILE_CHECK, ...
	Mask    string  `json:"mask"` // MAY_EXEC, MAY_READ
	Verdict Verdict `json:"verdict"`
	Cause   string  `json:"cause,omitempty"`
	Reason  string  `json:"reason,omitempty"`
	// Rule is the appraise or dont_appraise rule that decides, when one
	// does for certain; nil with Possible empty means no rule applies.
	Rule *RuleRef `json:"rule,omitempty"`
	// Possible are earlier rules that decide instead if their undecided
	// conditions hold.
	Possible []RuleRef `json:"possible,omitempty"`
}

// FileResult is the prediction for one file.
type FileResult struct {
	Path    string  `json:"path"`           // absolute, as the container sees it
	Role    string  `json:"role,omitempty"` // entrypoint chain role(s), comma-separated
	Verdict Verdict `json:"verdict"`
	Cause   string  `json:"cause,omitempty"`
	Reason  string  `json:"reason,omitempty"`
	// Rule is the rule behind the verdict (for refused files, the appraise
	// rule that refuses).
	Rule   *RuleRef `json:"rule,omitempty"`
	Xattr  string   `json:"xattr,omitempty"` // security.ima decoded, "none" when absent
	Size   int64    `json:"size"`
	Mode   string   `json:"mode"`
	UID    uint32   `json:"uid"`                     // owner as stored (kernel id)
	GID    uint32   `json:"gid"`                     // group as stored (kernel id)
	CtrUID *uint32  `json:"container_uid,omitempty"` // owner as the container sees it, when it has a user namespace
	// NeededBy names the object that needs this library (chain only).
	NeededBy string         `json:"needed_by,omitempty"`
	Accesses []AccessResult `json:"accesses,omitempty"`
}

// Stats describe the walk.
type Stats struct {
	Files    int           `json:"files"`    // regular files examined
	Dirs     int           `json:"dirs"`     // directories entered
	Symlinks int           `json:"symlinks"` // symlinks seen (not followed)
	Special  int           `json:"special"`  // devices, FIFOs, sockets (skipped)
	Hashed   int           `json:"hashed"`   // files whose content was hashed
	Bytes    int64         `json:"bytes"`    // bytes hashed
	Duration time.Duration `json:"duration_ns"`
}

// Report is the preflight's answer.
type Report struct {
	Rootfs string `json:"rootfs"`
	FS     FSInfo `json:"fs"`
	// Enforcing is false when ima_appraise= only logs: nothing blocks then.
	Enforcing bool `json:"enforcing"`
	// Files are the rootfs' regular files, sorted by path, each judged for
	// every way it can be used (by any process).
	Files []FileResult `json:"files"`
	// Entrypoint is the chain the container's first exec loads, in load
	// order, judged for exactly the accesses that exec makes with the
	// process's credentials.
	Entrypoint []FileResult `json:"entrypoint"`
	// Blocking are the entrypoint chain files that would be refused (empty
	// when not enforcing).
	Blocking []FileResult `json:"blocking"`
	// ChainChecked is true when the entrypoint chain was followed in full
	// (its files may still be undecidable); ChainGaps say what was not
	// followed otherwise (no process, a limit, the time budget, a program
	// only binfmt_misc runs).
	ChainChecked bool     `json:"chain_checked"`
	ChainGaps    []string `json:"chain_gaps,omitempty"`
	// Counts per verdict over Files.
	Counts map[Verdict]int `json:"counts"`
	// Notes are limitations of this run (conditions never decidable,
	// truncation, skipped mounts, ...).
	Notes []string `json:"notes,omitempty"`
	// Truncated names the limit that stopped the walk early ("" if none).
	Truncated string `json:"truncated,omitempty"`
	// Incomplete is set when the time budget ran out.
	Incomplete bool  `json:"incomplete,omitempty"`
	Stats      Stats `json:"stats"`
}

// IncompleteError is returned with a partial Report when the context's
// deadline (the time budget) or cancellation stopped the preflight.
type IncompleteError struct {
	Err       error // context.DeadlineExceeded or context.Canceled
	Elapsed   time.Duration
	Files     int
	Bytes     int64
	ChainDone bool
}

func (e *IncompleteError) Error() string {
	what := "ran out of its time budget"
	if errors.Is(e.Err, context.Canceled) {
		what = "was cancelled"
	}
	chain := "the entrypoint chain was checked"
	if !e.ChainDone {
		chain = "the entrypoint chain was not fully checked"
	}
	return fmt.Sprintf("the appraisal preflight %s after %s: %d files examined, %s hashed; %s",
		what, e.Elapsed.Round(time.Millisecond), e.Files, humanBytes(e.Bytes), chain)
}

func (e *IncompleteError) Unwrap() error { return e.Err }

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// EffectiveRules are the rules in force in a namespace created with kcmd k
// once the hook has loaded pol (may be nil), in kernel order, numbered from
// 1: policy.InForce, the same source the hook's plan uses, so preflight
// judges exactly the rules the hook writes.
func EffectiveRules(k policy.Kcmd, pol *policy.Policy, p policy.Profile) ([]policy.Rule, error) {
	rules, err := policy.InForce(k, pol, p)
	if err != nil {
		return nil, err
	}
	out := append([]policy.Rule(nil), rules...)
	for i := range out {
		out[i].Index = i + 1
	}
	return out, nil
}

// Run predicts appraisal for the rootfs. It returns a Report even when it
// also returns an error: an *IncompleteError when ctx's deadline stopped
// it (the Report then covers what was done), other errors when the rootfs
// or the options are unusable (the Report is then nil).
func Run(ctx context.Context, opt Options) (*Report, error) {
	start := time.Now()
	if opt.Rootfs == "" {
		return nil, errors.New("no rootfs given")
	}
	root, err := openRoot(opt.Rootfs)
	if err != nil {
		return nil, err
	}
	defer root.close()

	fs := FSInfo{Magic: opt.FSMagic, Name: opt.FSName, UUID: strings.ToLower(opt.FSUUID)}
	if fs.Magic == 0 {
		fs.Magic = MagicOverlay
	}
	if fs.Name == "" {
		fs.Name = FSNameOf(fs.Magic)
	}
	id := identityFromSpec(opt.Spec)
	ruleIDs := opt.RuleIDs
	if ruleIDs == "" {
		ruleIDs = RuleIDsHost
	}
	uidMap, gidMap := id.ruleMaps(ruleIDs)
	rules, err := compileRules(opt.Rules, uidMap, gidMap)
	if err != nil {
		return nil, err
	}
	rep := &Report{Rootfs: opt.Rootfs, FS: fs, Counts: map[Verdict]int{}, Files: []FileResult{}, Entrypoint: []FileResult{}, Blocking: []FileResult{}}
	switch opt.Appraise {
	case "", "enforce":
		rep.Enforcing = true
	default:
		rep.Notes = append(rep.Notes, "ima_appraise="+opt.Appraise+": appraisal failures are logged, not refused; nothing blocks")
	}
	rep.Notes = append(rep.Notes, id.notes...)
	if ruleIDs == RuleIDsContainer && id.userns && !id.mapsKnown {
		rep.Notes = append(rep.Notes, "rule ids are container ids but the container's id map is unknown: they were taken as host ids")
	}
	if fs.UUID == "" && hasCond(rules, func(c *compiledRule) bool { return c.fsuuid != nil }) {
		rep.Notes = append(rep.Notes, "fsuuid= conditions are undecided: the filesystem UUID was not given")
	}
	if hasCond(rules, func(c *compiledRule) bool { return len(c.lsm) > 0 }) {
		rep.Notes = append(rep.Notes, "LSM label conditions (subj_*, obj_*) are undecided: labels are not known statically")
	}
	rep.Notes = append(rep.Notes, "EVM is assumed inactive (no EVM key loaded in the namespace): security.evm is not checked")

	lim := opt.Limits.withDefaults()
	j := newJudge(ctx, rules, opt.Certs, fs, lim)
	mounts := mountDests(opt.Spec)

	ch := &chainer{root: root, judge: j, id: &id, spec: opt.Spec, mounts: mounts, max: lim.MaxChain}
	chainDone := false
	if opt.Spec != nil && opt.Spec.Process != nil {
		rep.Entrypoint = ch.run()
		rep.Notes = append(rep.Notes, ch.notes...)
		rep.ChainGaps = ch.gaps
		chainDone = ctx.Err() == nil
		if !chainDone {
			rep.ChainGaps = append(rep.ChainGaps, "the time budget ran out before the entrypoint chain was judged")
		}
	} else {
		const why = "no config.json (or no process in it): the entrypoint chain was not analysed"
		rep.Notes = append(rep.Notes, why)
		rep.ChainGaps = append(rep.ChainGaps, why)
		chainDone = true
	}
	rep.ChainChecked = len(rep.ChainGaps) == 0
	for _, f := range rep.Entrypoint {
		if f.Verdict == Refused && rep.Enforcing {
			rep.Blocking = append(rep.Blocking, f)
		}
	}

	if !opt.SkipWalk && ctx.Err() == nil {
		w := &walker{root: root, judge: j, id: &id, lim: lim, mounts: mounts}
		w.run(ctx)
		rep.Files = w.results
		rep.Truncated = w.truncated
		rep.Notes = append(rep.Notes, w.notes...)
		rep.Stats.Dirs, rep.Stats.Symlinks, rep.Stats.Special = w.dirs, w.symlinks, w.special
		if hasCond(rules, func(c *compiledRule) bool { return c.uid != nil || c.gid != nil }) {
			rep.Notes = append(rep.Notes, "uid=/euid=/gid=/egid= conditions are undecided for the rootfs files: any process of the container may open them (the entrypoint chain is judged with process.user)")
		}
	}
	if rep.Files == nil {
		rep.Files = []FileResult{}
	}
	if rep.Entrypoint == nil {
		rep.Entrypoint = []FileResult{}
	}
	sort.Slice(rep.Files, func(a, b int) bool { return rep.Files[a].Path < rep.Files[b].Path })
	for _, f := range rep.Files {
		rep.Counts[f.Verdict]++
	}
	rep.Stats.Files = len(rep.Files)
	rep.Stats.Hashed, rep.Stats.Bytes = j.stats()
	rep.Stats.Duration = time.Since(start)
	if err := ctx.Err(); err != nil {
		rep.Incomplete = true
		return rep, &IncompleteError{Err: err, Elapsed: rep.Stats.Duration, Files: rep.Stats.Files, Bytes: rep.Stats.Bytes, ChainDone: chainDone}
	}
	return rep, nil
}

func hasCond(rules []*compiledRule, f func(*compiledRule) bool) bool {
	for _, r := range rules {
		if r.action == "appraise" && f(r) {
			return true
		}
	}
	return false
}

// mountDests are the container paths that config.json mounts over the
// rootfs: what the container sees there does not come from the rootfs.
func mountDests(spec *specs.Spec) []string {
	if spec == nil {
		return nil
	}
	var out []string
	for _, m := range spec.Mounts {
		d := cleanAbs(m.Destination)
		if d != "/" {
			out = append(out, d)
		}
	}
	return out
}

// shadowedBy returns the mount destination that covers p, "" if none.
func shadowedBy(mounts []string, p string) string {
	for _, m := range mounts {
		if p == m || strings.HasPrefix(p, m+"/") {
			return m
		}
	}
	return ""
}

// Summary is one line for the hook's error or warning: the first max
// refused files of the entrypoint chain (or, when none, of the rootfs)
// with their reasons, then the counts in brackets. It has no "; " of its
// own, so it fits the problem part of an "ima-hook: subject: problem; fix"
// line.
func (r *Report) Summary(max int) string {
	if max <= 0 {
		max = 3
	}
	var b strings.Builder
	list := func(files []FileResult) {
		for i, f := range files {
			if i == max {
				fmt.Fprintf(&b, " and %d more", len(files)-max)
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(userror.Text(f.Path))
			if f.Reason != "" {
				b.WriteString(" (" + f.Reason + ")")
			}
		}
	}
	refusedChain := refusedOf(r.Entrypoint)
	refused := refusedOf(r.Files)
	switch {
	case len(refusedChain) > 0:
		fmt.Fprintf(&b, "%d of the %d files the entrypoint loads would be refused by IMA appraisal: ", len(refusedChain), len(r.Entrypoint))
		list(refusedChain)
	case !r.ChainDecided():
		// Never "passes" for a chain that was not judged in full.
		b.WriteString(r.Undecided(max))
		if len(refused) > 0 {
			b.WriteString(", and rootfs files would be refused when used: ")
			list(refused)
		}
	case len(refused) > 0:
		b.WriteString("the entrypoint chain passes, but rootfs files would be refused when used: ")
		list(refused)
	default:
		b.WriteString("no file would be refused by IMA appraisal")
	}
	fmt.Fprintf(&b, " [rootfs: %d files, %d refused, %d undecidable, %d pass, %d not appraised",
		len(r.Files), r.Counts[Refused], r.Counts[Undecidable], r.Counts[Pass], r.Counts[NotAppraised])
	if und := countVerdict(r.Entrypoint, Undecidable); und > 0 {
		fmt.Fprintf(&b, "; entrypoint chain: %d undecidable", und)
	}
	if !r.Enforcing {
		b.WriteString("; appraisal only logs (ima_appraise)")
	}
	if r.Truncated != "" {
		b.WriteString("; walk stopped: " + r.Truncated)
	}
	if r.Incomplete {
		b.WriteString("; incomplete: the time budget ran out")
	}
	b.WriteString("]")
	return userror.OneLine(b.String())
}

// ChainDecided reports whether the entrypoint chain was followed in full
// and every file on it decided (pass, not appraised or refused).
func (r *Report) ChainDecided() bool {
	return r.ChainChecked && countVerdict(r.Entrypoint, Undecidable) == 0
}

// Undecided says, in one line without "; ", what the preflight could not
// decide about the entrypoint chain: the parts it did not follow and the
// first max undecidable files with their reasons ("" when ChainDecided).
func (r *Report) Undecided(max int) string {
	if r.ChainDecided() {
		return ""
	}
	if max <= 0 {
		max = 3
	}
	var parts []string
	if !r.ChainChecked {
		parts = append(parts, "the entrypoint chain was not judged in full ("+strings.Join(r.ChainGaps, ", ")+")")
	}
	var und []string
	for _, f := range r.Entrypoint {
		if f.Verdict != Undecidable {
			continue
		}
		if len(und) == max {
			und = append(und, fmt.Sprintf("and %d more", countVerdict(r.Entrypoint, Undecidable)-max))
			break
		}
		s := userror.Text(f.Path)
		if f.Reason != "" {
			s += " (" + f.Reason + ")"
		}
		und = append(und, s)
	}
	if len(und) > 0 {
		n, verb := countVerdict(r.Entrypoint, Undecidable), "are"
		if n == 1 {
			verb = "is"
		}
		parts = append(parts, fmt.Sprintf("%d of the %d files the entrypoint loads %s undecidable: %s",
			n, len(r.Entrypoint), verb, strings.Join(und, ", ")))
	}
	return strings.ReplaceAll(strings.Join(parts, ", and "), "; ", ", ")
}

func refusedOf(files []FileResult) []FileResult {
	var out []FileResult
	for _, f := range files {
		if f.Verdict == Refused {
			out = append(out, f)
		}
	}
	return out
}

func countVerdict(files []FileResult, v Verdict) int {
	n := 0
	for _, f := range files {
		if f.Verdict == v {
			n++
		}
	}
	return n
}
