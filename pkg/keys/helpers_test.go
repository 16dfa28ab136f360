package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testKey is a generated key pair with its certificate, written to disk
// for evmctl (private key PEM, certificate PEM and DER).
type testKey struct {
	name    string
	priv    crypto.Signer
	der     []byte
	privPEM string // path
	certPEM string // path
	certDER string // path
}

type keySpec struct {
	name string
	algo string // "rsa2048", "rsa1024", "p256", "p384", "p224"
	skid []byte // nil: no SKID extension
	// skidHash sets the SKID to RFC 5280 method 1 (SHA-1 of the public
	// key bits), what openssl's subjectKeyIdentifier=hash writes.
	skidHash bool
	issuer   string // CN of the issuer; "" = self-signed
	serial   int64
	expire   time.Duration
}

var (
	keyCacheMu sync.Mutex
	keyCache   = map[string]crypto.Signer{}
)

// signer returns a (cached) private key so that the many certificates the
// tests make do not each pay RSA key generation.
func signer(t testing.TB, algo, slot string) crypto.Signer {
	t.Helper()
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	if k, ok := keyCache[algo+"/"+slot]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch algo {
	case "rsa2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	case "rsa1032":
		k, err = rsa.GenerateKey(rand.Reader, 1032)
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p224":
		k, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	default:
		t.Fatalf("unknown algo %s", algo)
	}
	if err != nil {
		t.Fatal(err)
	}
	keyCache[algo+"/"+slot] = k
	return k
}

// makeCert creates a certificate per spec, signed by a separate issuer
// key when spec.issuer is set, and writes the files under dir.
func makeCert(t testing.TB, dir string, s keySpec) *testKey {
	t.Helper()
	priv := signer(t, s.algo, s.name)
	serial := s.serial
	if serial == 0 {
		serial = 0x1122334455
	}
	exp := s.expire
	if exp == 0 {
		exp = 24 * time.Hour
	}
	skid := s.skid
	if s.skidHash {
		spki, err := x509.MarshalPKIXPublicKey(priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		bits, err := subjectPublicKeyBits(spki)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum(bits)
		skid = sum[:]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "ima-hook test " + s.name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(exp),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          skid,
	}
	parent, parentKey := tmpl, priv
	if s.issuer != "" {
		parent = &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: s.issuer}}
		parentKey = signer(t, "p256", "issuer-"+s.issuer)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, priv.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	k := &testKey{name: s.name, priv: priv, der: der}
	if dir != "" {
		k.privPEM = filepath.Join(dir, s.name+".key.pem")
		k.certPEM = filepath.Join(dir, s.name+".crt.pem")
		k.certDER = filepath.Join(dir, s.name+".crt.der")
		p8, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, k.privPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
		writeFile(t, k.certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		writeFile(t, k.certDER, der)
	}
	return k
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustLoad(t testing.TB, der []byte, opt Options) *Certificate {
	t.Helper()
	c, err := ParseCertificate(der, opt)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	return c
}
