package measure

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

func TestNSLifeStart(t *testing.T) {
	aggs := []int64{3, 10, 42}
	for _, c := range []struct {
		aggs  []int64
		start int64
		want  int64
	}{
		{aggs, -1, 42}, // not noted: the last life
		{aggs, 0, 3},   // noted before every aggregate: the first
		{aggs, 3, 3},   // the aggregate may sit exactly at the noted length
		{aggs, 4, 10},  // an earlier namespace with the id is skipped
		{aggs, 43, -1}, // activated after the list was read: none yet
		{nil, -1, -1},  // no aggregate at all
		{nil, 0, -1},
	} {
		if got := NSLifeStart(c.aggs, c.start); got != c.want {
			t.Errorf("NSLifeStart(%v, %d) = %d, want %d", c.aggs, c.start, got, c.want)
		}
	}
}

func TestParseNSAggregateName(t *testing.T) {
	for _, id := range []imansid.ID{0, 1, 4026532329, 0xffffffff} {
		got, ok := ParseNSAggregateName(NSAggregateName(id))
		if !ok || got != id {
			t.Errorf("%s: %d %v", NSAggregateName(id), got, ok)
		}
	}
	for _, name := range []string{"", "ns_aggregate_", "ns_aggregate_x", "ns_aggregate_01", "ns_aggregate_4294967296",
		"ns_aggregate_12345678901", "boot_aggregate", "NS_aggregate_1", "ns_aggregate_1 "} {
		if _, ok := ParseNSAggregateName(name); ok {
			t.Errorf("%q parsed", name)
		}
	}
}

func FuzzParseNSAggregateName(f *testing.F) {
	f.Add("ns_aggregate_4026532329")
	f.Add("ns_aggregate_0")
	f.Add("ns_aggregate_")
	f.Fuzz(func(t *testing.T, name string) {
		id, ok := ParseNSAggregateName(name)
		if ok != (NSAggregateName(id) == name) {
			t.Fatalf("%q: parsed %d %v, but the name of %d is %q", name, id, ok, id, NSAggregateName(id))
		}
		if ok && !strings.HasPrefix(name, nsAggregatePrefix) {
			t.Fatalf("%q accepted", name)
		}
	})
}

// twoLives is a host list where namespace 7 lived twice (its id reused):
// aggregates at 1 and 4, another namespace's at 3, and a truncated tail
// when broken is set.
func twoLives(t *testing.T, broken bool) func() (io.ReadCloser, error) {
	t.Helper()
	var list []byte
	add := func(e *Entry, err error) {
		if err != nil {
			t.Fatal(err)
		}
		list = AppendBinary(list, e, WriteOptions{})
	}
	add(NewNSEntry(10, "sha256", bytes.Repeat([]byte{1}, 32), "/host", 0))
	add(NewNSAggregate(7, "ima-ns"))
	add(NewNSEntry(10, "sha256", bytes.Repeat([]byte{2}, 32), "/a", 7))
	add(NewNSAggregate(8, "ima-ns"))
	add(NewNSAggregate(7, "ima-ns"))
	if broken {
		list = append(list, 10, 0, 0) // a record cut short
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(list)), nil }
}

func TestLivesInAList(t *testing.T) {
	open := twoLives(t, false)
	if aggs, err := AggregatesIn(open, AutoFormat, ReadOptions{}, 7); err != nil || !reflect.DeepEqual(aggs, []int64{1, 4}) {
		t.Fatalf("AggregatesIn = %v, %v", aggs, err)
	}
	for _, c := range []struct{ listStart, want int64 }{{-1, 4}, {0, 1}, {2, 4}, {5, -1}} {
		if got, err := LifeStartIn(open, BinaryList, ReadOptions{}, 7, c.listStart); err != nil || got != c.want {
			t.Errorf("LifeStartIn(listStart %d) = %d, %v; want %d", c.listStart, got, err, c.want)
		}
	}
	for _, c := range []struct {
		index int64
		id    imansid.ID
		want  bool
	}{{1, 7, true}, {4, 7, true}, {3, 7, false}, {3, 8, true}, {2, 7, false}, {9, 7, false}} {
		if got := AggregateAt(open, BinaryList, ReadOptions{}, c.index, c.id); got != c.want {
			t.Errorf("AggregateAt(%d, %d) = %v", c.index, c.id, got)
		}
	}
	// A malformed list: the aggregates before the fault and the FormatError.
	aggs, err := AggregatesIn(twoLives(t, true), BinaryList, ReadOptions{}, 7)
	var fe *FormatError
	if !errors.As(err, &fe) || !reflect.DeepEqual(aggs, []int64{1, 4}) {
		t.Fatalf("malformed list: %v, %v", aggs, err)
	}
	if _, err := LifeStartIn(twoLives(t, true), BinaryList, ReadOptions{}, 7, 0); !errors.As(err, &fe) {
		t.Fatalf("LifeStartIn on a malformed list: %v", err)
	}
	failing := func() (io.ReadCloser, error) { return nil, fs.ErrPermission }
	if _, err := AggregatesIn(failing, BinaryList, ReadOptions{}, 7); !errors.Is(err, fs.ErrPermission) || AggregateAt(failing, BinaryList, ReadOptions{}, 1, 7) {
		t.Fatalf("an unreadable list: %v", err)
	}
}

func TestBankUnchecked(t *testing.T) {
	v := &VerifySummary{Unchecked: []UncheckedSummary{{Check: "template digests"}}}
	if v.BankUnchecked() {
		t.Fatal("template digests are not a bank")
	}
	v.Unchecked = append(v.Unchecked, UncheckedSummary{Check: "pcr bank", Alg: "sm3"})
	if !v.BankUnchecked() {
		t.Fatal("an unreplayed bank not reported")
	}
}
