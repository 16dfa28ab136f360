package record

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNotes(t *testing.T) {
	s := testStore(t)
	if _, ok, err := s.ReadNSIDNote("c1"); ok || err != nil {
		t.Fatalf("no note: %v %v", ok, err)
	}
	if _, ok := s.ReadListStart("c1"); ok {
		t.Fatal("no list start expected")
	}
	if err := s.PrepareNotes("c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteNSIDNote("c1", 4026532329); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteListStart("c1", 42); err != nil {
		t.Fatal(err)
	}
	if ns, ok, err := s.ReadNSIDNote("c1"); ns != 4026532329 || !ok || err != nil {
		t.Fatalf("%d %v %v", ns, ok, err)
	}
	if n, ok := s.ReadListStart("c1"); n != 42 || !ok {
		t.Fatalf("%d %v", n, ok)
	}
	// The C stage writes the id with a trailing newline, or none.
	if err := os.WriteFile(s.PendingNSPath("c1"), []byte("4026532330\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ns, ok, err := s.ReadNSIDNote("c1"); ns != 4026532330 || !ok || err != nil {
		t.Fatalf("%d %v %v", ns, ok, err)
	}
	// An earlier container's notes are gone before the next namespace.
	if err := s.PrepareNotes("c1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ReadNSIDNote("c1"); ok {
		t.Fatal("stale namespace note kept")
	}
	if _, ok := s.ReadListStart("c1"); ok {
		t.Fatal("stale list start kept")
	}
	if err := s.RemoveNotes("c1"); err != nil {
		t.Fatalf("removing absent notes: %v", err)
	}
}

func TestNotesRefuseOddFiles(t *testing.T) {
	s := testStore(t)
	if err := s.PrepareNotes("c1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.PendingNSPath("c1"), []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ReadNSIDNote("c1"); err == nil {
		t.Fatal("garbage namespace id accepted")
	}
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, []byte("7"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(s.PendingNSPath("c1"))
	if err := os.Symlink(target, s.PendingNSPath("c1")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ReadNSIDNote("c1"); err == nil {
		t.Fatal("a symlinked note was followed")
	}
	// A FIFO must not hang the reader.
	if err := syscall.Mkfifo(s.ListStartPath("c1"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	go func() { _, ok := s.ReadListStart("c1"); done <- ok }()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("a FIFO gave a list start")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO note hangs")
	}
}

func FuzzParseNSIDNote(f *testing.F) {
	f.Add("4026532329\n")
	f.Add("-1")
	f.Add("4294967296")
	f.Fuzz(func(t *testing.T, text string) {
		n, err := ParseNSIDNote(text)
		if err != nil {
			return
		}
		// Whatever was accepted is a uint32 that writes back as itself.
		if m, err := ParseNSIDNote(strconv.FormatUint(uint64(n), 10) + "\n"); err != nil || m != n {
			t.Fatalf("%q: %d does not round-trip (%d, %v)", text, n, m, err)
		}
		if strings.TrimSpace(text) == "" {
			t.Fatalf("blank %q accepted", text)
		}
	})
}

func FuzzParseListStart(f *testing.F) {
	f.Add("42\n")
	f.Add("-1")
	f.Add("9223372036854775808")
	f.Fuzz(func(t *testing.T, text string) {
		if n, ok := ParseListStart(text); ok && n < 0 {
			t.Fatalf("%q: negative start %d", text, n)
		}
	})
}

// TestWriteAtomicLeavesNoTemporary: the temporary file is gone whether the
// write succeeds (renamed into place) or fails (removed).
func TestWriteAtomicLeavesNoTemporary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c1.owner")
	if err := writeNote(path, "x"); err != nil {
		t.Fatal(err)
	}
	fail := errors.New("fill failed")
	if err := writeAtomic(filepath.Join(dir, "c2.owner"), false, func(io.Writer) error { return fail }); !errors.Is(err, fail) {
		t.Fatalf("got %v, want the fill's error", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	if len(left) != 0 {
		t.Fatalf("temporaries left: %v", left)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "x" {
		t.Fatalf("note: %q, %v", b, err)
	}
}

// TestRemoveNote: missing notes are no error; a note that is a directory
// (never made by ima-hook) is still removed when empty, as os.Remove did.
func TestRemoveNote(t *testing.T) {
	dir := t.TempDir()
	if err := removeNote(filepath.Join(dir, "none")); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "c1.nsid")
	if err := os.WriteFile(f, []byte("1"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(dir, "c1.start")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f, d} {
		if err := removeNote(p); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s still there: %v", p, err)
		}
	}
}
