package measure

import (
	"errors"
	"fmt"
	"io"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// NSFilter selects one IMA namespace's entries from the host list, in the
// order the namespace itself would show them: from its ns_aggregate_<id>
// entry (which ima_ns_add_boot_aggregate logs when the namespace becomes
// active) through every entry whose ns field is the id, up to the next
// ns_aggregate_<id>. The kernel reuses ids once a namespace is gone, so an
// id alone may name several namespaces in one list ("incarnations"); each
// began after its predecessor ended.
type NSFilter struct {
	NS imansid.ID
	// Start is the index of the namespace's aggregate entry (a hook
	// record's AggregateIndex); -1 selects by Incarnation instead.
	Start int64
	// Incarnation: 0 selects every namespace that had the id (and entries
	// with the id logged before any aggregate), n >= 1 the n-th one.
	Incarnation int

	seen   int
	active bool
	found  bool
	last   int64
	// unattributed counts entries inside the selection's span that carry
	// no namespace id (see Unattributed).
	unattributed int64
}

// NewNSFilter returns a filter; see the field comments.
func NewNSFilter(ns imansid.ID, start int64, incarnation int) *NSFilter {
	return &NSFilter{NS: ns, Start: start, Incarnation: incarnation, last: -1}
}

// Match reports whether e, the next entry of the list, belongs to the
// selected namespace. Entries must come in list order.
func (f *NSFilter) Match(e *Entry) (bool, error) {
	f.last = e.Pos.Index
	if id, ok := e.NSAggregate(); ok && id == f.NS {
		f.seen++
		switch {
		case f.Start >= 0:
			f.active = e.Pos.Index == f.Start
			f.found = f.found || f.active
		case f.Incarnation == 0:
			f.active = true
		default:
			f.active = f.seen == f.Incarnation
		}
		return f.active, nil
	}
	if f.Start >= 0 && e.Pos.Index == f.Start {
		return false, fmt.Errorf("%s is %q, not %s: the record belongs to another list or boot",
			e.Pos, e.EventName(), NSAggregateName(f.NS))
	}
	ns, ok := e.NSID()
	if !ok {
		if f.active || (f.seen == 0 && f.Start < 0 && f.Incarnation == 0) {
			f.unattributed++
		}
		return false, nil
	}
	if ns != f.NS {
		return false, nil
	}
	if f.seen == 0 {
		return f.Start < 0 && f.Incarnation == 0, nil
	}
	return f.active, nil
}

// Done reports problems only visible at the end of the list.
func (f *NSFilter) Done() error {
	if f.Start >= 0 && !f.found {
		return fmt.Errorf("the list ends at entry %d, before entry %d where %s should be: the record belongs to another list or boot",
			f.last, f.Start, NSAggregateName(f.NS))
	}
	if f.Incarnation > 0 && f.seen < f.Incarnation {
		return fmt.Errorf("namespace %d has %d ns_aggregate entries in the list, incarnation %d does not exist", f.NS, f.seen, f.Incarnation)
	}
	return nil
}

// Unattributed is how many entries, while the selected namespace was
// active in the list (from its ns_aggregate on; with Incarnation 0 also
// before any), carried no namespace id: logged with a template without an
// ns field (the newest openEuler code logs a namespace's entries with the
// host's template, ima-ng unless the host boots with
// ima_template=ima-ns). Any of them may be the namespace's; a filter by id
// cannot tell, so callers must say so rather than show a short view as
// complete.
func (f *NSFilter) Unattributed() int64 { return f.unattributed }

// Incarnations is how many aggregates of the id were seen so far.
func (f *NSFilter) Incarnations() int { return f.seen }

// FindAggregates reads r to its end and returns the indexes of the
// ns_aggregate_<ns> entries: a first pass for callers that want the last
// namespace with a reused id and do not know where it starts.
func FindAggregates(r Reader, ns imansid.ID) ([]int64, error) {
	var idx []int64
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return idx, nil
		}
		if err != nil {
			return idx, err
		}
		if id, ok := e.NSAggregate(); ok && id == ns {
			idx = append(idx, e.Pos.Index)
		}
	}
}
