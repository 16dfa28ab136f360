package keys

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// XattrName is the extended attribute IMA appraisal reads.
const XattrName = "security.ima"

// MaxXattrSize is XATTR_SIZE_MAX: no xattr value can be larger.
const MaxXattrSize = 65536

// XattrType is the first byte of security.ima (enum evm_ima_xattr_type).
type XattrType uint8

// security.ima value types.
const (
	XattrDigest         XattrType = 0x01 // IMA_XATTR_DIGEST: legacy sha1 (or md5) digest
	XattrHMAC           XattrType = 0x02 // EVM_XATTR_HMAC: belongs in security.evm
	XattrDigsig         XattrType = 0x03 // EVM_IMA_XATTR_DIGSIG: signature (v2 header)
	XattrDigestNG       XattrType = 0x04 // IMA_XATTR_DIGEST_NG: algorithm byte + digest
	XattrPortableDigsig XattrType = 0x05 // EVM_XATTR_PORTABLE_DIGSIG: belongs in security.evm
	XattrVerityDigsig   XattrType = 0x06 // IMA_VERITY_DIGSIG: sigv3 over an fs-verity digest
)

func (t XattrType) String() string {
	switch t {
	case XattrDigest:
		return "IMA_XATTR_DIGEST"
	case XattrHMAC:
		return "EVM_XATTR_HMAC"
	case XattrDigsig:
		return "EVM_IMA_XATTR_DIGSIG"
	case XattrDigestNG:
		return "IMA_XATTR_DIGEST_NG"
	case XattrPortableDigsig:
		return "EVM_XATTR_PORTABLE_DIGSIG"
	case XattrVerityDigsig:
		return "IMA_VERITY_DIGSIG"
	}
	return fmt.Sprintf("type 0x%02x", uint8(t))
}

// Error causes, for errors.Is. They follow the kernel's appraisal causes
// (integrity audit "cause=" values) where there is one.
var (
	ErrNoXattr      = errors.New("no security.ima xattr")                   // cause=missing-hash
	ErrMalformed    = errors.New("malformed security.ima")                  // cause=invalid-signature / invalid-hash
	ErrWrongHash    = errors.New("file content does not match the hash")    // cause=invalid-hash
	ErrUnknownKeyID = errors.New("unknown key id")                          // integrity_digsig_verify -ENOKEY
	ErrBadSignature = errors.New("bad signature")                           // cause=invalid-signature
	ErrHashOnly     = errors.New("hash only where a signature is required") // cause=IMA-signature-required
	ErrUnsupported  = errors.New("unsupported security.ima form")           // cause=unknown-ima-data and friends
)

// Xattr is a decoded security.ima value.
type Xattr struct {
	Type     XattrType
	HashAlgo HashAlgo // digest or signature hash algorithm
	Digest   []byte   // hash forms: the digest (exactly HashAlgo.Size() bytes)
	Trailing int      // hash forms: bytes after the digest, which the kernel ignores

	SigVersion uint8  // signature forms: header version (2, or 3 for sigv3)
	KeyID      uint32 // signature forms: key id (big-endian on disk)
	Sig        []byte // signature forms: RSA PKCS#1 v1.5 block or ECDSA DER

	Raw []byte // the whole value
}

// IsHash reports a digest form (0x01, 0x04).
func (x Xattr) IsHash() bool { return x.Type == XattrDigest || x.Type == XattrDigestNG }

// IsSignature reports a signature form (0x03, 0x06).
func (x Xattr) IsSignature() bool { return x.Type == XattrDigsig || x.Type == XattrVerityDigsig }

// String describes the value for reports.
func (x Xattr) String() string {
	switch {
	case x.IsHash():
		return fmt.Sprintf("%s %s:%s", x.Type, x.HashAlgo, hex.EncodeToString(x.Digest))
	case x.Type == XattrVerityDigsig:
		return fmt.Sprintf("sigv3 (fs-verity) %s keyid %08x", x.HashAlgo, x.KeyID)
	case x.IsSignature() && x.SigVersion == 1:
		return "signature v1 (deprecated DIGSIG_VERSION_1)"
	case x.IsSignature():
		return fmt.Sprintf("signature v%d %s keyid %08x (%d bytes)", x.SigVersion, x.HashAlgo, x.KeyID, len(x.Sig))
	}
	return x.Type.String()
}

// DecodeError is a malformed value, with the byte offset at fault.
type DecodeError struct {
	Offset int
	Msg    string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("security.ima byte %d: %s", e.Offset, e.Msg)
}

func (e *DecodeError) Unwrap() error { return ErrMalformed }

func decodeErr(off int, format string, a ...any) error {
	return &DecodeError{Offset: off, Msg: fmt.Sprintf(format, a...)}
}

// sigHeaderLen is the signature header after the type byte: version,
// hash_algo, keyid (4), sig_size (2). With the type byte that is
// sizeof(struct signature_v2_hdr) = 9, so an RSA-2048 value is 265 bytes
// (checked on evmctl output).
const sigHeaderLen = 8

// DecodeIMAXattr decodes a security.ima value the way the kernel's
// appraisal reads it (ima_get_hash_algo, xattr_verify, asymmetric_verify).
// An empty value is ErrNoXattr (ima_read_xattr returning 0 means "no
// label"). Types the kernel does not appraise (EVM types, unknown bytes)
// decode to an Xattr with just Type and Raw and an error wrapping
// ErrUnsupported, so callers can still report the type.
func DecodeIMAXattr(b []byte) (Xattr, error) {
	if len(b) == 0 {
		return Xattr{}, ErrNoXattr
	}
	if len(b) > MaxXattrSize {
		return Xattr{}, decodeErr(MaxXattrSize, "value is %d bytes, more than XATTR_SIZE_MAX", len(b))
	}
	x := Xattr{Type: XattrType(b[0]), Raw: b}
	switch x.Type {
	case XattrDigest:
		// ima_get_hash_algo: 20 digest bytes mean sha1, unless the last
		// four are zero (an md5 digest padded to 20, written by old
		// kernels); 16 bytes mean md5.
		switch len(b) - 1 {
		case 20:
			x.HashAlgo = HashSHA1
			if b[17] == 0 && b[18] == 0 && b[19] == 0 && b[20] == 0 {
				x.HashAlgo = HashMD5
			}
		case 16:
			x.HashAlgo = HashMD5
		default:
			return x, decodeErr(1, "legacy digest of %d bytes (want 20 for sha1 or 16 for md5)", len(b)-1)
		}
		n := x.HashAlgo.Size()
		x.Digest = b[1 : 1+n]
		x.Trailing = len(b) - 1 - n
		return x, nil
	case XattrDigestNG:
		if len(b) < 2 {
			return x, decodeErr(1, "missing hash algorithm byte")
		}
		x.HashAlgo = HashAlgo(b[1])
		if !x.HashAlgo.Known() {
			return x, decodeErr(1, "unknown hash algorithm id %d", b[1])
		}
		n := x.HashAlgo.Size()
		if len(b)-2 < n {
			return x, decodeErr(len(b), "%s digest truncated: %d of %d bytes", x.HashAlgo, len(b)-2, n)
		}
		// xattr_verify compares only the digest length; longer values
		// pass, so trailing bytes are reported, not refused.
		x.Digest = b[2 : 2+n]
		x.Trailing = len(b) - 2 - n
		return x, nil
	case XattrDigsig, XattrVerityDigsig:
		if len(b) < 2 {
			return x, decodeErr(1, "missing signature version byte")
		}
		x.SigVersion = b[1]
		if x.Type == XattrDigsig && x.SigVersion == 1 {
			// DIGSIG_VERSION_1 has a different (RSA-only, 8-byte key id)
			// header; it is deprecated and not decoded further.
			return x, nil
		}
		if x.SigVersion != 2 && x.SigVersion != 3 {
			return x, decodeErr(1, "signature version %d (want 2, or 3 for sigv3)", x.SigVersion)
		}
		if len(b) < 1+sigHeaderLen {
			return x, decodeErr(len(b), "signature header truncated: %d of %d bytes", len(b)-1, sigHeaderLen)
		}
		x.HashAlgo = HashAlgo(b[2])
		if !x.HashAlgo.Known() {
			return x, decodeErr(2, "unknown hash algorithm id %d", b[2])
		}
		x.KeyID = binary.BigEndian.Uint32(b[3:7])
		size := int(binary.BigEndian.Uint16(b[7:9]))
		// asymmetric_verify: the remaining length must equal sig_size
		// exactly, else -EBADMSG.
		if got := len(b) - 1 - sigHeaderLen; got != size {
			return x, decodeErr(7, "signature size field says %d bytes, %d follow", size, got)
		}
		if size == 0 {
			return x, decodeErr(9, "empty signature")
		}
		x.Sig = b[1+sigHeaderLen:]
		return x, nil
	case XattrHMAC, XattrPortableDigsig:
		return x, fmt.Errorf("%w: %s is an EVM value, IMA appraisal treats it as unknown data", ErrUnsupported, x.Type)
	}
	return x, fmt.Errorf("%w: unknown type byte 0x%02x", ErrUnsupported, b[0])
}
