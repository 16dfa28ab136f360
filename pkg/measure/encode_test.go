package measure_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	. "github.com/ima-hook/ima-hook/pkg/measure"
)

// The worked examples of docs/kernel-abi.md#worked-example, namespace inode
// 4026532329 (0xF00001E9) on a little-endian host.
const (
	exNS              = 4026532329
	exAggregateLine   = "10 a2704b7e24c69a20c4d0aa9223c4d3a2c37d6ed1 ima-ns sha1:0000000000000000000000000000000000000000 ns_aggregate_4026532329 e90100f0\n"
	exBashLine        = "10 665a87f9af263e047e3b467dcf857d9ea1dae773 ima-ns sha256:2a7c66fc7e19acc100ee2b777b71179043fade8b81968828522cf31e6a96eaa7 /usr/bin/bash e90100f0\n"
	exAggregateNGLne  = "10 cb71ab00b305f9f9d0223d682715165c493c4160 ima-ng sha1:0000000000000000000000000000000000000000 ns_aggregate_4026532329\n"
	exAggregateBinHex = "0a000000" + "a2704b7e24c69a20c4d0aa9223c4d3a2c37d6ed1" + "06000000" + "696d612d6e73" + "42000000" +
		"1a000000" + "736861313a00" + "0000000000000000000000000000000000000000" +
		"18000000" + "6e735f6167677265676174655f3430323635333233323900" + "04000000" + "e90100f0"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNSAggregateWorkedExample(t *testing.T) {
	e, err := NewNSAggregate(exNS, "ima-ns")
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatASCII(e); got != exAggregateLine {
		t.Errorf("ascii:\n got %q\nwant %q", got, exAggregateLine)
	}
	if got, want := AppendBinary(nil, e, WriteOptions{}), mustHex(t, exAggregateBinHex); !bytes.Equal(got, want) {
		t.Errorf("binary:\n got %x\nwant %x", got, want)
	}
	// RFC layout: the ns id right after the PCR.
	rfc := AppendBinary(nil, e, WriteOptions{NSHeader: true})
	if want := "0a000000e90100f0a2704b7e"; hex.EncodeToString(rfc[:12]) != want {
		t.Errorf("RFC header: got %x, want %s", rfc[:12], want)
	}
	if id, ok := e.NSAggregate(); !ok || id != exNS {
		t.Errorf("NSAggregate = %d, %v", id, ok)
	}
	if id, ok := e.NSID(); !ok || id != exNS {
		t.Errorf("NSID = %d, %v", id, ok)
	}
	if e.Violation() {
		t.Error("aggregate reported as a violation")
	}
}

func TestNSAggregateNGWorkedExample(t *testing.T) {
	// The RFC path: the aggregate is logged with the activator's template.
	e, err := NewNSAggregate(exNS, "ima-ng")
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatASCII(e); got != exAggregateNGLne {
		t.Errorf("got %q\nwant %q", got, exAggregateNGLne)
	}
	if _, ok := e.NSID(); ok {
		t.Error("ima-ng entry has no ns field")
	}
}

func TestNSEntryWorkedExample(t *testing.T) {
	digest := mustHex(t, "2a7c66fc7e19acc100ee2b777b71179043fade8b81968828522cf31e6a96eaa7")
	e, err := NewNSEntry(10, "sha256", digest, "/usr/bin/bash", exNS)
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatASCII(e); got != exBashLine {
		t.Errorf("got %q\nwant %q", got, exBashLine)
	}
	// The sha256 bank digest is the same input hashed with sha256: for each
	// field a u32 length and the bytes.
	le := binary.LittleEndian
	in := le.AppendUint32(nil, 40)
	in = append(append(in, "sha256:\x00"...), digest...)
	in = le.AppendUint32(in, 14)
	in = append(in, "/usr/bin/bash\x00"...)
	in = le.AppendUint32(in, 4)
	in = append(in, 0xe9, 0x01, 0x00, 0xf0)
	want := sha256.Sum256(in)
	if !bytes.Equal(e.Digest(SHA256), want[:]) {
		t.Errorf("sha256 digest %x, want %x", e.Digest(SHA256), want)
	}
	if got := string(AppendASCII(nil, e, SHA256)); !strings.HasPrefix(got, "10 "+hex.EncodeToString(want[:])+" ima-ns ") {
		t.Errorf("per-bank ascii line %q", got)
	}
	if e.NSHeader != exNS {
		t.Errorf("NSHeader %d", e.NSHeader)
	}
}

func TestViolationEntry(t *testing.T) {
	e, err := NewViolation(10, "ima-ns", "/tmp/file being written", exNS)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Violation() {
		t.Fatal("not a violation")
	}
	want := "10 0000000000000000000000000000000000000000 ima-ns sha1:0000000000000000000000000000000000000000 /tmp/file_being_written e90100f0\n"
	if got := FormatASCII(e); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	bin := AppendBinary(nil, e, WriteOptions{Bank: SHA256})
	if !bytes.Equal(bin[4:36], make([]byte, 32)) {
		t.Errorf("sha256 violation digest not zero: %x", bin[4:36])
	}
	ng, err := NewViolation(10, "ima-sig", "/x", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatASCII(ng); got != "10 0000000000000000000000000000000000000000 ima-sig sha1:0000000000000000000000000000000000000000 /x \n" {
		t.Errorf("ima-sig violation: %q (an empty sig leaves a trailing space)", got)
	}
}

func TestConstructorErrors(t *testing.T) {
	if _, err := NewNSEntry(10, "sha256", make([]byte, 20), "/x", 1); err == nil {
		t.Error("sha256 with a 20-byte digest accepted")
	}
	if _, err := NewNSEntry(10, "sha:1", make([]byte, 20), "/x", 1); err == nil {
		t.Error("algo with ':' accepted")
	}
	if _, err := NewNSEntry(10, "sha1", make([]byte, 20), "/x\x00y", 1); err == nil {
		t.Error("NUL in name accepted")
	}
	if _, err := NewEntry(10, "ima-ng", []Field{{Data: []byte("x")}}); err == nil {
		t.Error("wrong field count accepted")
	}
	if _, err := NewViolation(10, "ima", "/x", 0); err == nil {
		t.Error("violation of the legacy template accepted")
	}
}

func TestLegacyTemplate(t *testing.T) {
	d := bytes.Repeat([]byte{0xab}, 20)
	e, err := NewEntry(10, "ima", []Field{{Data: d}, {Data: []byte("/bin/sh")}}, SHA1)
	if err != nil {
		t.Fatal(err)
	}
	// Digest input: 20-byte digest, name padded with NULs to 256 bytes.
	in := append(bytes.Clone(d), []byte("/bin/sh")...)
	in = append(in, make([]byte, 256-7)...)
	sum := sha1.Sum(in)
	want := sum[:]
	if !bytes.Equal(e.Digest(SHA1), want) {
		t.Errorf("ima digest %x, want %x", e.Digest(SHA1), want)
	}
	line := FormatASCII(e)
	if line != "10 "+hex.EncodeToString(want)+" ima "+hex.EncodeToString(d)+" /bin/sh\n" {
		t.Errorf("line %q", line)
	}
	bin := AppendBinary(nil, e, WriteOptions{})
	// pcr, digest, name len, "ima", raw d, u32 len, name: no data length.
	if len(bin) != 4+20+4+3+20+4+7 {
		t.Errorf("legacy binary record of %d bytes", len(bin))
	}
}

func TestRenderings(t *testing.T) {
	bo := binary.LittleEndian
	fields := []Field{
		{Data: []byte("sha256:\x00" + strings.Repeat("\x11", 32))},
		{Data: []byte("/etc/passwd\x00")},
		{Data: []byte{0x03, 0x02}},             // evmsig
		{Data: []byte("security.ima\x00")},     // xattrnames
		{Data: bo.AppendUint32(nil, 2)},        // xattrlengths
		{Data: []byte{0x03, 0x02}},             // xattrvalues
		{Data: bo.AppendUint32(nil, 1000)},     // iuid
		{Data: bo.AppendUint32(nil, 100)},      // igid
		{Data: bo.AppendUint16(nil, 0o100644)}, // imode
	}
	e, err := NewEntry(10, "evm-sig", fields)
	if err != nil {
		t.Fatal(err)
	}
	line := FormatASCII(e)
	want := " evm-sig sha256:" + strings.Repeat("11", 32) + " /etc/passwd 0302 security.ima 02000000 0302 1000 100 33188\n"
	if !strings.HasSuffix(line, want) {
		t.Errorf("line %q\nwant suffix %q", line, want)
	}
	// d-ngv2 keeps its type prefix; the file digest algo is the last part.
	v2, err := NewEntry(10, "ima-ngv2", []Field{{Data: []byte("verity:sha256:\x00" + strings.Repeat("\x22", 32))}, {Data: []byte("/x\x00")}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(FormatASCII(v2), " verity:sha256:2222") {
		t.Errorf("ngv2 line %q", FormatASCII(v2))
	}
	if algo, sum, ok := v2.FileDigest(); !ok || algo != "sha256" || len(sum) != 32 {
		t.Errorf("FileDigest = %q %x %v", algo, sum, ok)
	}
	// Bottomley ns variants: UUID and label.
	u, err := NewEntry(10, "ima-ns", []Field{{Data: []byte("sha1:\x00" + strings.Repeat("\x00", 20))}, {Data: []byte("/x\x00")},
		{Data: mustHex(t, "e496e38441334d57b93a1812b83badf2")}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(FormatASCII(u), " e496e384-4133-4d57-b93a-1812b83badf2\n") {
		t.Errorf("uuid line %q", FormatASCII(u))
	}
	if _, ok := u.NSID(); ok {
		t.Error("UUID ns field read as an inode number")
	}
	// A PCR below 10 is padded to two columns ("%2d").
	p, _ := NewNGEntry(9, "sha1", make([]byte, 20), "/x")
	if !strings.HasPrefix(FormatASCII(p), " 9 ") {
		t.Errorf("pcr 9 line %q", FormatASCII(p))
	}
}
