package measure

import (
	"io"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// A namespace's life in the host list. The kernel hands a dead namespace's
// id to the next one (ns_alloc_inum), and the host list keeps every earlier
// namespace's entries, so one id can head several lives: each begins at its
// own ns_aggregate_<id> entry, logged when the namespace becomes active
// (ima_ns_add_boot_aggregate).

// NSLifeStart picks the aggregate that starts a namespace's life among
// aggregates, the indexes of every ns_aggregate_<id> entry of the host list
// in list order (FindAggregates). listStart is the list's length noted just
// before the namespace was created: its aggregate is the first one at or
// after it, since any earlier namespace with the id was activated before.
// With listStart < 0 (not noted) the last aggregate is taken. The result is
// -1 when there is no such aggregate.
func NSLifeStart(aggregates []int64, listStart int64) int64 {
	if listStart < 0 {
		if len(aggregates) == 0 {
			return -1
		}
		return aggregates[len(aggregates)-1]
	}
	for _, a := range aggregates {
		if a >= listStart {
			return a
		}
	}
	return -1
}

// ParseNSAggregateName returns the namespace id named by an aggregate's
// event name, ns_aggregate_<id> with <id> in canonical decimal; ok is false
// for any other name.
func ParseNSAggregateName(name string) (id imansid.ID, ok bool) {
	return parseNSAggregate(name)
}

func parseNSAggregate[T string | []byte](name T) (imansid.ID, bool) {
	if len(name) <= len(nsAggregatePrefix) {
		return 0, false
	}
	for i := 0; i < len(nsAggregatePrefix); i++ {
		if name[i] != nsAggregatePrefix[i] {
			return 0, false
		}
	}
	digits := name[len(nsAggregatePrefix):]
	if len(digits) > 10 || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if v > 0xffffffff {
		return 0, false
	}
	return imansid.ID(v), true
}

// AggregatesIn reads the list that open gives from its start (format and
// ro as for NewReader) and returns the index of every ns_aggregate_<id>
// entry in list order: the lives of namespace id in that list. On a
// malformed list it returns the aggregates before the fault and the
// FormatError.
func AggregatesIn(open func() (io.ReadCloser, error), format Format, ro ReadOptions, id imansid.ID) ([]int64, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r, _, err := NewReader(rc, format, ro)
	if err != nil {
		return nil, err
	}
	return FindAggregates(r, id)
}

// LifeStartIn is NSLifeStart over the aggregates of the list open gives
// (AggregatesIn): the index of the entry that starts namespace id's life
// noted at listStart (the last life with listStart < 0), -1 when the list
// has none.
func LifeStartIn(open func() (io.ReadCloser, error), format Format, ro ReadOptions, id imansid.ID, listStart int64) (int64, error) {
	aggs, err := AggregatesIn(open, format, ro, id)
	if err != nil {
		return -1, err
	}
	return NSLifeStart(aggs, listStart), nil
}

// AggregateAt reports whether entry index of the list open gives is
// ns_aggregate_<id>: whether a life recorded at that index is still in the
// list (the list of another boot has other entries there). Any failure to
// read that far is a no.
func AggregateAt(open func() (io.ReadCloser, error), format Format, ro ReadOptions, index int64, id imansid.ID) bool {
	rc, err := open()
	if err != nil {
		return false
	}
	defer rc.Close()
	r, _, err := NewReader(rc, format, ro)
	if err != nil {
		return false
	}
	for {
		e, err := r.Next()
		if err != nil {
			return false
		}
		if e.Pos.Index == index {
			got, ok := e.NSAggregate()
			return ok && got == id
		}
	}
}
