package measure

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
)

// ASCIIReader streams ascii_runtime_measurements. Each line is turned back
// into the template data the kernel hashed, so template digests and PCRs can
// be checked exactly as from the binary list. Names containing a newline
// cannot be represented in this format (the kernel prints them raw); use the
// binary list for such systems.
type ASCIIReader struct {
	br      *bufio.Reader
	opt     ReadOptions
	lim     Limits
	maxLine int
	line    int
	index   int64
	err     error

	long    []byte // a line longer than the bufio buffer
	entry   Entry
	raw     []byte
	digest  [MaxDigestSize]byte
	digs    [1]Digest
	fields  []Field
	nameStr string
	tmpl    *Template
}

// NewASCIIReader reads an ASCII list from r.
func NewASCIIReader(r io.Reader, opt ReadOptions) *ASCIIReader {
	if opt.Order == OrderAuto {
		opt.Order = LittleEndian
	}
	lim := opt.Limits.withDefaults()
	return &ASCIIReader{
		br:  buffered(r),
		opt: opt, lim: lim,
		// Every byte of template data is at most two characters of text.
		maxLine: 2*lim.MaxTemplateData + 2*MaxDigestSize + lim.MaxTemplateName + 64,
	}
}

// Line is the number of lines read so far.
func (r *ASCIIReader) Line() int { return r.line }

func (r *ASCIIReader) fail(col int, hint string, format string, args ...any) error {
	r.err = &FormatError{Format: "ascii", Index: r.index, Offset: -1, Line: r.line, Col: col, Msg: fmt.Sprintf(format, args...), Hint: hint}
	return r.err
}

// readLine returns the next line without its newline, bounded by maxLine.
func (r *ASCIIReader) readLine() ([]byte, error) {
	r.long = r.long[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if err == nil {
			if len(r.long) == 0 {
				return chunk[:len(chunk)-1], nil
			}
			r.long = append(r.long, chunk[:len(chunk)-1]...)
			return r.long, nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(r.long)+len(chunk) > r.maxLine {
				r.line++
				return nil, r.fail(1, "", "line longer than %d bytes", r.maxLine)
			}
			r.long = append(r.long, chunk...)
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(chunk) == 0 && len(r.long) == 0 {
				return nil, io.EOF
			}
			// The kernel ends every line with a newline; a missing one means
			// the list was cut while being copied.
			r.long = append(r.long, chunk...)
			r.line++
			return nil, r.fail(len(r.long)+1, "", "last line has no newline: the list is truncated")
		}
		return nil, err
	}
}

// Next returns the next entry, io.EOF at the end, or a *FormatError.
func (r *ASCIIReader) Next() (*Entry, error) {
	if r.err != nil {
		return nil, r.err
	}
	line, err := r.readLine()
	if err != nil {
		if r.err == nil {
			r.err = err
		}
		return nil, err
	}
	r.line++
	if len(line) > r.maxLine {
		return nil, r.fail(1, "", "line longer than %d bytes", r.maxLine)
	}
	e, err := r.parse(line)
	if err != nil {
		return nil, err
	}
	r.index++
	return e, nil
}

// next returns the token at line[p:] up to the next space (or the end) and
// the position after the space; sep reports whether a space followed.
func token(line []byte, p int) (tok []byte, next int, sep bool) {
	i := bytes.IndexByte(line[p:], ' ')
	if i < 0 {
		return line[p:], len(line), false
	}
	return line[p : p+i], p + i + 1, true
}

func (r *ASCIIReader) parse(line []byte) (*Entry, error) {
	e := &r.entry
	*e = Entry{order: r.opt.Order, nsOrder: r.opt.NSOrder, Pos: Position{Index: r.index, Offset: -1, Line: r.line}}

	// "%2d " PCR: a leading space for one digit.
	p := 0
	if len(line) > 0 && line[0] == ' ' {
		p = 1
	}
	tok, next, sep := token(line, p)
	pcr, ok := parseDecimal(tok, 10)
	if !ok || !sep || (p == 1) != (pcr < 10) || (len(tok) > 1 && tok[0] == '0') {
		return nil, r.fail(1, "is this an ascii measurement list?", "want the PCR as \"%%2d \", got %q", clip(line, 12))
	}
	if uint32(pcr) > r.lim.MaxPCR {
		return nil, r.fail(p+1, "", "PCR %d is out of range (at most %d)", pcr, r.lim.MaxPCR)
	}
	e.PCR = uint32(pcr)

	// Template digest.
	col := next
	tok, next, sep = token(line, next)
	if !sep {
		return nil, r.fail(col+1, "", "line ends after the template digest")
	}
	bank := r.opt.Bank
	if bank == AlgUnknown {
		switch len(tok) / 2 {
		case 20:
			bank = SHA1
		case 32:
			bank = SHA256
		case 48:
			bank = SHA384
		case 64:
			bank = SHA512
		}
		r.opt.Bank = bank
	}
	if len(tok) != 2*bank.Size() || bank == AlgUnknown {
		return nil, r.fail(col+1, "", "template digest has %d hex digits, want %d for %s", len(tok), 2*bank.Size(), bank)
	}
	if bad := decodeHexLower(r.digest[:0], tok); bad >= 0 {
		return nil, r.fail(col+1+bad, "", "template digest: want lowercase hex")
	}
	r.digs[0] = Digest{Alg: bank, Sum: r.digest[:bank.Size()]}
	e.Digests = r.digs[:]

	// Template name.
	col = next
	tok, next, sep = token(line, next)
	if len(tok) == 0 || len(tok) > r.lim.MaxTemplateName {
		return nil, r.fail(col+1, "", "template name of %d bytes is out of range (1..%d)", len(tok), r.lim.MaxTemplateName)
	}
	if string(tok) != r.nameStr {
		t, err := LookupTemplate(string(tok))
		if err != nil {
			return nil, r.fail(col+1, "", "%v", err)
		}
		r.nameStr, r.tmpl = t.Name, t
	}
	t := r.tmpl
	e.Template, e.tmpl = r.nameStr, t
	if t.Unknown {
		return nil, r.fail(col+1, "read the binary list instead: its fields are self-describing",
			"unknown template %q: its fields cannot be parsed from text", t.Name)
	}
	if !sep {
		return nil, r.fail(len(line)+1, "", "template %s has %d fields, the line has none", t.Name, len(t.Fields))
	}

	// Fields, each after one space; renderings never contain spaces (the
	// kernel stores '_' for them).
	if t.Legacy {
		return r.parseLegacy(e, line, next)
	}
	bo := e.Order().binary()
	raw := r.raw[:0]
	fields := r.fields[:0]
	for i, def := range t.Fields {
		if i > 0 && !sep {
			return nil, r.fail(len(line)+1, "names with a newline break the ascii list: read the binary list",
				"template %s has %d fields, the line has %d", t.Name, len(t.Fields), i)
		}
		col = next
		tok, next, sep = token(line, next)
		at := len(raw)
		raw = bo.AppendUint32(raw, 0)
		var bad int
		var msg string
		raw, bad, msg = decodeRendering(raw, def, tok, bo)
		if bad >= 0 {
			return nil, r.fail(col+1+bad, "", "field %s: %s", def.ID, msg)
		}
		if len(raw)-at > r.lim.MaxTemplateData {
			return nil, r.fail(col+1, "", "template data exceeds the limit %d", r.lim.MaxTemplateData)
		}
		bo.PutUint32(raw[at:], uint32(len(raw)-at-4))
		fields = append(fields, Field{ID: def.ID})
	}
	if sep {
		return nil, r.fail(next, "", "template %s has %d fields, the line has more", t.Name, len(t.Fields))
	}
	// Point the fields into raw only now: appending may have moved it.
	p = 0
	for i := range fields {
		n := int(bo.Uint32(raw[p:]))
		fields[i].Data = raw[p+4 : p+4+n : p+4+n]
		p += 4 + n
	}
	r.raw, r.fields = raw, fields
	e.raw, e.Fields = raw, fields
	return e, nil
}

func (r *ASCIIReader) parseLegacy(e *Entry, line []byte, next int) (*Entry, error) {
	col := next
	tok, next, sep := token(line, next)
	if !sep {
		return nil, r.fail(len(line)+1, "", "template ima has 2 fields, the line has 1")
	}
	raw := append(r.raw[:0], make([]byte, legacyDigestLen+legacyNameMax+1)...)
	if len(tok) != 2*legacyDigestLen {
		return nil, r.fail(col+1, "", "ima template digest has %d hex digits, want 40", len(tok))
	}
	if bad := decodeHexLower(raw[:0], tok); bad >= 0 {
		return nil, r.fail(col+1+bad, "", "ima template digest: want lowercase hex")
	}
	name := line[next:]
	if len(name) > legacyNameMax {
		return nil, r.fail(next+1, "", "ima template name of %d bytes exceeds %d", len(name), legacyNameMax)
	}
	if i := bytes.IndexByte(name, ' '); i >= 0 {
		return nil, r.fail(next+1+i, "", "template ima has 2 fields, the line has more")
	}
	if i := bytes.IndexByte(name, 0); i >= 0 {
		return nil, r.fail(next+1+i, "", "NUL in the name")
	}
	copy(raw[legacyDigestLen:], name)
	r.raw = raw
	r.fields = append(r.fields[:0], Field{ID: "d", Data: raw[:legacyDigestLen:legacyDigestLen]},
		Field{ID: "n", Data: raw[legacyDigestLen : legacyDigestLen+len(name) : legacyDigestLen+len(name)]})
	e.raw, e.Fields = raw, r.fields
	return e, nil
}

// decodeRendering appends the bytes whose rendering is tok. bad is the
// 0-based column of the problem in tok, -1 when fine.
func decodeRendering(dst []byte, def FieldDef, tok []byte, bo order) (out []byte, bad int, msg string) {
	if len(tok) == 0 {
		return dst, -1, ""
	}
	switch def.Kind {
	case KindDigestAlgo:
		colon := bytes.LastIndexByte(tok, ':')
		if colon < 1 {
			return dst, 0, "want <algo>:<hex digest>"
		}
		dst = append(dst, tok[:colon+1]...)
		dst = append(dst, 0)
		if bytes.IndexByte(tok[:colon], 0) >= 0 {
			return dst, 0, "NUL in the algorithm name"
		}
		return hexField(dst, tok[colon+1:], colon+1)
	case KindDigest:
		return hexField(dst, tok, 0)
	case KindName:
		return append(dst, tok...), -1, ""
	case KindString:
		if i := bytes.IndexByte(tok, 0); i >= 0 {
			return dst, i, "NUL in a string"
		}
		dst = append(dst, tok...)
		return append(dst, 0), -1, ""
	case KindUint:
		w := def.Width
		if w == 0 {
			w = 4
		}
		v, ok := parseDecimal(tok, 20)
		if !ok || (w < 8 && v>>(8*w) != 0) || (len(tok) > 1 && tok[0] == '0') {
			return dst, 0, fmt.Sprintf("want a decimal number of %d bytes", w)
		}
		switch w {
		case 1:
			return append(dst, byte(v)), -1, ""
		case 2:
			return bo.AppendUint16(dst, uint16(v)), -1, ""
		case 8:
			return bo.AppendUint64(dst, v), -1, ""
		}
		return bo.AppendUint32(dst, uint32(v)), -1, ""
	case KindNS:
		if len(tok) == 8 && isLowerHex(tok) {
			return hexField(dst, tok, 0)
		}
		if len(tok) == 36 && tok[8] == '-' && tok[13] == '-' && tok[18] == '-' && tok[23] == '-' {
			compact := make([]byte, 0, 32)
			for i, c := range tok {
				if i != 8 && i != 13 && i != 18 && i != 23 {
					compact = append(compact, c)
				}
			}
			if isLowerHex(compact) {
				return hexField(dst, compact, 0)
			}
		}
		if i := bytes.IndexByte(tok, 0); i >= 0 {
			return dst, i, "NUL in a namespace label"
		}
		if len(tok)+1 == 4 || len(tok)+1 == 16 {
			// With its NUL such a label has the size of an inode number or
			// a UUID, which are rendered as hex: the text is ambiguous.
			return dst, 0, "want 8 hex digits (namespace inode), a UUID or a label of other than 3 or 15 characters"
		}
		dst = append(dst, tok...)
		return append(dst, 0), -1, ""
	}
	return hexField(dst, tok, 0)
}

func hexField(dst, tok []byte, base int) ([]byte, int, string) {
	if len(tok)%2 != 0 {
		return dst, base + len(tok) - 1, "odd number of hex digits"
	}
	dst = slices.Grow(dst, len(tok)/2)
	if bad := decodeHexLower(dst, tok); bad >= 0 {
		return dst, base + bad, "want lowercase hex"
	}
	return dst[:len(dst)+len(tok)/2], -1, ""
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if unhex(c) < 0 {
			return false
		}
	}
	return true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// decodeHexLower decodes src into dst[len(dst):len(dst)+len(src)/2] (the
// caller provides the capacity) and returns the index of the
// first bad character, -1 when all are lowercase hex. The kernel writes
// lowercase only, so anything else is not a list the kernel wrote.
func decodeHexLower(dst, src []byte) int {
	n := len(src) / 2
	out := dst[len(dst) : len(dst)+n]
	for i := 0; i < n; i++ {
		hi, lo := unhex(src[2*i]), unhex(src[2*i+1])
		if hi < 0 {
			return 2 * i
		}
		if lo < 0 {
			return 2*i + 1
		}
		out[i] = byte(hi<<4 | lo)
	}
	if len(src)%2 != 0 {
		return len(src) - 1
	}
	return -1
}

func parseDecimal(b []byte, maxDigits int) (uint64, bool) {
	if len(b) == 0 || len(b) > maxDigits {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
