package policy

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestProfileFromConfigDebian61(t *testing.T) {
	p := debian61(t)
	if p.Version != (KernelVersion{6, 1}) || !p.IMA || !p.Appraise || p.Modsig || !p.AsymmetricKeys || !p.LSMRules ||
		p.WritePolicy || p.ReadPolicy || p.PCRs != 64 || p.DefaultTemplate != "ima-sig" || p.Namespace.Enabled {
		t.Fatalf("profile: %+v", p)
	}
	want := Features{CriticalData: true, AppraiseAlgos: true, GIDConds: true, DigestType: true, EVMSigTemplate: true}
	if p.Features != want {
		t.Errorf("features %+v, want %+v", p.Features, want)
	}
	// sha256 and md5 built in, sha512 a module, no sm3.
	if !p.HashAlgos["sha256"] || !p.HashAlgos["md5"] || p.HashAlgos["sha512"] {
		t.Errorf("hash algos %v", p.HashAlgos)
	}
	if _, ok := p.HashAlgos["sha512"]; !ok {
		t.Error("sha512 (module) missing")
	}
	if _, ok := p.HashAlgos["sm3"]; ok {
		t.Error("sm3 present")
	}
	p.ModulesLoadable = false
	if _, err := CheckRule("appraise appraise_algos=sha512", p); err == nil || !strings.Contains(err.Msg, "module") {
		t.Errorf("sha512 without modules: %v", err)
	}
	if p.labelLSM() != "apparmor" {
		t.Errorf("label LSM %q", p.labelLSM())
	}
}

func TestLSMsFromConfig(t *testing.T) {
	cfg := "# Linux/x86 6.1.0 Kernel Configuration\nCONFIG_IMA=y\nCONFIG_SECURITY_SELINUX=y\nCONFIG_SECURITY_APPARMOR=y\n" +
		"CONFIG_SECURITY_YAMA=y\nCONFIG_INTEGRITY=y\n# CONFIG_SECURITY_SMACK is not set\n" +
		`CONFIG_LSM="landlock,lockdown,yama,integrity,smack,apparmor,selinux,bpf"` + "\n"
	p, err := ProfileFromConfig(strings.NewReader(cfg), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.LSMs, ","); got != "capability,yama,integrity,apparmor" {
		t.Errorf("LSMs %s", got)
	}
	p, _ = ProfileFromConfig(strings.NewReader(cfg), " capability , selinux ")
	if !reflect.DeepEqual(p.LSMs, []string{"capability", "selinux"}) || p.labelLSM() != "selinux" {
		t.Errorf("explicit LSMs %v", p.LSMs)
	}
	if _, err := ProfileFromConfig(strings.NewReader("# CONFIG_IMA is not set\n"), ""); err == nil {
		t.Error("kernel without IMA accepted")
	}
	if _, err := ProfileFromConfig(strings.NewReader("hello\n"), ""); err == nil {
		t.Error("non-config accepted")
	}
	if _, err := ProfileFromConfig(strings.NewReader(strings.Repeat("#", maxConfigBytes+1)), ""); err == nil {
		t.Error("oversized config accepted")
	}
}

func TestProfileFromConfigNamespaceKernel(t *testing.T) {
	cfg := "# Linux/arm64 5.10.0-136.12.0.86.oe2203sp1.aarch64 Kernel Configuration\nCONFIG_IMA=y\nCONFIG_IMA_NS=y\n" +
		"CONFIG_IMA_WRITE_POLICY=y\nCONFIG_IMA_DIGEST_LIST=y\nCONFIG_IMA_DIGEST_LIST_PCR=11\nCONFIG_64BIT=y\nCONFIG_CRYPTO_SM3=y\n" +
		"CONFIG_IMA_APPRAISE_REQUIRE_POLICY_SIGS=y\n"
	p, err := ProfileFromConfig(strings.NewReader(cfg), "capability,selinux")
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != (KernelVersion{5, 10}) || !p.Namespace.Enabled || !p.Features.IMANSTemplate || !p.Features.DigestLists ||
		p.DigestListPCR != 11 || !p.HashAlgos["sm3"] || p.lookupTemplate("ima-ns") == nil {
		t.Fatalf("profile %+v", p)
	}
	if len(BuildRules(p)) != 0 {
		t.Error("build rules in namespace mode")
	}
	p.Namespace.Enabled = false
	if br := BuildRules(p); len(br) != 1 || br[0].Text != "appraise func=POLICY_CHECK appraise_type=imasig" {
		t.Errorf("build rules %v", texts(br))
	}
}

func TestParseKernelVersion(t *testing.T) {
	for in, want := range map[string]KernelVersion{"6.1": {6, 1}, "6.1.192": {6, 1}, "5.10.0-136.oe2203": {5, 10}, "6.12-rc1": {6, 12}} {
		if v, err := ParseKernelVersion(in); err != nil || v != want {
			t.Errorf("%q: %v %v", in, v, err)
		}
	}
	for _, bad := range []string{"", "6", "x.1", "6.x", "0.1"} {
		if _, err := ParseKernelVersion(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// fakeSystem points ProfileFromSystem's paths into a temporary root.
func fakeSystem(t *testing.T, files map[string][]byte, release string) {
	t.Helper()
	root := t.TempDir()
	saved := []*string{&procConfigGz, &bootConfigDir, &lsmFile, &apparmorFile, &cmdlineFile, &policyFile, &secureBootFile, &setupModeFile}
	old := make([]string, len(saved))
	for i, p := range saved {
		old[i] = *p
		*p = filepath.Join(root, strings.TrimPrefix(*p, "/"))
	}
	oldRel := unameRelease
	unameRelease = func() (string, error) { return release, nil }
	t.Cleanup(func() {
		for i, p := range saved {
			*p = old[i]
		}
		unameRelease = oldRel
	})
	for name, data := range files {
		path := filepath.Join(root, strings.TrimPrefix(name, "/"))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestProfileFromSystem(t *testing.T) {
	cfg, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(cfg)
	zw.Close()
	efi := func(v byte) []byte { return []byte{7, 0, 0, 0, v} }
	fakeSystem(t, map[string][]byte{
		"/proc/config.gz":                        gz.Bytes(),
		"/sys/kernel/security/lsm":               []byte("lockdown,capability,apparmor"),
		"/sys/kernel/security/apparmor/profiles": []byte("docker-default (enforce)\n"),
		"/proc/cmdline":                          []byte("BOOT_IMAGE=/vmlinuz ima_policy=tcb|secure_boot ima_template_fmt=d-ng|n-ng|sig|iuid\n"),
		"/sys/kernel/security/ima/policy":        nil,
		"/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c0e71c9d4": efi(1),
		"/sys/firmware/efi/efivars/SetupMode-8be4df61-93ca-11d2-aa0d-e98c0e71c9d4":  efi(0),
	}, "6.1.0-13-amd64")
	p, err := ProfileFromSystem()
	if err != nil {
		t.Fatal(err)
	}
	if !p.SecureBoot || !p.SignedPolicyRequired || p.CustomPolicyLoaded || !reflect.DeepEqual(p.LSMLabels, []string{"docker-default"}) ||
		p.DefaultTemplate != "d-ng|n-ng|sig|iuid" {
		t.Fatalf("profile %+v", p)
	}
	if _, err := CheckRule("measure template=d-ng|n-ng|sig|iuid subj_role=docker-default", p); err != nil {
		t.Error(err)
	}
	if len(ArchRules(p)) != 2 {
		t.Errorf("arch rules on a secure-boot machine with KEXEC_SIG and MODULE_SIG: %v", texts(ArchRules(p)))
	}
}

func TestProfileFromSystemBootConfig(t *testing.T) {
	cfg, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	fakeSystem(t, map[string][]byte{"/boot/config-6.1.0-13-amd64": cfg}, "6.1.0-13-amd64")
	p, err := ProfileFromSystem()
	if err != nil {
		t.Fatal(err)
	}
	// No LSM file: derived from CONFIG_LSM. The policy file is gone: a
	// policy was loaded already.
	if p.labelLSM() != "apparmor" || !p.CustomPolicyLoaded || p.SecureBoot {
		t.Fatalf("profile %+v", p)
	}
	fakeSystem(t, nil, "6.1.0-13-amd64")
	if _, err := ProfileFromSystem(); err == nil || !strings.Contains(err.Error(), "--kernel-config") {
		t.Fatalf("no config: %v", err)
	}
}
