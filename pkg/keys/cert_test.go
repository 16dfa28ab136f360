package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/safefile"
)

var skidA = []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0xaa, 0xbb, 0xcc, 0xdd}

func TestLoadCertificateDERandPEM(t *testing.T) {
	k := makeCert(t, "", keySpec{name: "rsa", algo: "rsa2048", skid: skidA})
	c, err := LoadCertificate(k.der)
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyID != 0xaabbccdd || c.KeyIDHex() != "aabbccdd" || c.KeyIDFrom != "skid" {
		t.Errorf("keyid %s from %s, want aabbccdd from skid", c.KeyIDHex(), c.KeyIDFrom)
	}
	if c.Algo != "rsa-2048" || c.Bits != 2048 || c.FromPEM {
		t.Errorf("algo %s bits %d fromPEM %v", c.Algo, c.Bits, c.FromPEM)
	}
	if !bytes.Equal(c.SKID, skidA) || !strings.Contains(c.Subject, "ima-hook test rsa") {
		t.Errorf("skid %x subject %q", c.SKID, c.Subject)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("unexpected warnings %v", c.Warnings)
	}

	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.der})
	// PEM with a leading comment and another non-certificate block, as
	// "openssl x509 -text" output or a key+cert bundle would have.
	bundle := append([]byte("subject=CN = x\n"), p...)
	for _, in := range [][]byte{p, bundle} {
		cp, err := LoadCertificate(in)
		if err != nil {
			t.Fatal(err)
		}
		if !cp.FromPEM || !bytes.Equal(cp.DER, k.der) || cp.KeyID != c.KeyID {
			t.Errorf("PEM: fromPEM %v, DER equal %v, keyid %s", cp.FromPEM, bytes.Equal(cp.DER, k.der), cp.KeyIDHex())
		}
	}
}

func TestKeyIDWithoutSKID(t *testing.T) {
	k := makeCert(t, "", keySpec{name: "noskid", algo: "rsa2048"})
	_, err := LoadCertificate(k.der)
	if err == nil || !strings.Contains(err.Error(), "no subjectKeyIdentifier") || !strings.Contains(err.Error(), "subjectKeyIdentifier=hash") {
		t.Fatalf("no-SKID certificate: %v", err)
	}
	c := mustLoad(t, k.der, Options{AllowNoSKID: true})
	x, _ := x509.ParseCertificate(k.der)
	// calc_keyid_v2 by hand: SHA-1 over the RSAPublicKey DER (the BIT
	// STRING content), bytes 16..19.
	rsaPub := x509.MarshalPKCS1PublicKey(x.PublicKey.(*rsa.PublicKey))
	sum := sha1.Sum(rsaPub)
	if want := binary.BigEndian.Uint32(sum[16:]); c.KeyID != want || c.KeyIDFrom != "pubkey" {
		t.Errorf("keyid %s (%s), want %08x (pubkey)", c.KeyIDHex(), c.KeyIDFrom, want)
	}
	spki, _ := x509.MarshalPKIXPublicKey(x.PublicKey)
	if id, err := PubKeyKeyID(spki); err != nil || id != c.KeyID {
		t.Errorf("PubKeyKeyID %08x %v, want %s", id, err, c.KeyIDHex())
	}
	// The kernel matches such a key by its issuer name's tail, not by
	// the calc_keyid_v2 id (checked against the kernel in keyring tests).
	if c.KernelMatches(c.KeyID) {
		t.Errorf("no-SKID key claims a kernel match on its calc_keyid_v2 id")
	}
	tail := x.RawIssuer[len(x.RawIssuer)-4:]
	if !c.KernelMatches(binary.BigEndian.Uint32(tail)) {
		t.Errorf("no-SKID key does not match its issuer tail %x", tail)
	}
}

func TestShortSKID(t *testing.T) {
	k := makeCert(t, "", keySpec{name: "short", algo: "p256", skid: []byte{0xab, 0xcd}})
	_, err := LoadCertificate(k.der)
	if err == nil || !strings.Contains(err.Error(), "2-byte subjectKeyIdentifier") {
		t.Fatalf("short SKID: %v", err)
	}
	c := mustLoad(t, k.der, Options{AllowNoSKID: true})
	if c.KeyIDFrom != "pubkey" {
		t.Errorf("short SKID keyid from %s", c.KeyIDFrom)
	}
}

func TestECDSA(t *testing.T) {
	for _, tc := range []struct{ algo, want, req string }{
		{"p256", "ecdsa-p256", "5.13"},
		{"p384", "ecdsa-p384", "5.13"},
	} {
		k := makeCert(t, "", keySpec{name: tc.algo, algo: tc.algo, skid: []byte{9, 9, 9, 9, 1, 2, 3, 4}})
		c, err := LoadCertificate(k.der)
		if err != nil {
			t.Fatal(err)
		}
		if c.Algo != tc.want || c.KeyID != 0x01020304 || !strings.Contains(c.Requires, tc.req) {
			t.Errorf("%s: algo %s keyid %s requires %q", tc.algo, c.Algo, c.KeyIDHex(), c.Requires)
		}
	}
	k := makeCert(t, "", keySpec{name: "p224", algo: "p224", skid: skidA})
	if _, err := LoadCertificate(k.der); err == nil || !strings.Contains(err.Error(), "unsupported public key algorithm ECDSA curve P-224") {
		t.Errorf("P-224: %v", err)
	}
}

func TestRSASizes(t *testing.T) {
	k := makeCert(t, "", keySpec{name: "r1024", algo: "rsa1024", skid: skidA})
	c, err := LoadCertificate(k.der)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "FIPS") {
		t.Errorf("RSA-1024 warnings %v", c.Warnings)
	}
	k = makeCert(t, "", keySpec{name: "r1032", algo: "rsa1032", skid: skidA})
	if _, err := LoadCertificate(k.der); err == nil || !strings.Contains(err.Error(), "1032 bits") || !strings.Contains(err.Error(), "rsa_check_key_length") {
		t.Errorf("RSA-1032: %v", err)
	}
}

func TestEd25519Refused(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ed"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), SubjectKeyId: skidA}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadCertificate(der)
	if err == nil || !strings.Contains(err.Error(), "Ed25519") || !strings.Contains(err.Error(), "no EdDSA support") {
		t.Errorf("Ed25519: %v", err)
	}
}

func TestNotACertificate(t *testing.T) {
	k := makeCert(t, "", keySpec{name: "rsa", algo: "rsa2048", skid: skidA})
	p8, _ := x509.MarshalPKCS8PrivateKey(k.priv)
	p1 := x509.MarshalPKCS1PrivateKey(k.priv.(*rsa.PrivateKey))
	spki, _ := x509.MarshalPKIXPublicKey(k.priv.Public())
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.der})
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty certificate"},
		{"garbage", []byte("hello world"), "neither DER nor PEM"},
		{"pkcs8 DER", p8, "got a private key"},
		{"pkcs1 DER", p1, "got a private key"},
		{"pkcs8 PEM", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), "got a PEM PRIVATE KEY"},
		{"rsa PEM", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: p1}), "got a PEM RSA PRIVATE KEY"},
		{"pubkey DER", spki, "got a bare public key"},
		{"pubkey PEM", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), "got a PEM PUBLIC KEY"},
		{"two certs", append(append([]byte{}, certPEM...), certPEM...), "holds 2 certificates"},
		{"trailing", append(append([]byte{}, k.der...), 0, 0), "2 unexpected bytes after the certificate at offset"},
		{"truncated", k.der[:len(k.der)-10], "not an X.509 certificate"},
		{"broken PEM", []byte("-----BEGIN CERTIFICATE-----\n!!!\n"), "no decodable PEM block"},
		{"too big", bytes.Repeat([]byte{0x30}, MaxCertSize+1), "more than the limit"},
	}
	for _, tc := range cases {
		_, err := LoadCertificate(tc.in)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		var ue *userror.Error
		if !errors.As(err, &ue) || ue.Fix == "" {
			t.Errorf("%s: error without a fix: %v", tc.name, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q does not say %q", tc.name, err, tc.want)
		}
	}
}

func TestExpiredWarning(t *testing.T) {
	k := makeCert(t, "", keySpec{name: "old", algo: "p256", skid: skidA, expire: -time.Minute})
	c, err := LoadCertificate(k.der)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "expired") {
		t.Errorf("warnings %v", c.Warnings)
	}
}

func TestLoadCertificateFile(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "keys")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	k := makeCert(t, dir, keySpec{name: "ok", algo: "p256", skid: skidA})
	c, err := LoadCertificateFile(dir, k.certDER, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != k.certDER || c.KeyID != 0xaabbccdd {
		t.Errorf("path %q keyid %s", c.Path, c.KeyIDHex())
	}
	if err := os.Symlink("../outside.der", filepath.Join(dir, "esc.der")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(base, "outside.der"), k.der)
	_, err = LoadCertificateFile(dir, filepath.Join(dir, "esc.der"), 0)
	if !errors.Is(err, safefile.ErrEscape) || !strings.HasPrefix(userror.Line(err), "ima-hook: "+filepath.Join(dir, "esc.der")+": ") {
		t.Errorf("escape: %v", userror.Line(err))
	}
	_, err = LoadCertificateFile(dir, k.privPEM, 0)
	if err == nil || !strings.HasPrefix(userror.Line(err), "ima-hook: "+k.privPEM+": not an X.509 certificate (got a PEM PRIVATE KEY)") {
		t.Errorf("private key file: %v", userror.Line(err))
	}
	_, err = LoadCertificateFile(dir, k.certDER, 100)
	if !errors.Is(err, safefile.ErrTooLarge) {
		t.Errorf("size bound: %v", err)
	}
}
