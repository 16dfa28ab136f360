package measure

import (
	"encoding/binary"
	"fmt"
)

// Layout is how a binary measurement record begins. Mainline
// ima_measurements_show writes u32 PCR then the template digest; the 2020
// IMA-namespace RFC writes a u32 namespace id between them (and bumps the
// kexec header version), and whether the openEuler code kept that id is not
// known (docs/kernel-abi.md). Readers therefore detect the layout of each
// list instead of assuming one.
type Layout uint8

const (
	// LayoutAuto detects the layout from the first records (DetectLayout).
	LayoutAuto Layout = iota
	// LayoutPlain: u32 PCR, template digest, u32 name length, ...
	LayoutPlain
	// LayoutNSHeader: u32 PCR, u32 namespace id, template digest, ...
	LayoutNSHeader
)

func (l Layout) String() string {
	switch l {
	case LayoutPlain:
		return "plain"
	case LayoutNSHeader:
		return "ns-header"
	}
	return "auto"
}

// ParseLayout accepts auto, plain and ns-header.
func ParseLayout(s string) (Layout, error) {
	switch s {
	case "", "auto":
		return LayoutAuto, nil
	case "plain":
		return LayoutPlain, nil
	case "ns-header", "nsheader", "rfc":
		return LayoutNSHeader, nil
	}
	return LayoutAuto, fmt.Errorf("unknown binary list layout %q (want auto, plain or ns-header)", s)
}

// detectWindow is how much of a list DetectLayout looks at, and
// detectRecords how many records at most: enough that a list which is not
// of a layout fails it (every record must parse exactly, with a known
// template name), small enough to cost nothing.
const (
	detectWindow  = 64 << 10
	detectRecords = 16
)

// ErrLayoutAmbiguous is wrapped by the error of DetectLayout when the first
// records read correctly in both layouts.
var ErrLayoutAmbiguous = fmt.Errorf("both binary list layouts fit")

// DetectLayout decides the layout of a binary list from its first bytes
// (head; eof says head is the whole list). Each hypothesis must read every
// complete record of head exactly as the reader would (PCR in range,
// template name of 1..MaxTemplateName bytes that names a template, template
// data within bounds whose fields fill it exactly, in the template's number)
// and a record cut by the end of head must be valid as far as it goes; at
// the end of the list the last record must end exactly there. One fitting
// layout is the answer; none gives LayoutPlain with ok false (the reader
// then reports where the list breaks); both is an error wrapping
// ErrLayoutAmbiguous. An empty list is LayoutPlain.
func DetectLayout(head []byte, eof bool, order ByteOrder, bank Alg, lim Limits) (Layout, bool, error) {
	lim = lim.withDefaults()
	if bank == AlgUnknown {
		bank = SHA1
	}
	if len(head) < 4 {
		return LayoutPlain, len(head) == 0 || !eof, nil
	}
	if order == OrderAuto {
		order = detectOrder(order, [4]byte(head[:4]))
	}
	bo := order.binary()
	plainEnd, plainOK := fitLayout(head, eof, bo, bank.Size(), 0, lim)
	rfcEnd, rfcOK := fitLayout(head, eof, bo, bank.Size(), 4, lim)
	switch {
	case plainOK && rfcOK:
		return LayoutAuto, false, fmt.Errorf("%w: the first %d bytes read as records with and without a namespace id after the PCR", ErrLayoutAmbiguous, min(plainEnd, rfcEnd))
	case rfcOK:
		return LayoutNSHeader, true, nil
	case plainOK:
		return LayoutPlain, true, nil
	}
	// Neither fits: the reader reports the break of the layout that read
	// further, which is most likely the list's.
	if rfcEnd > plainEnd {
		return LayoutNSHeader, false, nil
	}
	return LayoutPlain, false, nil
}

// fitLayout walks records of head with extra bytes after the PCR and
// reports how far they read correctly and whether all of head did.
func fitLayout(head []byte, eof bool, bo binary.ByteOrder, dsize, extra int, lim Limits) (int, bool) {
	off := 0
	for n := 0; n < detectRecords && off < len(head); n++ {
		end, complete, ok := fitRecord(head[off:], bo, dsize, extra, lim)
		if !ok {
			return off, false
		}
		if !complete {
			// Cut by the window: valid so far, unless the list ends here.
			if eof {
				return off, false
			}
			return len(head), true
		}
		off += end
	}
	return off, true
}

// fitRecord checks one record at the start of b. complete is false when b
// ends inside it (everything up to there valid).
func fitRecord(b []byte, bo binary.ByteOrder, dsize, extra int, lim Limits) (end int, complete, ok bool) {
	u32 := func(at int) (uint32, bool) {
		if at+4 > len(b) {
			return 0, false
		}
		return bo.Uint32(b[at:]), true
	}
	pcr, _ := u32(0)
	if len(b) < 4 || pcr > lim.MaxPCR {
		return 0, len(b) >= 4, len(b) < 4
	}
	p := 4 + extra + dsize
	nameLen, have := u32(p)
	if !have {
		return 0, false, true
	}
	if nameLen == 0 || nameLen > uint32(lim.MaxTemplateName) {
		return 0, true, false
	}
	p += 4
	if p+int(nameLen) > len(b) {
		// The name must at least be printable as far as it goes.
		for _, c := range b[p:] {
			if c <= ' ' || c >= 0x7f {
				return 0, true, false
			}
		}
		return 0, false, true
	}
	t, err := LookupTemplate(string(b[p : p+int(nameLen)]))
	if err != nil {
		return 0, true, false
	}
	p += int(nameLen)
	if t.Legacy {
		p += legacyDigestLen
		nlen, have := u32(p)
		if !have {
			return 0, false, true
		}
		if nlen > legacyNameMax {
			return 0, true, false
		}
		p += 4 + int(nlen)
		return p, p <= len(b), true
	}
	dlen, have := u32(p)
	if !have {
		return 0, false, true
	}
	if dlen > uint32(lim.MaxTemplateData) {
		return 0, true, false
	}
	p += 4
	dataEnd := p + int(dlen)
	fields := 0
	for q := p; q < dataEnd; {
		if fields == lim.MaxFields || dataEnd-q < 4 {
			return 0, true, false
		}
		flen, have := u32(q)
		if !have {
			return 0, false, true
		}
		if uint64(flen) > uint64(dataEnd-q-4) {
			return 0, true, false
		}
		q += 4 + int(flen)
		fields++
	}
	if dataEnd > len(b) {
		return 0, false, true
	}
	if !t.Unknown && fields != len(t.Fields) {
		return 0, true, false
	}
	return dataEnd, true, true
}
