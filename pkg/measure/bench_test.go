package measure_test

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/measure/listgen"
)

var (
	benchOnce sync.Once
	benchList genList
)

const benchEntries = 100000

func benchData(b *testing.B) genList {
	benchOnce.Do(func() {
		benchList = generate(b, listgen.Spec{Entries: benchEntries, Violations: 20, Namespaces: 6, Seed: 42})
	})
	return benchList
}

func report(b *testing.B, n int, size int) {
	b.SetBytes(int64(size))
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkParseBinary: streaming parse only.
func BenchmarkParseBinary(b *testing.B) {
	g := benchData(b)
	b.ReportAllocs()
	for b.Loop() {
		r := measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{})
		for {
			if _, err := r.Next(); err != nil {
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				break
			}
		}
	}
	report(b, benchEntries, len(g.bin))
}

// BenchmarkParseASCII: streaming parse of the ascii list, with the
// reconstruction of the template data.
func BenchmarkParseASCII(b *testing.B) {
	g := benchData(b)
	b.ReportAllocs()
	for b.Loop() {
		r := measure.NewASCIIReader(bytes.NewReader(g.ascii), measure.ReadOptions{})
		for {
			if _, err := r.Next(); err != nil {
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				break
			}
		}
	}
	report(b, benchEntries, len(g.ascii))
}

// BenchmarkVerifyBinary: parse, template digests, sha1+sha256 replay in both
// variants (what `measurements --verify` does, without output).
func BenchmarkVerifyBinary(b *testing.B) {
	g := benchData(b)
	b.ReportAllocs()
	for b.Loop() {
		rep, _ := verifyQuiet(b, measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{}), g.res.PCRs)
		if !rep.Passed {
			b.Fatal(rep.Failures)
		}
	}
	report(b, benchEntries, len(g.bin))
}

func verifyQuiet(b *testing.B, r measure.Reader, ref *measure.PCRSet) (*measure.Report, int) {
	v, err := measure.NewVerifier(measure.VerifyOptions{Reference: ref})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		v.Add(e, false)
		n++
	}
	return v.Report(), n
}

// BenchmarkVerifyStream: the same through Verifier.Stream (parse, template
// hashing and replay on separate goroutines), per-bank rules only as the
// CLI's first pass does.
func BenchmarkVerifyStream(b *testing.B) {
	g := benchData(b)
	b.ReportAllocs()
	for b.Loop() {
		v, err := measure.NewVerifier(measure.VerifyOptions{Reference: g.res.PCRs, Variant: measure.VariantPerBank})
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Stream(measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{}), measure.Visitor{}); err != nil {
			b.Fatal(err)
		}
		if rep := v.Report(); !rep.Passed {
			b.Fatal(rep.Failures)
		}
	}
	report(b, benchEntries, len(g.bin))
}
