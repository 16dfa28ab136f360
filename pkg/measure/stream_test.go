package measure_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/measure/listgen"
)

type seen struct {
	pos  measure.Position
	name string
	bin  string
	chk  measure.EntryCheck
	sel  bool
}

// sequential runs Add entry by entry; streamed runs Stream. Both must see
// the same entries, verdicts and report.
func sequential(t *testing.T, list []byte, opt measure.VerifyOptions, rd measure.ReadOptions) ([]seen, *measure.Report, error) {
	v, err := measure.NewVerifier(opt)
	if err != nil {
		t.Fatal(err)
	}
	r := measure.NewBinaryReader(bytes.NewReader(list), rd)
	var out []seen
	for i := 0; ; i++ {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, v.Report(), nil
		}
		if err != nil {
			return out, v.Report(), err
		}
		sel := i%3 == 0
		chk := v.Add(e, sel)
		out = append(out, seen{e.Pos, e.EventName(), string(measure.AppendBinary(nil, e, measure.WriteOptions{})), chk, sel})
	}
}

func streamed(t *testing.T, list []byte, opt measure.VerifyOptions, rd measure.ReadOptions) ([]seen, *measure.Report, error) {
	v, err := measure.NewVerifier(opt)
	if err != nil {
		t.Fatal(err)
	}
	var out []seen
	i := 0
	err = v.Stream(measure.NewBinaryReader(bytes.NewReader(list), rd), measure.Visitor{
		Select: func(e *measure.Entry) (bool, error) { i++; return (i-1)%3 == 0, nil },
		Emit: func(e *measure.Entry, chk *measure.EntryCheck, sel bool) error {
			out = append(out, seen{e.Pos, e.EventName(), string(measure.AppendBinary(nil, e, measure.WriteOptions{})), *chk, sel})
			return nil
		},
	})
	return out, v.Report(), err
}

func compareRuns(t *testing.T, list []byte, opt measure.VerifyOptions, rd measure.ReadOptions) {
	t.Helper()
	a, ra, ea := sequential(t, list, opt, rd)
	b, rb, eb := streamed(t, list, opt, rd)
	if fmt.Sprint(ea) != fmt.Sprint(eb) {
		t.Fatalf("errors differ: %v / %v", ea, eb)
	}
	if len(a) != len(b) {
		t.Fatalf("%d entries sequentially, %d streamed", len(a), len(b))
	}
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("entry %d differs:\n%+v\n%+v", i, a[i], b[i])
		}
	}
	if !reflect.DeepEqual(ra, rb) {
		t.Fatalf("reports differ:\n%+v\n%+v", ra, rb)
	}
}

func TestStreamMatchesAdd(t *testing.T) {
	forLayouts(t, testStreamMatchesAdd)
}

func testStreamMatchesAdd(t *testing.T, l measure.Layout) {
	g := generateIn(t, listgen.Spec{Entries: 5000, Violations: 9, Namespaces: 5, Seed: 31}, l)
	al := allowlistFor(t, g.bin)
	compareRuns(t, g.bin, measure.VerifyOptions{Reference: g.res.PCRs, Allowlist: al}, measure.ReadOptions{})
	compareRuns(t, g.bin256, measure.VerifyOptions{Reference: g.res.PCRs}, measure.ReadOptions{Bank: measure.SHA256})
	compareRuns(t, g.bin, measure.VerifyOptions{}, measure.ReadOptions{})

	// Tampered: template mismatches and a broken chain.
	bad := bytes.Clone(g.bin)
	offs := entryOffsets(t, g.bin)
	for i := 100; i < 4000; i += 700 {
		bad[offs[i]+60+hdr(l)] ^= 0x20 // inside the d-ng digest
	}
	compareRuns(t, bad, measure.VerifyOptions{Reference: g.res.PCRs}, measure.ReadOptions{})
	// Malformed in the middle: same entries before the error, same error.
	compareRuns(t, g.bin[:offs[2345]+7], measure.VerifyOptions{Reference: g.res.PCRs}, measure.ReadOptions{})
}

func allowlistFor(t *testing.T, list []byte) *measure.Allowlist {
	es := readAll(t, measure.NewBinaryReader(bytes.NewReader(list), measure.ReadOptions{}))
	var b bytes.Buffer
	b.WriteString(`{"digests": {`)
	for i, e := range es[:len(es)/2] {
		_, sum, _ := e.FileDigest()
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q: [%q]", e.EventName(), hexs(sum))
	}
	b.WriteString(`}, "excludes": ["/usr/lib/x86_64-linux-gnu/pkg1/"]}`)
	a, err := measure.ParseAllowlist(&b, "gen")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Entries larger than a batch's arena, legacy "ima" entries and ima-buf
// entries cross batch boundaries correctly.
func TestStreamLargeAndLegacy(t *testing.T) {
	forLayouts(t, testStreamLargeAndLegacy)
}

func testStreamLargeAndLegacy(t *testing.T, l measure.Layout) {
	var list []byte
	for i := 0; i < 1500; i++ {
		var e *measure.Entry
		var err error
		switch {
		case i%500 == 7:
			e, err = measure.NewEntry(10, "ima-buf", []measure.Field{{Data: append([]byte("sha256:\x00"), make([]byte, 32)...)}, {Data: []byte("big\x00")}, {Data: bytes.Repeat([]byte{byte(i)}, 300<<10)}})
		case i%3 == 0:
			e, err = measure.NewEntry(10, "ima", []measure.Field{{Data: bytes.Repeat([]byte{byte(i)}, 20)}, {Data: []byte(fmt.Sprintf("/bin/%d", i))}})
		default:
			e, err = measure.NewNGEntry(uint32(10+i%2), "sha1", bytes.Repeat([]byte{byte(i)}, 20), fmt.Sprintf("/x/%d", i))
		}
		if err != nil {
			t.Fatal(err)
		}
		list = measure.AppendBinary(list, e, wopt(l))
	}
	rd := measure.ReadOptions{Limits: measure.Limits{MaxTemplateData: 1 << 20}}
	compareRuns(t, list, measure.VerifyOptions{}, rd)
}

func TestStreamStopsOnVisitorError(t *testing.T) {
	g := generate(t, listgen.Spec{Entries: 20000, Seed: 32})
	before := runtime.NumGoroutine()
	v, _ := measure.NewVerifier(measure.VerifyOptions{})
	stop := errors.New("stop")
	n := 0
	err := v.Stream(measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{}), measure.Visitor{
		Emit: func(*measure.Entry, *measure.EntryCheck, bool) error {
			n++
			if n == 1000 {
				return stop
			}
			return nil
		},
	})
	if !errors.Is(err, stop) || n != 1000 {
		t.Fatalf("err %v after %d entries", err, n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines left running (before: %d)", g, before)
	}
}

func TestStreamTamperedCounts(t *testing.T) {
	forLayouts(t, testStreamTamperedCounts)
}

func testStreamTamperedCounts(t *testing.T, l measure.Layout) {
	g := generateIn(t, listgen.Spec{Entries: 3000, Seed: 33}, l)
	bad := bytes.Clone(g.bin)
	offs := entryOffsets(t, g.bin)
	for i := 100; i < 2800; i += 700 {
		bad[offs[i]+60+hdr(l)] ^= 0x20
	}
	_, rep, err := streamed(t, bad, measure.VerifyOptions{Reference: g.res.PCRs}, measure.ReadOptions{})
	if err != nil || rep.TemplateMismatches != 4 || rep.Failures[0].Pos.Index != 100 || rep.Passed {
		t.Fatalf("err %v, mismatches %d, failures %v", err, rep.TemplateMismatches, rep.Failures)
	}
}
