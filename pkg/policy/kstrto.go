package policy

import "errors"

// Number parsing exactly as the kernel's lib/kstrtox.c does it, because the
// policy parser's verdict on "uid=+5", "fsmagic=0X1f" or "pcr=-0" depends on
// those details.

var (
	errNumSyntax = errors.New("not a number")
	errNumRange  = errors.New("out of range")
)

// kstrtoull mirrors kstrtoull: one optional leading '+', then for base 16
// an optional "0x"/"0X", then at least one digit, then nothing but an
// optional single newline.
func kstrtoull(s string, base uint64) (uint64, error) {
	if len(s) > 0 && s[0] == '+' {
		s = s[1:]
	}
	return kstrtoullNoSign(s, base)
}

// kstrtoullNoSign is _kstrtoull: no sign allowed.
func kstrtoullNoSign(s string, base uint64) (uint64, error) {
	if base == 16 && len(s) >= 2 && s[0] == '0' && (s[1]|0x20) == 'x' {
		s = s[2:]
	}
	var res uint64
	overflow := false
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		var v uint64
		switch lc := c | 0x20; {
		case c >= '0' && c <= '9':
			v = uint64(c - '0')
		case lc >= 'a' && lc <= 'f':
			v = uint64(lc-'a') + 10
		default:
			goto done
		}
		if v >= base {
			break
		}
		if res > (^uint64(0)-v)/base {
			overflow = true
		}
		res = res*base + v
	}
done:
	if overflow {
		return 0, errNumRange
	}
	if i == 0 {
		return 0, errNumSyntax
	}
	rest := s[i:]
	if rest == "\n" {
		rest = ""
	}
	if rest != "" {
		return 0, errNumSyntax
	}
	return res, nil
}

// kstrtoint mirrors kstrtoint (via kstrtoll): a leading '-' or '+', the
// value must fit a C int.
func kstrtoint(s string, base uint64) (int64, error) {
	var v int64
	if len(s) > 0 && s[0] == '-' {
		u, err := kstrtoullNoSign(s[1:], base)
		if err != nil {
			return 0, err
		}
		if u > 1<<63 {
			return 0, errNumRange
		}
		v = -int64(u)
		if u == 1<<63 {
			v = -1 << 63
		}
	} else {
		u, err := kstrtoull(s, base)
		if err != nil {
			return 0, err
		}
		if u > 1<<63-1 {
			return 0, errNumRange
		}
		v = int64(u)
	}
	if v != int64(int32(v)) {
		return 0, errNumRange
	}
	return v, nil
}

// uuidParse mirrors uuid_parse: the first 36 bytes must be
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits of either case); the
// kernel does not look at what follows them. It reports whether the UUID
// is the null UUID (the kernel's duplicate check is "fsuuid not null").
func uuidParse(s string) (ok, null bool) {
	if len(s) < 36 {
		return false, false
	}
	null = true
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false, false
			}
			continue
		}
		if !isxdigit(c) {
			return false, false
		}
		if c != '0' {
			null = false
		}
	}
	return true, null
}

func isxdigit(c byte) bool {
	return c >= '0' && c <= '9' || (c|0x20) >= 'a' && (c|0x20) <= 'f'
}
