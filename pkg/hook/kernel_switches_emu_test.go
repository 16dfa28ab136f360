//go:build imaemu

package hook

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ima-hook/ima-hook/internal/testca"
	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/emukernel"
)

// The hook on emulated kernels of each kind (issue 11 items 1 and 4): it is
// correct, or refuses in one line that names the kernel option and the fix.

// makeCert writes a DER certificate with key id skidTail into the keys
// dir; signed by ca (nil: by the test CA every emulated kernel of these
// tests trusts, or self-signed when isCA). It returns the path and the
// DER.
func makeCert(t *testing.T, dir, name string, skidTail uint32, ca *x509.Certificate, caKey *ecdsa.PrivateKey, isCA bool) (string, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	if ca == nil && !isCA {
		c := testCA(t)
		ca, caKey = c.tmpl, c.key
	}
	return makeCertSigned(t, dir, name, skidTail, ca, caKey, isCA)
}

// makeSelfSignedCert is a certificate no trusted key signed: a kernel with
// CONFIG_IMA_TRUSTED_KEYRING drops it.
func makeSelfSignedCert(t *testing.T, dir, name string, skidTail uint32) string {
	t.Helper()
	path, _, _ := makeCertSigned(t, dir, name, skidTail, nil, nil, false)
	return path
}

type testCert struct {
	tmpl *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

// testCA is the CA whose certificate setupSwitches puts into the emulated
// kernel's .builtin_trusted_keys: a kernel that loads x509_for_children
// has CONFIG_IMA_TRUSTED_KEYRING (Kconfig), so test keys are CA-signed.
func testCA(t *testing.T) testCert {
	t.Helper()
	c := testca.Get(t)
	return testCert{c.Template, c.Key, c.DER}
}

func makeCertSigned(t *testing.T, dir, name string, skidTail uint32, ca *x509.Certificate, caKey *ecdsa.PrivateKey, isCA bool) (string, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	skid := []byte{0xaa, 0xbb, byte(skidTail >> 24), byte(skidTail >> 16), byte(skidTail >> 8), byte(skidTail)}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(skidTail)), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), SubjectKeyId: skid,
		BasicConstraintsValid: isCA, IsCA: isCA, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	parent, signer := tmpl, priv
	if ca != nil {
		parent, signer = ca, caKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &priv.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".der")
	if err := os.WriteFile(path, der, 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return path, c, priv
}

// wrapperContainer creates a namespace as the wrapper does, with kcmd and
// x509_for_children, and starts its first process.
func (e *env) wrapperContainer(id, kcmd, x509Path string) int {
	e.t.Helper()
	nsid, err := e.emu.Unshare(os.Getpid())
	if err != nil {
		e.t.Fatal(err)
	}
	if kcmd != "" {
		if err := e.emu.WriteForChildren(os.Getpid(), "kcmd_for_children", []byte(kcmd)); err != nil {
			e.t.Fatal(err)
		}
	}
	if x509Path != "" {
		// As the wrapper does: a private copy of the validated bytes.
		der, err := os.ReadFile(x509Path)
		if err != nil {
			e.t.Fatal(err)
		}
		copyPath := e.hook.Store.X509CopyPath(id)
		if err := e.hook.Store.WritePrivateCopy(copyPath, der); err != nil {
			e.t.Fatal(err)
		}
		if err := e.emu.WriteForChildren(os.Getpid(), "x509_for_children", []byte(copyPath)); err != nil {
			e.t.Fatal(err)
		}
	}
	p := e.hook.Store.PendingNSPath(id)
	os.MkdirAll(filepath.Dir(p), 0o700)
	os.WriteFile(p, []byte(strconv.FormatUint(uint64(nsid), 10)), 0o600)
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, _, err := e.emu.TaskNamespaces(cmd.Process.Pid); err != nil {
		e.t.Fatal(err)
	}
	// The test process stands for the wrapper: back to plain host state so
	// the next container gets a namespace of its own.
	if err := e.emu.Setns(os.Getpid(), emukernel.InitialNS, true); err != nil {
		e.t.Fatal(err)
	}
	return cmd.Process.Pid
}

func wantRefusal(t *testing.T, err error, subject string, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("the container was not refused")
	}
	line := userror.Line(err)
	if !strings.HasPrefix(line, "ima-hook: "+subject+": ") || strings.Count(line, "\n") > 0 || !strings.Contains(line, "; ") {
		t.Fatalf("not one line naming %s: %q", subject, line)
	}
	for _, w := range words {
		if !strings.Contains(line, w) {
			t.Fatalf("refusal does not say %q: %s", w, line)
		}
	}
}

func x509Ann(path string) map[string]string {
	return map[string]string{config.AnnEnable: "true", config.AnnX509: path,
		config.AnnPolicyRules: "measure func=BPRM_CHECK mask=MAY_EXEC"}
}

// Kernel with and without CONFIG_IMA_LOAD_X509 (switch load_x509), config
// readable or not: the key given at creation is looked for in the
// namespace's keyring; a missing one refuses the container.
func TestX509ProvenPresent(t *testing.T) {
	for _, tc := range []struct {
		name, switches string
		ok             bool
		words          []string
	}{
		{"load_x509", `{}`, true, nil},
		{"no load_x509", `{"load_x509": false}`, false, []string{"CONFIG_IMA_LOAD_X509", "boot a kernel built with CONFIG_IMA_LOAD_X509=y"}},
		{"no load_x509, config unreadable", `{"load_x509": false, "kernel_config_readable": false}`, false,
			[]string{"CONFIG_IMA_LOAD_X509", "trusted", "not readable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setupSwitches(t, tc.switches)
			cert, c, _ := makeCert(t, e.admin.KeysDir, "tenant", 0x11223344, nil, nil, false)
			_ = c
			pid := e.wrapperContainer("x1", "", cert)
			err := e.hook.CreateRuntime(state("x1", pid, x509Ann(cert)))
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				rec, _ := e.hook.Store.ReadLive("x1")
				if rec.Result != "applied" || rec.KeyID != "11223344" {
					t.Fatalf("record %+v", rec)
				}
				return
			}
			wantRefusal(t, err, config.AnnX509, append([]string{"11223344"}, tc.words...)...)
		})
	}
}

// CONFIG_IMA_TRUSTED_KEYRING (switch trusted_keyring_requires_ca): a
// self-signed certificate is dropped at activation and the container
// refused naming the trusted keyring; one signed by a built-in trusted key
// is loaded and the container starts.
func TestX509TrustedKeyring(t *testing.T) {
	e := setupSwitches(t, `{"trusted_keyring_requires_ca": true}`)
	caDir := filepath.Join(e.emu.Dir(), emukernel.BuiltinTrustedKeysDir)
	os.MkdirAll(caDir, 0o700)
	_, ca, caKey := makeCert(t, caDir, "ca", 0xca000001, nil, nil, true)

	self := makeSelfSignedCert(t, e.admin.KeysDir, "self", 0x55667788)
	pid := e.wrapperContainer("t1", "", self)
	wantRefusal(t, e.hook.CreateRuntime(state("t1", pid, x509Ann(self))), config.AnnX509,
		"55667788", "CONFIG_IMA_TRUSTED_KEYRING", "sign the certificate with a CA")

	signed, _, _ := makeCert(t, e.admin.KeysDir, "signed", 0x99aabbcc, ca, caKey, false)
	pid = e.wrapperContainer("t2", "", signed)
	if err := e.hook.CreateRuntime(state("t2", pid, x509Ann(signed))); err != nil {
		t.Fatalf("CA-signed certificate: %v", err)
	}
}

// CONFIG_IMA_READ_POLICY without CONFIG_IMA_WRITE_POLICY: with the config
// readable the hook refuses up front, naming the option; without it, the
// first container gets its policy and the next one is refused because the
// policy file lost its owner-write bit (or, with neither option, is gone),
// naming the option.
func TestReadPolicyWithoutWritePolicy(t *testing.T) {
	ann := map[string]string{config.AnnEnable: "true", config.AnnPolicyRules: "measure func=BPRM_CHECK mask=MAY_EXEC"}
	e := setupSwitches(t, `{"write_policy": false, "read_policy": true}`)
	pid := e.container("p1", "", true)
	wantRefusal(t, e.hook.CreateRuntime(state("p1", pid, ann)), "kernel",
		"CONFIG_IMA_READ_POLICY without CONFIG_IMA_WRITE_POLICY", "CONFIG_IMA_WRITE_POLICY=y")

	e = setupSwitches(t, `{"write_policy": false, "read_policy": true, "kernel_config_readable": false}`)
	old := ns.PolicyBusyWait
	ns.PolicyBusyWait = 300 * time.Millisecond
	t.Cleanup(func() { ns.PolicyBusyWait = old })
	t.Setenv(ns.EmuPolicyBusyWaitEnv, "300ms") // the re-executed populate stage
	pid = e.container("p2", "", true)
	e.emu.Setns(os.Getpid(), emukernel.InitialNS, true)
	if err := e.hook.CreateRuntime(state("p2", pid, ann)); err != nil {
		t.Fatalf("first load: %v", err)
	}
	// The policy file lost its owner-write bit: seen without the config.
	pid = e.container("p3", "", true)
	wantRefusal(t, e.hook.CreateRuntime(state("p3", pid, ann)), "kernel",
		"owner-write", "CONFIG_IMA_READ_POLICY without CONFIG_IMA_WRITE_POLICY", "CONFIG_IMA_WRITE_POLICY=y")

	// Neither option, config unreadable: the file is gone after the first load.
	e = setupSwitches(t, `{"write_policy": false, "read_policy": false, "kernel_config_readable": false}`)
	pid = e.container("p4", "", true)
	e.emu.Setns(os.Getpid(), emukernel.InitialNS, true)
	if err := e.hook.CreateRuntime(state("p4", pid, ann)); err != nil {
		t.Fatalf("first load: %v", err)
	}
	pid = e.container("p5", "", true)
	wantRefusal(t, e.hook.CreateRuntime(state("p5", pid, ann)), "kernel", "policy file is gone", "CONFIG_IMA_WRITE_POLICY=y")
}

// Issue 15.4: the key file is replaced (a rotation by rename) after the
// wrapper handed the kernel its private copy: the namespace has the key
// that was checked, and the hook, whose own check now reads another
// certificate, refuses in one line instead of recording a key the kernel
// never loaded. The copy is gone afterwards.
func TestKeyRotatedWhileCreated(t *testing.T) {
	e := setupSwitches(t, `{}`)
	cert, _, _ := makeCert(t, e.admin.KeysDir, "tenant", 0x0a0b0c0d, nil, nil, false)
	next, _, _ := makeCert(t, e.admin.KeysDir, "next", 0x01020304, nil, nil, false)
	pid := e.wrapperContainer("r1", "", cert)
	if err := os.Rename(next, cert); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, e.hook.CreateRuntime(state("r1", pid, x509Ann(cert))), config.AnnX509, "changed while the container was being created")
	ids, _ := e.emu.KeyIDs(pid)
	if len(ids) != 1 || ids[0] != 0x0a0b0c0d {
		t.Fatalf("namespace keys %x, want the checked key 0a0b0c0d", ids)
	}
	if _, err := os.Lstat(e.hook.Store.X509CopyPath("r1")); !os.IsNotExist(err) {
		t.Fatalf("private copy left behind: %v", err)
	}
}

// Issue 15.4: a namespace that appraises its policy (ima_policy=secure_boot
// at creation) is handed a policy file path; the kernel reads the file
// after the hook checked it. The file is swapped for a symlink to other
// rules in that window: the kernel reads the hook's private copy of the
// checked bytes, so the rules in force and the record agree, and the copy
// is removed.
func TestPolicyFileSwappedBeforeTheKernelReadsIt(t *testing.T) {
	e := setupSwitches(t, `{}`)
	pol := filepath.Join(e.admin.PoliciesDir, "signed.policy")
	checked := "measure func=BPRM_CHECK mask=MAY_EXEC\n"
	if err := os.WriteFile(pol, []byte(checked), 0o644); err != nil {
		t.Fatal(err)
	}
	evil := filepath.Join(t.TempDir(), "evil.policy")
	os.WriteFile(evil, []byte("dont_measure func=BPRM_CHECK\n"), 0o644)
	pid := e.container("s1", "ima_policy=secure_boot", true)
	beforePopulate = func() {
		os.Remove(pol)
		if err := os.Symlink(evil, pol); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { beforePopulate = func() {} })
	err := e.hook.CreateRuntime(state("s1", pid, map[string]string{config.AnnEnable: "true",
		config.AnnKcmd: "ima_policy=secure_boot", config.AnnPolicy: pol}))
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := e.emu.Rules(pid)
	joined := strings.Join(rules, "\n")
	if !strings.Contains(joined, "measure func=BPRM_CHECK mask=MAY_EXEC") || strings.Contains(joined, "dont_measure") {
		t.Fatalf("rules in force %q: the kernel did not load the checked policy", rules)
	}
	rec, _ := e.hook.Store.ReadLive("s1")
	if sum := sha256.Sum256([]byte(checked)); rec.PolicySHA != hex.EncodeToString(sum[:]) {
		t.Fatalf("record policy sha %s", rec.PolicySHA)
	}
	if _, err := os.Lstat(e.hook.Store.PolicyCopyPath("s1")); !os.IsNotExist(err) {
		t.Fatalf("private copy left behind: %v", err)
	}
}

// A namespace whose certificate the kernel could not load (here: the file
// was gone when the first fork activated it, ima_ns_load_x509 only logs)
// while another namespace holds the same certificate. Where the keyring
// listing shows every namespace's keys (switch keyring_shared), the other
// container's key must not count for this one: the hook adds the key from
// inside the namespace (add_key tags it with this namespace's key domain)
// and the namespace ends up with its own key. Where the listing shows only
// the namespace's own keys, the key is missing and the container refused.
func TestOtherNamespacesKeyDoesNotCount(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("keyring_shared=%v", shared), func(t *testing.T) {
			e := setupSwitches(t, fmt.Sprintf(`{"keyring_shared": %v}`, shared))
			cert, _, _ := makeCert(t, e.admin.KeysDir, "tenant", 0x0c0ffee0, nil, nil, false)
			first := e.wrapperContainer("k1", "", cert)
			if err := e.hook.CreateRuntime(state("k1", first, x509Ann(cert))); err != nil {
				t.Fatal(err)
			}
			// As wrapperContainer, with the private copy gone at activation.
			der, _ := os.ReadFile(cert)
			nsid, err := e.emu.Unshare(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			copyPath := e.hook.Store.X509CopyPath("k2")
			if err := e.emu.WriteForChildren(os.Getpid(), "x509_for_children", []byte(copyPath)); err != nil {
				t.Fatal(err)
			}
			p := e.hook.Store.PendingNSPath("k2")
			os.WriteFile(p, []byte(strconv.FormatUint(uint64(nsid), 10)), 0o600)
			cmd := exec.Command("sleep", "300")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			e.emu.TaskNamespaces(cmd.Process.Pid)
			e.emu.Setns(os.Getpid(), emukernel.InitialNS, true)
			if err := e.hook.Store.WritePrivateCopy(copyPath, der); err != nil { // what the hook compares with
				t.Fatal(err)
			}
			err = e.hook.CreateRuntime(state("k2", cmd.Process.Pid, x509Ann(cert)))
			own := func() []uint32 {
				infos, _ := e.emu.Namespaces()
				for _, in := range infos {
					if in.ID == nsid {
						return in.KeyIDs
					}
				}
				return nil
			}
			if shared {
				if err != nil {
					t.Fatalf("the hook could have added the key: %v", err)
				}
				if ids := own(); len(ids) != 1 || ids[0] != 0x0c0ffee0 {
					t.Fatalf("started with namespace keys %x: the other container's key was taken for this one's", ids)
				}
				return
			}
			wantRefusal(t, err, config.AnnX509, "0c0ffee0", "not in the namespace's keyring")
		})
	}
}
