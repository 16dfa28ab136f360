package preflight

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/pkg/keys"
)

// lddLibs runs the host's ldd on prog and returns the real paths of the
// libraries and of the loader it lists: the dynamic loader's own answer
// for this machine.
func lddLibs(t *testing.T, prog string) (libs []string, loader string) {
	t.Helper()
	out, err := exec.Command("ldd", prog).Output()
	if err != nil {
		t.Skipf("ldd %s: %v", prog, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			rp, err := filepath.EvalSymlinks(f[2])
			if err != nil {
				t.Fatal(err)
			}
			libs = append(libs, rp)
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			rp, err := filepath.EvalSymlinks(f[0])
			if err != nil {
				t.Fatal(err)
			}
			loader = rp
		}
	}
	sort.Strings(libs)
	return libs, loader
}

// The entrypoint chain of real host programs, with the host's / as the
// rootfs, must name exactly the libraries ldd lists.
func TestChainMatchesLdd(t *testing.T) {
	requireTool(t, "ldd")
	progs := []string{"/bin/ls", "/usr/bin/evmctl", "/usr/bin/qemu-system-x86_64", "/usr/bin/getfattr"}
	tested := 0
	for _, prog := range progs {
		if _, err := os.Stat(prog); err != nil {
			continue
		}
		tested++
		t.Run(filepath.Base(prog), func(t *testing.T) {
			want, wantLoader := lddLibs(t, prog)
			spec := &specs.Spec{Process: &specs.Process{Args: []string{prog}, Cwd: "/", Env: []string{"PATH=/usr/bin:/bin"}}}
			rep := runPreflight(t, Options{Rootfs: "/", Spec: spec, SkipWalk: true, Rules: rules(t, "", "appraise func=MMAP_CHECK")})
			var got []string
			var gotLoader string
			for _, f := range rep.Entrypoint {
				switch f.Role {
				case RoleLibrary:
					if f.Verdict == Undecidable && strings.Contains(f.Reason, "not found") {
						t.Errorf("library not found: %s", f.Reason)
						continue
					}
					got = append(got, f.Path)
				case RoleLoader:
					gotLoader = f.Path
				}
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("libraries of %s:\n got %v\nwant %v (ldd)", prog, got, want)
			}
			if gotLoader != wantLoader {
				t.Errorf("loader %q, ldd says %q", gotLoader, wantLoader)
			}
			// Every library is read and mapped executable by the loader.
			for _, f := range rep.Entrypoint {
				if f.Role == RoleLibrary {
					if len(f.Accesses) < 2 || f.Accesses[0].Func != "FILE_CHECK" || f.Accesses[1].Func != "MMAP_CHECK" {
						t.Errorf("%s: accesses %+v", f.Path, f.Accesses)
					}
				}
			}
		})
	}
	if tested == 0 {
		t.Skip("none of the host programs exists")
	}
}

// copyWithParents copies host file src into root at the same path,
// recreating the symlinks on the way (usr-merged /lib -> usr/lib, the
// loader's /lib64 link), so the rootfs resolves like the host.
func copyWithParents(t *testing.T, root, src string) {
	t.Helper()
	p := "/"
	parts := splitComponents(src)
	for i, c := range parts {
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, p)
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(dst); err != nil {
				symlink(t, root, p, target)
			}
			rest := filepath.Join(parts[i+1:]...)
			if filepath.IsAbs(target) {
				copyWithParents(t, root, filepath.Join(target, rest))
			} else {
				copyWithParents(t, root, filepath.Join(filepath.Dir(p), target, rest))
			}
			return
		}
		if i == len(parts)-1 {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(dst); err == nil {
				return
			}
			writeFile(t, root, p, data, fi.Mode().Perm(), 0, 0)
		}
	}
}

// A container rootfs built from a host program, its loader and libraries:
// signing all but libc leaves exactly libc blocking.
func TestChainBlockingLibrary(t *testing.T) {
	requireTool(t, "ldd", "evmctl")
	const prog = "/bin/ls"
	libs, loader := lddLibs(t, prog)
	dir := t.TempDir()
	requireXattrs(t, dir)
	root := filepath.Join(dir, "rootfs")
	key := newTestKey(t, dir, "key")
	copyWithParents(t, root, prog)
	copyWithParents(t, root, "/lib64/ld-linux-x86-64.so.2")
	for _, l := range libs {
		copyWithParents(t, root, l)
	}
	var libc string
	for _, l := range append(libs, loader) {
		if strings.HasPrefix(filepath.Base(l), "libc.so") {
			libc = l
			continue
		}
		evmSign(t, key, filepath.Join(root, l))
	}
	progReal, _ := filepath.EvalSymlinks(prog)
	evmSign(t, key, filepath.Join(root, progReal))
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"ls", "-l"}, Cwd: "/", Env: []string{"PATH=/usr/local/bin:/bin"}}}
	rep := runPreflight(t, Options{Rootfs: root, Spec: spec, Certs: []*keys.Certificate{key.cert},
		Rules: rules(t, "", "appraise func=BPRM_CHECK appraise_type=imasig\nappraise func=MMAP_CHECK appraise_type=imasig")})
	if len(rep.Blocking) != 1 || rep.Blocking[0].Path != libc || rep.Blocking[0].Cause != CauseNoXattr {
		t.Errorf("blocking %+v, want only %s", rep.Blocking, libc)
	}
	if e := rep.Entrypoint[0]; e.Role != RoleEntrypoint || e.Path != progReal || e.Verdict != Pass {
		t.Errorf("entrypoint %+v", e)
	}
	if len(rep.Entrypoint) != 2+len(libs) {
		t.Errorf("%d chain files, want program + loader + %d libraries", len(rep.Entrypoint), len(libs))
	}
	// The rootfs view agrees for the same files.
	if f := fileResult(t, rep.Files, libc); f.Verdict != Refused {
		t.Errorf("libc in the walk: %s", f.Verdict)
	}
}

func TestChainScripts(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "bin/busybox", []byte("\x7fELF-not-really"), 0o755, 0, 0)
	symlink(t, root, "bin/sh", "busybox")
	writeFile(t, root, "app/run.sh", []byte("#!/bin/sh -e\necho\n"), 0o755, 0, 0)
	writeFile(t, root, "app/nested", []byte("#! /app/run.sh\n"), 0o755, 0, 0)
	writeFile(t, root, "app/crlf", []byte("#!/bin/sh\r\necho\r\n"), 0o755, 0, 0)
	writeFile(t, root, "app/rel", []byte("#!sh\n"), 0o755, 0, 0)
	writeFile(t, root, "bin/sh-loop", []byte("#!/bin/sh-loop\n"), 0o755, 0, 0)
	r := rules(t, "", "appraise func=BPRM_CHECK")
	run := func(args []string, cwd string) *Report {
		spec := &specs.Spec{Process: &specs.Process{Args: args, Cwd: cwd, Env: []string{"PATH=/app:/bin"}}}
		return runPreflight(t, Options{Rootfs: root, Spec: spec, Rules: r, SkipWalk: true})
	}
	paths := func(rep *Report) string {
		var p []string
		for _, f := range rep.Entrypoint {
			p = append(p, f.Path+"="+f.Role)
		}
		return strings.Join(p, " ")
	}
	if got := paths(run([]string{"run.sh"}, "/")); got != "/app/run.sh=entrypoint /bin/busybox=interpreter" {
		t.Errorf("run.sh: %s", got)
	}
	if got := paths(run([]string{"/app/nested"}, "/")); got != "/app/nested=entrypoint /app/run.sh=interpreter /bin/busybox=interpreter" {
		t.Errorf("nested: %s", got)
	}
	rep := run([]string{"/app/crlf"}, "/")
	if len(rep.Entrypoint) != 2 || !strings.Contains(rep.Entrypoint[1].Reason, "not found") || !strings.Contains(rep.Entrypoint[1].Path, "\r") {
		t.Errorf("CRLF script: %+v (the kernel looks for \"/bin/sh\\r\")", rep.Entrypoint)
	}
	// A relative interpreter is resolved from the working directory.
	if got := paths(run([]string{"/app/rel"}, "/bin")); got != "/app/rel=entrypoint /bin/busybox=interpreter" {
		t.Errorf("relative interpreter from /bin: %s", got)
	}
	rep = run([]string{"/bin/sh-loop"}, "/")
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "nested interpreters") {
		t.Errorf("interpreter loop not noted: %v", rep.Notes)
	}
	// The script itself is read by its interpreter (FILE_CHECK MAY_READ).
	rep = run([]string{"run.sh"}, "/")
	sawRead := false
	for _, a := range rep.Entrypoint[0].Accesses {
		if a.Func == "FILE_CHECK" && a.Mask == "MAY_READ" {
			sawRead = true
		}
	}
	if !sawRead {
		t.Errorf("script read by the interpreter not modelled: %+v", rep.Entrypoint[0].Accesses)
	}
}

func TestLdSoConfIncludes(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/ld.so.conf", []byte("# comment\ninclude ld.so.conf.d/*.conf\n/opt/a:/opt/b\ninclude /etc/ld.so.conf\n"), 0o644, 0, 0)
	writeFile(t, root, "etc/ld.so.conf.d/b.conf", []byte("/opt/from-b # trailing\n"), 0o644, 0, 0)
	writeFile(t, root, "etc/ld.so.conf.d/a.conf", []byte("/opt/from-a\nhwcap 0 nosegneg\n"), 0o644, 0, 0)
	writeFile(t, root, "etc/ld.so.conf.d/skip.txt", []byte("/opt/no\n"), 0o644, 0, 0)
	rf, err := openRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.close()
	c := &chainer{root: rf}
	got := strings.Join(c.ldSoConf(), " ")
	if got != "/opt/from-a /opt/from-b /opt/a /opt/b" {
		t.Errorf("ld.so.conf dirs: %q", got)
	}
}
