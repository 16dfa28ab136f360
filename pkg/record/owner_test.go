package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// deadProc notes a process at path, then ends it.
func deadProc(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := WriteProcNote(path, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	cmd.Wait()
}

// deadOwner notes an owner (as NoteOwner writes it) that has ended.
func deadOwner(t *testing.T, s Store, id string) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p, err := ProcOf(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeJSONAtomic(s.OwnerPath(id), Owner{Proc: p, Runtime: "/usr/sbin/runc", Global: []string{"--root", "/r"}}, false); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	cmd.Wait()
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestProcNotes(t *testing.T) {
	s := Store{RunDir: t.TempDir()}
	self, err := ProcOf(os.Getpid())
	if err != nil || self.Start == 0 || !self.Alive() {
		t.Fatalf("own process %+v %v", self, err)
	}
	if (Proc{PID: self.PID, Start: self.Start + 1}).Alive() {
		t.Error("a pid with another start time counts as alive")
	}
	// live: its owner runs. gone: owner and init ended. init: the owner
	// ended, the init runs. bare: only a namespace note.
	if err := s.NoteOwner("live", os.Getpid(), "", nil); err != nil {
		t.Fatal(err)
	}
	touch(t, s.PendingNSPath("live"))
	deadOwner(t, s, "gone")
	deadProc(t, s.InitPath("gone"))
	touch(t, s.PendingNSPath("gone"))
	touch(t, s.ListStartPath("gone"))
	deadOwner(t, s, "init")
	if err := WriteProcNote(s.InitPath("init"), os.Getpid()); err != nil {
		t.Fatal(err)
	}
	touch(t, s.PendingNSPath("bare"))
	touch(t, filepath.Join(s.CreatedDir(), "not-a-note.txt"))
	// Owners that ended before any init was noted (no hook): the runtime
	// is asked, with the flags the owner ran it with.
	deadOwner(t, s, "hookless")
	touch(t, s.PendingNSPath("hookless"))
	deadOwner(t, s, "deleted")
	var asked []string
	ask := func(id string, o Owner) (int, bool) {
		if o.Runtime != "/usr/sbin/runc" || !slices.Equal(o.Global, []string{"--root", "/r"}) {
			t.Errorf("%s: owner %+v", id, o)
		}
		asked = append(asked, id)
		return os.Getpid(), id == "deleted"
	}

	removed, err := s.RemoveStaleNotes(ask)
	slices.Sort(removed)
	slices.Sort(asked)
	if err != nil || !slices.Equal(removed, []string{"bare", "deleted", "gone"}) || !slices.Equal(asked, []string{"deleted", "hookless"}) {
		t.Errorf("removed %v, asked %v, %v", removed, asked, err)
	}
	if p, err := ReadProcNote(s.InitPath("hookless")); err != nil || p.PID != os.Getpid() {
		t.Errorf("the runtime's answer was not noted: %+v %v", p, err)
	}
	// Once noted, the runtime is not asked again.
	asked = nil
	if _, err := s.RemoveStaleNotes(ask); err != nil || asked != nil {
		t.Errorf("asked again: %v %v", asked, err)
	}
	for id, want := range map[string]bool{"live": true, "init": true, "gone": false, "bare": false, "hookless": true, "deleted": false} {
		if s.HasNotes(id) != want {
			t.Errorf("%s: notes present %v, want %v", id, !want, want)
		}
	}
	if _, err := os.Stat(filepath.Join(s.CreatedDir(), "not-a-note.txt")); err != nil {
		t.Errorf("a foreign file was removed: %v", err)
	}
	// A second create with a live container's id would overwrite its notes.
	if err := s.NoteOwner("init", os.Getpid(), "", nil); !errors.Is(err, ErrLiveNotes) {
		t.Errorf("NoteOwner over live notes: %v", err)
	}
	if ok, err := s.RemoveNotesIfStale("live"); ok || err != nil || !s.HasNSNote("live") {
		t.Errorf("live notes removed: %v %v", ok, err)
	}
	deadOwner(t, s, "live")
	if ok, err := s.RemoveNotesIfStale("live"); !ok || err != nil || s.HasNotes("live") {
		t.Errorf("stale notes kept: %v %v", ok, err)
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add("4242 (sleep) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 2273280 128 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")
	f.Add("7 (a) b) (c) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99 x\n")
	f.Add("1 (x")
	f.Fuzz(func(t *testing.T, s string) {
		_, start, err := parseStat(s)
		if err == nil && strings.LastIndexByte(s, ')') < 0 {
			t.Fatalf("start %d without a command name", start)
		}
	})
}

func FuzzParseProcNote(f *testing.F) {
	f.Add("4242 123456\n")
	f.Add("-1 5\n")
	f.Add("1 2")
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := parseProcNote(s)
		if !ok {
			return
		}
		back, ok := parseProcNote(fmt.Sprintf("%d %d\n", p.PID, p.Start))
		if p.PID <= 0 || !ok || back != p || !strings.HasSuffix(s, "\n") {
			t.Fatalf("%q read as %+v", s, p)
		}
	})
}

// A killed process not yet reaped (a zombie, as a container's init is
// for a moment after `runc delete --force`) runs no more.
func TestZombieIsNotAlive(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p, err := ProcOf(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	defer cmd.Wait()
	for range 100 {
		if b, _ := os.ReadFile("/proc/" + fmt.Sprint(p.PID) + "/stat"); strings.Contains(string(b), ") Z ") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p.Alive() {
		t.Error("a zombie counts as alive")
	}
}

// ownerJSONByEncoder is how the owner note was written before appendJSON:
// the reference it must match byte for byte.
func ownerJSONByEncoder(t testing.TB, o Owner) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(o); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var ownerJSONSeeds = []Owner{
	{Proc: Proc{PID: 1, Start: 2}},
	{Proc: Proc{PID: 4242, Start: 1143792}, Runtime: "/usr/sbin/runc"},
	{Proc: Proc{PID: -1, Start: 1<<64 - 1}, Runtime: "/opt/rt \"x\"\\y", Global: []string{"--root", "/run/runc"}},
	{Proc: Proc{PID: 7}, Global: []string{"", "a<b>&c", "tab\tnl\ncr\rbs\bff\f\x00\x1f\x7f", "é\u2028\u2029\U0001F600", "bad\xff\xc3utf8"}},
}

func TestOwnerJSONMatchesEncoder(t *testing.T) {
	for _, o := range ownerJSONSeeds {
		if got, want := o.appendJSON(nil), ownerJSONByEncoder(t, o); !bytes.Equal(got, want) {
			t.Errorf("%+v:\n got %q\nwant %q", o, got, want)
		}
	}
}

func FuzzOwnerJSON(f *testing.F) {
	for _, o := range ownerJSONSeeds {
		g := append([]string{}, o.Global...)
		for len(g) < 2 {
			g = append(g, "")
		}
		f.Add(o.PID, o.Start, o.Runtime, g[0], g[1], len(o.Global))
	}
	f.Fuzz(func(t *testing.T, pid int, start uint64, runtime, g0, g1 string, n int) {
		o := Owner{Proc: Proc{PID: pid, Start: start}, Runtime: runtime}
		switch {
		case n%3 == 1:
			o.Global = []string{g0}
		case n%3 == 2:
			o.Global = []string{g0, g1}
		}
		if got, want := o.appendJSON(nil), ownerJSONByEncoder(t, o); !bytes.Equal(got, want) {
			t.Fatalf("%+v:\n got %q\nwant %q", o, got, want)
		}
	})
}
