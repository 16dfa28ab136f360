package keys

// Kernel cross-checks: the running kernel's own asymmetric key parser and
// keyring search (the "id:%08x" lookup IMA's request_asymmetric_key uses)
// judge the certificates and key ids this package computes. Each test runs
// on a locked OS thread inside a fresh anonymous session keyring, so it
// neither sees nor changes the keyrings of the machine.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// scratchKeyring joins a new anonymous session keyring on the calling
// (locked) thread and creates a keyring in it. The session keyring dies
// with the thread's credentials, which LockOSThread without Unlock
// discards at the end of the test goroutine.
func scratchKeyring(t *testing.T) int32 {
	t.Helper()
	runtime.LockOSThread() // never unlocked: the thread exits with the test goroutine
	if err := joinAnonymousSession(); err != nil {
		t.Skipf("keyrings unavailable (%v): the kernel needs CONFIG_KEYS", err)
	}
	ring, err := unix.AddKey("keyring", "ima-hook-test", nil, unix.KEY_SPEC_SESSION_KEYRING)
	if err != nil {
		t.Skipf("cannot create a keyring: %v", err)
	}
	return int32(ring)
}

// joinAnonymousSession is KEYCTL_JOIN_SESSION_KEYRING with a NULL name:
// a new, unnamed session keyring for the calling thread.
func joinAnonymousSession() error {
	_, err := unix.KeyctlInt(unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0)
	return err
}

func procKeyLine(t *testing.T, serial int32) ProcKey {
	t.Helper()
	f, err := os.Open("/proc/keys")
	if err != nil {
		t.Skipf("/proc/keys: %v", err)
	}
	defer f.Close()
	keys, err := ParseProcKeys(f)
	if err != nil {
		t.Fatalf("parsing the real /proc/keys: %v", err)
	}
	for _, k := range keys {
		if k.Serial == serial {
			return k
		}
	}
	t.Fatalf("key %08x not in /proc/keys", serial)
	return ProcKey{}
}

// addOrSkip adds der and skips when the kernel lacks the asymmetric type.
func addOrSkip(t *testing.T, der []byte, ring int32) (int32, error) {
	t.Helper()
	s, err := AddCertToKeyring(der, ring)
	if errors.Is(err, unix.ENODEV) {
		t.Skip("kernel lacks the asymmetric key type (CONFIG_ASYMMETRIC_KEY_TYPE, CONFIG_X509_CERTIFICATE_PARSER)")
	}
	return s, err
}

func TestKernelKeyIDMatches(t *testing.T) {
	ring := scratchKeyring(t)
	cases := []struct {
		spec keySpec
	}{
		{keySpec{name: "skid-custom", algo: "rsa2048", skid: skidA}},
		{keySpec{name: "skid-hash", algo: "rsa2048", skidHash: true}},
		{keySpec{name: "noskid", algo: "rsa2048", issuer: "issuer-AAAA"}},
		{keySpec{name: "noskid-self", algo: "rsa2048", serial: 0x0a0b0c0d0e}},
	}
	for _, tc := range cases {
		k := makeCert(t, "", tc.spec)
		c := mustLoad(t, k.der, Options{AllowNoSKID: true})
		serial, err := addOrSkip(t, k.der, ring)
		if err != nil {
			t.Fatalf("%s: add_key: %v", tc.spec.name, explainAddKey(err, "test"))
		}
		pk := procKeyLine(t, serial)
		if !strings.HasPrefix(pk.Type, "asymmetri") {
			t.Errorf("%s: /proc/keys type %q", tc.spec.name, pk.Type)
		}
		// The kernel's own lookup by the evmctl key id.
		found, err := SearchKeyID(ring, c.KeyID)
		kernelFinds := err == nil && found == serial
		if kernelFinds != c.KernelMatches(c.KeyID) {
			t.Errorf("%s: kernel finds key id %s: %v, KernelMatches says %v", tc.spec.name, c.KeyIDHex(), kernelFinds, c.KernelMatches(c.KeyID))
		}
		if c.SKID != nil {
			if !kernelFinds {
				t.Errorf("%s: kernel does not find key id %s (%v)", tc.spec.name, c.KeyIDHex(), err)
			}
			// asymmetric_key_describe prints the SKID tail.
			if !strings.Contains(pk.Info, "X509.rsa "+c.KeyIDHex()) {
				t.Errorf("%s: /proc/keys info %q lacks %s", tc.spec.name, pk.Info, c.KeyIDHex())
			}
			t.Logf("%s: kernel finds id:%s, /proc/keys %q", tc.spec.name, c.KeyIDHex(), pk.Info)
		} else {
			if kernelFinds {
				t.Errorf("%s: kernel unexpectedly finds the calc_keyid_v2 id %s", tc.spec.name, c.KeyIDHex())
			}
			// What the kernel does match: the issuer tail.
			found, err := SearchKeyID(ring, c.issuerTail)
			if err != nil || found != serial || !c.KernelMatches(c.issuerTail) {
				t.Errorf("%s: issuer tail %08x: found %v %v", tc.spec.name, c.issuerTail, found, err)
			}
			t.Logf("%s: kernel does not find calc_keyid_v2 id %s; finds issuer tail %08x", tc.spec.name, c.KeyIDHex(), c.issuerTail)
		}
		// A key id nobody has.
		if _, err := SearchKeyID(ring, c.KeyID^0xffffffff); err == nil && !c.KernelMatches(c.KeyID^0xffffffff) {
			t.Errorf("%s: kernel finds an unrelated id", tc.spec.name)
		}
	}
}

// TestKernelRSASizes: the sizes LoadCertificate accepts are the ones the
// kernel accepts (rsa_check_key_length), at least for these samples.
func TestKernelRSASizes(t *testing.T) {
	ring := scratchKeyring(t)
	for _, algo := range []string{"rsa1024", "rsa1032", "rsa2048"} {
		k := makeCert(t, "", keySpec{name: "size-" + algo, algo: algo, skid: skidA})
		_, ourErr := LoadCertificate(k.der)
		_, kerr := addOrSkip(t, k.der, ring)
		if (ourErr == nil) != (kerr == nil) {
			t.Errorf("%s: LoadCertificate err=%v, kernel add_key err=%v", algo, ourErr, kerr)
		}
		if kerr != nil && !errors.Is(kerr, unix.EINVAL) {
			t.Errorf("%s: kernel refused with %v, want EINVAL", algo, kerr)
		}
	}
}

func TestKernelECDSA(t *testing.T) {
	ring := scratchKeyring(t)
	k := makeCert(t, "", keySpec{name: "ec", algo: "p256", skid: skidA})
	c := mustLoad(t, k.der, Options{})
	serial, err := addOrSkip(t, k.der, ring)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOPKG) {
		msg := explainAddKey(err, "test").Error()
		if !strings.Contains(msg, "CONFIG_CRYPTO_ECDSA") {
			t.Errorf("explanation %q does not name CONFIG_CRYPTO_ECDSA", msg)
		}
		t.Skipf("kernel lacks ECDSA (%v): %s", err, msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	if found, err := SearchKeyID(ring, c.KeyID); err != nil || found != serial {
		t.Errorf("kernel does not find ECDSA key id %s: %v", c.KeyIDHex(), err)
	}
}

// TestAddToKeyringIMA exercises the ".ima" path with a /proc/keys fixture
// whose ".ima" line names our scratch keyring.
func TestAddToKeyringIMA(t *testing.T) {
	ring := scratchKeyring(t)
	k := makeCert(t, "", keySpec{name: "ima", algo: "rsa2048", skid: skidA})
	fixture := filepath.Join(t.TempDir(), "keys")
	writeFile(t, fixture, []byte(fmt.Sprintf(
		"02639d80 I--Q---     2 perm 1f3f0000     0 65534 keyring   _uid.0: empty\n"+
			"%08x I------     1 perm 1f0f0000     0     0 keyring   .ima: empty\n", ring)))
	kr := Keyrings{ProcKeys: fixture}
	for _, mode := range []string{".ima", "auto"} {
		serial, used, err := kr.AddToKeyring(k.der, mode)
		if errors.Is(err, unix.ENODEV) {
			t.Skip("kernel lacks the asymmetric key type")
		}
		if err != nil || used != ".ima" {
			t.Fatalf("mode %s: %v %q", mode, err, used)
		}
		if found, err := SearchKeyID(ring, 0xaabbccdd); err != nil || found != serial {
			t.Errorf("mode %s: key not in the keyring: %v", mode, err)
		}
	}
	// No .ima line: mode .ima explains, mode auto falls back (tested in
	// the user-namespace test, which may create _ima).
	writeFile(t, fixture, []byte("02639d80 I--Q---     2 perm 1f3f0000     0 65534 keyring   _uid.0: empty\n"))
	_, _, err := kr.AddToKeyring(k.der, ".ima")
	if err == nil || !strings.Contains(err.Error(), "CONFIG_INTEGRITY_TRUSTED_KEYRING") {
		t.Errorf("missing .ima: %v", err)
	}
	if ok, err := kr.HasSystemIMAKeyring(); ok || err != nil {
		t.Errorf("HasSystemIMAKeyring = %v %v", ok, err)
	}
	if _, _, err := kr.AddToKeyring(k.der, "bogus"); err == nil || !strings.Contains(err.Error(), `unknown mode "bogus"`) {
		t.Errorf("bogus mode: %v", err)
	}
}

// TestAddToKeyringUnderscoreIMA runs in a child process in a new user
// namespace, whose user keyring (@u) is its own: creating "_ima" there does
// not touch the machine's root user keyring.
func TestAddToKeyringUnderscoreIMA(t *testing.T) {
	if os.Getenv("IMAHOOK_KEYS_USERNS_CHILD") == "1" {
		underscoreIMAChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAddToKeyringUnderscoreIMA$", "-test.v")
	cmd.Env = append(os.Environ(), "IMAHOOK_KEYS_USERNS_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(err.Error(), "operation not permitted") {
		t.Skipf("cannot create a user namespace here: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Skipf("child skipped:\n%s", out)
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
}

func underscoreIMAChild(t *testing.T) {
	runtime.LockOSThread()
	// A fresh session keyring linking nothing: _ima must then be found
	// through @u, where it is created.
	if err := joinAnonymousSession(); err != nil {
		t.Skipf("keyrings unavailable: %v", err)
	}
	uring, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_USER_KEYRING, true)
	if err != nil {
		t.Skipf("no user keyring: %v", err)
	}
	if _, err := unix.KeyctlSearch(uring, "keyring", "_ima", 0); err == nil {
		t.Fatalf("the new user namespace's @u already has _ima")
	}
	k := makeCert(t, "", keySpec{name: "uima", algo: "rsa2048", skid: skidA})
	kr := Keyrings{ProcKeys: filepath.Join(t.TempDir(), "no-ima")}
	writeFile(t, kr.ProcKeys, nil)
	serial, used, err := kr.AddToKeyring(k.der, "auto")
	if errors.Is(err, unix.ENODEV) {
		t.Skip("kernel lacks the asymmetric key type")
	}
	if err != nil || used != "_ima" {
		t.Fatalf("auto without .ima: %v %q", err, used)
	}
	ima, err := unix.KeyctlSearch(uring, "keyring", "_ima", 0)
	if err != nil {
		t.Fatalf("_ima not created in @u: %v", err)
	}
	// The key is not possessed from this session (its owner may read the
	// keyring, not search the key), so list the keyring instead.
	if !keyringContains(t, ima, serial) {
		t.Fatalf("key %d not in _ima", serial)
	}
	// A second add finds the same keyring instead of creating another.
	k2 := makeCert(t, "", keySpec{name: "uima2", algo: "rsa2048", skid: []byte{1, 1, 1, 1}})
	serial2, used, err := kr.AddToKeyring(k2.der, "_ima")
	if err != nil || used != "_ima" {
		t.Fatalf("second add: %v", err)
	}
	again, err := FindOrCreateUnderscoreIMA()
	if err != nil || int(again) != ima {
		t.Fatalf("second lookup %d, first %d: %v", again, ima, err)
	}
	if !keyringContains(t, ima, serial2) || !keyringContains(t, ima, serial) {
		t.Fatalf("_ima does not hold both keys")
	}
	d, _ := DescribeKey(int32(ima))
	t.Logf("_ima keyring %d (%s) holds both keys", ima, d)
}

// keyringContains lists a keyring (KEYCTL_READ: an array of serials).
func keyringContains(t *testing.T, ring int, serial int32) bool {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, ring, buf, 0)
	if err != nil {
		t.Fatalf("reading keyring %d: %v", ring, err)
	}
	for i := 0; i+4 <= n && i+4 <= len(buf); i += 4 {
		if int32(binary.NativeEndian.Uint32(buf[i:])) == serial {
			return true
		}
	}
	return false
}

// The keyring is found by parsing /proc/keys, not by a string match: a key
// of another type whose description holds " .ima: " is not the keyring
// (the string match pkg/ns used before took it for one).
func TestAppraisalKeyring(t *testing.T) {
	fixture := filepath.Join(t.TempDir(), "keys")
	kr := Keyrings{ProcKeys: fixture}
	for _, c := range []struct{ keys, want string }{
		{"02639d80 I--Q---     2 perm 1f3f0000     0 65534 keyring   _uid.0: empty\n" +
			"1b2c3d4e I------     1 perm 1f0f0000     0     0 keyring   .ima: 1\n", KeyringIMA},
		{"02639d80 I--Q---     2 perm 1f3f0000     0 65534 keyring   _uid.0: empty\n" +
			"1b2c3d4f I--Q---     1 perm 3f010000     0     0 user      my .ima: 5\n", KeyringUnderscoreIMA},
		{"", KeyringUnderscoreIMA},
		{"not a /proc/keys line\n", ""},
	} {
		writeFile(t, fixture, []byte(c.keys))
		if got := kr.AppraisalKeyring(); got != c.want {
			t.Errorf("%q: got %q, want %q", c.keys, got, c.want)
		}
	}
	if got := (Keyrings{ProcKeys: filepath.Join(t.TempDir(), "missing")}).AppraisalKeyring(); got != "" {
		t.Errorf("unreadable /proc/keys: %q", got)
	}
}
