package userror

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spf13/pflag"
)

func TestLineShape(t *testing.T) {
	e := Wrap(fs.ErrNotExist, "io.imans.x509", "no such file\nsecond line", "put it in /etc/ima-hook/keys")
	if got := Line(e); got != "ima-hook: io.imans.x509: no such file second line; put it in /etc/ima-hook/keys" {
		t.Fatalf("line %q", got)
	}
	if !errors.Is(e, fs.ErrNotExist) {
		t.Fatal("cause lost")
	}
	if got := Line(errors.New("plain\r\nfailure")); got != "ima-hook: plain failure" {
		t.Fatalf("plain %q", got)
	}
	if got := New("", "problem", "").Error(); got != "problem" {
		t.Fatalf("bare %q", got)
	}
}

func TestQuoteBoundsUntrustedValues(t *testing.T) {
	q := Quote(strings.Repeat("x", 1000) + "\n")
	if len(q) > 100 || strings.Contains(q, "\n") {
		t.Fatalf("quote %q", q)
	}
}

// printableLine reports why s is not one line of printable characters
// ("" when it is).
func printableLine(s string) string {
	if !utf8.ValidString(s) {
		return "invalid UTF-8"
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return fmt.Sprintf("unprintable %U", r)
		}
	}
	return ""
}

// TestControlsAreEscaped: ESC, BEL, NUL, C1 controls, bidi overrides and
// bytes that are not UTF-8 reach the line escaped; before, only CR and LF
// were folded and an annotation key could clear the terminal.
func TestControlsAreEscaped(t *testing.T) {
	cases := map[string]string{
		"io.imans.\x1b[2Jpolicy": `io.imans.\x1b[2Jpolicy`,
		"bell\a":                 `bell\a`,
		"nul\x00end":             `nul\x00end`,
		"c1\u009bx":              `c1\u009bx`,
		"bidi\u202eevil":         `bidi\u202eevil`,
		"bad\xffutf8":            `bad\xffutf8`,
		"two\nlines\r\nthree\r":  "two lines three ",
		"del\x7f":                `del\x7f`,
		"plain ünïcode ok":       "plain ünïcode ok",
	}
	for in, want := range cases {
		line := Line(New(in, "problem", "fix"))
		if line != "ima-hook: "+want+": problem; fix" {
			t.Errorf("%q: got %q, want subject %q", in, line, want)
		}
		if why := printableLine(line); why != "" {
			t.Errorf("%q: %s in %q", in, why, line)
		}
	}
}

func TestTextQuotesOnlyWhatNeedsIt(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/env":      "/usr/bin/env",
		"/bin/a\nb":         `"/bin/a\nb"`,
		"/bin/\x1b[31mred":  `"/bin/\x1b[31mred"`,
		`/bin/back\slash`:   `"/bin/back\\slash"`,
		`/bin/"quoted"`:     `"/bin/\"quoted\""`,
		"/bin/\xff":         `"/bin/\xff"`,
		"/usr/lib/ünïcode":  "/usr/lib/ünïcode",
		"/bin/nbsp\u00a0x":  `"/bin/nbsp\u00a0x"`,
		"/bin/ls\u2028fake": `"/bin/ls\u2028fake"`,
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestUsageLine(t *testing.T) {
	fs := pflag.NewFlagSet("measurements", pflag.ContinueOnError)
	fs.String("container", "", "")
	fs.Duration("timeout", 0, "")
	for args, want := range map[string]string{
		"--contianer web-1": "ima-hook: measurements: unknown flag --contianer; see 'ima-hook measurements --help'",
		"--container":       "ima-hook: measurements: flag --container needs a value; see 'ima-hook measurements --help'",
		"-q":                "ima-hook: measurements: unknown flag -q (in -q); see 'ima-hook measurements --help'",
		"--timeout=x":       `ima-hook: measurements: invalid value "x" for --timeout: must be a duration like "30s" or "5m"; see 'ima-hook measurements --help'`,
	} {
		err := fs.Parse(strings.Fields(args))
		if err == nil {
			t.Fatalf("%s: no error", args)
		}
		if got := UsageLine("measurements", err); got != want {
			t.Errorf("%s:\n got %s\nwant %s", args, got, want)
		}
	}
	err := fs.Parse([]string{"--bogus"})
	if got := UsageLine("runtime", err, "put the runtime's arguments after --"); got != "ima-hook: runtime: unknown flag --bogus; put the runtime's arguments after -- (see 'ima-hook runtime --help')" {
		t.Errorf("hint: %s", got)
	}
}

// FuzzLine: whatever the subject, problem and fix hold, the user sees one
// line of printable characters.
func FuzzLine(f *testing.F) {
	f.Add("io.imans.policy", "bad\x1b[2J", "fix\n")
	f.Add("\xff\xfe", "\u202e\u2028", "\x00\a")
	f.Fuzz(func(t *testing.T, subject, problem, fix string) {
		for _, line := range []string{Line(New(subject, problem, fix)), Line(errors.New(problem)), Text(subject), Quote(subject), OneLine(fix)} {
			if why := printableLine(line); why != "" {
				t.Fatalf("%s in %q", why, line)
			}
		}
		if u, err := strconv.Unquote(Text(subject)); Text(subject) != subject && (err != nil || u != subject) {
			t.Fatalf("Text(%q) = %s does not unquote back", subject, Text(subject))
		}
	})
}

func TestWrapfRendersTheCause(t *testing.T) {
	cause := &fs.PathError{Op: "open", Path: "/k\x1b[2J.pem", Err: fs.ErrPermission}
	err := Wrapf(cause, "io.imans.x509", "check the file's mode", "cannot read the key (%d bytes max)", 8192)
	want := `ima-hook: io.imans.x509: cannot read the key (8192 bytes max): open /k\x1b[2J.pem: permission denied; check the file's mode`
	if got := Line(err); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if err.Problem != `cannot read the key (8192 bytes max): open /k`+"\x1b"+`[2J.pem: permission denied` {
		t.Fatalf("problem %q: the cause belongs in the problem (it survives JSON)", err.Problem)
	}
	// The cause alone when there is no context.
	if got := Wrapf(cause, "s", "f", "").Error(); got != `s: open /k\x1b[2J.pem: permission denied; f` {
		t.Fatalf("cause only: %q", got)
	}
	// errors.Is and errors.As see through it, also when wrapped again.
	outer := fmt.Errorf("stage: %w", err)
	var pe *fs.PathError
	var ue *Error
	if !errors.Is(outer, fs.ErrPermission) || !errors.As(outer, &pe) || pe != cause || !errors.As(outer, &ue) || ue != err {
		t.Fatalf("Is/As lost the cause: is=%v as=%v", errors.Is(outer, fs.ErrPermission), errors.As(outer, &pe))
	}
	if Line(outer) != want {
		t.Fatalf("Line of the wrapped error %q", Line(outer))
	}
	// A nil cause does not panic and says so.
	if got := Wrapf(nil, "s", "f", "x").Error(); got != "s: x: unknown error; f" {
		t.Fatalf("nil cause: %q", got)
	}
}

func TestWrapKeepsIsAndAs(t *testing.T) {
	sentinel := errors.New("no .ima keyring")
	err := fmt.Errorf("probe: %w", Wrap(sentinel, ".ima keyring", "not present", "use _ima"))
	var ue *Error
	if !errors.Is(err, sentinel) || !errors.As(err, &ue) || ue.Subject != ".ima keyring" {
		t.Fatalf("Is/As through Wrap: %v", err)
	}
}
