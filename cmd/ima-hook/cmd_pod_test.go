package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ima-hook/ima-hook/pkg/kube"
	"github.com/ima-hook/ima-hook/pkg/measure/listgen"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// --pod NS/NAME [--container NAME]: the records' Kubernetes identity finds
// the namespace: the pod's shared one, or the named container's; a pod
// whose containers have their own needs --container.
func TestMeasurementsPod(t *testing.T) {
	lf := writeList(t, listgen.Spec{Entries: 1500, Namespaces: 3, Seed: 31})
	a, b, shared := lf.res.Namespaces[0], lf.res.Namespaces[1], lf.res.Namespaces[2]
	store := record.Store{RunDir: filepath.Join(lf.dir, "run"), ArchiveDir: filepath.Join(lf.dir, "lib")}
	dirs := []string{"--run-dir", store.RunDir, "--archive-dir", store.ArchiveDir}
	who := func(pod, uid, ctr string) *kube.Identity {
		return &kube.Identity{Namespace: "default", Pod: pod, PodUID: uid, Container: ctr, Engine: kube.Containerd}
	}
	t1 := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	// web: one namespace per container; db: scope=pod, both containers in
	// one namespace (the second joined it); the sandbox of web.
	must(t, store.WriteLive(record.Record{ContainerID: "ca", Kubernetes: who("web", "u1", "app"), NS: a.ID, AggregateIndex: a.AggregateIndex, Result: "applied", Time: t1}))
	must(t, store.WriteLive(record.Record{ContainerID: "cb", Kubernetes: who("web", "u1", "side"), NS: b.ID, AggregateIndex: b.AggregateIndex, Result: "applied", Time: t1.Add(time.Second)}))
	must(t, store.WriteLive(record.Record{ContainerID: "sb", Kubernetes: &kube.Identity{Namespace: "default", Pod: "web", PodUID: "u1", Sandbox: true}, Result: "applied", Time: t1}))
	must(t, store.WriteLive(record.Record{ContainerID: "d1", Kubernetes: who("db", "u2", "main"), NS: shared.ID, AggregateIndex: shared.AggregateIndex, Result: "applied", Time: t1}))
	must(t, store.WriteLive(record.Record{ContainerID: "d2", Kubernetes: who("db", "u2", "backup"), NS: shared.ID, AggregateIndex: shared.AggregateIndex, Result: "applied", Time: t1.Add(time.Second)}))
	// Refused by the hook (another policy): no part of the pod's view.
	must(t, store.WriteLive(record.Record{ContainerID: "d3", Kubernetes: who("db", "u2", "odd"), NS: shared.ID, Result: "failed: io.imans.policy: ...", Time: t1.Add(2 * time.Second)}))

	for _, c := range []struct {
		args []string
		ns   listgen.NS
		says string
	}{
		{[]string{"--pod", "default/web", "--container", "app"}, a, "container app, container id ca (live, pod uid u1)"},
		{[]string{"--pod", "default/web", "--container", "side"}, b, "container side, container id cb"},
		{[]string{"--pod", "default/db"}, shared, "the pod's shared namespace (containers main, backup), container id d1"},
		{[]string{"--pod", "default/db", "--container", "backup"}, shared, "container backup, container id d2"},
	} {
		code, out, errs := run(append(append([]string{"--file", lf.bin}, c.args...), dirs...)...)
		if code != 0 || strings.Count(out, "\n") != c.ns.Entries || !strings.Contains(errs, c.says) {
			t.Errorf("%v: code %d, %d lines (want %d), stderr %q", c.args, code, strings.Count(out, "\n"), c.ns.Entries, errs)
		}
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--pod", "default/web"}, "ima-hook: --pod default/web: the pod's 2 containers (app, side) have IMA namespaces of their own; pick one with --container NAME"},
		{[]string{"--pod", "default/web", "--container", "nope"}, `no record of a container "nope" in this pod`},
		{[]string{"--pod", "default/none"}, "ima-hook: --pod default/none: no record of this pod in "},
		{[]string{"--pod", "web"}, "ima-hook: --pod web: not NAMESPACE/NAME"},
		{[]string{"--pod", "default/web", "--ns", "5"}, "given together with --ns"},
	} {
		code, _, errs := run(append(append([]string{"--file", lf.bin}, c.args...), dirs...)...)
		if code != 2 || !strings.Contains(errs, c.says) || strings.Count(errs, "ima-hook: ") != 1 {
			t.Errorf("%v: code %d, stderr %q, want one line with %q", c.args, code, errs, c.says)
		}
	}
}
