package docscheck

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDocs runs the commands of README.md and docs/*.md (make docs-check).
// It needs the emulated build and runs real runtimes, so a plain go test
// skips it; IMA_HOOK_DOCS_CHECK=1 turns it on.
func TestDocs(t *testing.T) {
	if os.Getenv("IMA_HOOK_DOCS_CHECK") != "1" {
		t.Skip("IMA_HOOK_DOCS_CHECK=1 runs the docs' commands (make docs-check)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	emu := filepath.Join(root, "bin", "ima-hook-emu")
	if _, err := os.Stat(emu); err != nil {
		t.Fatalf("%v: run make build build-emu first", err)
	}
	files, err := DocFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	only := os.Getenv("DOCS_CHECK_FILES")
	if only != "" {
		files = filepath.SplitList(only)
	}
	tmp, err := os.MkdirTemp("", "docs-check-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	r, err := Check(Options{Root: root, Files: files, EmuBinary: emu, Tmp: tmp, Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Failures {
		t.Error(f)
	}
	t.Log(r)
	if only == "" && (r.Run == 0 || r.Compared == 0 || r.Links == 0) {
		t.Errorf("nothing was run or compared: %s", r)
	}
}
