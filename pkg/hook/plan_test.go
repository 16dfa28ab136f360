package hook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/logx"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/ns/nstest"
)

// These tests run createRuntime's planning and verification against the
// scripted kernel of pkg/ns/nstest, so they need neither the emulator nor
// privileges (the emulated tests, hook_emu_test.go, run the same paths
// through the real C stage).

const fakeCtrNS imansid.ID = 4026532300

// fakeHook is a hook on kernel k with its own run and archive directories.
func fakeHook(t *testing.T, k ns.Kernel) *Hook {
	t.Helper()
	dir := t.TempDir()
	a := config.BuiltinAdmin()
	a.RunDir, a.ArchiveDir = filepath.Join(dir, "run"), filepath.Join(dir, "lib")
	log := logx.Open("file", a.RunDir)
	t.Cleanup(log.Close)
	return New(k, a, log)
}

// fakeCtrPid plays the container's init: a live process, because the
// hook notes the init's start time from /proc (record.WriteProcNote).
var fakeCtrPid = os.Getpid()

// imaKernel is a kernel with openEuler's IMA namespaces where fakeCtrPid
// is in a namespace of its own.
func imaKernel() *nstest.Kernel {
	return &nstest.Kernel{
		Features: ns.Features{Kernel: "nstest", SecurityFSMounted: true, IMA: true, Namespaces: true, KcmdForChildren: true,
			X509ForChildren: true, PolicyFile: true, PolicyWritable: true, ImaKeyring: ".ima"},
		Namespaces: map[int]imansid.ID{fakeCtrPid: fakeCtrNS},
	}
}

const fakeRule = "measure func=BPRM_CHECK mask=MAY_EXEC"

func fakeState(id string) *specs.State {
	return &specs.State{Version: "1.0.2", ID: id, Status: "creating", Pid: fakeCtrPid, Bundle: "/nonexistent",
		Annotations: map[string]string{config.AnnEnable: "true", config.AnnRequired: "false",
			config.AnnKcmd: "ima_policy=tcb", config.AnnPolicyRules: fakeRule}}
}

// noteWrapperNamespace writes the notes the wrapper leaves for a namespace
// it created.
func noteWrapperNamespace(t *testing.T, h *Hook, id string) {
	t.Helper()
	if err := h.Store.PrepareNotes(id); err != nil {
		t.Fatal(err)
	}
	if err := h.Store.WriteNSIDNote(id, fakeCtrNS); err != nil {
		t.Fatal(err)
	}
}

func TestFakeKernelWrapperNamespaceGetsTheCustomRulesOnly(t *testing.T) {
	k := imaKernel()
	h := fakeHook(t, k)
	noteWrapperNamespace(t, h, "p1")
	if err := h.CreateRuntime(fakeState("p1")); err != nil {
		t.Fatal(err)
	}
	if len(k.Populated) != 1 || strings.Join(k.Populated[0].PolicyRules, "\n") != fakeRule || k.Populated[0].Expect != fakeCtrNS {
		t.Fatalf("populate requests %+v", k.Populated)
	}
	rec, err := h.Store.ReadLive("p1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Result != "applied" || !rec.Created || rec.NS != fakeCtrNS || !rec.Aggregate || rec.InForceRules != 1 || !rec.BuiltinsReplaced {
		t.Fatalf("record %+v", rec)
	}
}

func TestFakeKernelNamespaceNotFromTheWrapperGetsTheKcmdLoaded(t *testing.T) {
	k := imaKernel()
	h := fakeHook(t, k)
	st := fakeState("p2")
	delete(st.Annotations, config.AnnPolicyRules)
	if err := h.CreateRuntime(st); err != nil {
		t.Fatal(err)
	}
	// No wrapper notes: the hook loads ima_policy=tcb's rules itself.
	if len(k.Populated) != 1 || len(k.Populated[0].PolicyRules) < 2 || !strings.HasPrefix(k.Populated[0].PolicyRules[0], "dont_measure") {
		t.Fatalf("populate requests %+v", k.Populated)
	}
	if rec, err := h.Store.ReadLive("p2"); err != nil || rec.Created || rec.Result != "applied" {
		t.Fatalf("record %+v: %v", rec, err)
	}
}

func TestFakeKernelVerificationRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		res  ns.PopulateResult
		want string
	}{
		"rules lost":      {ns.PopulateResult{NS: fakeCtrNS, AggregatePresent: true}, "IMA namespace: wrote 0 of 1 policy rules; check the kernel log"},
		"other namespace": {ns.PopulateResult{NS: fakeCtrNS + 1, RulesWritten: 1, AggregatePresent: true}, "populated namespace 4026532301, expected 4026532300"},
		"no aggregate":    {ns.PopulateResult{NS: fakeCtrNS, RulesWritten: 1}, "has no " + measure.NSAggregateName(fakeCtrNS) + " entry"},
	} {
		t.Run(name, func(t *testing.T) {
			k := imaKernel()
			k.PopulateFunc = func(int, ns.PopulateRequest) (ns.PopulateResult, error) { return tc.res, nil }
			h := fakeHook(t, k)
			noteWrapperNamespace(t, h, "v1")
			err := h.CreateRuntime(fakeState("v1"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if rec, _ := h.Store.ReadLive("v1"); !strings.HasPrefix(rec.Result, "failed: ") {
				t.Fatalf("record result %q", rec.Result)
			}
		})
	}
}

func TestFakeKernelRefusals(t *testing.T) {
	// Required IMA in the host's namespace: no runtime created one.
	k := imaKernel()
	k.Namespaces = nil
	h := fakeHook(t, k)
	st := fakeState("r1")
	st.Annotations[config.AnnRequired] = "true"
	if err := h.CreateRuntime(st); err == nil || !strings.Contains(err.Error(), "runs in the host's IMA namespace") || len(k.Populated) != 0 {
		t.Fatalf("host namespace: %v, populated %+v", err, k.Populated)
	}
	// The wrapper's note names another namespace: a reused id.
	k = imaKernel()
	h = fakeHook(t, k)
	noteWrapperNamespace(t, h, "r2")
	k.Namespaces[fakeCtrPid] = fakeCtrNS + 7
	if err := h.CreateRuntime(fakeState("r2")); err == nil || !strings.Contains(err.Error(), "the wrapper created namespace 4026532300 but the container is in 4026532307") || len(k.Populated) != 0 {
		t.Fatalf("reused id: %v, populated %+v", err, k.Populated)
	}
	// A kernel without IMA namespaces and optional IMA: skipped, recorded.
	k = &nstest.Kernel{}
	h = fakeHook(t, k)
	if err := h.CreateRuntime(fakeState("r3")); err != nil {
		t.Fatal(err)
	}
	if rec, err := h.Store.ReadLive("r3"); err != nil || !strings.HasPrefix(rec.Result, "skipped: the kernel has no IMA namespaces") {
		t.Fatalf("record %+v: %v", rec, err)
	}
}
