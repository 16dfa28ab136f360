package keys

// SM2/SM3 (issue 13.2): the kept vectors in testdata/sm2 were written by
// evmctl and OpenSSL (testdata/gen-sm2.sh); these tests need neither.
// TestEvmctlSM2 below repeats the cross-check live, in both directions,
// when evmctl and OpenSSL are installed.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/sys/unix"
)

func sm2Vector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sm2", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sm2Cert(t *testing.T) *Certificate {
	t.Helper()
	c, err := LoadCertificate(sm2Vector(t, "cert.der"))
	if err != nil {
		t.Fatalf("SM2 certificate refused: %v", err)
	}
	return c
}

// The certificate OpenSSL made is accepted as an SM2 key, with the key id
// evmctl wrote into its signature (the SKID tail), in DER and PEM.
func TestSM2Certificate(t *testing.T) {
	c := sm2Cert(t)
	x, err := DecodeIMAXattr(sm2Vector(t, "sig-sm3.ima"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Algo != "sm2" || c.Bits != 256 || c.KeyIDFrom != "skid" || !strings.Contains(c.Requires, "CONFIG_CRYPTO_SM2") {
		t.Errorf("certificate: %+v", c)
	}
	if c.KeyID != x.KeyID || !c.KernelMatches(x.KeyID) {
		t.Errorf("key id %s, evmctl signed with %08x", c.KeyIDHex(), x.KeyID)
	}
	if _, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || !sm2.IsSM2PublicKey(c.PublicKey) {
		t.Errorf("public key %T is not SM2", c.PublicKey)
	}
	p, err := LoadCertificate(sm2Vector(t, "cert.pem"))
	if err != nil || !p.FromPEM || p.KeyID != c.KeyID || !bytes.Equal(p.DER, c.DER) {
		t.Errorf("PEM: %v %+v", err, p)
	}
	// calc_keyid_v2 (what evmctl uses without a certificate) gives the
	// same id for openssl's subjectKeyIdentifier=hash.
	sx, _ := sm2ParseSPKI(t, c.DER)
	if id, err := PubKeyKeyID(sx); err != nil || id != x.KeyID {
		t.Errorf("calc_keyid_v2 %08x (%v), evmctl %08x", id, err, x.KeyID)
	}
}

func sm2ParseSPKI(t *testing.T, der []byte) ([]byte, error) {
	t.Helper()
	el, err := tbsElements(der)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	if el[0].Tag == 0 {
		i = 1
	}
	return el[i+5].FullBytes, nil
}

// A self-signed SM2 certificate whose signature does not verify (with the
// default user id, as x509_check_for_self_signed does) is refused: the
// kernel's add_key would reject it.
func TestSM2CertificateBadSelfSignature(t *testing.T) {
	// OpenSSL 3 without -sigopt distid: signed with an empty id.
	_, err := LoadCertificate(sm2Vector(t, "cert-noid.der"))
	if err == nil || !strings.Contains(err.Error(), "EKEYREJECTED") || !strings.Contains(err.Error(), "distid:1234567812345678") {
		t.Errorf("certificate signed with an empty id: %v", err)
	}
	der := append([]byte(nil), sm2Vector(t, "cert.der")...)
	der[len(der)-5] ^= 0x01 // inside the signature value
	_, err = LoadCertificate(der)
	if err == nil || !strings.Contains(err.Error(), "EKEYREJECTED") {
		t.Fatalf("tampered self-signature: %v", err)
	}
}

// evmctl's SM2 signature over the sm3 digest verifies; a tampered
// content, the ZA-prefixed form, an SM2 signature over sha256 and a wrong
// key all fail, each as the kernel fails them.
func TestSM2SignatureVectors(t *testing.T) {
	c := sm2Cert(t)
	content := sm2Vector(t, "content")
	evmctlResult := string(sm2Vector(t, "evmctl-verify.txt"))
	if evmctlResult != "content 0\ntampered 1\n" {
		t.Fatalf("evmctl's verdicts when the vectors were made: %q", evmctlResult)
	}
	decode := func(name string) Xattr {
		x, err := DecodeIMAXattr(sm2Vector(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return x
	}
	sig := decode("sig-sm3.ima")
	if sig.Type != XattrDigsig || sig.SigVersion != 2 || sig.HashAlgo != HashSM3 {
		t.Fatalf("evmctl's value decodes to %v", sig)
	}
	if err := Appraise(sig, bytes.NewReader(content), []*Certificate{c}, true); err != nil {
		t.Errorf("evmctl's SM2 signature (evmctl: verifies) refused: %v", err)
	}
	tampered := append(append([]byte(nil), content...), 'x')
	if err := Appraise(sig, bytes.NewReader(tampered), []*Certificate{c}, true); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered content (evmctl: fails): %v", err)
	}
	// The same key signing SM3(ZA || content): valid SM2, but not what
	// IMA verifies.
	za := decode("sig-za.ima")
	if err := Appraise(za, bytes.NewReader(content), []*Certificate{c}, true); !errors.Is(err, ErrBadSignature) {
		t.Errorf("ZA-prefixed signature accepted: %v", err)
	}
	if !sm2.VerifyASN1WithSM2(c.PublicKey.(*ecdsa.PublicKey), nil, content, za.Sig) {
		t.Errorf("the ZA vector is not a valid SM2 signature with the default id: the test above proves nothing")
	}
	// SM2 over a sha256 digest: mathematically valid, refused by the
	// algorithm pairing.
	s256 := decode("sig-sha256.ima")
	err := Appraise(s256, bytes.NewReader(content), []*Certificate{c}, true)
	if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "sm3 digests only") {
		t.Errorf("SM2 with sha256: %v", err)
	}
	d256, _ := HashReader(bytes.NewReader(content), HashSHA256)
	if !sm2.VerifyASN1(c.PublicKey.(*ecdsa.PublicKey), d256, s256.Sig) {
		t.Errorf("the sha256 vector is not a valid SM2 signature: the test above proves nothing")
	}
	// A different SM2 key under the same key id.
	other, _ := sm2.GenerateKey(rand.Reader)
	impostor := *c
	impostor.PublicKey = &other.PublicKey
	if err := Appraise(sig, bytes.NewReader(content), []*Certificate{&impostor}, true); !errors.Is(err, ErrBadSignature) {
		t.Errorf("wrong key: %v", err)
	}
}

// An sm3 IMA_XATTR_DIGEST_NG value (algo id 17, evmctl ima_hash
// --hashalgo sm3) is computed and compared with gmsm's SM3.
func TestSM3HashVector(t *testing.T) {
	content := sm2Vector(t, "content")
	raw := sm2Vector(t, "hash-sm3.ima")
	if raw[0] != 0x04 || raw[1] != 17 {
		t.Fatalf("evmctl's sm3 hash value starts %x", raw[:2])
	}
	x, err := DecodeIMAXattr(raw)
	if err != nil || x.HashAlgo != HashSM3 {
		t.Fatalf("%v %v", x, err)
	}
	sum := sm3.Sum(content)
	if !bytes.Equal(x.Digest, sum[:]) {
		t.Fatalf("evmctl's sm3 %x, gmsm %x", x.Digest, sum)
	}
	if err := VerifyDigest(x, bytes.NewReader(content)); err != nil {
		t.Errorf("sm3 hash: %v", err)
	}
	if err := VerifyDigest(x, bytes.NewReader(append(content, 'x'))); !errors.Is(err, ErrWrongHash) || !strings.Contains(err.Error(), "sm3:") {
		t.Errorf("tampered: %v", err)
	}
	if err := Appraise(x, bytes.NewReader(content), nil, false); err != nil {
		t.Errorf("Appraise: %v", err)
	}
	// SM3 test vector of GB/T 32905-2016 (A.1): "abc".
	if d, _ := HashReader(strings.NewReader("abc"), HashSM3); string(hexs(d)) != "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0" {
		t.Errorf("sm3(abc) = %x", d)
	}
}

func hexs(b []byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return out
}

// An RSA key with an sm3 signature header: the kernel's pkcs1pad has no
// DigestInfo for sm3, so no kernel verifies it.
func TestRSAWithSM3Refused(t *testing.T) {
	k := makeCert(t, "", keySpec{name: "rsa", algo: "rsa2048", skid: skidA})
	c := mustLoad(t, k.der, Options{})
	v := []byte{0x03, 0x02, byte(HashSM3), 0, 0, 0, 0, 0, 1, 0xaa}
	binary.BigEndian.PutUint32(v[3:7], c.KeyID)
	x, err := DecodeIMAXattr(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := Appraise(x, strings.NewReader("x"), []*Certificate{c}, true); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "DigestInfo") {
		t.Errorf("RSA+sm3: %v", err)
	}
}

// TestEvmctlSM2 is the live cross-check in both directions: a fresh SM2
// key and certificate from OpenSSL, a file signed by evmctl verifies
// here and with evmctl; a signature made here (gmsm) verifies with
// evmctl ima_verify; after tampering both refuse both.
func TestEvmctlSM2(t *testing.T) {
	evmctl, dir := evmctlDir(t)
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	key, crt := filepath.Join(dir, "sm2.pem"), filepath.Join(dir, "sm2.der")
	if out, err := exec.Command("openssl", "genpkey", "-algorithm", "SM2", "-out", key).CombinedOutput(); err != nil {
		t.Skipf("openssl cannot make SM2 keys here: %v %s", err, out)
	}
	run(t, "openssl", "req", "-new", "-x509", "-key", key, "-sm3", "-sigopt", "distid:1234567812345678", "-subj", "/CN=sm2-live", "-addext", "subjectKeyIdentifier=hash", "-days", "2", "-outform", "DER", "-out", crt)
	der, _ := os.ReadFile(crt)
	cert, err := LoadCertificate(der)
	if err != nil {
		t.Fatalf("fresh SM2 certificate: %v", err)
	}
	evmctlOK := func(file string) bool {
		return exec.Command(evmctl, "ima_verify", "--key", crt, file).Run() == nil
	}

	// evmctl signs, we verify.
	signed := filepath.Join(dir, "signed")
	writeFile(t, signed, []byte("signed by evmctl\n"))
	run(t, evmctl, "ima_sign", "--hashalgo", "sm3", "--key", key, signed)
	if x := readDecode(t, signed); x.KeyID != cert.KeyID || x.HashAlgo != HashSM3 {
		t.Errorf("evmctl wrote %v, our key id %s", x, cert.KeyIDHex())
	}
	if err := appraiseFile(t, signed, []*Certificate{cert}, true); err != nil || !evmctlOK(signed) {
		t.Errorf("evmctl-signed file: ours %v, evmctl ok %v", err, evmctlOK(signed))
	}

	// We sign (gmsm, over the sm3 digest as the kernel verifies), evmctl verifies.
	ours := filepath.Join(dir, "ours")
	content := []byte("signed by ima-hook's test\n")
	writeFile(t, ours, content)
	pemKey, _ := os.ReadFile(key)
	priv := parseSM2Key(t, pemKey)
	d := sm3.Sum(content)
	s, err := sm2.SignASN1(rand.Reader, priv, d[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	v := []byte{0x03, 0x02, byte(HashSM3), 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(v[3:7], cert.KeyID)
	binary.BigEndian.PutUint16(v[7:9], uint16(len(s)))
	if err := unix.Lsetxattr(ours, XattrName, append(v, s...), 0); err != nil {
		t.Fatal(err)
	}
	if !evmctlOK(ours) {
		out, _ := exec.Command(evmctl, "ima_verify", "--key", crt, ours).CombinedOutput()
		t.Errorf("evmctl refuses our SM2 signature:\n%s", out)
	}
	if err := appraiseFile(t, ours, []*Certificate{cert}, true); err != nil {
		t.Errorf("our own signature: %v", err)
	}

	// Tampered: both refuse, for both files.
	for _, f := range []string{signed, ours} {
		fh, err := os.OpenFile(f, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.WriteString("tampered")
		fh.Close()
		if err := appraiseFile(t, f, []*Certificate{cert}, true); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s tampered: ours %v", filepath.Base(f), err)
		}
		if evmctlOK(f) {
			t.Errorf("%s tampered: evmctl still verifies it", filepath.Base(f))
		}
	}
}

func parseSM2Key(t *testing.T, pemData []byte) *sm2.PrivateKey {
	t.Helper()
	b, _ := pem.Decode(pemData)
	if b == nil {
		t.Fatal("no PEM block in the SM2 key")
	}
	k, err := smx509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := k.(*sm2.PrivateKey)
	if !ok {
		t.Fatalf("key is %T", k)
	}
	return priv
}

// An ECDSA key with an sm3 (or md5) header: the kernel takes ECDSA only
// with sha1, sha2 and sha3 digests, whatever the mathematics say.
func TestECDSAWithSM3Refused(t *testing.T) {
	k := makeCert(t, "", keySpec{name: "p256", algo: "p256", skidHash: true})
	c := mustLoad(t, k.der, Options{})
	content := []byte("ecdsa over sm3\n")
	for _, algo := range []HashAlgo{HashSM3, HashMD5} {
		d, _ := HashReader(bytes.NewReader(content), algo)
		sig, err := ecdsa.SignASN1(rand.Reader, k.priv.(*ecdsa.PrivateKey), d)
		if err != nil {
			t.Fatal(err)
		}
		v := []byte{0x03, 0x02, byte(algo), 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(v[3:7], c.KeyID)
		binary.BigEndian.PutUint16(v[7:9], uint16(len(sig)))
		x, err := DecodeIMAXattr(append(v, sig...))
		if err != nil {
			t.Fatal(err)
		}
		if err := Appraise(x, bytes.NewReader(content), []*Certificate{c}, true); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "ECDSA key signs sha1, sha2 or sha3") {
			t.Errorf("ECDSA+%s: %v", algo, err)
		}
	}
}
