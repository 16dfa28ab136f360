package docscheck

import (
	"fmt"
	"strings"
)

// Ellipsis in an expected line matches any text within the line; a line
// that is only the ellipsis matches any number of lines.
const Ellipsis = "..."

// Mismatch says where the shown output and the real output part.
type Mismatch struct {
	Line     int // index into the expected lines of the first line that failed
	Expected string
	Got      string
}

func (m *Mismatch) Error() string {
	return fmt.Sprintf("shown %q, got %q", m.Expected, m.Got)
}

// normalize splits output into lines without trailing spaces and without
// trailing empty lines.
func normalize(s string) []string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// Match compares actual output with the expected lines; nil means they
// match. The mismatch reported is the one at the deepest expected line
// reached, which is the line a reader should look at.
func Match(expected []string, actual string) *Mismatch {
	exp := normalize(strings.Join(expected, "\n"))
	got := normalize(actual)
	best := &Mismatch{Line: -1}
	// memo[i][j]: expected from i cannot match got from j
	failed := make(map[[2]int]bool)
	var match func(i, j int) bool
	match = func(i, j int) bool {
		if failed[[2]int{i, j}] {
			return false
		}
		ok := false
		switch {
		case i == len(exp):
			ok = j == len(got)
			if !ok && i >= best.Line {
				*best = Mismatch{Line: i, Expected: "(end of output)", Got: got[j]}
			}
		case exp[i] == Ellipsis: // a line of "..." matches any lines
			for k := j; k <= len(got) && !ok; k++ {
				ok = match(i+1, k)
			}
		case j == len(got):
			if i >= best.Line {
				*best = Mismatch{Line: i, Expected: exp[i], Got: "(end of output)"}
			}
		case lineMatches(exp[i], got[j]):
			ok = match(i+1, j+1)
		default:
			if i > best.Line {
				*best = Mismatch{Line: i, Expected: exp[i], Got: got[j]}
			}
		}
		if !ok {
			failed[[2]int{i, j}] = true
		}
		return ok
	}
	if match(0, 0) {
		return nil
	}
	return best
}

// lineMatches reports whether got matches the expected line e, in which
// each "..." matches any text (a glob over literal pieces; no regular
// expression, so any bytes in the docs or the output are literal).
func lineMatches(e, got string) bool {
	pieces := strings.Split(e, Ellipsis)
	if len(pieces) == 1 {
		return e == got
	}
	first, last := pieces[0], pieces[len(pieces)-1]
	if len(got) < len(first)+len(last) || !strings.HasPrefix(got, first) || !strings.HasSuffix(got, last) {
		return false
	}
	rest := got[len(first) : len(got)-len(last)]
	for _, p := range pieces[1 : len(pieces)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return true
}
