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
)

// VerifySignature checks a signature xattr against the digest of the file
// content (computed with x.HashAlgo), as the kernel does for appraisal with
// a v2 signature (asymmetric_verify): the key is looked up by the 32-bit
// key id among certs the way the kernel's keyring search matches it (see
// Certificate.KernelMatches), then RSA keys check a PKCS#1 v1.5 signature
// with the DigestInfo of x.HashAlgo and ECDSA keys an ASN.1 DER (r,s)
// signature over the digest, which is what evmctl ima_sign produces.
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
	h, ok := x.HashAlgo.CryptoHash()
	if !ok {
		return fmt.Errorf("%w: signature hash algorithm %s cannot be computed here", ErrUnsupported, x.HashAlgo)
	}
	if len(fileDigest) != h.Size() {
		return fmt.Errorf("internal: %s digest of %d bytes, want %d", x.HashAlgo, len(fileDigest), h.Size())
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
			err = rsa.VerifyPKCS1v15(pub, h, fileDigest, x.Sig)
		case *ecdsa.PublicKey:
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
	if _, ok := x.HashAlgo.CryptoHash(); !ok {
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
