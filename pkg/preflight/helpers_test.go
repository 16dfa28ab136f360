package preflight

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/keys"
	"github.com/ima-hook/ima-hook/pkg/policy"
)

// requireXattrs skips unless we may set security.* xattrs in dir (root,
// and a filesystem with xattr support; /tmp is ext4 on the build machines).
func requireXattrs(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to set security.ima")
	}
	probe := filepath.Join(dir, ".xattr-probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(probe)
	if err := unix.Setxattr(probe, keys.XattrName, []byte{0x04, 0x04}, 0); err != nil {
		t.Skipf("the filesystem of %s cannot hold security.ima: %v", dir, err)
	}
}

func requireTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s is not installed (apt-get install ima-evm-utils attr)", n)
		}
	}
}

// testKey is an RSA signing key whose certificate has the RFC 5280
// method-1 subjectKeyIdentifier, so evmctl's key id (calc_keyid_v2) is the
// SKID tail the kernel finds the key by (docs/keys.md).
type testKey struct {
	keyPath string // PKCS#8 PEM, for evmctl --key
	der     []byte
	cert    *keys.Certificate
}

func newTestKey(t *testing.T, dir, name string) testKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	skid := sha1.Sum(x509.MarshalPKCS1PublicKey(&key.PublicKey))
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "preflight test " + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		SubjectKeyId:          skid[:],
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	kp := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(kp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := keys.LoadCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{keyPath: kp, der: der, cert: cert}
}

// evmSign signs file with evmctl ima_sign (security.ima set in place).
func evmSign(t *testing.T, k testKey, file string) {
	t.Helper()
	if out, err := exec.Command("evmctl", "ima_sign", "--key", k.keyPath, "-a", "sha256", file).CombinedOutput(); err != nil {
		t.Fatalf("evmctl ima_sign %s: %v: %s", file, err, out)
	}
}

// evmHash writes a hash value with evmctl ima_hash.
func evmHash(t *testing.T, file, algo string) {
	t.Helper()
	if out, err := exec.Command("evmctl", "ima_hash", "-a", algo, file).CombinedOutput(); err != nil {
		t.Fatalf("evmctl ima_hash %s: %v: %s", file, err, out)
	}
}

func getXattr(t *testing.T, file string) []byte {
	t.Helper()
	b, err := keys.ReadIMAXattr(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return b
}

func setXattr(t *testing.T, file string, v []byte) {
	t.Helper()
	if err := unix.Lsetxattr(file, keys.XattrName, v, 0); err != nil {
		t.Fatalf("setxattr %s: %v", file, err)
	}
}

// writeFile creates rootfs-relative file rel with content and mode, owned
// by uid:gid.
func writeFile(t testing.TB, root, rel string, data []byte, mode os.FileMode, uid, gid int) string {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
	return p
}

func symlink(t testing.TB, root, rel, target string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// testProfile is the default openEuler profile with the grammar of a
// 6.1 kernel, so gid conditions and appraise_algos parse.
func testProfile() policy.Profile {
	p := policy.DefaultProfile()
	p.Features.GIDConds = true
	p.Features.AppraiseAlgos = true
	p.Features.DigestType = true
	p.Features.MmapReqprot = true
	return p
}

// rules parses custom rules after kcmd's built-ins, as the hook loads them.
func rules(t testing.TB, kcmd, text string) []policy.Rule {
	t.Helper()
	p := testProfile()
	var k policy.Kcmd
	if kcmd != "" {
		var err error
		if k, err = policy.ParseKcmd(kcmd, policy.KcmdOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var pol *policy.Policy
	if strings.TrimSpace(text) != "" {
		var errs []*policy.RuleError
		pol, errs = policy.Parse(text, p)
		if len(errs) > 0 {
			t.Fatalf("policy: %v", errs[0])
		}
	}
	r, err := EffectiveRules(k, pol, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func runPreflight(t *testing.T, opt Options) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, opt)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func fileResult(t *testing.T, files []FileResult, p string) FileResult {
	t.Helper()
	for _, f := range files {
		if f.Path == p {
			return f
		}
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Path)
	}
	t.Fatalf("%s not in the results (%s)", p, strings.Join(names, " "))
	return FileResult{}
}

func hasPath(files []FileResult, p string) bool {
	for _, f := range files {
		if f.Path == p {
			return true
		}
	}
	return false
}
