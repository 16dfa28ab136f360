//go:build imaemu

package hook

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/logx"
	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/emukernel"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
)

// These tests run the hook against the emulated kernel with real
// processes: the test process plays the runtime wrapper (it unshares), a
// `sleep` child plays the container init, and Populate re-executes this
// test binary through the real C stage.
func TestMain(m *testing.M) {
	if stage := nsenter.Stage(); stage != "" {
		os.Exit(ns.RunStage(stage))
	}
	os.Exit(m.Run())
}

type env struct {
	t     *testing.T
	dir   string
	emu   *emukernel.Kernel
	hook  *Hook
	admin *config.Admin
	procs []*exec.Cmd
}

func setup(t *testing.T) *env { t.Helper(); return setupSwitches(t, "") }

// setupSwitches is setup on an emulated kernel whose switches.json is
// switchesJSON ("" for the defaults).
func setupSwitches(t *testing.T, switchesJSON string) *env {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(ns.EmuDirEnv, filepath.Join(dir, "emu"))
	// The kernel trusts the test CA (makeCert signs with it).
	if err := os.MkdirAll(filepath.Join(dir, "emu", emukernel.BuiltinTrustedKeysDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "emu", emukernel.BuiltinTrustedKeysDir, "test-ca.der"), testCA(t).der, 0o600); err != nil {
		t.Fatal(err)
	}
	if switchesJSON != "" {
		if err := os.WriteFile(filepath.Join(dir, "emu", emukernel.SwitchesFile), []byte(switchesJSON), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	emu, err := ns.Emulator()
	if err != nil {
		t.Fatal(err)
	}
	a := config.BuiltinAdmin()
	a.RunDir, a.ArchiveDir = filepath.Join(dir, "run"), filepath.Join(dir, "lib")
	a.KeysDir, a.PoliciesDir = filepath.Join(dir, "keys"), filepath.Join(dir, "policies")
	for _, d := range []string{a.KeysDir, a.PoliciesDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	log := logx.Open("file", a.RunDir)
	t.Cleanup(log.Close)
	h := New(ns.Default(), a, log)
	return &env{t: t, dir: dir, emu: emu, hook: h, admin: a}
}

// container starts a process in a namespace created the way the wrapper
// does (unshare, kcmd, first birth) and records it as the wrapper would.
func (e *env) container(id, kcmd string, created bool) int {
	e.t.Helper()
	if created {
		// As the wrapper does: the host list's length, then unshare.
		count, err := e.emu.Counter(os.Getpid(), "runtime_measurements_count")
		if err != nil {
			e.t.Fatal(err)
		}
		if err := e.hook.Store.PrepareNotes(id); err != nil {
			e.t.Fatal(err)
		}
		if err := e.hook.Store.WriteListStart(id, count); err != nil {
			e.t.Fatal(err)
		}
		nsid, err := e.emu.Unshare(os.Getpid())
		if err != nil {
			e.t.Fatal(err)
		}
		if kcmd != "" {
			if err := e.emu.WriteForChildren(os.Getpid(), "kcmd_for_children", []byte(kcmd)); err != nil {
				e.t.Fatal(err)
			}
		}
		if err := e.hook.Store.WriteNSIDNote(id, nsid); err != nil {
			e.t.Fatal(err)
		}
	}
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	e.procs = append(e.procs, cmd)
	// Learn its namespace while its parent (the "wrapper") is alive.
	if _, _, err := e.emu.TaskNamespaces(cmd.Process.Pid); err != nil {
		e.t.Fatal(err)
	}
	return cmd.Process.Pid
}

func state(id string, pid int, ann map[string]string) *specs.State {
	return &specs.State{Version: "1.0.2", ID: id, Status: "creating", Pid: pid, Bundle: "/nonexistent", Annotations: ann}
}

func TestNotEnabledDoesNothing(t *testing.T) {
	e := setup(t)
	pid := e.container("c0", "", false)
	if err := e.hook.CreateRuntime(state("c0", pid, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.hook.Store.ReadLive("c0"); err == nil {
		t.Fatal("a record was written for a container without IMA")
	}
}

func TestPolicyLoadedIntoFreshNamespace(t *testing.T) {
	e := setup(t)
	pid := e.container("c1", "ima_policy=tcb", true)
	rules := "measure func=BPRM_CHECK mask=MAY_EXEC\nmeasure func=FILE_CHECK mask=MAY_READ uid=0"
	err := e.hook.CreateRuntime(state("c1", pid, map[string]string{
		config.AnnEnable: "true", config.AnnKcmd: "ima_policy=tcb", config.AnnPolicyRules: rules}))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.hook.Store.ReadLive("c1")
	if err != nil {
		t.Fatal(err)
	}
	nsid, _, _ := e.emu.TaskNamespaces(pid)
	sum := sha256.Sum256([]byte(rules + "\n"))
	if rec.Result != "applied" || rec.NS != nsid || !rec.Created || !rec.Aggregate || rec.PolicySHA != hex.EncodeToString(sum[:]) {
		t.Fatalf("record %+v (ns %d)", rec, nsid)
	}
	got, _ := e.emu.Rules(pid)
	// As the kernel does with this kcmd and policy: the custom rules
	// replace the tcb built-ins (no architecture rules on this platform).
	if strings.Join(got, "\n") != rules {
		t.Fatalf("namespace rules %q, want exactly the custom ones", got)
	}
	if rec.InForceSHA != hex.EncodeToString(sum[:]) || rec.InForceRules != 2 || !rec.BuiltinsReplaced {
		t.Fatalf("record of the rules in force: %+v", rec)
	}
	// io.imans.kcmd asked for ima_policy=tcb explicitly: warned.
	if len(rec.Warnings) != 1 || !strings.Contains(rec.Warnings[0], "io.imans.kcmd: the custom policy (io.imans.policy-rules) replaces the ima_policy=tcb built-in rules") {
		t.Fatalf("warnings %q", rec.Warnings)
	}
	if log, _ := os.ReadFile(filepath.Join(e.admin.RunDir, "ima-hook.log")); !strings.Contains(string(log), "warning: "+rec.Warnings[0]) {
		t.Fatalf("warning not logged:\n%s", log)
	}
	// The host's own namespace is untouched.
	if host, _ := e.emu.Rules(os.Getpid()); len(host) != 0 {
		t.Fatalf("host rules changed: %v", host)
	}

	// poststop archives the record and the namespace's view.
	if err := e.hook.Poststop(&specs.State{ID: "c1", Status: "stopped"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.hook.Store.ReadLive("c1"); err == nil {
		t.Fatal("live record left behind")
	}
	arch, live, err := e.hook.Store.ReadAny("c1")
	if err != nil || live || arch.Stopped.IsZero() {
		t.Fatalf("archive %+v live=%v err=%v", arch, live, err)
	}
	view, err := os.ReadFile(latestView(t, e.hook.Store, "c1"))
	if err != nil || !strings.Contains(string(view), measure.NSAggregateName(nsid)) {
		t.Fatalf("archived view %q: %v", view, err)
	}
}

// Keylime's example policy excludes overlayfs from measurement ahead of its
// measure rules. With the admin's default kcmd (ima_policy=tcb) the
// namespace must hold exactly those rules, so the exclusion applies to
// execs; the hook used to write the tcb built-ins in front of them, where
// tcb's `measure func=BPRM_CHECK mask=MAY_EXEC` decided every exec first.
func TestKeylimeExclusionNotShadowedByDefaultKcmd(t *testing.T) {
	e := setup(t)
	pid := e.container("ck", e.admin.Defaults.Kcmd, true)
	rules := "dont_measure fsmagic=0x794c7630\nmeasure func=BPRM_CHECK\nmeasure func=MMAP_CHECK mask=MAY_EXEC"
	if err := e.hook.CreateRuntime(state("ck", pid, map[string]string{config.AnnEnable: "true", config.AnnPolicyRules: rules})); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.emu.Rules(pid); strings.Join(got, "\n") != rules {
		t.Fatalf("namespace rules %q, want exactly %q", got, rules)
	}
	rec, err := e.hook.Store.ReadLive("ck")
	if err != nil {
		t.Fatal(err)
	}
	// The admin's default kcmd: replaced, recorded, but no warning.
	if !rec.BuiltinsReplaced || len(rec.Warnings) != 0 || rec.InForceRules != 3 {
		t.Fatalf("record %+v", rec)
	}

	// Without a custom policy nothing is written and the built-ins stay.
	pid2 := e.container("ck2", e.admin.Defaults.Kcmd, true)
	if err := e.hook.CreateRuntime(state("ck2", pid2, map[string]string{config.AnnEnable: "true"})); err != nil {
		t.Fatal(err)
	}
	rec2, _ := e.hook.Store.ReadLive("ck2")
	got, _ := e.emu.Rules(pid2)
	sum := sha256.Sum256([]byte(strings.Join(got, "\n") + "\n"))
	if rec2.BuiltinsReplaced || rec2.InForceRules != len(got) || len(got) == 0 || rec2.InForceSHA != hex.EncodeToString(sum[:]) {
		t.Fatalf("kcmd only: record %+v, rules %q", rec2, got)
	}
}

// On a secure-boot platform the architecture rules stay in front of the
// custom policy (ima_update_policy keeps the custom list's architecture
// rules), and the record's rules in force say so, although the admin's
// kernel profile does not know the platform.
func TestSecureBootArchRulesStayAndAreRecorded(t *testing.T) {
	e := setupSwitches(t, `{"secure_boot": true}`)
	pid := e.container("csb", e.admin.Defaults.Kcmd, true)
	rules := "dont_measure fsmagic=0x794c7630\nmeasure func=BPRM_CHECK"
	if err := e.hook.CreateRuntime(state("csb", pid, map[string]string{config.AnnEnable: "true", config.AnnPolicyRules: rules})); err != nil {
		t.Fatal(err)
	}
	got, _ := e.emu.Rules(pid)
	want := "measure func=KEXEC_KERNEL_CHECK\nmeasure func=MODULE_CHECK\n" + rules
	if strings.Join(got, "\n") != want {
		t.Fatalf("namespace rules %q, want the architecture rules, then %q", got, rules)
	}
	rec, _ := e.hook.Store.ReadLive("csb")
	sum := sha256.Sum256([]byte(want + "\n"))
	if rec.InForceSHA != hex.EncodeToString(sum[:]) || rec.InForceRules != 4 || !rec.BuiltinsReplaced {
		t.Fatalf("record %+v", rec)
	}
}

func TestHostNamespaceRequiredRefusesOptionalStarts(t *testing.T) {
	e := setup(t)
	pid := e.container("c2", "", false)
	err := e.hook.CreateRuntime(state("c2", pid, map[string]string{config.AnnEnable: "true"}))
	if err == nil || !strings.Contains(userror.Line(err), "ima-runtime wrapper") {
		t.Fatalf("want a refusal naming the wrapper, got %v", err)
	}
	if err := e.hook.CreateRuntime(state("c2", pid, map[string]string{config.AnnEnable: "true", config.AnnRequired: "false"})); err != nil {
		t.Fatalf("optional must start: %v", err)
	}
	rec, _ := e.hook.Store.ReadLive("c2")
	if !strings.HasPrefix(rec.Result, "skipped: ") {
		t.Fatalf("record %+v", rec)
	}
}

func TestInvalidConfigWritesNothing(t *testing.T) {
	e := setup(t)
	pid := e.container("c3", "ima_policy=tcb", true)
	before, _ := e.emu.Rules(pid)
	err := e.hook.CreateRuntime(state("c3", pid, map[string]string{
		config.AnnEnable: "true", config.AnnPolicyRules: "measure func=BPRM_CHECK\nmeasure func=NOPE"}))
	if err == nil {
		t.Fatal("accepted a bad rule")
	}
	line := userror.Line(err)
	if !strings.HasPrefix(line, "ima-hook: io.imans.policy-rules: ") || strings.Contains(line, "\n") {
		t.Fatalf("error line %q", line)
	}
	after, _ := e.emu.Rules(pid)
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Fatalf("policy changed despite the error: %v -> %v", before, after)
	}
}

func TestCreationOnlySettingsRefusedWithoutWrapper(t *testing.T) {
	e := setup(t)
	// A namespace that something other than our wrapper created: unshared
	// but no pending-id file.
	if _, err := e.emu.Unshare(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	pid := e.container("c4", "", false)
	err := e.hook.CreateRuntime(state("c4", pid, map[string]string{config.AnnEnable: "true", config.AnnKcmd: "ima_policy=tcb ima_appraise=fix"}))
	if err == nil || !strings.Contains(err.Error(), "ima_appraise=fix") {
		t.Fatalf("want ima_appraise refused, got %v", err)
	}
	// Without creation-only settings the built-ins go through the policy file.
	err = e.hook.CreateRuntime(state("c4", pid, map[string]string{config.AnnEnable: "true", config.AnnKcmd: "ima_policy=tcb"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.emu.Rules(pid); len(got) == 0 {
		t.Fatal("tcb built-ins were not loaded")
	}
}

func TestRecordTimesAreUTC(t *testing.T) {
	e := setup(t)
	e.hook.Now = func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.FixedZone("X", 3600)) }
	pid := e.container("c5", "", true)
	if err := e.hook.CreateRuntime(state("c5", pid, map[string]string{config.AnnEnable: "true"})); err != nil {
		t.Fatal(err)
	}
	rec, _ := e.hook.Store.ReadLive("c5")
	if rec.Time.Location() != time.UTC {
		t.Fatalf("time %v", rec.Time)
	}
}

// ima_open_policy has one busy bit for all namespaces: containers started
// together must queue for it (EBUSY is retried), and each must end up with
// its own rules in its own namespace.
func TestParallelContainersQueueForThePolicyFile(t *testing.T) {
	e := setup(t)
	const n = 12
	pids := make([]int, n)
	for i := range pids {
		pids[i] = e.container("p"+strconv.Itoa(i), "", true)
	}
	errs := make(chan error, n)
	for i := range pids {
		go func(i int) {
			errs <- e.hook.CreateRuntime(state("p"+strconv.Itoa(i), pids[i], map[string]string{
				config.AnnEnable: "true", config.AnnPolicyRules: "measure func=BPRM_CHECK uid=" + strconv.Itoa(i)}))
		}(i)
	}
	for range pids {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	seen := map[imansid.ID]bool{}
	for i, pid := range pids {
		rules, _ := e.emu.Rules(pid)
		want := "measure func=BPRM_CHECK uid=" + strconv.Itoa(i)
		if len(rules) == 0 || rules[len(rules)-1] != want {
			t.Errorf("container %d has rules %q, want ... %q", i, rules, want)
		}
		rec, _ := e.hook.Store.ReadLive("p" + strconv.Itoa(i))
		if seen[rec.NS] {
			t.Errorf("namespace %d shared", rec.NS)
		}
		seen[rec.NS] = true
	}
}

// The kernel reuses namespace ids: a container's archived view must be its
// own namespace's, even when a later container got the same id before the
// first one's poststop ran.
func TestPoststopWithReusedNamespaceID(t *testing.T) {
	e := setup(t)
	ann := map[string]string{config.AnnEnable: "true", config.AnnPolicyRules: "measure func=BPRM_CHECK"}
	a := e.container("ca", "", true)
	if err := e.hook.CreateRuntime(state("ca", a, ann)); err != nil {
		t.Fatal(err)
	}
	if added, err := e.emu.Measure(a, "/from-a", "sha256", strings.Repeat("aa", 32), false); err != nil || !added {
		t.Fatalf("measure in a: %v %v", added, err)
	}
	recA, _ := e.hook.Store.ReadLive("ca")
	// a dies; the "wrapper" (this process) lets go of the namespace.
	e.procs[0].Process.Kill()
	e.procs[0].Wait()
	if err := e.emu.Setns(os.Getpid(), emukernel.InitialNS, true); err != nil {
		t.Fatal(err)
	}
	// a's poststop releases its pin; only then is the id free again.
	if err := e.hook.Poststop(&specs.State{ID: "ca", Status: "stopped"}); err != nil {
		t.Fatal(err)
	}
	b := e.container("cb", "", true)
	if err := e.hook.CreateRuntime(state("cb", b, ann)); err != nil {
		t.Fatal(err)
	}
	recB, _ := e.hook.Store.ReadLive("cb")
	if recB.NS != recA.NS {
		t.Fatalf("the emulator did not reuse id %d (got %d); the test needs reuse", recA.NS, recB.NS)
	}
	e.emu.Measure(b, "/from-b", "sha256", strings.Repeat("bb", 32), false)
	if err := e.hook.Poststop(&specs.State{ID: "cb", Status: "stopped"}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"ca": "/from-a", "cb": "/from-b"} {
		view, err := os.ReadFile(latestView(t, e.hook.Store, id))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(view), want) || strings.Count(string(view), "\n") != 2 {
			t.Fatalf("%s's archived view is not its own (aggregate and %s):\n%s", id, want, view)
		}
		arch, _, _ := e.hook.Store.ReadAny(id)
		if arch.Start() < 0 || arch.AggregateIndex < arch.Start() {
			t.Fatalf("record %+v", arch)
		}
	}
	recA, _, _ = e.hook.Store.ReadAny("ca")
	recB, _, _ = e.hook.Store.ReadAny("cb")
	if recB.AggregateIndex <= recA.AggregateIndex {
		t.Fatalf("b's aggregate index %d is not after a's %d: the host-list index names the wrong life", recB.AggregateIndex, recA.AggregateIndex)
	}
}

// Under `runc run` through the wrapper, runc and its poststop hook still
// live in the container's namespace: the hook then reads that namespace's
// own view, which is the archive.
func TestPoststopFromInsideTheNamespace(t *testing.T) {
	e := setup(t)
	pid := e.container("cin", "", true)
	if err := e.hook.CreateRuntime(state("cin", pid, map[string]string{config.AnnEnable: "true", config.AnnPolicyRules: "measure func=BPRM_CHECK"})); err != nil {
		t.Fatal(err)
	}
	e.emu.Measure(pid, "/inside", "sha256", strings.Repeat("cc", 32), false)
	nsid, _, _ := e.emu.TaskNamespaces(pid)
	if err := e.emu.Setns(os.Getpid(), nsid, true); err != nil {
		t.Fatal(err)
	}
	err := e.hook.Poststop(&specs.State{ID: "cin", Status: "stopped"})
	if serr := e.emu.Setns(os.Getpid(), emukernel.InitialNS, true); serr != nil {
		t.Fatal(serr)
	}
	if err != nil {
		t.Fatal(err)
	}
	view, _ := os.ReadFile(latestView(t, e.hook.Store, "cin"))
	if !strings.Contains(string(view), measure.NSAggregateName(nsid)) || !strings.Contains(string(view), "/inside") {
		t.Fatalf("view %q", view)
	}
}

// BenchmarkCreateRuntime50Rules: one container's createRuntime against the
// emulated kernel with a 50-rule policy (bench/hook.sh measures the whole
// container start around it).
func BenchmarkCreateRuntime50Rules(b *testing.B) {
	var rules []string
	for i := 0; i < 50; i++ {
		rules = append(rules, "measure func=FILE_CHECK mask=MAY_READ uid="+strconv.Itoa(1000+i))
	}
	ann := map[string]string{config.AnnEnable: "true", config.AnnPolicyRules: strings.Join(rules, "\n")}
	dir := b.TempDir()
	b.Setenv(ns.EmuDirEnv, filepath.Join(dir, "emu"))
	emu, err := ns.Emulator()
	if err != nil {
		b.Fatal(err)
	}
	a := config.BuiltinAdmin()
	a.RunDir, a.ArchiveDir = filepath.Join(dir, "run"), filepath.Join(dir, "lib")
	log := logx.Open("file", a.RunDir)
	defer log.Close()
	h := New(ns.Default(), a, log)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		id := "b" + strconv.Itoa(i)
		if _, err := emu.Unshare(os.Getpid()); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		emu.TaskNamespaces(cmd.Process.Pid)
		b.StartTimer()
		if err := h.CreateRuntime(state(id, cmd.Process.Pid, ann)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cmd.Process.Kill()
		cmd.Wait()
		emu.Setns(os.Getpid(), emukernel.InitialNS, true)
		b.StartTimer()
	}
}

// Under the wrapper the hook is born into the container's namespace: it
// populates it from where it is, without the re-exec that enters it.
func TestPopulateFromInsideTheNamespace(t *testing.T) {
	e := setup(t)
	pid := e.container("cpi", "", true)
	nsid, _, _ := e.emu.TaskNamespaces(pid)
	if err := e.emu.Setns(os.Getpid(), nsid, true); err != nil {
		t.Fatal(err)
	}
	err := e.hook.CreateRuntime(state("cpi", pid, map[string]string{config.AnnEnable: "true", config.AnnPolicyRules: "measure func=BPRM_CHECK uid=7"}))
	if serr := e.emu.Setns(os.Getpid(), emukernel.InitialNS, true); serr != nil {
		t.Fatal(serr)
	}
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := e.emu.Rules(pid)
	if len(rules) == 0 || rules[len(rules)-1] != "measure func=BPRM_CHECK uid=7" {
		t.Fatalf("rules %q", rules)
	}
	rec, _ := e.hook.Store.ReadLive("cpi")
	if rec.Result != "applied" || rec.NS != nsid {
		t.Fatalf("record %+v", rec)
	}
}

// TestWarningsReachLogAndRecord: the certificate's warnings (RSA-1024,
// expired) and a lookalike io.imans.* key are logged and land in the
// record. Before, the certificate warnings lived only in the Go API and the
// lookalike key was ignored without a word.
func TestWarningsReachLogAndRecord(t *testing.T) {
	e := setup(t)
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "old key"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
		SubjectKeyId: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	ca := testCA(t) // the kernel loads only certificates a trusted key signed
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.tmpl, &priv.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(e.admin.KeysDir, "old.der")
	if err := os.WriteFile(cert, der, 0o644); err != nil {
		t.Fatal(err)
	}
	// Created as the wrapper does, with the certificate in
	// x509_for_children: the hook proves the key is there.
	pid := e.wrapperContainer("w1", "", cert)
	ann := map[string]string{config.AnnEnable: "true", config.AnnX509: cert, "IO.IMANS.policy": "web.policy"}
	if err := e.hook.CreateRuntime(state("w1", pid, ann)); err != nil {
		t.Fatal(err)
	}
	rec, err := e.hook.Store.ReadLive("w1")
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rec.Warnings, "\n")
	logged, _ := os.ReadFile(filepath.Join(e.admin.RunDir, "ima-hook.log"))
	for _, want := range []string{"io.imans.x509: " + cert + ": RSA-1024 is weak", "certificate expired on", `annotation "IO.IMANS.policy" looks like an io.imans.* key`} {
		if !strings.Contains(all, want) {
			t.Errorf("record warnings lack %q: %q", want, rec.Warnings)
		}
		if !strings.Contains(string(logged), want) {
			t.Errorf("log lacks %q:\n%s", want, logged)
		}
	}
}

// TestPreflightEnforceRefusesWhatItCannotDecide: under
// io.imans.preflight=enforce, an entrypoint the preflight cannot judge (here:
// missing from the rootfs) refuses the container and says what was
// undecidable; under warn it is recorded. Before, enforce let it through as
// if the chain passed.
func TestPreflightEnforceRefusesWhatItCannotDecide(t *testing.T) {
	e := setup(t)
	bundle := filepath.Join(e.dir, "bundle")
	if err := os.MkdirAll(filepath.Join(bundle, "rootfs", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/bin/nope"],"cwd":"/","env":["PATH=/bin"]}}`
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ann := map[string]string{config.AnnEnable: "true", config.AnnPolicyRules: "appraise func=BPRM_CHECK appraise_type=imasig", config.AnnPreflight: "enforce"}
	pid := e.container("pf1", "", true)
	st := state("pf1", pid, ann)
	st.Bundle = bundle
	err := e.hook.CreateRuntime(st)
	line := ""
	if err != nil {
		line = userror.Line(err)
	}
	if !strings.HasPrefix(line, "ima-hook: io.imans.preflight: the appraisal preflight cannot tell whether the container would start: ") ||
		!strings.Contains(line, "/bin/nope") || !strings.Contains(line, "io.imans.preflight=warn") {
		t.Fatalf("enforce: %q", line)
	}
	ann[config.AnnPreflight] = "warn"
	pid = e.container("pf2", "", true)
	st = state("pf2", pid, ann)
	st.Bundle = bundle
	if err := e.hook.CreateRuntime(st); err != nil {
		t.Fatalf("warn: %v", err)
	}
	rec, err := e.hook.Store.ReadLive("pf2")
	if err != nil || !strings.Contains(rec.Preflight, "/bin/nope") || strings.Contains(rec.Preflight, "passes") {
		t.Fatalf("warn record: %+v %v", rec, err)
	}
}
