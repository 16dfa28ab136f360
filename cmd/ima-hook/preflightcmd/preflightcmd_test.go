package preflightcmd

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

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

// TestVerdictLineSaysWhatWasChecked: the last line says OK only when the
// entrypoint chain was judged in full. Before, a run whose time budget ran
// out (exit 3) printed "OK: nothing on the entrypoint chain would be
// refused", and so did a run whose entrypoint was missing.
func TestVerdictLineSaysWhatWasChecked(t *testing.T) {
	bundle, rootfs := busyboxBundle(t, nil)
	last := func(out string) string {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return lines[len(lines)-1]
	}
	code, out, errs := run("--bundle", bundle, "--policy-rules", "appraise func=BPRM_CHECK appraise_type=imasig", "--timeout", "1ns")
	if code != ExitIncomplete || !strings.HasPrefix(last(out), "NOT FULLY CHECKED: the time budget ran out") || strings.Contains(out, "OK:") {
		t.Errorf("time budget: exit %d, last line %q\n%s", code, last(out), errs)
	}
	code, out, _ = run("--rootfs", rootfs, "--entrypoint", "/bin/nope", "--policy-rules", "appraise func=BPRM_CHECK appraise_type=imasig")
	if code != ExitOK || !strings.HasPrefix(last(out), "UNDECIDED: ") || strings.Contains(last(out), "passes") || !strings.Contains(last(out), "/bin/nope") {
		t.Errorf("missing entrypoint: exit %d, last line %q", code, last(out))
	}
	code, _, _ = run("--rootfs", rootfs, "--entrypoint", "/bin/nope", "--strict", "--policy-rules", "appraise func=BPRM_CHECK appraise_type=imasig")
	if code != ExitRefused {
		t.Errorf("missing entrypoint with --strict: exit %d", code)
	}
	code, out, _ = run("--rootfs", rootfs, "--policy-rules", "appraise func=BPRM_CHECK appraise_type=imasig")
	if code != ExitOK || !strings.HasPrefix(last(out), "ROOTFS ONLY: ") {
		t.Errorf("rootfs only: exit %d, last line %q", code, last(out))
	}
	code, out, _ = run("--bundle", bundle, "--policy-rules", "appraise func=FILE_CHECK mask=MAY_WRITE")
	if code != ExitOK || !strings.HasPrefix(last(out), "OK: nothing on the entrypoint chain would be refused") {
		t.Errorf("nothing appraised: exit %d, last line %q", code, last(out))
	}
}

// hostileName is a rootfs file name that tries to forge a report line and
// to drive the terminal.
const hostileName = "evil\nREFUSED bin-busybox [entrypoint]\x1b[2J\a\x00x\xff"

// TestTextReportQuotesHostileNames: every line of the text report is one
// printable line; the file name shows quoted. The JSON report keeps the
// exact name.
func TestTextReportQuotesHostileNames(t *testing.T) {
	_, rootfs := busyboxBundle(t, nil)
	if err := os.WriteFile(filepath.Join(rootfs, "bin", strings.ReplaceAll(hostileName, "\x00", "")), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run("--rootfs", rootfs, "--all", "--policy-rules", "appraise func=FILE_CHECK")
	if code != ExitOK {
		t.Fatalf("exit %d %s", code, errs)
	}
	checkPrintable(t, out)
	if !strings.Contains(out, `"/bin/evil\nREFUSED bin-busybox [entrypoint]\x1b[2J\ax\xff"`) {
		t.Errorf("the name is not shown quoted:\n%s", out)
	}
	_, out, _ = run("--rootfs", rootfs, "--format", "json", "--policy-rules", "appraise func=FILE_CHECK")
	var rep preflight.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	// encoding/json turns the invalid byte into U+FFFD; the rest is exact.
	want := "/bin/" + strings.ToValidUTF8(strings.ReplaceAll(hostileName, "\x00", ""), "\uFFFD")
	found := false
	for _, f := range rep.Files {
		found = found || f.Path == want
	}
	if !found {
		t.Errorf("JSON lost the exact name")
	}
}

func checkPrintable(t *testing.T, out string) {
	t.Helper()
	for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !utf8.ValidString(l) {
			t.Errorf("line %d is not UTF-8: %q", i+1, l)
			continue
		}
		for _, r := range l {
			if !strconv.IsPrint(r) {
				t.Errorf("line %d has %U: %q", i+1, r, l)
				break
			}
		}
		if strings.HasPrefix(l, "REFUSED ") {
			t.Errorf("forged line %d: %q", i+1, l)
		}
	}
}

// FuzzTextReport: whatever the file names, reasons, notes and rule texts
// hold, the text report has exactly the lines its structure gives, each
// one printable.
func FuzzTextReport(f *testing.F) {
	f.Add(hostileName, "reason\x1b]0;x\a", "note\nnote", "appraise\u2028func=X")
	f.Add("/bin/sh", "", "", "")
	f.Fuzz(func(t *testing.T, path, reason, note, rule string) {
		build := func(path, reason, note, rule string) *preflight.Report {
			fr := preflight.FileResult{Path: path, Role: "entrypoint", Verdict: preflight.Refused, Reason: reason, Xattr: "sig" + reason,
				Rule: &preflight.RuleRef{Index: 1, Text: rule}}
			return &preflight.Report{Rootfs: path, Entrypoint: []preflight.FileResult{fr}, Files: []preflight.FileResult{fr},
				Blocking: []preflight.FileResult{fr}, Notes: []string{note}, ChainChecked: true, Counts: map[preflight.Verdict]int{}}
		}
		popt := &preflight.Options{Spec: &specs.Spec{}}
		var got, plain bytes.Buffer
		writeText(&got, build(path, reason, note, rule), popt, true)
		writeText(&plain, build("p", "r", "n", "t"), popt, true)
		if strings.Count(got.String(), "\n") != strings.Count(plain.String(), "\n") {
			t.Fatalf("the input changed the number of lines:\n%s", got.String())
		}
		checkPrintable(t, got.String())
	})
}
