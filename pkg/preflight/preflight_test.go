package preflight

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/keys"
)

// evmctlRootfs builds a rootfs whose files carry security.ima values made
// by evmctl (signatures with key, a foreign key's signatures, hashes) and
// a few hand-made broken values.
func evmctlRootfs(t *testing.T) (root string, key, other testKey) {
	t.Helper()
	requireTool(t, "evmctl")
	dir := t.TempDir()
	requireXattrs(t, dir)
	root = filepath.Join(dir, "rootfs")
	key = newTestKey(t, dir, "key")
	other = newTestKey(t, dir, "other")
	bin := []byte("#!/bin/sh\necho preflight\n")

	// Executables: judged by the BPRM_CHECK imasig rule.
	evmSign(t, key, writeFile(t, root, "opt/signed", bin, 0o755, 0, 0))
	writeFile(t, root, "opt/unsigned", bin, 0o755, 0, 0)
	tampered := writeFile(t, root, "opt/tampered", bin, 0o755, 0, 0)
	evmSign(t, key, tampered)
	if err := os.WriteFile(tampered, append(bin, '#'), 0o755); err != nil {
		t.Fatal(err)
	}
	evmHash(t, writeFile(t, root, "opt/hashonly", bin, 0o755, 0, 0), "sha256")
	evmSign(t, other, writeFile(t, root, "opt/otherkey", bin, 0o755, 0, 0))
	writeFile(t, root, "opt/readme", []byte("not executable\n"), 0o644, 0, 0)

	// Data owned by 1001: judged by the FILE_CHECK rule (hashes allowed).
	data := []byte("some data\n")
	evmHash(t, writeFile(t, root, "data/hash-sha256", data, 0o644, 1001, 0), "sha256")
	evmHash(t, writeFile(t, root, "data/hash-sha1", data, 0o644, 1001, 0), "sha1")
	evmHash(t, writeFile(t, root, "data/hash-sha512", data, 0o644, 1001, 0), "sha512")
	wrong := writeFile(t, root, "data/hash-wrong", data, 0o644, 1001, 0)
	evmHash(t, wrong, "sha256")
	if err := os.WriteFile(wrong, []byte("other data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "data/none", data, 0o644, 1001, 0)
	evmSign(t, key, writeFile(t, root, "data/signed", data, 0o644, 1001, 0))
	setXattr(t, writeFile(t, root, "data/evm-hmac", data, 0o644, 1001, 0), append([]byte{0x02}, make([]byte, 20)...))
	setXattr(t, writeFile(t, root, "data/malformed", data, 0o644, 1001, 0), []byte{0x04, 0x04, 0xaa, 0xbb})
	writeFile(t, root, "data/rootowned", data, 0o644, 0, 0)
	return root, key, other
}

func TestVerdictsOfEvmctlValues(t *testing.T) {
	root, key, _ := evmctlRootfs(t)
	rep := runPreflight(t, Options{Rootfs: root, Certs: []*keys.Certificate{key.cert},
		Rules: rules(t, "", "appraise func=BPRM_CHECK appraise_type=imasig\nappraise func=FILE_CHECK mask=MAY_READ fowner=1001\n")})
	want := []struct {
		path    string
		verdict Verdict
		cause   string
	}{
		{"/opt/signed", Pass, ""},
		{"/opt/unsigned", Refused, CauseNoXattr},
		{"/opt/tampered", Refused, CauseBadSignature},
		{"/opt/hashonly", Refused, CauseHashOnly},
		{"/opt/otherkey", Refused, CauseUnknownKey},
		{"/opt/readme", NotAppraised, ""},
		{"/data/hash-sha256", Pass, ""},
		{"/data/hash-sha1", Pass, ""},
		{"/data/hash-sha512", Pass, ""},
		{"/data/hash-wrong", Refused, CauseWrongHash},
		{"/data/none", Refused, CauseNoXattr},
		{"/data/signed", Pass, ""},
		{"/data/evm-hmac", Refused, CauseUnknownData},
		{"/data/malformed", Refused, CauseMalformed},
		{"/data/rootowned", NotAppraised, ""},
	}
	for _, w := range want {
		f := fileResult(t, rep.Files, w.path)
		if f.Verdict != w.verdict || f.Cause != w.cause {
			t.Errorf("%s: %s/%s (%s), want %s/%s", w.path, f.Verdict, f.Cause, f.Reason, w.verdict, w.cause)
		}
		if f.Verdict == Refused && (f.Rule == nil || f.Rule.Text == "") {
			t.Errorf("%s: refused without naming the rule", w.path)
		}
	}
	if len(rep.Files) != len(want) {
		t.Errorf("%d files, want %d", len(rep.Files), len(want))
	}
	// Never writes: the values are unchanged and no atime moved (O_NOATIME).
	if b := getXattr(t, filepath.Join(root, "data/hash-wrong")); b[0] != 0x04 {
		t.Errorf("security.ima of hash-wrong changed: %x", b)
	}
	if rep.Stats.Hashed == 0 || rep.Stats.Bytes == 0 {
		t.Errorf("stats %+v: nothing hashed", rep.Stats)
	}
}

func TestNoAtimeChange(t *testing.T) {
	root, key, _ := evmctlRootfs(t)
	p := filepath.Join(root, "opt/signed")
	old := time.Unix(1000000000, 0)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	runPreflight(t, Options{Rootfs: root, Certs: []*keys.Certificate{key.cert}, Rules: rules(t, "", "appraise func=BPRM_CHECK appraise_type=imasig")})
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	if st.Atim.Sec != old.Unix() {
		t.Errorf("atime moved to %d", st.Atim.Sec)
	}
}

func TestAppraiseAlgosAndVerity(t *testing.T) {
	root, key, _ := evmctlRootfs(t)
	rep := runPreflight(t, Options{Rootfs: root, Certs: []*keys.Certificate{key.cert},
		Rules: rules(t, "", "appraise func=FILE_CHECK fowner=1001 appraise_algos=sha512\n")})
	for p, want := range map[string]string{"/data/hash-sha256": CauseDeniedAlgo, "/data/hash-sha1": CauseDeniedAlgo, "/data/hash-sha512": ""} {
		if f := fileResult(t, rep.Files, p); f.Cause != want {
			t.Errorf("%s: cause %q (%s), want %q", p, f.Cause, f.Reason, want)
		}
	}
	rep = runPreflight(t, Options{Rootfs: root, Certs: []*keys.Certificate{key.cert},
		Rules: rules(t, "", "appraise func=FILE_CHECK fowner=1001 digest_type=verity appraise_type=sigv3\n")})
	if f := fileResult(t, rep.Files, "/data/signed"); f.Cause != CauseVerityRequired {
		t.Errorf("v2 signature under a verity rule: %s %s", f.Verdict, f.Reason)
	}
}

func TestConditions(t *testing.T) {
	root, key, _ := evmctlRootfs(t)
	certs := []*keys.Certificate{key.cert}
	cases := []struct {
		name  string
		rules string
		opt   func(*Options)
		path  string
		want  Verdict
	}{
		// Overlayfs by default: a dont_appraise on its magic comes first.
		{"fsmagic overlay excluded", "dont_appraise fsmagic=0x794c7630\nappraise func=BPRM_CHECK", nil, "/opt/unsigned", NotAppraised},
		{"fsmagic ext4 given", "dont_appraise fsmagic=0x794c7630\nappraise func=BPRM_CHECK", func(o *Options) { o.FSMagic = MagicExt4 }, "/opt/unsigned", Refused},
		{"fsname", "appraise func=BPRM_CHECK fsname=tmpfs", nil, "/opt/unsigned", NotAppraised},
		{"fsname match", "appraise func=BPRM_CHECK fsname=overlay", nil, "/opt/unsigned", Refused},
		{"fsuuid unknown", "appraise func=BPRM_CHECK fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6", nil, "/opt/unsigned", Undecidable},
		{"fsuuid given", "appraise func=BPRM_CHECK fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6",
			func(o *Options) { o.FSUUID = "8BCBE394-4F13-4144-BE8E-5AA9EA2CE2F6" }, "/opt/unsigned", Refused},
		{"fsuuid other", "appraise func=BPRM_CHECK fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6",
			func(o *Options) { o.FSUUID = "00000000-4f13-4144-be8e-5aa9ea2ce2f6" }, "/opt/unsigned", NotAppraised},
		{"lsm label", "appraise func=BPRM_CHECK obj_type=bin_t", nil, "/opt/unsigned", Undecidable},
		{"lsm label, signed file passes either way", "appraise func=BPRM_CHECK obj_type=bin_t", nil, "/opt/signed", Pass},
		{"fowner<", "appraise func=FILE_CHECK fowner<1001", nil, "/data/none", NotAppraised},
		{"fowner>", "appraise func=FILE_CHECK fowner>1000", nil, "/data/none", Refused},
		{"fgroup", "appraise func=FILE_CHECK fgroup=0 fowner=1001", nil, "/data/none", Refused},
		{"mask exact", "appraise func=FILE_CHECK mask=MAY_WRITE", nil, "/data/none", NotAppraised},
		{"mask any-of", "appraise func=FILE_CHECK mask=^MAY_READ", nil, "/data/none", Refused},
		{"no func matches every hook", "appraise fowner=1001", nil, "/data/none", Refused},
		{"dont_appraise first wins", "dont_appraise fowner=1001\nappraise", nil, "/data/none", NotAppraised},
		{"uid of later processes", "appraise func=FILE_CHECK uid=0", nil, "/data/none", Undecidable},
		{"uid of later processes, all outcomes agree", "appraise func=FILE_CHECK uid=0", nil, "/data/hash-sha256", Pass},
		{"MMAP_CHECK does not touch scripts", "appraise func=MMAP_CHECK", nil, "/opt/unsigned", NotAppraised},
		{"ima_appraise_tcb built-in", "", func(o *Options) { o.Rules = rules(t, "ima_policy=appraise_tcb", "") }, "/data/rootowned", Refused},
		{"appraise_tcb spares other owners", "", func(o *Options) { o.Rules = rules(t, "ima_policy=appraise_tcb", "") }, "/data/none", NotAppraised},
		{"appraise_tcb on tmpfs", "", func(o *Options) {
			o.Rules = rules(t, "ima_policy=appraise_tcb", "")
			o.FSMagic = MagicTmpfs
		}, "/data/rootowned", NotAppraised},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := Options{Rootfs: root, Certs: certs}
			if c.rules != "" {
				opt.Rules = rules(t, "", c.rules)
			}
			if c.opt != nil {
				c.opt(&opt)
			}
			rep := runPreflight(t, opt)
			f := fileResult(t, rep.Files, c.path)
			if f.Verdict != c.want {
				t.Errorf("%s: %s (%s), want %s", c.path, f.Verdict, f.Reason, c.want)
			}
			if f.Verdict == Undecidable && !strings.Contains(f.Reason, "if ") {
				t.Errorf("undecidable without naming the condition: %s", f.Reason)
			}
		})
	}
}

// A container with a user namespace: the rootfs is owned by host uid
// 100000, which the container sees as root.
func TestUserNamespaceIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	root := t.TempDir()
	writeFile(t, root, "bin/app", []byte("#!/bin/app\n"), 0o755, 100000, 100000)
	spec := &specs.Spec{
		Process: &specs.Process{Args: []string{"/bin/app"}, Cwd: "/", User: specs.User{UID: 0, GID: 0}},
		Linux: &specs.Linux{
			Namespaces:  []specs.LinuxNamespace{{Type: specs.UserNamespace}},
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
		},
	}
	cases := []struct {
		rules   string
		ids     RuleIDs
		want    Verdict
		comment string
	}{
		{"appraise func=BPRM_CHECK fowner=0", RuleIDsHost, NotAppraised, "host uid 0 is not the owner"},
		{"appraise func=BPRM_CHECK fowner=100000", RuleIDsHost, Refused, "host id of the owner"},
		{"appraise func=BPRM_CHECK fowner=0", RuleIDsContainer, Refused, "container root is host 100000"},
		{"appraise func=BPRM_CHECK uid=100000", RuleIDsHost, Refused, "process.user 0 runs as host 100000"},
		{"appraise func=BPRM_CHECK uid=0", RuleIDsHost, NotAppraised, "not host root"},
		{"appraise func=BPRM_CHECK euid=0", RuleIDsContainer, Refused, "container root"},
		{"appraise func=BPRM_CHECK gid=100000", RuleIDsHost, Refused, "gid too"},
	}
	for _, c := range cases {
		rep := runPreflight(t, Options{Rootfs: root, Spec: spec, RuleIDs: c.ids, Rules: rules(t, "", c.rules), SkipWalk: true})
		f := fileResult(t, rep.Entrypoint, "/bin/app")
		if f.Verdict != c.want {
			t.Errorf("%s (%s ids; %s): %s (%s), want %s", c.rules, c.ids, c.comment, f.Verdict, f.Reason, c.want)
		}
		if f.CtrUID == nil || *f.CtrUID != 0 || f.UID != 100000 {
			t.Errorf("owner %d, container view %v; want 100000 and 0", f.UID, f.CtrUID)
		}
	}
}

// Set-user-ID programs: CREDS_CHECK sees the new effective uid, unless
// no_new_privs.
func TestSetuidCreds(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	root := t.TempDir()
	p := writeFile(t, root, "bin/su", []byte("#!/bin/su\n"), 0o755, 1000, 0)
	if err := unix.Chmod(p, 0o4755); err != nil { // os.Chmod would drop the bit (os.ModeSetuid)
		t.Fatal(err)
	}
	r := rules(t, "", "appraise func=CREDS_CHECK euid=1000")
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"/bin/su"}, Cwd: "/", User: specs.User{UID: 5}}}
	rep := runPreflight(t, Options{Rootfs: root, Spec: spec, Rules: r, SkipWalk: true})
	if f := fileResult(t, rep.Entrypoint, "/bin/su"); f.Verdict != Refused || f.Accesses[2].Func != "CREDS_CHECK" {
		t.Errorf("setuid 1000 under euid=1000: %s %s", f.Verdict, f.Reason)
	}
	spec.Process.NoNewPrivileges = true
	rep = runPreflight(t, Options{Rootfs: root, Spec: spec, Rules: r, SkipWalk: true})
	if f := fileResult(t, rep.Entrypoint, "/bin/su"); f.Verdict != NotAppraised {
		t.Errorf("with no_new_privs: %s %s", f.Verdict, f.Reason)
	}
}

func TestLogModeBlocksNothing(t *testing.T) {
	root, key, _ := evmctlRootfs(t)
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"/opt/unsigned"}, Cwd: "/"}}
	for _, mode := range []string{"", "enforce", "log", "fix", "off"} {
		rep := runPreflight(t, Options{Rootfs: root, Spec: spec, Certs: []*keys.Certificate{key.cert}, Appraise: mode,
			Rules: rules(t, "", "appraise func=BPRM_CHECK appraise_type=imasig"), SkipWalk: true})
		enforcing := mode == "" || mode == "enforce"
		if rep.Enforcing != enforcing || (len(rep.Blocking) > 0) != enforcing {
			t.Errorf("ima_appraise=%q: enforcing %v, %d blocking", mode, rep.Enforcing, len(rep.Blocking))
		}
		if rep.Entrypoint[0].Verdict != Refused {
			t.Errorf("ima_appraise=%q: the verdict itself must stay refused: %s", mode, rep.Entrypoint[0].Verdict)
		}
	}
}

func TestHardLinksHashedOnce(t *testing.T) {
	root, key, _ := evmctlRootfs(t)
	if err := os.Link(filepath.Join(root, "data/hash-sha256"), filepath.Join(root, "data/link")); err != nil {
		t.Fatal(err)
	}
	rep := runPreflight(t, Options{Rootfs: root, Certs: []*keys.Certificate{key.cert}, Rules: rules(t, "", "appraise func=FILE_CHECK fowner=1001")})
	if f := fileResult(t, rep.Files, "/data/link"); f.Verdict != Pass {
		t.Errorf("link: %s", f.Verdict)
	}
	// hash-sha256, -sha1, -sha512, -wrong, signed: 5 inodes (the link shares one).
	if rep.Stats.Hashed != 5 {
		t.Errorf("hashed %d files, want 5", rep.Stats.Hashed)
	}
}

func TestSpecialFilesAndMounts(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "bin/app", []byte("#!/bin/app\n"), 0o755, 0, 0)
	writeFile(t, root, "opt/tool", []byte("x"), 0o755, 0, 0)
	writeFile(t, root, "proc/stale", []byte("x"), 0o644, 0, 0)
	if err := unix.Mkfifo(filepath.Join(root, "bin/fifo"), 0o755); err != nil {
		t.Fatal(err)
	}
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sock)
	if err := unix.Bind(sock, &unix.SockaddrUnix{Name: filepath.Join(root, "bin/sock")}); err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{
		Process: &specs.Process{Args: []string{"/bin/fifo"}, Cwd: "/"},
		Mounts:  []specs.Mount{{Destination: "/proc", Type: "proc"}, {Destination: "/opt/", Type: "bind", Source: "/somewhere"}},
	}
	r := rules(t, "", "appraise func=BPRM_CHECK")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := Run(ctx, Options{Rootfs: root, Spec: spec, Rules: r})
	if err != nil {
		t.Fatalf("a FIFO must not block the preflight: %v", err)
	}
	if rep.Stats.Special != 2 {
		t.Errorf("special files %d, want 2 (FIFO, socket)", rep.Stats.Special)
	}
	if hasPath(rep.Files, "/opt/tool") || hasPath(rep.Files, "/proc/stale") {
		t.Errorf("files under mount destinations were examined: %+v", rep.Files)
	}
	if e := rep.Entrypoint; len(e) != 1 || e[0].Verdict != Undecidable || !strings.Contains(e[0].Reason, "not a regular file") {
		t.Errorf("FIFO entrypoint: %+v", e)
	}
	spec.Process.Args = []string{"/opt/tool"}
	rep = runPreflight(t, Options{Rootfs: root, Spec: spec, Rules: r})
	if e := rep.Entrypoint; len(e) != 1 || e[0].Verdict != Undecidable || !strings.Contains(e[0].Reason, "mounts /opt") {
		t.Errorf("entrypoint under a mount: %+v", e)
	}
}

func TestLimits(t *testing.T) {
	root := t.TempDir()
	for i := 0; i < 20; i++ {
		writeFile(t, root, filepath.Join("flat", string(rune('a'+i))), []byte("x"), 0o644, 0, 0)
	}
	deep := "d"
	for i := 0; i < 10; i++ {
		deep = filepath.Join(deep, "d")
	}
	writeFile(t, root, filepath.Join(deep, "f"), []byte("x"), 0o644, 0, 0)
	r := rules(t, "", "appraise func=FILE_CHECK")

	rep := runPreflight(t, Options{Rootfs: root, Rules: r, Limits: Limits{MaxFiles: 5}})
	if rep.Truncated == "" || len(rep.Files) != 5 {
		t.Errorf("max_files 5: truncated %q, %d files", rep.Truncated, len(rep.Files))
	}
	rep = runPreflight(t, Options{Rootfs: root, Rules: r, Limits: Limits{MaxEntries: 3}})
	if rep.Truncated == "" {
		t.Errorf("max_entries 3: not truncated")
	}
	rep = runPreflight(t, Options{Rootfs: root, Rules: r, Limits: Limits{MaxDepth: 3}})
	if hasPath(rep.Files, "/"+filepath.Join(deep, "f")) || !strings.Contains(strings.Join(rep.Notes, "\n"), "deeper than 3") {
		t.Errorf("max_depth 3: deep file examined or no note: %v", rep.Notes)
	}
	if !hasPath(rep.Files, "/flat/a") {
		t.Errorf("max_depth 3 lost shallow files")
	}
}

func TestByteBudget(t *testing.T) {
	root, key, _ := evmctlRootfs(t)
	rep := runPreflight(t, Options{Rootfs: root, Certs: []*keys.Certificate{key.cert},
		Rules: rules(t, "", "appraise func=FILE_CHECK fowner=1001"), Limits: Limits{MaxBytes: 12, Workers: 1}})
	und := 0
	for _, f := range rep.Files {
		if f.Verdict == Undecidable && strings.Contains(f.Reason, "byte budget") {
			und++
		}
	}
	// 10-byte files: one fits in 12 bytes, the other hashed ones do not.
	if rep.Stats.Bytes > 12 || und != 4 {
		t.Errorf("bytes %d, %d undecidable for the budget (want <= 12 and 4)", rep.Stats.Bytes, und)
	}
	// Missing xattrs need no hashing: still refused.
	if f := fileResult(t, rep.Files, "/data/none"); f.Verdict != Refused {
		t.Errorf("/data/none: %s", f.Verdict)
	}
}

func TestTimeBudget(t *testing.T) {
	root := t.TempDir()
	big := writeFile(t, root, "big", nil, 0o755, 0, 0)
	// 512 MiB sparse: reading it takes longer than the budget.
	if err := os.Truncate(big, 512<<20); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		setXattr(t, big, append([]byte{0x04, 0x04}, make([]byte, 32)...))
	}
	for i := 0; i < 50; i++ {
		writeFile(t, root, filepath.Join("many", string(rune('a'+i%26))+string(rune('a'+i/26))), []byte("x"), 0o644, 0, 0)
	}
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"/big"}, Cwd: "/"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	rep, err := Run(ctx, Options{Rootfs: root, Spec: spec, Rules: rules(t, "", "appraise func=BPRM_CHECK\nappraise func=FILE_CHECK")})
	var inc *IncompleteError
	if !errors.As(err, &inc) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want an IncompleteError for the deadline, got %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the deadline did not stop the hashing promptly: %v", time.Since(start))
	}
	if rep == nil || !rep.Incomplete || !strings.Contains(inc.Error(), "time budget") || !strings.Contains(rep.Summary(3), "time budget") {
		t.Errorf("report %+v, error %q", rep, inc)
	}
	t.Logf("message: %s", inc)
}

func TestEffectiveRulesOrder(t *testing.T) {
	// A custom policy replaces the kcmd's built-ins, as the kernel's first
	// load does (policy.Effective): preflight judges the custom rules alone
	// (no architecture rules without secure boot).
	r := rules(t, "ima_policy=tcb|appraise_tcb", "appraise func=BPRM_CHECK appraise_type=imasig")
	if len(r) != 1 || r[0].Source != "policy" || r[0].Index != 1 {
		t.Errorf("rules in force with a custom policy: %+v", r)
	}
	// Without custom rules: what the kernel installs at creation, tcb's
	// built-ins first.
	r = rules(t, "ima_policy=tcb|appraise_tcb", "")
	if r[0].Source != "builtin:tcb" || r[len(r)-1].Text != "appraise fowner=0" || r[len(r)-1].Index != len(r) {
		t.Errorf("kcmd only: first %+v, last %+v", r[0], r[len(r)-1])
	}
}

func TestSummaryAndBlocking(t *testing.T) {
	root, key, _ := evmctlRootfs(t)
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"/opt/hashonly"}, Cwd: "/"}}
	rep := runPreflight(t, Options{Rootfs: root, Spec: spec, Certs: []*keys.Certificate{key.cert}, Rules: rules(t, "", "appraise func=BPRM_CHECK appraise_type=imasig")})
	if len(rep.Blocking) != 1 || rep.Blocking[0].Path != "/opt/hashonly" {
		t.Fatalf("blocking %+v", rep.Blocking)
	}
	s := rep.Summary(2)
	for _, want := range []string{"/opt/hashonly", "appraise_type=imasig", "1 of the 2 files"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary %q lacks %q", s, want)
		}
	}
	if strings.ContainsAny(s, "\n\r") {
		t.Errorf("summary is not one line: %q", s)
	}
	spec.Process.Args = []string{"/opt/signed"}
	rep = runPreflight(t, Options{Rootfs: root, Spec: spec, Certs: []*keys.Certificate{key.cert}, Rules: rules(t, "", "appraise func=BPRM_CHECK appraise_type=imasig")})
	if len(rep.Blocking) != 0 || !strings.Contains(rep.Summary(2), "rootfs files would be refused when used") {
		t.Errorf("signed entrypoint: %d blocking, summary %q", len(rep.Blocking), rep.Summary(2))
	}
}

func TestNotFoundEntrypoint(t *testing.T) {
	root := t.TempDir()
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"app"}, Env: []string{"PATH=/bin:/usr/bin"}, Cwd: "/"}}
	rep := runPreflight(t, Options{Rootfs: root, Spec: spec, Rules: rules(t, "", "appraise func=BPRM_CHECK")})
	if len(rep.Entrypoint) != 1 || rep.Entrypoint[0].Verdict != Undecidable || !strings.Contains(rep.Entrypoint[0].Reason, "PATH=/bin:/usr/bin") {
		t.Errorf("%+v", rep.Entrypoint)
	}
	// A non-executable match in PATH is skipped, as exec.LookPath does.
	writeFile(t, root, "bin/app", []byte("x"), 0o644, 0, 0)
	writeFile(t, root, "usr/bin/app", []byte("#!/bin/app\n"), 0o755, 0, 0)
	rep = runPreflight(t, Options{Rootfs: root, Spec: spec, Rules: rules(t, "", "appraise func=BPRM_CHECK")})
	if rep.Entrypoint[0].Path != "/usr/bin/app" {
		t.Errorf("PATH lookup found %s", rep.Entrypoint[0].Path)
	}
}

func TestReportJSONShape(t *testing.T) {
	root := t.TempDir()
	rep := runPreflight(t, Options{Rootfs: root, Rules: rules(t, "", "appraise func=BPRM_CHECK")})
	if rep.Files == nil || rep.Entrypoint == nil || rep.Blocking == nil {
		t.Errorf("empty lists must be [] in JSON, not null")
	}
	if !bytes.Contains([]byte(strings.Join(rep.Notes, "\n")), []byte("entrypoint chain was not analysed")) {
		t.Errorf("no note about the missing spec: %v", rep.Notes)
	}
}

// TestUndecidedChainNeverPasses: a missing entrypoint, an entrypoint over
// the byte budget, no process at all, or a chain cut by max_chain is not a
// chain that "passes": Summary says what was undecidable, ChainDecided is
// false. Before, Summary said "the entrypoint chain passes" in these cases
// (and the hook's enforce let the container start).
func TestUndecidedChainNeverPasses(t *testing.T) {
	root, key, _ := evmctlRootfs(t)
	certs := []*keys.Certificate{key.cert}
	imasig := rules(t, "", "appraise func=BPRM_CHECK appraise_type=imasig\nappraise func=FILE_CHECK")
	spec := func(arg string) *specs.Spec {
		return &specs.Spec{Process: &specs.Process{Args: []string{arg}, Env: []string{"PATH=/bin"}, Cwd: "/"}}
	}
	hashOnly := rules(t, "", "appraise func=BPRM_CHECK")
	cases := []struct {
		name string
		opt  Options
		want []string
	}{
		{"missing entrypoint", Options{Rootfs: root, Spec: spec("app"), Rules: imasig, Certs: certs},
			[]string{"1 of the 1 files the entrypoint loads is undecidable: app (entrypoint \"app\" not found in PATH=/bin"}},
		{"over the byte budget", Options{Rootfs: root, Spec: spec("/opt/hashonly"), Rules: hashOnly, Certs: certs, Limits: Limits{MaxBytes: 1, Workers: 1}},
			[]string{"/opt/hashonly (exec (BPRM_CHECK): not hashed: the byte budget of the preflight is used up)"}},
		{"no process", Options{Rootfs: root, Rules: imasig, Certs: certs},
			[]string{"the entrypoint chain was not judged in full (no config.json"}},
		{"empty args", Options{Rootfs: root, Spec: &specs.Spec{Process: &specs.Process{Cwd: "/"}}, Rules: imasig, Certs: certs},
			[]string{"(process.args is empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := runPreflight(t, c.opt)
			s := rep.Summary(3)
			if rep.ChainDecided() || len(rep.Blocking) != 0 || strings.Contains(s, "passes") || strings.Contains(s, "no file would be refused") {
				t.Errorf("decided %v, %d blocking, summary %q", rep.ChainDecided(), len(rep.Blocking), s)
			}
			for _, w := range c.want {
				if !strings.Contains(s, w) || !strings.Contains(rep.Undecided(3), w) {
					t.Errorf("summary %q / undecided %q lack %q", s, rep.Undecided(3), w)
				}
			}
			if strings.Contains(rep.Undecided(3), "; ") {
				t.Errorf("undecided has a '; ' that would split the error line: %q", rep.Undecided(3))
			}
		})
	}
	// A static ELF entrypoint that no rule appraises is decided.
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("static busybox: %v", err)
	}
	static := t.TempDir()
	writeFile(t, static, "bin/app", bb, 0o755, 0, 0)
	rep := runPreflight(t, Options{Rootfs: static, Spec: spec("app"), Rules: rules(t, "", "appraise func=FILE_CHECK mask=MAY_WRITE")})
	if !rep.ChainDecided() || rep.Undecided(3) != "" || !rep.ChainChecked || !strings.Contains(rep.Summary(3), "no file would be refused") {
		t.Errorf("static app: decided %v, %q, summary %q", rep.ChainDecided(), rep.Undecided(3), rep.Summary(3))
	}
}

// TestReportQuotesHostileNames: a rootfs file name with a newline, ESC or
// invalid UTF-8 shows quoted in Summary and never breaks its line.
func TestReportQuotesHostileNames(t *testing.T) {
	root := t.TempDir()
	name := "bin/a\nREFUSED forged\x1b[2J\xff"
	writeFile(t, root, name, []byte("#!/nope\n"), 0o755, 0, 0)
	rep := runPreflight(t, Options{Rootfs: root, Rules: rules(t, "", "appraise func=FILE_CHECK")})
	s := rep.Summary(3)
	if !strings.Contains(s, `"/bin/a\nREFUSED forged\x1b[2J\xff"`) || strings.ContainsAny(s, "\n\x1b") {
		t.Errorf("summary %q", s)
	}
}
