// Package listgen writes synthetic but kernel-shaped measurement lists for
// tests and benchmarks: a boot_aggregate over random PCRs 0-9, file
// measurements from the host and from several IMA namespaces (each starting
// with its ns_aggregate entry, one namespace id reused after its first
// namespace ended), a few violations, and the PCR values that the list
// replays to, computed with measure's own Verifier and written in evmctl's
// --pcrs format so evmctl can cross-check them.
package listgen

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// HostNS is the initial IMA namespace (PROC_IMA_INIT_INO) used as the ns
// field of host entries in ima-ns lists.
const HostNS = 0xEFFFFFF9

// Spec describes a list.
type Spec struct {
	Entries    int    // total, including aggregates and violations
	Template   string // "ima-ns" (default) or "ima-ng"
	Namespaces int    // IMA namespaces besides the host (default 4)
	Violations int
	Seed       uint64
	// NSHeader writes the RFC's u32 namespace id after each PCR.
	NSHeader bool
}

// Result describes what was written.
type Result struct {
	Entries    int
	Violations int
	// PCRs holds per bank (sha1, sha256) the random PCRs 0-9 behind the
	// boot_aggregate and PCR 10 as the list replays (5.8+ per-bank rules).
	PCRs *measure.PCRSet
	// Namespaces lists every namespace in order of activation; a reused id
	// appears twice, with different aggregate indexes.
	Namespaces []NS
}

// NS is one generated namespace.
type NS struct {
	ID             imansid.ID
	AggregateIndex int64
	Ended          int64 // index after which it logs nothing more, -1 = lives to the end
	Entries        int   // its entries, aggregate included
}

// Writers receives the outputs; nil writers are skipped.
type Writers struct {
	Binary       io.Writer // binary_runtime_measurements (sha1 digests)
	BinarySHA256 io.Writer // binary_runtime_measurements_sha256 (6.10+ per-bank file)
	ASCII        io.Writer // ascii_runtime_measurements
}

// Generate writes the list described by spec.
func Generate(w Writers, spec Spec) (*Result, error) {
	if spec.Template == "" {
		spec.Template = "ima-ns"
	}
	if spec.Template != "ima-ns" && spec.Template != "ima-ng" {
		return nil, fmt.Errorf("template %q: want ima-ns or ima-ng", spec.Template)
	}
	if spec.Namespaces == 0 {
		spec.Namespaces = 4
	}
	if spec.Entries < 2+spec.Namespaces+1+spec.Violations {
		return nil, fmt.Errorf("%d entries cannot hold the boot aggregate, %d namespaces and %d violations", spec.Entries, spec.Namespaces, spec.Violations)
	}
	rng := rand.New(rand.NewChaCha8(seed32(spec.Seed)))
	banks := []measure.Alg{measure.SHA1, measure.SHA256}

	out := func(wr io.Writer) *bufio.Writer {
		if wr == nil {
			return nil
		}
		return bufio.NewWriterSize(wr, 256<<10)
	}
	bin, bin256, asc := out(w.Binary), out(w.BinarySHA256), out(w.ASCII)

	ver, err := measure.NewVerifier(measure.VerifyOptions{Banks: banks, Variant: measure.VariantPerBank})
	if err != nil {
		return nil, err
	}
	res := &Result{PCRs: &measure.PCRSet{}}
	var buf []byte
	index := int64(0)
	emit := func(e *measure.Entry) {
		e.Pos = measure.Position{Index: index, Offset: -1}
		ver.Add(e, false)
		if bin != nil {
			buf = measure.AppendBinary(buf[:0], e, measure.WriteOptions{Bank: measure.SHA1, NSHeader: spec.NSHeader})
			bin.Write(buf)
		}
		if bin256 != nil {
			buf = measure.AppendBinary(buf[:0], e, measure.WriteOptions{Bank: measure.SHA256, NSHeader: spec.NSHeader})
			bin256.Write(buf)
		}
		if asc != nil {
			buf = measure.AppendASCII(buf[:0], e, measure.SHA1)
			asc.Write(buf)
		}
		index++
	}

	// boot_aggregate over random PCRs 0-9 (ima_calc_boot_aggregate: the
	// sha256 bank with PCRs 0-9, as with ima_hash=sha256).
	for _, a := range banks {
		b := &measure.PCRBank{Alg: a, Source: "listgen"}
		for i := 0; i < 10; i++ {
			b.Values[i] = randBytes(rng, a.Size())
		}
		res.PCRs.Banks = append(res.PCRs.Banks, b)
	}
	var agg []byte
	for i := 0; i < 10; i++ {
		agg = append(agg, res.PCRs.Bank(measure.SHA256).Values[i]...)
	}
	boot, err := newEntry(spec.Template, "sha256", sum256(agg), "boot_aggregate", HostNS)
	if err != nil {
		return nil, err
	}
	emit(boot)

	// Namespaces activate at even intervals; the first one ends halfway and
	// the last one reuses its id (the kernel reuses inode numbers).
	n := spec.Entries
	starts := make([]int64, spec.Namespaces)
	for i := range starts {
		starts[i] = int64(1 + (i+1)*(n-1)/(spec.Namespaces+2))
	}
	ids := make([]imansid.ID, spec.Namespaces)
	for i := range ids {
		ids[i] = 0xF0000100 + imansid.ID(i)*7
	}
	if spec.Namespaces >= 2 {
		ids[spec.Namespaces-1] = ids[0]
	}
	end0 := int64(-1)
	if spec.Namespaces >= 2 {
		end0 = starts[spec.Namespaces-1] - 1
	}
	violationAt := map[int64]bool{}
	for len(violationAt) < spec.Violations {
		violationAt[1+rng.Int64N(int64(n-1))] = true
	}
	active := []int{} // indexes into res.Namespaces
	next := 0
	for index < int64(n) {
		if next < len(starts) && index >= starts[next] {
			if next == spec.Namespaces-1 && spec.Namespaces >= 2 {
				// the first namespace ended before its id came back
				res.Namespaces[0].Ended = end0
				active = removeValue(active, 0)
			}
			e, err := measure.NewNSAggregate(ids[next], spec.Template)
			if err != nil {
				return nil, err
			}
			res.Namespaces = append(res.Namespaces, NS{ID: ids[next], AggregateIndex: index, Ended: -1, Entries: 1})
			active = append(active, len(res.Namespaces)-1)
			emit(e)
			next++
			continue
		}
		// Pick who measures: the host half of the time.
		ns := imansid.ID(HostNS)
		who := -1
		if len(active) > 0 && rng.IntN(2) == 0 {
			who = active[rng.IntN(len(active))]
			ns = res.Namespaces[who].ID
		}
		name := fmt.Sprintf("/usr/lib/x86_64-linux-gnu/pkg%d/lib%06d.so.%d", rng.IntN(40), rng.IntN(1000000), rng.IntN(9))
		var e *measure.Entry
		if violationAt[index] {
			e, err = measure.NewViolation(measure.DefaultPCR, spec.Template, name, ns)
			res.Violations++
		} else {
			e, err = newEntry(spec.Template, "sha256", randBytes(rng, 32), name, ns)
		}
		if err != nil {
			return nil, err
		}
		if who >= 0 {
			res.Namespaces[who].Entries++
		}
		emit(e)
	}
	res.Entries = int(index)

	rep := ver.Report()
	for _, p := range rep.PCRs {
		res.PCRs.Bank(p.Alg).Values[p.PCR] = append([]byte(nil), p.Computed...)
	}
	for _, b := range []*bufio.Writer{bin, bin256, asc} {
		if b != nil {
			if err := b.Flush(); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

func newEntry(template, algo string, digest []byte, name string, ns imansid.ID) (*measure.Entry, error) {
	if template == "ima-ng" {
		return measure.NewNGEntry(measure.DefaultPCR, algo, digest, name)
	}
	return measure.NewNSEntry(measure.DefaultPCR, algo, digest, name, ns)
}

func removeValue(s []int, v int) []int {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func seed32(s uint64) [32]byte {
	var k [32]byte
	for i := 0; i < 8; i++ {
		k[i] = byte(s >> (8 * i))
	}
	return k
}

func sum256(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
