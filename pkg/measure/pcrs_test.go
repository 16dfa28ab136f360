package measure_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/measure/listgen"
)

func TestParsePCRsEvmctl(t *testing.T) {
	b := &measure.PCRBank{Alg: measure.SHA256}
	b.Values[10] = bytes.Repeat([]byte{0xab}, 32)
	var buf bytes.Buffer
	if err := measure.WriteEvmctlPCRs(&buf, b); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 24 || !strings.HasPrefix(buf.String(), "PCR-00: 0000") {
		t.Fatalf("%d lines:\n%s", n, buf.String())
	}
	banks, err := measure.ParsePCRs(&buf, measure.SHA256, "f")
	if err != nil || len(banks) != 1 || !bytes.Equal(banks[0].Values[10], b.Values[10]) || banks[0].Alg != measure.SHA256 {
		t.Fatalf("%v %+v", err, banks)
	}
	// TPM 1.2 sysfs style: spaced uppercase bytes; no algo means sha1.
	spaced := "PCR-00: 3A 3F 78 0F 11 A4 B4 99 69 FC AA 80 CD 6E 39 57 C3 3B 22 75\nPCR-10: " + strings.Repeat("00 ", 19) + "01\n"
	banks, err = measure.ParsePCRs(strings.NewReader(spaced), measure.AlgUnknown, "f")
	if err != nil || banks[0].Alg != measure.SHA1 || banks[0].Values[0][0] != 0x3a || banks[0].Values[10][19] != 1 || banks[0].Values[5] != nil {
		t.Fatalf("%v %+v", err, banks)
	}
}

func TestParsePCRsTpm2(t *testing.T) {
	yaml := `  sha1:
    0 : 0x3A3F780F11A4B49969FCAA80CD6E3957C33B2275
    10: 0x0000000000000000000000000000000000000001
  sha256:
    10: 0x` + strings.Repeat("AB", 32) + "\n"
	banks, err := measure.ParsePCRs(strings.NewReader(yaml), measure.AlgUnknown, "f")
	if err != nil || len(banks) != 2 || banks[1].Alg != measure.SHA256 || banks[1].Values[10][0] != 0xab {
		t.Fatalf("%v %+v", err, banks)
	}
	banks, err = measure.ParsePCRs(strings.NewReader(yaml), measure.SHA256, "f")
	if err != nil || len(banks) != 1 || banks[0].Alg != measure.SHA256 {
		t.Fatalf("selected bank: %v %+v", err, banks)
	}
	if _, err := measure.ParsePCRs(strings.NewReader(yaml), measure.SHA384, "f"); err == nil {
		t.Error("missing bank accepted")
	}
}

func TestParsePCRsErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"PCR-24: 00\n", "line 1, column 5"},
		{"PCR-10: 0011\n", "4 hex digits, want 40"},
		{"PCR-10: zz" + strings.Repeat("0", 38) + "\n", "bad hex digit"},
		{"PCR-10: " + strings.Repeat("0", 40) + "\nPCR-10: " + strings.Repeat("0", 40) + "\n", "given twice"},
		{"PCR-10: " + strings.Repeat("0", 40) + "\ngarbage\n", "line 2"},
		{"hello\n", "want \"PCR-NN"},
		{"", "no PCR values"},
		{strings.Repeat("#", 70000), "larger than"},
	} {
		_, err := measure.ParsePCRs(strings.NewReader(c.text), measure.AlgUnknown, "f")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.20q: err %v, want %q", c.text, err, c.want)
		}
	}
	for _, s := range []string{"md5,f", "sha256,", ""} {
		if _, err := measure.ParsePCRSpec(s); err == nil {
			t.Errorf("spec %q accepted", s)
		}
	}
	if sp, err := measure.ParsePCRSpec("sha256,/a,b"); err != nil || sp.Alg != measure.SHA256 || sp.Path != "/a,b" {
		t.Errorf("spec: %+v %v", sp, err)
	}
}

func TestSysfsPCRs(t *testing.T) {
	dir := t.TempDir()
	if _, err := measure.ReadSysfsPCRs(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("empty dir: %v", err)
	}
	g := generate(t, listgen.Spec{Entries: 100, Namespaces: 2, Seed: 21})
	for _, b := range g.res.PCRs.Banks {
		d := filepath.Join(dir, "pcr-"+b.Alg.String())
		os.MkdirAll(d, 0o755)
		for i, v := range b.Values {
			if v != nil {
				os.WriteFile(filepath.Join(d, itoa(i)), []byte(strings.ToUpper(hexs(v))+"\n"), 0o444)
			}
		}
	}
	os.MkdirAll(filepath.Join(dir, "pcr-sha3_256"), 0o755) // unknown bank without values: nothing to check
	set, err := measure.ReadSysfsPCRs(dir)
	if err != nil || len(set.Banks) != 2 || len(set.Unknown) != 0 {
		t.Fatalf("%v %+v", err, set)
	}
	rep, _ := verify(t, measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{}), measure.VerifyOptions{Reference: set})
	if !rep.Passed {
		t.Errorf("sysfs reference: %v", rep.Failures)
	}
	// An unknown bank with values cannot be replayed: reported, and the
	// verification is not passed.
	os.WriteFile(filepath.Join(dir, "pcr-sha3_256", "10"), []byte(strings.Repeat("AB", 32)+"\n"), 0o444)
	set, err = measure.ReadSysfsPCRs(dir)
	if err != nil || len(set.Unknown) != 1 || set.Unknown[0].Name != "sha3_256" {
		t.Fatalf("%v %+v", err, set)
	}
	rep, _ = verify(t, measure.NewBinaryReader(bytes.NewReader(g.bin), measure.ReadOptions{}), measure.VerifyOptions{Reference: set})
	if rep.Passed || !rep.Matched || len(rep.Unchecked) != 1 || rep.Unchecked[0].Alg != "sha3_256" {
		t.Errorf("unknown sysfs bank: passed %v unchecked %+v", rep.Passed, rep.Unchecked)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
