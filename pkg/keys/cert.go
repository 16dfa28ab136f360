// Package keys handles what IMA appraisal needs from keys and signatures:
// X.509 certificates the kernel's asymmetric key parser accepts, their IMA
// key ids computed exactly as evmctl computes them, adding them to the IMA
// keyring (.ima or _ima), and the security.ima extended attribute (hashes
// and signatures) decoded and verified as the kernel would.
package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/safefile"
)

// MaxCertSize bounds certificate input. Real IMA certificates are about
// 1 KiB; the kernel itself refuses add_key payloads above 1 MiB.
const MaxCertSize = 64 << 10

// Certificate is an X.509 certificate ready for an IMA keyring.
type Certificate struct {
	DER       []byte           // what add_key and x509_for_children take
	FromPEM   bool             // input was PEM; DER is the decoded block
	KeyID     uint32           // IMA key id as evmctl puts it into signatures
	KeyIDFrom string           // "skid" or "pubkey" (calc_keyid_v2)
	SKID      []byte           // subjectKeyIdentifier, nil when absent
	Subject   string           // RFC 2253 form, for messages
	Issuer    string           // RFC 2253 form
	Serial    []byte           // raw serial INTEGER content, as the kernel keeps it
	NotBefore time.Time        // validity; the kernel does not enforce it
	NotAfter  time.Time        //
	Algo      string           // "rsa-2048", "ecdsa-p256", "sm2", ...
	Bits      int              // key size in bits
	Requires  string           // kernel support the key needs, for messages and status
	Warnings  []string         // accepted, but worth telling the admin
	PublicKey crypto.PublicKey // *rsa.PublicKey or *ecdsa.PublicKey (also for SM2: curve sm2p256v1)
	Path      string           // resolved file path when loaded from a file

	issuerTail uint32 // last 4 bytes of raw serial||issuer (kernel id[0] tail)
}

// KeyIDHex is the key id as evmctl and the kernel print it ("aabbccdd").
func (c *Certificate) KeyIDHex() string { return fmt.Sprintf("%08x", c.KeyID) }

// KernelMatches reports whether the kernel would pick this certificate for
// a signature carrying keyid. IMA looks the key up with
// request_asymmetric_key(keyring, keyid) -> keyring_search("id:%08x"), and
// the asymmetric key type matches that against the *tail* of each key id of
// the key (asymmetric_key_id_partial): id[1] = subjectKeyIdentifier and
// id[0] = raw serial || raw issuer. Seen on 6.18: a certificate without SKID
// is found by the last 4 bytes of its issuer name, never by the
// calc_keyid_v2 id evmctl would sign with.
func (c *Certificate) KernelMatches(keyid uint32) bool {
	if len(c.SKID) >= 4 && binary.BigEndian.Uint32(c.SKID[len(c.SKID)-4:]) == keyid {
		return true
	}
	return c.issuerTail == keyid
}

// Options tune ParseCertificate.
type Options struct {
	// AllowNoSKID accepts certificates without a usable (>= 4 byte)
	// subjectKeyIdentifier. The kernel cannot match evmctl signatures to
	// such a key (see KernelMatches), so the default refuses them; tools
	// that only inspect certificates may allow them.
	AllowNoSKID bool
	// MaxSize overrides MaxCertSize when > 0.
	MaxSize int
}

// LoadCertificate parses a certificate for IMA appraisal: DER (what the
// kernel keyrings take) or PEM (converted to DER, Certificate.FromPEM set).
// It refuses what the kernel cannot use for IMA, and certificates without a
// subjectKeyIdentifier (whose key the kernel would never find).
// Errors are *userror.Error without a subject; callers set it.
func LoadCertificate(data []byte) (*Certificate, error) {
	return ParseCertificate(data, Options{})
}

// LoadCertificateFile reads a certificate file that must lie inside dir
// (resolved with safefile.ReadInDir: no symlink may leave dir) and loads
// it with LoadCertificate. maxSize <= 0 means MaxCertSize. Errors carry the
// path as their subject.
func LoadCertificateFile(dir, path string, maxSize int64) (*Certificate, error) {
	if maxSize <= 0 {
		maxSize = MaxCertSize
	}
	data, resolved, err := safefile.ReadInDir(dir, path, maxSize)
	if err != nil {
		var se *safefile.Error
		if errors.As(err, &se) {
			return nil, userror.Wrap(err, path, se.Problem, se.Fix)
		}
		return nil, userror.Wrapf(err, path, "", "")
	}
	c, err := ParseCertificate(data, Options{MaxSize: int(maxSize)})
	if err != nil {
		var ue *userror.Error
		if errors.As(err, &ue) && ue.Subject == "" {
			ue.Subject = path
		}
		return nil, err
	}
	c.Path = resolved
	return c, nil
}

func certErr(problem, fix string) error { return userror.New("", problem, fix) }

// ParseCertificate is LoadCertificate with options.
func ParseCertificate(data []byte, opt Options) (*Certificate, error) {
	max := opt.MaxSize
	if max <= 0 {
		max = MaxCertSize
	}
	if len(data) == 0 {
		return nil, certErr("empty certificate file", "supply a DER X.509 certificate (openssl x509 -outform DER)")
	}
	if len(data) > max {
		return nil, certErr(fmt.Sprintf("certificate input is %d bytes, more than the limit of %d", len(data), max),
			"supply a single DER X.509 certificate (about 1 KiB)")
	}
	c := &Certificate{}
	der := data
	var privateToo bool
	if looksPEM(data) {
		var err error
		der, privateToo, err = pemCertificate(data)
		if err != nil {
			return nil, err
		}
		c.FromPEM = true
	}
	if err := c.parseDER(der); err != nil {
		return nil, err
	}
	if privateToo {
		c.Warnings = append(c.Warnings, "the PEM file also holds a private key: keep signing keys out of the hook's key directory")
	}
	if len(c.SKID) < 4 && !opt.AllowNoSKID {
		what := "has no subjectKeyIdentifier"
		if len(c.SKID) > 0 {
			what = fmt.Sprintf("has a %d-byte subjectKeyIdentifier", len(c.SKID))
		}
		return nil, certErr("certificate "+what+": the kernel finds IMA keys by the last 4 bytes of it, so no evmctl signature could be matched to this key",
			"reissue the certificate with a subjectKeyIdentifier (openssl: -addext subjectKeyIdentifier=hash)")
	}
	return c, nil
}

func looksPEM(data []byte) bool {
	return bytes.Contains(data, []byte("-----BEGIN "))
}

// pemCertificate extracts the one CERTIFICATE block, explaining what else
// was found when there is none; privateToo reports a private key block
// next to the certificate.
func pemCertificate(data []byte) (der []byte, privateToo bool, err error) {
	var certs [][]byte
	var others []string
	rest := data
	for i := 0; i < 64; i++ { // bound the number of blocks looked at
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			certs = append(certs, b.Bytes)
		} else {
			others = append(others, b.Type)
		}
	}
	for _, t := range others {
		privateToo = privateToo || strings.Contains(t, "PRIVATE KEY")
	}
	switch {
	case len(certs) == 1:
		return certs[0], privateToo, nil
	case len(certs) > 1:
		return nil, false, certErr(fmt.Sprintf("PEM file holds %d certificates; the IMA keyring takes one per key", len(certs)),
			"split them and name the signing certificate only")
	}
	for _, t := range others {
		if strings.Contains(t, "PRIVATE KEY") {
			return nil, false, certErr("not an X.509 certificate (got a PEM "+t+")",
				"never hand a private key to the hook; give the certificate: openssl req -new -x509 -key KEY -out cert.pem, then openssl x509 -in cert.pem -outform DER -out cert.der")
		}
	}
	if len(others) > 0 {
		return nil, false, certErr("not an X.509 certificate (got a PEM "+others[0]+")",
			"IMA needs an X.509 certificate: openssl x509 -in cert.pem -outform DER -out cert.der")
	}
	return nil, false, certErr("PEM markers found but no decodable PEM block", "convert with openssl x509 -in cert.pem -outform DER -out cert.der")
}

func (c *Certificate) parseDER(der []byte) error {
	// Trailing bytes after the certificate would be silently ignored by
	// some parsers; the kernel's x509_cert_parse works on the exact blob.
	var outer asn1.RawValue
	rest, err := asn1.Unmarshal(der, &outer)
	if err != nil || outer.Class != asn1.ClassUniversal || outer.Tag != asn1.TagSequence {
		return notACertificate(der)
	}
	if len(rest) > 0 {
		return certErr(fmt.Sprintf("%d unexpected bytes after the certificate at offset %d", len(rest), len(der)-len(rest)),
			"supply exactly one DER certificate (openssl x509 -outform DER)")
	}
	x, err := x509.ParseCertificate(der)
	sm2Key := false
	if err != nil && strings.HasPrefix(spkiAlgorithm(der), "SM2 (curve") {
		// Go's x509 knows no sm2p256v1 curve; gmsm's smx509 parses the
		// same DER into the same structure with an SM2 *ecdsa.PublicKey,
		// as the kernel's x509_extract_key_data does (pkey_algo "sm2").
		if sx, serr := smx509.ParseCertificate(der); serr == nil {
			x, err, sm2Key = sx.ToX509(), nil, true
		}
	}
	if err != nil {
		// Go refuses some algorithms the kernel knows (SM2, GOST); name
		// the algorithm instead of passing on "unsupported elliptic curve".
		if alg := spkiAlgorithm(der); alg != "" {
			return unsupportedAlgo(alg)
		}
		if e := identifyNonCertificate(der); e != nil {
			return e
		}
		return certErr("not a valid X.509 certificate: "+strings.TrimPrefix(err.Error(), "x509: "),
			"check the file (openssl x509 -inform DER -in FILE -noout -text)")
	}
	c.DER = append([]byte(nil), der...)
	c.Subject = x.Subject.String()
	c.Issuer = x.Issuer.String()
	c.NotBefore, c.NotAfter = x.NotBefore, x.NotAfter
	if len(x.SubjectKeyId) > 0 {
		c.SKID = append([]byte(nil), x.SubjectKeyId...)
	}
	if err := c.checkKey(x); err != nil {
		return err
	}
	if sm2Key {
		if err := checkSM2SelfSignature(der, x); err != nil {
			return err
		}
	}
	bits, err := subjectPublicKeyBits(x.RawSubjectPublicKeyInfo)
	if err != nil {
		return certErr("subjectPublicKeyInfo: "+err.Error(), "check the file (openssl x509 -inform DER -in FILE -noout -text)")
	}
	if len(c.SKID) >= 4 {
		// libimaevm read_keyid_from_cert: last 4 bytes of the SKID.
		c.KeyID = binary.BigEndian.Uint32(c.SKID[len(c.SKID)-4:])
		c.KeyIDFrom = "skid"
	} else {
		// libimaevm calc_keyid_v2: bytes 16..19 of SHA-1 over the
		// subjectPublicKey BIT STRING contents (what evmctl uses when the
		// signing key file carries no certificate).
		sum := sha1.Sum(bits)
		c.KeyID = binary.BigEndian.Uint32(sum[16:20])
		c.KeyIDFrom = "pubkey"
	}
	serial, issuer, err := tbsSerialIssuer(x.RawTBSCertificate)
	if err != nil {
		return certErr("tbsCertificate: "+err.Error(), "check the file (openssl x509 -inform DER -in FILE -noout -text)")
	}
	c.Serial = serial
	id0 := append(append([]byte(nil), serial...), issuer...)
	if len(id0) >= 4 {
		c.issuerTail = binary.BigEndian.Uint32(id0[len(id0)-4:])
	}
	if now := time.Now(); now.After(c.NotAfter) {
		c.Warnings = append(c.Warnings, "certificate expired on "+c.NotAfter.UTC().Format(time.RFC3339)+" (the kernel does not check validity dates)")
	} else if now.Before(c.NotBefore) {
		c.Warnings = append(c.Warnings, "certificate not valid before "+c.NotBefore.UTC().Format(time.RFC3339)+" (the kernel does not check validity dates)")
	}
	return nil
}

// kernelRSASizes are the moduli the kernel's RSA implementation takes
// (crypto/rsa.c rsa_check_key_length); other sizes fail add_key with
// EINVAL. Checked on 6.18: 512..4096 in this set load, 1025, 3000 and 8192
// bits are refused.
var kernelRSASizes = map[int]bool{1024: true, 1536: true, 2048: true, 3072: true, 4096: true}

func (c *Certificate) checkKey(x *x509.Certificate) error {
	switch k := x.PublicKey.(type) {
	case *rsa.PublicKey:
		c.PublicKey = k
		c.Bits = k.N.BitLen()
		c.Algo = fmt.Sprintf("rsa-%d", c.Bits)
		c.Requires = "CONFIG_CRYPTO_RSA (every IMA kernel)"
		if c.Bits == 512 {
			return certErr("RSA-512 key: trivially breakable, and Go refuses to verify with it",
				"use an RSA key of 2048, 3072 or 4096 bits, or ECDSA P-256/P-384")
		}
		if !kernelRSASizes[c.Bits] {
			return certErr(fmt.Sprintf("RSA key of %d bits: the kernel accepts only 1024, 1536, 2048, 3072 or 4096-bit moduli (rsa_check_key_length), add_key fails with EINVAL", c.Bits),
				"reissue with 2048, 3072 or 4096 bits (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072)")
		}
		if c.Bits < 2048 {
			c.Warnings = append(c.Warnings, fmt.Sprintf("RSA-%d is weak, and kernels in FIPS mode refuse keys below 2048 bits", c.Bits))
		}
	case *ecdsa.PublicKey:
		c.PublicKey = k
		c.Bits = k.Curve.Params().BitSize
		if sm2.IsSM2PublicKey(k) {
			c.Algo = "sm2"
			c.Requires = "CONFIG_CRYPTO_SM2 and CONFIG_CRYPTO_SM3 (openEuler kernels; Debian's and recent mainline kernels have no SM2)"
			return nil
		}
		switch k.Curve {
		case elliptic.P256():
			c.Algo = "ecdsa-p256"
			c.Requires = "kernel >= 5.13 with CONFIG_CRYPTO_ECDSA"
		case elliptic.P384():
			c.Algo = "ecdsa-p384"
			c.Requires = "kernel >= 5.13 with CONFIG_CRYPTO_ECDSA"
		case elliptic.P521():
			c.Algo = "ecdsa-p521"
			c.Requires = "kernel >= 6.10 with CONFIG_CRYPTO_ECDSA (NIST P-521 support)"
		default:
			return unsupportedAlgo("ECDSA curve " + k.Curve.Params().Name)
		}
	default:
		return unsupportedAlgo(describePKAlgo(x))
	}
	return nil
}

func describePKAlgo(x *x509.Certificate) string {
	switch x.PublicKeyAlgorithm {
	case x509.Ed25519:
		return "Ed25519"
	case x509.DSA:
		return "DSA"
	}
	if alg := spkiAlgorithm(x.Raw); alg != "" {
		return alg
	}
	return x.PublicKeyAlgorithm.String()
}

func unsupportedAlgo(alg string) error {
	var why string
	switch {
	case alg == "SM2":
		why = "ima-hook reads SM2 keys in the form OpenSSL writes (id-ecPublicKey with the sm2p256v1 curve), not under the bare SM2 algorithm OID"
		return certErr("unsupported public key algorithm "+alg+": "+why,
			"reissue the certificate with OpenSSL: openssl req -x509 -key sm2.pem -sm3 -sigopt distid:1234567812345678 -addext subjectKeyIdentifier=hash -outform DER -out cert.der")
	case strings.HasPrefix(alg, "SM2"):
		why = "the SM2 key or certificate does not parse"
	case strings.HasPrefix(alg, "Ed25519"), strings.HasPrefix(alg, "Ed448"):
		why = "the kernel's X.509 parser (x509_note_pkey_algo) has no EdDSA support, IMA cannot use this key"
	case strings.HasPrefix(alg, "GOST"):
		why = "EC-RDSA (GOST) keys need CONFIG_CRYPTO_ECRDSA and ima-hook cannot verify them"
	case strings.HasPrefix(alg, "RSASSA-PSS"):
		why = "certificates with RSASSA-PSS-restricted keys are not usable for IMA's PKCS#1 v1.5 signatures"
	default:
		why = "IMA appraisal keys must be RSA or ECDSA (P-256, P-384)"
	}
	return certErr("unsupported public key algorithm "+alg+": "+why,
		"use an RSA (2048/3072/4096) or ECDSA P-256/P-384 key")
}

// checkSM2SelfSignature verifies a self-issued SM2 certificate's own
// signature as x509_check_for_self_signed does (public_key_verify_signature
// with ZA of the default user id "1234567812345678" over the TBS): a
// self-signed certificate whose signature fails is refused by add_key
// with EKEYREJECTED. OpenSSL 3's `req -x509 -sm3` signs with an empty id
// unless given -sigopt distid:1234567812345678 (checked with 3.0), so this
// catches the common mistake before the kernel silently drops the key.
// Certificates issued by another key are left to the kernel's keyring
// restriction.
func checkSM2SelfSignature(der []byte, x *x509.Certificate) error {
	if !bytes.Equal(x.RawIssuer, x.RawSubject) {
		return nil
	}
	if len(x.AuthorityKeyId) > 0 && len(x.SubjectKeyId) > 0 && !bytes.Equal(x.AuthorityKeyId, x.SubjectKeyId) {
		return nil // issued by another key of the same name
	}
	sx, err := smx509.ParseCertificate(der)
	if err != nil {
		return certErr("SM2 certificate: "+err.Error(), "check the file (openssl x509 -inform DER -in FILE -noout -text)")
	}
	if err := sx.CheckSignature(sx.SignatureAlgorithm, sx.RawTBSCertificate, sx.Signature); err != nil {
		return certErr("self-signed SM2 certificate whose own signature does not verify with the default user id (the kernel's add_key refuses it with EKEYREJECTED): "+strings.TrimPrefix(err.Error(), "x509: "),
			"sign it with the default id (OpenSSL 3 uses an empty one unless told): openssl req -x509 -key sm2.pem -sm3 -sigopt distid:1234567812345678 -addext subjectKeyIdentifier=hash -outform DER -out cert.der")
	}
	return nil
}

// notACertificate explains what the DER blob is instead, when that can be
// told cheaply (a private key handed over by mistake is the common case).
func notACertificate(der []byte) error {
	if e := identifyNonCertificate(der); e != nil {
		return e
	}
	return certErr("not an X.509 certificate (neither DER nor PEM)", "convert with openssl x509 -in FILE -outform DER -out cert.der")
}

func identifyNonCertificate(der []byte) error {
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return certErr("not an X.509 certificate (got a private key)", "give the certificate, never the key: openssl x509 -in cert.pem -outform DER -out cert.der")
	}
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return certErr("not an X.509 certificate (got a private key)", "give the certificate, never the key: openssl x509 -in cert.pem -outform DER -out cert.der")
	}
	if _, err := x509.ParseECPrivateKey(der); err == nil {
		return certErr("not an X.509 certificate (got a private key)", "give the certificate, never the key: openssl x509 -in cert.pem -outform DER -out cert.der")
	}
	if _, err := x509.ParsePKIXPublicKey(der); err == nil {
		return certErr("not an X.509 certificate (got a bare public key)",
			"IMA keyrings take certificates: openssl req -new -x509 -key KEY -subj /CN=ima -addext subjectKeyIdentifier=hash -outform DER -out cert.der")
	}
	return nil
}

// Object identifiers of public key algorithms, for naming what Go's
// x509 cannot parse.
var (
	oidRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAPSS    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidEC        = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSM2       = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
	oidEd25519   = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidEd448     = asn1.ObjectIdentifier{1, 3, 101, 113}
	oidGOST256   = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 1, 1}
	oidGOST512   = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 1, 2}
	oidDSA       = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}
	oidCurveP192 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 1}
	oidCurveP224 = asn1.ObjectIdentifier{1, 3, 132, 0, 33}
)

// spkiAlgorithm names the public key algorithm of a certificate whose
// structure parses, "" when it cannot be told.
func spkiAlgorithm(der []byte) string {
	tbs, err := tbsElements(der)
	if err != nil {
		return ""
	}
	// Elements: [version] serial sigAlg issuer validity subject spki ...
	i := 0
	if len(tbs) > 0 && tbs[0].Class == asn1.ClassContextSpecific && tbs[0].Tag == 0 {
		i = 1
	}
	if len(tbs) < i+6 {
		return ""
	}
	var spki struct {
		Algo struct {
			OID    asn1.ObjectIdentifier
			Params asn1.RawValue `asn1:"optional"`
		}
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(tbs[i+5].FullBytes, &spki); err != nil {
		return ""
	}
	oid := spki.Algo.OID
	switch {
	case oid.Equal(oidSM2):
		return "SM2"
	case oid.Equal(oidEd25519):
		return "Ed25519"
	case oid.Equal(oidEd448):
		return "Ed448"
	case oid.Equal(oidGOST256), oid.Equal(oidGOST512):
		return "GOST R 34.10-2012 (EC-RDSA)"
	case oid.Equal(oidDSA):
		return "DSA"
	case oid.Equal(oidRSAPSS):
		return "RSASSA-PSS"
	case oid.Equal(oidRSA):
		return "RSA"
	case oid.Equal(oidEC):
		var curve asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(spki.Algo.Params.FullBytes, &curve); err == nil {
			switch {
			case curve.Equal(oidSM2):
				return "SM2 (curve sm2p256v1)"
			case curve.Equal(oidCurveP192):
				return "ECDSA curve P-192"
			case curve.Equal(oidCurveP224):
				return "ECDSA curve P-224"
			}
			return "ECDSA curve " + curve.String()
		}
		return "ECDSA (unknown curve)"
	}
	return "OID " + oid.String()
}

// tbsElements returns the top-level elements of the tbsCertificate.
func tbsElements(der []byte) ([]asn1.RawValue, error) {
	var outer asn1.RawValue
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		return nil, err
	}
	var tbs asn1.RawValue
	if _, err := asn1.Unmarshal(outer.Bytes, &tbs); err != nil {
		return nil, err
	}
	return sequenceElements(tbs.FullBytes)
}

// sequenceElements splits a DER SEQUENCE into its elements, bounded.
func sequenceElements(seq []byte) ([]asn1.RawValue, error) {
	var s asn1.RawValue
	if _, err := asn1.Unmarshal(seq, &s); err != nil {
		return nil, err
	}
	if s.Tag != asn1.TagSequence {
		return nil, errors.New("not a SEQUENCE")
	}
	var out []asn1.RawValue
	rest := s.Bytes
	for len(rest) > 0 && len(out) < 32 {
		var e asn1.RawValue
		var err error
		rest, err = asn1.Unmarshal(rest, &e)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// tbsSerialIssuer returns the raw serial INTEGER content and the issuer
// Name content, which x509_note_serial/x509_note_issuer keep and
// asymmetric_key_generate_id concatenates into the key's id[0].
func tbsSerialIssuer(tbs []byte) (serial, issuer []byte, err error) {
	el, err := sequenceElements(tbs)
	if err != nil {
		return nil, nil, err
	}
	i := 0
	if len(el) > 0 && el[0].Class == asn1.ClassContextSpecific && el[0].Tag == 0 {
		i = 1
	}
	if len(el) < i+4 {
		return nil, nil, errors.New("too few elements")
	}
	if el[i].Tag != asn1.TagInteger {
		return nil, nil, errors.New("serial number is not an INTEGER")
	}
	return el[i].Bytes, el[i+2].Bytes, nil
}

// subjectPublicKeyBits is the content of the subjectPublicKey BIT STRING
// (without the unused-bits octet), the input of calc_keyid_v2.
func subjectPublicKeyBits(spkiDER []byte) ([]byte, error) {
	var spki struct {
		Algo asn1.RawValue
		Key  asn1.BitString
	}
	rest, err := asn1.Unmarshal(spkiDER, &spki)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, errors.New("trailing data")
	}
	return spki.Key.Bytes, nil
}

// PubKeyKeyID is calc_keyid_v2 for a bare SubjectPublicKeyInfo (DER), the
// id evmctl signs with when its key file carries no certificate.
func PubKeyKeyID(spkiDER []byte) (uint32, error) {
	bits, err := subjectPublicKeyBits(spkiDER)
	if err != nil {
		return 0, err
	}
	sum := sha1.Sum(bits)
	return binary.BigEndian.Uint32(sum[16:20]), nil
}

// String summarises the certificate for logs.
func (c *Certificate) String() string {
	skid := "none"
	if c.SKID != nil {
		skid = hex.EncodeToString(c.SKID)
	}
	return fmt.Sprintf("keyid %s (%s) %s subject %q skid %s not-after %s", c.KeyIDHex(), c.KeyIDFrom, c.Algo, c.Subject, skid, c.NotAfter.UTC().Format("2006-01-02"))
}

// CheckSignedBy reports whether the certificate certDER is signed by the key
// of the certificate issuerDER, as the kernel's restrict_link_by_signature
// decides for a keyring restricted to keys signed by trusted ones
// (CONFIG_IMA_TRUSTED_KEYRING): the certificate's authorityKeyIdentifier
// must name the issuer (find_asymmetric_key looks the signing key up by
// it), and the
// issuer's key must verify the signature over the TBS (public_key_verify_
// signature; SM2 with the default user id, as for a self-signed one). Like
// the kernel it checks nothing else: no basic constraints, key usage or
// validity period. It parses with the SM2-capable parser, so RSA, ECDSA
// and SM2 certificates and issuers all work.
func CheckSignedBy(certDER, issuerDER []byte) error {
	c, err := smx509.ParseCertificate(certDER)
	if err != nil {
		return err
	}
	ca, err := smx509.ParseCertificate(issuerDER)
	if err != nil {
		return err
	}
	// Only the key id form of the authority id is taken: the kernel also
	// finds a key by the issuer name and serial form, which certificates
	// from openssl and Go do not need (stricter than the kernel, never
	// kinder).
	if len(c.AuthorityKeyId) == 0 || len(ca.SubjectKeyId) == 0 || !bytes.Equal(c.AuthorityKeyId, ca.SubjectKeyId) {
		return errors.New("its authorityKeyIdentifier does not name the issuer's subject key id (restrict_link_by_signature finds the signing key by it)")
	}
	return ca.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
}
