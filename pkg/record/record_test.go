package record

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

func TestValidID(t *testing.T) {
	for _, id := range []string{"c1", "abc-DEF_1.2", strings.Repeat("a", 256), "0"} {
		if err := ValidID(id); err != nil {
			t.Errorf("%q refused: %v", id, err)
		}
	}
	for _, id := range []string{"", ".hidden", "-x", "a/b", "../x", "a b", "a\nb", strings.Repeat("a", 257), "ä"} {
		if ValidID(id) == nil {
			t.Errorf("%q accepted", id)
		}
	}
}

func testStore(t *testing.T) Store {
	dir := t.TempDir()
	return Store{RunDir: filepath.Join(dir, "run"), ArchiveDir: filepath.Join(dir, "lib")}
}

var t0 = time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)

func TestLiveAndArchive(t *testing.T) {
	s := testStore(t)
	r := Record{ContainerID: "c1", NS: 4026532329, Result: "applied", AggregateIndex: -1, Time: t0}
	if err := s.WriteLive(r); err != nil {
		t.Fatal(err)
	}
	got, live, err := s.ReadAny("c1")
	if err != nil || !live || got.NS != r.NS || got.Life == "" {
		t.Fatalf("%+v %v %v", got, live, err)
	}
	dir, err := s.Archive(got, strings.NewReader("10 abc ima-ns sha1:00 ns_aggregate_4026532329 e90100f0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(s.ArchiveDirOf("c1"), got.Life) {
		t.Fatalf("archived in %s, want the life's own directory", dir)
	}
	// Archive leaves the live record to the caller.
	if _, err := s.ReadLive("c1"); err != nil {
		t.Fatalf("live record dropped by Archive: %v", err)
	}
	if err := s.RemoveLive("c1", got.Life); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadLive("c1"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("live record left: %v", err)
	}
	got, live, err = s.ReadAny("c1")
	if err != nil || live || got.Result != "applied" {
		t.Fatalf("%+v %v %v", got, live, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ViewFile)); !strings.Contains(string(b), "ns_aggregate_4026532329") {
		t.Fatalf("view %q", b)
	}
	if err := s.WriteLive(Record{ContainerID: "../evil"}); err == nil {
		t.Fatal("unsafe id written")
	}
	// Nothing half-written stays behind.
	left, _ := filepath.Glob(filepath.Join(s.ArchiveDirOf("c1"), ".tmp-*"))
	if len(left) > 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

// Two containers with one id, one after the other: each life keeps its own
// archive, the latest is read by default and the earlier one is listed.
func TestReusedIDKeepsEveryLife(t *testing.T) {
	s := testStore(t)
	var lifes []string
	for i, ns := range []imansid.ID{4026532329, 4026532400} {
		r := Record{ContainerID: "c1", Life: NewLife(t0.Add(time.Duration(i) * time.Minute)), NS: ns, Result: "applied", Time: t0.Add(time.Duration(i) * time.Minute)}
		lifes = append(lifes, r.Life)
		if err := s.WriteLive(r); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Archive(r, strings.NewReader("view of "+r.Life+"\n")); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveLive("c1", r.Life); err != nil {
			t.Fatal(err)
		}
	}
	lives, err := s.Lives("c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(lives) != 2 || lives[0].Life != lifes[0] || lives[1].Life != lifes[1] || lives[0].NS != 4026532329 || lives[1].NS != 4026532400 {
		t.Fatalf("lives %+v", lives)
	}
	for _, l := range lives {
		b, err := os.ReadFile(l.ViewPath())
		if err != nil || string(b) != "view of "+l.Life+"\n" {
			t.Fatalf("%s: view %q %v", l.Key, b, err)
		}
	}
	got, live, err := s.ReadAny("c1")
	if err != nil || live || got.NS != 4026532400 {
		t.Fatalf("latest: %+v %v %v", got, live, err)
	}
}

// A live record that no poststop archived is archived when the id is used
// again, never overwritten.
func TestWriteLiveArchivesLeftover(t *testing.T) {
	s := testStore(t)
	old := Record{ContainerID: "c1", Life: "old-life", NS: 1, Result: "applied", Time: t0}
	if err := s.WriteLive(old); err != nil {
		t.Fatal(err)
	}
	// The same life may rewrite its record.
	old.Measurement = 7
	if err := s.WriteLive(old); err != nil {
		t.Fatal(err)
	}
	if lives, _ := s.Lives("c1"); len(lives) != 1 {
		t.Fatalf("a rewrite of the same life archived something: %+v", lives)
	}
	next := Record{ContainerID: "c1", Life: "new-life", NS: 2, Result: "applied", Time: t0.Add(time.Hour)}
	if err := s.WriteLive(next); err != nil {
		t.Fatal(err)
	}
	lives, err := s.Lives("c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(lives) != 2 || lives[0].Live || lives[0].Life != "old-life" || lives[0].Measurement != 7 || lives[0].Archived != LeftBehind ||
		!lives[1].Live || lives[1].Life != "new-life" {
		t.Fatalf("lives %+v", lives)
	}
}

func TestWriteLiveKeepsLeftoverWhenArchiveFails(t *testing.T) {
	s := testStore(t)
	if err := s.WriteLive(Record{ContainerID: "c1", Life: "old-life", NS: 1, Time: t0}); err != nil {
		t.Fatal(err)
	}
	// The archive cannot be written: its directory is a file.
	if err := os.WriteFile(s.ArchiveDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := s.WriteLive(Record{ContainerID: "c1", Life: "new-life", NS: 2, Time: t0})
	if err == nil || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("want a refusal that says the old record is kept, got %v", err)
	}
	got, err := s.ReadLive("c1")
	if err != nil || got.Life != "old-life" || got.NS != 1 {
		t.Fatalf("the left-behind record was replaced: %+v %v", got, err)
	}
}

func TestWriteLiveKeepsUnreadableLeftover(t *testing.T) {
	s := testStore(t)
	if err := os.MkdirAll(s.RunDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.LivePath("c1"), []byte("{damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteLive(Record{ContainerID: "c1", Time: t0}); err == nil {
		t.Fatal("a damaged left-behind record was overwritten")
	}
	if b, _ := os.ReadFile(s.LivePath("c1")); string(b) != "{damaged" {
		t.Fatalf("record is now %q", b)
	}
}

// A failing archive leaves no archive directory (not even a partial one),
// and the same life archived twice gets a second directory.
func TestArchiveIsWholeAndNeverReplaces(t *testing.T) {
	s := testStore(t)
	r := Record{ContainerID: "c1", Life: "life-1", Time: t0}
	if _, err := s.Archive(r, io.MultiReader(strings.NewReader("partial"), failingReader{})); err == nil {
		t.Fatal("archive succeeded with a failing view")
	}
	if _, err := s.Lives("c1"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed archive left a life: %v", err)
	}
	ents, _ := os.ReadDir(s.ArchiveDirOf("c1"))
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
	d1, err := s.Archive(r, strings.NewReader("first\n"))
	if err != nil {
		t.Fatal(err)
	}
	d2, err := s.Archive(r, strings.NewReader("second\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d1 == d2 {
		t.Fatalf("both archived in %s", d1)
	}
	b1, _ := os.ReadFile(filepath.Join(d1, ViewFile))
	b2, _ := os.ReadFile(filepath.Join(d2, ViewFile))
	if string(b1) != "first\n" || string(b2) != "second\n" {
		t.Fatalf("views %q %q", b1, b2)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, syscall.ENOSPC }

// Archives written before lives existed (<archive>/<id>/record.json) are
// read as the oldest life and never touched.
func TestLegacyArchiveIsALife(t *testing.T) {
	s := testStore(t)
	legacy := Record{ContainerID: "c1", NS: 5, Result: "applied", Time: t0}
	if err := writeJSONAtomic(filepath.Join(s.ArchiveDirOf("c1"), RecordFile), legacy, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Archive(Record{ContainerID: "c1", NS: 6, Time: t0.Add(time.Hour)}, nil); err != nil {
		t.Fatal(err)
	}
	lives, err := s.Lives("c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(lives) != 2 || lives[0].Key != "legacy" || lives[0].NS != 5 || lives[0].ViewPath() != filepath.Join(s.ArchiveDirOf("c1"), ViewFile) || lives[1].NS != 6 {
		t.Fatalf("lives %+v", lives)
	}
}

func TestLivesNamesADamagedRecord(t *testing.T) {
	s := testStore(t)
	if _, err := s.Archive(Record{ContainerID: "c1", Life: "a", Time: t0}, nil); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(s.ArchiveDirOf("c1"), "b", RecordFile)
	if err := os.MkdirAll(filepath.Dir(bad), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lives("c1"); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("want an error naming %s, got %v", bad, err)
	}
}

func TestNewLifeIsUniqueAndSafe(t *testing.T) {
	a, b := NewLife(t0), NewLife(t0)
	if a == b || !safeName(a, 64) || !strings.HasPrefix(a, "20261202T060000.000000000Z-") {
		t.Fatalf("%q %q", a, b)
	}
}

func FuzzValidID(f *testing.F) {
	f.Add("c1")
	f.Add("../x")
	f.Fuzz(func(t *testing.T, id string) {
		if ValidID(id) == nil && (strings.ContainsAny(id, "/\x00\n") || id == "." || id == ".." || filepath.Base(id) != id) {
			t.Fatalf("unsafe id %q accepted", id)
		}
	})
}

// A live record is never written larger than its readers take back (the
// wrapper's exec decision and pod scope read every record with that
// bound): writing it fails instead, and the hook refuses the container.
func TestWriteLiveRefusesAnUnreadableSize(t *testing.T) {
	s := Store{RunDir: t.TempDir(), ArchiveDir: t.TempDir()}
	r := Record{ContainerID: "big", Time: time.Now(), Result: "applied", NS: 7}
	for i := 0; i < 6000; i++ {
		r.Warnings = append(r.Warnings, strings.Repeat("w", 200))
	}
	if err := s.WriteLive(r); err == nil || !strings.Contains(err.Error(), "more than the 1048576 its readers take") {
		t.Fatalf("WriteLive: %v", err)
	}
	if _, err := os.Lstat(s.LivePath("big")); !os.IsNotExist(err) {
		t.Fatalf("a record was left: %v", err)
	}
	r.Warnings = r.Warnings[:10]
	if err := s.WriteLive(r); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ReadLive("big"); err != nil || len(got.Warnings) != 10 {
		t.Fatalf("read back %d warnings: %v", len(got.Warnings), err)
	}
}
