package docscheck

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// Kind says what the check does with a code block.
type Kind int

const (
	// Text is not run: configuration, code, output without a command.
	Text Kind = iota
	// Console is a transcript: prompts, commands and their output.
	Console
	// Script runs as a whole; its output is not compared.
	Script
)

func (k Kind) String() string {
	switch k {
	case Console:
		return "console"
	case Script:
		return "script"
	}
	return "text"
}

// Block is one code block of a Markdown file.
type Block struct {
	File string
	Line int // 1-based line of the block's first content line
	Kind Kind
	// Lang is the fence's info word ("" for indented or untagged blocks).
	Lang string
	// Fenced is false for an indented code block.
	Fenced bool
	Lines  []string
	// Skip is the reason given by a skip marker ("" = run the block).
	Skip string
	// Setup holds the hidden commands of setup markers, run first.
	Setup []Command
	// Commands are the commands of a console or script block.
	Commands []Command
}

// Where names the block as file:line.
func (b *Block) Where() string { return fmt.Sprintf("%s:%d", b.File, b.Line) }

// Command is one command and, for a console block, the output shown.
type Command struct {
	Line int // 1-based line of the prompt (or of the marker)
	Text string
	// Expected are the output lines shown ("..." conventions apply).
	Expected []string
}

// Limits keep a hostile or broken file from making the parser work
// without bound; the project's docs are far below them.
const (
	maxFileSize = 4 << 20
	maxBlocks   = 10000
)

const markerPrefix = "<!-- docs-check:"

var (
	skipRe    = regexp.MustCompile(`(?s)^skip\s*\((.*\S.*)\)$`)
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Parse finds the code blocks of one Markdown file (name is used in
// positions only) and classifies them. isProgram tells whether a word
// names a program; an unprompted untagged block starting with one is an
// error, because a command must be shown with a prompt to be checked.
// Every error names file:line.
func Parse(name string, src []byte, isProgram func(string) bool) ([]Block, error) {
	if len(src) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxFileSize)
	}
	lineOf := lineIndex(src)
	doc := goldmark.New().Parser().Parse(text.NewReader(src))

	var (
		blocks  []Block
		errs    []string
		pending []marker // markers waiting for their block
	)
	flushPending := func(why string) {
		for _, m := range pending {
			errs = append(errs, fmt.Sprintf("%s:%d: docs-check marker %s", name, m.line, why))
		}
		pending = nil
	}
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.HTMLBlock:
			raw := nodeText(n, src)
			if n.HasClosure() {
				raw += string(n.ClosureLine.Value(src))
			}
			if !strings.HasPrefix(strings.TrimSpace(raw), markerPrefix) {
				return ast.WalkSkipChildren, nil
			}
			line := lineOf(n.Lines().At(0).Start)
			m, err := parseMarker(raw, line)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s:%d: %v", name, line, err))
				return ast.WalkSkipChildren, nil
			}
			if len(pending) > 0 && pending[len(pending)-1].node != n.PreviousSibling() {
				flushPending("is not right before a code block")
			}
			m.node = n
			pending = append(pending, m)
			return ast.WalkSkipChildren, nil
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			if len(blocks) >= maxBlocks {
				return ast.WalkStop, fmt.Errorf("%s: more than %d code blocks", name, maxBlocks)
			}
			b := Block{File: name, Fenced: false}
			if f, ok := n.(*ast.FencedCodeBlock); ok {
				b.Fenced = true
				b.Lang = strings.ToLower(string(f.Language(src)))
			}
			b.Lines = strings.Split(strings.TrimRight(nodeText(n, src), "\n"), "\n")
			if n.Lines().Len() > 0 {
				b.Line = lineOf(n.Lines().At(0).Start)
			} else {
				b.Line = lineOf(blockStart(n, src))
			}
			if len(pending) > 0 && pending[len(pending)-1].node == n.PreviousSibling() {
				for _, m := range pending {
					if m.skip != "" {
						b.Skip = m.skip
					}
					if m.setup != "" {
						b.Setup = append(b.Setup, Command{Line: m.line, Text: m.setup})
					}
				}
				pending = nil
			} else {
				flushPending("is not right before a code block")
			}
			if e := classify(&b, isProgram); e != "" && b.Skip == "" {
				errs = append(errs, fmt.Sprintf("%s: %s", b.Where(), e))
			}
			blocks = append(blocks, b)
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		return nil, err
	}
	flushPending("is not followed by a code block")
	if len(errs) > 0 {
		return blocks, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return blocks, nil
}

type marker struct {
	line  int
	skip  string
	setup string
	node  ast.Node
}

// parseMarker reads "<!-- docs-check: skip (reason) -->" or
// "<!-- docs-check: setup commands -->".
func parseMarker(raw string, line int) (marker, error) {
	body := strings.TrimSpace(raw)
	if !strings.HasSuffix(body, "-->") {
		return marker{}, fmt.Errorf("docs-check marker: no closing -->")
	}
	body = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(body, markerPrefix), "-->"))
	m := marker{line: line}
	switch {
	case strings.HasPrefix(body, "skip"):
		sm := skipRe.FindStringSubmatch(body)
		if sm == nil {
			return m, fmt.Errorf("docs-check skip needs a reason: <!-- docs-check: skip (why this block cannot run here) -->")
		}
		m.skip = strings.Join(strings.Fields(sm[1]), " ")
	case strings.HasPrefix(body, "setup"):
		m.setup = strings.TrimSpace(strings.TrimPrefix(body, "setup"))
		if m.setup == "" {
			return m, fmt.Errorf("docs-check setup without commands")
		}
	default:
		return m, fmt.Errorf("unknown docs-check marker %q: want skip (REASON) or setup COMMANDS", firstWord(body))
	}
	return m, nil
}

// classify sets b.Kind and b.Commands; it returns a problem or "".
func classify(b *Block, isProgram func(string) bool) string {
	first := ""
	if len(b.Lines) > 0 {
		first = b.Lines[0]
	}
	switch b.Lang {
	case "console":
		b.Kind = Console
	case "sh", "bash", "shell":
		b.Kind = Script
		b.Commands = []Command{{Line: b.Line, Text: strings.Join(b.Lines, "\n")}}
		return ""
	case "":
		if prompt(first) != "" {
			b.Kind = Console
			break
		}
		if w := commandWord(first); w != "" && isProgram != nil && isProgram(w) {
			return fmt.Sprintf("%q looks like a command shown without a prompt: start it with \"$ \" (then it is run and its output compared), tag the block \"text\" if it is a synopsis, or mark it <!-- docs-check: skip (REASON) -->", w)
		}
		b.Kind = Text
		return ""
	default:
		b.Kind = Text
		return ""
	}
	p := prompt(first)
	if p == "" {
		b.Kind = Text
		return "a console block must start with a prompt (\"$ \" or \"# \")"
	}
	var cur *Command
	for i := 0; i < len(b.Lines); i++ {
		l := b.Lines[i]
		if strings.HasPrefix(l, p) || l == strings.TrimSpace(p) {
			b.Commands = append(b.Commands, Command{Line: b.Line + i, Text: strings.TrimPrefix(l, p)})
			cur = &b.Commands[len(b.Commands)-1]
			// a trailing backslash continues the command
			for strings.HasSuffix(cur.Text, `\`) && i+1 < len(b.Lines) {
				i++
				cur.Text += "\n" + b.Lines[i]
			}
			continue
		}
		cur.Expected = append(cur.Expected, l)
	}
	return ""
}

// prompt returns the prompt a line starts with, or "".
func prompt(l string) string {
	for _, p := range []string{"$ ", "# "} {
		if strings.HasPrefix(l, p) && strings.TrimSpace(l[len(p):]) != "" {
			return p
		}
	}
	return ""
}

// commandWord is the first word of a line after VAR=value assignments.
func commandWord(l string) string {
	for _, w := range strings.Fields(l) {
		if i := strings.IndexByte(w, '='); i > 0 && envNameRe.MatchString(w[:i]) {
			continue
		}
		return w
	}
	return ""
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

func nodeText(n ast.Node, src []byte) string {
	var buf bytes.Buffer
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		// indented code keeps the part of the indentation beyond four
		// columns as padding
		buf.WriteString(strings.Repeat(" ", seg.Padding))
		buf.Write(seg.Value(src))
	}
	return buf.String()
}

// blockStart is the offset of an empty block's fence line, approximately.
func blockStart(n ast.Node, src []byte) int {
	if f, ok := n.(*ast.FencedCodeBlock); ok && f.Info != nil {
		return f.Info.Segment.Start
	}
	return 0
}

// lineIndex returns a function from a byte offset of src to its 1-based
// line number.
func lineIndex(src []byte) func(int) int {
	starts := lineStarts(src)
	return func(off int) int {
		// the number of line starts at or before off
		lo, hi := 0, len(starts)
		for lo < hi {
			m := (lo + hi) / 2
			if starts[m] <= off {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo
	}
}

func lineStarts(src []byte) []int {
	starts := []int{0}
	for i, c := range src {
		if c == '\n' && i+1 < len(src) {
			starts = append(starts, i+1)
		}
	}
	return starts
}
