// Package testca is the one test CA whose certificate the tests' emulated
// kernels trust (it goes into their .builtin_trusted_keys): a kernel that
// loads x509_for_children has CONFIG_IMA_TRUSTED_KEYRING (Kconfig), so the
// keys the tests hand it are signed by this CA. Made once per test binary;
// only tests import this package.
package testca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"
)

// CA is the CA's certificate (as a template for signing), key and DER.
type CA struct {
	Template *x509.Certificate
	Key      *ecdsa.PrivateKey
	DER      []byte
}

var (
	once sync.Once
	ca   CA
	err  error
)

// Get returns the CA, making it on the first call.
func Get(t testing.TB) CA {
	t.Helper()
	once.Do(func() {
		var priv *ecdsa.PrivateKey
		if priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(0xca), Subject: pkix.Name{CommonName: "ima-hook test CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), SubjectKeyId: []byte{0xca, 0xfe, 0xca, 0xfe},
			BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign}
		var der []byte
		der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
		ca = CA{Template: tmpl, Key: priv, DER: der}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}
