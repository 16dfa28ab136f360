package measure_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/measure/listgen"
)

func filterAll(t *testing.T, list []byte, f *measure.NSFilter) ([]*measure.Entry, error) {
	t.Helper()
	r := measure.NewBinaryReader(bytes.NewReader(list), measure.ReadOptions{})
	var out []*measure.Entry
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, f.Done()
		}
		if err != nil {
			t.Fatal(err)
		}
		ok, err := f.Match(e)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, e.Clone())
		}
	}
}

func TestNSFilter(t *testing.T) {
	forLayouts(t, testNSFilter)
}

func testNSFilter(t *testing.T, l measure.Layout) {
	g := generateIn(t, listgen.Spec{Entries: 4000, Namespaces: 4, Violations: 6, Seed: 11}, l)
	nss := g.res.Namespaces
	if len(nss) != 4 || nss[0].ID != nss[3].ID || nss[0].Ended < 0 {
		t.Fatalf("generator layout %+v", nss)
	}
	for i, ns := range nss {
		got, err := filterAll(t, g.bin, measure.NewNSFilter(ns.ID, ns.AggregateIndex, 0))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != ns.Entries {
			t.Errorf("namespace %d (id %d at %d): %d entries, want %d", i, ns.ID, ns.AggregateIndex, len(got), ns.Entries)
		}
		if got[0].Pos.Index != ns.AggregateIndex || got[0].EventName() != measure.NSAggregateName(ns.ID) {
			t.Errorf("namespace %d starts with %v %q", i, got[0].Pos, got[0].EventName())
		}
		for _, e := range got {
			if id, ok := e.NSID(); !ok || id != ns.ID {
				t.Fatalf("foreign entry %v in namespace %d", e.Pos, ns.ID)
			}
			if ns.Ended >= 0 && e.Pos.Index > ns.Ended {
				t.Fatalf("entry %v after the namespace ended at %d", e.Pos, ns.Ended)
			}
		}
	}
	// By incarnation: the reused id has two.
	id := nss[0].ID
	first, _ := filterAll(t, g.bin, measure.NewNSFilter(id, -1, 1))
	second, _ := filterAll(t, g.bin, measure.NewNSFilter(id, -1, 2))
	all, _ := filterAll(t, g.bin, measure.NewNSFilter(id, -1, 0))
	if len(first) != nss[0].Entries || len(second) != nss[3].Entries || len(all) != len(first)+len(second) {
		t.Errorf("incarnations: %d, %d, all %d", len(first), len(second), len(all))
	}
	if _, err := filterAll(t, g.bin, measure.NewNSFilter(id, -1, 3)); err == nil {
		t.Error("a third incarnation was found")
	}
	idx, err := measure.FindAggregates(measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{}), id)
	if err != nil || len(idx) != 2 || idx[0] != nss[0].AggregateIndex || idx[1] != nss[3].AggregateIndex {
		t.Errorf("FindAggregates = %v, %v", idx, err)
	}
	// A record from another boot points at an entry that is not the aggregate.
	_, err = filterAll(t, g.bin, measure.NewNSFilter(id, 5, 0))
	if err == nil || !strings.Contains(err.Error(), "another list or boot") {
		t.Errorf("wrong aggregate index: %v", err)
	}
	_, err = filterAll(t, g.bin, measure.NewNSFilter(id, 1<<40, 0))
	if err == nil || !strings.Contains(err.Error(), "list ends") {
		t.Errorf("aggregate index past the end: %v", err)
	}
}

// The filtered view is what the namespace itself shows: rendering it gives
// the namespace's own ascii_runtime_measurements.
func TestNSFilterView(t *testing.T) {
	forLayouts(t, testNSFilterView)
}

func testNSFilterView(t *testing.T, l measure.Layout) {
	g := generateIn(t, listgen.Spec{Entries: 600, Namespaces: 2, Seed: 12}, l)
	ns := g.res.Namespaces[1]
	got, err := filterAll(t, g.bin, measure.NewNSFilter(ns.ID, ns.AggregateIndex, 0))
	if err != nil {
		t.Fatal(err)
	}
	var view []byte
	for _, e := range got {
		view = measure.AppendASCII(view, e, measure.SHA1)
	}
	var want []byte
	for i, line := range bytes.SplitAfter(g.ascii, []byte("\n")) {
		// this id was used before: the earlier namespace's lines come first
		if int64(i) >= ns.AggregateIndex && bytes.HasSuffix(line, []byte(" "+nsHex(uint32(ns.ID))+"\n")) {
			want = append(want, line...)
		}
	}
	if !bytes.Equal(view, want) {
		t.Errorf("view differs from the grep of the host list:\n%s\n---\n%s", view, want)
	}
}

func nsHex(id uint32) string {
	return strings.ToLower(string([]byte{
		hexd(id >> 4 & 0xf), hexd(id & 0xf), hexd(id >> 12 & 0xf), hexd(id >> 8 & 0xf),
		hexd(id >> 20 & 0xf), hexd(id >> 16 & 0xf), hexd(id >> 28), hexd(id >> 24 & 0xf)}))
}

func hexd(v uint32) byte { return "0123456789abcdef"[v] }

// On the newest openEuler code a namespace's entries and its aggregate use
// the host's template: with ima-ng they carry no ns field. A filter by id
// then finds only the aggregate; what it cannot attribute must be counted,
// never dropped silently. Entries before the aggregate (the host's boot
// measurements) and after the next aggregate of the id are outside the span.
func TestNSFilterCountsUnattributableEntries(t *testing.T) {
	const id = 4026532329
	digest := bytes.Repeat([]byte{7}, 32)
	var list []byte
	add := func(e *measure.Entry, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		list = measure.AppendBinary(list, e, measure.WriteOptions{})
	}
	add(measure.NewNGEntry(10, "sha256", digest, "/host/before"))
	add(measure.NewNSAggregate(id, "ima-ng"))
	add(measure.NewNGEntry(10, "sha256", digest, "/ctr/a"))
	add(measure.NewNGEntry(10, "sha256", digest, "/ctr/b"))
	add(measure.NewNSEntry(10, "sha256", digest, "/other-ns", id+1))
	add(measure.NewNSEntry(10, "sha256", digest, "/tagged", id))
	add(measure.NewNGEntry(10, "sha256", digest, "/ctr/c"))
	add(measure.NewNSAggregate(id, "ima-ng")) // the id's next life
	add(measure.NewNGEntry(10, "sha256", digest, "/next-life"))

	f := measure.NewNSFilter(id, 1, 0)
	got, err := filterAll(t, list, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].EventName() != "/tagged" {
		t.Fatalf("selected %d entries, want the aggregate and /tagged", len(got))
	}
	if n := f.Unattributed(); n != 3 {
		t.Fatalf("unattributed %d, want 3 (/ctr/a, /ctr/b, /ctr/c)", n)
	}
	// Every life of the id (entries with the id are selected even before
	// the first aggregate): all five entries without an id count.
	all := measure.NewNSFilter(id, -1, 0)
	if _, err := filterAll(t, list, all); err != nil {
		t.Fatal(err)
	}
	if n := all.Unattributed(); n != 5 {
		t.Fatalf("all lives: unattributed %d, want 5", n)
	}
	// An ima-ns list has nothing unattributable.
	g := generate(t, listgen.Spec{Entries: 500, Namespaces: 2, Seed: 3})
	ns0 := g.res.Namespaces[0]
	nsf := measure.NewNSFilter(ns0.ID, ns0.AggregateIndex, 0)
	if _, err := filterAll(t, g.bin, nsf); err != nil {
		t.Fatal(err)
	}
	if nsf.Unattributed() != 0 {
		t.Fatalf("ima-ns list: %d unattributed", nsf.Unattributed())
	}
}
