package preflightcmd

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `preflight --bundle` with a FIFO as config.json refuses it in one line
// at once; before, the open blocked until a writer came and --timeout did
// not bound it.
func TestBundleConfigFIFORefused(t *testing.T) {
	bundle := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(bundle, "config.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := run("--bundle", bundle, "--timeout", "2s")
		done <- result{code, out, errs}
	}()
	select {
	case r := <-done:
		if r.code == ExitOK || !strings.HasPrefix(r.stderr, "ima-hook: --bundle: ") ||
			!strings.Contains(r.stderr, "named pipe (FIFO), not a regular file") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("exit %d stderr %q", r.code, r.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("preflight --bundle blocked on a FIFO config.json")
	}
}
