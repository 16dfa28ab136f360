//go:build imaemu

package emukernel

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// The rules of issue 11 item 5 (timing and permissions as the kernel's).
// Each test names the kernel function it mirrors and the source the rule
// was checked against: the openEuler security/integrity/ima/ima_ns.c
// (newest readable version, the one with key domains and ns_aggregate_),
// the RFC patch mails of August 2020, or mainline 5.10 for the generic
// namespace and capability code (docs/kernel-abi.md).

// childAs starts `sleep` as a child of the test process with attr (other
// credentials, a new user namespace); it skips when the machine does not
// allow it.
func childAs(t *testing.T, attr *syscall.SysProcAttr) int {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a child with %+v: %v", attr, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

func unprivileged() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
}

// A child in a user namespace of its own, root there (full capabilities in
// it, none in the initial user namespace): a rootless runtime.
func inUserNS() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}}
}

// openEuler ima_ns.c imans_on_fork -> imans_activate: the namespace is
// activated (frozen) in the fork of the first child, not when someone
// first looks the child up; a kcmd or x509 write after that fork is
// EACCES even though nobody has asked about the child yet.
func TestForkActivatesWithoutLookup(t *testing.T) {
	k, id := unsharedForForks(t)
	if err := k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")); err != nil {
		t.Fatal(err)
	}
	child(t) // never looked up
	wantErrno(t, k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")), unix.EACCES)
	wantErrno(t, k.WriteForChildren(self(), "x509_for_children", []byte("/k.der")), unix.EACCES)
	infos, _ := k.Namespaces()
	if len(infos) != 1 || infos[0].ID != id || !infos[0].Active || len(infos[0].Rules) == 0 {
		t.Fatalf("namespace after the fork: %+v; want it active with the kcmd's rules", infos)
	}
}

// openEuler ima_ns.c copy_ima_ns / free_ima_ns: a second unshare after the
// first child was born leaves the (active) namespace alone; only a pending
// one is freed with its configuration.
func TestSecondUnshareAfterForkKeepsActiveNamespace(t *testing.T) {
	if lastPid() < 0 {
		t.Skip("no /proc/sys/kernel/ns_last_pid")
	}
	k := newKernel(t, DefaultSwitches())
	first, _ := k.Unshare(self())
	if err := k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")); err != nil {
		t.Fatal(err)
	}
	c := child(t)
	second, err := k.Unshare(self())
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatalf("second unshare reused the live namespace's id %d", first)
	}
	a, _, err := k.TaskNamespaces(c)
	if err != nil || a != first {
		t.Fatalf("first child in %d (%v), want %d", a, err, first)
	}
	if rules, _ := k.Rules(c); len(rules) == 0 {
		t.Fatal("the active namespace lost its kcmd rules")
	}
}

// mainline 5.10 unshare_nsproxy_namespaces (ns_capable(current_user_ns(),
// CAP_SYS_ADMIN)): an unprivileged caller gets EPERM; root in a user
// namespace of its own may unshare, and its namespace then owns the new
// IMA namespace.
func TestUnshareNeedsCapSysAdmin(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	u := childAs(t, unprivileged())
	_, err := k.Unshare(u)
	wantErrno(t, err, unix.EPERM)

	r := childAs(t, inUserNS())
	if _, err := k.Unshare(r); err != nil {
		t.Fatalf("root in its own user namespace: %v", err)
	}
}

// openEuler ima_ns.c ima_open_for_children (RFC 19/30): EPERM unless
// CAP_SYS_ADMIN over the owner of the caller's *active* namespace. A
// rootless runtime (root in its own user namespace, living in the host's
// IMA namespace, owned by the initial user namespace) can unshare but
// cannot configure: the flow fails as on the kernel.
func TestForChildrenNeedsCapOverActiveOwner(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	r := childAs(t, inUserNS())
	if _, err := k.Unshare(r); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, k.WriteForChildren(r, "kcmd_for_children", []byte("ima_policy=tcb")), unix.EPERM)
	wantErrno(t, k.WriteForChildren(r, "x509_for_children", []byte("/k.der")), unix.EPERM)
	// Host root may (control: the rule is not "EPERM always").
	if _, err := k.Unshare(self()); err != nil {
		t.Fatal(err)
	}
	if err := k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")); err != nil {
		t.Fatal(err)
	}
}

// openEuler ima_ns.c imans_install: EUSERS for a multi-threaded caller,
// then EPERM without CAP_SYS_ADMIN over the target's owner, or in the
// caller's own user namespace.
func TestSetnsNeedsCapSysAdmin(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	id, _ := k.Unshare(self())
	c := child(t)
	if a, _, _ := k.TaskNamespaces(c); a != id {
		t.Fatalf("child in %d", a)
	}
	k.Setns(self(), InitialNS, true)
	u := childAs(t, unprivileged())
	wantErrno(t, k.Setns(u, id, false), unix.EUSERS)
	wantErrno(t, k.Setns(u, id, true), unix.EPERM)
	r := childAs(t, inUserNS())
	wantErrno(t, k.Setns(r, id, true), unix.EPERM) // owner is the initial user namespace
	if err := k.Setns(c, id, true); err != nil {
		t.Fatalf("root: %v", err)
	}
}

// RFC 16/30 ima_measurements_open and the counters' open: the reader needs
// CAP_SYS_ADMIN over the owner of its active namespace; a container
// process without it (runc's default capabilities) gets EPERM. The policy
// file's write open is held to the same rule (the RFC checks only DAC
// there; docs/kernel-abi.md#capabilities assumes the capability is needed).
func TestMeasurementFilesAndPolicyNeedCap(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	id, _ := k.Unshare(self())
	if err := k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")); err != nil {
		t.Fatal(err)
	}
	u := childAs(t, unprivileged()) // born into id
	if a, _, _ := k.TaskNamespaces(u); a != id {
		t.Fatalf("unprivileged child in %d", a)
	}
	_, err := k.Entries(u)
	wantErrno(t, err, unix.EPERM)
	_, err = k.Counter(u, "runtime_measurements_count")
	wantErrno(t, err, unix.EPERM)
	_, err = k.Counter(u, "violations")
	wantErrno(t, err, unix.EPERM)
	wantErrno(t, k.OpenPolicy(u), unix.EPERM)
	// What a root task in that namespace reads (tests' inspection path).
	if e, err := k.InspectEntries(u); err != nil || len(e) != 1 {
		t.Fatalf("inspect: %+v, %v", e, err)
	}
	c := child(t)
	if e, err := k.Entries(c); err != nil || len(e) != 1 {
		t.Fatalf("root child: %+v, %v", e, err)
	}
	if err := k.OpenPolicy(c); err != nil {
		t.Fatalf("root child opens the policy: %v", err)
	}
	k.ClosePolicy(c)
}

// openEuler ima_ns.c imans_remove_hash_entries: a dead namespace's entries
// leave the measurement hash table, so a namespace that gets the same id
// later measures the same file again (no duplicate suppression across
// lives); within one life the duplicate is still suppressed.
func TestReusedIDMeasuresAgain(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	life := func() (imansid.ID, int) {
		id, _ := k.Unshare(self())
		k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb"))
		c := child(t)
		if a, _, _ := k.TaskNamespaces(c); a != id {
			t.Fatalf("child in %d", a)
		}
		if err := k.Setns(self(), InitialNS, true); err != nil {
			t.Fatal(err)
		}
		return id, c
	}
	id1, c1 := life()
	digest := strings.Repeat("cd", 32)
	if added, err := k.Measure(c1, "/bin/app", "sha256", digest, false); err != nil || !added {
		t.Fatalf("first measurement: %v %v", added, err)
	}
	if added, _ := k.Measure(c1, "/bin/app", "sha256", digest, false); added {
		t.Fatal("duplicate within one life was measured")
	}
	kill(t, c1)
	id2, c2 := life()
	if id2 != id1 {
		t.Fatalf("id not reused: %d then %d", id1, id2)
	}
	if added, err := k.Measure(c2, "/bin/app", "sha256", digest, false); err != nil || !added {
		t.Fatalf("the namespace that reused id %d did not measure again: %v %v", id1, added, err)
	}
}

// Mainline 5.10 proc_alloc_inum / ns_alloc_inum (RFC 10/30 get_ns_id):
// namespace ids come from the proc inode allocator, shared with every
// other proc inode, so they are neither the first ids of the range nor
// consecutive; freed ids are reused (lowest free first).
func TestIDsFromSharedInodeRange(t *testing.T) {
	k := newKernel(t, DefaultSwitches())
	var ids []imansid.ID
	for i := 0; i < 6; i++ {
		// Each from its own child, so all stay alive.
		p := child(t)
		id, err := k.Unshare(p)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	consecutive := true
	for i, id := range ids {
		if id < firstDynamicIno+0x100 {
			t.Fatalf("id %d is among the first ids of the range (%v)", id, ids)
		}
		if i > 0 && id != ids[i-1]+1 {
			consecutive = false
		}
	}
	if consecutive {
		t.Fatalf("ids handed out in sequence: %v", ids)
	}
}

// openEuler ima_ns.c kcmd setup table with next_arg and policy_setup /
// ima_appraise_parse_cmdline: the kernel is lenient where pkg/policy's
// validator is strict. Only ima_appraise and ima_policy; a name without
// =value or an unknown name is EINVAL; unknown ima_policy tokens are
// ignored; ima_appraise is compared on its first three characters, a
// later value wins, an unknown value leaves enforce; without
// CONFIG_IMA_APPRAISE_BOOTPARAM (switch appraise_bootparam) it is ignored.
func TestKcmdParsedAsTheKernelDoes(t *testing.T) {
	noBootParam := DefaultSwitches()
	noBootParam.AppraiseBootParam = false
	cases := []struct {
		kcmd     string
		sw       Switches
		errno    unix.Errno
		appraise string
		rules    bool
	}{
		{"ima_policy=tcb|no_such_policy", DefaultSwitches(), 0, "enforce", true},
		{"ima_policy=bogus", DefaultSwitches(), 0, "enforce", false},
		{`ima_policy="tcb appraise_tcb"`, DefaultSwitches(), 0, "enforce", true},
		{"ima_appraise=logging", DefaultSwitches(), 0, "log", false},
		{"ima_appraise=off ima_appraise=fix", DefaultSwitches(), 0, "fix", false},
		{"ima_appraise=bogus", DefaultSwitches(), 0, "enforce", false},
		{"ima_appraise=enforce", DefaultSwitches(), 0, "enforce", false},
		{"ima_appraise=log", noBootParam, 0, "enforce", false},
		{"\n ima_policy=tcb\t\n", DefaultSwitches(), 0, "enforce", true},
		{"ima_policy", DefaultSwitches(), unix.EINVAL, "", false},
		{"ima_tcb", DefaultSwitches(), unix.EINVAL, "", false},
		{"=tcb", DefaultSwitches(), unix.EINVAL, "", false},
		{"ima_hash=sha256", DefaultSwitches(), unix.EINVAL, "", false},
		{"ima-policy=tcb", DefaultSwitches(), unix.EINVAL, "", false},
		{"ima_template=ima-ng", DefaultSwitches(), unix.EINVAL, "", false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q", c.kcmd), func(t *testing.T) {
			k := newKernel(t, c.sw)
			k.Unshare(self())
			err := k.WriteForChildren(self(), "kcmd_for_children", []byte(c.kcmd))
			if c.errno != 0 {
				wantErrno(t, err, c.errno)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ch := child(t)
			k.TaskNamespaces(ch)
			infos, _ := k.Namespaces()
			if len(infos) != 1 || infos[0].Appraise != c.appraise || (len(infos[0].Rules) > 0) != c.rules {
				t.Fatalf("got %+v; want appraise %s, rules %v", infos, c.appraise, c.rules)
			}
		})
	}
}

// openEuler ima_ns.c imans_activate -> ima_ns_load_x509, which exists only
// with CONFIG_IMA_LOAD_X509 (Kconfig default n; switch load_x509): without
// it the certificate written to x509_for_children is never loaded and
// nothing is logged; activation succeeds either way.
func TestLoadX509Switch(t *testing.T) {
	cert := writeCert(t)
	for _, load := range []bool{true, false} {
		sw := DefaultSwitches()
		sw.LoadX509 = load
		k := newKernel(t, sw)
		k.Unshare(self())
		if err := k.WriteForChildren(self(), "x509_for_children", []byte(cert)); err != nil {
			t.Fatal(err)
		}
		c := child(t)
		if _, _, err := k.TaskNamespaces(c); err != nil {
			t.Fatalf("load_x509=%v: activation failed: %v", load, err)
		}
		ids, err := k.KeyIDs(c)
		if err != nil {
			t.Fatal(err)
		}
		log, _ := k.Log()
		if load && (len(ids) != 1 || ids[0] != 0xdeadbeef) {
			t.Fatalf("load_x509: keys %x", ids)
		}
		if !load && (len(ids) != 0 || strings.Contains(strings.Join(log, "\n"), "x509")) {
			t.Fatalf("no load_x509: keys %x, log %q (must be silent)", ids, log)
		}
	}
}

// CONFIG_IMA_TRUSTED_KEYRING (switch trusted_keyring_requires_ca):
// restrict_link_by_builtin_and_secondary_trusted on the .ima keyring. At
// activation (openEuler ima_ns.c ima_ns_load_x509) an unsigned certificate
// is dropped with the log line only; add_key from inside the namespace
// gets ENOKEY.
func TestTrustedKeyringDropsUnsignedCertificate(t *testing.T) {
	cert := writeSelfSignedCert(t)
	sw := DefaultSwitches()
	sw.TrustedKeyringRequiresCA = true
	k := newKernel(t, sw)
	k.Unshare(self())
	k.WriteForChildren(self(), "x509_for_children", []byte(cert))
	c := child(t)
	if _, _, err := k.TaskNamespaces(c); err != nil {
		t.Fatalf("activation must still succeed: %v", err)
	}
	ids, _ := k.KeyIDs(c)
	log, _ := k.Log()
	if len(ids) != 0 || !strings.Contains(strings.Join(log, "\n"), "x509 cert. loading failed") {
		t.Fatalf("keys %x, log %q: want none and the load failure logged", ids, log)
	}
	der, _ := os.ReadFile(cert)
	k.Setns(self(), InitialNS, true)
	if err := k.Setns(self(), func() imansid.ID { a, _, _ := k.TaskNamespaces(c); return a }(), true); err != nil {
		t.Fatal(err)
	}
	_, err := k.AddKey(self(), der)
	wantErrno(t, err, unix.ENOKEY)
	k.Setns(self(), InitialNS, true)
}

// Digest-list ima_fs.c ima_release_policy after a valid load: only with
// CONFIG_IMA_WRITE_POLICY is the busy bit cleared; with
// CONFIG_IMA_READ_POLICY alone it stays set (the inode loses its
// owner-write bit) and every later open in any namespace is EBUSY; with
// neither the file is removed (ENOENT). An invalid load clears the bit on
// every kernel.
func TestPolicyBusyForeverWithoutWritePolicy(t *testing.T) {
	for _, tc := range []struct {
		write, read bool
		later       unix.Errno
	}{{true, false, 0}, {false, true, unix.EBUSY}, {false, false, unix.ENOENT}} {
		sw := DefaultSwitches()
		sw.WritePolicy, sw.ReadPolicy = tc.write, tc.read
		k := newKernel(t, sw)
		k.Unshare(self())
		a := child(t)
		b := child(t)
		k.TaskNamespaces(a)
		if err := loadPolicy(k, a, "measure func=BPRM_CHECK bogus=1"); err == nil {
			t.Fatal("invalid rule accepted")
		}
		if err := loadPolicy(k, a, "measure func=BPRM_CHECK"); err != nil {
			t.Fatalf("write=%v read=%v: first valid load after an invalid one: %v", tc.write, tc.read, err)
		}
		err := k.OpenPolicy(b)
		if tc.later == 0 {
			if err != nil {
				t.Fatalf("write policy: second open %v", err)
			}
			k.ClosePolicy(b)
		} else {
			wantErrno(t, err, tc.later)
			present, writable, _ := k.PolicyFileState()
			if writable || present != (tc.later == unix.EBUSY) {
				t.Fatalf("write=%v read=%v: policy file present %v writable %v", tc.write, tc.read, present, writable)
			}
		}
	}
}

// openEuler ima_ns.c imans_on_fork -> imans_activate (G.5 in the ABI
// notes, docs/kernel-abi.md "Activation"): the fork of a child that exits
// at once, and is reaped, before anyone asks the emulator anything still
// activated the namespace in the kernel; a kcmd write after it is EACCES.
func TestForkOfExitedChildActivates(t *testing.T) {
	if lastPid() < 0 {
		t.Skip("no /proc/sys/kernel/ns_last_pid")
	}
	k := newKernel(t, DefaultSwitches())
	if _, err := k.Unshare(self()); err != nil {
		t.Fatal(err)
	}
	if err := k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("true").Run(); err != nil { // forked, exited, reaped
		t.Fatal(err)
	}
	wantErrno(t, k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")), unix.EACCES)
	infos, _ := k.Namespaces()
	if len(infos) != 1 || !infos[0].Active || len(infos[0].Rules) == 0 {
		t.Fatalf("namespace after the fork: %+v; want it active with the kcmd's rules", infos)
	}
}

// Nothing forked by the unsharer since the unshare: the namespace stays
// pending while other processes fork and reap (the check is not a blanket
// "the pid counter moved").
func TestPendingWhileOthersFork(t *testing.T) {
	if lastPid() < 0 {
		t.Skip("no /proc/sys/kernel/ns_last_pid")
	}
	// Started before the unshare; its own children come after it.
	busy := exec.Command("/bin/sh", "-c", "sleep 0.2; for i in 1 2 3 4 5; do /bin/true; done; sleep 300")
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = busy.Process.Kill(); _ = busy.Wait() })
	k := newKernel(t, DefaultSwitches())
	before := lastPid()
	if _, err := k.Unshare(self()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	if lastPid() == before {
		t.Fatal("nobody forked: the test proves nothing")
	}
	if err := k.WriteForChildren(self(), "kcmd_for_children", []byte("ima_policy=tcb")); err != nil {
		t.Fatalf("no fork by the unsharer since the unshare, yet: %v", err)
	}
	if infos, _ := k.Namespaces(); len(infos) != 1 || infos[0].Active {
		t.Fatalf("namespace %+v: want it pending", infos)
	}
}

// openEuler ima_ns.c imans_on_fork (newest version; RFC 18/30): every fork
// by the unsharer (its ima_ns differs from its ima_ns_for_children, so
// copy_namespaces leaves its fast path) runs imans_on_fork: the child's
// nsproxy gets ima_ns = ima_ns_for_children = the namespace, the
// unsharer's own nsproxy is unchanged, and when the child's user namespace
// differs from the namespace's owner, ima_swap_user_ns moves the ownership
// to it, before and regardless of activation. So the owner follows the
// latest such fork, not only the first.
func TestLaterForksSwapTheOwner(t *testing.T) {
	k, id := unsharedForForks(t)
	owner := func() uint64 {
		var ino uint64
		k.tx(func(s *state) error { ino = s.ns(id).Owner[0].Ino; return nil })
		return ino
	}
	userIno := func(pid int) uint64 {
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/user", pid), &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	a := child(t) // first fork: activates, owner stays the initial user namespace
	if owner() != userIno(self()) {
		t.Fatalf("owner %d after the first fork, want ours %d", owner(), userIno(self()))
	}
	r := childAs(t, inUserNS()) // second fork, into a new user namespace
	if owner() != userIno(r) {
		t.Fatalf("owner %d after a fork into user namespace %d: not swapped", owner(), userIno(r))
	}
	b := child(t) // third fork, back in ours: swapped back
	if owner() != userIno(self()) {
		t.Fatalf("owner %d after a fork in our user namespace %d", owner(), userIno(self()))
	}
	// The owner decides imans_install's capability check: root of r's
	// user namespace cannot join now, root of the next one can.
	wantErrno(t, k.Setns(r, id, true), unix.EPERM)
	r2 := childAs(t, inUserNS())
	if err := k.Setns(r2, id, true); err != nil {
		t.Fatalf("root of the owning user namespace: %v", err)
	}
	for _, p := range []int{a, r, b, r2} {
		if ns, fc, _ := k.TaskNamespaces(p); ns != id || fc != id {
			t.Fatalf("child %d in %d (children %d), want %d for both", p, ns, fc, id)
		}
	}
	if ns, fc, _ := k.TaskNamespaces(self()); ns != InitialNS || fc != id {
		t.Fatalf("unsharer in %d (children %d): its own nsproxy must not change", ns, fc)
	}
}

// restrict_link_by_builtin_and_secondary_trusted -> restrict_link_by_
// signature (crypto/asymmetric_keys/restrict.c) with the kernel's sm2
// akcipher: with CONFIG_IMA_TRUSTED_KEYRING an SM2 certificate signed by a
// trusted SM2 key is loaded at activation (openEuler ima_ns.c
// ima_ns_load_x509) like any other; one whose signature does not verify is
// dropped.
func TestTrustedKeyringTakesSM2(t *testing.T) {
	caKey, _ := sm2.GenerateKey(rand.Reader)
	leafKey, _ := sm2.GenerateKey(rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "sm2 CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), SubjectKeyId: []byte{9, 9, 9, 9},
		BasicConstraintsValid: true, IsCA: true, PublicKey: caKey.Public()}
	caDER, err := smx509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: "sm2 tenant"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), SubjectKeyId: []byte{1, 2, 0x5a, 0x5a, 0x5a, 0x5a}}
	leafDER, err := smx509.CreateCertificate(rand.Reader, leafTmpl, caTmpl, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), leafDER...)
	bad[len(bad)-5] ^= 0xff // inside the signature
	for _, tc := range []struct {
		name string
		der  []byte
		want []uint32
	}{{"signed by the trusted SM2 key", leafDER, []uint32{0x5a5a5a5a}}, {"signature broken", bad, nil}} {
		k := newKernel(t, DefaultSwitches())
		if err := os.WriteFile(filepath.Join(k.Dir(), BuiltinTrustedKeysDir, "sm2-ca.der"), caDER, 0o600); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "tenant.der")
		if err := os.WriteFile(path, tc.der, 0o600); err != nil {
			t.Fatal(err)
		}
		k.Unshare(self())
		if err := k.WriteForChildren(self(), "x509_for_children", []byte(path)); err != nil {
			t.Fatal(err)
		}
		c := child(t)
		ids, err := k.KeyIDs(c)
		if err != nil || !slices.Equal(ids, tc.want) {
			log, _ := k.Log()
			t.Errorf("%s: keys %x (%v), want %x; log %q", tc.name, ids, err, tc.want, log)
		}
	}
}

// The .ima keyring holds every namespace's keys, each tagged with its
// namespace's key domain (KEY_ALLOC_DOMAIN_IMA; openEuler ima_ns.c,
// RFC 23-27); what a task inside a namespace is shown when it lists the
// keyring (keyring_read, /proc/keys) is the switch keyring_shared: every
// namespace's keys, or only its own. A certificate added twice to one
// namespace leaves one key (key_create_or_update -> __key_link replaces
// the link with the same type, description and domain).
func TestKeyringSharedSwitch(t *testing.T) {
	cert := writeCert(t)
	der, _ := os.ReadFile(cert)
	for _, shared := range []bool{true, false} {
		sw := DefaultSwitches()
		sw.KeyringShared = shared
		k := newKernel(t, sw)
		k.Unshare(self())
		if err := k.WriteForChildren(self(), "x509_for_children", []byte(cert)); err != nil {
			t.Fatal(err)
		}
		withKey := child(t)
		k.TaskNamespaces(withKey)
		k.Unshare(self()) // a second namespace, without a key
		without := child(t)
		k.TaskNamespaces(without)
		k.Setns(self(), InitialNS, true)
		want := []uint32(nil)
		if shared {
			want = []uint32{0xdeadbeef}
		}
		for who, pid := range map[string]int{"keyless namespace": without, "host": self()} {
			if ids, err := k.KeyIDs(pid); err != nil || !slices.Equal(ids, want) {
				t.Errorf("keyring_shared=%v: %s lists %x (%v), want %x", shared, who, ids, err, want)
			}
		}
		if ids, _ := k.KeyIDs(withKey); !slices.Equal(ids, []uint32{0xdeadbeef}) {
			t.Errorf("keyring_shared=%v: own key listed as %x", shared, ids)
		}
		// add_key of the same certificate from inside: replaced, not doubled.
		a, _, _ := k.TaskNamespaces(withKey)
		if err := k.Setns(self(), a, true); err != nil {
			t.Fatal(err)
		}
		serial, err := k.AddKey(self(), der)
		if err != nil {
			t.Fatal(err)
		}
		infos, _ := k.Namespaces()
		for _, info := range infos {
			if info.ID == a && !slices.Equal(info.KeyIDs, []uint32{0xdeadbeef}) {
				t.Errorf("keys after adding the same certificate again: %x", info.KeyIDs)
			}
		}
		var got int32
		k.tx(func(s *state) error { got = s.ns(a).Keys[0].Serial; return nil })
		if got != serial {
			t.Errorf("add_key returned serial %d, the keyring holds %d", serial, got)
		}
		k.Setns(self(), InitialNS, true)
	}
}

// unsharedForForks starts the tests of what this process's forks do: a
// kernel that can tell its children (ns_last_pid) and a namespace it
// unshared.
func unsharedForForks(t *testing.T) (*Kernel, imansid.ID) {
	t.Helper()
	if lastPid() < 0 {
		t.Skip("no /proc/sys/kernel/ns_last_pid")
	}
	k := newKernel(t, DefaultSwitches())
	id, err := k.Unshare(self())
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}
