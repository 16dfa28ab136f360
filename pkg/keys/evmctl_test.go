package keys

// Cross-checks against evmctl (ima-evm-utils): evmctl writes security.ima,
// these tests read the attribute back with lgetxattr and decode and verify
// it; key ids must equal what evmctl put into the signature header.
//
// Needs: evmctl (apt-get install ima-evm-utils), root (security.* xattrs),
// a temp directory on a filesystem with xattrs (ext4, xfs, btrfs, tmpfs).

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// evmctlDir returns evmctl's path and a scratch directory where
// security.ima can be written, or skips with the reason.
func evmctlDir(t *testing.T) (string, string) {
	t.Helper()
	evmctl, err := exec.LookPath("evmctl")
	if err != nil {
		t.Skip("evmctl not installed (apt-get install ima-evm-utils)")
	}
	dir := t.TempDir()
	probe := filepath.Join(dir, "probe")
	writeFile(t, probe, []byte("probe"))
	if err := unix.Lsetxattr(probe, XattrName, []byte{0x04, 0x04}, 0); err != nil {
		t.Skipf("cannot write security.ima in %s (%v): run as root on a filesystem with xattrs", dir, err)
	}
	return evmctl, dir
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readDecode(t *testing.T, path string) Xattr {
	t.Helper()
	raw, err := ReadIMAXattr(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	x, err := DecodeIMAXattr(raw)
	if err != nil {
		t.Fatalf("%s: decode %x: %v", path, raw, err)
	}
	return x
}

func appraiseFile(t *testing.T, path string, certs []*Certificate, requireSig bool) error {
	t.Helper()
	x := readDecode(t, path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Appraise(x, f, certs, requireSig)
}

// TestEvmctlSignatures signs files with evmctl ima_sign for each key kind
// and hash algorithm, checks the key id in the header against ours, and
// verifies the signatures; tampering and a wrong key must fail with the
// matching error.
func TestEvmctlSignatures(t *testing.T) {
	evmctl, dir := evmctlDir(t)
	// kernelFinds: the kernel's keyring search matches the signature's key
	// id to the certificate (SKID tail). Without SKID it does not, though
	// evmctl ima_verify (which always uses calc_keyid_v2) accepts.
	specs := []struct {
		spec        keySpec
		algos       []string
		kernelFinds bool
	}{
		{keySpec{name: "rsa-skid-custom", algo: "rsa2048", skid: skidA}, []string{"sha256", "sha1", "sha512", "sha384", "sha224", "md5"}, true},
		{keySpec{name: "rsa-skid-hash", algo: "rsa2048", skidHash: true}, []string{"sha256"}, true},
		{keySpec{name: "rsa-noskid", algo: "rsa2048"}, []string{"sha256"}, false},
		{keySpec{name: "p256-skid-custom", algo: "p256", skid: []byte{0xde, 0xad, 0xbe, 0xef, 0x10, 0x20, 0x30, 0x40}}, []string{"sha256", "sha384"}, true},
		{keySpec{name: "p256-skid-hash", algo: "p256", skidHash: true}, []string{"sha256", "sha512"}, true},
		{keySpec{name: "p256-noskid", algo: "p256"}, []string{"sha256"}, false},
		{keySpec{name: "p384-skid-hash", algo: "p384", skidHash: true}, []string{"sha384"}, true},
	}
	other := makeCert(t, dir, keySpec{name: "other", algo: "rsa2048", skid: []byte{0xfe, 0xed, 0xfa, 0xce}})
	otherCert := mustLoad(t, other.der, Options{})
	for _, s := range specs {
		k := makeCert(t, dir, s.spec)
		noSKID := s.spec.skid == nil && !s.spec.skidHash
		cert := mustLoad(t, k.der, Options{AllowNoSKID: noSKID})
		for _, algo := range s.algos {
			name := s.spec.name + "/" + algo
			file := filepath.Join(dir, strings.ReplaceAll(name, "/", "_"))
			content := []byte("content of " + name + "\n")
			writeFile(t, file, content)
			args := []string{"ima_sign", "-a", algo, "--key", k.privPEM}
			if !noSKID {
				// evmctl 1.4 takes the SKID tail from --keyid-from-cert;
				// with a key file alone it uses calc_keyid_v2. (It
				// crashes on --keyid-from-cert with a cert lacking SKID.)
				args = append(args, "--keyid-from-cert", k.certPEM)
			}
			run(t, evmctl, append(args, file)...)
			x := readDecode(t, file)
			wantAlgo, _ := ParseHashAlgo(algo)
			if x.Type != XattrDigsig || x.SigVersion != 2 || x.HashAlgo != wantAlgo {
				t.Errorf("%s: decoded %v", name, x)
			}
			if x.KeyID != cert.KeyID {
				t.Errorf("%s: evmctl key id %08x, ours %s", name, x.KeyID, cert.KeyIDHex())
			} else {
				t.Logf("%s: evmctl key id %08x = ours (%s)", name, x.KeyID, cert.KeyIDFrom)
			}
			err := appraiseFile(t, file, []*Certificate{otherCert, cert}, true)
			switch {
			case s.kernelFinds && err != nil:
				t.Errorf("%s: good signature refused: %v", name, err)
			case !s.kernelFinds && !errors.Is(err, ErrUnknownKeyID):
				t.Errorf("%s: no-SKID key: want unknown key id (the kernel cannot find it), got %v", name, err)
			}
			// evmctl ima_verify looks keys up by calc_keyid_v2 of the
			// certificate, ignoring the SKID: it agrees with the kernel
			// when the SKID is the RFC 5280 method-1 hash, and accepts
			// no-SKID keys the kernel cannot find.
			out, verr := exec.Command(evmctl, "ima_verify", "--key", k.certDER, file).CombinedOutput()
			switch {
			case s.spec.skidHash && verr != nil:
				t.Errorf("%s: evmctl ima_verify failed: %v\n%s", name, verr, out)
			case noSKID && verr != nil:
				t.Errorf("%s: evmctl ima_verify failed on a no-SKID key: %v\n%s", name, verr, out)
			case noSKID:
				t.Logf("%s: evmctl ima_verify accepts, the kernel would not find the key (ours: unknown key id)", name)
			case s.spec.skid != nil:
				t.Logf("%s: evmctl ima_verify with custom SKID: err=%v (evmctl 1.4 matches by calc_keyid_v2)", name, verr)
			}
			if !s.kernelFinds {
				continue
			}
			if err := appraiseFile(t, file, []*Certificate{otherCert}, true); !errors.Is(err, ErrUnknownKeyID) ||
				!strings.Contains(err.Error(), fmt.Sprintf("unknown key id %08x", x.KeyID)) {
				t.Errorf("%s: wrong key: %v", name, err)
			}
			// Tamper: same length, one byte changed.
			tampered := bytes.Clone(content)
			tampered[0] ^= 1
			f, err := os.OpenFile(file, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(tampered, 0); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if err := appraiseFile(t, file, []*Certificate{cert}, true); !errors.Is(err, ErrBadSignature) {
				t.Errorf("%s: tampered file: %v", name, err)
			}
			if s.spec.skidHash {
				if out, err := exec.Command(evmctl, "ima_verify", "--key", k.certDER, file).CombinedOutput(); err == nil {
					t.Errorf("%s: evmctl accepted the tampered file:\n%s", name, out)
				}
			}
		}
	}
}

// TestEvmctlKeyIDFromKeyFile: evmctl also takes the key id from a
// certificate appended to the private key file.
func TestEvmctlKeyIDFromKeyFile(t *testing.T) {
	evmctl, dir := evmctlDir(t)
	k := makeCert(t, dir, keySpec{name: "bundle", algo: "rsa2048", skid: []byte{0x55, 0x66, 0x77, 0x88, 0x12, 0x34, 0x56, 0x78}})
	key, _ := os.ReadFile(k.privPEM)
	crt, _ := os.ReadFile(k.certPEM)
	bundle := filepath.Join(dir, "bundle.pem")
	writeFile(t, bundle, append(key, crt...))
	file := filepath.Join(dir, "f")
	writeFile(t, file, []byte("x"))
	run(t, evmctl, "ima_sign", "--key", bundle, file)
	x := readDecode(t, file)
	c := mustLoad(t, k.der, Options{})
	if x.KeyID != 0x12345678 || c.KeyID != x.KeyID {
		t.Errorf("evmctl %08x ours %s want 12345678", x.KeyID, c.KeyIDHex())
	}
	// The bundle is PEM with a private key first: LoadCertificate finds
	// the one certificate in it.
	cb, err := LoadCertificate(append(key, crt...))
	if err != nil || cb.KeyID != x.KeyID {
		t.Fatalf("bundle: %v %v", cb, err)
	}
	if len(cb.Warnings) != 1 || !strings.Contains(cb.Warnings[0], "private key") {
		t.Errorf("bundle warnings %v", cb.Warnings)
	}
}

// TestEvmctlHashes: evmctl ima_hash writes 0x01 for sha1 and 0x04+algo
// otherwise; VerifyDigest must accept them and refuse tampered content.
func TestEvmctlHashes(t *testing.T) {
	evmctl, dir := evmctlDir(t)
	for _, algo := range []string{"sha1", "sha224", "sha256", "sha384", "sha512"} {
		file := filepath.Join(dir, "h-"+algo)
		writeFile(t, file, bytes.Repeat([]byte(algo), 100000)) // > one hash buffer
		run(t, evmctl, "ima_hash", "-a", algo, file)
		x := readDecode(t, file)
		wantType := XattrDigestNG
		if algo == "sha1" {
			wantType = XattrDigest
		}
		if x.Type != wantType || x.HashAlgo.String() != algo {
			t.Errorf("%s: decoded %v", algo, x)
		}
		if err := appraiseFile(t, file, nil, false); err != nil {
			t.Errorf("%s: %v", algo, err)
		}
		if err := appraiseFile(t, file, nil, true); !errors.Is(err, ErrHashOnly) {
			t.Errorf("%s: hash where signature required: %v", algo, err)
		}
		if sum, err := HashFile(file, x.HashAlgo); err != nil || !bytes.Equal(sum, x.Digest) {
			t.Errorf("%s: HashFile %x %v, xattr %x", algo, sum, err, x.Digest)
		}
		f, _ := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
		f.Write([]byte("!"))
		f.Close()
		if err := appraiseFile(t, file, nil, false); !errors.Is(err, ErrWrongHash) {
			t.Errorf("%s: tampered: %v", algo, err)
		}
	}
	// No xattr at all.
	bare := filepath.Join(dir, "bare")
	writeFile(t, bare, []byte("x"))
	if _, err := ReadIMAXattr(bare); !errors.Is(err, ErrNoXattr) {
		t.Errorf("bare file: %v", err)
	}
	f, _ := os.Open(bare)
	defer f.Close()
	if _, err := ReadIMAXattrFile(f); !errors.Is(err, ErrNoXattr) {
		t.Errorf("bare file (fd): %v", err)
	}
}
