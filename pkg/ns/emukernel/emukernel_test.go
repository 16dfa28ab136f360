//go:build imaemu

package emukernel

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/internal/testca"
)

// Each test names the kernel function whose rule it mirrors and, on its
// Source line, what the rule was checked against: the openEuler
// security/integrity/ima/ima_ns.c, the 2020 RFC patch mails, or mainline
// 5.10 (docs/kernel-abi.md).
// Tasks are real processes: the test process and `sleep` children of it.

func newKernel(t *testing.T, sw Switches) *Kernel {
	t.Helper()
	dir := t.TempDir()
	// Every test kernel trusts the test CA (its .builtin_trusted_keys), as
	// a real kernel that loads x509_for_children trusts its vendor's key.
	if err := os.MkdirAll(filepath.Join(dir, BuiltinTrustedKeysDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, BuiltinTrustedKeysDir, "test-ca.der"), testCA(t).der, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := Open(dir, sw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type ca struct {
	tmpl *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

// testCA is the CA every test kernel trusts (made once per test binary).
func testCA(t *testing.T) ca {
	t.Helper()
	c := testca.Get(t)
	return ca{c.Template, c.Key, c.DER}
}

// child starts a process whose parent is the test process; it is born
// into the test process's ima_ns_for_children.
func child(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

func kill(t *testing.T, pid int) {
	t.Helper()
	p, _ := os.FindProcess(pid)
	_ = p.Kill()
	// Wait for it to disappear from /proc (it is reaped by Cleanup's Wait
	// or immediately if already waited).
	for i := 0; i < 200; i++ {
		if _, _, err := procStat(pid); err != nil {
			return
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if strings.Contains(string(b), ") Z ") {
			// zombie: reap through the cleanup path by waiting here
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, 0, nil)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("process %d did not exit", pid)
}

func wantErrno(t *testing.T, err error, errno unix.Errno) {
	t.Helper()
	if !errors.Is(err, errno) {
		t.Fatalf("got %v, want %v (%s)", err, errno, unix.ErrnoName(errno))
	}
}

func self() int { return os.Getpid() }

// copy_ima_ns / unshare_nsproxy_namespaces: unshare(CLONE_NEWIMA) makes a
// pending namespace for the caller's children only.
// Source: openEuler ima_ns.c copy_ima_ns; RFC 01/30.
func TestUnshareLeavesCallerInItsNamespace(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	id, err := k.Unshare(self())
	if err != nil {
		t.Fatal(err)
	}
	if id < firstDynamicIno {
		t.Fatalf("id %#x outside the dynamic inode range", id)
	}
	active, forChildren, err := k.TaskNamespaces(self())
	if err != nil {
		t.Fatal(err)
	}
	if active != InitialNS || forChildren != id {
		t.Fatalf("active %d for_children %d, want %d and %d", active, forChildren, InitialNS, id)
	}
	infos, _ := k.Namespaces()
	if len(infos) != 1 || infos[0].Active {
		t.Fatalf("namespaces %+v, want one pending", infos)
	}
}

// imans_on_fork + imans_activate + ima_ns_add_boot_aggregate: the first
// child is born into the pending namespace and activates it, which logs
// ns_aggregate_<id> with a zero sha1 digest.
// Source: openEuler ima_ns.c imans_on_fork, imans_activate, ima_ns_add_boot_aggregate.
func TestFirstChildActivatesAndLogsAggregate(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	id, _ := k.Unshare(self())
	c := child(t)
	active, forChildren, err := k.TaskNamespaces(c)
	if err != nil {
		t.Fatal(err)
	}
	if active != id || forChildren != id {
		t.Fatalf("child in %d/%d, want %d", active, forChildren, id)
	}
	entries, err := k.Entries(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name != fmt.Sprintf("ns_aggregate_%d", id) || entries[0].Algo != "sha1" ||
		entries[0].Digest != strings.Repeat("0", 40) || entries[0].NS != id || entries[0].Template != "ima-ns" {
		t.Fatalf("child's view %+v", entries)
	}
	// The unsharer stays in the host namespace, sees everything.
	host, _ := k.Entries(self())
	if len(host) != 1 {
		t.Fatalf("host view has %d entries", len(host))
	}
}

// free_ima_ns: a second unshare replaces the pending namespace, whose
// configuration is lost.
// Source: openEuler ima_ns.c free_ima_ns.
func TestSecondUnshareDropsPendingConfig(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	first, _ := k.Unshare(self())
	if err := k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")); err != nil {
		t.Fatal(err)
	}
	second, _ := k.Unshare(self())
	_ = first
	c := child(t)
	if a, _, _ := k.TaskNamespaces(c); a != second {
		t.Fatalf("child in %d, want %d", a, second)
	}
	rules, _ := k.Rules(c)
	if len(rules) != 0 {
		t.Fatalf("new namespace inherited the dropped kcmd: %v", rules)
	}
}

// ima_open_for_children: EPERM when the caller has nothing pending.
// Source: RFC 19/30 ima_open_for_children (the openEuler ima_fs.c with it is not public).
func TestForChildrenWithoutUnshareIsEPERM(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	wantErrno(t, k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")), unix.EPERM)
}

// The *_for_children writers: count >= PAGE_SIZE is EINVAL.
// Source: RFC 19/30 the *_for_children writers.
func TestForChildrenPageLimit(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	k.Unshare(self())
	wantErrno(t, k.WriteForChildren(self(), "x509_for_children", []byte("/"+strings.Repeat("a", 4095))), unix.EINVAL)
	if err := k.WriteForChildren(self(), "x509_for_children", []byte("/"+strings.Repeat("a", 4094))); err != nil {
		t.Fatalf("4095 bytes refused: %v", err)
	}
}

// The writers check ns->frozen: after activation EACCES.
// Source: openEuler ima_ns.c (frozen check of the writers); RFC 19/30.
func TestForChildrenAfterActivationIsEACCES(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	k.Unshare(self())
	c := child(t)
	k.TaskNamespaces(c) // the birth activates
	wantErrno(t, k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")), unix.EACCES)
}

// The kcmd parser (ima_ns's kcmd table with next_arg): unknown parameters
// are EINVAL and discard the pending setup; every write starts afresh.
// Source: openEuler ima_ns.c kcmd setup table; RFC 19/30.
func TestKcmdWritesDoNotAccumulateAndErrorsDiscard(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	k.Unshare(self())
	if err := k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb ima_appraise=fix")); err != nil {
		t.Fatal(err)
	}
	if err := k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")); err != nil {
		t.Fatal(err)
	}
	c := child(t)
	k.TaskNamespaces(c)
	infos, _ := k.Namespaces()
	if len(infos) != 1 || infos[0].Appraise != "enforce" || len(infos[0].Rules) == 0 {
		t.Fatalf("second write should reset ima_appraise to enforce and keep tcb: %+v", infos)
	}

	k2 := newKernel(t, DefaultSwitches())
	k2.Unshare(self())
	k2.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb"))
	wantErrno(t, k2.WriteForChildren(self(), "kcmd_for_children", []byte("ima_hash=sha256")), unix.EINVAL)
	c2 := child(t)
	rules, _ := k2.Rules(c2)
	if len(rules) != 0 {
		t.Fatalf("a failed write must discard the pending setup, got rules %v", rules)
	}
}

// [U] ima_template in kcmd_for_children (RFC 30/30): both settings.
// Source: RFC 30/30 (absent in the openEuler ima_ns.c read).
func TestTemplateSwitch(t *testing.T) {
	off := newKernel(t, DefaultSwitches())
	off.Unshare(self())
	wantErrno(t, off.WriteForChildren(self(), "kcmd_for_children", []byte("ima_template=ima-ng")), unix.EINVAL)

	sw := DefaultSwitches()
	sw.AllowTemplate = true
	on := newKernel(t, sw)
	on.Unshare(self())
	if err := on.WriteForChildren(self(), "kcmd_for_children", []byte("ima_template=ima-ng")); err != nil {
		t.Fatal(err)
	}
	// First successful setting wins.
	if err := on.WriteForChildren(self(), "kcmd_for_children", []byte("ima_template=ima-sig")); err != nil {
		t.Fatal(err)
	}
	c := child(t)
	entries, _ := on.Entries(c)
	if len(entries) != 1 || entries[0].Template != "ima-ng" {
		t.Fatalf("aggregate template %+v, want ima-ng", entries)
	}
}

// writeCert writes a certificate with key id deadbeef signed by the test
// CA (which every test kernel trusts).
func writeCert(t *testing.T) string { t.Helper(); return writeCertBy(t, true) }

// writeSelfSignedCert is writeCert without the CA: a kernel with
// CONFIG_IMA_TRUSTED_KEYRING drops it.
func writeSelfSignedCert(t *testing.T) string { t.Helper(); return writeCertBy(t, false) }

func writeCertBy(t *testing.T, byCA bool) string {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ima test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), SubjectKeyId: []byte{1, 2, 3, 4, 0xde, 0xad, 0xbe, 0xef}}
	parent, signer := tmpl, priv
	if byCA {
		c := testCA(t)
		parent, signer = c.tmpl, c.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &priv.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.der")
	if err := os.WriteFile(path, der, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// integrity_load_x509 at activation (after ns_aggregate in oE): the path is
// copied verbatim, so a trailing newline breaks the load, which oE only
// logs; with the RFC behaviour ([U] X509FailAborts) activation fails.
// Source: openEuler ima_ns.c imans_activate, ima_ns_load_x509 (newest version); RFC 28/30.
func TestX509LoadedAtActivation(t *testing.T) {
	cert := writeCert(t)
	k := newKernel(t, DefaultSwitches())
	k.Unshare(self())
	if err := k.WriteForChildren(self(), "x509_for_children", []byte(cert)); err != nil {
		t.Fatal(err)
	}
	c := child(t)
	k.TaskNamespaces(c)
	infos, _ := k.Namespaces()
	if len(infos) != 1 || len(infos[0].KeyIDs) != 1 || infos[0].KeyIDs[0] != 0xdeadbeef {
		t.Fatalf("key not loaded with evmctl's key id: %+v", infos)
	}

	k2 := newKernel(t, DefaultSwitches())
	k2.Unshare(self())
	k2.WriteForChildren(self(), "x509_for_children", []byte(cert+"\n"))
	c2 := child(t)
	if _, _, err := k2.TaskNamespaces(c2); err != nil {
		t.Fatalf("oE: activation must succeed despite the bad path: %v", err)
	}
	infos, _ = k2.Namespaces()
	log, _ := k2.Log()
	if len(infos[0].KeyIDs) != 0 || !strings.Contains(strings.Join(log, "\n"), "x509 cert. loading failed") {
		t.Fatalf("trailing newline should fail the load and log it: %+v %v", infos, log)
	}

	sw := DefaultSwitches()
	sw.X509FailAborts = true
	k3 := newKernel(t, sw)
	k3.Unshare(self())
	k3.WriteForChildren(self(), "x509_for_children", []byte(cert+"\n"))
	c3 := child(t)
	if _, _, err := k3.TaskNamespaces(c3); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("RFC: activation must fail, got %v", err)
	}
}

// imans_install: EUSERS for a multi-threaded caller; joining a pending
// namespace activates it with the caller as activator.
// Source: openEuler ima_ns.c imans_install.
func TestSetns(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	id, _ := k.Unshare(self())
	c := child(t)
	// c was born into id (activating it); a second child joins by setns.
	k.TaskNamespaces(c)
	other := newKernel(t, DefaultSwitches())
	j := child(t)
	wantErrno(t, other.Setns(j, InitialNS+1, true), unix.EINVAL)

	j2 := child(t)
	wantErrno(t, k.Setns(j2, id, false), unix.EUSERS)
	if err := k.Setns(j2, id, true); err != nil {
		t.Fatal(err)
	}
	if a, fc, _ := k.TaskNamespaces(j2); a != id || fc != id {
		t.Fatalf("after setns: %d/%d", a, fc)
	}

	// A pending namespace is activated by the setns caller. j3 exists (and
	// is known to the emulator) before the unshare, so it lives in the host
	// namespace; the emulator learns a task's namespace when first asked.
	k4 := newKernel(t, DefaultSwitches())
	j3 := child(t)
	if a, _, _ := k4.TaskNamespaces(j3); a != InitialNS {
		t.Fatalf("j3 in %d", a)
	}
	pending, _ := k4.Unshare(self())
	if infos, _ := k4.Namespaces(); infos[0].Active {
		t.Fatal("active before any birth")
	}
	if err := k4.Setns(j3, pending, true); err != nil {
		t.Fatal(err)
	}
	infos, _ := k4.Namespaces()
	if !infos[0].Active {
		t.Fatal("setns did not activate the pending namespace")
	}
	if e, _ := k4.Entries(j3); len(e) != 1 || e[0].NS != pending {
		t.Fatalf("aggregate after setns activation: %+v", e)
	}
}

func loadPolicy(k *Kernel, pid int, rules ...string) error {
	if err := k.OpenPolicy(pid); err != nil {
		return err
	}
	var werr error
	for _, r := range rules {
		if werr = k.WritePolicy(pid, r+"\n"); werr != nil {
			break
		}
	}
	if err := k.ClosePolicy(pid); err != nil {
		return err
	}
	return werr
}

// ima_open_policy, ima_write_policy, ima_release_policy: one global busy
// bit, a bad rule is EINVAL and spoils the whole session (nothing applied),
// the first load replaces the kcmd defaults, later loads append.
// Source: mainline 5.10 ima_fs.c ima_open_policy, ima_write_policy, ima_release_policy; RFC 16/30.
func TestPolicyLoad(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	k.Unshare(self())
	k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb"))
	a := child(t)
	b := child(t)
	defaults, _ := k.Rules(a)
	if len(defaults) == 0 {
		t.Fatal("tcb gave no rules")
	}
	if err := k.OpenPolicy(a); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, k.OpenPolicy(b), unix.EBUSY)
	if err := k.ClosePolicy(a); err != nil {
		t.Fatal(err)
	}
	err := loadPolicy(k, a, "measure func=BPRM_CHECK", "measure func=NO_SUCH_HOOK")
	wantErrno(t, err, unix.EINVAL)
	if got, _ := k.Rules(a); len(got) != len(defaults) {
		t.Fatalf("spoiled session changed the policy: %v", got)
	}
	if err := loadPolicy(k, a, "measure func=BPRM_CHECK"); err != nil {
		t.Fatal(err)
	}
	if got, _ := k.Rules(a); len(got) != 1 || got[0] != "measure func=BPRM_CHECK" {
		t.Fatalf("first load must replace the defaults: %v", got)
	}
	if err := loadPolicy(k, b, "measure func=FILE_CHECK mask=MAY_READ uid=0"); err != nil {
		t.Fatal(err)
	}
	if got, _ := k.Rules(a); len(got) != 2 {
		t.Fatalf("second load must append: %v", got)
	}
}

// ima_update_policy (RFC 09/19 ima_policy.c, as in mainline): the first
// load moves the namespace from its default list (ima_init_ns_policy: the
// kcmd built-ins, architecture rules among them) to its custom list, which
// ima_init_policy seeded with the architecture rules only; the loaded rules
// follow them, and a later load appends. Run on both platforms: without
// secure boot there are no architecture rules and the load leaves exactly
// the loaded rules.
// Source: RFC 09/30 ima_init_ns_policy; mainline 5.10 ima_update_policy.
func TestFirstLoadReplacesBuiltinsKeepsArchRules(t *testing.T) {
	for _, secureBoot := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure_boot=%v", secureBoot), func(t *testing.T) {
			sw := DefaultSwitches()
			sw.SecureBoot = secureBoot
			k := newKernel(t, sw)
			k.Unshare(self())
			k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb"))
			a := child(t)
			var arch []string
			if secureBoot {
				// DefaultProfile: CONFIG_KEXEC_SIG and CONFIG_MODULE_SIG,
				// so only the measure halves of sb_arch_rules.
				arch = []string{"measure func=KEXEC_KERNEL_CHECK", "measure func=MODULE_CHECK"}
			}
			defaults, _ := k.Rules(a)
			for _, r := range arch {
				if !slices.Contains(defaults, r) {
					t.Fatalf("architecture rule %q not among the defaults %q", r, defaults)
				}
			}
			custom := []string{"dont_measure fsmagic=0x794c7630", "measure func=BPRM_CHECK"}
			if err := loadPolicy(k, a, custom...); err != nil {
				t.Fatal(err)
			}
			want := append(append([]string(nil), arch...), custom...)
			if got, _ := k.Rules(a); !slices.Equal(got, want) {
				t.Fatalf("after the first load %q, want %q", got, want)
			}
			if err := loadPolicy(k, a, "measure func=FILE_CHECK mask=MAY_READ uid=0"); err != nil {
				t.Fatal(err)
			}
			want = append(want, "measure func=FILE_CHECK mask=MAY_READ uid=0")
			if got, _ := k.Rules(a); !slices.Equal(got, want) {
				t.Fatalf("a second load must append: %q, want %q", got, want)
			}

			// A namespace created without a kcmd has the architecture
			// rules alone (added to every namespace).
			k.Unshare(self())
			b := child(t)
			if got, _ := k.Rules(b); !slices.Equal(got, arch) {
				t.Fatalf("namespace without kcmd: %q, want %q", got, arch)
			}
		})
	}
}

// ima_release_policy without CONFIG_IMA_WRITE_POLICY/READ_POLICY removes
// the policy file for every namespace after the first load.
// Source: digest-list ima_fs.c ima_release_policy.
func TestPolicyFileGoneWithoutWritePolicy(t *testing.T) {
	sw := DefaultSwitches()
	sw.WritePolicy = false
	k := newKernel(t, sw)
	k.Unshare(self())
	a := child(t)
	if err := loadPolicy(k, a, "measure func=BPRM_CHECK"); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, k.OpenPolicy(a), unix.ENOENT)
}

// ima_write_policy with IMA_APPRAISE_POLICY: rule text is refused
// (EACCES), a policy file path is read.
// Source: mainline 5.10 ima_write_policy (IMA_APPRAISE_POLICY).
func TestSignedPolicyOnly(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	k.Unshare(self())
	k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=secure_boot"))
	a := child(t)
	wantErrno(t, loadPolicy(k, a, "measure func=BPRM_CHECK"), unix.EACCES)
	file := filepath.Join(t.TempDir(), "policy")
	os.WriteFile(file, []byte("measure func=BPRM_CHECK\n"), 0o600)
	if err := k.OpenPolicy(a); err != nil {
		t.Fatal(err)
	}
	if err := k.WritePolicy(a, file); err != nil {
		t.Fatal(err)
	}
	k.ClosePolicy(a)
	if got, _ := k.Rules(a); len(got) != 1 {
		t.Fatalf("policy from file: %v", got)
	}
}

// Per-namespace views (ima_measurements_show on the ns list) and counters;
// violations are counted per namespace.
// Source: RFC 14/30 and 17/30; openEuler ima_ns.c ns_measurements.
func TestViewsAndCounters(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	k.Unshare(self())
	a := child(t)
	if err := loadPolicy(k, a, "measure func=BPRM_CHECK"); err != nil {
		t.Fatal(err)
	}
	if added, err := k.Measure(a, "/bin/sh", "sha256", strings.Repeat("ab", 32), false); err != nil || !added {
		t.Fatalf("measure: %v %v", added, err)
	}
	// ima_lookup_digest_entry: the same measurement is not logged twice.
	if added, _ := k.Measure(a, "/bin/sh", "sha256", strings.Repeat("ab", 32), false); added {
		t.Fatal("duplicate logged")
	}
	k.Measure(a, "/etc/passwd", "sha256", strings.Repeat("cd", 32), true)
	if n, _ := k.Counter(a, "runtime_measurements_count"); n != 3 {
		t.Fatalf("ns count %d, want 3 (aggregate, sh, violation)", n)
	}
	if n, _ := k.Counter(a, "violations"); n != 1 {
		t.Fatalf("ns violations %d", n)
	}
	if n, _ := k.Counter(self(), "violations"); n != 0 {
		t.Fatalf("host violations %d, want 0 (strictly per namespace)", n)
	}
	if n, _ := k.Counter(self(), "runtime_measurements_count"); n != 3 {
		t.Fatalf("host count %d", n)
	}
}

// ns_alloc_inum reuses ids once a namespace died; the new namespace's view
// starts at its own ns_aggregate, not at its predecessor's entries.
// Source: RFC 10/30 (ns_alloc_inum reuses ids); openEuler ima_ns.c.
func TestIDReuse(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	first, _ := k.Unshare(self())
	a := child(t)
	loadPolicy(k, a, "measure func=BPRM_CHECK")
	k.Measure(a, "/old", "sha256", strings.Repeat("11", 32), false)
	// Drop every reference: the child dies and the test process's
	// for_children is reset by joining the host namespace again.
	kill(t, a)
	if err := k.Setns(self(), InitialNS, true); err != nil {
		t.Fatal(err)
	}
	second, _ := k.Unshare(self())
	if second != first {
		t.Fatalf("id %d not reused (got %d)", first, second)
	}
	b := child(t)
	view, _ := k.Entries(b)
	if len(view) != 1 || !strings.HasPrefix(view[0].Name, "ns_aggregate_") {
		t.Fatalf("reused namespace sees its predecessor's entries: %+v", view)
	}
	host, _ := k.Entries(self())
	if len(host) != 3 { // first aggregate, /old, second aggregate
		t.Fatalf("host list lost entries of the dead namespace: %d", len(host))
	}
}

// inc_ucount in clone_ima_ns: ENOSPC past max_ima_namespaces.
// Source: openEuler ima_ns.c clone_ima_ns.
func TestMaxNamespaces(t *testing.T) {
	sw := DefaultSwitches()
	sw.MaxNamespaces = 1
	k := newKernel(t, sw)
	if _, err := k.Unshare(self()); err != nil {
		t.Fatal(err)
	}
	c := child(t)
	k.TaskNamespaces(c)
	// The test process holds one namespace (for_children): a second unshare
	// from another task exceeds the limit.
	wantErrno(t, func() error { _, err := k.Unshare(c); return err }(), unix.ENOSPC)
}

// KEY_ALLOC_DOMAIN_IMA: a key added by a task goes to the key domain of
// its ima_ns_for_children.
// Source: RFC 25/30 and 26/30 (KEY_ALLOC_DOMAIN_IMA).
func TestAddKeyTaggedForChildrenDomain(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	id, _ := k.Unshare(self())
	der, _ := os.ReadFile(writeCert(t))
	if _, err := k.AddKey(self(), der); err != nil {
		t.Fatal(err)
	}
	infos, _ := k.Namespaces()
	if len(infos) != 1 || infos[0].ID != id || len(infos[0].KeyIDs) != 1 {
		t.Fatalf("key not in the pending namespace's domain: %+v", infos)
	}
}

// [U] The ns_aggregate entry's template (ima_ns_add_boot_aggregate uses
// ima_template_desc_current() of the activating task): the new namespace's
// template, or the activator's (RFC 29/30) such as ima-ng. Both settings.
// Source: openEuler ima_ns.c ima_ns_add_boot_aggregate; RFC 29/30.
func TestAggregateTemplateSwitch(t *testing.T) {
	for _, tc := range []struct{ sw, want string }{{"", "ima-ns"}, {"ima-ng", "ima-ng"}} {
		sw := DefaultSwitches()
		sw.AggregateTemplate = tc.sw
		k := newKernel(t, sw)
		id, _ := k.Unshare(self())
		c := child(t)
		e, err := k.Entries(c)
		if err != nil || len(e) != 1 || e[0].Template != tc.want || e[0].Name != fmt.Sprintf("ns_aggregate_%d", id) {
			t.Fatalf("switch %q: %+v %v", tc.sw, e, err)
		}
	}
}

// WritePolicies judges each write as ima_write_policy would, stops at the
// first refused one, and the refused write spoils the session.
// Source: mainline 5.10 ima_write_policy.
func TestWritePoliciesStopsAtFirstRefusal(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	k.Unshare(self())
	a := child(t)
	if err := k.OpenPolicy(a); err != nil {
		t.Fatal(err)
	}
	n, err := k.WritePolicies(a, []string{"measure func=BPRM_CHECK\n", "measure func=BOGUS\n", "measure func=FILE_CHECK\n"})
	wantErrno(t, err, unix.EINVAL)
	if n != 1 {
		t.Fatalf("%d writes succeeded, want 1", n)
	}
	k.ClosePolicy(a)
	if got, _ := k.Rules(a); len(got) != 0 {
		t.Fatalf("spoiled session installed rules: %v", got)
	}
}

// The emulator's own storage (not a kernel rule): the global list and the
// kernel log live in append-only files that a later process reads back,
// the list's length in the state must match its file, and a namespace
// whose last task died is freed (free_ima_ns / the imans workqueue) by the
// next operation that depends on it, even though read-only operations skip
// the liveness scan.
func TestStorageAcrossProcessesAndLazyCollection(t *testing.T) {
	dir := t.TempDir()
	k, err := Open(dir, DefaultSwitches())
	if err != nil {
		t.Fatal(err)
	}
	id, _ := k.Unshare(self())
	if err := k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")); err != nil {
		t.Fatal(err)
	}
	c := child(t)
	if _, _, err := k.TaskNamespaces(c); err != nil { // activates: logs ns_aggregate
		t.Fatal(err)
	}
	if _, err := k.Measure(c, "/bin/x", "sha256", strings.Repeat("ab", 32), false); err != nil {
		t.Fatal(err)
	}
	// A second handle, as another process would open it.
	k2, err := Open(dir, DefaultSwitches())
	if err != nil {
		t.Fatal(err)
	}
	view, err := k2.Entries(c)
	if err != nil || len(view) != 2 || view[1].Name != "/bin/x" {
		t.Fatalf("view through a new handle: %+v, %v", view, err)
	}
	if n, err := k2.Counter(c, "runtime_measurements_count"); err != nil || n != 2 {
		t.Fatalf("count %d, %v; want 2", n, err)
	}
	// Only the child keeps the namespace alive once the test process's
	// for_children is reset.
	if err := k2.Setns(self(), InitialNS, true); err != nil {
		t.Fatal(err)
	}
	kill(t, c)
	// A read by a live task does not need the dead one collected ...
	if n, err := k2.Counter(self(), "runtime_measurements_count"); err != nil || n != 2 {
		t.Fatalf("host count %d, %v; want 2", n, err)
	}
	// ... but the listing does, and logs the destruction.
	infos, err := k2.Namespaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.ID == id && in.Active {
			t.Fatalf("namespace %d still listed after its last task died: %+v", id, infos)
		}
	}
	log, err := k.Log()
	if err != nil || !strings.Contains(strings.Join(log, "\n"), fmt.Sprintf("namespace %d destroyed", id)) {
		t.Fatalf("kernel log %q, %v", log, err)
	}
	// A list file that lost an entry is reported, not silently used.
	b, _ := os.ReadFile(filepath.Join(dir, entriesFile))
	lines := strings.SplitAfter(string(b), "\n")
	if err := os.WriteFile(filepath.Join(dir, entriesFile), []byte(lines[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Entries(self()); err == nil || !strings.Contains(err.Error(), "state says 2") {
		t.Fatalf("truncated list file: got %v", err)
	}
}
