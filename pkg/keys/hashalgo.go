package keys

import (
	"crypto"
	_ "crypto/md5" // registers crypto.MD5: legacy 0x01 xattrs and evmctl -a md5 signatures
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"
	"fmt"
	"hash"
	"strings"

	"github.com/emmansun/gmsm/sm3"
)

// HashAlgo is a kernel hash algorithm id (include/uapi/linux/hash_info.h,
// enum hash_algo), the byte that security.ima and signature headers carry.
type HashAlgo uint8

// Kernel hash algorithm ids. The numbering is kernel ABI: it is stored in
// xattrs on disk.
const (
	HashMD4         HashAlgo = 0
	HashMD5         HashAlgo = 1
	HashSHA1        HashAlgo = 2
	HashRMD160      HashAlgo = 3
	HashSHA256      HashAlgo = 4
	HashSHA384      HashAlgo = 5
	HashSHA512      HashAlgo = 6
	HashSHA224      HashAlgo = 7
	HashRMD128      HashAlgo = 8
	HashRMD256      HashAlgo = 9
	HashRMD320      HashAlgo = 10
	HashWP256       HashAlgo = 11
	HashWP384       HashAlgo = 12
	HashWP512       HashAlgo = 13
	HashTGR128      HashAlgo = 14
	HashTGR160      HashAlgo = 15
	HashTGR192      HashAlgo = 16
	HashSM3         HashAlgo = 17
	HashStreebog256 HashAlgo = 18
	HashStreebog512 HashAlgo = 19
	HashSHA3_256    HashAlgo = 20
	HashSHA3_384    HashAlgo = 21
	HashSHA3_512    HashAlgo = 22
	hashAlgoLast    HashAlgo = 23 // HASH_ALGO__LAST in the newest kernels
)

type hashInfo struct {
	name string           // hash_algo_name[] (crypto/hash_info.c)
	size int              // hash_digest_size[]
	go_  crypto.Hash      // 0 when the standard library has no such hash
	new_ func() hash.Hash // a hash outside crypto.Hash (sm3, from gmsm)
}

var hashTable = [hashAlgoLast]hashInfo{
	HashMD4:         {"md4", 16, 0, nil},
	HashMD5:         {"md5", 16, crypto.MD5, nil},
	HashSHA1:        {"sha1", 20, crypto.SHA1, nil},
	HashRMD160:      {"rmd160", 20, 0, nil},
	HashSHA256:      {"sha256", 32, crypto.SHA256, nil},
	HashSHA384:      {"sha384", 48, crypto.SHA384, nil},
	HashSHA512:      {"sha512", 64, crypto.SHA512, nil},
	HashSHA224:      {"sha224", 28, crypto.SHA224, nil},
	HashRMD128:      {"rmd128", 16, 0, nil},
	HashRMD256:      {"rmd256", 32, 0, nil},
	HashRMD320:      {"rmd320", 40, 0, nil},
	HashWP256:       {"wp256", 32, 0, nil},
	HashWP384:       {"wp384", 48, 0, nil},
	HashWP512:       {"wp512", 64, 0, nil},
	HashTGR128:      {"tgr128", 16, 0, nil},
	HashTGR160:      {"tgr160", 20, 0, nil},
	HashTGR192:      {"tgr192", 24, 0, nil},
	HashSM3:         {"sm3", 32, 0, sm3.New}, // openEuler's national algorithm, from github.com/emmansun/gmsm
	HashStreebog256: {"streebog256", 32, 0, nil},
	HashStreebog512: {"streebog512", 64, 0, nil},
	HashSHA3_256:    {"sha3-256", 32, crypto.SHA3_256, nil},
	HashSHA3_384:    {"sha3-384", 48, crypto.SHA3_384, nil},
	HashSHA3_512:    {"sha3-512", 64, crypto.SHA3_512, nil},
}

// Known reports whether the kernel has an algorithm with this id.
func (a HashAlgo) Known() bool { return a < hashAlgoLast }

// String is the kernel's name for the algorithm ("sha256"), or "algo#N".
func (a HashAlgo) String() string {
	if a.Known() {
		return hashTable[a].name
	}
	return fmt.Sprintf("algo#%d", uint8(a))
}

// Size is the digest size in bytes, 0 for unknown ids.
func (a HashAlgo) Size() int {
	if a.Known() {
		return hashTable[a].size
	}
	return 0
}

// CryptoHash is the standard library's hash for a, and whether there is
// one (RSA PKCS#1 v1.5 needs it for the DigestInfo). sm3 has none: use
// New, which covers it.
func (a HashAlgo) CryptoHash() (crypto.Hash, bool) {
	if !a.Known() {
		return 0, false
	}
	h := hashTable[a].go_
	return h, h != 0 && h.Available()
}

// New returns a fresh hash for a, and whether it can be computed here:
// the standard library's hashes and sm3 (gmsm). The kernel-only
// algorithms (streebog, wp, tgr, rmd, md4) have none.
func (a HashAlgo) New() (hash.Hash, bool) {
	if !a.Known() {
		return nil, false
	}
	if f := hashTable[a].new_; f != nil {
		return f(), true
	}
	if h, ok := a.CryptoHash(); ok {
		return h.New(), true
	}
	return nil, false
}

// Computable reports whether New has a hash for a.
func (a HashAlgo) Computable() bool {
	if !a.Known() {
		return false
	}
	_, ok := a.CryptoHash()
	return ok || hashTable[a].new_ != nil
}

// ParseHashAlgo maps a kernel or evmctl name ("sha256", "SHA-256") to its id.
func ParseHashAlgo(name string) (HashAlgo, error) {
	n := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	switch n {
	case "sha-1":
		n = "sha1"
	case "sha-224", "sha-256", "sha-384", "sha-512":
		n = strings.Replace(n, "-", "", 1)
	case "sm3-256":
		n = "sm3"
	}
	for i := range hashTable {
		if hashTable[i].name == n {
			return HashAlgo(i), nil
		}
	}
	return 0, fmt.Errorf("unknown hash algorithm %q", name)
}
