//go:build imaemu

package hook

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/kube"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// podAnn are the annotations containerd gives an app container of pod
// default/web (sandbox sb1) with io.imans.scope=pod.
func podAnn(name string) map[string]string {
	return map[string]string{
		config.AnnEnable: "true", config.AnnScope: config.ScopePod,
		config.AnnPolicyRules:  "measure func=BPRM_CHECK mask=MAY_EXEC",
		kube.CtrdContainerType: "container", kube.CtrdSandboxID: "sb1",
		kube.CtrdPodNamespace: "default", kube.CtrdPodName: "web", kube.CtrdPodUID: "uid-1",
		kube.CtrdContainerName: name,
	}
}

// io.imans.scope=pod: a container the wrapper started in the namespace of
// an earlier container of the pod (its join note) joins it while a
// container of the pod that has it still runs; once none does (the owner
// stopped between the wrapper's decision and the hook), the hook refuses
// it instead of configuring the already configured namespace a second
// time as a namespace of unknown origin.
func TestJoinedContainerWhoseOwnerIsGone(t *testing.T) {
	e := setup(t)
	pidA := e.container("pa", "", true)
	if err := e.hook.CreateRuntime(state("pa", pidA, podAnn("a"))); err != nil {
		t.Fatal(err)
	}
	// The test process is still in the namespace it unshared for "pa":
	// its next children are born there, as the wrapper's joined runtime.
	pidB := e.container("pb", "", false)
	if err := e.hook.Store.WriteJoinedNote("pb", "pa"); err != nil {
		t.Fatal(err)
	}
	if err := e.hook.CreateRuntime(state("pb", pidB, podAnn("b"))); err != nil {
		t.Fatal(err)
	}
	if rec, err := e.hook.Store.ReadLive("pb"); err != nil || rec.PodNamespaceOf != "pa" || rec.Result != "applied" {
		t.Fatalf("joined record %+v: %v", rec, err)
	}
	// The joined container's init is noted, as a created one's is: its
	// notes stay live without asking the runtime.
	if p, err := record.ReadProcNote(e.hook.Store.InitPath("pb")); err != nil || p.PID != pidB {
		t.Fatalf("init note of the joined container: %+v %v", p, err)
	}

	// Both stop and are archived; a third container the wrapper joined to
	// pa's namespace (still alive through pidA) is refused.
	for _, id := range []string{"pa", "pb"} {
		if err := e.hook.Poststop(&specs.State{ID: id, Status: "stopped"}); err != nil {
			t.Fatal(err)
		}
	}
	pidC := e.container("pc", "", false)
	if err := e.hook.Store.WriteJoinedNote("pc", "pa"); err != nil {
		t.Fatal(err)
	}
	err := e.hook.CreateRuntime(state("pc", pidC, podAnn("c")))
	if err == nil || !strings.Contains(err.Error(), "the wrapper started this container in the IMA namespace of container pa, but no running container of the pod has that namespace any more") {
		t.Fatalf("joined container without a live owner: %v", err)
	}
}

// The wrapper created (or joined) an IMA namespace for a container that the
// hook, reading other settings (no --imans for the hook of a runtime entry
// with --imans, another admin config), takes for one without IMA, or for a
// pod's sandbox: the namespace would run with none of the admin's policy
// and no record. The hook refuses it in one line; a stale note of an
// earlier container with the id does not count.
func TestWrapperNamespaceTheHookDoesNotAskFor(t *testing.T) {
	e := setup(t)
	pid := e.container("cw", "", true) // the wrapper's namespace and notes
	err := e.hook.CreateRuntime(state("cw", pid, nil))
	if err == nil || !strings.Contains(err.Error(), "the runtime wrapper started this container in IMA namespace") ||
		!strings.Contains(err.Error(), "it does not ask for IMA: the wrapper and the hook read different settings") {
		t.Fatalf("unannotated container in the wrapper's namespace: %v", err)
	}
	err = e.hook.CreateRuntime(state("cw", pid, map[string]string{config.AnnEnable: "true", kube.CtrdContainerType: "sandbox"}))
	if err == nil || !strings.Contains(err.Error(), "it is a pod's sandbox") {
		t.Fatalf("sandbox in the wrapper's namespace: %v", err)
	}
	// A note left by an earlier container with this id (it names another
	// namespace than the container's): nothing to refuse.
	pidHost := e.container("cw2", "", false)
	if err := e.hook.Store.WriteNSIDNote("cw2", 4026539999); err != nil {
		t.Fatal(err)
	}
	if err := e.hook.CreateRuntime(state("cw2", pidHost, nil)); err != nil {
		t.Fatalf("stale note: %v", err)
	}
}
