package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A decoded security.ima example (evmctl v2 signature layout).
func TestDecodeDocExample(t *testing.T) {
	b := unhex(t, "0404482b5b1db0f693204bf1e557cb28bee1749a17b3df01e465b537f2d052d891e6")
	x, err := DecodeIMAXattr(b)
	if err != nil {
		t.Fatal(err)
	}
	if x.Type != XattrDigestNG || x.HashAlgo != HashSHA256 || hex.EncodeToString(x.Digest) != "482b5b1db0f693204bf1e557cb28bee1749a17b3df01e465b537f2d052d891e6" || x.Trailing != 0 {
		t.Errorf("got %v", x)
	}
	if got := x.String(); got != "IMA_XATTR_DIGEST_NG sha256:482b5b1db0f693204bf1e557cb28bee1749a17b3df01e465b537f2d052d891e6" {
		t.Errorf("String %q", got)
	}
}

func TestDecodeForms(t *testing.T) {
	sha1d := strings.Repeat("11", 20)
	md5d := strings.Repeat("22", 16)
	sig := strings.Repeat("ab", 256)
	cases := []struct {
		name  string
		in    string
		check func(Xattr) bool
	}{
		{"legacy sha1", "01" + sha1d, func(x Xattr) bool { return x.HashAlgo == HashSHA1 && len(x.Digest) == 20 }},
		{"legacy md5", "01" + md5d, func(x Xattr) bool { return x.HashAlgo == HashMD5 && len(x.Digest) == 16 }},
		// ima_get_hash_algo: md5 padded to 20 bytes by old kernels.
		{"legacy md5 padded", "01" + md5d + "00000000", func(x Xattr) bool { return x.HashAlgo == HashMD5 && len(x.Digest) == 16 && x.Trailing == 4 }},
		{"ng sha512", "0406" + strings.Repeat("33", 64), func(x Xattr) bool { return x.HashAlgo == HashSHA512 && len(x.Digest) == 64 }},
		{"ng sm3", "0411" + strings.Repeat("33", 32), func(x Xattr) bool { return x.HashAlgo == HashSM3 }},
		{"ng sha3-256", "0414" + strings.Repeat("33", 32), func(x Xattr) bool { return x.HashAlgo == HashSHA3_256 }},
		{"ng trailing", "0404" + strings.Repeat("44", 33), func(x Xattr) bool { return len(x.Digest) == 32 && x.Trailing == 1 }},
		{"sig v2 rsa", "030204aabbccdd0100" + sig, func(x Xattr) bool {
			return x.SigVersion == 2 && x.HashAlgo == HashSHA256 && x.KeyID == 0xaabbccdd && len(x.Sig) == 256 && len(x.Raw) == 265
		}},
		{"sig v1", "0301" + "00", func(x Xattr) bool { return x.SigVersion == 1 }},
		{"sig v3 in digsig", "030304aabbccdd0001ff", func(x Xattr) bool { return x.SigVersion == 3 }},
		{"verity sigv3", "060304aabbccdd0002ffff", func(x Xattr) bool { return x.Type == XattrVerityDigsig && x.SigVersion == 3 && x.KeyID == 0xaabbccdd }},
	}
	for _, tc := range cases {
		x, err := DecodeIMAXattr(unhex(t, tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !tc.check(x) {
			t.Errorf("%s: unexpected %+v", tc.name, x)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		in   string
		is   error
		msg  string
	}{
		{"empty", "", ErrNoXattr, "no security.ima"},
		{"legacy 19", "01" + strings.Repeat("11", 19), ErrMalformed, "byte 1: legacy digest of 19 bytes"},
		{"ng no algo", "04", ErrMalformed, "byte 1: missing hash algorithm"},
		{"ng unknown algo", "0463" + strings.Repeat("00", 32), ErrMalformed, "byte 1: unknown hash algorithm id 99"},
		{"ng truncated", "0404" + strings.Repeat("00", 31), ErrMalformed, "byte 33: sha256 digest truncated: 31 of 32 bytes"},
		{"sig no version", "03", ErrMalformed, "byte 1: missing signature version"},
		{"sig version 9", "0309", ErrMalformed, "byte 1: signature version 9"},
		{"sig header short", "030204aabb", ErrMalformed, "signature header truncated: 4 of 8 bytes"},
		{"sig algo", "030263aabbccdd0001ff", ErrMalformed, "byte 2: unknown hash algorithm id 99"},
		{"sig size long", "030204aabbccdd0002ff", ErrMalformed, "byte 7: signature size field says 2 bytes, 1 follow"},
		{"sig size short", "030204aabbccdd0001ffff", ErrMalformed, "byte 7: signature size field says 1 bytes, 2 follow"},
		{"sig empty", "030204aabbccdd0000", ErrMalformed, "byte 9: empty signature"},
		{"evm hmac", "02" + strings.Repeat("00", 20), ErrUnsupported, "EVM value"},
		{"portable", "05", ErrUnsupported, "EVM value"},
		{"unknown", "7f00", ErrUnsupported, "unknown type byte 0x7f"},
	}
	for _, tc := range cases {
		_, err := DecodeIMAXattr(unhex(t, tc.in))
		if !errors.Is(err, tc.is) {
			t.Errorf("%s: %v is not %v", tc.name, err, tc.is)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %q does not say %q", tc.name, err, tc.msg)
		}
	}
	if _, err := DecodeIMAXattr(make([]byte, MaxXattrSize+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversized: %v", err)
	}
}

func TestHashAlgoTable(t *testing.T) {
	// Spot-check the kernel ABI numbering (hash_info.h) and sizes.
	want := map[HashAlgo][2]any{
		HashMD4: {"md4", 16}, HashSHA1: {"sha1", 20}, HashSHA256: {"sha256", 32}, HashSHA224: {"sha224", 28},
		HashRMD320: {"rmd320", 40}, HashTGR192: {"tgr192", 24}, HashSM3: {"sm3", 32}, HashStreebog512: {"streebog512", 64},
		HashSHA3_512: {"sha3-512", 64},
	}
	for a, w := range want {
		if a.String() != w[0] || a.Size() != w[1] {
			t.Errorf("algo %d: %s/%d want %v", uint8(a), a, a.Size(), w)
		}
	}
	if !HashSM3.Computable() || HashStreebog256.Computable() || HashMD4.Computable() {
		t.Errorf("computable: sm3 %v streebog256 %v md4 %v", HashSM3.Computable(), HashStreebog256.Computable(), HashMD4.Computable())
	}
	if HashAlgo(23).Known() || HashAlgo(23).String() != "algo#23" || HashAlgo(23).Size() != 0 {
		t.Errorf("id 23 should be unknown")
	}
	for _, n := range []string{"sha256", "SHA-256", "sha3_256", "sm3-256"} {
		if _, err := ParseHashAlgo(n); err != nil {
			t.Errorf("ParseHashAlgo(%q): %v", n, err)
		}
	}
	if _, err := ParseHashAlgo("crc32"); err == nil {
		t.Errorf("crc32 accepted")
	}
	for a := HashAlgo(0); a < hashAlgoLast; a++ {
		if h, ok := a.CryptoHash(); ok && h.Size() != a.Size() {
			t.Errorf("%s: Go size %d != kernel size %d", a, h.Size(), a.Size())
		}
		if h, ok := a.New(); ok != a.Computable() || ok && h.Size() != a.Size() {
			t.Errorf("%s: New ok=%v Computable=%v", a, ok, a.Computable())
		}
	}
}

func TestVerifyDigestInMemory(t *testing.T) {
	content := []byte("hello\n")
	sum := sha256.Sum256(content)
	x, err := DecodeIMAXattr(append([]byte{0x04, 0x04}, sum[:]...))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyDigest(x, bytes.NewReader(content)); err != nil {
		t.Errorf("good content: %v", err)
	}
	err = VerifyDigest(x, bytes.NewReader([]byte("hellO\n")))
	if !errors.Is(err, ErrWrongHash) || !strings.Contains(err.Error(), "sha256:") {
		t.Errorf("tampered: %v", err)
	}
	if err := Appraise(x, bytes.NewReader(content), nil, true); !errors.Is(err, ErrHashOnly) {
		t.Errorf("requireSig: %v", err)
	}
	if err := VerifySignature(x, sum[:], nil); !errors.Is(err, ErrHashOnly) {
		t.Errorf("VerifySignature on a hash: %v", err)
	}
	// A hash algorithm Go lacks is reported, not guessed.
	sb, _ := DecodeIMAXattr(append([]byte{0x04, byte(HashStreebog256)}, make([]byte, 32)...))
	if err := VerifyDigest(sb, bytes.NewReader(content)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("streebog256: %v", err)
	}
}

func TestVerifySignatureUnsupportedForms(t *testing.T) {
	for _, in := range []string{"0301" + "00", "030304aabbccdd0001ff", "060304aabbccdd0001ff"} {
		x, err := DecodeIMAXattr(unhex(t, in))
		if err != nil {
			t.Fatal(err)
		}
		err = VerifySignature(x, make([]byte, 32), nil)
		if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v", in, err)
		}
	}
}
