package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ima-hook/ima-hook/internal/userror"
)

// FuzzDecodeIMAXattr: any byte string decodes or fails with a bounded,
// one-line error; a successful decode is internally consistent with the
// kernel's length rules, and signature verification of the result never
// panics.
func FuzzDecodeIMAXattr(f *testing.F) {
	for _, s := range []string{
		"", "01", "04", "03", "06", "0302", "0301",
		"0404482b5b1db0f693204bf1e557cb28bee1749a17b3df01e465b537f2d052d891e6",
		"01" + strings.Repeat("11", 20),
		"01" + strings.Repeat("22", 16) + "00000000",
		"030204aabbccdd0004deadbeef",
		"060304aabbccdd0002ffff",
		"0406" + strings.Repeat("33", 64),
		"0202", "7f",
	} {
		f.Add(unhex(f, s))
	}
	k := makeCert(f, "", keySpec{name: "fuzz", algo: "p256", skid: skidA})
	cert := mustLoad(f, k.der, Options{})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := DecodeIMAXattr(b)
		if err != nil {
			if len(err.Error()) > 300 || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error too long or multi-line: %q", err)
			}
			var de *DecodeError
			if errors.As(err, &de) && (de.Offset < 0 || de.Offset > len(b)) {
				t.Fatalf("offset %d outside input of %d bytes", de.Offset, len(b))
			}
			return
		}
		switch {
		case x.IsHash():
			if len(x.Digest) != x.HashAlgo.Size() {
				t.Fatalf("digest %d bytes for %s", len(x.Digest), x.HashAlgo)
			}
			if hdr := map[XattrType]int{XattrDigest: 1, XattrDigestNG: 2}[x.Type]; hdr+len(x.Digest)+x.Trailing != len(b) {
				t.Fatalf("lengths do not add up: %d+%d+%d != %d", hdr, len(x.Digest), x.Trailing, len(b))
			}
			_ = VerifyDigest(x, bytes.NewReader(b))
		case x.IsSignature():
			if x.SigVersion != 1 {
				if 1+sigHeaderLen+len(x.Sig) != len(b) || int(binary.BigEndian.Uint16(b[7:9])) != len(x.Sig) {
					t.Fatalf("signature length mismatch")
				}
				if x.KeyID != binary.BigEndian.Uint32(b[3:7]) {
					t.Fatalf("key id")
				}
			}
			digest := make([]byte, x.HashAlgo.Size())
			_ = VerifySignature(x, digest, []*Certificate{cert})
			_ = Appraise(x, bytes.NewReader(b), []*Certificate{cert}, true)
		default:
			t.Fatalf("decoded without error to type %s", x.Type)
		}
		_ = x.String()
	})
}

// FuzzLoadCertificate: arbitrary input never panics, errors are one-line
// userror values with a fix, and an accepted certificate is consistent.
func FuzzLoadCertificate(f *testing.F) {
	for _, s := range []keySpec{
		{name: "f-rsa", algo: "rsa2048", skid: skidA},
		{name: "f-ec", algo: "p256", skidHash: true},
		{name: "f-noskid", algo: "p256", issuer: "iss"},
		{name: "f-384", algo: "p384", skid: []byte{1, 2}},
	} {
		k := makeCert(f, "", s)
		f.Add(k.der)
		f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.der}))
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	junk := make([]byte, 64)
	rand.Read(junk)
	f.Add(junk)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, opt := range []Options{{}, {AllowNoSKID: true}} {
			c, err := ParseCertificate(b, opt)
			if err != nil {
				var ue *userror.Error
				if !errors.As(err, &ue) {
					t.Fatalf("not a userror: %T %v", err, err)
				}
				if strings.Contains(userror.Line(err), "\n") {
					t.Fatalf("multi-line: %q", userror.Line(err))
				}
				continue
			}
			if c.PublicKey == nil || c.Algo == "" || len(c.DER) == 0 || len(c.DER) > MaxCertSize {
				t.Fatalf("inconsistent certificate %+v", c)
			}
			if !opt.AllowNoSKID && (len(c.SKID) < 4 || !c.KernelMatches(c.KeyID)) {
				t.Fatalf("accepted without a usable SKID: %x", c.SKID)
			}
			_ = c.String()
		}
	})
}

// FuzzParseProcKeys: no panic; errors name a line.
func FuzzParseProcKeys(f *testing.F) {
	f.Add(procKeysFixture)
	f.Add("02639d80 I--Q---     2 perm 1f3f0000     0 65534 keyring   .ima: empty\n")
	f.Add("02639d80 I--Q---     2 perm 1f3f0000     0 65534 keyring")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseProcKeys(strings.NewReader(s))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "/proc/keys") {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		for _, k := range keys {
			if len(k.Flags) != 7 {
				t.Fatalf("flags %q", k.Flags)
			}
			if id, ok := AsymmetricKeyID(k); ok && !strings.Contains(k.Description+": "+k.Info, fmt.Sprintf("%x", id)) && id != 0 {
				t.Fatalf("key id %08x not in %q", id, k.Description+": "+k.Info)
			}
		}
		_, _ = FindKeyring(keys, ".ima")
	})
}
