//go:build linux && !imaemu

package ns

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/kconfig"
	"github.com/ima-hook/ima-hook/pkg/keys"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/policy"
)

// DefaultSecurityFS is where the kernel's IMA securityfs files live.
const DefaultSecurityFS = "/sys/kernel/security/ima"

// linuxKernel is the real kernel: what ships.
type linuxKernel struct {
	secfs string // IMA securityfs directory
	proc  string // procfs mount, "/proc"
}

var _ Kernel = (*linuxKernel)(nil)

func newLinux() *linuxKernel { return &linuxKernel{secfs: DefaultSecurityFS, proc: "/proc"} }

// Default returns the kernel of this build: the real one.
func Default() Kernel { return newLinux() }

func (k *linuxKernel) Probe() Features {
	f := Features{Kernel: "linux", SecurityFSDir: k.secfs}
	f.SecurityFSMounted = isSecurityFS(filepath.Dir(k.secfs))
	f.IMA = exists(k.secfs)
	f.Namespaces = exists(filepath.Join(k.proc, "self/ns/ima"))
	f.KcmdForChildren = exists(filepath.Join(k.secfs, "kcmd_for_children"))
	f.X509ForChildren = exists(filepath.Join(k.secfs, "x509_for_children"))
	if st, err := os.Stat(filepath.Join(k.secfs, "policy")); err == nil {
		f.PolicyFile = true
		f.PolicyWritable = st.Mode().Perm()&0o200 != 0
	}
	f.ImaKeyring = keys.Keyrings{}.AppraisalKeyring()
	f.Template = firstTemplate(filepath.Join(k.secfs, "ascii_runtime_measurements"))
	f.SecureBoot = policy.PlatformSecureBoot()
	if c, err := kconfig.Read(KernelConfigPaths()); err == nil {
		f.KernelConfig = c
	} else {
		f.KernelConfigError = err.Error()
	}
	return f
}

func (k *linuxKernel) NamespaceOf(pid int) (imansid.ID, error) {
	return readNSLink(filepath.Join(k.proc, fmt.Sprint(pid), "ns/ima"))
}

func (k *linuxKernel) OpenMeasurements(binary bool) (io.ReadCloser, error) {
	name := "ascii_runtime_measurements"
	if binary {
		name = "binary_runtime_measurements"
	}
	return os.Open(filepath.Join(k.secfs, name))
}

func readNSLink(path string) (imansid.ID, error) {
	target, err := os.Readlink(path)
	if err != nil {
		return 0, err
	}
	return imansid.ParseLink("ima", target)
}

func isSecurityFS(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type == unix.SECURITYFS_MAGIC
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
