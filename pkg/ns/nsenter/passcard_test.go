//go:build linux && cgo

package nsenter

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWriteCard(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("cards are root's")
	}
	dir := filepath.Join(t.TempDir(), "cards")
	c := Card{ConfigPath: "/etc/x.toml", ConfigSize: 12, ConfigFNV: 0xabc, Runtime: "/usr/bin/runc", LookedUp: true,
		Path: "/usr/sbin:/usr/bin", RunDir: "/run/ima-hook"}
	if err := WriteCard(dir, c); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, CardName(c.ConfigPath))
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	want := []string{"ima-hook pass-through card 1", "exe ", "config 12 0000000000000abc", "runtime /usr/bin/runc",
		"path =/usr/sbin:/usr/bin", "run_dir /run/ima-hook", ""}
	if len(lines) != len(want) {
		t.Fatalf("card:\n%s", b)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Fatalf("line %d is %q, want %q...\n%s", i+1, lines[i], w, b)
		}
	}
	for p, mode := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, name: 0o600} {
		st, err := os.Lstat(p)
		if err != nil || st.Mode() != mode {
			t.Fatalf("%s: mode %v (%v), want %v", p, st.Mode(), err, mode)
		}
	}

	// The same card again: left as it is.
	old := time.Unix(1000, 0)
	if err := os.Chtimes(name, old, old); err != nil {
		t.Fatal(err)
	}
	if err := WriteCard(dir, c); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(name); !st.ModTime().Equal(old) {
		t.Fatal("an unchanged card was rewritten")
	}
	// Another runtime: rewritten; no temporary files left.
	c.Runtime, c.LookedUp = "/usr/local/sbin/runc", false
	if err := WriteCard(dir, c); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(name); !strings.Contains(string(b), "runtime /usr/local/sbin/runc\npath -\n") {
		t.Fatalf("card not rewritten:\n%s", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d files in the card directory, want 1", len(ents))
	}
	if err := RemoveCard(dir, c.ConfigPath); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Fatal("card not removed")
	}
	if err := RemoveCard(dir, c.ConfigPath); err != nil {
		t.Fatalf("removing a missing card: %v", err)
	}
}

func TestWriteCardRefuses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("cards are root's")
	}
	dir := t.TempDir()
	good := Card{ConfigPath: "/etc/x.toml", Runtime: "/usr/bin/runc", RunDir: "/run/ima-hook"}
	for name, c := range map[string]Card{
		"relative config":  {ConfigPath: "x.toml", RunDir: "/run"},
		"relative run_dir": {ConfigPath: "/x.toml", RunDir: "run"},
		"relative runtime": {ConfigPath: "/x.toml", Runtime: "runc", RunDir: "/run"},
		"newline":          {ConfigPath: "/x.toml", Runtime: "/usr/bin/runc\nrun_dir /tmp", RunDir: "/run"},
		"too long":         {ConfigPath: "/x.toml", Path: strings.Repeat("/x:", 3000), LookedUp: true, Runtime: "/r", RunDir: "/run"},
	} {
		if err := WriteCard(filepath.Join(dir, "c"), c); err == nil {
			t.Errorf("%s: a card was written", name)
		}
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := WriteCard(open, good); err == nil {
		t.Error("a card was written into a directory anyone may write")
	}
	if err := syscall.Symlink(dir, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := WriteCard(filepath.Join(dir, "link"), good); err == nil {
		t.Error("a card was written through a symlinked directory")
	}
}
