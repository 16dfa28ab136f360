package logx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileFallbackOneLinePerAction(t *testing.T) {
	dir := t.TempDir()
	l := &Logger{}
	f, err := os.OpenFile(filepath.Join(dir, "ima-hook.log"), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	l.target, l.file = "file", f
	l.Info("c1", "policy loaded: %d rules", 3)
	l.Error("c2", "refused: %s", "bad kcmd")
	l.Close()
	b, err := os.ReadFile(filepath.Join(dir, "ima-hook.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "container=c1 policy loaded: 3 rules") || !strings.Contains(lines[1], "container=c2 refused: bad kcmd") {
		t.Fatalf("log lines: %q", lines)
	}
}

func TestOpenFallsBackToFile(t *testing.T) {
	dir := t.TempDir()
	l := Open("file-only-for-test", dir)
	defer l.Close()
	if l.Target() != "file" {
		t.Fatalf("target %q, want file", l.Target())
	}
}
