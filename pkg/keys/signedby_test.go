package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// issue makes a certificate for pub named cn with subject key id skid,
// signed by parent/signer (nil: self-signed by priv), with the smx509
// writer (which signs SM2 with the default user id, as the kernel checks).
func issue(t testing.TB, cn string, skid []byte, pub any, priv crypto.Signer, parent *x509.Certificate, signer crypto.Signer) (*x509.Certificate, []byte) {
	t.Helper()
	tmpl := &x509.Certificate{PublicKey: pub, SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), SubjectKeyId: skid,
		BasicConstraintsValid: true, IsCA: parent == nil}
	if parent == nil {
		parent, signer = tmpl, priv
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := smx509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	return tmpl, der
}

// restrict_link_by_signature (crypto/asymmetric_keys/restrict.c, the
// restriction CONFIG_IMA_TRUSTED_KEYRING puts on .ima): the signing key is
// found by the certificate's authority key id, then public_key_verify_
// signature checks the signature; SM2 certificates signed by SM2 or other
// keys are accepted like any other.
func TestCheckSignedBy(t *testing.T) {
	sm2CA, _ := sm2.GenerateKey(rand.Reader)
	ecCA, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafSM2, _ := sm2.GenerateKey(rand.Reader)
	leafEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sm2Root, sm2RootDER := issue(t, "sm2 root", []byte{1, 1, 1, 1}, sm2CA.Public(), sm2CA, nil, nil)
	ecRoot, ecRootDER := issue(t, "ec root", []byte{2, 2, 2, 2}, ecCA.Public(), ecCA, nil, nil)
	_, otherRootDER := issue(t, "other root", []byte{1, 1, 1, 1}, leafEC.Public(), leafEC, nil, nil) // same skid, other key

	_, sm2BySM2 := issue(t, "sm2 leaf", []byte{3, 3, 3, 3}, leafSM2.Public(), nil, sm2Root, sm2CA)
	_, sm2ByEC := issue(t, "sm2 leaf by ec", []byte{4, 4, 4, 4}, leafSM2.Public(), nil, ecRoot, ecCA)
	_, ecBySM2 := issue(t, "ec leaf by sm2", []byte{5, 5, 5, 5}, leafEC.Public(), nil, sm2Root, sm2CA)
	for _, tc := range []struct {
		name         string
		cert, issuer []byte
		ok           bool
		why          string
	}{
		{"sm2 by sm2", sm2BySM2, sm2RootDER, true, ""},
		{"sm2 by ecdsa", sm2ByEC, ecRootDER, true, ""},
		{"ecdsa by sm2", ecBySM2, sm2RootDER, true, ""},
		{"sm2 leaf, other issuer", sm2BySM2, ecRootDER, false, "authorityKeyIdentifier"},
		{"same key id, other key", sm2BySM2, otherRootDER, false, "verification"},
		{"self-signed, not by the root", sm2RootDER, ecRootDER, false, "authorityKeyIdentifier"},
	} {
		err := CheckSignedBy(tc.cert, tc.issuer)
		if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.why)) {
			t.Errorf("%s: %v, want ok=%v (%s)", tc.name, err, tc.ok, tc.why)
		}
	}
	if err := CheckSignedBy([]byte("junk"), sm2RootDER); err == nil {
		t.Error("junk certificate accepted")
	}
}

// FuzzCheckSignedBy: any pair of byte strings is judged without a panic,
// and nothing passes as signed by the seed root unless its TBS is one the
// root's key signed (the fuzzer cannot forge an SM2 signature).
func FuzzCheckSignedBy(f *testing.F) {
	caKey, _ := sm2.GenerateKey(rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root, rootDER := issue(f, "fuzz root", []byte{7, 7, 7, 7}, caKey.Public(), caKey, nil, nil)
	_, leafDER := issue(f, "fuzz leaf", []byte{8, 8, 8, 8}, leafKey.Public(), nil, root, caKey)
	signed := map[string]bool{}
	for _, der := range [][]byte{rootDER, leafDER} {
		c, err := smx509.ParseCertificate(der)
		if err != nil {
			f.Fatal(err)
		}
		signed[string(c.RawTBSCertificate)] = true
	}
	f.Add(leafDER, rootDER)
	f.Add(rootDER, rootDER)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00}, rootDER)
	f.Fuzz(func(t *testing.T, cert, issuer []byte) {
		err := CheckSignedBy(cert, issuer)
		if err != nil || !bytes.Equal(issuer, rootDER) {
			return
		}
		c, perr := smx509.ParseCertificate(cert)
		if perr != nil || !signed[string(c.RawTBSCertificate)] {
			t.Fatalf("accepted a certificate the root never signed (parse error %v)", perr)
		}
	})
}
