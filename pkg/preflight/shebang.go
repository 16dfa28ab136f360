package preflight

import (
	"bytes"
	"fmt"
)

// binprmBufSize is BINPRM_BUF_SIZE: execve reads this many bytes of a file
// to pick its binary format; a "#!" line must fit in it.
const binprmBufSize = 256

// maxInterpDepth bounds nested interpreters: exec_binprm gives up with
// ELOOP after 5 levels of format handlers (a script whose interpreter is a
// script ...).
const maxInterpDepth = 5

// shebang is a parsed "#!" line.
type shebang struct {
	Interp string // interpreter path as written (may be relative)
	Arg    string // the optional single argument ("" when none)
}

// ShebangError is a "#!" line the kernel refuses with ENOEXEC; Offset is the
// byte offset in the file at fault.
type ShebangError struct {
	Offset int
	Msg    string
}

func (e *ShebangError) Error() string {
	return fmt.Sprintf("#! line byte %d: %s", e.Offset, e.Msg)
}

// parseShebang reads the start of a file the way binfmt_script's
// load_script does (Linux >= 5.1): ok is false when the file does not
// start with "#!"; an error means the kernel refuses the script (ENOEXEC).
// head may be longer than BINPRM_BUF_SIZE; only the first 256 bytes count,
// and a shorter file is padded with zeros as in the kernel's buffer.
func parseShebang(head []byte) (sb shebang, ok bool, err error) {
	var buf [binprmBufSize]byte
	copy(buf[:], head)
	if buf[0] != '#' || buf[1] != '!' {
		return shebang{}, false, nil
	}
	spacetab := func(c byte) bool { return c == ' ' || c == '\t' }
	// The kernel looks at buf[0..255] but its "end" is the last byte,
	// index 255 inclusive.
	bufEnd := binprmBufSize - 1
	nextNonSpacetab := func(first, last int) int {
		for ; first <= last; first++ {
			if !spacetab(buf[first]) {
				return first
			}
		}
		return -1
	}
	nextTerminator := func(first, last int) int {
		for ; first <= last; first++ {
			if spacetab(buf[first]) || buf[first] == 0 {
				return first
			}
		}
		return -1
	}
	// strnchr stops at the first NUL.
	iEnd := -1
	for i := 0; i < binprmBufSize && buf[i] != 0; i++ {
		if buf[i] == '\n' {
			iEnd = i
			break
		}
	}
	if iEnd < 0 {
		iEnd = nextNonSpacetab(2, bufEnd)
		if iEnd < 0 {
			return shebang{}, true, &ShebangError{2, "only spaces after #! (no interpreter)"}
		}
		if nextTerminator(iEnd, bufEnd) < 0 {
			return shebang{}, true, &ShebangError{iEnd, fmt.Sprintf("interpreter path longer than the kernel reads (%d bytes) and no newline", binprmBufSize)}
		}
		iEnd = bufEnd
	}
	for iEnd > 2 && spacetab(buf[iEnd-1]) {
		iEnd--
	}
	iName := nextNonSpacetab(2, iEnd)
	if iName < 0 || iName == iEnd {
		return shebang{}, true, &ShebangError{2, "no interpreter after #!"}
	}
	// The kernel puts NULs at i_end and at the separator and then uses C
	// strings: each ends at the first NUL.
	iSep := nextTerminator(iName, iEnd)
	nameEnd := iEnd
	if iSep >= 0 && iSep < iEnd {
		nameEnd = iSep
	}
	sb.Interp = cstr(buf[iName:nameEnd])
	if iSep >= 0 && iSep < iEnd && buf[iSep] != 0 {
		if iArg := nextNonSpacetab(iSep, iEnd); iArg >= 0 && iArg < iEnd {
			sb.Arg = cstr(buf[iArg:iEnd])
		}
	}
	if sb.Interp == "" {
		return shebang{}, true, &ShebangError{iName, "empty interpreter path"}
	}
	return sb, true, nil
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
