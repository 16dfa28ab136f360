// Package kube reads a container's Kubernetes identity from the annotations
// the CRI engines put into its OCI config: which pod (namespace, name, uid)
// and which container of it, the pod's sandbox id, and whether the
// container is the pod's sandbox (pause) container. containerd's CRI plugin
// and CRI-O use different keys; both are read, CRI-O's first.
//
// The values come from the pod spec, so from pod authors: each is bounded
// and must be printable without spaces, or it is left out.
package kube

import (
	"unicode"
	"unicode/utf8"
)

// Annotation keys of containerd's CRI plugin (pkg/cri/annotations).
const (
	CtrdContainerType = "io.kubernetes.cri.container-type" // "sandbox" or "container"
	CtrdSandboxID     = "io.kubernetes.cri.sandbox-id"
	CtrdPodNamespace  = "io.kubernetes.cri.sandbox-namespace"
	CtrdPodName       = "io.kubernetes.cri.sandbox-name"
	CtrdPodUID        = "io.kubernetes.cri.sandbox-uid"
	CtrdContainerName = "io.kubernetes.cri.container-name"
)

// Annotation keys of CRI-O (internal/annotations and the kubelet's
// io.kubernetes.* labels, which CRI-O copies into the spec).
const (
	CrioContainerType = "io.kubernetes.cri-o.ContainerType" // "sandbox" or "container"
	CrioSandboxID     = "io.kubernetes.cri-o.SandboxID"
	CrioPodNamespace  = "io.kubernetes.pod.namespace"
	CrioPodName       = "io.kubernetes.pod.name"
	CrioPodUID        = "io.kubernetes.pod.uid"
	CrioContainerName = "io.kubernetes.container.name"
)

// The value both engines give the container type of a sandbox.
const TypeSandbox = "sandbox"

// Engines, as Identity.Engine names them.
const (
	Containerd = "containerd"
	CRIO       = "cri-o"
)

// MaxValue bounds each identity value: Kubernetes names are at most 253
// bytes (DNS subdomains), uids 36.
const MaxValue = 253

// Identity is who a container is in Kubernetes.
type Identity struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	PodUID    string `json:"pod_uid,omitempty"`
	// Container is the container's name in the pod spec; empty for the
	// sandbox (CRI-O calls it "POD").
	Container string `json:"container,omitempty"`
	SandboxID string `json:"sandbox_id,omitempty"`
	Sandbox   bool   `json:"sandbox,omitempty"`
	Engine    string `json:"engine"`
}

type keySet struct {
	engine, typ, sandboxID, ns, pod, uid, ctr string
}

// engines in the order their keys are believed. CRI-O first: CRI-O copies
// every pod annotation into every container's config (and sets its own
// keys over them), so containerd's keys there may be a pod author's, who
// would claim another pod's sandbox id (joining its io.imans.scope=pod
// namespace) or name (forging its evidence); containerd passes a
// container only the pod annotations its pod_annotations allow (io.imans.*,
// as configure sets it), so CRI-O's keys never reach it from a pod.
var engines = []keySet{
	{CRIO, CrioContainerType, CrioSandboxID, CrioPodNamespace, CrioPodName, CrioPodUID, CrioContainerName},
	{Containerd, CtrdContainerType, CtrdSandboxID, CtrdPodNamespace, CtrdPodName, CtrdPodUID, CtrdContainerName},
}

// FromAnnotations returns the identity the annotations carry, or nil when
// they name no pod (not a CRI container, or a pod name or namespace that is
// missing or not a clean value). A container type alone (a sandbox without
// names) still counts: IsSandbox needs it.
func FromAnnotations(ann map[string]string) *Identity {
	for _, k := range engines {
		typ, hasType := ann[k.typ]
		ns, pod := clean(ann[k.ns]), clean(ann[k.pod])
		if !hasType && (ns == "" || pod == "") {
			continue
		}
		id := &Identity{
			Engine:    k.engine,
			Namespace: ns,
			Pod:       pod,
			PodUID:    clean(ann[k.uid]),
			SandboxID: clean(ann[k.sandboxID]),
			Sandbox:   typ == TypeSandbox,
		}
		if !id.Sandbox {
			id.Container = clean(ann[k.ctr])
		}
		return id
	}
	return nil
}

// IsSandbox reports whether the annotations mark the pod's sandbox (pause)
// container, by the key of the engine whose keys are believed (engines).
func IsSandbox(ann map[string]string) bool {
	for _, k := range engines {
		if typ, ok := ann[k.typ]; ok {
			return typ == TypeSandbox
		}
	}
	return false
}

// PodName is NAMESPACE/POD, or "" when either is unknown.
func (id *Identity) PodName() string {
	if id == nil || id.Namespace == "" || id.Pod == "" {
		return ""
	}
	return id.Namespace + "/" + id.Pod
}

// String names the container for log lines: pod=NS/POD container=NAME (or
// sandbox), and the pod uid when known.
func (id *Identity) String() string {
	if id == nil {
		return ""
	}
	s := "pod=" + orUnknown(id.PodName())
	switch {
	case id.Sandbox:
		s += " container=(sandbox)"
	case id.Container != "":
		s += " container=" + id.Container
	}
	if id.PodUID != "" {
		s += " pod_uid=" + id.PodUID
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// clean returns v when it is a usable identity value: at most MaxValue
// bytes of valid UTF-8, printable, no white space and no slash (so log
// lines and NAMESPACE/POD stay unambiguous; Kubernetes names have
// neither); otherwise "".
func clean(v string) string {
	if v == "" || len(v) > MaxValue || !utf8.ValidString(v) {
		return ""
	}
	for _, r := range v {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '/' {
			return ""
		}
	}
	return v
}
