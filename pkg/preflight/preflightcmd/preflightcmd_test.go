package preflightcmd

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/pkg/preflight"
)

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// busyboxBundle makes a bundle whose rootfs holds the host's static
// busybox with applet symlinks, entrypoint /bin/sh.
func busyboxBundle(t *testing.T, annotations map[string]string) (bundle, rootfs string) {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("static busybox: %v (apt-get install busybox-static)", err)
	}
	bundle = t.TempDir()
	rootfs = filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "ls", "cat"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	spec := specs.Spec{Version: specs.Version, Root: &specs.Root{Path: "rootfs"}, Annotations: annotations,
		Process: &specs.Process{Args: []string{"sh", "-c", "true"}, Cwd: "/", Env: []string{"PATH=/bin"}}}
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return bundle, rootfs
}

func TestHelpTeaches(t *testing.T) {
	code, out, _ := run("--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, want := range []string{"--rootfs", "--bundle", "--policy-rules", "--x509", "Exit status", "Examples", "entrypoint chain", "undecidable"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestUnsignedEntrypointRefused(t *testing.T) {
	bundle, _ := busyboxBundle(t, nil)
	code, out, errs := run("--bundle", bundle, "--policy-rules", "appraise func=BPRM_CHECK appraise_type=imasig")
	if code != ExitRefused {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitRefused, out, errs)
	}
	if !strings.Contains(out, "REFUSED") || !strings.Contains(out, "/bin/busybox [entrypoint]") || !strings.Contains(out, "no security.ima") {
		t.Errorf("text report:\n%s", out)
	}
	// No appraise rule for exec: exit 0.
	code, out, _ = run("--bundle", bundle, "--policy-rules", "appraise func=FILE_CHECK mask=MAY_WRITE")
	if code != ExitOK {
		t.Errorf("exit %d for a policy that does not appraise exec\n%s", code, out)
	}
	// ima_appraise=log: reported, but nothing blocks.
	code, out, _ = run("--bundle", bundle, "--kcmd", "ima_appraise=log", "--policy-rules", "appraise func=BPRM_CHECK")
	if code != ExitOK || !strings.Contains(out, "logged, not refused") {
		t.Errorf("log mode: exit %d\n%s", code, out)
	}
}

func TestJSONAndEntrypointFlag(t *testing.T) {
	_, rootfs := busyboxBundle(t, nil)
	code, out, errs := run("--rootfs", rootfs, "--entrypoint", "/bin/ls", "--kcmd", "ima_policy=appraise_tcb", "--format", "json")
	if code != ExitRefused {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var rep preflight.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(rep.Blocking) != 1 || rep.Blocking[0].Path != "/bin/busybox" || rep.Blocking[0].Rule == nil || rep.Blocking[0].Rule.Source != "builtin:appraise_tcb" {
		t.Errorf("blocking %+v", rep.Blocking)
	}
	// appraise_tcb excludes tmpfs: a container on tmpfs passes.
	code, _, _ = run("--rootfs", rootfs, "--entrypoint", "/bin/ls", "--kcmd", "ima_policy=appraise_tcb", "--fsmagic", "tmpfs")
	if code != ExitOK {
		t.Errorf("tmpfs: exit %d", code)
	}
}

func TestSignedEntrypointPasses(t *testing.T) {
	for _, tool := range []string{"evmctl", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to set security.ima")
	}
	bundle, rootfs := busyboxBundle(t, nil)
	dir := t.TempDir()
	key, cert := filepath.Join(dir, "k.pem"), filepath.Join(dir, "c.der")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=preflight cli",
		"-addext", "subjectKeyIdentifier=hash", "-keyout", key, "-outform", "DER", "-out", cert).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v %s", err, out)
	}
	if out, err := exec.Command("evmctl", "ima_sign", "--key", key, "-a", "sha256", filepath.Join(rootfs, "bin/busybox")).CombinedOutput(); err != nil {
		t.Skipf("evmctl ima_sign (no xattr support here?): %v %s", err, out)
	}
	code, out, errs := run("--bundle", bundle, "--x509", cert, "--policy-rules", "appraise func=BPRM_CHECK appraise_type=imasig")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "pass          /bin/busybox [entrypoint]") {
		t.Errorf("report:\n%s", out)
	}
	// Without the key the kernel cannot find it.
	code, out, _ = run("--bundle", bundle, "--policy-rules", "appraise func=BPRM_CHECK appraise_type=imasig")
	if code != ExitRefused || !strings.Contains(out, "not in the namespace's keyring") {
		t.Errorf("without --x509: exit %d\n%s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	bundle, rootfs := busyboxBundle(t, nil)
	emptyPolicy := filepath.Join(t.TempDir(), "empty.policy")
	if err := os.WriteFile(emptyPolicy, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := [][]string{
		// Custom rules that were given but hold none are not "no policy".
		{"--rootfs", rootfs, "--policy", emptyPolicy},
		{"--rootfs", rootfs, "--policy-rules", "# later\n"},
		{"--rootfs", rootfs, "--policy-rules", " \n"},
		{},                                      // no rootfs
		{"--rootfs", "/nonexistent/rootfs"},     // missing
		{"--rootfs", rootfs, "--format", "xml"}, // bad format
		{"--rootfs", rootfs, "--policy-rules", "appraise func=NOPE"},
		{"--rootfs", rootfs, "--kcmd", "ima_policy=nope"},
		{"--rootfs", rootfs, "--x509", "/nonexistent.der"},
		{"--rootfs", rootfs, "--policy", "/nonexistent.policy"},
		{"--rootfs", rootfs, "--policy", "x", "--policy-rules", "appraise"},
		{"--rootfs", rootfs, "--rule-ids", "guest"},
		{"--rootfs", rootfs, "--fsmagic", "zfs-ish"},
		{"--rootfs", rootfs, "--max-bytes", "lots"},
		{"--bundle", bundle, "--entrypoint", "/bin/sh"},
		{"--rootfs", rootfs, "extra"},
		{"--no-such-flag"},
	}
	for _, c := range cases {
		code, _, errs := run(c...)
		if code != ExitUsage {
			t.Errorf("%q: exit %d, want %d", c, code, ExitUsage)
		}
		if lines := strings.Count(strings.TrimSpace(errs), "\n"); !strings.HasPrefix(errs, "ima-hook: ") || lines != 0 {
			t.Errorf("%q: stderr must be one 'ima-hook: ...' line, got %q", c, errs)
		}
	}
}

// With --bundle and no policy flags, the bundle's io.imans.* annotations
// and the admin config decide, as in the hook.
func TestPolicyFromAnnotations(t *testing.T) {
	bundle, _ := busyboxBundle(t, map[string]string{
		"io.imans.enable":       "true",
		"io.imans.kcmd":         "",
		"io.imans.policy-rules": "appraise func=BPRM_CHECK appraise_type=imasig",
	})
	admin := filepath.Join(t.TempDir(), "admin.toml")
	os.WriteFile(admin, []byte("keys_dir = \"/nonexistent\"\n"), 0o644)
	code, out, errs := run("--bundle", bundle, "--config", admin, "--entrypoint-only")
	if code != ExitRefused || !strings.Contains(out, "/bin/busybox [entrypoint]") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
	// Annotations that do not enable IMA: told so.
	bundle, _ = busyboxBundle(t, map[string]string{"io.imans.enable": "false"})
	code, _, errs = run("--bundle", bundle, "--config", admin)
	if code != ExitUsage || !strings.Contains(errs, "do not enable IMA") {
		t.Errorf("disabled: exit %d %s", code, errs)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"10": 10, "4K": 4096, "512M": 512 << 20, "4G": 4 << 30, "1T": 1 << 40} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1", "0", "G", "1P", "99999999999T"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
