package record

import (
	"slices"
	"unicode"
	"unicode/utf8"
)

// Engines that name containers write the name into the bundle's
// annotations under their own keys. Podman writes none (checked with podman
// 4.3: only io.podman.annotations.* flags), nor does Docker (checked with
// dockerd 20.10: no annotations at all): their containers are found by id
// or id prefix (the 12-character short id `podman ps` and `docker ps` show).
var engineNameKeys = []string{
	"nerdctl/name",                      // nerdctl (containerd)
	"io.kubernetes.cri.container-name",  // containerd's CRI plugin
	"io.kubernetes.container.name",      // CRI-O
	"io.kubernetes.cri-o.ContainerName", // CRI-O: k8s_<container>_<pod>_<namespace>_<uid>_<attempt>
}

// Kubernetes names a container by namespace, pod and container name; each
// CRI engine has its own keys for the three.
var podNameKeys = [][3]string{
	{"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.cri.sandbox-name", "io.kubernetes.cri.container-name"}, // containerd
	{"io.kubernetes.pod.namespace", "io.kubernetes.pod.name", "io.kubernetes.container.name"},                     // CRI-O
}

// maxNameLen bounds a recorded name: annotations may come from pod authors.
const maxNameLen = 253

// EngineNames returns the names the engine recorded for a container in its
// annotations, and <namespace>/<pod>/<container> for Kubernetes
// containers; names that are empty, too long or not printable are left out.
func EngineNames(ann map[string]string) []string {
	var names []string
	add := func(n string) {
		if printableName(n) && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, k := range engineNameKeys {
		add(ann[k])
	}
	for _, keys := range podNameKeys {
		ns, pod, ctr := ann[keys[0]], ann[keys[1]], ann[keys[2]]
		if ns != "" && pod != "" && ctr != "" {
			add(ns + "/" + pod + "/" + ctr)
		}
	}
	return names
}

func printableName(s string) bool {
	if s == "" || len(s) > maxNameLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}
