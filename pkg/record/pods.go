package record

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// PodLives returns the app containers of Kubernetes pod namespace/name, the
// latest life of each, oldest first, as their records name them
// (Record.Kubernetes). A pod deleted and created again under its name is a
// new pod with a new uid: only the containers of the latest such pod (by
// creation time) are returned. container, when not "", keeps only the
// container of that name. Sandbox records are never returned. No match
// wraps fs.ErrNotExist.
func (s Store) PodLives(namespace, name, container string) ([]Life, error) {
	ids, err := s.IDs()
	if err != nil {
		return nil, err
	}
	var found []Life
	for _, id := range ids {
		lives, err := s.Lives(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue // gone meanwhile
		}
		if err != nil {
			return nil, err
		}
		l := lives[len(lives)-1]
		k := l.Kubernetes
		if k == nil || k.Sandbox || k.Namespace != namespace || k.Pod != name {
			continue
		}
		l.ContainerID = id
		found = append(found, l)
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no record of pod %s/%s in %s or %s: %w", namespace, name, s.RunDir, s.ArchiveDir, fs.ErrNotExist)
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].Time.Before(found[j].Time) })
	// The latest pod with this name: the uid of the newest container.
	uid := found[len(found)-1].Kubernetes.PodUID
	var out []Life
	for _, l := range found {
		if l.Kubernetes.PodUID == uid && (container == "" || l.Kubernetes.Container == container) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("pod %s/%s has no container %q in %s or %s: %w", namespace, name, container, s.RunDir, s.ArchiveDir, fs.ErrNotExist)
	}
	return out, nil
}

// PodNamespaceOwners returns the live records of the app containers of the
// pod with sandbox id sandboxID that have an applied IMA namespace, oldest
// first: with io.imans.scope=pod, a new container of the pod joins their
// namespace (the wrapper) and the hook checks it against them.
func (s Store) PodNamespaceOwners(sandboxID string) ([]Record, error) {
	if sandboxID == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(s.RunDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() || ValidID(id) != nil {
			continue
		}
		r, err := s.ReadLive(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue // archived meanwhile
		}
		if err != nil {
			return nil, err
		}
		k := r.Kubernetes
		if k == nil || k.Sandbox || k.SandboxID != sandboxID || r.NS == 0 || r.Result != "applied" {
			continue
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}
