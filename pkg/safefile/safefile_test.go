package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// layout builds:
//
//	outside/secret
//	allowed/real           "hello"
//	allowed/big            20 bytes
//	allowed/sub/rel     -> ../real
//	allowed/abs         -> <allowed>/real   (absolute, refused)
//	allowed/esc         -> ../outside/secret
//	allowed/escdir      -> ../outside       (directory symlink leaving)
//	allowed/fifo
//	allowed/dir/
//	allowed/loop        -> loop
func layout(t *testing.T) (allowed, outside string) {
	t.Helper()
	base := t.TempDir()
	allowed = filepath.Join(base, "allowed")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{allowed, outside, filepath.Join(allowed, "sub"), filepath.Join(allowed, "dir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(outside, "secret"), "secret")
	write(filepath.Join(allowed, "real"), "hello")
	write(filepath.Join(allowed, "big"), strings.Repeat("x", 20))
	links := map[string]string{
		"sub/rel": "../real",
		"abs":     filepath.Join(allowed, "real"),
		"esc":     "../outside/secret",
		"escdir":  "../outside",
		"loop":    "loop",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(allowed, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(allowed, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return allowed, outside
}

func TestReadInDir(t *testing.T) {
	allowed, _ := layout(t)
	ok := []struct {
		path, want, resolved string
	}{
		{filepath.Join(allowed, "real"), "hello", "real"},
		{"real", "hello", "real"},
		{filepath.Join(allowed, "sub", "rel"), "hello", "real"},
		{filepath.Join(allowed, "sub", "..", "real"), "hello", "real"},
		{filepath.Join(allowed, "big"), strings.Repeat("x", 20), "big"},
	}
	for _, c := range ok {
		data, res, err := ReadInDir(allowed, c.path, 20)
		if err != nil {
			t.Errorf("%s: unexpected error %v", c.path, err)
			continue
		}
		if string(data) != c.want {
			t.Errorf("%s: got %q want %q", c.path, data, c.want)
		}
		if res != filepath.Join(allowed, c.resolved) {
			t.Errorf("%s: resolved %q want %q", c.path, res, filepath.Join(allowed, c.resolved))
		}
	}

	bad := []struct {
		path    string
		is      error
		problem string
	}{
		{filepath.Join(allowed, "..", "outside", "secret"), ErrOutside, "outside the allowed directory"},
		{"../outside/secret", ErrOutside, "outside the allowed directory"},
		{"/etc/passwd", ErrOutside, "outside the allowed directory"},
		{allowed, ErrNotRegular, "allowed directory itself"},
		{"", ErrOutside, "empty path"},
		{"a\x00b", ErrOutside, "NUL"},
		{filepath.Join(allowed, "abs"), ErrEscape, "symlink"},
		{filepath.Join(allowed, "esc"), ErrEscape, "symlink"},
		{filepath.Join(allowed, "escdir", "secret"), ErrEscape, "symlink"},
		{filepath.Join(allowed, "fifo"), ErrNotRegular, "a named pipe (FIFO)"},
		{filepath.Join(allowed, "dir"), ErrNotRegular, "a directory"},
		{filepath.Join(allowed, "missing"), ErrNotFound, "does not exist"},
		{filepath.Join(allowed, "loop"), syscall.ELOOP, "symlinks"},
		{filepath.Join(allowed, "real", "x"), syscall.ENOTDIR, "not a directory"},
	}
	for _, c := range bad {
		_, _, err := ReadInDir(allowed, c.path, 20)
		if err == nil {
			t.Errorf("%q: expected error", c.path)
			continue
		}
		if !errors.Is(err, c.is) {
			t.Errorf("%q: error %v is not %v", c.path, err, c.is)
		}
		if !strings.Contains(err.Error(), c.problem) {
			t.Errorf("%q: error %q does not say %q", c.path, err, c.problem)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: multi-line error %q", c.path, err)
		}
	}
}

func TestReadInDirSize(t *testing.T) {
	allowed, _ := layout(t)
	_, _, err := ReadInDir(allowed, "big", 19)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "20 bytes, more than the limit of 19") {
		t.Fatalf("got %v", err)
	}
	if _, _, err := ReadInDir(allowed, "big", 0); err == nil {
		t.Fatal("zero bound accepted")
	}
}

func TestReadInDirBadDir(t *testing.T) {
	if _, _, err := ReadInDir("relative/dir", "x", 10); err == nil || !strings.Contains(err.Error(), "not absolute") {
		t.Fatalf("relative dir: %v", err)
	}
	d := filepath.Join(t.TempDir(), "nope")
	if _, _, err := ReadInDir(d, "x", 10); err == nil || !strings.Contains(err.Error(), "cannot be opened") {
		t.Fatalf("missing dir: %v", err)
	}
}

// The escape classification depends on os.Root's (unexported) wording; pin
// it so a Go upgrade that changes it fails here rather than in the field.
func TestEscapeWordingPinned(t *testing.T) {
	allowed, _ := layout(t)
	r, err := os.OpenRoot(allowed)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Open("esc")
	if !isEscape(err) {
		t.Fatalf("os.Root escape error wording changed: %v", err)
	}
}

// FuzzRelInside: whatever the path, an accepted one stays lexically inside
// the directory (symlinks are os.Root's job and tested above).
func FuzzRelInside(f *testing.F) {
	for _, s := range []string{"a", "/allowed/a", "../a", "/allowed/../a", "/allowed/./b/../../a", "", "/", "//allowed//x", "a/../../b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rel, err := relInside("/allowed", p)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(p, "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if rel == "" || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
			t.Fatalf("%q -> %q escapes", p, rel)
		}
		if j := filepath.Join("/allowed", rel); !strings.HasPrefix(j, "/allowed/") {
			t.Fatalf("%q -> %q joins to %q", p, rel, j)
		}
	})
}
