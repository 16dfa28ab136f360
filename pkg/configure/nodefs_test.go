package configure

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// makeOrApply runs Make and Apply, failing the test after 10 s (a FIFO
// used to hang configure).
func makeOrApply(t *testing.T, o Options) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		p, err := Make(o)
		if err == nil {
			_, err = p.Apply(now)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("configure hangs")
		return nil
	}
}

// expectOneLine: err is one ima-hook line containing want.
func expectOneLine(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %v, want one line with %q", err, want)
	}
}

// Engine files are never read or written through a symlink that configure
// would replace, nor through one leading out of the node root (an absolute
// link resolves in the DaemonSet's own filesystem), nor read when they are
// no regular file; a refusal changes nothing.
func TestConfigureSymlinksAndOddFiles(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "elsewhere.toml")
	if err := os.WriteFile(outside, []byte("version = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		prep func(t *testing.T, root string)
		want string
	}{
		"config.toml a relative symlink": {func(t *testing.T, root string) {
			os.MkdirAll(filepath.Join(root, "etc/containerd"), 0o755)
			os.WriteFile(filepath.Join(root, "etc/containerd/real.toml"), []byte("version = 2\n"), 0o644)
			os.Symlink("real.toml", filepath.Join(root, "etc/containerd/config.toml"))
		}, `config.toml: is a symlink (to "real.toml")`},
		"config.toml an absolute symlink out of the root": {func(t *testing.T, root string) {
			os.MkdirAll(filepath.Join(root, "etc/containerd"), 0o755)
			os.Symlink(outside, filepath.Join(root, "etc/containerd/config.toml"))
		}, "config.toml: is a symlink"},
		"a directory on the way an absolute symlink": {func(t *testing.T, root string) {
			os.MkdirAll(filepath.Join(root, "etc"), 0o755)
			os.Symlink(filepath.Dir(outside), filepath.Join(root, "etc/containerd"))
		}, "cannot be reached without following a symlink out of the node root"},
		"config.toml a FIFO": {func(t *testing.T, root string) {
			os.MkdirAll(filepath.Join(root, "etc/containerd"), 0o755)
			if err := syscall.Mkfifo(filepath.Join(root, "etc/containerd/config.toml"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "config.toml: is not a regular file"},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			c.prep(t, root)
			before := snapshot(t, root)
			expectOneLine(t, makeOrApply(t, Options{Engine: "containerd", Root: root}), c.want)
			if after := snapshot(t, root); after != before {
				t.Errorf("changed:\n%s\nwas:\n%s", after, before)
			}
			if b, _ := os.ReadFile(outside); string(b) != "version = 2\n" {
				t.Errorf("the file outside the root changed: %q", b)
			}
		})
	}
}

// A plan of several files is applied whole or not at all: containerd's
// inject script is not left in place when config.toml cannot be replaced.
func TestConfigureAppliesAllOrNothing(t *testing.T) {
	root := node(t, map[string]string{ContainerdConfig: "version = 2\n"})
	// Something in the way of config.toml's backup.
	backup := filepath.Join(root, ContainerdConfig+".ima-hook-backup-"+now.UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(filepath.Join(backup, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)
	err := makeOrApply(t, Options{Engine: "containerd", Root: root})
	if err == nil {
		t.Fatal("applied over a directory")
	}
	if after := snapshot(t, root); after != before {
		t.Errorf("half applied (%v):\n%s\nwas:\n%s", err, after, before)
	}
}

// snapshot lists every entry under root: path, type, link target or
// content.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(strings.TrimPrefix(p, root) + " " + fi.Mode().Type().String())
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			b.WriteString(" -> " + l)
		case fi.Mode().IsRegular():
			c, _ := os.ReadFile(p)
			b.WriteString(" " + string(c))
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}
