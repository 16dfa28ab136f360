package docscheck

import (
	"strings"
	"testing"
)

// FuzzParse: any Markdown parses without panic, and every block and
// command it finds lies within the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte("    $ echo hi\n    hi\n"))
	f.Add([]byte("<!-- docs-check: skip (why) -->\n\n```console\n# ls \\\n -d /\n/\n```\n"))
	f.Add([]byte("<!-- docs-check: setup cd /tmp -->\n\n```sh\nx=1\n```\n* item\n\n      $ nested\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := strings.Count(string(src), "\n") + 1
		blocks, _ := Parse("f.md", src, func(w string) bool { return w == "make" })
		for _, l := range scanLinks(src).links {
			if l.Line < 1 || l.Line > lines {
				t.Fatalf("link at line %d of %d", l.Line, lines)
			}
		}
		for _, b := range blocks {
			if b.Line < 1 || b.Line > lines {
				t.Fatalf("block at line %d of %d", b.Line, lines)
			}
			for _, c := range append(b.Setup, b.Commands...) {
				if c.Line < 1 || c.Line > lines {
					t.Fatalf("command at line %d of %d", c.Line, lines)
				}
			}
			if b.Kind == Console && len(b.Commands) == 0 {
				t.Fatalf("console block without commands at line %d", b.Line)
			}
		}
	})
}

// FuzzMatch: output shown literally (no "...") matches itself, and
// matching never panics whatever the two sides hold.
func FuzzMatch(f *testing.F) {
	f.Add("a\n...\nc", "a\nb\nc\n")
	f.Add("time=\"...\" x", "time=\"2026\" x")
	f.Add("(a|b)*.", "(a|b)*.")
	f.Fuzz(func(t *testing.T, expected, actual string) {
		_ = Match(strings.Split(expected, "\n"), actual)
		if !strings.Contains(actual, Ellipsis) {
			if m := Match(strings.Split(actual, "\n"), actual); m != nil {
				t.Fatalf("%q does not match itself: %v", actual, m)
			}
		}
	})
}
