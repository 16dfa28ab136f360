package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/pkg/kube"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/nstest"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// podSettings makes the harness's IMA containers members of pod sandbox
// "sb" with io.imans.scope=pod.
func podSettings(h *harness) {
	resolve := h.w.Resolve
	h.w.Resolve = func(a map[string]string) (*Settings, error) {
		s, err := resolve(a)
		if s != nil {
			s.Pod = "sb"
		}
		return s, err
	}
}

// podOwner writes the hook's live record of container id of pod sandbox
// "sb", applied in namespace 7.
func podOwner(t *testing.T, s record.Store, id string, at time.Time) {
	t.Helper()
	r := record.Record{ContainerID: id, NS: 7, Result: "applied", Time: at, Kubernetes: &kube.Identity{SandboxID: "sb", Container: id}}
	if err := s.WriteLive(r); err != nil {
		t.Fatal(err)
	}
}

// io.imans.scope=pod: a container of a pod is born in the namespace of the
// first of the pod's recorded containers that runs; when none runs it
// creates the namespace itself.
func TestCreateJoinsThePodNamespace(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	podSettings(h)
	now := time.Now()
	podOwner(t, h.w.Store, "gone", now.Add(-time.Minute))
	podOwner(t, h.w.Store, "running", now)
	h.run("--root /r create --bundle BUNDLE --pid-file /p ctr2")
	if h.k.Spawned != nil || h.k.Joined != 4242 ||
		!reflect.DeepEqual(h.k.Join.Argv, []string{"/usr/sbin/runc", "--root", "/r", "create", "--bundle", h.bundle, "--pid-file", "/p", "ctr2"}) {
		t.Fatalf("spawned %v, joined %d argv %q; stderr %q", h.k.Spawned, h.k.Joined, h.k.Join.Argv, h.stderr.String())
	}

	h = newHarness(t, map[string]string{"io.imans.enable": "true"})
	podSettings(h)
	podOwner(t, h.w.Store, "gone", now) // none runs
	h.run("--root /r create --bundle BUNDLE ctr3")
	if h.k.Spawned == nil || h.k.Joined != 0 {
		t.Fatalf("first container of the pod: spawned %v joined %d", h.k.Spawned, h.k.Joined)
	}
	if _, err := os.Lstat(h.w.Store.PodNotePath("ctr3")); err != nil {
		t.Errorf("the creator of the pod's namespace has no pod note: %v", err)
	}
}

// A container started in its pod's namespace (it created nothing, so it has
// no nsid note) is noted by the wrapper all the same: an exec into it while
// the runtime's state cannot be read is refused in one line, never passed
// through into the host's namespace, even with no hook record to go by
// (the hook did not run, or its record is unreadable).
func TestExecIntoJoinedContainerStateFails(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	podSettings(h)
	podOwner(t, h.w.Store, "running", time.Now())
	h.run("--root /r create --bundle BUNDLE joiner")
	if h.k.Joined != 4242 || h.k.Spawned != nil {
		t.Fatalf("create: joined %d spawned %v; stderr %q", h.k.Joined, h.k.Spawned, h.stderr.String())
	}
	if owner, ok := h.w.Store.ReadJoinedNote("joiner"); !ok || owner != "running" {
		t.Errorf("join note: %q %v", owner, ok)
	}
	h.k.Joined = 0
	h.stderr.Reset()
	h.w.State = func(string, []string, string, []string) (*specs.State, error) {
		return nil, errors.New("runc state joiner: simulated failure")
	}
	h.expectRefused(t, h.run("exec joiner sh"), "ima-hook: ima-runtime exec: container joiner has an IMA namespace (the wrapper started it in the pod's namespace of running")

	// delete removes the join note with the others (once the wrapper that
	// noted them has ended).
	deadOwner(t, h.w.Store, "joiner")
	h.stderr.Reset()
	if st := h.run("delete joiner"); st != 0 || h.w.Store.HasNotes("joiner") {
		t.Errorf("delete: status %d, notes left %v; stderr %q", st, h.w.Store.HasNotes("joiner"), h.stderr.String())
	}
}

// podKernel plays the kernel, the runtime and the hook for parallel starts
// of one pod's containers: a spawned container's hook records it applied
// after a while (the runtime's create), a joined one is noted; the state
// of every started container reads running.
type podKernel struct {
	nstest.Kernel
	mu      sync.Mutex
	store   record.Store
	spawned []string
	joined  map[string]int // id -> the pid joined
	pids    map[string]int
}

func (k *podKernel) started(id string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pids == nil {
		k.pids = map[string]int{}
	}
	k.pids[id] = 1000 + len(k.pids)
	return k.pids[id]
}

func (k *podKernel) Spawn(req ns.SpawnRequest) error {
	id := req.Argv[len(req.Argv)-1]
	k.started(id)
	k.mu.Lock()
	k.spawned = append(k.spawned, id)
	k.mu.Unlock()
	time.Sleep(200 * time.Millisecond) // runc create, then the hook
	r := record.Record{ContainerID: id, NS: 7, Result: "applied", Time: time.Now(), Kubernetes: &kube.Identity{SandboxID: "sb"}}
	if err := k.store.WriteLive(r); err != nil {
		return err
	}
	return nstest.ErrReplaced
}

func (k *podKernel) JoinAndExec(pid int, req ns.ExecRequest) error {
	id := req.Argv[len(req.Argv)-1]
	k.started(id)
	k.mu.Lock()
	if k.joined == nil {
		k.joined = map[string]int{}
	}
	k.joined[id] = pid
	k.mu.Unlock()
	return nstest.ErrReplaced
}

func (k *podKernel) state(_ string, _ []string, id string, _ []string) (*specs.State, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if pid, ok := k.pids[id]; ok {
		return &specs.State{ID: id, Pid: pid, Status: "running"}, nil
	}
	return nil, errors.New("container does not exist")
}

// Containers of one pod with io.imans.scope=pod started all at once (not
// one at a time, as kubelet does): exactly one creates the pod's namespace,
// the others wait for it and join it.
func TestParallelPodStartsShareOneNamespace(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	k := &podKernel{store: h.w.Store}
	const n = 6
	var logMu sync.Mutex
	var logs []string
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		w := *h.w
		w.Kernel = k
		w.State = k.state
		w.Stderr = io.Discard
		w.Log = func(id, f string, a ...any) {
			logMu.Lock()
			logs = append(logs, id+": "+fmt.Sprintf(f, a...))
			logMu.Unlock()
		}
		w.Resolve = func(map[string]string) (*Settings, error) { return &Settings{Required: true, Pod: "sb"}, nil }
		w.Exec = func(string, []string, []string) error { t.Error("passed through"); return nstest.ErrReplaced }
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w.Run([]string{"create", "--bundle", h.bundle, fmt.Sprintf("c%d", i)})
		}(i)
	}
	wg.Wait()
	if len(k.spawned) != 1 || len(k.joined) != n-1 {
		t.Fatalf("%d containers created a namespace (%v), %d joined (%v); want 1 and %d; log:\n%s", len(k.spawned), k.spawned, len(k.joined), k.joined, n-1, strings.Join(logs, "\n"))
	}
	creator := k.pids[k.spawned[0]]
	for id, pid := range k.joined {
		if pid != creator {
			t.Errorf("%s joined pid %d, not the creator %s's %d", id, pid, k.spawned[0], creator)
		}
		if owner, ok := h.w.Store.ReadJoinedNote(id); !ok || owner != k.spawned[0] {
			t.Errorf("%s: join note %q %v", id, owner, ok)
		}
	}
}

// The pod's namespace still being created when the wait ends: refused in
// one line, never a second namespace.
func TestPodStartWaitsBoundedForTheCreator(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	podSettings(h)
	h.w.PodWait = 300 * time.Millisecond
	// A creator in progress: its wrapper (this process) runs, its hook has
	// not recorded it yet.
	if err := h.w.Store.NoteOwner("creator", os.Getpid(), "/usr/sbin/runc", nil); err != nil {
		t.Fatal(err)
	}
	if err := h.w.Store.WritePodNote("creator", "sb"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	st := h.run("create --bundle BUNDLE second")
	if st != 1 || h.k.Spawned != nil || h.k.Joined != 0 || !strings.Contains(h.stderr.String(), "container creator was still creating the pod's IMA namespace (io.imans.scope=pod) after 300ms") {
		t.Fatalf("status %d spawned %v joined %d stderr %q", st, h.k.Spawned, h.k.Joined, h.stderr.String())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("waited %s", d)
	}
}

// Joins that must land in a container's namespace ask the kernel seam to
// refuse a process in the wrapper's own (a reused pid): exec into a
// container the wrapper's notes or the hook's record give a namespace,
// every exec under mandatory = true, and the start of a container in its
// pod's namespace; an exec into a container that only asks for optional
// IMA (it may run in the host's namespace) does not.
func TestJoinsRefuseTheWrappersOwnNamespace(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	h.noteNS(t, "running")
	h.run("exec running sh")
	if h.k.Joined != 4242 || !h.k.Join.RefuseOwn {
		t.Errorf("noted exec: joined %d refuse-own %v", h.k.Joined, h.k.Join.RefuseOwn)
	}

	h = newHarness(t, map[string]string{"io.imans.enable": "true", "io.imans.required": "false"})
	h.run("exec running sh")
	if h.k.Joined != 4242 || h.k.Join.RefuseOwn {
		t.Errorf("annotations only: joined %d refuse-own %v", h.k.Joined, h.k.Join.RefuseOwn)
	}
	h = newHarness(t, nil)
	h.w.Mandatory = true
	h.run("exec running sh")
	if h.k.Joined != 4242 || !h.k.Join.RefuseOwn {
		t.Errorf("mandatory: joined %d refuse-own %v", h.k.Joined, h.k.Join.RefuseOwn)
	}

	h = newHarness(t, map[string]string{"io.imans.enable": "true"})
	podSettings(h)
	podOwner(t, h.w.Store, "running", time.Now())
	h.run("create --bundle BUNDLE joiner")
	if h.k.Joined != 4242 || !h.k.Join.RefuseOwn {
		t.Errorf("pod join: joined %d refuse-own %v", h.k.Joined, h.k.Join.RefuseOwn)
	}
}
