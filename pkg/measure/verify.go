package measure

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// Variant is how non-SHA1 banks were extended.
type Variant uint8

const (
	// VariantAuto replays both ways and accepts whichever matches, as
	// evmctl does.
	VariantAuto Variant = iota
	// VariantPerBank: since 5.8 each bank gets the template data hashed
	// with its own algorithm (ima_calc_field_array_hash), violations
	// all-0xff of the bank's size.
	VariantPerBank
	// VariantPadded: before 5.8 every bank got the SHA1 template digest
	// zero-padded to the bank size, violations 0xff*20 then zeros.
	VariantPadded
)

func (v Variant) String() string {
	switch v {
	case VariantPerBank:
		return "per-bank"
	case VariantPadded:
		return "padded"
	}
	return "auto"
}

// ParseVariant accepts auto, per-bank and padded.
func ParseVariant(s string) (Variant, error) {
	switch s {
	case "", "auto":
		return VariantAuto, nil
	case "per-bank", "perbank":
		return VariantPerBank, nil
	case "padded", "sha1-padded":
		return VariantPadded, nil
	}
	return VariantAuto, fmt.Errorf("unknown replay variant %q (want auto, per-bank or padded)", s)
}

// VerifyOptions configure a Verifier.
type VerifyOptions struct {
	// Banks to replay; default: the banks of Reference, else SHA1 and SHA256.
	Banks []Alg
	// Reference PCR values; nil computes the PCRs without comparing (the
	// template digests are still checked).
	Reference *PCRSet
	Variant   Variant
	// Allowlist, when set, is checked for the entries Add is told are selected.
	Allowlist *Allowlist
	// MaxFailures bounds the failures kept in the report (default 20); all
	// are counted.
	MaxFailures int
}

// Failure is one reason verification failed.
type Failure struct {
	Pos    Position
	HasPos bool // false for failures of the whole list (a PCR mismatch)
	Name   string
	Reason string
}

func (f Failure) String() string {
	if !f.HasPos {
		return f.Reason
	}
	return fmt.Sprintf("%s %q: %s", f.Pos, f.Name, f.Reason)
}

// PCRResult is the outcome for one PCR of one replayed bank and variant.
type PCRResult struct {
	Alg       Alg
	Variant   Variant // VariantPerBank for SHA1 (both variants agree there)
	PCR       int
	Computed  []byte
	Reference []byte // nil: no reference value
	Match     bool
}

// Report is the outcome of a verification.
type Report struct {
	Entries            int64
	Violations         int64
	TemplateMismatches int64
	// Failures holds the first MaxFailures failures in list order (a PCR
	// mismatch last); FailureCount counts all.
	Failures     []Failure
	FailureCount int64
	PCRs         []PCRResult
	// Compared: reference values were given. Matched: the replay of the
	// entries up to Covered reproduced every referenced PCR of every
	// referenced bank at once, with Variant.
	Compared bool
	Matched  bool
	Variant  Variant
	// Covered is the number of leading entries the reference covers. On a
	// live system the kernel may append entries after the PCRs were read;
	// those trailing entries are not covered, and are not verified.
	Covered int64
	// BootAggregate: "ok", "mismatch", "no-tpm" (zero digest),
	// "not-compared" (the reference has no PCRs 0-9 of its bank, or there is
	// no reference), "unchecked" (the reference has them but the digest
	// cannot be computed here) or "absent".
	BootAggregate string
	// Allowlist counts: flagged entries are failures.
	AllowChecked, AllowFlagged int64
	// TemplateUnchecked counts entries whose template digest could not be
	// computed (no implementation of the logged bank's algorithm).
	TemplateUnchecked int64
	// Unchecked lists what verification was asked to check and could not
	// (template digests, reference banks, the boot_aggregate). Each one
	// keeps the verification from passing: Passed means every check ran
	// and held.
	Unchecked []Unchecked
	Passed    bool
}

// Unchecked is a check that verification was asked to make and did not.
type Unchecked struct {
	// Check is "template digests", "pcr bank" or "boot_aggregate".
	Check string
	// Alg is the algorithm that could not be computed, if known.
	Alg string
	// Count is the number of entries concerned (template digests), else 1.
	Count int64
	// First is the first entry concerned; HasPos is false for a bank.
	First  Position
	HasPos bool
	Name   string
	Reason string
}

func (u Unchecked) String() string {
	s := u.Check
	if u.Alg != "" {
		s += " (" + u.Alg + ")"
	}
	if u.Check == "template digests" {
		s = fmt.Sprintf("%d %s", u.Count, s)
	}
	if u.HasPos {
		s += fmt.Sprintf(", first %s %q", u.First, u.Name)
	}
	return s + ": " + u.Reason
}

// track is one replay: a bank in one variant.
type track struct {
	alg     Alg
	variant Variant
	pcr     [NumPCRs][]byte
	used    [NumPCRs]bool
	ref     *PCRBank
	// unmatched counts the used PCRs that currently differ from the
	// reference (or have none); 0 means this track matches right now.
	unmatched int
}

// mode is a set of tracks that must match together.
type mode struct {
	variant   Variant
	tracks    []*track
	lastMatch int64
}

// Verifier checks entries one by one; Report summarises.
type Verifier struct {
	opt     VerifyOptions
	tracks  []*track
	modes   []*mode
	scratch []byte
	rep     Report
	ff      [NumPCRs * 2 * MaxDigestSize]byte

	bootSeen bool
	hasRef   bool
	// templUnchecked holds per logged bank the entries whose template
	// digest could not be computed (one item per bank in the report).
	templUnchecked []Unchecked

	h       dataHashes
	chk     EntryCheck
	need    []Alg
	needFor Alg
}

// NewVerifier prepares a replay.
func NewVerifier(opt VerifyOptions) (*Verifier, error) {
	if opt.MaxFailures <= 0 {
		opt.MaxFailures = 20
	}
	banks := opt.Banks
	if len(banks) == 0 {
		if opt.Reference != nil && len(opt.Reference.Banks) > 0 {
			for _, b := range opt.Reference.Banks {
				if b.Alg.Supported() {
					banks = append(banks, b.Alg)
				}
			}
		}
		if len(banks) == 0 {
			banks = DefaultBanks
		}
	}
	v := &Verifier{opt: opt}
	v.rep.BootAggregate = "absent"
	if opt.Reference != nil {
		for _, b := range opt.Reference.Unknown {
			v.rep.Unchecked = append(v.rep.Unchecked, Unchecked{Check: "pcr bank", Alg: b.Name, Count: 1,
				Reason: fmt.Sprintf("the TPM has a %s bank (%s) of an algorithm this build does not know: the bank is not replayed", b.Name, b.Source)})
		}
		for _, b := range opt.Reference.Banks {
			if !b.Alg.Supported() {
				v.rep.Unchecked = append(v.rep.Unchecked, Unchecked{Check: "pcr bank", Alg: b.Alg.String(), Count: 1,
					Reason: fmt.Sprintf("reference PCRs of the %s bank were given (%s) but this build cannot compute %s: the bank is not replayed", b.Alg, b.Source, b.Alg)})
			}
		}
	}
	perBank := &mode{variant: VariantPerBank, lastMatch: -1}
	padded := &mode{variant: VariantPadded, lastMatch: -1}
	for _, a := range banks {
		if !a.Supported() {
			return nil, fmt.Errorf("cannot replay the %s bank: no %s implementation here", a, a)
		}
		ref := opt.Reference.Bank(a)
		if ref != nil {
			v.hasRef = true
		}
		newTrack := func(variant Variant) *track {
			t := &track{alg: a, variant: variant, ref: ref}
			for i := range t.pcr {
				t.pcr[i] = make([]byte, a.Size())
			}
			v.tracks = append(v.tracks, t)
			return t
		}
		if a == SHA1 {
			t := newTrack(VariantPerBank)
			perBank.tracks = append(perBank.tracks, t)
			padded.tracks = append(padded.tracks, t)
			continue
		}
		if opt.Variant != VariantPadded {
			perBank.tracks = append(perBank.tracks, newTrack(VariantPerBank))
		}
		if opt.Variant != VariantPerBank {
			padded.tracks = append(padded.tracks, newTrack(VariantPadded))
		}
	}
	if opt.Variant != VariantPadded {
		v.modes = append(v.modes, perBank)
	}
	if opt.Variant != VariantPerBank {
		v.modes = append(v.modes, padded)
	}
	for i := range v.ff {
		v.ff[i] = 0xff
	}
	return v, nil
}

// EntryCheck is the verdict on one entry.
type EntryCheck struct {
	// TemplateOK: the logged template digest equals the digest of the
	// template data. Not meaningful for violations (Violation set).
	TemplateOK bool
	Violation  bool
	Allow      AllowStatus
	// Problem is set when the entry fails verification.
	Problem string
	// Unchecked says why the template digest could not be checked (then
	// TemplateOK is false and Problem empty): the entry is neither passed
	// nor failed, and the report counts it.
	Unchecked string
}

func (v *Verifier) fail(e *Entry, reason string) {
	v.rep.FailureCount++
	if len(v.rep.Failures) < v.opt.MaxFailures {
		v.rep.Failures = append(v.rep.Failures, Failure{Pos: e.Pos, HasPos: true, Name: e.EventName(), Reason: reason})
	}
}

// dataHashes are the digests of one entry's template data that checking
// and replaying it needs, computed before the (sequential) replay so that
// they can be computed in parallel.
type dataHashes struct {
	n    int
	algs [4]Alg
	sums [4][MaxDigestSize]byte
}

func (h *dataHashes) get(a Alg) []byte {
	for i := 0; i < h.n; i++ {
		if h.algs[i] == a {
			return h.sums[i][:a.Size()]
		}
	}
	return nil
}

// needAlgs lists the template-data digests an entry logged with bank
// logged needs: the logged bank (template check), every per-bank track's
// bank, and SHA1 when a padded track or the SHA1 track needs it.
func (v *Verifier) needAlgs(logged Alg) []Alg {
	if v.needFor == logged && v.need != nil {
		return v.need
	}
	add := func(a Alg) {
		if !a.Supported() {
			return
		}
		for _, b := range v.need {
			if b == a {
				return
			}
		}
		v.need = append(v.need, a)
	}
	v.need = v.need[:0]
	add(logged)
	for _, t := range v.tracks {
		if t.alg == SHA1 || t.variant == VariantPadded {
			add(SHA1)
		} else {
			add(t.alg)
		}
	}
	v.needFor = logged
	return v.need
}

// hash computes what addHashed needs; it only reads v (safe to call from
// several goroutines once needAlgs(logged) has been called).
func (v *Verifier) hash(e *Entry, algs []Alg, h *dataHashes, scratch *[]byte) {
	h.n = 0
	if e.Violation() {
		return
	}
	input := e.hashInput(scratch)
	for _, a := range algs {
		a.sum(h.sums[h.n][:0], input)
		h.algs[h.n] = a
		h.n++
	}
}

// Add checks and replays the next entry of the list. selected says whether
// the entry is in the view being reported (the allowlist applies to those).
func (v *Verifier) Add(e *Entry, selected bool) EntryCheck {
	v.hash(e, v.needAlgs(loggedAlg(e)), &v.h, &v.scratch)
	return v.addHashed(e, &v.h, selected)
}

func (v *Verifier) addHashed(e *Entry, h *dataHashes, selected bool) EntryCheck {
	v.rep.Entries++
	chk := EntryCheck{Violation: e.Violation()}
	logged := Digest{}
	if len(e.Digests) > 0 {
		logged = e.Digests[0]
	}

	// Template digest (ima_calc_field_array_hash) of the logged bank.
	var sha1d []byte
	if chk.Violation {
		v.rep.Violations++
		if _, sum, ok := e.fileDigest(); ok && !isZero(sum) {
			chk.Problem = "zero template digest marks a violation, but the file digest is not zero (ima_add_violation logs zeros): the entry was altered"
		}
	} else if got := h.get(logged.Alg); got != nil {
		chk.TemplateOK = bytes.Equal(got, logged.Sum)
		if !chk.TemplateOK {
			v.rep.TemplateMismatches++
			chk.Problem = fmt.Sprintf("template digest %s:%x does not match the template data (%x)", logged.Alg, logged.Sum, got)
			if other := sameSizeAlg(logged.Alg); other != AlgUnknown && bytes.Equal(other.sum(nil, e.hashInput(&v.scratch)), logged.Sum) {
				// sha256 and sm3 digests have the same length, so an ASCII
				// list's bank guessed from it may be the wrong one.
				chk.Problem += fmt.Sprintf("; it is the %s of the template data: the list's bank is %s (--bank %s)", other, other, other)
			}
		}
		if logged.Alg == SHA1 {
			// The kernel extended what it logged; a changed template data
			// is caught by the check above, not by the replay.
			sha1d = logged.Sum
		}
	} else {
		// Cannot compute: not a failure of the list, but not a pass
		// either; the report says what was not checked.
		chk.Unchecked = fmt.Sprintf("template digest not checked: this build cannot compute %s", logged.Alg)
		v.templateUnchecked(e, logged.Alg)
	}

	// ns_aggregate sanity: logged by the kernel with a zero SHA1 d-ng and,
	// in ima-ns, the namespace's own id.
	if chk.Problem == "" {
		if id, ok := e.NSAggregate(); ok {
			if algo, sum, ok := e.fileDigest(); !ok || string(algo) != "sha1" || !isZero(sum) {
				chk.Problem = "ns_aggregate entry without the zero sha1 digest the kernel logs (ima_ns_add_boot_aggregate)"
			} else if ns, ok := e.NSID(); ok && ns != id {
				chk.Problem = fmt.Sprintf("ns_aggregate_%d carries namespace id %d", id, ns)
			} else if chk.Violation {
				chk.Problem = "ns_aggregate entry logged as a violation"
			}
		}
	}
	if !v.bootSeen && string(e.eventName()) == "boot_aggregate" {
		v.bootSeen = true
		if p := v.checkBootAggregate(e); p != "" && chk.Problem == "" {
			chk.Problem = p
		}
	}

	// Replay (ima_pcr_extend); PCRs past the TPM's are logged, not extended.
	if e.PCR < NumPCRs {
		if sha1d == nil && !chk.Violation {
			sha1d = h.get(SHA1)
		}
		for _, t := range v.tracks {
			var d []byte
			var buf [MaxDigestSize]byte
			size := t.alg.Size()
			switch {
			case chk.Violation && (t.variant == VariantPerBank || t.alg == SHA1):
				d = v.ff[:size]
			case chk.Violation:
				copy(buf[:20], v.ff[:20])
				d = buf[:size]
			case t.alg == SHA1:
				d = sha1d
			case t.variant == VariantPadded:
				copy(buf[:], sha1d)
				d = buf[:size]
			case t.alg == logged.Alg:
				d = logged.Sum
			default:
				d = h.get(t.alg)
			}
			t.extend(int(e.PCR), d)
		}
		for _, m := range v.modes {
			if m.matches() {
				m.lastMatch = e.Pos.Index
			}
		}
	}

	if selected && v.opt.Allowlist != nil {
		chk.Allow = v.opt.Allowlist.Check(e)
		v.rep.AllowChecked++
		if chk.Allow.Flagged() {
			v.rep.AllowFlagged++
			if chk.Problem == "" {
				_, sum, _ := e.FileDigest()
				chk.Problem = fmt.Sprintf("allowlist: %s (digest %x)", chk.Allow, sum)
			}
		}
	}
	if chk.Problem != "" {
		v.fail(e, chk.Problem)
	}
	return chk
}

func (v *Verifier) templateUnchecked(e *Entry, a Alg) {
	v.rep.TemplateUnchecked++
	for i := range v.templUnchecked {
		if v.templUnchecked[i].Alg == a.String() {
			v.templUnchecked[i].Count++
			return
		}
	}
	v.templUnchecked = append(v.templUnchecked, Unchecked{Check: "template digests", Alg: a.String(), Count: 1,
		First: e.Pos, HasPos: true, Name: e.EventName(),
		Reason: fmt.Sprintf("this build cannot compute %s, so the logged digests were not compared with the template data", a)})
}

func (t *track) extend(pcr int, d []byte) {
	cur := t.pcr[pcr]
	var out [MaxDigestSize]byte
	t.alg.sum2(out[:0], cur, d)
	wasUsed := t.used[pcr]
	wasMatch := wasUsed && t.ref != nil && bytes.Equal(cur, t.ref.Values[pcr])
	copy(cur, out[:len(cur)])
	if t.ref == nil {
		t.used[pcr] = true
		return
	}
	match := bytes.Equal(cur, t.ref.Values[pcr])
	if !wasUsed {
		t.used[pcr] = true
		if !match {
			t.unmatched++
		}
	} else if wasMatch != match {
		if match {
			t.unmatched--
		} else {
			t.unmatched++
		}
	}
}

func (m *mode) matches() bool {
	any := false
	for _, t := range m.tracks {
		if t.ref == nil {
			continue
		}
		if t.unmatched != 0 {
			return false
		}
		any = true
	}
	return any
}

// checkBootAggregate compares the boot_aggregate entry with the reference
// PCRs 0-7 (SHA1) or 0-9 (other banks, since 5.8) of the bank named by its
// d-ng algorithm (ima_calc_boot_aggregate).
func (v *Verifier) checkBootAggregate(e *Entry) string {
	unchecked := func(alg, reason string) string {
		v.rep.BootAggregate = "unchecked"
		v.rep.Unchecked = append(v.rep.Unchecked, Unchecked{Check: "boot_aggregate", Alg: alg, Count: 1,
			First: e.Pos, HasPos: true, Name: e.EventName(), Reason: reason})
		return ""
	}
	if v.opt.Reference == nil {
		v.rep.BootAggregate = "not-compared"
		return ""
	}
	algo, sum, ok := e.FileDigest()
	if !ok {
		return unchecked("", "the entry has no file digest field to compare with PCRs 0-9")
	}
	if isZero(sum) {
		v.rep.BootAggregate = "no-tpm"
		return ""
	}
	a, err := ParseAlg(algo)
	if err != nil {
		return unchecked(string(algo), fmt.Sprintf("its algorithm %q is not a TPM bank this build knows", algo))
	}
	ref := v.opt.Reference.Bank(a)
	n := 10
	if a == SHA1 {
		n = 8
	}
	var in []byte
	for i := 0; ref != nil && i < n; i++ {
		if ref.Values[i] == nil {
			ref = nil
			break
		}
		in = append(in, ref.Values[i]...)
	}
	if ref == nil || isZero(in) {
		// The reference does not cover PCRs 0-9 of this bank: evmctl-style
		// files list all 24 PCRs, and zeros for 0-9 are what a file made
		// for PCR 10 alone holds, not what firmware leaves. Nothing was
		// asked of this check; the report says it was not compared.
		v.rep.BootAggregate = "not-compared"
		return ""
	}
	if !a.Supported() {
		return unchecked(a.String(), fmt.Sprintf("the reference has PCRs 0-%d of the %s bank but this build cannot compute %s", n-1, a, a))
	}
	want := a.sum(nil, in)
	if !bytes.Equal(want, sum) {
		v.rep.BootAggregate = "mismatch"
		return fmt.Sprintf("boot_aggregate %s:%x is not the %s of PCRs 0-%d (%x): the list is from another boot or TPM", algo, sum, algo, n-1, want)
	}
	v.rep.BootAggregate = "ok"
	return ""
}

// Report finishes the verification. It can be called once, after the last Add.
func (v *Verifier) Report() *Report {
	r := &v.rep
	r.Compared = v.hasRef
	best := (*mode)(nil)
	for _, m := range v.modes {
		if best == nil || m.lastMatch > best.lastMatch {
			best = m
		}
	}
	if best != nil {
		r.Variant = best.variant
		r.Matched = best.lastMatch >= 0
		r.Covered = best.lastMatch + 1
	}
	if !v.hasRef {
		r.Covered = 0
	}
	for _, t := range v.tracks {
		for i := 0; i < NumPCRs; i++ {
			if !t.used[i] {
				continue
			}
			pr := PCRResult{Alg: t.alg, Variant: t.variant, PCR: i, Computed: t.pcr[i]}
			if t.ref != nil {
				pr.Reference = t.ref.Values[i]
				pr.Match = bytes.Equal(pr.Computed, pr.Reference)
			}
			r.PCRs = append(r.PCRs, pr)
		}
	}
	if v.hasRef && !r.Matched {
		r.FailureCount++
		msg := "no prefix of the list reproduces the reference PCRs"
		for _, p := range r.PCRs {
			if v.opt.Reference.Bank(p.Alg) != nil && !p.Match && (best == nil || p.Alg == SHA1 || p.Variant == best.variant) {
				ref := hex.EncodeToString(p.Reference)
				if p.Reference == nil {
					ref = "none (the PCR file lacks this PCR)"
				}
				msg += fmt.Sprintf("; PCR %d %s (%s): replay gives %s, reference %s", p.PCR, p.Alg, p.Variant, hex.EncodeToString(p.Computed), ref)
				break
			}
		}
		msg += fmt.Sprintf(" (replayed %d entries: the list was altered or truncated, or belongs to another boot; a hash chain cannot tell which entry)", r.Entries)
		r.Failures = append(r.Failures, Failure{Reason: msg})
	}
	r.Unchecked = append(r.Unchecked, v.templUnchecked...)
	r.Passed = r.FailureCount == 0 && len(r.Unchecked) == 0
	return r
}

// sameSizeAlg is the other bank with a's digest size, if any.
func sameSizeAlg(a Alg) Alg {
	switch a {
	case SHA256:
		return SM3
	case SM3:
		return SHA256
	}
	return AlgUnknown
}

// loggedAlg is the bank of the digest the list carries for e.
func loggedAlg(e *Entry) Alg {
	if len(e.Digests) == 0 {
		return AlgUnknown
	}
	return e.Digests[0].Alg
}

// BankUnchecked reports whether a PCR bank could not be replayed (this
// build does not compute its digests): a replay that compared nothing for
// that reason is not a pass.
func (v *VerifySummary) BankUnchecked() bool {
	for _, u := range v.Unchecked {
		if u.Check == "pcr bank" {
			return true
		}
	}
	return false
}
