// Package userror is the one shape every user-facing failure takes:
//
//	ima-hook: <subject>: <problem>; <fix>
//
// The subject names the annotation, file or kernel feature at fault, so a
// pod author reading a runtime's "error running createRuntime hook" line knows
// what to change without reading logs.
package userror

import (
	"errors"
	"fmt"
	"strings"
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
	return oneLine(b.String())
}

func (e *Error) Unwrap() error { return e.Err }

// Line renders any error as the single stderr line the user sees.
func Line(err error) string {
	var ue *Error
	if errors.As(err, &ue) {
		return "ima-hook: " + ue.Error()
	}
	return "ima-hook: " + oneLine(err.Error())
}

// oneLine folds newlines so that the message stays one line whatever the
// input (annotation values are attacker-controlled and may contain them).
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// Quote shows an untrusted value bounded and escaped.
func Quote(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
