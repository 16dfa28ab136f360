package record

import (
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
