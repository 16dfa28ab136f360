package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ima-hook/ima-hook/pkg/kube"
	"github.com/ima-hook/ima-hook/pkg/record"
)

func TestList(t *testing.T) {
	dir := t.TempDir()
	store := record.Store{RunDir: filepath.Join(dir, "run"), ArchiveDir: filepath.Join(dir, "lib")}
	dirs := []string{"--run-dir", store.RunDir, "--archive-dir", store.ArchiveDir}
	t1 := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	long := strings.Repeat("ab", 32)
	pod := &kube.Identity{Namespace: "default", Pod: "web", PodUID: "u1", Container: "app", Engine: kube.Containerd}
	must(t, store.WriteLive(record.Record{ContainerID: long, Kubernetes: pod, NS: 4026532330, Result: "applied", Measurement: 12, Violations: 1, Time: t1.Add(time.Minute)}))
	_, err := store.Archive(record.Record{ContainerID: "web-1", Names: []string{"web"}, NS: 4026532329, Result: "applied", Measurement: 40, Time: t1,
		Stopped: t1.Add(time.Second)}, nil)
	must(t, err)
	must(t, store.WriteLive(record.Record{ContainerID: "opt", Result: "skipped: no IMA namespaces", Time: t1.Add(2 * time.Minute)}))

	var out, errb bytes.Buffer
	if code := listMain(dirs, &out, &errb); code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := [][]string{
		{"CONTAINER", "STATE", "POD", "CONTAINER", "NAME", "IMA", "NS", "RESULT", "MEASUREMENTS", "VIOLATIONS"},
		{"web-1", "stopped", "-", "web", "4026532329", "applied", "40", "0"},
		{long[:12], "live", "default/web", "app", "4026532330", "applied", "12", "1"},
		{"opt", "live", "-", "-", "-", "skipped:", "no", "IMA", "namespaces", "0", "0"},
	}
	if len(lines) != len(want) {
		t.Fatalf("lines %q", lines)
	}
	for i, w := range want {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("line %d: %q, want %q", i, got, w)
		}
	}

	out.Reset()
	if code := listMain(append([]string{"--json"}, dirs...), &out, &errb); code != 0 {
		t.Fatalf("--json code %d: %s", code, errb.String())
	}
	var es []listEntry
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e listEntry
		must(t, json.Unmarshal([]byte(l), &e))
		es = append(es, e)
	}
	if len(es) != 3 || es[1].ContainerID != long || es[1].Kubernetes == nil || es[1].Kubernetes.PodName() != "default/web" ||
		es[1].Measurements != 12 || es[1].Violations != 1 || es[0].State != "stopped" || es[2].State != "live" {
		t.Fatalf("json: %+v", es)
	}

	errb.Reset()
	if code := listMain([]string{"extra"}, &out, &errb); code != 2 || !strings.HasPrefix(errb.String(), "ima-hook: list: unexpected argument") {
		t.Fatalf("argument: %d %q", code, errb.String())
	}
}
