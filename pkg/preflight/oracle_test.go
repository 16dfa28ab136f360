package preflight

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/vmtest"
	"github.com/ima-hook/ima-hook/pkg/keys"
)

// oracleCase is one file both the preflight and the real kernel judge.
type oracleCase struct {
	rel   string // path under the rootfs, also the guest path
	owner int
	how   string // "exec" or "read"
}

// The oracle (docs/testing.md layer 3): Debian's 6.1 IMA kernel,
// booted under qemu with the same files, xattrs, owners, key and policy,
// executes and reads each file. Every file the preflight passes (or does
// not appraise) must run or be readable, every file it refuses must get
// EACCES, and it must be sure of all of them.
func TestOracleAgainstIMAKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM; skipped with -short")
	}
	if r := vmtest.Unavailable(); r != "" {
		t.Skip(r)
	}
	requireTool(t, "evmctl", "keyctl", "setfattr")
	dir := t.TempDir()
	requireXattrs(t, dir)
	root := filepath.Join(dir, "rootfs")
	key := newTestKey(t, dir, "key")
	other := newTestKey(t, dir, "other")
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("static busybox: %v (apt-get install busybox-static)", err)
	}

	var cases []oracleCase
	add := func(rel string, data []byte, mode os.FileMode, owner int, how string, set func(p string)) {
		p := writeFile(t, root, rel, data, mode, owner, 0)
		if set != nil {
			set(p)
		}
		cases = append(cases, oracleCase{rel, owner, how})
	}
	sign := func(k testKey) func(string) { return func(p string) { evmSign(t, k, p) } }
	hash := func(algo string) func(string) { return func(p string) { evmHash(t, p, algo) } }
	raw := func(v []byte) func(string) { return func(p string) { setXattr(t, p, v) } }
	changed := func(p string) {
		evmSign(t, key, p)
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte{0})
		f.Close()
	}
	script := []byte("#!/bin/busybox sh\nexit 0\n")
	// Executables owned by 1000: appraise func=BPRM_CHECK fowner=1000 appraise_type=imasig.
	add("opt/x/busybox-signed", bb, 0o755, 1000, "exec", sign(key))
	add("opt/x/busybox-unsigned", bb, 0o755, 1000, "exec", nil)
	add("opt/x/busybox-changed", bb, 0o755, 1000, "exec", changed)
	add("opt/x/busybox-hashonly", bb, 0o755, 1000, "exec", hash("sha256"))
	add("opt/x/busybox-otherkey", bb, 0o755, 1000, "exec", sign(other))
	add("opt/x/busybox-badsig", bb, 0o755, 1000, "exec", raw(append([]byte{0x03, 0x02, 0x04, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x10}, make([]byte, 8)...)))
	add("opt/x/script-signed", script, 0o755, 1000, "exec", sign(key))
	add("opt/x/script-unsigned", script, 0o755, 1000, "exec", nil)
	add("opt/x/busybox-owner1002", bb, 0o755, 1002, "exec", nil)
	// Data owned by 1001: appraise func=FILE_CHECK mask=MAY_READ fowner=1001 (hashes allowed).
	data := []byte("preflight oracle data\n")
	add("opt/r/hash-sha256", data, 0o644, 1001, "read", hash("sha256"))
	add("opt/r/hash-sha1", data, 0o644, 1001, "read", hash("sha1"))
	add("opt/r/signed", data, 0o644, 1001, "read", sign(key))
	add("opt/r/none", data, 0o644, 1001, "read", nil)
	add("opt/r/wrong", data, 0o644, 1001, "read", func(p string) {
		evmHash(t, p, "sha256")
		os.WriteFile(p, []byte("changed data\n"), 0o644)
	})
	add("opt/r/evm-hmac", data, 0o644, 1001, "read", raw(append([]byte{0x02}, make([]byte, 20)...)))
	add("opt/r/malformed", data, 0o644, 1001, "read", raw([]byte{0x04, 0x04, 0xaa, 0xbb}))
	add("opt/r/owner1002", data, 0o644, 1002, "read", nil)
	// appraise_algos: appraise func=FILE_CHECK mask=MAY_READ fowner=1004 appraise_algos=sha512.
	add("opt/a/sha256", data, 0o644, 1004, "read", hash("sha256"))
	add("opt/a/sha512", data, 0o644, 1004, "read", hash("sha512"))

	// A dynamic program whose library comes from LD_LIBRARY_PATH:
	// appraise func=MMAP_CHECK fowner=1005 appraise_type=imasig.
	keyctl, err := exec.LookPath("keyctl")
	if err != nil {
		t.Skip(err)
	}
	keyctl, _ = filepath.EvalSymlinks(keyctl)
	libs, _ := lddLibs(t, keyctl)
	var libkeyutils string
	for _, l := range libs {
		if strings.HasPrefix(filepath.Base(l), "libkeyutils.so") {
			libkeyutils = l
		}
		copyWithParents(t, root, l)
	}
	copyWithParents(t, root, "/lib64/ld-linux-x86-64.so.2")
	if libkeyutils == "" {
		t.Skip("keyctl does not use libkeyutils here")
	}
	kb, _ := os.ReadFile(keyctl)
	lb, _ := os.ReadFile(libkeyutils)
	writeFile(t, root, "opt/dyn/keyctl", kb, 0o755, 0, 0)
	evmSign(t, key, writeFile(t, root, "opt/dyn/lib-signed/libkeyutils.so.1", lb, 0o755, 1005, 0))
	writeFile(t, root, "opt/dyn/lib-unsigned/libkeyutils.so.1", lb, 0o755, 1005, 0)
	evmSign(t, other, writeFile(t, root, "opt/dyn/lib-otherkey/libkeyutils.so.1", lb, 0o755, 1005, 0))
	dynDirs := []string{"lib-signed", "lib-unsigned", "lib-otherkey"}

	policyText := "appraise func=BPRM_CHECK fowner=1000 appraise_type=imasig\n" +
		"appraise func=FILE_CHECK mask=MAY_READ fowner=1001\n" +
		"appraise func=FILE_CHECK mask=MAY_READ fowner=1004 appraise_algos=sha512\n" +
		"appraise func=MMAP_CHECK fowner=1005 appraise_type=imasig\n"
	r := rules(t, "", policyText)
	opt := Options{Rootfs: root, Rules: r, Certs: []*keys.Certificate{key.cert}, FSMagic: MagicTmpfs}

	// The preflight's predictions.
	rep := runPreflight(t, opt)
	predicted := map[string]Verdict{}
	for _, c := range cases {
		f := fileResult(t, rep.Files, "/"+c.rel)
		predicted[c.rel] = f.Verdict
		t.Logf("preflight %-28s %-13s %s", c.rel, f.Verdict, f.Reason)
	}
	for _, d := range dynDirs {
		spec := &specs.Spec{Process: &specs.Process{Args: []string{"/opt/dyn/keyctl"}, Cwd: "/",
			Env: []string{"PATH=/bin", "LD_LIBRARY_PATH=/opt/dyn/" + d}}}
		o := opt
		o.Spec, o.SkipWalk = spec, true
		rep := runPreflight(t, o)
		v := Pass
		if len(rep.Blocking) > 0 {
			v = Refused
		}
		var lib FileResult
		for _, f := range rep.Entrypoint {
			if f.Role == RoleLibrary && strings.Contains(f.Path, "libkeyutils") {
				lib = f
			}
			if f.Verdict == Undecidable {
				t.Errorf("chain with %s: %s undecidable: %s", d, f.Path, f.Reason)
			}
		}
		if lib.Path != "/opt/dyn/"+d+"/libkeyutils.so.1" {
			t.Errorf("chain with LD_LIBRARY_PATH=/opt/dyn/%s found %q", d, lib.Path)
		}
		predicted["dyn:"+d] = v
		t.Logf("preflight chain %-18s %-13s %s", d, v, rep.Summary(3))
	}

	// The kernel's verdicts.
	var files []vmtest.File
	for _, c := range cases {
		p := filepath.Join(root, c.rel)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		f := vmtest.File{Path: "/" + c.rel, Data: b, Mode: st.Mode().Perm()}
		if x, err := keys.ReadIMAXattr(p); err == nil {
			f.Xattrs = map[string][]byte{keys.XattrName: x}
		}
		files = append(files, f)
	}
	files = append(files, vmtest.File{Path: "/opt/dyn/keyctl", Data: kb, Mode: 0o755}, vmtest.File{Path: "/etc/ima.der", Data: key.der})
	for _, d := range dynDirs {
		p := filepath.Join(root, "opt/dyn", d, "libkeyutils.so.1")
		f := vmtest.File{Path: "/opt/dyn/" + d + "/libkeyutils.so.1", Data: lb, Mode: 0o755}
		if x, err := keys.ReadIMAXattr(p); err == nil {
			f.Xattrs = map[string][]byte{keys.XattrName: x}
		}
		files = append(files, f)
	}
	var chowns strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&chowns, "chown %d /%s\n", c.owner, c.rel)
	}
	for _, d := range dynDirs {
		fmt.Fprintf(&chowns, "chown 1005 /opt/dyn/%s/libkeyutils.so.1\n", d)
	}
	var writes []string
	for _, l := range strings.Split(strings.TrimSpace(policyText), "\n") {
		writes = append(writes, fmt.Sprintf("printf '%%s\\n' '%s'", l))
	}
	guest := chowns.String() + `
ring=$(keyctl newring _ima @u) && keyctl padd asymmetric "" "$ring" < /etc/ima.der >/dev/null || echo "KEY-FAILED" >> /tmp/out
{ ` + strings.Join(writes, " && ") + `; } > /sys/kernel/security/ima/policy || echo "POLICY-FAILED" >> /tmp/out
for f in /opt/x/*; do
	"$f" true >/dev/null 2>&1
	echo "${f#/} exec $?" >> /tmp/out
done
for f in /opt/r/* /opt/a/*; do
	if cat "$f" >/dev/null 2>/tmp/err; then echo "${f#/} read ok" >> /tmp/out
	else echo "${f#/} read $(tr ' ' _ < /tmp/err)" >> /tmp/out; fi
done
for d in ` + strings.Join(dynDirs, " ") + `; do
	LD_LIBRARY_PATH=/opt/dyn/$d /opt/dyn/keyctl --version >/dev/null 2>/tmp/err
	echo "dyn:$d exec $? $(tr ' ' _ < /tmp/err)" >> /tmp/out
done
export_file /tmp/out outcome
`
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// sha512 is a module on Debian: without it the kernel refuses the
	// sha512 security.ima (unavailable-hash-algorithm) and the rule.
	res, err := vmtest.Run(ctx, vmtest.Options{Files: files, Script: guest, HostTools: []string{"keyctl"},
		Modules: []string{"sha512_generic"}, Timeout: 12 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Files["outcome"])
	if strings.Contains(out, "FAILED") {
		t.Fatalf("guest setup failed:\n%s\nconsole:\n%s", out, res.Console)
	}
	kernel := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		kernel[f[0]] = strings.Join(f[2:], " ")
	}
	var names []string
	for n := range predicted {
		names = append(names, n)
	}
	sort.Strings(names)
	agree := 0
	for _, n := range names {
		got, ok := kernel[n]
		if !ok {
			t.Errorf("%s: no kernel verdict in:\n%s", n, out)
			continue
		}
		ran := got == "ok" || got == "0" || strings.HasPrefix(got, "0 ")
		eacces := strings.HasPrefix(got, "126") || strings.Contains(got, "Permission_denied") ||
			(strings.HasPrefix(n, "dyn:") && !ran && strings.Contains(got, "failed_to_map_segment"))
		switch predicted[n] {
		case Pass, NotAppraised:
			if !ran {
				t.Errorf("%s: preflight says %s, the kernel refused it (%s)", n, predicted[n], got)
				continue
			}
		case Refused:
			if !eacces {
				t.Errorf("%s: preflight says refused, the kernel gave %s", n, got)
				continue
			}
		default:
			t.Errorf("%s: preflight is not sure (%s) where the kernel is (%s)", n, predicted[n], got)
			continue
		}
		agree++
		t.Logf("kernel    %-28s %s (preflight %s)", n, got, predicted[n])
	}
	t.Logf("%d of %d verdicts agree with the kernel (boot %s)", agree, len(names), res.Elapsed.Round(time.Second))
}
