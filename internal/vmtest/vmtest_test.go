package vmtest

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
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func skipUnlessVM(t *testing.T) {
	t.Helper()
	if r := Unavailable(); r != "" {
		t.Skip(r)
	}
}

func TestBootMeasurementCount(t *testing.T) {
	skipUnlessVM(t)
	res, err := Run(context.Background(), Options{
		Cmdline: "ima_policy=tcb",
		Script: `cat /sys/kernel/security/ima/runtime_measurements_count > /tmp/count
echo "count=$(cat /tmp/count)"
export_file /tmp/count count`,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("boot+script took %s", res.Elapsed)
	if res.ExitCode != 0 {
		t.Fatalf("script exit %d; console:\n%s", res.ExitCode, res.Console)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(res.Files["count"])))
	if err != nil || n <= 0 {
		t.Fatalf("runtime_measurements_count = %q, want a positive number; console:\n%s", res.Files["count"], res.Console)
	}
	if !strings.Contains(res.Console, "count="+strconv.Itoa(n)) {
		t.Errorf("console lacks the script's echo count=%d", n)
	}
}

func TestTPMPCR10(t *testing.T) {
	if r := TPMUnavailable(); r != "" {
		t.Skip(r)
	}
	res, err := Run(context.Background(), Options{
		TPM:     true,
		Cmdline: "ima_policy=tcb",
		Script: `cat /bin/busybox >/dev/null
export_file /sys/class/tpm/tpm0/pcr-sha256/10 pcr10
export_file /sys/class/tpm/tpm0/pcr-sha1/10 pcr10sha1`,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TPM boot+script took %s", res.Elapsed)
	pcr := strings.TrimSpace(string(res.Files["pcr10"]))
	if !regexp.MustCompile(`^[0-9A-Fa-f]{64}$`).MatchString(pcr) || strings.Trim(pcr, "0") == "" {
		t.Fatalf("pcr-sha256/10 = %q, want 64 hex chars, non-zero; console:\n%s", pcr, res.Console)
	}
	sha1 := strings.TrimSpace(string(res.Files["pcr10sha1"]))
	if !regexp.MustCompile(`^[0-9A-Fa-f]{40}$`).MatchString(sha1) || strings.Trim(sha1, "0") == "" {
		t.Fatalf("pcr-sha1/10 = %q, want 40 hex chars, non-zero (sha1 bank allocated)", sha1)
	}
}

func TestScriptExitCodeAndTimeout(t *testing.T) {
	skipUnlessVM(t)
	res, err := Run(context.Background(), Options{Script: "echo hello; exit 7"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 7 || !strings.Contains(res.Console, "hello") {
		t.Fatalf("exit %d, want 7; console:\n%s", res.ExitCode, res.Console)
	}
	start := time.Now()
	_, err = Run(context.Background(), Options{Script: "sleep 600", Timeout: 20 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 40*time.Second {
		t.Fatalf("timeout took %s", d)
	}
}

// TestAppraisalSignedTmpfs proves the documented way to give guest files a
// security.ima signature (File.Xattrs on the tmpfs rootfs) and to load a key
// (HostTools keyctl into an "_ima" keyring) is enough for IMA appraisal:
// a signed copy of busybox runs, an unsigned copy and a signed-then-changed
// copy are refused by exec.
func TestAppraisalSignedTmpfs(t *testing.T) {
	skipUnlessVM(t)
	for _, tool := range []string{"evmctl", "keyctl", "setfattr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install ima-evm-utils keyutils attr)", tool)
		}
	}
	dir := t.TempDir()
	keyPEM, certDER := testSigningKey(t)
	keyPath := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	bbPath, err := staticBusybox()
	if err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile(bbPath)
	if err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(dir, "busybox-signed")
	if err := os.WriteFile(signed, bb, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("evmctl", "ima_sign", "--sigfile", "--key", keyPath, "-a", "sha256", signed).CombinedOutput(); err != nil {
		t.Fatalf("evmctl ima_sign: %v: %s", err, out)
	}
	sig, err := os.ReadFile(signed + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	// The changed copy keeps the signature of the original bytes.
	changed := append(append([]byte(nil), bb...), 0)
	res, err := Run(context.Background(), Options{
		HostTools: []string{"keyctl"},
		Files: []File{
			{Path: "/opt/busybox-signed", Data: bb, Mode: 0o755, Xattrs: map[string][]byte{"security.ima": sig}},
			{Path: "/opt/busybox-unsigned", Data: bb, Mode: 0o755},
			{Path: "/opt/busybox-changed", Data: changed, Mode: 0o755, Xattrs: map[string][]byte{"security.ima": sig}},
			{Path: "/etc/ima.der", Data: certDER},
		},
		Script: `set -e
chown 1000 /opt/busybox-*
ring=$(keyctl newring _ima @u)
keyctl padd asymmetric "" "$ring" < /etc/ima.der
echo "appraise func=BPRM_CHECK fowner=1000 appraise_type=imasig" > /sys/kernel/security/ima/policy
set +e
for f in signed unsigned changed; do
	/opt/busybox-$f true 2>/dev/null
	echo "$f=$?" >> /tmp/outcome
done
export_file /tmp/outcome outcome`,
		Timeout: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(res.Files["outcome"]))
	want := []string{"signed=0", "unsigned=126", "changed=126"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("exec outcomes %q, want %q (126 = EACCES from exec); console:\n%s", got, want, res.Console)
	}
}

// testSigningKey makes an RSA key (PKCS#8 PEM for evmctl) and a self-signed
// certificate (DER for keyctl) whose subjectKeyIdentifier is the SHA-1 of
// the public key, the id evmctl puts into the signature header.
func testSigningKey(t *testing.T) (keyPEM, certDER []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	skid := sha1.Sum(x509.MarshalPKCS1PublicKey(&key.PublicKey))
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vmtest IMA key"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		SubjectKeyId:          skid[:],
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	certDER, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), certDER
}

// TestExt4ImageWithXattr checks Options.Modules (insmod with dependencies
// from .modinfo) and Ext4Image (mke2fs -d + debugfs ea_set): the guest
// mounts the image over loop and reads back the file and its security.ima.
func TestExt4ImageWithXattr(t *testing.T) {
	skipUnlessVM(t)
	for _, tool := range []string{"mke2fs", "debugfs", "getfattr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install e2fsprogs attr)", tool)
		}
	}
	xattr := []byte{0x04, 0x04, 1, 2, 3} // any value: ext4 does not judge it
	img, err := Ext4Image([]File{
		{Path: "/bin/hello", Data: []byte("#!/bin/sh\necho hello from ext4\n"), Mode: 0o755, Xattrs: map[string][]byte{"security.ima": xattr}},
	}, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{
		Modules:   Ext4Modules,
		HostTools: []string{"getfattr"},
		Files:     []File{{Path: "/disk.img", Data: img}},
		Script: `set -e
mount_ext4 /disk.img /mnt
grep -q ' /mnt ext4 ' /proc/mounts
/mnt/bin/hello > /tmp/out
getfattr -e hex -n security.ima /mnt/bin/hello | grep = >> /tmp/out
export_file /tmp/out out`,
		Timeout: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "hello from ext4\nsecurity.ima=0x0404010203\n"
	if got := string(res.Files["out"]); got != want || res.ExitCode != 0 {
		t.Fatalf("exit %d, out %q, want %q; console:\n%s", res.ExitCode, got, want, res.Console)
	}
}

// TestPolicyVerdictPerWrite checks the recipe docs/vm-oracle.md gives the
// policy validator: one open of the policy file, one rule per write(), and
// each write answers for its own rule (ima_write_policy ->
// ima_parse_add_rule), also after an earlier rule was refused.
func TestPolicyVerdictPerWrite(t *testing.T) {
	skipUnlessVM(t)
	corpus := "measure func=BPRM_CHECK\nmeasure func=NOT_A_HOOK\nappraise func=BPRM_CHECK fowner=1000 appraise_type=imasig\ndont_measure fsmagic=0x9fa0\n"
	res, err := Run(context.Background(), Options{
		Files: []File{{Path: "/rules", Data: []byte(corpus)}},
		Script: `exec 3> /sys/kernel/security/ima/policy
while IFS= read -r rule; do
	if printf '%s\n' "$rule" >&3 2>/dev/null; then echo "ok $rule"; else echo "EINVAL $rule"; fi
done < /rules > /tmp/verdicts
exec 3>&-
export_file /tmp/verdicts verdicts`,
		Timeout: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "ok measure func=BPRM_CHECK\nEINVAL measure func=NOT_A_HOOK\nok appraise func=BPRM_CHECK fowner=1000 appraise_type=imasig\nok dont_measure fsmagic=0x9fa0\n"
	if got := string(res.Files["verdicts"]); got != want {
		t.Fatalf("verdicts:\n%s\nwant:\n%s\nconsole:\n%s", got, want, res.Console)
	}
}
