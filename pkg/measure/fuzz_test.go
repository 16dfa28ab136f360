package measure_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/measure/listgen"
)

// fuzzLimits keep the fuzzer's allocations small; the code paths are the
// same as with the defaults.
var fuzzLimits = measure.Limits{MaxTemplateData: 4096}

func seedLists(f *testing.F) genList {
	var bin, asc bytes.Buffer
	_, err := listgen.Generate(listgen.Writers{Binary: &bin, ASCII: &asc}, listgen.Spec{Entries: 8, Namespaces: 2, Violations: 1, Seed: 77})
	if err != nil {
		f.Fatal(err)
	}
	return genList{bin: bin.Bytes(), ascii: asc.Bytes()}
}

// FuzzBinary: no panic on any input; every entry that parses re-encodes to
// exactly the bytes it was read from; its ascii rendering, when the ascii
// reader accepts it, renders again the same; the verifier takes it.
func FuzzBinary(f *testing.F) {
	g := seedLists(f)
	f.Add(g.bin, false)
	for _, line := range []string{exAggregateBinHex, exLegacy()} {
		b, _ := hex.DecodeString(line)
		f.Add(b, false)
	}
	var rfc bytes.Buffer
	listgen.Generate(listgen.Writers{Binary: &rfc}, listgen.Spec{Entries: 6, Namespaces: 1, Seed: 5, NSHeader: true})
	f.Add(rfc.Bytes(), true)
	f.Fuzz(func(t *testing.T, data []byte, nsHeader bool) {
		// nsHeader forces the RFC layout; otherwise the reader detects it.
		layout := measure.LayoutAuto
		if nsHeader {
			layout = measure.LayoutNSHeader
		}
		// A small buffer exercises reads across buffer boundaries.
		r := measure.NewBinaryReader(bufio.NewReaderSize(bytes.NewReader(data), 16), measure.ReadOptions{Limits: fuzzLimits, Layout: layout})
		v, err := measure.NewVerifier(measure.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			start := r.Offset()
			e, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var fe *measure.FormatError
				if !errors.As(err, &fe) || fe.Offset < start || fe.Offset > int64(len(data)) {
					t.Fatalf("error %v (want a FormatError between %d and %d)", err, start, len(data))
				}
				return
			}
			got := measure.AppendBinary(nil, e, measure.WriteOptions{Order: r.Order(), NSHeader: r.Layout() == measure.LayoutNSHeader})
			if !bytes.Equal(got, data[start:r.Offset()]) {
				t.Fatalf("entry at %d re-encodes to\n%x\nread from\n%x", start, got, data[start:r.Offset()])
			}
			v.Add(e, true)
			measure.AppendJSON(nil, e, nil, false)
			line := measure.AppendASCII(nil, e, measure.SHA1)
			if back, err := measure.NewASCIIReader(bufio.NewReaderSize(bytes.NewReader(line), 16), measure.ReadOptions{Limits: fuzzLimits, Order: r.Order()}).Next(); err == nil {
				if again := measure.AppendASCII(nil, back, measure.SHA1); !bytes.Equal(again, line) {
					t.Fatalf("ascii rendering not stable:\n%q\n%q", line, again)
				}
			}
		}
	})
}

// FuzzASCII: no panic; errors carry the line; every line that parses is
// exactly the kernel rendering of the entry it parsed to.
func FuzzASCII(f *testing.F) {
	g := seedLists(f)
	f.Add(string(g.ascii))
	f.Add(exAggregateLine + exBashLine + exAggregateNGLne)
	f.Add(" 9 0000000000000000000000000000000000000000 ima-sig sha1:0000000000000000000000000000000000000000 /x \n")
	f.Add("10 " + strings.Repeat("ab", 20) + " ima " + strings.Repeat("cd", 20) + " /bin/sh\n")
	f.Add("10 " + strings.Repeat("ab", 32) + " evm-sig sha256:" + strings.Repeat("11", 32) + " /etc/passwd 0302 security.ima 02000000 0302 1000 100 33188\n")
	f.Add("10 " + strings.Repeat("ab", 20) + " ima-ns sha1:00 /x e496e384-4133-4d57-b93a-1812b83badf2\n")
	f.Add("10 " + strings.Repeat("ab", 20) + " d-ngv2|n-ng|buf verity:sha256:00 /x 00ff\n")
	f.Fuzz(func(t *testing.T, text string) {
		r := measure.NewASCIIReader(bufio.NewReaderSize(strings.NewReader(text), 16), measure.ReadOptions{Limits: fuzzLimits})
		lines := strings.SplitAfter(text, "\n")
		for i := 0; ; i++ {
			e, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var fe *measure.FormatError
				if !errors.As(err, &fe) || fe.Line != i+1 || fe.Col < 1 {
					t.Fatalf("line %d: error %v", i+1, err)
				}
				return
			}
			got := string(measure.AppendASCII(nil, e, e.Digests[0].Alg))
			if got != lines[i] {
				t.Fatalf("line %d parsed, renders differently:\n%q\n%q", i+1, lines[i], got)
			}
			measure.AppendJSON(nil, e, nil, false)
		}
	})
}

// FuzzPCRFile: no panic; values have the bank's size.
func FuzzPCRFile(f *testing.F) {
	f.Add("PCR-00: " + strings.Repeat("00", 20) + "\nPCR-10: " + strings.Repeat("AB ", 20) + "\n")
	f.Add("  sha256:\n    10: 0x" + strings.Repeat("ab", 32) + "\n")
	f.Fuzz(func(t *testing.T, text string) {
		banks, err := measure.ParsePCRs(strings.NewReader(text), measure.AlgUnknown, "fuzz")
		if err != nil {
			return
		}
		for _, b := range banks {
			for i, v := range b.Values {
				if v != nil && len(v) != b.Alg.Size() {
					t.Fatalf("PCR %d of %s has %d bytes", i, b.Alg, len(v))
				}
			}
		}
	})
}

// FuzzAllowlist: no panic, and a loaded policy checks any entry.
func FuzzAllowlist(f *testing.F) {
	f.Add(`{"digests": {"/usr/bin/bash": ["` + strings.Repeat("11", 32) + `"]}, "excludes": ["/tmp/.*"]}`)
	f.Add(`{"meta": {"version": 1}, "hashes": {"a": ["00"]}}`)
	e, _ := measure.NewNSEntry(10, "sha256", make([]byte, 32), "/usr/bin/bash", 1)
	f.Fuzz(func(t *testing.T, text string) {
		a, err := measure.ParseAllowlist(strings.NewReader(text), "fuzz")
		if err != nil {
			return
		}
		a.Check(e)
	})
}

func exLegacy() string {
	e, _ := measure.NewEntry(10, "ima", []measure.Field{{Data: make([]byte, 20)}, {Data: []byte("/bin/sh")}})
	return hex.EncodeToString(measure.AppendBinary(nil, e, measure.WriteOptions{}))
}
