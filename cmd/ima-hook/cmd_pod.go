package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// resolvePod turns --pod NAMESPACE/NAME [--container NAME] into the
// --container id whose IMA namespace holds the view asked for: the pod's
// one namespace (io.imans.scope=pod, or a pod with one app container), or
// the named container's. A pod whose containers have namespaces of their
// own needs --container; the error lists them.
func resolvePod(f *measurementsFlags, stderr io.Writer) error {
	subject := "--pod " + f.pod
	if f.nsID != "" {
		return userror.New(subject, "given together with --ns", "use one of them")
	}
	if f.life != "" {
		return userror.New("--life", "given with --pod (a pod's containers have one life each)", "select by --pod and --container")
	}
	ns, name, ok := strings.Cut(f.pod, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return userror.New(subject, "not NAMESPACE/NAME", "give the pod's namespace and name, e.g. --pod default/web")
	}
	store, err := recordStore(*f)
	if err != nil {
		return err
	}
	lives, err := store.PodLives(ns, name, f.container)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		what := "no record of this pod"
		if f.container != "" {
			what = "no record of a container " + userror.Quote(f.container) + " in this pod"
		}
		return userror.Wrap(err, subject, what+" in "+store.RunDir+" or "+store.ArchiveDir,
			"check the names (kubectl get pod -n NAMESPACE) and --config, or --run-dir/--archive-dir; only pods that asked for IMA have records")
	case err != nil:
		return userror.Wrapf(err, subject, "check the record files", "")
	}
	// Containers the hook refused never ran: they are no part of the view
	// while any container of the pod has one.
	var applied []record.Life
	for _, l := range lives {
		if l.Result == "applied" {
			applied = append(applied, l)
		}
	}
	if len(applied) > 0 {
		lives = applied
	}
	// The containers sharing the first one's namespace are one view.
	first := lives[0]
	var apart []string
	for _, l := range lives[1:] {
		if l.NS != first.NS || l.NS == 0 {
			apart = append(apart, l.Kubernetes.Container)
		}
	}
	if len(apart) > 0 {
		var names []string
		for _, l := range lives {
			names = append(names, l.Kubernetes.Container)
		}
		return userror.New(subject, fmt.Sprintf("the pod's %d containers (%s) have IMA namespaces of their own", len(lives), strings.Join(names, ", ")),
			"pick one with --container NAME (or run the pod with io.imans.scope=pod for one view)")
	}
	what := "container " + userror.Text(first.Kubernetes.Container)
	if len(lives) > 1 {
		what = fmt.Sprintf("the pod's shared namespace (containers %s", userror.Text(first.Kubernetes.Container))
		for _, l := range lives[1:] {
			what += ", " + userror.Text(l.Kubernetes.Container)
		}
		what += ")"
	}
	state := "stopped"
	if first.Live {
		state = "live"
	}
	fmt.Fprintf(stderr, "ima-hook: measurements: %s: %s, container id %s (%s, pod uid %s)\n", subject, what, first.ContainerID, state, userror.Text(first.Kubernetes.PodUID))
	f.container, f.pod = first.ContainerID, ""
	return nil
}
