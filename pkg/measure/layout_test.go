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

// The binary record layout is detected from the list, never assumed
// (issue 11.3): the 2020 RFC puts a u32 namespace id after the PCR.
func TestLayoutDetection(t *testing.T) {
	forLayouts(t, func(t *testing.T, l measure.Layout) {
		for _, tmpl := range []string{"ima-ns", "ima-ng"} {
			g := generateIn(t, listgen.Spec{Entries: 40, Template: tmpl, Namespaces: 2, Violations: 1, Seed: 40}, l)
			for name, c := range map[string]struct {
				list []byte
				bank measure.Alg
			}{"sha1": {g.bin, measure.SHA1}, "sha256": {g.bin256, measure.SHA256}} {
				for _, eof := range []bool{true, false} {
					got, ok, err := measure.DetectLayout(c.list, eof, measure.OrderAuto, c.bank, measure.Limits{})
					if err != nil || !ok || got != l {
						t.Errorf("%s %s eof=%v: %v %v %v", tmpl, name, eof, got, ok, err)
					}
				}
				// The first record alone, and a window cut inside it.
				r := measure.NewBinaryReader(bytes.NewReader(c.list), measure.ReadOptions{Bank: c.bank})
				r.Next()
				if got, ok, err := measure.DetectLayout(c.list[:r.Offset()], true, measure.OrderAuto, c.bank, measure.Limits{}); err != nil || !ok || got != l {
					t.Errorf("%s %s one record: %v %v %v", tmpl, name, got, ok, err)
				}
			}
		}
	})
}

func TestLayoutDetectionEdges(t *testing.T) {
	g := generate(t, listgen.Spec{Entries: 30, Seed: 41})
	// Empty list: nothing to decide, nothing to read.
	if l, ok, err := measure.DetectLayout(nil, true, measure.OrderAuto, measure.SHA1, measure.Limits{}); l != measure.LayoutPlain || !ok || err != nil {
		t.Errorf("empty: %v %v %v", l, ok, err)
	}
	r := measure.NewBinaryReader(bytes.NewReader(nil), measure.ReadOptions{})
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("empty list: %v", err)
	}
	// A window that ends before either layout's template name cannot
	// decide: ambiguous, and the error names the option.
	_, _, err := measure.DetectLayout(g.bin[:20], false, measure.OrderAuto, measure.SHA1, measure.Limits{})
	if !errors.Is(err, measure.ErrLayoutAmbiguous) {
		t.Errorf("short window: %v", err)
	}
	// Garbage fits neither: the reader reports where the list breaks and
	// says that neither layout fits.
	junk := append([]byte{10, 0, 0, 0}, bytes.Repeat([]byte{0xff}, 60)...)
	_, err = readErr(junk)
	var fe *measure.FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "neither the plain nor the ns-header") {
		t.Errorf("junk: %v", err)
	}
	// A list truncated inside its first record fits neither either.
	if _, ok, _ := measure.DetectLayout(g.bin[:50], true, measure.OrderAuto, measure.SHA1, measure.Limits{}); ok {
		t.Error("a record cut by the end of the list fits")
	}
	// A forced layout is used as given, not detected.
	br := measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{Layout: measure.LayoutPlain})
	if n := len(readAll(t, br)); n != 30 || br.LayoutDetected() || br.Layout() != measure.LayoutPlain {
		t.Errorf("forced plain: %d entries, detected %v", n, br.LayoutDetected())
	}
}

func TestParseLayout(t *testing.T) {
	for s, want := range map[string]measure.Layout{"": measure.LayoutAuto, "auto": measure.LayoutAuto, "plain": measure.LayoutPlain, "ns-header": measure.LayoutNSHeader} {
		if got, err := measure.ParseLayout(s); err != nil || got != want {
			t.Errorf("%q: %v %v", s, got, err)
		}
	}
	if _, err := measure.ParseLayout("rfc2020"); err == nil {
		t.Error("unknown layout accepted")
	}
}

// FuzzDetectLayout: no panic; when the whole list is given and one layout
// fits, the reader in that layout reads the records detection looked at,
// and the reader in the other layout fails on them (detection never picks
// a layout the reader rejects, nor hides an ambiguity).
func FuzzDetectLayout(f *testing.F) {
	for _, l := range layouts {
		var bin, bin256 bytes.Buffer
		listgen.Generate(listgen.Writers{Binary: &bin, BinarySHA256: &bin256}, listgen.Spec{Entries: 5, Namespaces: 1, Seed: 42, NSHeader: l == measure.LayoutNSHeader})
		f.Add(bin.Bytes(), true, false)
		f.Add(bin256.Bytes(), true, true)
		f.Add(bin.Bytes()[:40], false, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, eof, sha256 bool) {
		bank := measure.SHA1
		if sha256 {
			bank = measure.SHA256
		}
		l, ok, err := measure.DetectLayout(data, eof, measure.OrderAuto, bank, fuzzLimits)
		if err != nil {
			if !errors.Is(err, measure.ErrLayoutAmbiguous) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if !eof || !ok || len(data) == 0 {
			return
		}
		read := func(l measure.Layout) (int, error) {
			r := measure.NewBinaryReader(bytes.NewReader(data), measure.ReadOptions{Layout: l, Bank: bank, Limits: fuzzLimits})
			for n := 0; n < 16; n++ {
				if _, err := r.Next(); err != nil {
					if errors.Is(err, io.EOF) {
						return n, nil
					}
					return n, err
				}
			}
			return 16, nil
		}
		if n, err := read(l); err != nil {
			t.Fatalf("detected %v, but the reader fails after %d records: %v", l, n, err)
		}
		other := measure.LayoutPlain
		if l == measure.LayoutPlain {
			other = measure.LayoutNSHeader
		}
		if _, err := read(other); err == nil {
			t.Fatalf("detected %v, but %v reads the same records too: ambiguity not reported", l, other)
		}
	})
}
