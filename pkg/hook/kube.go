package hook

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// joinedPod handles a container of a pod with io.imans.scope=pod that the
// wrapper started in the namespace an earlier container of the pod created
// (the namespace's owner, by its live record): nothing is loaded again, the
// kernel would not take a second policy anyway. The container must ask for
// exactly the owner's configuration, or it is refused: with pod scope the
// pod has one policy, one key and one kcmd. joined is false when no
// container of the pod owns ctrNS (this container is the first).
func (h *Hook) joinedPod(st *specs.State, cfg *config.Config, rec *record.Record, ctrNS imansid.ID) (joined bool, err error) {
	k := rec.Kubernetes
	if k == nil || k.SandboxID == "" {
		return false, nil
	}
	owners, err := h.Store.PodNamespaceOwners(k.SandboxID)
	if err != nil {
		return false, userror.Wrapf(err, h.Store.RunDir, "check the run directory", "cannot read the records of the pod's containers (io.imans.scope=pod)")
	}
	var owner *record.Record
	for i := range owners {
		if owners[i].ContainerID != st.ID && owners[i].NS == ctrNS {
			owner = &owners[i]
			break
		}
	}
	if owner == nil {
		return false, nil
	}
	differs := func(subject, what, mine, theirs string) error {
		return userror.New(subject, fmt.Sprintf("this container asks for %s %s, but the pod's IMA namespace (io.imans.scope=pod), created by container %s, has %s",
			what, orNone(mine), owner.ContainerID, orNone(theirs)),
			"give every container of the pod the same io.imans.* settings (pod annotations), or use io.imans.scope=container")
	}
	switch {
	case rec.PolicySHA != owner.PolicySHA:
		return true, differs(config.AnnPolicy, "the policy with sha256", rec.PolicySHA, owner.PolicySHA)
	case rec.Kcmd != owner.Kcmd:
		return true, differs(config.AnnKcmd, "kcmd", rec.Kcmd, owner.Kcmd)
	case rec.KeyPath != owner.KeyPath:
		return true, differs(config.AnnX509, "key", rec.KeyPath, owner.KeyPath)
	}
	rec.PodNamespaceOf = owner.ContainerID
	rec.Created = false
	rec.Template, rec.InForceSHA, rec.InForceRules, rec.BuiltinsReplaced = owner.Template, owner.InForceSHA, owner.InForceRules, owner.BuiltinsReplaced
	rec.AggregateIndex, rec.ListStart, rec.Aggregate = owner.AggregateIndex, owner.ListStart, owner.Aggregate
	if _, ok := h.Store.ReadJoinedNote(st.ID); ok {
		// As for a namespace the wrapper created: the init note keeps the
		// wrapper's join note live (record.Store.NoteLive) without the
		// stale-note sweep asking the runtime, whose failing state would
		// count the container as gone and drop the note exec decides by.
		if err := record.WriteProcNote(h.Store.InitPath(st.ID), st.Pid); err != nil {
			return true, userror.Wrapf(err, h.Store.InitPath(st.ID), "check that "+h.Store.RunDir+" is writable", "cannot note the container's init process")
		}
	}
	return true, h.pinNamespace(st.ID, st.Pid, rec.NS, cfg.Required)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
