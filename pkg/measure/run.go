package measure

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// Output is what Run writes per selected entry.
type Output uint8

const (
	OutputASCII Output = iota // ascii_runtime_measurements lines
	OutputJSON                // JSON lines (JSONSchema), summary last
	OutputNone                // nothing per entry
)

// ParseOutput accepts ascii, json and none.
func ParseOutput(s string) (Output, error) {
	switch s {
	case "ascii", "":
		return OutputASCII, nil
	case "json":
		return OutputJSON, nil
	case "none":
		return OutputNone, nil
	}
	return OutputASCII, fmt.Errorf("unknown output format %q (want ascii, json or none)", s)
}

// RunOptions configure Run.
type RunOptions struct {
	Format Format
	Read   ReadOptions
	// Filter selects the entries written; nil selects all.
	Filter *NSFilter
	// Verify replays the whole list (every namespace extends the same PCR)
	// with VerifyOptions; the verdict covers the whole list, the allowlist
	// the selected entries.
	Verify        bool
	VerifyOptions VerifyOptions
	// Reopenable says open may be called again: then an auto replay first
	// tries the per-bank rules alone and only replays the pre-5.8 padded
	// rules in a second, silent pass when those fail (one hash fewer per
	// entry in the common case).
	Reopenable bool
	Output     Output
	Out        io.Writer
	// Source names the list in the summary.
	Source    string
	Selection *Selection
}

// Summary is the outcome of Run; its JSON form is the last line of the
// JSON output.
type Summary struct {
	Type      string `json:"type"`
	Schema    string `json:"schema"`
	Source    string `json:"source,omitempty"`
	Format    string `json:"format"`
	DigestAlg string `json:"digest_alg"`
	ByteOrder string `json:"byte_order"`
	// Layout of a binary list's records ("plain" or "ns-header"), and
	// whether it was detected rather than given; empty for ASCII lists.
	Layout         string         `json:"layout,omitempty"`
	LayoutDetected bool           `json:"layout_detected,omitempty"`
	Entries        int64          `json:"entries"`
	Selected       int64          `json:"selected"`
	Selection      *Selection     `json:"selection,omitempty"`
	Verify         *VerifySummary `json:"verify,omitempty"`
	// Error is the first problem that stopped reading (a malformed list),
	// with its position.
	Error  string `json:"error,omitempty"`
	Passed bool   `json:"passed"`

	Report *Report `json:"-"`
}

// Selection describes the namespace view.
type Selection struct {
	NS          imansid.ID `json:"ns"`
	Container   string     `json:"container,omitempty"`
	StartIndex  *int64     `json:"start_index,omitempty"`
	Incarnation string     `json:"incarnation,omitempty"`
	// IncarnationsSeen counts the ns_aggregate entries of the id in the list.
	IncarnationsSeen int `json:"incarnations_seen"`
	// Unattributed counts entries without a namespace id in the
	// selection's span (NSFilter.Unattributed): not selected, not dropped
	// silently either.
	Unattributed int64 `json:"unattributed"`
}

// VerifySummary is the JSON form of a Report.
type VerifySummary struct {
	Passed             bool             `json:"passed"`
	Compared           bool             `json:"compared"`
	Matched            bool             `json:"matched"`
	Variant            string           `json:"variant,omitempty"`
	Covered            int64            `json:"covered"`
	Violations         int64            `json:"violations"`
	TemplateMismatches int64            `json:"template_mismatches"`
	BootAggregate      string           `json:"boot_aggregate"`
	PCRs               []PCRSummary     `json:"pcrs"`
	Allowlist          *AllowSummary    `json:"allowlist,omitempty"`
	FailureCount       int64            `json:"failure_count"`
	Failures           []FailureSummary `json:"failures"`
	// TemplateUnchecked counts entries whose template digest was not
	// checked; Unchecked says what was not checked and why. Either keeps
	// Passed false.
	TemplateUnchecked int64              `json:"template_unchecked"`
	Unchecked         []UncheckedSummary `json:"unchecked"`
}

// UncheckedSummary is one check that could not be made; Index is -1 when it
// concerns no entry (a reference bank).
type UncheckedSummary struct {
	Check  string `json:"check"`
	Alg    string `json:"alg,omitempty"`
	Count  int64  `json:"count"`
	Index  int64  `json:"index"`
	Offset *int64 `json:"offset,omitempty"`
	Line   int    `json:"line,omitempty"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason"`
}

// PCRSummary is one replayed PCR.
type PCRSummary struct {
	Bank      string `json:"bank"`
	Variant   string `json:"variant"`
	PCR       int    `json:"pcr"`
	Computed  string `json:"computed"`
	Reference string `json:"reference,omitempty"`
	Match     bool   `json:"match"`
}

// AllowSummary counts allowlist verdicts.
type AllowSummary struct {
	Source  string `json:"source"`
	Checked int64  `json:"checked"`
	Flagged int64  `json:"flagged"`
}

// FailureSummary is one failure; Index is -1 for failures of the whole list.
type FailureSummary struct {
	Index  int64  `json:"index"`
	Offset *int64 `json:"offset,omitempty"`
	Line   int    `json:"line,omitempty"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason"`
}

// ErrSelection marks errors of the selection (a record that does not fit
// the list), as opposed to a malformed list.
var ErrSelection = errors.New("selection")

// Run reads the list from open() once (twice when a padded replay is
// needed), writes the selected entries and returns the summary. The error is
// for failures to read or write and for selection errors (wrapping
// ErrSelection); a malformed list is reported in Summary.Error.
func Run(open func() (io.ReadCloser, error), opt RunOptions) (*Summary, error) {
	first := opt
	auto := opt.Verify && opt.VerifyOptions.Variant == VariantAuto && opt.Reopenable
	if auto {
		first.VerifyOptions.Variant = VariantPerBank
	}
	sum, err := runOnce(open, first, true)
	if err != nil || !auto || sum.Report == nil || sum.Report.Matched || !sum.Report.Compared || sum.Error != "" {
		return sum, err
	}
	if !hasNonSHA1Ref(opt.VerifyOptions.Reference) {
		return sum, nil
	}
	second := opt
	second.VerifyOptions.Variant = VariantPadded
	second.Output = OutputNone
	if opt.Filter != nil {
		f := *opt.Filter
		f.seen, f.active, f.found = 0, false, false
		second.Filter = &f
	}
	padded, err := runOnce(open, second, false)
	if err != nil || padded.Report == nil || !padded.Report.Matched {
		return sum, err // report the per-bank outcome
	}
	sum.Report, sum.Verify, sum.Passed = padded.Report, padded.Verify, padded.Passed && sum.Error == ""
	return sum, nil
}

func hasNonSHA1Ref(s *PCRSet) bool {
	for _, b := range s.Banks {
		if b.Alg != SHA1 && b.Alg.Supported() {
			return true
		}
	}
	return false
}

func runOnce(open func() (io.ReadCloser, error), opt RunOptions, write bool) (*Summary, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r, format, err := NewReader(rc, opt.Format, opt.Read)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Type: "summary", Schema: JSONSchema, Source: opt.Source, Format: format.String()}
	if opt.Selection != nil {
		sel := *opt.Selection
		sum.Selection = &sel
	}
	var v *Verifier
	if opt.Verify {
		if v, err = NewVerifier(opt.VerifyOptions); err != nil {
			return nil, err
		}
	}
	var w *bufio.Writer
	if write && opt.Output != OutputNone && opt.Out != nil {
		w = bufio.NewWriterSize(opt.Out, 64<<10)
	}
	var line []byte
	var lastBank Alg
	var lastOrder ByteOrder
	allow := opt.Verify && opt.VerifyOptions.Allowlist != nil
	var selErr error
	sel := func(e *Entry) (bool, error) {
		sum.Entries++
		lastBank, lastOrder = loggedAlg(e), e.Order()
		if opt.Filter == nil {
			return true, nil
		}
		ok, err := opt.Filter.Match(e)
		if err != nil {
			selErr = err
		}
		return ok, err
	}
	emit := func(e *Entry, chk *EntryCheck, selected bool) error {
		if !selected {
			return nil
		}
		sum.Selected++
		if w == nil {
			return nil
		}
		switch opt.Output {
		case OutputASCII:
			line = AppendASCII(line[:0], e, loggedAlg(e))
		case OutputJSON:
			line = AppendJSON(line[:0], e, chk, allow)
		}
		_, err := w.Write(line)
		return err
	}
	if v != nil {
		err = v.Stream(r, Visitor{Select: sel, Emit: emit})
	} else {
		err = readAll(r, sel, emit)
	}
	if selErr != nil {
		return nil, fmt.Errorf("%w: %v", ErrSelection, selErr)
	}
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) {
			return nil, err
		}
		sum.Error = err.Error()
	}
	if opt.Filter != nil && sum.Error == "" {
		if err := opt.Filter.Done(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSelection, err)
		}
	}
	if opt.Filter != nil && sum.Selection != nil {
		sum.Selection.IncarnationsSeen = opt.Filter.Incarnations()
		sum.Selection.Unattributed = opt.Filter.Unattributed()
	}
	if lastBank == AlgUnknown {
		lastBank = opt.Read.Bank
		if lastBank == AlgUnknown {
			lastBank = SHA1
		}
		lastOrder = opt.Read.Order
	}
	if lastOrder == OrderAuto {
		lastOrder = LittleEndian
	}
	sum.DigestAlg, sum.ByteOrder = lastBank.String(), lastOrder.String()
	if br, ok := r.(*BinaryReader); ok && br.Layout() != LayoutAuto {
		sum.Layout, sum.LayoutDetected = br.Layout().String(), br.LayoutDetected()
	}
	sum.Passed = sum.Error == ""
	if v != nil {
		rep := v.Report()
		sum.Report = rep
		sum.Verify = verifySummary(rep, opt.VerifyOptions.Allowlist)
		sum.Passed = sum.Passed && rep.Passed
	}
	if w != nil {
		if err := w.Flush(); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

func verifySummary(r *Report, al *Allowlist) *VerifySummary {
	vs := &VerifySummary{
		Passed: r.Passed, Compared: r.Compared, Matched: r.Matched, Covered: r.Covered,
		Violations: r.Violations, TemplateMismatches: r.TemplateMismatches, BootAggregate: r.BootAggregate,
		FailureCount: r.FailureCount, PCRs: []PCRSummary{}, Failures: []FailureSummary{},
		TemplateUnchecked: r.TemplateUnchecked, Unchecked: []UncheckedSummary{},
	}
	for _, u := range r.Unchecked {
		us := UncheckedSummary{Check: u.Check, Alg: u.Alg, Count: u.Count, Index: -1, Name: u.Name, Reason: u.Reason}
		if u.HasPos {
			us.Index = u.First.Index
			if u.First.Line > 0 {
				us.Line = u.First.Line
			} else {
				off := u.First.Offset
				us.Offset = &off
			}
		}
		vs.Unchecked = append(vs.Unchecked, us)
	}
	if r.Compared {
		vs.Variant = r.Variant.String()
	}
	for _, p := range r.PCRs {
		ps := PCRSummary{Bank: p.Alg.String(), Variant: p.Variant.String(), PCR: p.PCR, Computed: hex.EncodeToString(p.Computed), Match: p.Match}
		if p.Alg == SHA1 {
			ps.Variant = "sha1"
		}
		if p.Reference != nil {
			ps.Reference = hex.EncodeToString(p.Reference)
		}
		vs.PCRs = append(vs.PCRs, ps)
	}
	if al != nil {
		vs.Allowlist = &AllowSummary{Source: al.Source, Checked: r.AllowChecked, Flagged: r.AllowFlagged}
	}
	for _, f := range r.Failures {
		fs := FailureSummary{Index: -1, Reason: f.Reason, Name: f.Name}
		if f.HasPos {
			fs.Index = f.Pos.Index
			if f.Pos.Line > 0 {
				fs.Line = f.Pos.Line
			} else {
				off := f.Pos.Offset
				fs.Offset = &off
			}
		}
		vs.Failures = append(vs.Failures, fs)
	}
	return vs
}

func readAll(r Reader, sel func(*Entry) (bool, error), emit func(*Entry, *EntryCheck, bool) error) error {
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		ok, err := sel(e)
		if err != nil {
			return err
		}
		if err := emit(e, nil, ok); err != nil {
			return err
		}
	}
}
