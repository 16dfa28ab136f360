package keys

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/emmansun/gmsm/sm2"
)

// VerifySignature checks a signature xattr against the digest of the file
// content (computed with x.HashAlgo), as the kernel does for appraisal with
// a v2 signature (asymmetric_verify): the key is looked up by the 32-bit
// key id among certs the way the kernel's keyring search matches it (see
// Certificate.KernelMatches), then RSA keys check a PKCS#1 v1.5 signature
// with the DigestInfo of x.HashAlgo, ECDSA keys an ASN.1 DER (r,s)
// signature over the digest, and SM2 keys an ASN.1 DER SM2 signature over
// the sm3 digest itself, which is what evmctl ima_sign produces.
//
// SM2 takes no Z value here: public_key_verify_signature hashes ZA (the
// default user id "1234567812345678") into the digest only when the
// signature carries the signed data (sig->data_size, i.e. certificates);
// asymmetric_verify hands IMA's file digest over as the finished digest,
// and evmctl's EVP_PKEY_sign over that digest adds none either (checked
// with evmctl 1.4 and OpenSSL 3.0: a Z-prefixed verification fails).
//
// Errors wrap ErrHashOnly (x is a hash), ErrUnknownKeyID, ErrBadSignature
// or ErrUnsupported (sigv1, sigv3, hash algorithms Go lacks).
func VerifySignature(x Xattr, fileDigest []byte, certs []*Certificate) error {
	if x.IsHash() {
		return fmt.Errorf("%w: security.ima holds a %s hash, not a signature", ErrHashOnly, x.HashAlgo)
	}
	if !x.IsSignature() {
		return fmt.Errorf("%w: %s is not a signature", ErrUnsupported, x.Type)
	}
	switch {
	case x.Type == XattrVerityDigsig:
		return fmt.Errorf("%w: sigv3 fs-verity signature (keyid %08x) signs the file's fs-verity digest, which is not checked statically", ErrUnsupported, x.KeyID)
	case x.SigVersion == 1:
		return fmt.Errorf("%w: deprecated v1 signature (DIGSIG_VERSION_1)", ErrUnsupported)
	case x.SigVersion != 2:
		// xattr_verify refuses version >= 3 in EVM_IMA_XATTR_DIGSIG with
		// cause=invalid-signature-version.
		return fmt.Errorf("%w: signature version %d in a %s value (kernel cause invalid-signature-version)", ErrBadSignature, x.SigVersion, x.Type)
	}
	if !x.HashAlgo.Computable() {
		return fmt.Errorf("%w: signature hash algorithm %s cannot be computed here", ErrUnsupported, x.HashAlgo)
	}
	if len(fileDigest) != x.HashAlgo.Size() {
		return fmt.Errorf("internal: %s digest of %d bytes, want %d", x.HashAlgo, len(fileDigest), x.HashAlgo.Size())
	}
	var candidates []*Certificate
	for _, c := range certs {
		if c != nil && c.KernelMatches(x.KeyID) {
			candidates = append(candidates, c)
		}
	}
	if len(candidates) == 0 {
		return fmt.Errorf("%w %08x: signed by a key that is not among the namespace's keys (%s)", ErrUnknownKeyID, x.KeyID, knownIDs(certs))
	}
	// The kernel uses whichever matching key its keyring search returns
	// first; with several matches any one that verifies is taken as a pass.
	var reasons []string
	for _, c := range candidates {
		var err error
		switch pub := c.PublicKey.(type) {
		case *rsa.PublicKey:
			h, ok := x.HashAlgo.CryptoHash()
			if !ok {
				// pkcs1pad has no DigestInfo for sm3 (rsa_lookup_asn1),
				// so no kernel verifies such a signature either.
				return fmt.Errorf("%w: RSA signature over a %s digest: the kernel's PKCS#1 v1.5 padding has no DigestInfo for %s; sign with an SM2 key or a sha2 hash", ErrBadSignature, x.HashAlgo, x.HashAlgo)
			}
			err = rsa.VerifyPKCS1v15(pub, h, fileDigest, x.Sig)
		case *ecdsa.PublicKey:
			if sm2.IsSM2PublicKey(pub) {
				err = verifySM2(pub, x.HashAlgo, fileDigest, x.Sig)
				break
			}
			if !ecdsaHashes[x.HashAlgo] {
				err = fmt.Errorf("an ECDSA key signs sha1, sha2 or sha3 digests only, this signature is over %s (software_key_determine_akcipher refuses the pair since 6.1); re-sign with evmctl ima_sign --hashalgo sha256", x.HashAlgo)
				break
			}
			if !ecdsa.VerifyASN1(pub, fileDigest, x.Sig) {
				err = fmt.Errorf("ECDSA verification failed")
			}
		default:
			err = fmt.Errorf("unsupported key type %T", c.PublicKey)
		}
		if err == nil {
			return nil
		}
		reasons = append(reasons, fmt.Sprintf("%s key %s: %v", c.Algo, c.KeyIDHex(), err))
	}
	return fmt.Errorf("%w (keyid %08x, %s): %s", ErrBadSignature, x.KeyID, x.HashAlgo, strings.Join(reasons, "; "))
}

// ecdsaHashes are the digests the kernel verifies ECDSA signatures over
// (software_key_determine_akcipher, "x962" encoding).
var ecdsaHashes = map[HashAlgo]bool{HashSHA1: true, HashSHA224: true, HashSHA256: true, HashSHA384: true,
	HashSHA512: true, HashSHA3_256: true, HashSHA3_384: true, HashSHA3_512: true}

// verifySM2 checks an SM2 signature the way the kernel's sm2 akcipher
// does for IMA: the DER (r,s) pair over the digest as given, without ZA.
// Kernels since 6.1 (software_key_determine_akcipher) take SM2 only with
// sm3; ima-hook holds every kernel to that.
func verifySM2(pub *ecdsa.PublicKey, algo HashAlgo, digest, sig []byte) error {
	if algo != HashSM3 {
		return fmt.Errorf("an SM2 key signs sm3 digests only, this signature is over %s (the kernel refuses the pair); re-sign with evmctl ima_sign --hashalgo sm3", algo)
	}
	if !sm2.VerifyASN1(pub, digest, sig) {
		return fmt.Errorf("SM2 verification failed")
	}
	return nil
}

func knownIDs(certs []*Certificate) string {
	var ids []string
	for _, c := range certs {
		if c != nil {
			ids = append(ids, c.KeyIDHex())
		}
	}
	if len(ids) == 0 {
		return "no keys loaded"
	}
	sort.Strings(ids)
	return "have " + strings.Join(ids, ", ")
}

// VerifyDigest hashes r with the algorithm of a hash xattr and compares.
// Errors wrap ErrWrongHash, ErrUnsupported, or are read errors; a signature
// xattr is not a digest and is refused with ErrUnsupported (use Appraise).
func VerifyDigest(x Xattr, r io.Reader) error {
	if !x.IsHash() {
		return fmt.Errorf("%w: %s is not a hash value", ErrUnsupported, x.Type)
	}
	sum, err := HashReader(r, x.HashAlgo)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(sum, x.Digest) != 1 {
		return fmt.Errorf("%w: content %s:%s, security.ima %s:%s", ErrWrongHash, x.HashAlgo, hex.EncodeToString(sum), x.HashAlgo, hex.EncodeToString(x.Digest))
	}
	return nil
}

// Appraise judges a file the way IMA appraisal would with the given keys:
// a hash xattr must match the content (and is refused with ErrHashOnly when
// requireSig, as for appraise_type=imasig), a signature xattr must verify
// over the content's digest. It reads r once.
func Appraise(x Xattr, r io.Reader, certs []*Certificate, requireSig bool) error {
	if x.IsHash() {
		if requireSig {
			return fmt.Errorf("%w: security.ima holds a %s hash, the policy requires a signature (appraise_type=imasig)", ErrHashOnly, x.HashAlgo)
		}
		return VerifyDigest(x, r)
	}
	if !x.IsSignature() || x.Type != XattrDigsig || x.SigVersion != 2 {
		return VerifySignature(x, nil, certs) // reports the precise refusal
	}
	if !x.HashAlgo.Computable() {
		return fmt.Errorf("%w: signature hash algorithm %s cannot be computed here", ErrUnsupported, x.HashAlgo)
	}
	// Look the key up before hashing: an unknown key id needs no I/O.
	found := false
	for _, c := range certs {
		if c != nil && c.KernelMatches(x.KeyID) {
			found = true
			break
		}
	}
	if !found {
		return VerifySignature(x, make([]byte, x.HashAlgo.Size()), certs)
	}
	sum, err := HashReader(r, x.HashAlgo)
	if err != nil {
		return err
	}
	return VerifySignature(x, sum, certs)
}
