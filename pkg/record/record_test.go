package record

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

func TestLiveAndArchive(t *testing.T) {
	dir := t.TempDir()
	s := Store{RunDir: filepath.Join(dir, "run"), ArchiveDir: filepath.Join(dir, "lib")}
	r := Record{ContainerID: "c1", NS: 4026532329, Result: "applied", AggregateIndex: -1}
	if err := s.WriteLive(r); err != nil {
		t.Fatal(err)
	}
	got, live, err := s.ReadAny("c1")
	if err != nil || !live || got.NS != r.NS {
		t.Fatalf("%+v %v %v", got, live, err)
	}
	if err := s.Archive(got, strings.NewReader("10 abc ima-ns sha1:00 ns_aggregate_4026532329 e90100f0\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadLive("c1"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("live record left: %v", err)
	}
	got, live, err = s.ReadAny("c1")
	if err != nil || live || got.Result != "applied" {
		t.Fatalf("%+v %v %v", got, live, err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.ArchiveDirOf("c1"), "ascii_runtime_measurements")); !strings.Contains(string(b), "ns_aggregate_4026532329") {
		t.Fatalf("view %q", b)
	}
	if err := s.WriteLive(Record{ContainerID: "../evil"}); err == nil {
		t.Fatal("unsafe id written")
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
