package sysfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadRegularBoundsAndRefuses(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, size, err := ReadRegular(p, 0, 5)
	if err != nil || string(b) != "hello" || size != 5 {
		t.Fatalf("ReadRegular = %q, %d, %v", b, size, err)
	}
	// One byte over the bound is read, so the caller sees "larger".
	if b, _, err := ReadRegular(p, 0, 3); err != nil || string(b) != "hell" {
		t.Fatalf("bounded read = %q, %v; want 4 bytes", b, err)
	}
	if _, _, err := ReadRegular(filepath.Join(dir, "missing"), 0, 5); !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "open "+dir) {
		t.Fatalf("missing file: %v, want an os-style not-exist error", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Refused, not waited on.
	if _, _, err := ReadRegular(fifo, 0, 5); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("FIFO: %v, want ErrNotRegular", err)
	}
	// OpenRegular says what the path is instead, for the refusal's words.
	if f, mode, _, err := OpenRegular(fifo, 0); f != nil || !errors.Is(err, ErrNotRegular) || mode&fs.ModeNamedPipe == 0 {
		t.Fatalf("OpenRegular(FIFO) = %v, %v, %v; want no file, a named-pipe mode, ErrNotRegular", f, mode, err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadRegular(link, syscall.O_NOFOLLOW, 5); !errors.Is(err, syscall.ELOOP) {
		t.Fatalf("symlink with O_NOFOLLOW: %v, want ELOOP", err)
	}
	if _, _, err := ReadRegular(dir, 0, 5); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("directory: %v, want ErrNotRegular", err)
	}
}

func TestWriteCloseAndCreateTemp(t *testing.T) {
	dir := t.TempDir()
	f, err := CreateTemp(dir, ".tmp-note-*.json")
	if err != nil {
		t.Fatal(err)
	}
	name := f.Name()
	if base := filepath.Base(name); !strings.HasPrefix(base, ".tmp-note-") || !strings.HasSuffix(base, ".json") || filepath.Dir(name) != dir {
		t.Fatalf("temp name %s does not follow the pattern", name)
	}
	if _, err := f.Write(bytes.Repeat([]byte("x"), 70000)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	mode, size, err := f.Mode()
	if err != nil || !mode.IsRegular() || mode.Perm() != 0o600 || size != 70000 {
		t.Fatalf("Mode = %v, %d, %v; want a 0600 regular file of 70000 bytes", mode, size, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	if _, err := f.Write([]byte("y")); err == nil {
		t.Fatal("write after Close succeeded")
	}
	// O_EXCL: never through an existing name or a planted symlink.
	if _, err := OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("exclusive create of an existing file: %v", err)
	}
	if _, err := CreateTemp(dir, "a/b*"); err == nil {
		t.Fatal("a pattern with a separator was accepted")
	}
}

func TestAppendAndReadAtMost(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	for _, line := range []string{"one\n", "two\n"} {
		f, err := OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := f.ReadAtMost(100)
	if err != nil || string(b) != "one\ntwo\n" {
		t.Fatalf("ReadAtMost = %q, %v", b, err)
	}
	if _, err := f.ReadAtMost(-1); err == nil {
		t.Fatal("a negative bound was accepted")
	}
}

func TestModeOfMatchesOS(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{dir, "/dev/null", "/proc/self/stat"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		mode, _, err := f.Mode()
		f.Close()
		if err != nil || mode != st.Mode() {
			t.Errorf("%s: Mode %v, os.Stat %v (%v)", p, mode, st.Mode(), err)
		}
	}
}
