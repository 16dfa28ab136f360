package measure_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/measure/listgen"
)

// Verification passes only when every check it was asked for ran and held:
// what cannot be computed is reported as unchecked and keeps Passed false
// (issue 15.9: an sm3_256 bank used to pass with every digest skipped; SM3
// is computed now, sm3_test.go, and these tests use algorithms no build
// has).

// uncomputable is an algorithm no bank of this build has (a future TPM
// bank): what the Verifier does with the digests of any algorithm it cannot
// compute.
const uncomputable = measure.Alg(99)

func TestVerifyUncheckedTemplateDigests(t *testing.T) {
	g := generate(t, listgen.Spec{Entries: 40, Namespaces: 1, Seed: 21})
	entries := readAll(t, measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{}))
	v, err := measure.NewVerifier(measure.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var checks []measure.EntryCheck
	for i, e := range entries {
		sum := bytes.Repeat([]byte{byte(i + 1)}, 32) // wrong or right, it cannot be told
		e.Digests = []measure.Digest{{Alg: uncomputable, Sum: sum}}
		checks = append(checks, v.Add(e, true))
	}
	rep := v.Report()
	if rep.Passed {
		t.Fatalf("a list whose template digests cannot be computed passed: %+v", rep)
	}
	if rep.TemplateUnchecked != 40 || len(rep.Unchecked) != 1 || rep.FailureCount != 0 {
		t.Fatalf("template unchecked %d, unchecked %v, failures %v", rep.TemplateUnchecked, rep.Unchecked, rep.Failures)
	}
	u := rep.Unchecked[0]
	if u.Check != "template digests" || u.Alg != uncomputable.String() || u.Count != 40 || !u.HasPos || u.First.Index != 0 || !strings.Contains(u.String(), "cannot compute") {
		t.Fatalf("unchecked %+v", u)
	}
	if checks[5].TemplateOK || checks[5].Unchecked == "" || checks[5].Problem != "" {
		t.Fatalf("entry 5: %+v", checks[5])
	}
	var obj map[string]any
	if err := json.Unmarshal(measure.AppendJSON(nil, entries[5], &checks[5], false), &obj); err != nil {
		t.Fatal(err)
	}
	if _, ok := obj["template_ok"]; ok || !strings.Contains(obj["unchecked"].(string), "not checked") {
		t.Fatalf("JSON entry of an unchecked digest: %v", obj)
	}
}

func TestVerifyUncheckedBank(t *testing.T) {
	g := generate(t, listgen.Spec{Entries: 60, Namespaces: 1, Seed: 22})
	unknown := []measure.UnknownBank{{Name: "sha3_256", Source: "/sys/class/tpm/tpm0/pcr-sha3_256"}}
	for name, ref := range map[string]*measure.PCRSet{
		"unknown bank alone":     {Unknown: unknown},
		"unknown bank with sha1": {Banks: []*measure.PCRBank{g.res.PCRs.Bank(measure.SHA1)}, Unknown: unknown},
		"uncomputable bank": {Banks: []*measure.PCRBank{g.res.PCRs.Bank(measure.SHA1),
			{Alg: uncomputable, Source: "pcrs.x"}}},
	} {
		rep, _ := verify(t, measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{}), measure.VerifyOptions{Reference: ref})
		if rep.Passed || rep.FailureCount != 0 || len(rep.Unchecked) != 1 || rep.Unchecked[0].Check != "pcr bank" ||
			!strings.Contains(rep.Unchecked[0].Reason, "not replayed") {
			t.Errorf("%s: passed %v failures %v unchecked %+v", name, rep.Passed, rep.Failures, rep.Unchecked)
		}
	}
}

func TestVerifyUncheckedBootAggregate(t *testing.T) {
	// A boot_aggregate of an algorithm no TPM bank here has, with a
	// reference for PCRs 0-9: the check was asked for and cannot run.
	boot, err := measure.NewNGEntry(10, "sha224", bytes.Repeat([]byte{7}, 28), "boot_aggregate")
	if err != nil {
		t.Fatal(err)
	}
	file, err := measure.NewNGEntry(10, "sha256", bytes.Repeat([]byte{8}, 32), "/usr/bin/x")
	if err != nil {
		t.Fatal(err)
	}
	var list []byte
	for _, e := range []*measure.Entry{boot, file} {
		list = measure.AppendBinary(list, e, measure.WriteOptions{})
	}
	// Reference: what the list replays to, with non-zero PCRs 0-9.
	v, _ := measure.NewVerifier(measure.VerifyOptions{Banks: []measure.Alg{measure.SHA1}})
	v.Add(boot, true)
	v.Add(file, true)
	ref := &measure.PCRBank{Alg: measure.SHA1}
	for i := 0; i < 10; i++ {
		ref.Values[i] = bytes.Repeat([]byte{byte(i + 1)}, 20)
	}
	ref.Values[10] = v.Report().PCRs[0].Computed
	rep, _ := verify(t, measure.NewBinaryReader(bytes.NewReader(list), measure.ReadOptions{}), measure.VerifyOptions{Reference: &measure.PCRSet{Banks: []*measure.PCRBank{ref}}})
	if rep.Passed || !rep.Matched || rep.BootAggregate != "unchecked" || len(rep.Unchecked) != 1 || rep.Unchecked[0].Check != "boot_aggregate" {
		t.Fatalf("passed %v matched %v boot %s unchecked %+v failures %v", rep.Passed, rep.Matched, rep.BootAggregate, rep.Unchecked, rep.Failures)
	}
	// Without a reference nothing was asked of the boot_aggregate.
	rep, _ = verify(t, measure.NewBinaryReader(bytes.NewReader(list), measure.ReadOptions{}), measure.VerifyOptions{})
	if !rep.Passed || rep.BootAggregate != "not-compared" || len(rep.Unchecked) != 0 {
		t.Fatalf("template-only: passed %v boot %s unchecked %+v", rep.Passed, rep.BootAggregate, rep.Unchecked)
	}
}
