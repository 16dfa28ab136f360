package hook

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/ns/nstest"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// listKernel is a kernel that poststop reads from the host: it runs in the
// host's namespace and its list holds what the test put there.
type listKernel struct{ nstest.Kernel }

// addLife appends a namespace's life to the host list: its aggregate and n
// entries; it returns the list length before it (the wrapper's note).
func (k *listKernel) addLife(t *testing.T, id imansid.ID, n int) int64 {
	t.Helper()
	before := int64(len(k.entries(t)))
	agg, err := measure.NewNSAggregate(id, "ima-ns")
	if err != nil {
		t.Fatal(err)
	}
	k.List = measure.AppendBinary(k.List, agg, measure.WriteOptions{})
	for i := 0; i < n; i++ {
		e, err := measure.NewNSEntry(10, "sha256", bytes.Repeat([]byte{byte(i + 1)}, 32), "/bin/app", id)
		if err != nil {
			t.Fatal(err)
		}
		k.List = measure.AppendBinary(k.List, e, measure.WriteOptions{})
	}
	return before
}

func (k *listKernel) entries(t *testing.T) []*measure.Entry {
	t.Helper()
	r := measure.NewBinaryReader(bytes.NewReader(k.List), measure.ReadOptions{})
	var es []*measure.Entry
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return es
		}
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
}

func newListHook(t *testing.T) (*Hook, *listKernel, string) {
	t.Helper()
	k := &listKernel{}
	h := fakeHook(t, k)
	h.Now = func() time.Time { return time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC) }
	return h, k, filepath.Join(h.Admin.RunDir, "ima-hook.log")
}

// Two containers with one id, one after the other (and one namespace id,
// as the kernel reuses it): each life keeps its own archive and view.
func TestPoststopArchivesEveryLifeOfAnID(t *testing.T) {
	h, k, _ := newListHook(t)
	const nsid = 4026532329
	for i, entries := range []int{2, 5} {
		start := k.addLife(t, nsid, entries)
		rec := record.Record{ContainerID: "c1", Life: record.NewLife(h.Now()), NS: nsid, Result: "applied", AggregateIndex: -1,
			ListStart: &start, Time: h.Now().Add(time.Duration(i) * time.Minute)}
		if err := h.Store.WriteLive(rec); err != nil {
			t.Fatal(err)
		}
		if err := h.Store.PrepareNotes("c1"); err != nil {
			t.Fatal(err)
		}
		if err := h.Store.WriteNSIDNote("c1", nsid); err != nil {
			t.Fatal(err)
		}
		if err := h.Poststop(&specs.State{ID: "c1", Status: "stopped"}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Store.ReadLive("c1"); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("life %d: live record left: %v", i, err)
		}
		if _, ok, _ := h.Store.ReadNSIDNote("c1"); ok {
			t.Fatalf("life %d: the wrapper's note was left", i)
		}
	}
	lives, err := h.Store.Lives("c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(lives) != 2 {
		t.Fatalf("want both lives archived, got %d: %+v", len(lives), lives)
	}
	for i, want := range []int{2, 5} {
		view, err := os.ReadFile(lives[i].ViewPath())
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(view)), "\n")
		if len(lines) != want+1 || !strings.Contains(lines[0], measure.NSAggregateName(nsid)) || lives[i].Archived != "poststop" || lives[i].Stopped.IsZero() {
			t.Fatalf("life %d: %+v, view %q", i, lives[i].Record, view)
		}
	}
	if lives[0].AggregateIndex != 0 || lives[1].AggregateIndex != 3 {
		t.Fatalf("aggregate indexes %d, %d", lives[0].AggregateIndex, lives[1].AggregateIndex)
	}
}

// When the archive cannot be written, the live record stays, the error says
// so, and nothing claims it was archived.
func TestPoststopKeepsTheLiveRecordWhenTheArchiveFails(t *testing.T) {
	h, k, logPath := newListHook(t)
	start := k.addLife(t, 4026532329, 3)
	rec := record.Record{ContainerID: "c1", Life: "life-1", NS: 4026532329, Result: "applied", AggregateIndex: -1, ListStart: &start, Time: h.Now()}
	if err := h.Store.WriteLive(rec); err != nil {
		t.Fatal(err)
	}
	// The archive directory cannot be created: its parent is a file.
	if err := os.WriteFile(h.Store.ArchiveDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := h.Poststop(&specs.State{ID: "c1", Status: "stopped"})
	if err == nil {
		t.Fatal("poststop reported success without an archive")
	}
	line := userror.Line(err)
	if !strings.Contains(line, "cannot archive") || !strings.Contains(line, "kept") {
		t.Fatalf("error does not say the record is kept: %s", line)
	}
	got, err := h.Store.ReadLive("c1")
	if err != nil || got.Life != "life-1" {
		t.Fatalf("live record gone: %+v %v", got, err)
	}
	log, _ := os.ReadFile(logPath)
	if strings.Contains(string(log), "poststop: archived") {
		t.Fatalf("the log claims an archive that failed:\n%s", log)
	}
	// The next container with the id archives the kept record first.
	if err := os.Remove(h.Store.ArchiveDir); err != nil {
		t.Fatal(err)
	}
	if err := h.Store.WriteLive(record.Record{ContainerID: "c1", Life: "life-2", Time: h.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	lives, err := h.Store.Lives("c1")
	if err != nil || len(lives) != 2 || lives[0].Life != "life-1" || lives[0].Archived != record.LeftBehind || lives[1].Life != "life-2" {
		t.Fatalf("lives %+v %v", lives, err)
	}
}

// The success line is logged only after the archive is on disk, and names it.
func TestPoststopLogsTheArchive(t *testing.T) {
	h, k, logPath := newListHook(t)
	start := k.addLife(t, 7, 1)
	if err := h.Store.WriteLive(record.Record{ContainerID: "c1", NS: 7, Result: "applied", AggregateIndex: -1, ListStart: &start, Time: h.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := h.Poststop(&specs.State{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	lives, err := h.Store.Lives("c1")
	if err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(logPath)
	if !strings.Contains(string(log), "poststop: archived the record and 2 measurements of namespace 7 in "+lives[0].Dir) {
		t.Fatalf("log:\n%s", log)
	}
}
