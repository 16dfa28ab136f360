package docscheck

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func isProg(w string) bool { return w == "ls" || w == "make" }

func TestParseKinds(t *testing.T) {
	src := "# T\n\n" +
		"    $ echo hi\n    hi\n\n" + // 3: indented console
		"```console\n# ls \\\n  -d /\n/\n# true\n```\n\n" + // 7: fenced console, root prompt, continuation
		"```sh\nx=1\necho $x\n```\n\n" + // 14: script
		"```toml\na = 1\n```\n\n" + // 19: text
		"    ima-hook: subject: problem; fix\n\n" + // 22: output only: text
		"```text\nmake build\n```\n" // 25: tagged text, not a command
	bl, err := Parse("x.md", []byte(src), isProg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bl {
		got = append(got, b.Where()+" "+b.Kind.String())
	}
	want := []string{"x.md:3 console", "x.md:7 console", "x.md:14 script", "x.md:19 text", "x.md:22 text", "x.md:25 text"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("blocks %q, want %q", got, want)
	}
	if c := bl[0].Commands; len(c) != 1 || c[0].Text != "echo hi" || !reflect.DeepEqual(c[0].Expected, []string{"hi"}) || c[0].Line != 3 {
		t.Errorf("indented console: %+v", c)
	}
	c := bl[1].Commands
	if len(c) != 2 || c[0].Text != "ls \\\n  -d /" || !reflect.DeepEqual(c[0].Expected, []string{"/"}) || c[1].Text != "true" || c[1].Line != 10 || len(c[1].Expected) != 0 {
		t.Errorf("fenced console: %+v", c)
	}
	if c := bl[2].Commands; len(c) != 1 || c[0].Text != "x=1\necho $x" {
		t.Errorf("script: %+v", c)
	}
}

func TestParseMarkers(t *testing.T) {
	src := "<!-- docs-check: skip (needs an openEuler kernel) -->\n\n    $ ima-hook status\n\n" +
		"<!-- docs-check: setup cd /tmp \\\n  && true -->\n\n```console\n$ pwd\n/tmp\n```\n"
	bl, err := Parse("m.md", []byte(src), isProg)
	if err != nil {
		t.Fatal(err)
	}
	if len(bl) != 2 || bl[0].Skip != "needs an openEuler kernel" || bl[1].Skip != "" {
		t.Fatalf("skip not attached: %+v", bl)
	}
	if s := bl[1].Setup; len(s) != 1 || s[0].Text != "cd /tmp \\\n  && true" || s[0].Line != 5 {
		t.Errorf("setup: %+v", s)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"text\n\n    make install\n", `e.md:3: "make" looks like a command shown without a prompt`},
		{"```\nls -l\n```\n", `e.md:2: "ls" looks like a command`},
		{"<!-- docs-check: skip -->\n\n    $ ls\n", "e.md:1: docs-check skip needs a reason"},
		{"<!-- docs-check: skip () -->\n\n    $ ls\n", "e.md:1: docs-check skip needs a reason"},
		{"<!-- docs-check: run ls -->\n\n    $ ls\n", `e.md:1: unknown docs-check marker "run"`},
		{"<!-- docs-check: skip (why) -->\n\nA paragraph.\n\n    $ ls\n", "e.md:1: docs-check marker is not right before a code block"},
		{"text\n\n<!-- docs-check: skip (why) -->\n", "e.md:3: docs-check marker is not followed by a code block"},
		{"```console\nls\n```\n", "e.md:2: a console block must start with a prompt"},
	} {
		_, err := Parse("e.md", []byte(tc.src), isProg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
	// a skipped block may show a command without a prompt
	if _, err := Parse("e.md", []byte("<!-- docs-check: skip (a template) -->\n\n    make install\n"), isProg); err != nil {
		t.Errorf("skipped template: %v", err)
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		exp  []string
		out  string
		ok   bool
		line int
	}{
		{[]string{"a", "b"}, "a\nb\n", true, 0},
		{[]string{"a", "b"}, "a  \nb\n\n", true, 0}, // trailing spaces and lines
		{[]string{"a", "b"}, "a\nc\n", false, 1},
		{[]string{"a"}, "a\nb\n", false, 1}, // extra output is a mismatch
		{[]string{"a", "b"}, "a\n", false, 1},
		{[]string{"time=... x"}, "time=2026 x", true, 0},
		{[]string{"time=... x"}, "time=2026 y", false, 0},
		{[]string{"a.b"}, "axb", false, 0}, // no regexp in the shown text
		{[]string{"...", "last"}, "1\n2\nlast\n", true, 0},
		{[]string{"...", "last"}, "last\n", true, 0},
		{[]string{"first", "..."}, "first\n", true, 0},
		{[]string{"a", "...", "c", "...", "e"}, "a\nc\nx\ne\n", true, 0},
		{[]string{"a", "...", "c"}, "a\nb\nd\n", false, 2},
		{nil, "", true, 0},
	} {
		m := Match(tc.exp, tc.out)
		if (m == nil) != tc.ok || m != nil && m.Line != tc.line {
			t.Errorf("Match(%q, %q) = %+v, want ok=%v line %d", tc.exp, tc.out, m, tc.ok, tc.line)
		}
	}
}

func TestSessionKeepsState(t *testing.T) {
	s, err := NewSession(t.TempDir(), t.TempDir(), []string{"PATH=" + os.Getenv("PATH")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	steps := []struct {
		cmd, out string
		rc       int
	}{
		{"x=42; cd /; f() { echo f$1; }", "", 0},
		{"echo $x $PWD; f 1", "42 /\nf1\n", 0},
		{"echo out; echo err >&2; false", "out\nerr\n", 1},
		{`echo "prev $?"`, "prev 1\n", 0},
		{"cat", "", 0}, // stdin is /dev/null, not the session's script
		{"if then", "", 2},
	}
	for _, st := range steps {
		out, rc, err := s.Run(st.cmd, 10*time.Second)
		if err != nil || rc != st.rc || st.rc != 2 && out != st.out {
			t.Errorf("%q: %q, %d, %v; want %q, %d", st.cmd, out, rc, err, st.out, st.rc)
		}
	}
	if _, _, err := s.Run("sleep 5", 100*time.Millisecond); err == nil {
		t.Error("a command over its time limit was not reported")
	}
}

func TestSessionExit(t *testing.T) {
	s, err := NewSession(t.TempDir(), t.TempDir(), []string{"PATH=" + os.Getenv("PATH")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Run("exit 3", 10*time.Second); err != ErrShellGone {
		t.Errorf("exit: %v, want ErrShellGone", err)
	}
}

// TestCheck runs the whole check on a small repository: a matching
// block, a mismatch (named by file:line of the shown line), a failing
// command, a skip, the session's private environment.
func TestCheck(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(root, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", "# R\n\n    $ v=1; echo $v\n    1\n\n"+
		"<!-- docs-check: setup export W=2 -->\n\n```console\n$ echo $W $v; echo \"$TMPDIR\" | grep -c \"^$DOCS_CHECK_TMP\"\n2 1\n1\n$ ls -d \"$IMA_HOOK_EMU_DIR\" >/dev/null && basename \"$(command -v ima-hook)\"\nima-hook\n```\n")
	write("docs/a.md", "# A\n\n    $ echo v=$v; printf 'x\\ny\\n'\n    v=\n    x\n    z\n\n"+
		"<!-- docs-check: skip (needs a kernel) -->\n\n    $ false\n\nFails:\n\n    $ false\n\nShows it:\n\n    $ false\n    $ echo $?\n    1\n")
	files, err := DocFiles(root)
	if err != nil || !reflect.DeepEqual(files, []string{"README.md", "docs/a.md"}) {
		t.Fatalf("DocFiles: %q %v", files, err)
	}
	r, err := Check(Options{Root: root, Files: files, EmuBinary: "/bin/true", Tmp: t.TempDir(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Run != 5 || r.Compared != 4 || r.Outputs != 5 || r.Skipped != 1 || r.Commands != 8 || r.SkipReasons["needs a kernel"] != 1 {
		t.Errorf("counts: %s", r)
	}
	want := []string{
		`docs/a.md:6: output of "echo v=$v; printf 'x\\ny\\n'" differs: shown "z", got "y"`,
		`docs/a.md:14: false: exit status 1`,
	}
	if len(r.Failures) != len(want) {
		t.Fatalf("failures %q, want %q", r.Failures, want)
	}
	for i, w := range want {
		if !strings.HasPrefix(r.Failures[i], w) {
			t.Errorf("failure %d: %q, want prefix %q", i, r.Failures[i], w)
		}
	}
}

func TestLineMatches(t *testing.T) {
	for _, tc := range []struct {
		e, got string
		ok     bool
	}{
		{"abc", "abc", true},
		{"a...c", "abbc", true},
		{"a...c", "ac", true},
		{"a...a", "a", false}, // prefix and suffix must not overlap
		{"...x...y...", "1x2y3", true},
		{"...x...y...", "1y2x3", false},
		{"\xec", "\xec", true},
	} {
		if lineMatches(tc.e, tc.got) != tc.ok {
			t.Errorf("lineMatches(%q, %q) != %v", tc.e, tc.got, tc.ok)
		}
	}
}
