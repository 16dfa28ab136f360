// Package measure reads, writes and verifies Linux IMA measurement lists:
// the binary and ASCII runtime_measurements files of the host (every
// namespace's entries, tagged by the ima-ns template) and of a namespace (its
// own entries only).
//
// Readers stream: one entry at a time, buffers reused, every length bounded
// (Limits), and malformed input yields a *FormatError carrying the byte offset
// (binary) or line and column (ASCII), never a panic. The Verifier checks each
// entry's template digest and replays the PCR banks by the kernel's rules
// (ima_calc_field_array_hash, ima_pcr_extend); NSFilter selects one IMA
// namespace's entries from the host list; AppendBinary and AppendASCII write
// entries exactly as ima_measurements_show and ima_ascii_measurements_show do.
package measure

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm3"
)

// Alg is a hash algorithm of a TPM PCR bank or of a template digest.
type Alg uint8

// The banks IMA can extend. SM3 (the TPM's sm3_256 bank, the kernel's sm3
// hash, common on openEuler) comes from github.com/emmansun/gmsm: the Go
// standard library has none.
const (
	AlgUnknown Alg = iota
	SHA1
	SHA256
	SHA384
	SHA512
	SM3
)

// NumPCRs is the number of PCRs a TPM has in a bank (and the number evmctl
// expects in a --pcrs file).
const NumPCRs = 24

// MaxDigestSize is the largest digest size of any Alg.
const MaxDigestSize = 64

var algNames = [...]string{AlgUnknown: "unknown", SHA1: "sha1", SHA256: "sha256", SHA384: "sha384", SHA512: "sha512", SM3: "sm3"}
var algSizes = [...]int{SHA1: 20, SHA256: 32, SHA384: 48, SHA512: 64, SM3: 32}

// String is the kernel's hash_algo_name (used in d-ng fields and file names).
func (a Alg) String() string {
	if int(a) < len(algNames) {
		return algNames[a]
	}
	return fmt.Sprintf("alg(%d)", uint8(a))
}

// Size is the digest size in bytes, 0 for AlgUnknown.
func (a Alg) Size() int {
	if int(a) < len(algSizes) {
		return algSizes[a]
	}
	return 0
}

// Supported reports whether digests of a can be computed here.
func (a Alg) Supported() bool { return a >= SHA1 && a <= SM3 }

// ParseAlg accepts the kernel names (sha1, sha256, sha384, sha512, sm3) and
// the TPM name sm3_256.
func ParseAlg(s string) (Alg, error) {
	switch strings.ToLower(s) {
	case "sha1":
		return SHA1, nil
	case "sha256":
		return SHA256, nil
	case "sha384":
		return SHA384, nil
	case "sha512":
		return SHA512, nil
	case "sm3", "sm3_256", "sm3-256":
		return SM3, nil
	}
	return AlgUnknown, fmt.Errorf("unknown hash algorithm %q (want sha1, sha256, sha384, sha512 or sm3)", s)
}

// sum appends the digest of data under a to dst. Callers check Supported.
// One-shot functions instead of hash.Hash values: no allocation per call,
// which matters at millions of entries.
func (a Alg) sum(dst, data []byte) []byte {
	switch a {
	case SHA1:
		s := sha1.Sum(data)
		return append(dst, s[:]...)
	case SHA256:
		s := sha256.Sum256(data)
		return append(dst, s[:]...)
	case SHA384:
		s := sha512.Sum384(data)
		return append(dst, s[:]...)
	case SHA512:
		s := sha512.Sum512(data)
		return append(dst, s[:]...)
	case SM3:
		s := sm3.Sum(data)
		return append(dst, s[:]...)
	}
	panic("measure: digest of unsupported algorithm " + a.String())
}

// sum2 is sum over the concatenation a||b, used by PCR extends.
func (a Alg) sum2(dst, x, y []byte) []byte {
	var buf [2 * MaxDigestSize]byte
	n := copy(buf[:], x)
	n += copy(buf[n:], y)
	return a.sum(dst, buf[:n])
}
