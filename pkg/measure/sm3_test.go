package measure_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/measure/listgen"
)

// SM3 wherever a digest appears (issue 13.1): the sm3 template digests of a
// per-bank sm3 list, the sm3_256 PCR bank, sm3 file digests, the
// boot_aggregate of an sm3 bank. SM3 comes from github.com/emmansun/gmsm;
// these vectors are checked against OpenSSL.

// opensslSM3 is `openssl dgst -sm3 -binary` of data, or nil (test skipped
// by the caller) when this OpenSSL has no SM3.
func opensslSM3(t *testing.T, data []byte) []byte {
	t.Helper()
	cmd := exec.Command("openssl", "dgst", "-sm3", "-binary")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil || len(out) != 32 {
		return nil
	}
	return out
}

func TestSM3Vectors(t *testing.T) {
	// GB/T 32905-2016 example 1 ("abc"); `echo -n abc | openssl dgst -sm3`.
	e, err := measure.NewEntry(10, "ima-buf", []measure.Field{{Data: []byte("sm3:\x00" + strings.Repeat("\x00", 32))}, {Data: []byte("x\x00")}, {Data: []byte("abc")}}, measure.SM3)
	if err != nil {
		t.Fatal(err)
	}
	// The template digest is SM3 over the length-prefixed fields
	// (ima_calc_field_array_hash); checked against OpenSSL over the same
	// bytes, and the primitive against the standard's vector.
	var input []byte
	for _, f := range e.Fields {
		input = binary.LittleEndian.AppendUint32(input, uint32(len(f.Data)))
		input = append(input, f.Data...)
	}
	if want := opensslSM3(t, input); want == nil {
		t.Log("openssl has no sm3 here: the cross-check is skipped, the standard vector still runs")
	} else if !bytes.Equal(e.Digest(measure.SM3), want) {
		t.Fatalf("sm3 template digest %x, openssl %x", e.Digest(measure.SM3), want)
	}
	abc, err := measure.NewEntry(10, "ima", []measure.Field{{Data: make([]byte, 20)}, {Data: []byte("abc")}}, measure.SM3)
	if err != nil {
		t.Fatal(err)
	}
	// The ima template hashes the digest and the name padded to 256 bytes.
	legacyInput := append(make([]byte, 20), append([]byte("abc"), make([]byte, 253)...)...)
	if want := opensslSM3(t, legacyInput); want != nil && !bytes.Equal(abc.Digest(measure.SM3), want) {
		t.Fatalf("ima template sm3 %x, openssl %x", abc.Digest(measure.SM3), want)
	}
	if want := opensslSM3(t, []byte("abc")); want != nil && hex.EncodeToString(want) != "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0" {
		t.Fatalf("openssl's sm3 of abc is %x", want)
	}
	// The SM3 replay of one entry: PCR = SM3(zeros || template digest).
	v, _ := measure.NewVerifier(measure.VerifyOptions{Banks: []measure.Alg{measure.SM3}, Variant: measure.VariantPerBank})
	v.Add(e, true)
	rep := v.Report()
	if want := opensslSM3(t, append(make([]byte, 32), e.Digest(measure.SM3)...)); want != nil && (len(rep.PCRs) != 1 || !bytes.Equal(rep.PCRs[0].Computed, want)) {
		t.Fatalf("sm3 extend: %+v, openssl %x", rep.PCRs, want)
	}
}

// sm3Reference is the sm3 bank the list replays to (PCR 10), next to the
// generator's sha1 and sha256 banks.
func sm3Reference(t *testing.T, g genList) *measure.PCRSet {
	t.Helper()
	rep, _ := verify(t, measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{}), measure.VerifyOptions{Banks: []measure.Alg{measure.SM3}})
	b := &measure.PCRBank{Alg: measure.SM3, Source: "sm3 replay"}
	for _, p := range rep.PCRs {
		if p.Variant == measure.VariantPerBank {
			b.Values[p.PCR] = p.Computed
		}
	}
	return &measure.PCRSet{Banks: []*measure.PCRBank{g.res.PCRs.Bank(measure.SHA1), g.res.PCRs.Bank(measure.SHA256), b}}
}

func TestSM3BankList(t *testing.T) {
	forLayouts(t, func(t *testing.T, l measure.Layout) {
		g := generateIn(t, listgen.Spec{Entries: 300, Namespaces: 2, Violations: 2, Seed: 50}, l)
		var sm3, sm3ascii []byte
		for _, e := range readAll(t, measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{})) {
			opt := wopt(l)
			opt.Bank = measure.SM3
			sm3 = measure.AppendBinary(sm3, e, opt) // binary_runtime_measurements_sm3
			if !e.Violation() {
				if err := e.SetDigests(measure.SM3); err != nil {
					t.Fatal(err)
				}
			} else {
				e.Digests = []measure.Digest{{Alg: measure.SM3, Sum: make([]byte, 32)}}
			}
			sm3ascii = measure.AppendASCII(sm3ascii, e, measure.SM3)
		}
		ref := sm3Reference(t, g)
		for name, r := range map[string]measure.Reader{
			"binary": measure.NewBinaryReader(bytes.NewReader(sm3), measure.ReadOptions{Bank: measure.SM3}),
			"ascii":  measure.NewASCIIReader(bytes.NewReader(sm3ascii), measure.ReadOptions{Bank: measure.SM3}),
		} {
			rep, _ := verify(t, r, measure.VerifyOptions{Reference: ref})
			if !rep.Passed || !rep.Matched || rep.TemplateUnchecked != 0 || len(rep.Unchecked) != 0 || rep.Violations != 2 {
				t.Fatalf("%s: passed %v matched %v unchecked %v failures %v", name, rep.Passed, rep.Matched, rep.Unchecked, rep.Failures)
			}
			var sm3PCR bool
			for _, p := range rep.PCRs {
				sm3PCR = sm3PCR || (p.Alg == measure.SM3 && p.PCR == 10 && p.Match)
			}
			if !sm3PCR {
				t.Fatalf("%s: the sm3 bank was not compared: %+v", name, rep.PCRs)
			}
		}
		// A wrong sm3 template digest is a mismatch, no longer skipped.
		bad := bytes.Clone(sm3)
		r := measure.NewBinaryReader(bytes.NewReader(sm3), measure.ReadOptions{Bank: measure.SM3})
		var at int64
		for i := 0; i <= 7; i++ {
			r.Next()
			at = r.Offset()
		}
		bad[at+4+hdr(l)] ^= 1 // first template digest byte of entry 8
		rep, _ := verify(t, measure.NewBinaryReader(bytes.NewReader(bad), measure.ReadOptions{Bank: measure.SM3}), measure.VerifyOptions{Reference: ref})
		if rep.Passed || rep.TemplateMismatches != 1 || rep.Failures[0].Pos.Index != 8 {
			t.Fatalf("altered sm3 digest: passed %v mismatches %d failures %v", rep.Passed, rep.TemplateMismatches, rep.Failures)
		}
		// A wrong sm3 PCR is a replay failure.
		wrong := *ref.Bank(measure.SM3)
		wrong.Values[10] = bytes.Repeat([]byte{0xab}, 32)
		rep, _ = verify(t, measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{}), measure.VerifyOptions{Reference: &measure.PCRSet{Banks: []*measure.PCRBank{&wrong}}})
		if rep.Passed || rep.Matched || !strings.Contains(rep.Failures[len(rep.Failures)-1].Reason, "PCR 10 sm3") {
			t.Fatalf("wrong sm3 PCR: passed %v failures %v", rep.Passed, rep.Failures)
		}
		// An ASCII sm3 list read without --bank is taken for sha256 (same
		// length): every digest mismatches and the failure names the bank.
		rep, _ = verify(t, measure.NewASCIIReader(bytes.NewReader(sm3ascii), measure.ReadOptions{}), measure.VerifyOptions{})
		if rep.Passed || !strings.Contains(rep.Failures[0].Reason, "--bank sm3") {
			t.Fatalf("sm3 ascii list as sha256: %v", rep.Failures)
		}
	})
}

func TestSM3FileDigestsAndBootAggregate(t *testing.T) {
	pcrs := &measure.PCRBank{Alg: measure.SM3, Source: "sm3"}
	var in []byte
	for i := 0; i < 10; i++ {
		pcrs.Values[i] = bytes.Repeat([]byte{byte(i + 1)}, 32)
		in = append(in, pcrs.Values[i]...)
	}
	bootSum := opensslSM3(t, in)
	if bootSum == nil {
		t.Skip("openssl has no sm3: the boot_aggregate and file digest vectors come from it")
	}
	boot, err := measure.NewNGEntry(10, "sm3", bootSum, "boot_aggregate", measure.SHA1, measure.SM3)
	if err != nil {
		t.Fatal(err)
	}
	fileSum := opensslSM3(t, []byte("#!/bin/sh\n"))
	file, err := measure.NewNGEntry(10, "sm3", fileSum, "/usr/bin/x", measure.SHA1, measure.SM3)
	if err != nil {
		t.Fatal(err)
	}
	var list []byte
	for _, e := range []*measure.Entry{boot, file} {
		list = measure.AppendBinary(list, e, measure.WriteOptions{Bank: measure.SM3})
	}
	v, _ := measure.NewVerifier(measure.VerifyOptions{Banks: []measure.Alg{measure.SM3}, Variant: measure.VariantPerBank})
	v.Add(boot, true)
	v.Add(file, true)
	pcrs.Values[10] = v.Report().PCRs[0].Computed
	al, err := measure.ParseAllowlist(strings.NewReader(`{"meta":{"version":1},"digests":{"/usr/bin/x":["`+hex.EncodeToString(fileSum)+`"]}}`), "policy.json")
	if err != nil {
		t.Fatal(err)
	}
	ref := &measure.PCRSet{Banks: []*measure.PCRBank{pcrs}}
	rep, checks := verify(t, measure.NewBinaryReader(bytes.NewReader(list), measure.ReadOptions{Bank: measure.SM3}), measure.VerifyOptions{Reference: ref, Allowlist: al})
	if !rep.Passed || rep.BootAggregate != "ok" || rep.AllowChecked != 2 || rep.AllowFlagged != 0 || checks[1].Allow.String() != "ok" {
		t.Fatalf("passed %v boot %s allow %d/%d failures %v unchecked %v", rep.Passed, rep.BootAggregate, rep.AllowChecked, rep.AllowFlagged, rep.Failures, rep.Unchecked)
	}
	var obj map[string]any
	e := readAll(t, measure.NewBinaryReader(bytes.NewReader(list), measure.ReadOptions{Bank: measure.SM3}))[1]
	if err := json.Unmarshal(measure.AppendJSON(nil, e, &checks[1], true), &obj); err != nil {
		t.Fatal(err)
	}
	if obj["file_digest_alg"] != "sm3" || obj["file_digest"] != hex.EncodeToString(fileSum) || obj["digest_alg"] != "sm3" || obj["template_ok"] != true || obj["allowlist"] != "ok" {
		t.Fatalf("JSON %v", obj)
	}
	// Another boot's PCRs 0-9: the sm3 boot_aggregate mismatches.
	pcrs.Values[3] = bytes.Repeat([]byte{0xee}, 32)
	rep, _ = verify(t, measure.NewBinaryReader(bytes.NewReader(list), measure.ReadOptions{Bank: measure.SM3}), measure.VerifyOptions{Reference: ref})
	if rep.Passed || rep.BootAggregate != "mismatch" {
		t.Fatalf("changed PCR 3: %s %v", rep.BootAggregate, rep.Failures)
	}
}
