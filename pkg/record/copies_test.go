package record

import (
	"os"
	"path/filepath"
	"testing"
)

// The private copies handed to the kernel (issue 15.4): root-only, a new
// file every time (a leftover, even a symlink planted there, is replaced,
// never written through), read back without following symlinks, removed
// with the notes.
func TestPrivateCopies(t *testing.T) {
	s := Store{RunDir: t.TempDir()}
	p := s.X509CopyPath("c1")
	if err := s.WritePrivateCopy(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(p)
	if err != nil || st.Mode().Perm() != 0o600 || !st.Mode().IsRegular() {
		t.Fatalf("copy: %v %v", st, err)
	}
	if dst, _ := os.Stat(filepath.Dir(p)); dst.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", dst.Mode())
	}
	target := filepath.Join(t.TempDir(), "elsewhere")
	os.WriteFile(target, []byte("keep"), 0o644)
	os.Remove(p)
	os.Symlink(target, p)
	if err := s.WritePrivateCopy(p, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("written through a symlink: %q", b)
	}
	if b, err := s.ReadPrivateCopy(p, 16); err != nil || string(b) != "two" {
		t.Fatalf("read back %q %v", b, err)
	}
	if _, err := s.ReadPrivateCopy(p, 2); err == nil {
		t.Fatal("size bound not applied")
	}
	os.Remove(p)
	os.Symlink(target, p)
	if _, err := s.ReadPrivateCopy(p, 16); err == nil {
		t.Fatal("read through a symlink")
	}
	s.WritePrivateCopy(s.PolicyCopyPath("c1"), []byte("rules"))
	if err := s.RemoveNotes("c1"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{p, s.PolicyCopyPath("c1")} {
		if _, err := os.Lstat(q); !os.IsNotExist(err) {
			t.Fatalf("%s left behind: %v", q, err)
		}
	}
}
