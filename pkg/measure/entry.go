package measure

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// ByteOrder is the order of the integers in a list: the kernel writes them in
// host order, or little-endian when booted with ima_canonical_fmt.
type ByteOrder uint8

const (
	// OrderAuto lets a reader decide from the first PCR number.
	OrderAuto ByteOrder = iota
	// LittleEndian is x86/arm64 host order and the canonical format.
	LittleEndian
	// BigEndian is the host order of big-endian machines without
	// ima_canonical_fmt.
	BigEndian
)

func (o ByteOrder) String() string {
	switch o {
	case LittleEndian:
		return "little"
	case BigEndian:
		return "big"
	}
	return "auto"
}

// ParseByteOrder accepts auto, little (le, canonical) and big (be).
func ParseByteOrder(s string) (ByteOrder, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return OrderAuto, nil
	case "little", "le", "canonical":
		return LittleEndian, nil
	case "big", "be":
		return BigEndian, nil
	}
	return OrderAuto, fmt.Errorf("unknown byte order %q (want auto, little or big)", s)
}

// order is what the codecs need of a byte order: read and append.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func (o ByteOrder) binary() order {
	if o == BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// Field is one template field: its id (from the template format) and its
// bytes as stored in the template data, without the length prefix.
type Field struct {
	ID   string
	Data []byte
}

// Digest is a template digest for one bank.
type Digest struct {
	Alg Alg
	Sum []byte
}

// Position locates an entry in the list it was read from.
type Position struct {
	Index  int64 // 0-based entry number
	Offset int64 // byte offset of the entry (binary lists), -1 otherwise
	Line   int   // 1-based line (ASCII lists), 0 otherwise
}

func (p Position) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("entry %d (line %d)", p.Index, p.Line)
	}
	return fmt.Sprintf("entry %d (byte %d)", p.Index, p.Offset)
}

// Entry is one measurement. Entries returned by readers are views into the
// reader's buffers: valid until the next call to Next, not to be modified.
type Entry struct {
	PCR uint32
	// NSHeader is the u32 namespace id that the 2020 RFC puts after the PCR
	// of every binary record (docs/kernel-abi.md#binary-layout, [U]); it is read and
	// written only with the NSHeader option.
	NSHeader imansid.ID
	Template string
	Fields   []Field
	// Digests are the template digests per bank. Readers fill the one bank
	// the list carries (sha1 for the legacy files); the first one is the
	// logged digest. All zero means a violation.
	Digests []Digest
	Pos     Position

	// order is the byte order of the length prefixes and integer fields,
	// nsOrder the order of the ns field (host order, never converted).
	order, nsOrder ByteOrder
	// raw is the exact template-digest input when a reader has it at hand
	// (the binary template data); nil means build it from Fields.
	raw []byte
	// tmpl caches the descriptor of Template.
	tmpl *Template
}

// Order is the byte order of the entry's integers.
func (e *Entry) Order() ByteOrder {
	if e.order == OrderAuto {
		return LittleEndian
	}
	return e.order
}

func (e *Entry) nsByteOrder() ByteOrder {
	if e.nsOrder == OrderAuto {
		return e.Order()
	}
	return e.nsOrder
}

// Digest returns the template digest for bank a, nil when the entry has none.
func (e *Entry) Digest(a Alg) []byte {
	for _, d := range e.Digests {
		if d.Alg == a {
			return d.Sum
		}
	}
	return nil
}

// Violation reports whether the logged template digest is all zero: the
// kernel logs ToMToU and open-writers violations that way (ima_add_violation)
// and extends the PCRs with all-0xff instead.
func (e *Entry) Violation() bool {
	if len(e.Digests) == 0 {
		return false
	}
	return isZero(e.Digests[0].Sum)
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return len(b) > 0
}

// field returns the first field whose kind is k.
func (e *Entry) field(kinds ...Kind) *Field {
	desc := e.desc()
	if desc == nil {
		return nil
	}
	for i := range e.Fields {
		if i >= len(desc.Fields) {
			break
		}
		for _, k := range kinds {
			if desc.Fields[i].Kind == k {
				return &e.Fields[i]
			}
		}
	}
	return nil
}

func (e *Entry) hasField(id string) bool {
	for _, f := range e.Fields {
		if f.ID == id {
			return true
		}
	}
	return false
}

func (e *Entry) desc() *Template {
	if e.tmpl != nil && e.tmpl.Name == e.Template {
		return e.tmpl
	}
	t, err := LookupTemplate(e.Template)
	if err != nil {
		return nil
	}
	return t
}

// FileDigest returns the file digest of the d, d-ng or d-ngv2 field: the hash
// algorithm name ("sha256"; for d-ngv2 without the ima:/verity: type) and the
// raw digest. ok is false when the entry has no such field or it is malformed.
func (e *Entry) FileDigest() (algo string, sum []byte, ok bool) {
	a, sum, ok := e.fileDigest()
	return string(a), sum, ok
}

func (e *Entry) fileDigest() (algo, sum []byte, ok bool) {
	f := e.field(KindDigestAlgo, KindDigest)
	if f == nil {
		return nil, nil, false
	}
	if f.ID == "d" {
		switch len(f.Data) {
		case 16:
			return []byte("md5"), f.Data, true
		case 20:
			return []byte("sha1"), f.Data, true
		}
		return nil, nil, false
	}
	prefix, sum, ok := splitDigestAlgo(f.Data)
	if !ok {
		return nil, nil, false
	}
	prefix = prefix[:len(prefix)-1]
	if i := bytes.LastIndexByte(prefix, ':'); i >= 0 {
		prefix = prefix[i+1:]
	}
	return prefix, sum, true
}

// splitDigestAlgo splits "<prefix>:" NUL digest.
func splitDigestAlgo(data []byte) (prefix, sum []byte, ok bool) {
	nul := bytes.IndexByte(data, 0)
	if nul < 1 || data[nul-1] != ':' {
		return nil, nil, false
	}
	return data[:nul], data[nul+1:], true
}

// EventName returns the n-ng (or legacy n) field: the file path or event
// name as logged, spaces already replaced by '_' by the kernel.
func (e *Entry) EventName() string {
	return string(e.eventName())
}

func (e *Entry) eventName() []byte {
	f := e.field(KindString, KindName)
	if f == nil {
		return nil
	}
	if i := bytes.IndexByte(f.Data, 0); i >= 0 {
		return f.Data[:i]
	}
	return f.Data
}

// NSID returns the IMA namespace id of an ima-ns entry (the 4-byte ns field
// of the openEuler/Huawei series). ok is false for other templates and for
// the UUID/label variants of the ns field.
func (e *Entry) NSID() (imansid.ID, bool) {
	f := e.field(KindNS)
	if f == nil || len(f.Data) != 4 {
		return 0, false
	}
	return imansid.ID(e.nsByteOrder().binary().Uint32(f.Data)), true
}

// nsAggregatePrefix starts the event name of the entry the kernel logs when
// a namespace becomes active (ima_ns_add_boot_aggregate).
const nsAggregatePrefix = "ns_aggregate_"

// NSAggregateName is the event name of namespace id's aggregate entry.
func NSAggregateName(id imansid.ID) string {
	return nsAggregatePrefix + strconv.FormatUint(uint64(id), 10)
}

// NSAggregate returns the namespace id named by an ns_aggregate_<id> entry.
func (e *Entry) NSAggregate() (imansid.ID, bool) {
	return parseNSAggregate(e.eventName())
}

// templateData appends the template-digest input of e to dst: for every
// field its u32 length in the entry's byte order and its bytes; for the
// legacy "ima" template the 20-byte digest and the name padded with NULs to
// 256 bytes (ima_calc_field_array_hash_tfm).
func (e *Entry) templateData(dst []byte) []byte {
	if e.raw != nil {
		return append(dst, e.raw...)
	}
	if e.Template == "ima" && len(e.Fields) == 2 {
		dst = append(dst, e.Fields[0].Data...)
		n := len(dst)
		dst = append(dst, e.Fields[1].Data...)
		for len(dst)-n < legacyNameMax+1 {
			dst = append(dst, 0)
		}
		return dst
	}
	bo := e.Order().binary()
	for _, f := range e.Fields {
		dst = bo.AppendUint32(dst, uint32(len(f.Data)))
		dst = append(dst, f.Data...)
	}
	return dst
}

// hashInput returns the template-digest input, using scratch when it has to
// be built.
func (e *Entry) hashInput(scratch *[]byte) []byte {
	if e.raw != nil {
		return e.raw
	}
	*scratch = e.templateData((*scratch)[:0])
	return *scratch
}

// TemplateDigest computes the template digest of e for bank a (not the
// logged one). Violations have no computable digest: callers check
// Violation first.
func (e *Entry) TemplateDigest(a Alg) ([]byte, error) {
	if !a.Supported() {
		return nil, fmt.Errorf("cannot compute %s digests", a)
	}
	var scratch []byte
	return a.sum(nil, e.hashInput(&scratch)), nil
}

// SetDigests replaces the template digests with freshly computed ones for
// banks (violations get all-zero digests of each bank's size).
func (e *Entry) SetDigests(banks ...Alg) error {
	violation := e.Violation()
	e.Digests = e.Digests[:0]
	for _, a := range banks {
		if violation {
			e.Digests = append(e.Digests, Digest{Alg: a, Sum: make([]byte, a.Size())})
			continue
		}
		sum, err := e.TemplateDigest(a)
		if err != nil {
			return err
		}
		e.Digests = append(e.Digests, Digest{Alg: a, Sum: sum})
	}
	return nil
}

// Clone returns a deep copy that stays valid after the reader moves on.
func (e *Entry) Clone() *Entry {
	c := *e
	c.Fields = make([]Field, len(e.Fields))
	for i, f := range e.Fields {
		c.Fields[i] = Field{ID: f.ID, Data: bytes.Clone(f.Data)}
	}
	c.Digests = make([]Digest, len(e.Digests))
	for i, d := range e.Digests {
		c.Digests[i] = Digest{Alg: d.Alg, Sum: bytes.Clone(d.Sum)}
	}
	c.raw = nil
	return &c
}
