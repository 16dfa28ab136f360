//go:build imaemu

package hook

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/emukernel"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// setupWith is setup on an emulator with switches sw.
func setupWith(t *testing.T, sw emukernel.Switches) *env {
	t.Helper()
	e := setup(t)
	dir := filepath.Join(e.dir, "emu-switched")
	t.Setenv(ns.EmuDirEnv, dir)
	emu, err := emukernel.Open(dir, sw)
	if err != nil {
		t.Fatal(err)
	}
	e.emu = emu
	e.hook.Kernel = ns.Default()
	return e
}

func switchesWith(template string) emukernel.Switches {
	sw := emukernel.DefaultSwitches()
	sw.NSTemplate = template
	return sw
}

var measureAnn = map[string]string{config.AnnEnable: "true", config.AnnPolicyRules: "measure func=BPRM_CHECK"}

// stop kills the container's init and takes the "wrapper" (this process)
// back to the host namespace: no task is left in the container's.
func (e *env) stop(i int) {
	e.t.Helper()
	e.procs[i].Process.Kill()
	e.procs[i].Wait()
	if err := e.emu.Setns(os.Getpid(), emukernel.InitialNS, true); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) archivedView(id string) string {
	e.t.Helper()
	b, err := os.ReadFile(latestView(e.t, e.hook.Store, id))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func (e *env) pinNames() []string {
	e.t.Helper()
	names, err := readDirNames(ns.PinDir(e.hook.Store.RunDir))
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if !strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	return out
}

func (e *env) alive(id imansid.ID) bool {
	e.t.Helper()
	infos, err := e.emu.Namespaces()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, n := range infos {
		if n.ID == id {
			return true
		}
	}
	return false
}

// The archived view holds the container's measurements whatever template
// the kernel logs namespace entries with: with the host's ima-ng (newest
// openEuler) no host entry carries the namespace id, and before pins the
// view filtered from the host list held only the ns_aggregate.
func TestArchivedViewUnderEitherTemplate(t *testing.T) {
	for _, mode := range []string{emukernel.NSTemplateKcmd, emukernel.NSTemplateHost} {
		t.Run(mode, func(t *testing.T) {
			e := setupWith(t, switchesWith(mode))
			pid := e.container("cv", "", true)
			if err := e.hook.CreateRuntime(state("cv", pid, measureAnn)); err != nil {
				t.Fatal(err)
			}
			rec, _ := e.hook.Store.ReadLive("cv")
			if got := e.pinNames(); len(got) != 1 || got[0] != ns.PinName("cv", imansid.ID(rec.NS)) {
				t.Fatalf("pins %q after createRuntime", got)
			}
			if added, err := e.emu.Measure(pid, "/bin/app", "sha256", strings.Repeat("ab", 32), false); err != nil || !added {
				t.Fatalf("measure: %v %v", added, err)
			}
			e.stop(0)
			if !e.alive(rec.NS) {
				t.Fatal("the pinned namespace died with its last task")
			}
			if err := e.hook.Poststop(&specs.State{ID: "cv", Status: "stopped"}); err != nil {
				t.Fatal(err)
			}
			view := e.archivedView("cv")
			lines := strings.Split(strings.TrimSpace(view), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], measure.NSAggregateName(rec.NS)) || !strings.Contains(lines[1], " /bin/app") {
				t.Fatalf("archived view:\n%s", view)
			}
			wantTemplate := map[string]string{emukernel.NSTemplateKcmd: " ima-ns ", emukernel.NSTemplateHost: " ima-ng "}[mode]
			if !strings.Contains(lines[1], wantTemplate) {
				t.Fatalf("entry %q: want template%s", lines[1], wantTemplate)
			}
			if got := e.pinNames(); len(got) != 0 {
				t.Fatalf("pins left after poststop: %q", got)
			}
			if e.alive(rec.NS) {
				t.Fatal("the namespace outlived its released pin")
			}
		})
	}
}

// While a stopped container's pin exists its id is not reused; when
// another container starts, the pin of a namespace with no task left is
// released and its final view kept for the poststop that comes later.
func TestSweepReleasesDeadPinsAndKeepsTheirView(t *testing.T) {
	e := setupWith(t, switchesWith(emukernel.NSTemplateHost))
	a := e.container("ca", "", true)
	if err := e.hook.CreateRuntime(state("ca", a, measureAnn)); err != nil {
		t.Fatal(err)
	}
	e.emu.Measure(a, "/from-a", "sha256", strings.Repeat("aa", 32), false)
	recA, _ := e.hook.Store.ReadLive("ca")
	e.stop(0)
	b := e.container("cb", "", true)
	recBNS, _, _ := e.emu.TaskNamespaces(b)
	if recBNS == recA.NS {
		t.Fatalf("id %d of a pinned namespace was reused", recA.NS)
	}
	if err := e.hook.CreateRuntime(state("cb", b, measureAnn)); err != nil {
		t.Fatal(err)
	}
	pinA := ns.PinName("ca", imansid.ID(recA.NS))
	got := strings.Join(e.pinNames(), " ")
	if strings.Contains(got, pinA+" ") || !strings.Contains(got, pinA+savedViewSuffix) || !strings.Contains(got, ns.PinName("cb", imansid.ID(recBNS))) {
		t.Fatalf("after b's start: %q (a's pin released, its view kept, b's pin made)", got)
	}
	if e.alive(recA.NS) {
		t.Fatal("a's namespace outlived the sweep")
	}
	e.emu.Measure(b, "/from-b", "sha256", strings.Repeat("bb", 32), false)
	if err := e.hook.Poststop(&specs.State{ID: "ca", Status: "stopped"}); err != nil {
		t.Fatal(err)
	}
	view := e.archivedView("ca")
	if !strings.Contains(view, " /from-a") || strings.Contains(view, "/from-b") {
		t.Fatalf("a's archived view:\n%s", view)
	}
	if strings.Contains(strings.Join(e.pinNames(), " "), pinA) {
		t.Fatalf("a's kept view left behind: %q", e.pinNames())
	}
}

// A crash (the container killed, its runtime deleting it without running
// poststop) leaves a pin and a live record; the next start releases the
// pin, and the kept view goes once the live record does.
func TestCrashLeavesNoNamespaceBehind(t *testing.T) {
	e := setup(t)
	a := e.container("crash", "", true)
	if err := e.hook.CreateRuntime(state("crash", a, measureAnn)); err != nil {
		t.Fatal(err)
	}
	rec, _ := e.hook.Store.ReadLive("crash")
	e.stop(0)
	b := e.container("next", "", true)
	if nb, _, _ := e.emu.TaskNamespaces(b); nb == rec.NS {
		t.Fatalf("id %d of a pinned namespace was reused", nb)
	}
	if err := e.hook.CreateRuntime(state("next", b, measureAnn)); err != nil {
		t.Fatal(err)
	}
	if e.alive(rec.NS) {
		t.Fatal("the crashed container's namespace is still alive after the next start")
	}
	os.Remove(e.hook.Store.LivePath("crash"))
	c := e.container("third", "", true)
	if err := e.hook.CreateRuntime(state("third", c, measureAnn)); err != nil {
		t.Fatal(err)
	}
	for _, n := range e.pinNames() {
		if strings.HasPrefix(n, "crash-") {
			t.Fatalf("left behind: %s", n)
		}
	}
}

// Without a pin the host list filtered by id is all there is: with the
// host's ima-ng template the container's entries cannot be attributed, and
// the hook says so instead of archiving a short view as complete.
func TestPoststopWithoutPinReportsUnattributableEntries(t *testing.T) {
	e := setupWith(t, switchesWith(emukernel.NSTemplateHost))
	pid := e.container("np", "", true)
	if err := e.hook.CreateRuntime(state("np", pid, measureAnn)); err != nil {
		t.Fatal(err)
	}
	rec, _ := e.hook.Store.ReadLive("np")
	e.emu.Measure(pid, "/bin/app", "sha256", strings.Repeat("ab", 32), false)
	if err := e.hook.Kernel.(ns.Pinner).Unpin(e.hook.pinPath("np", rec.NS)); err != nil {
		t.Fatal(err)
	}
	if err := e.hook.Poststop(&specs.State{ID: "np", Status: "stopped"}); err != nil {
		t.Fatal(err)
	}
	if view := e.archivedView("np"); strings.Contains(view, "/bin/app") {
		t.Fatalf("view:\n%s", view)
	}
	log, _ := os.ReadFile(filepath.Join(e.hook.Store.RunDir, "ima-hook.log"))
	if !strings.Contains(string(log), "1 entries of the host list in its span carry no namespace id") {
		t.Fatalf("no report of the unattributable entry in the log:\n%s", log)
	}
}

// Required IMA without a pin would archive a view that may be empty: the
// container is refused in one line naming the pin directory; optional IMA
// starts it.
func TestPinFailureRefusesRequiredIMA(t *testing.T) {
	e := setup(t)
	if err := os.MkdirAll(e.hook.Store.RunDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The pin directory's place is taken by a file.
	if err := os.WriteFile(ns.PinDir(e.hook.Store.RunDir), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pid := e.container("pf", "", true)
	err := e.hook.CreateRuntime(state("pf", pid, measureAnn))
	var ue *userror.Error
	if !errors.As(err, &ue) || !strings.HasPrefix(userror.Line(err), "ima-hook: "+ns.PinDir(e.hook.Store.RunDir)+": cannot pin") {
		t.Fatalf("got %v", err)
	}
	opt := map[string]string{config.AnnEnable: "true", config.AnnRequired: "false", config.AnnPolicyRules: "measure func=BPRM_CHECK"}
	pid2 := e.container("pf2", "", true)
	if err := e.hook.CreateRuntime(state("pf2", pid2, opt)); err != nil {
		t.Fatalf("optional IMA refused: %v", err)
	}
}
