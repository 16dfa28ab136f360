package measure

import (
	"strings"
	"testing"
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
	for _, id := range []uint32{0, 1, 4026532329, 0xffffffff} {
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
