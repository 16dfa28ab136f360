package vmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
)

// DefaultCacheDir is where the Debian kernel is unpacked when
// $IMA_HOOK_VM_CACHE is not set.
const DefaultCacheDir = "/var/cache/ima-hook-vm"

// metaPackage is resolved with apt-cache to the versioned image package
// (linux-image-6.1.0-N-amd64) so that a Debian point release that bumps the
// ABI number is followed without editing this file.
const metaPackage = "linux-image-amd64"

// CacheDir returns $IMA_HOOK_VM_CACHE or DefaultCacheDir.
func CacheDir() string {
	if d := os.Getenv("IMA_HOOK_VM_CACHE"); d != "" {
		return d
	}
	return DefaultCacheDir
}

var imagePkgRE = regexp.MustCompile(`^linux-image-6\.1\.0-[0-9]+-amd64$`)

var kernelOnce struct {
	sync.Mutex
	vmlinuz, config, modules string
}

// Kernel makes sure Debian's linux-image-6.1.0-*-amd64 is unpacked in
// CacheDir (apt-get download + dpkg-deb, never installed) and returns the
// vmlinuz and kernel config paths. It is safe to call from several test
// processes at once: a flock on CacheDir/.lock serialises the download.
func Kernel() (vmlinuz, config string, err error) {
	v, c, _, err := kernelTree()
	return v, c, err
}

// kernelTree also returns the unpacked lib/modules/<release> directory.
func kernelTree() (vmlinuz, config, modules string, err error) {
	kernelOnce.Lock()
	defer kernelOnce.Unlock()
	if kernelOnce.vmlinuz != "" {
		return kernelOnce.vmlinuz, kernelOnce.config, kernelOnce.modules, nil
	}
	dir := CacheDir()
	if v, c, m, ok := findUnpacked(dir); ok {
		kernelOnce.vmlinuz, kernelOnce.config, kernelOnce.modules = v, c, m
		return v, c, m, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", "", fmt.Errorf("vmtest: kernel cache %s: %w", dir, err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return "", "", "", err
	}
	defer unlock()
	// Another process may have finished while we waited for the lock.
	if v, c, m, ok := findUnpacked(dir); !ok {
		if err := fetchKernel(dir); err != nil {
			return "", "", "", err
		}
	} else {
		kernelOnce.vmlinuz, kernelOnce.config, kernelOnce.modules = v, c, m
		return v, c, m, nil
	}
	v, c, m, ok := findUnpacked(dir)
	if !ok {
		return "", "", "", fmt.Errorf("vmtest: kernel unpacked into %s but no boot/vmlinuz-* found", dir)
	}
	kernelOnce.vmlinuz, kernelOnce.config, kernelOnce.modules = v, c, m
	return v, c, m, nil
}

// findUnpacked looks for DIR/linux-image-6.1.0-*-amd64/boot/vmlinuz-*;
// when several ABI versions are cached the newest (lexically last) wins.
func findUnpacked(dir string) (vmlinuz, config, modules string, ok bool) {
	matches, _ := filepath.Glob(filepath.Join(dir, "linux-image-6.1.0-*-amd64", "boot", "vmlinuz-*"))
	if len(matches) == 0 {
		return "", "", "", false
	}
	v := matches[len(matches)-1]
	release := strings.TrimPrefix(filepath.Base(v), "vmlinuz-")
	root := filepath.Dir(filepath.Dir(v))
	c := filepath.Join(root, "boot", "config-"+release)
	if _, err := os.Stat(c); err != nil {
		return "", "", "", false
	}
	return v, c, filepath.Join(root, "lib", "modules", release), true
}

func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("vmtest: lock kernel cache: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("vmtest: lock kernel cache: %w", err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// ImagePackage names the versioned kernel package: $IMA_HOOK_VM_KERNEL_PKG
// or the dependency of linux-image-amd64 as apt-cache reports it.
func ImagePackage() (string, error) {
	if p := os.Getenv("IMA_HOOK_VM_KERNEL_PKG"); p != "" {
		if !imagePkgRE.MatchString(p) {
			return "", fmt.Errorf("vmtest: IMA_HOOK_VM_KERNEL_PKG=%q is not linux-image-6.1.0-N-amd64", p)
		}
		return p, nil
	}
	out, err := exec.Command("apt-cache", "depends", metaPackage).Output()
	if err != nil {
		return "", fmt.Errorf("vmtest: apt-cache depends %s: %v (run apt-get update)", metaPackage, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "Depends:" && imagePkgRE.MatchString(f[1]) {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("vmtest: apt-cache depends %s names no linux-image-6.1.0-N-amd64 (run apt-get update)", metaPackage)
}

// fetchKernel downloads the image package into a temporary directory inside
// dir, unpacks /boot and the module subtrees a disk or filesystem test can
// need, and renames the result into place so that a half-done unpack is
// never seen by findUnpacked.
func fetchKernel(dir string) error {
	pkg, err := ImagePackage()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".fetch-")
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	defer os.RemoveAll(tmp)
	dl := exec.Command("apt-get", "download", pkg)
	dl.Dir = tmp
	if out, err := dl.CombinedOutput(); err != nil {
		return fmt.Errorf("vmtest: apt-get download %s: %v: %s", pkg, err, lastLines(string(out), 3))
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, pkg+"_*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("vmtest: apt-get download %s left %d .deb files", pkg, len(debs))
	}
	root := filepath.Join(tmp, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	// Only /boot and the module trees that Options.Modules can ask for are
	// unpacked: the whole package is ~400 MB unpacked, this is ~60 MB.
	sh := `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards ` +
		`'./boot/*' './lib/modules/*/kernel/fs/*' './lib/modules/*/kernel/drivers/block/*' ` +
		`'./lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/lib/*' ` +
		`'./lib/modules/*/kernel/crypto/*' ` +
		`'./lib/modules/*/kernel/net/9p/*' './lib/modules/*/modules.*'`
	x := exec.Command("sh", "-c", sh, "sh", debs[0], root)
	if out, err := x.CombinedOutput(); err != nil {
		return fmt.Errorf("vmtest: unpack %s: %v: %s", filepath.Base(debs[0]), err, lastLines(string(out), 3))
	}
	final := filepath.Join(dir, pkg)
	if err := os.RemoveAll(final); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	if err := os.Rename(root, final); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
