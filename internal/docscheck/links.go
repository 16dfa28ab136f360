package docscheck

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// Link is a relative link of a Markdown file.
type Link struct {
	Line   int
	Target string // as written
}

// docInfo is what one file offers to links: its heading anchors.
type docInfo struct {
	anchors map[string]bool
	links   []Link
}

// scanLinks reads a file's relative links and heading anchors (GitHub's
// rule: lower case, punctuation dropped except - and _, spaces to -,
// repeated headings numbered -1, -2, ...).
func scanLinks(src []byte) docInfo {
	lineOf := lineIndex(src)
	info := docInfo{anchors: map[string]bool{}}
	seen := map[string]int{}
	doc := goldmark.New().Parser().Parse(text.NewReader(src))
	var lastLine int
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		if n.Type() == ast.TypeBlock && n.Lines().Len() > 0 {
			lastLine = lineOf(n.Lines().At(0).Start)
		}
		switch n := n.(type) {
		case *ast.Heading:
			a := anchor(plainText(n, src))
			if k := seen[a]; k > 0 {
				info.anchors[fmt.Sprintf("%s-%d", a, k)] = true
			} else {
				info.anchors[a] = true
			}
			seen[a]++
		case *ast.Link:
			dest := string(n.Destination)
			if u, err := url.Parse(dest); err == nil && u.Scheme == "" && !strings.HasPrefix(dest, "//") {
				line := lastLine
				if t, ok := n.FirstChild().(*ast.Text); ok {
					line = lineOf(t.Segment.Start)
				}
				info.links = append(info.links, Link{Line: line, Target: dest})
			}
		}
		return ast.WalkContinue, nil
	})
	return info
}

func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(src))
		case *ast.String:
			b.Write(c.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// CheckLinks checks that every relative link of the files leads to a file
// of the repository and, with #anchor, to a heading of that file. It
// returns the number of links checked and a failure per broken link.
func CheckLinks(root string, files []string) (int, []string) {
	infos := map[string]docInfo{}
	load := func(rel string) (docInfo, error) {
		if i, ok := infos[rel]; ok {
			return i, nil
		}
		src, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			return docInfo{}, err
		}
		i := scanLinks(src)
		infos[rel] = i
		return i, nil
	}
	var failures []string
	n := 0
	for _, f := range files {
		info, err := load(f)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", f, err))
			continue
		}
		for _, l := range info.links {
			n++
			target, frag, _ := strings.Cut(l.Target, "#")
			rel := f
			if target != "" {
				if p, err := url.PathUnescape(target); err == nil {
					target = p
				}
				rel = filepath.Clean(filepath.Join(filepath.Dir(f), target))
				if rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(target) {
					failures = append(failures, fmt.Sprintf("%s:%d: link %q leaves the repository", f, l.Line, l.Target))
					continue
				}
				if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
					failures = append(failures, fmt.Sprintf("%s:%d: link %q: no such file %s", f, l.Line, l.Target, rel))
					continue
				}
			}
			if frag == "" || !strings.HasSuffix(rel, ".md") {
				continue
			}
			ti, err := load(rel)
			if err != nil {
				failures = append(failures, fmt.Sprintf("%s:%d: link %q: %v", f, l.Line, l.Target, err))
				continue
			}
			if !ti.anchors[frag] {
				failures = append(failures, fmt.Sprintf("%s:%d: link %q: %s has no heading with anchor #%s", f, l.Line, l.Target, rel, frag))
			}
		}
	}
	return n, failures
}
