package preflight

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/keys"
)

// escapeTree builds a rootfs full of symlinks that point out of it (by
// absolute host paths and by climbing with ..) next to a signed file
// outside it, plus decoys at the places the links name inside.
func escapeTree(t testing.TB) (dir, root, outside string) {
	t.Helper()
	dir = t.TempDir()
	root = filepath.Join(dir, "rootfs")
	outside = writeFile(t, dir, "outside/secret", []byte("#!/bin/sh\nhost file\n"), 0o755, 0, 0)
	writeFile(t, root, "bin/real", []byte("#!/bin/real\n"), 0o755, 0, 0)
	symlink(t, root, "abs", outside)                                   // host absolute path
	symlink(t, root, "climb", "../outside/secret")                     // .. out of the top
	symlink(t, root, "deep/climb", "../../../../../../outside/secret") // many ..
	symlink(t, root, "dirlink", "/")                                   // the top itself
	symlink(t, root, "hostdir", filepath.Dir(outside))                 // a host directory
	symlink(t, root, "loop1", "loop2")
	symlink(t, root, "loop2", "loop1")
	symlink(t, root, "bin/rel", "real")
	symlink(t, root, "bin/viaroot", "/dirlink/dirlink/bin/real")
	symlink(t, root, "usr/bin", "../bin")
	// Decoys: what the container would see at those names.
	writeFile(t, root, "outside/secret", []byte("#!/bin/sh\ndecoy\n"), 0o755, 0, 0)
	return dir, root, outside
}

func TestResolveStaysInside(t *testing.T) {
	_, root, outside := escapeTree(t)
	rf, err := openRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.close()
	var hostSt unix.Stat_t
	if err := unix.Stat(outside, &hostSt); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, cwd, want string // want "" = must fail
	}{
		{"/abs", "/", ""}, // <root><host path> does not exist
		{"/climb", "/", "/outside/secret"},
		{"/deep/climb", "/", "/outside/secret"},
		{"climb", "/deep", "/outside/secret"},
		{"../../../../outside/secret", "/bin", "/outside/secret"},
		{"/dirlink/dirlink/bin/real", "/", "/bin/real"},
		{"/bin/rel", "/", "/bin/real"},
		{"/bin/viaroot", "/", "/bin/real"},
		{"/usr/bin/real", "/", "/bin/real"},
		{"/usr/bin/../bin/real", "/", "/bin/real"}, // .. after a symlink: its target's parent
		{"/loop1", "/", ""},
		{"/bin", "/", ""},
		{"/hostdir/secret", "/", ""},
		{"real", "/bin", "/bin/real"},
	}
	for _, c := range cases {
		r, err := rf.resolve(c.name, c.cwd)
		got := ""
		if err == nil {
			got = r.Path
			if r.Stat.Dev == hostSt.Dev && r.Stat.Ino == hostSt.Ino {
				t.Errorf("%s: opened the host file outside the rootfs", c.name)
			}
			r.File.Close()
		}
		if got != c.want {
			t.Errorf("resolve(%q, cwd %q) = %q (%v), want %q", c.name, c.cwd, got, err, c.want)
		}
		// The kernel's own answer: openat2 with RESOLVE_IN_ROOT resolves
		// as if the rootfs were /.
		kpath := c.name
		if !strings.HasPrefix(kpath, "/") {
			kpath = filepath.Join(c.cwd, kpath)
		}
		fd, kerr := unix.Openat2(rf.fd, kpath, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
		if errors.Is(kerr, unix.ENOSYS) {
			continue
		}
		if kerr == nil {
			var kst unix.Stat_t
			unix.Fstat(fd, &kst)
			unix.Close(fd)
			isReg := kst.Mode&unix.S_IFMT == unix.S_IFREG
			if (err == nil) != isReg {
				t.Errorf("%s: resolve error %v, kernel RESOLVE_IN_ROOT found mode %o", c.name, err, kst.Mode)
			}
			if err == nil && (kst.Ino != r.Stat.Ino || kst.Dev != r.Stat.Dev) {
				t.Errorf("%s: resolved to another file than RESOLVE_IN_ROOT", c.name)
			}
		} else if err == nil {
			t.Errorf("%s: resolved to %s, RESOLVE_IN_ROOT fails: %v", c.name, got, kerr)
		}
	}
}

func TestWalkNeverLeaves(t *testing.T) {
	dir, root, _ := escapeTree(t)
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"/abs"}, Cwd: "/"}}
	rep := runPreflight(t, Options{Rootfs: root, Spec: spec, Rules: rules(t, "", "appraise")})
	for _, f := range rep.Files {
		fi, err := os.Lstat(filepath.Join(root, f.Path))
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("walk result %s is not a regular file inside the rootfs (%v)", f.Path, err)
		}
	}
	want := []string{"/bin/real", "/outside/secret"}
	if len(rep.Files) != len(want) {
		t.Errorf("walk found %d files, want %v: %+v", len(rep.Files), want, rep.Files)
	}
	if rep.Stats.Symlinks != 10 {
		t.Errorf("%d symlinks counted, want 10", rep.Stats.Symlinks)
	}
	// The entrypoint names a host path: inside the rootfs it does not exist.
	if e := rep.Entrypoint; len(e) != 1 || e[0].Verdict != Undecidable {
		t.Errorf("entrypoint /abs: %+v", e)
	}
	// Through .., the container sees the decoy, never the host file.
	spec.Process.Args = []string{"/deep/climb"}
	rep = runPreflight(t, Options{Rootfs: root, Spec: spec, Rules: rules(t, "", "appraise"), SkipWalk: true})
	if e := rep.Entrypoint[0]; e.Path != "/outside/secret" || e.Size != int64(len("#!/bin/sh\ndecoy\n")) {
		t.Errorf("entrypoint via ..: %+v", e)
	}
	_ = dir
}

// A directory replaced by a symlink while the walk runs is never followed:
// every directory is opened with O_NOFOLLOW from its parent's fd.
func TestOpenRegularAtRefusesSymlinks(t *testing.T) {
	_, root, _ := escapeTree(t)
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, _, err := openRegularAt(fd, "abs"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("openRegularAt on a symlink: %v, want ELOOP", err)
	}
	bfd, err := unix.Openat(fd, "bin", unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(bfd)
	if f, _, err := openRegularAt(bfd, "real"); err != nil {
		t.Errorf("openRegularAt on a file: %v", err)
	} else {
		f.Close()
	}
}

func TestXattrOfLinksNotFollowed(t *testing.T) {
	dir := t.TempDir()
	requireXattrs(t, dir)
	root := filepath.Join(dir, "rootfs")
	outside := writeFile(t, dir, "signed-outside", []byte("x"), 0o755, 0, 0)
	setXattr(t, outside, []byte{0x04, 0x04, 1, 2})
	symlink(t, root, "bin/app", outside)
	rep := runPreflight(t, Options{Rootfs: root, Rules: rules(t, "", "appraise")})
	if len(rep.Files) != 0 {
		t.Errorf("a symlink to a host file was judged: %+v", rep.Files)
	}
	_ = keys.XattrName
}

// FuzzResolve compares resolve with the kernel's openat2(RESOLVE_IN_ROOT)
// on a tree full of escaping symlinks: both must find the same file or
// both fail, and resolve must never return the file outside the rootfs.
func FuzzResolve(f *testing.F) {
	_, root, outside := escapeTree(f)
	rf, err := openRoot(root)
	if err != nil {
		f.Fatal(err)
	}
	var hostSt unix.Stat_t
	if err := unix.Stat(outside, &hostSt); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"/abs", "/climb", "deep/climb", "/dirlink/../bin/rel", "/usr/bin/../bin/real", "loop1", "../../x", "/bin/viaroot/"} {
		f.Add(s, "/")
	}
	f.Add("real", "/bin")
	f.Fuzz(func(t *testing.T, name, cwd string) {
		if len(name) > 512 || len(cwd) > 128 || strings.ContainsRune(name+cwd, 0) {
			return
		}
		r, err := rf.resolve(name, cwd)
		if err == nil {
			defer r.File.Close()
			if r.Stat.Dev == hostSt.Dev && r.Stat.Ino == hostSt.Ino {
				t.Fatalf("%q (cwd %q) reached the host file", name, cwd)
			}
		}
		kpath := name
		if !strings.HasPrefix(kpath, "/") {
			kpath = "/" + cwd + "/" + kpath
		}
		fd, kerr := unix.Openat2(rf.fd, kpath, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
		if errors.Is(kerr, unix.ENOSYS) || name == "" {
			return
		}
		if kerr != nil {
			if err == nil {
				t.Fatalf("%q (cwd %q): resolved to %s, the kernel fails: %v", name, cwd, r.Path, kerr)
			}
			return
		}
		defer unix.Close(fd)
		var kst unix.Stat_t
		unix.Fstat(fd, &kst)
		if kst.Mode&unix.S_IFMT != unix.S_IFREG {
			if err == nil {
				t.Fatalf("%q: resolved to a file, the kernel finds mode %o", name, kst.Mode)
			}
			return
		}
		// A path ending in "/" names a directory: the kernel refuses a
		// file there (ENOTDIR) only on open without O_PATH semantics;
		// keep to names without a trailing slash for the comparison.
		if strings.HasSuffix(kpath, "/") {
			return
		}
		if err != nil {
			t.Fatalf("%q (cwd %q): %v, the kernel finds a file", name, cwd, err)
		}
		if kst.Ino != r.Stat.Ino || kst.Dev != r.Stat.Dev {
			t.Fatalf("%q: resolved to another file than the kernel", name)
		}
	})
}
