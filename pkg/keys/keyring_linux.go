package keys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/internal/userror"
)

// Keyring modes for AddToKeyring.
const (
	// KeyringIMA is the ".ima" system keyring that kernels built with
	// CONFIG_INTEGRITY_TRUSTED_KEYRING create (integrity_init_keyring),
	// restricted to certificates signed by a builtin or secondary trusted
	// key. On openEuler's IMA namespaces every key added to it is tagged
	// with the adding task's ima_ns_for_children key domain (docs/kernel-abi.md#x509-certificates).
	KeyringIMA = ".ima"
	// KeyringUnderscoreIMA is the "_ima" keyring that kernels without the
	// trusted keyring look up with request_key among the appraising
	// process's keyrings (integrity_digsig_verify). It is created in the
	// user keyring (@u), as the VM oracle tests do on Debian's kernel (docs/vm-oracle.md).
	KeyringUnderscoreIMA = "_ima"
	// KeyringAuto picks .ima when the kernel has it, else _ima.
	KeyringAuto = "auto"
)

// Keyrings adds certificates to IMA keyrings. The zero value uses the real
// /proc/keys; tests point ProcKeys at a fixture.
type Keyrings struct {
	ProcKeys string // default /proc/keys
}

// AddToKeyring adds a DER certificate to the IMA keyring selected by mode
// (".ima", "_ima" or "auto") in the calling task's context and returns the
// new key's serial and the keyring used. The caller must run inside the
// namespace whose key this is: on openEuler the key domain comes from the
// adding task.
func AddToKeyring(der []byte, mode string) (serial int32, keyring string, err error) {
	return Keyrings{}.AddToKeyring(der, mode)
}

// AddToKeyring is the package-level AddToKeyring with this /proc/keys.
func (kr Keyrings) AddToKeyring(der []byte, mode string) (int32, string, error) {
	if len(der) == 0 || len(der) > MaxCertSize {
		return 0, "", userror.New("x509", fmt.Sprintf("certificate of %d bytes", len(der)), "pass a DER certificate loaded with LoadCertificate")
	}
	switch mode {
	case KeyringIMA:
		ring, err := kr.systemIMAKeyring()
		if err != nil {
			return 0, "", err
		}
		s, err := AddCertToKeyring(der, ring)
		if err != nil {
			return 0, "", explainAddKey(err, KeyringIMA)
		}
		return s, KeyringIMA, nil
	case KeyringUnderscoreIMA:
		ring, err := FindOrCreateUnderscoreIMA()
		if err != nil {
			return 0, "", err
		}
		s, err := AddCertToKeyring(der, ring)
		if err != nil {
			return 0, "", explainAddKey(err, KeyringUnderscoreIMA)
		}
		return s, KeyringUnderscoreIMA, nil
	case KeyringAuto, "":
		if _, err := kr.systemIMAKeyring(); err == nil {
			return kr.AddToKeyring(der, KeyringIMA)
		} else if !errors.Is(err, errNoIMAKeyring) {
			return 0, "", err
		}
		return kr.AddToKeyring(der, KeyringUnderscoreIMA)
	}
	return 0, "", userror.New("keyring mode", "unknown mode "+userror.Quote(mode), `use ".ima", "_ima" or "auto"`)
}

var errNoIMAKeyring = errors.New("no .ima keyring")

// HasSystemIMAKeyring reports whether the kernel has the .ima keyring
// (CONFIG_INTEGRITY_TRUSTED_KEYRING), for status output.
func (kr Keyrings) HasSystemIMAKeyring() (bool, error) {
	_, err := kr.systemIMAKeyring()
	if errors.Is(err, errNoIMAKeyring) {
		return false, nil
	}
	return err == nil, err
}

// AppraisalKeyring names the keyring appraisal keys go to on this kernel,
// as KeyringAuto picks it: KeyringIMA when the trusted .ima keyring is
// listed in /proc/keys, else KeyringUnderscoreIMA (a _ima keyring that IMA
// finds with request_key, kernels without CONFIG_INTEGRITY_TRUSTED_KEYRING);
// "" when /proc/keys cannot be read or parsed. For Probe and status.
func (kr Keyrings) AppraisalKeyring() string {
	has, err := kr.HasSystemIMAKeyring()
	switch {
	case err != nil:
		return ""
	case has:
		return KeyringIMA
	}
	return KeyringUnderscoreIMA
}

func (kr Keyrings) systemIMAKeyring() (int32, error) {
	p := kr.ProcKeys
	if p == "" {
		p = "/proc/keys"
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, userror.Wrapf(err, p, "the kernel needs CONFIG_KEYS and /proc mounted", "cannot read the key list")
	}
	defer f.Close()
	keys, err := ParseProcKeys(f)
	if err != nil {
		return 0, userror.Wrapf(err, p, "report this: the /proc/keys format is kernel ABI", "")
	}
	if s, ok := FindKeyring(keys, KeyringIMA); ok {
		return s, nil
	}
	return 0, userror.Wrap(errNoIMAKeyring, ".ima keyring", "not present (kernel without CONFIG_INTEGRITY_TRUSTED_KEYRING, or not visible to this user)",
		`use keyring mode "_ima" or "auto"`)
}

// FindOrCreateUnderscoreIMA returns the serial of the "_ima" keyring IMA
// would find from this process: it searches the process's keyrings as the
// kernel's request_key does (session keyring, or the user session keyring
// when there is none, and what they link), then the user keyring, and
// creates "_ima" in the user keyring when there is none.
//
// Caveat (integrity_digsig_verify): the kernel caches the first _ima
// keyring it finds, system-wide, so the keyring must be reachable from the
// first process that is appraised with a signature.
func FindOrCreateUnderscoreIMA() (int32, error) {
	for _, from := range []int{unix.KEY_SPEC_SESSION_KEYRING, unix.KEY_SPEC_USER_KEYRING} {
		id, err := unix.KeyctlSearch(from, "keyring", KeyringUnderscoreIMA, 0)
		if err == nil {
			return int32(id), nil
		}
		if !errors.Is(err, unix.ENOKEY) && !errors.Is(err, unix.EKEYREVOKED) && !errors.Is(err, unix.EKEYEXPIRED) {
			return 0, explainKeyctl(err, "search for the _ima keyring")
		}
	}
	return createUnderscoreIMA()
}

// createUnderscoreIMA creates _ima in the user keyring with permissions
// that let its owning user add keys without possessing it.
//
// A new keyring grants its owner (as opposed to its possessor) only view
// and read, and a later hook run whose session keyring does not link @u
// finds _ima without possessing it, so add_key would fail with EACCES.
// Changing the permissions needs possession, which a keyring reached
// through @u's numeric id does not give either; so the keyring is born in
// the session keyring (possessed), given its permissions, linked into @u
// and unlinked from the session again. All on one OS thread, since key
// possession follows the calling thread's credentials.
func createUnderscoreIMA() (int32, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	id, err := unix.AddKey("keyring", KeyringUnderscoreIMA, nil, unix.KEY_SPEC_SESSION_KEYRING)
	if err != nil {
		return 0, explainKeyctl(err, "create the _ima keyring")
	}
	unlinkFromSession := func() { _, _ = unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_SESSION_KEYRING, 0, 0) }
	if err := unix.KeyctlSetperm(id, underscoreIMAPerm); err != nil {
		unlinkFromSession()
		return 0, explainKeyctl(err, "set the permissions of the new _ima keyring")
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_LINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0); err != nil {
		unlinkFromSession()
		return 0, explainKeyctl(err, "link the new _ima keyring into the user keyring")
	}
	unlinkFromSession()
	return int32(id), nil
}

// underscoreIMAPerm: possessor everything; owning user view, read, write,
// search (KEY_POS_ALL | KEY_USR_VIEW|READ|WRITE|SEARCH).
const underscoreIMAPerm = 0x3f0f0000

// AddCertToKeyring adds a DER X.509 certificate as an "asymmetric" key to
// the keyring with this serial. The kernel parses the certificate
// (x509_key_preparse), checks a self-signed certificate's own signature,
// and applies the keyring's restriction if it has one.
func AddCertToKeyring(der []byte, ring int32) (int32, error) {
	// The empty description makes the kernel derive one from the
	// certificate ("CN: skid hex").
	id, err := unix.AddKey("asymmetric", "", der, int(ring))
	if err != nil {
		return 0, err
	}
	return int32(id), nil
}

// explainAddKey turns add_key errnos into one-line reasons with fixes.
// Observed on 6.18: unsupported RSA sizes give EINVAL, a missing
// algorithm (ECDSA without CONFIG_CRYPTO_ECDSA) ENOENT, EdDSA ENOPKG.
func explainAddKey(err error, ring string) error {
	subject := ring + " keyring"
	switch {
	case errors.Is(err, unix.ENOKEY), errors.Is(err, unix.EKEYREJECTED):
		if ring == KeyringIMA {
			return userror.Wrap(err, subject, "the kernel refused the certificate ("+err.Error()+"): the .ima keyring only takes certificates signed by a key in the builtin or secondary trusted keyring",
				"sign the certificate with such a CA (or load the CA into .secondary_trusted_keys first)")
		}
		return userror.Wrapf(err, subject, "check the certificate with openssl x509 -inform DER -noout -text", "the kernel refused the certificate")
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOPKG):
		return userror.Wrap(err, subject, "the kernel lacks the crypto algorithm of this key ("+err.Error()+")",
			"use an RSA key, or a kernel with CONFIG_CRYPTO_ECDSA for ECDSA keys")
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EBADMSG):
		return userror.Wrap(err, subject, "the kernel could not parse the certificate or its key ("+err.Error()+")",
			"use RSA 2048/3072/4096 or ECDSA P-256/P-384 in a DER certificate")
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		if ring == KeyringUnderscoreIMA {
			return userror.Wrap(err, subject, "not allowed to add keys ("+err.Error()+"): the _ima keyring is neither possessed by this process nor writable by its owner",
				"link the user keyring into the session (keyctl link @u @s) or recreate _ima (keyctl unlink %keyring:_ima @u)")
		}
		return userror.Wrap(err, subject, "not allowed to add keys ("+err.Error()+")", "run as root in the namespace's user namespace")
	case errors.Is(err, unix.EDQUOT):
		return userror.Wrap(err, subject, "key quota exceeded", "raise /proc/sys/kernel/keys/root_maxkeys or maxbytes")
	}
	return userror.Wrapf(err, subject, "", "add_key failed")
}

func explainKeyctl(err error, what string) error {
	return userror.Wrapf(err, "_ima keyring", "the kernel needs CONFIG_KEYS; run as root", "cannot %s", what)
}

// DescribeKey returns KEYCTL_DESCRIBE output "type;uid;gid;perm;description".
func DescribeKey(serial int32) (string, error) {
	s, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, int(serial))
	return string(bytes.TrimRight([]byte(s), "\x00")), err
}

// SearchKeyID looks an asymmetric key up in a keyring by IMA key id, with
// the same description the kernel's request_asymmetric_key uses
// ("id:%08x"). It is the kernel's own answer to "which key would IMA use".
func SearchKeyID(ring int32, keyid uint32) (int32, error) {
	id, err := unix.KeyctlSearch(int(ring), "asymmetric", fmt.Sprintf("id:%08x", keyid), 0)
	return int32(id), err
}

// KeyIDsIn returns the IMA key ids of the asymmetric keys linked into the
// IMA keyring of mode (".ima", "_ima" or "auto", as AddToKeyring picks it),
// as the calling task sees them: the keyring's members (KEYCTL_READ) looked
// up in /proc/keys. It is the proof that a key is there, for keys the
// kernel was supposed to load itself (x509_for_children).
//
// On openEuler's IMA namespaces each key in .ima carries its namespace's
// key domain; whether a task inside one namespace is shown the others'
// keys in the keyring is not settled (docs/kernel-abi.md, switch
// keyring_shared), so a key of the same certificate loaded for another
// namespace may be counted here: a listed id proves that some namespace
// has the key, an absent one that this namespace has not (the hook then
// adds the key from inside to make it this namespace's, pkg/hook).
func (kr Keyrings) KeyIDsIn(mode string) ([]uint32, string, error) {
	var ring int32
	var name string
	switch mode {
	case KeyringIMA:
		s, err := kr.systemIMAKeyring()
		if err != nil {
			return nil, KeyringIMA, err
		}
		ring, name = s, KeyringIMA
	case KeyringUnderscoreIMA:
		id, err := unix.KeyctlSearch(unix.KEY_SPEC_SESSION_KEYRING, "keyring", KeyringUnderscoreIMA, 0)
		if err != nil {
			id, err = unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "keyring", KeyringUnderscoreIMA, 0)
		}
		if err != nil {
			return nil, KeyringUnderscoreIMA, nil // no _ima keyring: no keys
		}
		ring, name = int32(id), KeyringUnderscoreIMA
	case KeyringAuto, "":
		if _, err := kr.systemIMAKeyring(); err == nil {
			return kr.KeyIDsIn(KeyringIMA)
		} else if !errors.Is(err, errNoIMAKeyring) {
			return nil, "", err
		}
		return kr.KeyIDsIn(KeyringUnderscoreIMA)
	default:
		return nil, "", userror.New("keyring mode", "unknown mode "+userror.Quote(mode), `use ".ima", "_ima" or "auto"`)
	}
	members, err := keyringMembers(ring)
	if err != nil {
		return nil, name, userror.Wrapf(err, name+" keyring", "run as root", "cannot read the keyring")
	}
	p := kr.ProcKeys
	if p == "" {
		p = "/proc/keys"
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, name, userror.Wrapf(err, p, "the kernel needs CONFIG_KEYS and /proc mounted", "cannot read the key list")
	}
	defer f.Close()
	list, err := ParseProcKeys(f)
	if err != nil {
		return nil, name, userror.Wrapf(err, p, "report this: the /proc/keys format is kernel ABI", "")
	}
	return keyIDsOf(list, members), name, nil
}

// keyIDsOf returns the key ids of the asymmetric keys among list whose
// serial is one of members.
func keyIDsOf(list []ProcKey, members []int32) []uint32 {
	in := map[int32]bool{}
	for _, m := range members {
		in[m] = true
	}
	var out []uint32
	for _, k := range list {
		if !in[k.Serial] {
			continue
		}
		if id, ok := AsymmetricKeyID(k); ok {
			out = append(out, id)
		}
	}
	return out
}

// keyringMembers is KEYCTL_READ on a keyring: the serials linked into it.
func keyringMembers(ring int32) ([]int32, error) {
	buf := make([]byte, 4096)
	for {
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, int(ring), buf, 0)
		if err != nil {
			return nil, err
		}
		if n <= len(buf) {
			out := make([]int32, 0, n/4)
			for i := 0; i+4 <= n; i += 4 {
				out = append(out, int32(binary.NativeEndian.Uint32(buf[i:])))
			}
			return out, nil
		}
		if n > 1<<20 {
			return nil, fmt.Errorf("keyring %d lists %d bytes of members", ring, n)
		}
		buf = make([]byte, n)
	}
}
