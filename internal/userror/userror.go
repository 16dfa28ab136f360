// Package userror is the one shape every user-facing failure takes:
//
//	ima-hook: <subject>: <problem>; <fix>
//
// The subject names the annotation, file or kernel feature at fault, so a
// pod author reading a runtime's "error running createRuntime hook" line knows
// what to change without reading logs.
//
// Much of what such a line names is untrusted (annotation keys and values,
// file names from a container's rootfs): the helpers here are the one place
// that makes any text safe for a terminal and a line-based report.
package userror

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/pflag"
)

// Error is a failure explained to the user in one line.
type Error struct {
	Subject string `json:"subject"` // annotation key, file path or kernel feature, e.g. "io.imans.kcmd"
	Problem string `json:"problem"` // what is wrong, e.g. `unknown parameter "ima_hash"`
	Fix     string `json:"fix"`     // how to fix it, e.g. "use ima_policy, ima_appraise or ima_template"
	// Err is the underlying error, if any: not printed, for errors.Is. It
	// does not survive JSON (the populate stage's reply), where only the
	// text counts.
	Err error `json:"-"`
}

// New builds an Error.
func New(subject, problem, fix string) *Error {
	return &Error{Subject: subject, Problem: problem, Fix: fix}
}

// Wrap builds an Error that keeps err for errors.Is/As.
func Wrap(err error, subject, problem, fix string) *Error {
	return &Error{Subject: subject, Problem: problem, Fix: fix, Err: err}
}

// Wrapf builds an Error caused by err whose problem text the package
// renders: the formatted context, ": ", then err's own text, e.g.
//
//	Wrapf(err, "/etc/ima-hook/key.pem", "check the file", "cannot read the key")
//	-> /etc/ima-hook/key.pem: cannot read the key: open ...: permission denied; check the file
//
// With an empty format the problem is err's text alone. err stays
// reachable for errors.Is/As; the text is rendered now, so that it also
// survives JSON (where Err does not). The line is made safe by Error, as
// for every Error.
func Wrapf(err error, subject, fix, format string, args ...any) *Error {
	problem := "unknown error"
	if err != nil {
		problem = err.Error()
	}
	if format != "" {
		problem = fmt.Sprintf(format, args...) + ": " + problem
	}
	return &Error{Subject: subject, Problem: problem, Fix: fix, Err: err}
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Subject != "" {
		b.WriteString(e.Subject)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return OneLine(b.String())
}

func (e *Error) Unwrap() error { return e.Err }

// Line renders any error as the single stderr line the user sees.
func Line(err error) string {
	var ue *Error
	if errors.As(err, &ue) {
		return "ima-hook: " + ue.Error()
	}
	return "ima-hook: " + OneLine(err.Error())
}

// OneLine makes s one line of printable characters, whatever it holds:
// line breaks (CR, LF, CRLF) fold to a space, so that a library's
// multi-line message still reads as prose; every other control character
// (ESC, BEL, NUL, C1 controls, U+2028, bidi overrides, ...) and every byte
// that is not UTF-8 is escaped as Go would quote it (\x1b, \x00, \u202e).
// A terminal then shows exactly what the line says, and nothing an
// attacker put into an annotation or a file name can move the cursor,
// recolour the screen or start a new line.
func OneLine(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\r' && strings.HasPrefix(s[i+1:], "\n"):
			b.WriteByte(' ')
			n = 2
		case r == '\r' || r == '\n':
			b.WriteByte(' ')
		case !strconv.IsPrint(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// isClean reports whether s is valid UTF-8 made of printable runes only
// (strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the
// ASCII space).
func isClean(s string) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}

// Text shows one untrusted field (a file name from a rootfs, an annotation
// key, a path given on the command line) in a line of a report or an
// error: unchanged when it is plain printable text, otherwise quoted in Go
// syntax ("/bin/a\nb"), so that the reader can tell exactly which bytes it
// holds and a crafted name cannot forge a line of the report.
func Text(s string) string {
	if isClean(s) && !strings.ContainsAny(s, `"\`) {
		return s
	}
	return strconv.Quote(s)
}

// Quote shows an untrusted value bounded and escaped.
func Quote(s string) string {
	const max = 80
	if len(s) > max {
		// Cut at a rune boundary so that the cut does not invent an
		// invalid byte that the value does not have.
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// Fprintf is fmt.Fprintf for the lines of a text report: every argument
// of a string type and every error goes through OneLine first, so that the
// only line breaks are the format's own. (Other types, fmt.Stringers
// included, are printed as they are: pass s.String() to have it cleaned.)
// Untrusted names that must stay distinguishable (file names) are better
// passed through Text first.
func Fprintf(w io.Writer, format string, args ...any) (int, error) {
	clean := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			clean[i] = OneLine(v)
		case error:
			clean[i] = OneLine(v.Error())
		default:
			if rv := reflect.ValueOf(a); rv.IsValid() && rv.Kind() == reflect.String {
				clean[i] = OneLine(rv.String())
			} else {
				clean[i] = a
			}
		}
	}
	return fmt.Fprintf(w, format, clean...)
}

// UsageLine is the one line for a command-line usage error of command
// ("measurements", "policy check", ...): what is wrong with which flag, and
// where the flags are described, e.g.
//
//	ima-hook: measurements: unknown flag --contianer; see 'ima-hook measurements --help'
//
// err is the flag parser's error (pflag's wording is turned into prose);
// what the user typed is shown through OneLine. A hint, when given, comes
// before the pointer at --help.
func UsageLine(command string, err error, hint ...string) string {
	msg := err.Error()
	var notExist *pflag.NotExistError
	var noValue *pflag.ValueRequiredError
	var badValue *pflag.InvalidValueError
	switch {
	case errors.As(err, &badValue) && badValue.GetFlag() != nil:
		msg = fmt.Sprintf("invalid value %s for --%s", Quote(badValue.GetValue()), badValue.GetFlag().Name)
		if cause := errors.Unwrap(badValue); cause != nil {
			msg += ": " + cause.Error()
		}
	case errors.As(err, &notExist) && notExist.GetSpecifiedShortnames() != "":
		msg = fmt.Sprintf("unknown flag -%c (in -%s)", []rune(notExist.GetSpecifiedName())[0], notExist.GetSpecifiedShortnames())
	case errors.As(err, &notExist):
		msg = "unknown flag --" + notExist.GetSpecifiedName()
	case errors.As(err, &noValue) && noValue.GetSpecifiedShortnames() != "":
		msg = fmt.Sprintf("flag -%c needs a value", []rune(noValue.GetSpecifiedName())[0])
	case errors.As(err, &noValue):
		msg = "flag --" + noValue.GetSpecifiedName() + " needs a value"
	}
	see := fmt.Sprintf("see 'ima-hook %s --help'", command)
	if len(hint) > 0 {
		see = strings.Join(hint, ", ") + " (" + see + ")"
	}
	return Line(New(command, msg, see))
}
