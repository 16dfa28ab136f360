package measure_test

// Real data (docs/testing.md layer 3): lists and PCRs captured from Debian's 6.1
// IMA kernel under qemu with a swtpm TPM 2.0 (sha1 and sha256 banks), see
// testdata/qemu/README.txt. Layer 4: evmctl ima_measurement judges the same
// files and must agree on pass and on fail.

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/measure/listgen"
)

const qemuDir = "testdata/qemu"

type capture struct {
	name               string
	bin, ascii         []byte
	pcrSHA1, pcrSHA256 string
	count, violations  int
}

func captures(t *testing.T) []capture {
	t.Helper()
	bins, _ := filepath.Glob(filepath.Join(qemuDir, "*.binary_runtime_measurements"))
	if len(bins) == 0 {
		t.Skip("no real capture in testdata/qemu (the VM capture is made by the qemu/swtpm helper; see docs/vm-oracle.md)")
	}
	var out []capture
	for _, b := range bins {
		name := strings.TrimSuffix(filepath.Base(b), ".binary_runtime_measurements")
		c := capture{name: name, pcrSHA1: filepath.Join(qemuDir, name+".pcrs-sha1"), pcrSHA256: filepath.Join(qemuDir, name+".pcrs-sha256")}
		var err error
		if c.bin, err = os.ReadFile(b); err != nil {
			t.Fatal(err)
		}
		if c.ascii, err = os.ReadFile(filepath.Join(qemuDir, name+".ascii_runtime_measurements")); err != nil {
			t.Fatal(err)
		}
		c.count = readInt(t, filepath.Join(qemuDir, name+".runtime_measurements_count"))
		c.violations = readInt(t, filepath.Join(qemuDir, name+".violations"))
		out = append(out, c)
	}
	return out
}

// in returns the capture in layout l: the kernel's bytes for the plain
// layout, re-encoded with the RFC namespace id header (the host's id) for
// the other, so that the readers are exercised on real entries in both.
func (c capture) in(t *testing.T, l measure.Layout) capture {
	if l == measure.LayoutPlain {
		return c
	}
	var out []byte
	for _, e := range readAll(t, measure.NewBinaryReader(bytes.NewReader(c.bin), measure.ReadOptions{Layout: measure.LayoutPlain})) {
		e.NSHeader = listgen.HostNS
		out = measure.AppendBinary(out, e, wopt(l))
	}
	c.bin = out
	return c
}

// capturesIn is every capture in every layout.
func capturesIn(t *testing.T) map[string]capture {
	out := map[string]capture{}
	for _, c := range captures(t) {
		for _, l := range layouts {
			out[c.name+"/"+l.String()] = c.in(t, l)
		}
	}
	return out
}

func readInt(t *testing.T, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n
}

func (c capture) reference(t *testing.T) *measure.PCRSet {
	set := &measure.PCRSet{}
	for _, spec := range []measure.PCRSpec{{Alg: measure.SHA1, Path: c.pcrSHA1}, {Alg: measure.SHA256, Path: c.pcrSHA256}} {
		banks, err := measure.LoadPCRFile(spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range banks {
			if err := set.Add(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	return set
}

func TestQemuCaptureParse(t *testing.T) {
	for name, c := range capturesIn(t) {
		l := measure.LayoutPlain
		if strings.HasSuffix(name, "/ns-header") {
			l = measure.LayoutNSHeader
		}
		t.Run(name, func(t *testing.T) {
			br := measure.NewBinaryReader(bytes.NewReader(c.bin), measure.ReadOptions{})
			bins := readAll(t, br)
			if br.Layout() != l {
				t.Fatalf("layout %v detected, want %v", br.Layout(), l)
			}
			ascs := readAll(t, measure.NewASCIIReader(bytes.NewReader(c.ascii), measure.ReadOptions{}))
			if len(bins) != c.count || len(ascs) != c.count {
				t.Fatalf("binary %d, ascii %d entries; runtime_measurements_count says %d", len(bins), len(ascs), c.count)
			}
			var rebin, reasc []byte
			violations := 0
			for i := range bins {
				rebin = measure.AppendBinary(rebin, bins[i], wopt(l))
				reasc = measure.AppendASCII(reasc, bins[i], measure.SHA1)
				if !bytes.Equal(measure.AppendBinary(nil, ascs[i], measure.WriteOptions{}), measure.AppendBinary(nil, bins[i], measure.WriteOptions{})) {
					t.Errorf("entry %d: ascii and binary lists disagree", i)
				}
				if bins[i].Violation() {
					violations++
					continue
				}
				d, err := bins[i].TemplateDigest(measure.SHA1)
				if err != nil || !bytes.Equal(d, bins[i].Digests[0].Sum) {
					t.Errorf("entry %d %q: template digest %x, logged %x", i, bins[i].EventName(), d, bins[i].Digests[0].Sum)
				}
			}
			if violations != c.violations {
				t.Errorf("%d violation entries, the kernel counted %d", violations, c.violations)
			}
			if !bytes.Equal(rebin, c.bin) {
				t.Error("binary list does not re-encode byte for byte")
			}
			if !bytes.Equal(reasc, c.ascii) {
				t.Error("the binary list does not render to the kernel's ascii list byte for byte")
			}
			if bins[0].EventName() != "boot_aggregate" {
				t.Errorf("first entry %q", bins[0].EventName())
			}
		})
	}
}

func TestQemuCaptureReplay(t *testing.T) {
	for name, c := range capturesIn(t) {
		t.Run(name, func(t *testing.T) {
			ref := c.reference(t)
			for name, r := range map[string]measure.Reader{
				"binary": measure.NewBinaryReader(bytes.NewReader(c.bin), measure.ReadOptions{}),
				"ascii":  measure.NewASCIIReader(bytes.NewReader(c.ascii), measure.ReadOptions{}),
			} {
				rep, _ := verify(t, r, measure.VerifyOptions{Reference: ref})
				if !rep.Passed || !rep.Matched || rep.Covered != int64(c.count) || rep.Variant != measure.VariantPerBank {
					t.Errorf("%s: passed %v matched %v covered %d/%d variant %v: %v", name, rep.Passed, rep.Matched, rep.Covered, c.count, rep.Variant, rep.Failures)
				}
				if rep.BootAggregate != "ok" {
					t.Errorf("%s: boot_aggregate %s (the capture's PCRs 0-9 must reproduce it)", name, rep.BootAggregate)
				}
				if rep.Violations != int64(c.violations) {
					t.Errorf("%s: %d violations, want %d", name, rep.Violations, c.violations)
				}
				for _, p := range rep.PCRs {
					// Both variants are replayed; a 6.1 kernel extends by the
					// per-bank rules, so the padded sha256 replay must not match.
					if p.PCR != 10 || p.Match != (p.Variant == measure.VariantPerBank) {
						t.Errorf("%s: %v %v PCR %d match=%v", name, p.Alg, p.Variant, p.PCR, p.Match)
					}
				}
			}
		})
	}
}

// tamperings returns altered copies of a capture's binary list that the
// kernel could not have produced; each must fail.
func tamperings(t *testing.T, c capture) map[string][]byte {
	offs := entryOffsets(t, c.bin)
	entries := readAll(t, measure.NewBinaryReader(bytes.NewReader(c.bin), measure.ReadOptions{}))
	k := len(entries) - 1 // the last ordinary entry
	for entries[k].Violation() {
		k--
	}
	end := int64(len(c.bin))
	if k+1 < len(offs) {
		end = offs[k+1]
	}
	out := map[string][]byte{}
	// A file digest bit flipped: template digest no longer matches.
	flip := bytes.Clone(c.bin)
	rec := flip[offs[k]:end]
	at := bytes.Index(rec, entries[k].Fields[0].Data)
	if at < 0 {
		t.Fatal("d-ng field not found in its record")
	}
	rec[at+len(entries[k].Fields[0].Data)-1] ^= 0x01
	out["file digest flipped"] = flip
	// The name changed and its template digest recomputed: only the PCR
	// replay can see it.
	e := entries[k].Clone()
	e.Fields[1].Data = []byte("/usr/bin/innocent\x00")
	if err := e.SetDigests(measure.SHA1); err != nil {
		t.Fatal(err)
	}
	forged := append(bytes.Clone(c.bin[:offs[k]]), measure.AppendBinary(nil, e, measure.WriteOptions{})...)
	out["entry rewritten"] = append(forged, c.bin[end:]...)
	// An entry removed.
	out["entry dropped"] = append(bytes.Clone(c.bin[:offs[1]]), c.bin[offs[2]:]...)
	return out
}

func TestQemuCaptureTampered(t *testing.T) {
	for _, c := range captures(t) {
		ref := c.reference(t)
		for what, list := range tamperings(t, c) {
			if passed, _ := verifyBytes(t, list, ref); passed {
				t.Errorf("%s, %s: passed", c.name, what)
			}
		}
	}
}

// TestQemuCaptureEvmctl runs evmctl ima_measurement on the captured lists and
// on tampered copies: it and the Verifier must agree on pass and fail.
func TestQemuCaptureEvmctl(t *testing.T) {
	evmctl, err := exec.LookPath("evmctl")
	if err != nil {
		t.Skip("evmctl not installed (apt package ima-evm-utils)")
	}
	dir := t.TempDir()
	for _, c := range captures(t) {
		ref := c.reference(t)
		lists := tamperings(t, c)
		lists["as captured"] = c.bin
		for what, list := range lists {
			path := filepath.Join(dir, "list")
			if err := os.WriteFile(path, list, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(evmctl, "ima_measurement", "--ignore-violations", "--pcrs", "sha1,"+c.pcrSHA1, "--pcrs", "sha256,"+c.pcrSHA256, path)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			evmctlPass := err == nil
			passed, why := verifyBytes(t, list, ref)
			if evmctlPass != passed {
				t.Errorf("%s, %s: evmctl passed=%v, ima-hook passed=%v\nevmctl: %s\nima-hook: %v", c.name, what, evmctlPass, passed, out, why)
			}
			t.Logf("%s, %s: both %v", c.name, what, map[bool]string{true: "pass", false: "fail"}[passed])
			if what == "as captured" && !evmctlPass {
				t.Errorf("%s: evmctl rejects the capture: %s", c.name, out)
			}
		}
	}
}

// The ascii list of the capture, read back through the kernel's renderings,
// must be exactly what was captured; a reader bug would show up here first.
func TestQemuCaptureASCIIStream(t *testing.T) {
	for _, c := range captures(t) {
		r := measure.NewASCIIReader(bytes.NewReader(c.ascii), measure.ReadOptions{})
		n := 0
		for {
			_, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			n++
		}
		if r.Line() != n {
			t.Errorf("%s: %d lines for %d entries", c.name, r.Line(), n)
		}
	}
}

// verifyBytes verifies a binary list; a malformed list fails.
func verifyBytes(t *testing.T, list []byte, ref *measure.PCRSet) (bool, any) {
	v, err := measure.NewVerifier(measure.VerifyOptions{Reference: ref})
	if err != nil {
		t.Fatal(err)
	}
	r := measure.NewBinaryReader(bytes.NewReader(list), measure.ReadOptions{})
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, err
		}
		v.Add(e, true)
	}
	rep := v.Report()
	return rep.Passed, rep.Failures
}
