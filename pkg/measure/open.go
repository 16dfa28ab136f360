package measure

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Format is the encoding of a list file.
type Format uint8

const (
	AutoFormat Format = iota
	BinaryList
	ASCIIList
)

func (f Format) String() string {
	switch f {
	case BinaryList:
		return "binary"
	case ASCIIList:
		return "ascii"
	}
	return "auto"
}

// ParseFormat accepts auto, binary and ascii.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "auto":
		return AutoFormat, nil
	case "binary":
		return BinaryList, nil
	case "ascii":
		return ASCIIList, nil
	}
	return AutoFormat, fmt.Errorf("unknown list format %q (want auto, binary or ascii)", s)
}

// FromFileName reads what a securityfs file name says: the format
// ({binary,ascii}_runtime_measurements) and, for the per-bank files of
// 6.10+ kernels, the bank of the template digest (..._sha256). Unknown parts
// come back as AutoFormat / AlgUnknown.
func FromFileName(path string) (Format, Alg) {
	base := filepath.Base(path)
	f := AutoFormat
	var rest string
	switch {
	case strings.HasPrefix(base, "binary_runtime_measurements"):
		f, rest = BinaryList, strings.TrimPrefix(base, "binary_runtime_measurements")
	case strings.HasPrefix(base, "ascii_runtime_measurements"):
		f, rest = ASCIIList, strings.TrimPrefix(base, "ascii_runtime_measurements")
	default:
		return AutoFormat, AlgUnknown
	}
	if suffix, ok := strings.CutPrefix(rest, "_"); ok {
		if a, err := ParseAlg(suffix); err == nil {
			return f, a
		}
	}
	return f, AlgUnknown
}

// NewReader returns a reader for r in format f; AutoFormat looks at the
// first bytes: an ASCII list starts with "%2d " (digits and spaces), a
// binary one with a u32 PCR whose upper bytes are zero.
func NewReader(r io.Reader, f Format, opt ReadOptions) (Reader, Format, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	if f == AutoFormat {
		head, err := br.Peek(4)
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return nil, f, err
		}
		f = BinaryList
		if len(head) == 4 && looksASCII(head) {
			f = ASCIIList
		}
	}
	if f == ASCIIList {
		return NewASCIIReader(br, opt), f, nil
	}
	return NewBinaryReader(br, opt), f, nil
}

// buffered reuses r when it already is a bufio.Reader (any size works: the
// readers copy what they keep).
func buffered(r io.Reader) *bufio.Reader {
	if br, ok := r.(*bufio.Reader); ok {
		return br
	}
	return bufio.NewReaderSize(r, 256<<10)
}

// looksASCII: "%2d " then a hex digit: " 9 a", "10 a", "100 ". A binary
// list starts with a u32 PCR, whose bytes 1 and 2 are zero in either order.
func looksASCII(h []byte) bool {
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	return (h[0] == ' ' || digit(h[0])) && digit(h[1]) && (h[2] == ' ' || digit(h[2])) && (h[3] == ' ' || unhex(h[3]) >= 0)
}
