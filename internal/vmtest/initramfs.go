package vmtest

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// staticBusybox finds a statically linked busybox (package busybox-static):
// the initramfs carries no libc, so a dynamic one would not start.
func staticBusybox() (string, error) {
	cands := []string{"/bin/busybox", "/usr/bin/busybox"}
	if p, err := exec.LookPath("busybox"); err == nil {
		cands = append([]string{p}, cands...)
	}
	for _, p := range cands {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		dynamic := false
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				dynamic = true
			}
		}
		f.Close()
		if !dynamic {
			return p, nil
		}
	}
	return "", fmt.Errorf("no statically linked busybox (apt-get install busybox-static)")
}

// buildInitramfs stages the guest tree in root and packs it with
// `cpio -o -H newc` into out.
func buildInitramfs(out, root, modDir, token string, opt Options) error {
	bb, err := staticBusybox()
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "run", "etc", "root", "vmtest", "lib/modules"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
	}
	if err := copyFile(bb, filepath.Join(root, "bin/busybox"), 0o755); err != nil {
		return err
	}

	tools := append([]string(nil), opt.HostTools...)
	needXattr := false
	for _, f := range opt.Files {
		if len(f.Xattrs) > 0 {
			needXattr = true
		}
	}
	if needXattr {
		tools = append(tools, "setfattr")
	}
	if err := copyHostTools(root, tools); err != nil {
		return err
	}

	var insmods []string
	if len(opt.Modules) > 0 {
		insmods, err = resolveModules(modDir, opt.Modules)
		if err != nil {
			return err
		}
		for i, p := range insmods {
			dst := path.Join("/lib/modules", filepath.Base(p))
			if err := copyFile(p, filepath.Join(root, dst), 0o644); err != nil {
				return err
			}
			insmods[i] = dst
		}
	}

	var setx strings.Builder
	for _, f := range opt.Files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return fmt.Errorf("vmtest: file path %q must be absolute and clean", f.Path)
		}
		if strings.HasPrefix(f.Path, "/vmtest/") || f.Path == "/init" {
			return fmt.Errorf("vmtest: file path %q is reserved for the harness", f.Path)
		}
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		dst := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
		if err := os.WriteFile(dst, f.Data, mode); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
		if err := os.Chmod(dst, mode); err != nil { // umask
			return fmt.Errorf("vmtest: %w", err)
		}
		names := make([]string, 0, len(f.Xattrs))
		for n := range f.Xattrs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if !xattrNameRE.MatchString(n) {
				return fmt.Errorf("vmtest: %s: bad xattr name %q", f.Path, n)
			}
			fmt.Fprintf(&setx, "setfattr -n %s -v 0x%s %s || vmtest_fail 'setfattr %s on %s'\n",
				n, hex.EncodeToString(f.Xattrs[n]), shQuote(f.Path), n, f.Path)
		}
	}

	var ins strings.Builder
	for _, m := range insmods {
		fmt.Fprintf(&ins, "insmod %s || vmtest_fail 'insmod %s'\n", m, m)
	}
	init := strings.NewReplacer(
		"@TOKEN@", token,
		"@INSMOD@", ins.String(),
		"@SETXATTR@", setx.String(),
	).Replace(initScript)
	if err := os.WriteFile(filepath.Join(root, "init"), []byte(init), 0o755); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	lib := strings.ReplaceAll(libScript, "@TOKEN@", token)
	if err := os.WriteFile(filepath.Join(root, "vmtest/lib.sh"), []byte(lib), 0o644); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, "vmtest/script.sh"), []byte(opt.Script+"\n"), 0o644); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}

	// cpio reads the member list from stdin; -0 with find -print0 keeps odd
	// names intact. --owner root keeps the guest tree root-owned whoever
	// runs the test.
	cmd := exec.Command("sh", "-c", `cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --quiet -o -0 -H newc --owner 0:0 > "$2"`, "sh", root, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("vmtest: cpio: %v: %s", err, lastLines(string(b), 3))
	}
	return nil
}

var xattrNameRE = regexp.MustCompile(`^(security|user|trusted)\.[A-Za-z0-9_.-]{1,200}$`)

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	return os.Chmod(dst, mode)
}

// lddPathRE picks absolute library paths out of ldd output lines such as
// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and
// "/lib64/ld-linux-x86-64.so.2 (0x...)".
var lddPathRE = regexp.MustCompile(`(?m)(?:=>\s+|^\s+)(/[^\s]+)\s+\(0x`)

// copyHostTools copies each tool and the libraries ldd lists for it, at
// their host paths, so the dynamic loader finds them in the guest.
func copyHostTools(root string, tools []string) error {
	seen := map[string]bool{}
	for _, t := range tools {
		p := t
		if !filepath.IsAbs(p) {
			lp, err := exec.LookPath(t)
			if err != nil {
				return fmt.Errorf("vmtest: host tool %q not found in PATH", t)
			}
			p = lp
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("vmtest: host tool: %w", err)
		}
		if err := copyFile(p, filepath.Join(root, p), st.Mode().Perm()|0o555); err != nil {
			return err
		}
		out, err := exec.Command("ldd", p).Output()
		if err != nil {
			// "not a dynamic executable": static tools need nothing more.
			continue
		}
		for _, m := range lddPathRE.FindAllStringSubmatch(string(out), -1) {
			lib := m[1]
			if seen[lib] {
				continue
			}
			seen[lib] = true
			real, err := filepath.EvalSymlinks(lib)
			if err != nil {
				return fmt.Errorf("vmtest: %s needs %s: %w", p, lib, err)
			}
			if err := copyFile(real, filepath.Join(root, lib), 0o755); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolveModules maps module names to .ko paths under modDir, reading each
// module's "depends=" from its .modinfo ELF section (Debian's package ships
// no modules.dep: depmod runs at install time), and returns them in load
// order, dependencies first.
func resolveModules(modDir string, names []string) ([]string, error) {
	index := map[string]string{}
	err := filepath.WalkDir(modDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			index[modName(strings.TrimSuffix(d.Name(), ".ko"))] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vmtest: modules: %w", err)
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n string, depth int) error
	visit = func(n string, depth int) error {
		n = modName(n)
		switch state[n] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("vmtest: module dependency cycle at %s", n)
		}
		if depth > 64 {
			return fmt.Errorf("vmtest: module dependencies too deep at %s", n)
		}
		p, ok := index[n]
		if !ok {
			return fmt.Errorf("vmtest: module %s not in %s (built in, or outside the unpacked trees)", n, modDir)
		}
		state[n] = 1
		deps, err := moduleDepends(p)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, depth+1); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, p)
		return nil
	}
	for _, n := range names {
		if err := visit(n, 0); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func modName(s string) string { return strings.ReplaceAll(s, "-", "_") }

func moduleDepends(ko string) ([]string, error) {
	f, err := elf.Open(ko)
	if err != nil {
		return nil, fmt.Errorf("vmtest: %s: %w", ko, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, nil
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("vmtest: %s: .modinfo: %w", ko, err)
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}

// initScript is the guest's /init. Markers carry a per-run random token so
// that nothing the script prints can forge them.
const initScript = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t sysfs sysfs /sys
mount -t securityfs securityfs /sys/kernel/security
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
vmtest_fail() {
	echo "@@VMTEST:@TOKEN@:FAIL:$1@@"
	poweroff -f
}
@INSMOD@
@SETXATTR@
cd /
echo "@@VMTEST:@TOKEN@:START@@"
( . /vmtest/lib.sh; . /vmtest/script.sh ) </dev/null
echo "@@VMTEST:@TOKEN@:EXIT:$?@@"
poweroff -f
sleep 5
`

// libScript defines the helpers the script can call. mount_ext4 mounts an
// Ext4Image through the first free loop device. export_file lowers
// the console log level while it prints so kernel messages cannot split a
// base64 line, and reads the file exactly once.
const libScript = `mount_ext4() {
	if [ $# -ne 2 ] || [ ! -r "$1" ]; then
		echo "mount_ext4: usage: mount_ext4 IMAGE DIR (needs Options.Modules = vmtest.Ext4Modules)" >&2
		return 1
	fi
	mkdir -p "$2" && _vmtest_dev=$(losetup -f) && losetup "$_vmtest_dev" "$1" && mount -t ext4 "$_vmtest_dev" "$2"
}
export_file() {
	if [ $# -ne 2 ] || [ ! -r "$1" ]; then
		echo "export_file: usage: export_file READABLE-GUEST-PATH NAME ($*)" >&2
		return 1
	fi
	case "$2" in *[!A-Za-z0-9._-]*|"") echo "export_file: NAME must match [A-Za-z0-9._-]+" >&2; return 1;; esac
	_vmtest_lvl=$(cat /proc/sys/kernel/printk)
	echo 1 > /proc/sys/kernel/printk
	echo "@@VMTEST:@TOKEN@:BEGIN:$2@@"
	base64 "$1"
	_vmtest_rc=$?
	echo "@@VMTEST:@TOKEN@:END:$2:$_vmtest_rc@@"
	echo "$_vmtest_lvl" > /proc/sys/kernel/printk
	return $_vmtest_rc
}
`
