package userror

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
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
