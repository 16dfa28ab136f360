package measure

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// DefaultPCR is CONFIG_IMA_MEASURE_PCR_IDX.
const DefaultPCR = 10

// DefaultBanks are the banks constructors compute template digests for when
// the caller names none: the two banks every current TPM 2.0 allocates.
var DefaultBanks = []Alg{SHA1, SHA256}

// digestSizes are the sizes of the kernel hash algorithms that can appear in
// a d-ng prefix (hash_digest_size); unknown names are accepted as they are.
var digestSizes = map[string]int{
	"md4": 16, "md5": 16, "sha1": 20, "rmd160": 20, "sha224": 28, "sha256": 32,
	"sha384": 48, "sha512": 64, "sm3": 32, "streebog256": 32, "streebog512": 64,
	"sha3-256": 32, "sha3-384": 48, "sha3-512": 64, "wp256": 32, "wp384": 48, "wp512": 64,
}

// NewEntry builds an entry of any template from its fields (the bytes the
// kernel stores, without length prefixes) and computes its template digests
// for banks (DefaultBanks when none). Integers are little-endian: the
// constructors model an x86/arm64 host or the canonical format.
func NewEntry(pcr uint32, template string, fields []Field, banks ...Alg) (*Entry, error) {
	t, err := LookupTemplate(template)
	if err != nil {
		return nil, err
	}
	if !t.Unknown && len(fields) != len(t.Fields) {
		return nil, fmt.Errorf("template %s has %d fields, got %d", template, len(t.Fields), len(fields))
	}
	if len(fields) > maxTemplateField {
		return nil, fmt.Errorf("%d fields exceed the kernel's %d", len(fields), maxTemplateField)
	}
	if t.Legacy {
		if len(fields[0].Data) != legacyDigestLen || len(fields[1].Data) > legacyNameMax {
			return nil, fmt.Errorf(`template "ima" needs a 20-byte digest and a name of at most %d bytes`, legacyNameMax)
		}
	}
	e := &Entry{PCR: pcr, Template: template, order: LittleEndian, nsOrder: LittleEndian, tmpl: t}
	e.Fields = make([]Field, len(fields))
	for i, f := range fields {
		id := f.ID
		if !t.Unknown {
			id = t.Fields[i].ID
		}
		e.Fields[i] = Field{ID: id, Data: bytes.Clone(f.Data)}
	}
	if len(banks) == 0 {
		banks = DefaultBanks
	}
	if err := e.SetDigests(banks...); err != nil {
		return nil, err
	}
	return e, nil
}

// DigestNG encodes a d-ng field: "<algo>:" NUL digest (ima_eventdigest_init_common).
func DigestNG(algo string, digest []byte) ([]byte, error) {
	if algo == "" || strings.ContainsAny(algo, ":\x00 ") {
		return nil, fmt.Errorf("bad hash algorithm name %q", algo)
	}
	if n, ok := digestSizes[algo]; ok && n != len(digest) {
		return nil, fmt.Errorf("%s digest must be %d bytes, got %d", algo, n, len(digest))
	}
	out := make([]byte, 0, len(algo)+2+len(digest))
	out = append(out, algo...)
	out = append(out, ':', 0)
	return append(out, digest...), nil
}

// NameNG encodes an n-ng field the way ima_write_template_field_data does:
// spaces become '_' and a NUL ends the string.
func NameNG(name string) ([]byte, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return nil, fmt.Errorf("event name contains a NUL byte")
	}
	out := []byte(strings.ReplaceAll(name, " ", "_"))
	return append(out, 0), nil
}

// NSField encodes the openEuler ns field: the namespace inode number as the
// 4 bytes of a C unsigned int in host order (little-endian here), never
// converted, not even with ima_canonical_fmt (ima_eventns_init).
func NSField(ns imansid.ID) []byte {
	return binary.LittleEndian.AppendUint32(nil, uint32(ns))
}

// NewNSEntry builds an ima-ns ("d-ng|n-ng|ns") measurement of a file with
// the given digest, made in IMA namespace ns. NSHeader is set to ns for
// writers that use the RFC header.
func NewNSEntry(pcr uint32, algo string, digest []byte, name string, ns imansid.ID, banks ...Alg) (*Entry, error) {
	d, err := DigestNG(algo, digest)
	if err != nil {
		return nil, err
	}
	n, err := NameNG(name)
	if err != nil {
		return nil, err
	}
	e, err := NewEntry(pcr, "ima-ns", []Field{{Data: d}, {Data: n}, {Data: NSField(ns)}}, banks...)
	if err != nil {
		return nil, err
	}
	e.NSHeader = ns
	return e, nil
}

// NewNGEntry builds an ima-ng ("d-ng|n-ng") measurement.
func NewNGEntry(pcr uint32, algo string, digest []byte, name string, banks ...Alg) (*Entry, error) {
	d, err := DigestNG(algo, digest)
	if err != nil {
		return nil, err
	}
	n, err := NameNG(name)
	if err != nil {
		return nil, err
	}
	return NewEntry(pcr, "ima-ng", []Field{{Data: d}, {Data: n}}, banks...)
}

// NewNSAggregate builds the entry a namespace logs when it becomes active
// (ima_ns_add_boot_aggregate): event name ns_aggregate_<id>, a SHA1 d-ng
// of 20 zero bytes, PCR 10, not a violation. template is the template of
// the activating task: "ima-ns", or e.g. "ima-ng" on the RFC path where the
// parent's template is used (docs/kernel-abi.md#ima-ns-template).
func NewNSAggregate(ns imansid.ID, template string, banks ...Alg) (*Entry, error) {
	return newFixed(DefaultPCR, template, "sha1", NSAggregateName(ns), ns, false, banks)
}

// NewViolation builds a violation entry (ima_add_violation) of a d-ng based
// template as 5.10 kernels (the openEuler IMA-namespace base) log it: d-ng
// "sha1:" NUL and 20 zero bytes, the name, the namespace id when the
// template has an ns field, other fields empty, and all-zero template
// digests in every bank.
func NewViolation(pcr uint32, template, name string, ns imansid.ID, banks ...Alg) (*Entry, error) {
	return newFixed(pcr, template, "sha1", name, ns, true, banks)
}

// NewViolationAlgo is NewViolation with the d-ng algorithm of newer kernels,
// which log the zero digest of ima_hash_algo (seen on Debian's 6.1 with
// ima_hash=sha256: "sha256:" and 32 zero bytes).
func NewViolationAlgo(pcr uint32, template, algo, name string, ns imansid.ID, banks ...Alg) (*Entry, error) {
	if _, ok := digestSizes[algo]; !ok {
		return nil, fmt.Errorf("unknown hash algorithm %q", algo)
	}
	return newFixed(pcr, template, algo, name, ns, true, banks)
}

func newFixed(pcr uint32, template, algo, name string, ns imansid.ID, violation bool, banks []Alg) (*Entry, error) {
	t, err := LookupTemplate(template)
	if err != nil {
		return nil, err
	}
	if t.Unknown || t.Legacy {
		return nil, fmt.Errorf("template %s is not d-ng based", template)
	}
	fields := make([]Field, len(t.Fields))
	for i, def := range t.Fields {
		switch def.ID {
		case "d-ng":
			fields[i].Data, _ = DigestNG(algo, make([]byte, digestSizes[algo]))
		case "n-ng":
			if fields[i].Data, err = NameNG(name); err != nil {
				return nil, err
			}
		case "ns":
			fields[i].Data = NSField(ns)
		}
	}
	if fields[0].Data == nil {
		return nil, fmt.Errorf("template %s does not start with d-ng", template)
	}
	if violation {
		if len(banks) == 0 {
			banks = DefaultBanks
		}
		e, err := NewEntry(pcr, template, fields, SHA1)
		if err != nil {
			return nil, err
		}
		e.Digests = e.Digests[:0]
		for _, a := range banks {
			e.Digests = append(e.Digests, Digest{Alg: a, Sum: make([]byte, a.Size())})
		}
		e.NSHeader = ns
		return e, nil
	}
	e, err := NewEntry(pcr, template, fields, banks...)
	if err != nil {
		return nil, err
	}
	e.NSHeader = ns
	return e, nil
}

// WriteOptions says how AppendBinary lays an entry out.
type WriteOptions struct {
	// Order of all integers except the ns field; zero value = little-endian.
	Order ByteOrder
	// Bank whose template digest is written; zero value = SHA1 (the legacy
	// binary_runtime_measurements). Missing digests are computed.
	Bank Alg
	// NSHeader writes Entry.NSHeader after the PCR (2020 RFC layout, [U]).
	NSHeader bool
}

// AppendBinary appends e as ima_measurements_show writes it: u32 PCR, the
// template digest, u32 name length, name, u32 template-data length (not for
// "ima") and for each field u32 length and bytes ("ima": the 20-byte digest
// raw, then u32 length and the name).
func AppendBinary(dst []byte, e *Entry, opt WriteOptions) []byte {
	bo := opt.Order.binary()
	bank := opt.Bank
	if bank == AlgUnknown {
		bank = SHA1
	}
	dst = bo.AppendUint32(dst, e.PCR)
	if opt.NSHeader {
		dst = bo.AppendUint32(dst, uint32(e.NSHeader))
	}
	dst = appendDigest(dst, e, bank)
	dst = bo.AppendUint32(dst, uint32(len(e.Template)))
	dst = append(dst, e.Template...)
	if e.Template == "ima" && len(e.Fields) == 2 {
		dst = append(dst, e.Fields[0].Data...)
		dst = bo.AppendUint32(dst, uint32(len(e.Fields[1].Data)))
		return append(dst, e.Fields[1].Data...)
	}
	n := 0
	for _, f := range e.Fields {
		n += 4 + len(f.Data)
	}
	dst = bo.AppendUint32(dst, uint32(n))
	for _, f := range e.Fields {
		dst = bo.AppendUint32(dst, uint32(len(f.Data)))
		dst = append(dst, f.Data...)
	}
	return dst
}

func appendDigest(dst []byte, e *Entry, bank Alg) []byte {
	if d := e.Digest(bank); len(d) == bank.Size() {
		return append(dst, d...)
	}
	if e.Violation() || !bank.Supported() {
		// The kernel logs zeros for violations in every bank, and for banks
		// it cannot hash the SHA1 digest padded with zeros.
		out := append(dst, make([]byte, bank.Size())...)
		if !e.Violation() {
			if d := e.Digest(SHA1); d != nil {
				copy(out[len(dst):], d)
			}
		}
		return out
	}
	var scratch []byte
	return bank.sum(dst, e.hashInput(&scratch))
}

// FormatASCII renders e as one line of ascii_runtime_measurements, with its
// SHA1 template digest (or its first one when it has no SHA1 digest).
func FormatASCII(e *Entry) string {
	bank := SHA1
	if e.Digest(SHA1) == nil && len(e.Digests) > 0 {
		bank = e.Digests[0].Alg
	}
	return string(AppendASCII(nil, e, bank))
}

// AppendASCII appends the ascii_runtime_measurements line of e showing the
// template digest of bank (the per-bank ascii files of 6.10+ kernels):
// "%2d " PCR, hex digest, template name, and for each field a space and its
// rendering (ima_show_template_data_ascii), then a newline.
func AppendASCII(dst []byte, e *Entry, bank Alg) []byte {
	if e.PCR < 10 {
		dst = append(dst, ' ')
	}
	dst = strconv.AppendUint(dst, uint64(e.PCR), 10)
	dst = append(dst, ' ')
	dst = appendHex(dst, appendDigest(nil, e, bank))
	dst = append(dst, ' ')
	dst = append(dst, e.Template...)
	t := e.desc()
	for i, f := range e.Fields {
		dst = append(dst, ' ')
		def := FieldDef{Kind: KindHex}
		if t != nil && !t.Unknown && i < len(t.Fields) {
			def = t.Fields[i]
		}
		dst = appendRendering(dst, def, f.Data, e.Order(), e.nsByteOrder())
	}
	return append(dst, '\n')
}

func appendHex(dst, src []byte) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, hex.EncodedLen(len(src)))...)
	hex.Encode(dst[n:], src)
	return dst
}

// cString is the C-string view of data: up to the first NUL.
func cString(data []byte) []byte {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return data[:i]
	}
	return data
}

func appendRendering(dst []byte, def FieldDef, data []byte, order, nsOrder ByteOrder) []byte {
	if len(data) == 0 {
		return dst
	}
	switch def.Kind {
	case KindDigestAlgo:
		// The prefix is printed as a C string, the digest as hex from two
		// bytes after the last ':' of that string (ima_show_template_data_ascii).
		s := cString(data)
		colon := bytes.LastIndexByte(s, ':')
		if colon < 0 || colon+2 > len(data) {
			return appendHex(dst, data)
		}
		dst = append(dst, s...)
		return appendHex(dst, data[colon+2:])
	case KindName, KindString:
		return append(dst, cString(data)...)
	case KindUint:
		bo := order.binary()
		switch len(data) {
		case 1:
			return strconv.AppendUint(dst, uint64(data[0]), 10)
		case 2:
			return strconv.AppendUint(dst, uint64(bo.Uint16(data)), 10)
		case 4:
			return strconv.AppendUint(dst, uint64(bo.Uint32(data)), 10)
		case 8:
			return strconv.AppendUint(dst, bo.Uint64(data), 10)
		}
		return dst // the kernel prints nothing for other sizes
	case KindNS:
		switch len(data) {
		case 4:
			return appendHex(dst, data)
		case 16:
			return appendUUID(dst, data)
		}
		return append(dst, cString(data)...)
	}
	return appendHex(dst, data)
}

func appendUUID(dst, b []byte) []byte {
	dst = appendHex(dst, b[0:4])
	dst = append(dst, '-')
	dst = appendHex(dst, b[4:6])
	dst = append(dst, '-')
	dst = appendHex(dst, b[6:8])
	dst = append(dst, '-')
	dst = appendHex(dst, b[8:10])
	dst = append(dst, '-')
	return appendHex(dst, b[10:16])
}
