package docscheck

import (
	"fmt"
	"regexp"
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
	pats := make([]*regexp.Regexp, len(exp))
	for i, e := range exp {
		if e != Ellipsis {
			pats[i] = linePattern(e)
		}
	}
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
		case pats[i] == nil: // a line of "..."
			for k := j; k <= len(got) && !ok; k++ {
				ok = match(i+1, k)
			}
		case j == len(got):
			if i >= best.Line {
				*best = Mismatch{Line: i, Expected: exp[i], Got: "(end of output)"}
			}
		case pats[i].MatchString(got[j]):
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

// linePattern turns an expected line into an anchored pattern in which
// each "..." matches any text.
func linePattern(e string) *regexp.Regexp {
	parts := strings.Split(e, Ellipsis)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^` + strings.Join(parts, `.*`) + `$`)
}
