package preflight

// SM3 digests and SM2 signatures in the preflight (issue 13): the vectors
// are pkg/keys/testdata/sm2, written by evmctl and OpenSSL
// (pkg/keys/testdata/gen-sm2.sh).

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/keys"
)

func smVector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "keys", "testdata", "sm2", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSM3AndSM2Files(t *testing.T) {
	root := t.TempDir()
	requireXattrs(t, root)
	cert, err := keys.LoadCertificate(smVector(t, "cert.der"))
	if err != nil {
		t.Fatal(err)
	}
	content := smVector(t, "content")
	tampered := append(append([]byte(nil), content...), 'x')
	files := []struct {
		rel     string
		data    []byte
		xattr   string
		cause   string // "" = passes
		verdict Verdict
	}{
		{"bin/sm3-hash", content, "hash-sm3.ima", "", Pass},
		{"bin/sm3-hash-tampered", tampered, "hash-sm3.ima", CauseWrongHash, Refused},
		{"bin/sm2-signed", content, "sig-sm3.ima", "", Pass},
		{"bin/sm2-tampered", tampered, "sig-sm3.ima", CauseBadSignature, Refused},
		{"bin/sm2-za", content, "sig-za.ima", CauseBadSignature, Refused},
		{"bin/sm2-sha256", content, "sig-sha256.ima", CauseBadSignature, Refused},
	}
	for _, f := range files {
		p := writeFile(t, root, f.rel, f.data, 0o755, 0, 0)
		setXattr(t, p, smVector(t, f.xattr))
	}
	rep := runPreflight(t, Options{Rootfs: root, Certs: []*keys.Certificate{cert}, FSMagic: MagicExt4,
		Rules: rules(t, "", "appraise func=BPRM_CHECK appraise_algos=sm3,sha256\n")})
	for _, f := range files {
		r := fileResult(t, rep.Files, "/"+f.rel)
		if r.Verdict != f.verdict || r.Cause != f.cause {
			t.Errorf("%s: %s cause %q (%s), want %s %q", f.rel, r.Verdict, r.Cause, r.Reason, f.verdict, f.cause)
		}
	}
	// appraise_algos without sm3 refuses the sm3 values before hashing.
	rep = runPreflight(t, Options{Rootfs: root, Certs: []*keys.Certificate{cert}, FSMagic: MagicExt4,
		Rules: rules(t, "", "appraise func=BPRM_CHECK appraise_algos=sha256\n")})
	if r := fileResult(t, rep.Files, "/bin/sm2-signed"); r.Cause != CauseDeniedAlgo {
		t.Errorf("sm2-signed under appraise_algos=sha256: %s %q (%s)", r.Verdict, r.Cause, r.Reason)
	}
	// imasig: the sm3 hash alone is not enough, the SM2 signature is.
	rep = runPreflight(t, Options{Rootfs: root, Certs: []*keys.Certificate{cert}, FSMagic: MagicExt4,
		Rules: rules(t, "", "appraise func=BPRM_CHECK appraise_type=imasig\n")})
	if r := fileResult(t, rep.Files, "/bin/sm3-hash"); r.Cause != CauseHashOnly {
		t.Errorf("sm3-hash under imasig: %s %q (%s)", r.Verdict, r.Cause, r.Reason)
	}
	if r := fileResult(t, rep.Files, "/bin/sm2-signed"); r.Verdict != Pass {
		t.Errorf("sm2-signed under imasig: %s %q (%s)", r.Verdict, r.Cause, r.Reason)
	}
}
