package measure

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// ReadOptions describe a list and how far to trust it.
type ReadOptions struct {
	// Order of the integers; OrderAuto decides from the first PCR number
	// (binary) and means little-endian for ASCII lists.
	Order ByteOrder
	// NSOrder is the order of the 4-byte ns field, which the kernel never
	// converts: differs from Order only for canonical lists of big-endian
	// hosts. OrderAuto = same as Order.
	NSOrder ByteOrder
	// Bank is the algorithm of the logged template digest: SHA1 for the
	// legacy files, the file-name suffix for the per-bank files of 6.10+
	// kernels (binary_runtime_measurements_sha256). Zero value = SHA1 for
	// binary lists and "by digest length" for ASCII lists.
	Bank Alg
	// Layout of binary records: LayoutAuto (zero value) detects it from
	// the first records (DetectLayout), LayoutNSHeader reads the u32
	// namespace id the 2020 RFC inserts after the PCR, LayoutPlain does not.
	Layout Layout
	Limits Limits
}

// Reader yields entries one at a time; Next returns io.EOF after the last.
type Reader interface {
	Next() (*Entry, error)
}

// BinaryReader streams binary_runtime_measurements.
type BinaryReader struct {
	br    *bufio.Reader
	opt   ReadOptions
	lim   Limits
	bo    order
	off   int64 // bytes consumed
	index int64
	err   error

	entry   Entry
	data    []byte // template data buffer, reused
	digest  [MaxDigestSize]byte
	name    []byte
	nameStr string
	tmpl    *Template
	digs    [1]Digest
	fields  []Field
	// detected: the layout was detected; fits: it read the first records
	// correctly (false: neither layout did, the reader reports the break).
	detected, fits bool
	// scratch for fixed-size reads: a field of the reader, so that passing
	// it to io.ReadFull does not allocate per entry.
	hdr  [4]byte
	u32b [4]byte
}

// NewBinaryReader reads a binary list from r (buffered internally).
func NewBinaryReader(r io.Reader, opt ReadOptions) *BinaryReader {
	if opt.Bank == AlgUnknown {
		opt.Bank = SHA1
	}
	br := buffered(r)
	if opt.Layout == LayoutAuto && br.Size() < detectWindow {
		// Detection peeks at the first records: a caller's small buffer
		// would leave both layouts undecided.
		br = bufio.NewReaderSize(br, detectWindow)
	}
	return &BinaryReader{br: br, opt: opt, lim: opt.Limits.withDefaults()}
}

// Offset is the number of bytes consumed so far: the offset of the next entry.
func (r *BinaryReader) Offset() int64 { return r.off }

// Order is the byte order in use (known after the first entry when auto).
func (r *BinaryReader) Order() ByteOrder { return r.opt.Order }

// Layout is the record layout in use: the one asked for, or after the first
// Next the one detected (LayoutAuto for an empty list).
func (r *BinaryReader) Layout() Layout { return r.opt.Layout }

// LayoutDetected says the layout was detected rather than given.
func (r *BinaryReader) LayoutDetected() bool { return r.detected }

// detectLayout runs once, before the first record is read.
func (r *BinaryReader) detectLayout() error {
	if r.opt.Layout != LayoutAuto {
		return nil
	}
	head, err := r.br.Peek(detectWindow)
	if len(head) == 0 {
		return nil // empty (or unreadable: Next reports it)
	}
	eof := err == io.EOF
	l, ok, derr := DetectLayout(head, eof, r.opt.Order, r.opt.Bank, r.lim)
	if derr != nil {
		return r.fail(0, "pass --layout plain or --layout ns-header", "cannot tell the record layout: %v", derr)
	}
	r.opt.Layout, r.detected, r.fits = l, true, ok
	return nil
}

func (r *BinaryReader) fail(at int64, hint string, format string, args ...any) error {
	r.err = &FormatError{Format: "binary", Index: r.index, Offset: at, Msg: fmt.Sprintf(format, args...), Hint: hint}
	return r.err
}

// read fills p; a short read is a truncated entry.
func (r *BinaryReader) read(p []byte, what string) error {
	if len(p) <= r.br.Buffered() {
		// Fast path: the bytes are in the buffer; skips io.ReadFull's call
		// chain, which costs more than the copy for these small reads.
		b, _ := r.br.Peek(len(p))
		copy(p, b)
		r.br.Discard(len(p))
		r.off += int64(len(p))
		return nil
	}
	n, err := io.ReadFull(r.br, p)
	r.off += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return r.fail(r.off, "", "list ends inside %s (%d of %d bytes)", what, n, len(p))
		}
		r.err = fmt.Errorf("binary list: byte %d: %w", r.off, err)
		return r.err
	}
	return nil
}

func (r *BinaryReader) u32(what string) (uint32, error) {
	if err := r.read(r.u32b[:], what); err != nil {
		return 0, err
	}
	return r.bo.Uint32(r.u32b[:]), nil
}

// Next returns the next entry, io.EOF at the clean end of the list, or a
// *FormatError. After an error every call returns the same error.
func (r *BinaryReader) Next() (*Entry, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.index == 0 && r.off == 0 && r.bo == nil {
		if err := r.detectLayout(); err != nil {
			return nil, err
		}
	}
	start := r.off
	pcrb := &r.hdr
	var n int
	var err error
	if r.br.Buffered() >= 4 {
		b, _ := r.br.Peek(4)
		n = copy(pcrb[:], b)
		r.br.Discard(4)
	} else {
		n, err = io.ReadFull(r.br, pcrb[:])
	}
	r.off += int64(n)
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			r.err = io.EOF
			return nil, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, r.fail(start, "", "list ends inside an entry header (%d of 4 bytes)", n)
		}
		r.err = fmt.Errorf("binary list: byte %d: %w", r.off, err)
		return nil, r.err
	}
	if r.bo == nil {
		r.opt.Order = detectOrder(r.opt.Order, *pcrb)
		r.bo = r.opt.Order.binary()
	}
	e := &r.entry
	*e = Entry{order: r.opt.Order, nsOrder: r.opt.NSOrder, Pos: Position{Index: r.index, Offset: start}}
	e.PCR = r.bo.Uint32(pcrb[:])
	if e.PCR > r.lim.MaxPCR {
		hint := ""
		if bs := binary.BigEndian.Uint32(pcrb[:]); r.opt.Order == LittleEndian && bs <= r.lim.MaxPCR {
			hint = "the list may be big-endian: try --byte-order big"
		} else if r.index == 0 {
			hint = "is this a binary measurement list?"
		}
		return nil, r.fail(start, hint, "PCR %d is out of range (at most %d)", e.PCR, r.lim.MaxPCR)
	}
	if r.opt.Layout == LayoutNSHeader {
		id, err := r.u32("the namespace id header")
		if err != nil {
			return nil, err
		}
		e.NSHeader = imansid.ID(id)
	}
	dsize := r.opt.Bank.Size()
	if err := r.read(r.digest[:dsize], "the template digest"); err != nil {
		return nil, err
	}
	r.digs[0] = Digest{Alg: r.opt.Bank, Sum: r.digest[:dsize]}
	e.Digests = r.digs[:]

	nameAt := r.off
	nameLen, err := r.u32("the template name length")
	if err != nil {
		return nil, err
	}
	if nameLen == 0 || nameLen > uint32(r.lim.MaxTemplateName) {
		hint := r.layoutHint()
		return nil, r.fail(nameAt, hint, "template name length %d is out of range (1..%d)", nameLen, r.lim.MaxTemplateName)
	}
	if cap(r.name) < int(nameLen) {
		r.name = make([]byte, nameLen, r.lim.MaxTemplateName)
	}
	if err := r.read(r.name[:nameLen], "the template name"); err != nil {
		return nil, err
	}
	name := r.name[:nameLen]
	if string(name) != r.nameStr {
		t, err := LookupTemplate(string(name))
		if err != nil {
			return nil, r.fail(nameAt+4, r.layoutHint(), "%v", err)
		}
		r.nameStr, r.tmpl = t.Name, t
	}
	e.Template, e.tmpl = r.nameStr, r.tmpl

	if e.tmpl.Legacy {
		err = r.readLegacy(e)
	} else {
		err = r.readFields(e)
	}
	if err != nil {
		return nil, err
	}
	r.index++
	return e, nil
}

// layoutHint is the hint of an error in the first record: the layout may
// be the cause.
func (r *BinaryReader) layoutHint() string {
	switch {
	case r.index != 0:
		return ""
	case r.detected && !r.fits:
		return "neither the plain nor the ns-header record layout fits the first records"
	case !r.detected && r.opt.Layout == LayoutNSHeader:
		return "if the records have no namespace id after the PCR, try --layout plain"
	case !r.detected:
		return "if the kernel puts a namespace id after the PCR, try --layout ns-header"
	}
	return ""
}

// detectOrder picks the byte order from the first PCR: PCR numbers are
// small, so the order in which the first u32 is small is the list's.
func detectOrder(o ByteOrder, pcr [4]byte) ByteOrder {
	if o != OrderAuto {
		return o
	}
	if binary.LittleEndian.Uint32(pcr[:]) > 0xffff && binary.BigEndian.Uint32(pcr[:]) <= 0xffff {
		return BigEndian
	}
	return LittleEndian
}

func (r *BinaryReader) grow(n int) []byte {
	if cap(r.data) < n {
		r.data = make([]byte, n, max(n, 4096))
	}
	return r.data[:n]
}

func (r *BinaryReader) readFields(e *Entry) error {
	lenAt := r.off
	dlen, err := r.u32("the template data length")
	if err != nil {
		return err
	}
	if dlen > uint32(r.lim.MaxTemplateData) {
		return r.fail(lenAt, "", "template data length %d exceeds the limit %d", dlen, r.lim.MaxTemplateData)
	}
	dataAt := r.off
	data := r.grow(int(dlen))
	if err := r.read(data, "the template data"); err != nil {
		return err
	}
	e.raw = data
	fields := r.fields[:0]
	for p := 0; p < len(data); {
		if len(fields) == r.lim.MaxFields {
			return r.fail(dataAt+int64(p), "", "more than %d template fields", r.lim.MaxFields)
		}
		if len(data)-p < 4 {
			return r.fail(dataAt+int64(p), "", "template data ends inside a field length (%d bytes left)", len(data)-p)
		}
		flen := r.bo.Uint32(data[p:])
		if uint64(flen) > uint64(len(data)-p-4) {
			return r.fail(dataAt+int64(p), "", "field %d length %d overruns the template data (%d bytes left)", len(fields), flen, len(data)-p-4)
		}
		id := ""
		if !e.tmpl.Unknown && len(fields) < len(e.tmpl.Fields) {
			id = e.tmpl.Fields[len(fields)].ID
		}
		fields = append(fields, Field{ID: id, Data: data[p+4 : p+4+int(flen) : p+4+int(flen)]})
		p += 4 + int(flen)
	}
	r.fields = fields
	if !e.tmpl.Unknown && len(fields) != len(e.tmpl.Fields) {
		return r.fail(dataAt, "", "template %s has %d fields, the entry has %d", e.Template, len(e.tmpl.Fields), len(fields))
	}
	e.Fields = fields
	return nil
}

// readLegacy reads the "ima" template: a raw 20-byte digest, then u32 length
// and the name without NUL (IMA_SHOW_BINARY_OLD_STRING_FMT). Its digest
// input pads the name to 256 bytes, so raw is built here.
func (r *BinaryReader) readLegacy(e *Entry) error {
	data := r.grow(legacyDigestLen + legacyNameMax + 1)
	if err := r.read(data[:legacyDigestLen], "the ima template digest"); err != nil {
		return err
	}
	lenAt := r.off
	nlen, err := r.u32("the ima template name length")
	if err != nil {
		return err
	}
	if nlen > legacyNameMax {
		return r.fail(lenAt, "", "ima template name length %d exceeds %d", nlen, legacyNameMax)
	}
	name := data[legacyDigestLen : legacyDigestLen+nlen]
	if err := r.read(name, "the ima template name"); err != nil {
		return err
	}
	clear(data[legacyDigestLen+nlen:])
	e.raw = data
	r.fields = append(r.fields[:0],
		Field{ID: "d", Data: data[:legacyDigestLen:legacyDigestLen]},
		Field{ID: "n", Data: name[:nlen:nlen]})
	e.Fields = r.fields
	return nil
}
