package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/ima-hook/ima-hook/internal/jsonstr"
	"github.com/ima-hook/ima-hook/internal/sysfile"
)

// Besides the nsid and start notes (notes.go), the wrapper keeps two more
// under run_dir/created/ for each container it creates a namespace for. In
// all, named <id>.<kind>: nsid and start (written when it creates the
// namespace),
// owner (the wrapper process that created it, and how it ran the runtime)
// and init (the container's init process, noted by the hook at
// createRuntime, or by the wrapper once the runtime named it). They tell
// the wrapper, independent of what the runtime says, that a container has
// an IMA namespace of the wrapper's making; poststop and `delete` remove
// them, and the wrapper removes stale ones (RemoveStaleNotes) at the next
// start.

// CreatedDir holds the wrapper's notes.
func (s Store) CreatedDir() string { return filepath.Join(s.RunDir, "created") }

// OwnerPath notes the wrapper process that created id's namespace.
func (s Store) OwnerPath(id string) string { return filepath.Join(s.CreatedDir(), id+".owner") }

// InitPath notes id's init process (pid and start time).
func (s Store) InitPath(id string) string { return filepath.Join(s.CreatedDir(), id+".init") }

// noteKinds are the suffixes of the notes of one container, and of the
// private copies of its key and policy (notes.go).
var noteKinds = []string{".nsid", ".start", ".owner", ".init", ".x509", ".policy", ".joined", ".pod"}

// Proc names one process for its whole life: a pid is reused, a pid with
// its start time (clock ticks after boot, /proc/<pid>/stat field 22) is not.
type Proc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Owner is the owner note: the wrapper process that creates a container's
// namespace, and the runtime and global flags (--root) it ran, so that a
// later sweep can ask that runtime about the container.
type Owner struct {
	Proc
	Runtime string   `json:"runtime,omitempty"`
	Global  []string `json:"global,omitempty"`
}

// maxOwnerNote bounds the owner note (the runtime's global flags).
const maxOwnerNote = 64 << 10

// maxStat bounds /proc/<pid>/stat: some fifty numbers and a command name
// of at most 64 bytes.
const maxStat = 4096

// ProcOf reads pid's start time.
func ProcOf(pid int) (Proc, error) {
	b, err := ReadBounded("/proc/"+strconv.Itoa(pid)+"/stat", maxStat)
	if err != nil {
		return Proc{}, err
	}
	state, start, err := parseStat(string(b))
	if err != nil {
		return Proc{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	if state == "Z" || state == "X" {
		// Killed and not yet reaped: it runs no more.
		return Proc{}, fmt.Errorf("process %d has exited", pid)
	}
	return Proc{PID: pid, Start: start}, nil
}

// parseStat reads fields 3 (state) and 22 (start time) of a
// /proc/<pid>/stat line. The command name (field 2) is the process's to
// choose and may hold spaces and parentheses: fields are counted after its
// closing parenthesis, the last one in the line.
func parseStat(s string) (state string, start uint64, err error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0, errors.New("no command name")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", 0, fmt.Errorf("%d fields", len(f)+2)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("start time: %w", err)
	}
	return f[0], start, nil
}

// Alive reports whether the process still runs (same pid, same start).
func (p Proc) Alive() bool {
	now, err := ProcOf(p.PID)
	return err == nil && now.Start == p.Start
}

// WriteProcNote notes process pid at path ("<pid> <start>").
func WriteProcNote(path string, pid int) error {
	p, err := ProcOf(pid)
	if err != nil {
		return err
	}
	return writeAtomic(path, false, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "%d %d\n", p.PID, p.Start)
		return err
	})
}

// ReadProcNote reads a note WriteProcNote wrote.
func ReadProcNote(path string) (Proc, error) {
	b, err := readSmall(path)
	if err != nil {
		return Proc{}, err
	}
	p, ok := parseProcNote(string(b))
	if !ok {
		return Proc{}, fmt.Errorf("%s: not a process note", path)
	}
	return p, nil
}

// parseProcNote reads "<pid> <start>\n" exactly as WriteProcNote writes it.
func parseProcNote(s string) (Proc, bool) {
	pidText, rest, ok := strings.Cut(s, " ")
	startText, ok2 := strings.CutSuffix(rest, "\n")
	if !ok || !ok2 {
		return Proc{}, false
	}
	pid, err := strconv.Atoi(pidText)
	start, err2 := strconv.ParseUint(startText, 10, 64)
	if err != nil || err2 != nil || pid <= 0 {
		return Proc{}, false
	}
	return Proc{PID: pid, Start: start}, true
}

func readSmall(path string) ([]byte, error) {
	return ReadBounded(path, 128)
}

// ReadOwner reads id's owner note.
func (s Store) ReadOwner(id string) (Owner, error) {
	b, err := ReadBounded(s.OwnerPath(id), maxOwnerNote)
	if err != nil {
		return Owner{}, err
	}
	var o Owner
	if json.Unmarshal(b, &o) != nil || o.PID <= 0 {
		return Owner{}, fmt.Errorf("%s: not an owner note", s.OwnerPath(id))
	}
	return o, nil
}

// HasNSNote reports whether the wrapper noted a namespace it created for id.
func (s Store) HasNSNote(id string) bool {
	_, err := os.Lstat(s.PendingNSPath(id))
	return err == nil
}

// HasNotes reports whether any note of id exists.
func (s Store) HasNotes(id string) bool {
	for _, k := range noteKinds {
		if _, err := os.Lstat(filepath.Join(s.CreatedDir(), id+k)); err == nil {
			return true
		}
	}
	return false
}

// NoteLive reports whether id's notes belong to a container that may still
// exist: the wrapper that created its namespace still runs (a start in
// progress), or its init process, as the hook noted it, still runs. The
// owner is asked first: it exits only after the hook noted the init.
func (s Store) NoteLive(id string) bool {
	if o, err := s.ReadOwner(id); err == nil && o.Alive() {
		return true
	}
	p, err := ReadProcNote(s.InitPath(id))
	return err == nil && p.Alive()
}

// lockNotes serializes the wrapper's note keeping: a creator notes its
// owner under the lock, and a sweep decides and removes under it, so that
// a sweep never removes the notes of a start that began after it looked.
func (s Store) lockNotes() (unlock func(), err error) {
	if err := os.MkdirAll(s.CreatedDir(), 0o700); err != nil {
		return nil, err
	}
	f, err := sysfile.OpenFile(filepath.Join(s.CreatedDir(), ".lock"), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(f.Fd(), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// ErrLiveNotes: the notes of id belong to a container that still exists.
var ErrLiveNotes = errors.New("a container with this id still runs in an IMA namespace the wrapper created")

// NoteOwner notes pid as the process that creates id's namespace (running
// runtime with the global flags global), after dropping whatever notes an
// earlier container with this id left. It refuses (ErrLiveNotes) while
// those notes belong to a live container: a second create with a running
// container's id would overwrite its notes.
func (s Store) NoteOwner(id string, pid int, runtime string, global []string) error {
	if err := ValidID(id); err != nil {
		return err
	}
	unlock, err := s.lockNotes()
	if err != nil {
		return err
	}
	defer unlock()
	if s.NoteLive(id) {
		return ErrLiveNotes
	}
	if err := s.RemoveNotes(id); err != nil {
		return err
	}
	p, err := ProcOf(pid)
	if err != nil {
		return err
	}
	return WriteFileAtomic(s.OwnerPath(id), Owner{Proc: p, Runtime: runtime, Global: global}.appendJSON(nil))
}

// RemoveNotesIfStale removes id's notes unless they may belong to a live
// container (NoteLive); it reports whether it removed any.
func (s Store) RemoveNotesIfStale(id string) (bool, error) {
	if err := ValidID(id); err != nil {
		return false, err
	}
	if !s.HasNotes(id) {
		return false, nil
	}
	unlock, err := s.lockNotes()
	if err != nil {
		return false, err
	}
	defer unlock()
	if s.NoteLive(id) {
		return false, nil
	}
	return true, s.RemoveNotes(id)
}

// RemoveNotesOfDeleted removes the notes of id, which the runtime has just
// deleted, unless a new start with this id owns them meanwhile.
func (s Store) RemoveNotesOfDeleted(id string) error {
	if err := ValidID(id); err != nil {
		return err
	}
	unlock, err := s.lockNotes()
	if err != nil {
		return err
	}
	defer unlock()
	if o, err := s.ReadOwner(id); err == nil && o.Alive() {
		return nil
	}
	return s.RemoveNotes(id)
}

// RemoveStaleNotes removes the notes of every container that no longer
// exists and returns their ids. Notes are live while their owner (a start
// in progress) or the noted init runs. Notes whose owner ended without an
// init being noted (the hook did not run, or has not yet) are settled by
// ask, which asks the runtime the owner ran: a running container's init is
// then noted, so that the runtime is asked once per container; gone ones
// are removed. With ask nil such notes are kept. Files that are no note
// of a valid id are left alone.
func (s Store) RemoveStaleNotes(ask func(id string, owner Owner) (initPID int, gone bool)) ([]string, error) {
	entries, err := os.ReadDir(s.CreatedDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var removed []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		id := strings.TrimSuffix(name, ext)
		if seen[id] || !isNoteKind(ext) || ValidID(id) != nil {
			continue
		}
		seen[id] = true
		if s.NoteLive(id) {
			continue
		}
		if _, err := os.Lstat(s.InitPath(id)); errors.Is(err, os.ErrNotExist) {
			if o, err := s.ReadOwner(id); err == nil {
				if ask == nil {
					continue
				}
				// Asked without the lock: the runtime may take its time.
				pid, gone := ask(id, o)
				if !gone {
					if err := WriteProcNote(s.InitPath(id), pid); err != nil {
						errs = append(errs, err)
					}
					continue
				}
			}
		}
		ok, err := s.RemoveNotesIfStale(id)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			removed = append(removed, id)
		}
	}
	return removed, errors.Join(errs...)
}

func isNoteKind(ext string) bool {
	for _, k := range noteKinds {
		if ext == k {
			return true
		}
	}
	return false
}

// appendJSON appends o as json.Encoder with a two-space indent writes it,
// byte for byte (TestOwnerJSONMatchesEncoder, FuzzOwnerJSON), without
// reflection: the wrapper writes this note on every namespace start, and
// encoding/json's first use of a type costs some 15 us there.
func (o Owner) appendJSON(b []byte) []byte {
	b = append(b, "{\n  \"pid\": "...)
	b = strconv.AppendInt(b, int64(o.PID), 10)
	b = append(b, ",\n  \"start\": "...)
	b = strconv.AppendUint(b, o.Start, 10)
	if o.Runtime != "" {
		b = append(b, ",\n  \"runtime\": "...)
		b = jsonstr.Append(b, []byte(o.Runtime))
	}
	if len(o.Global) > 0 {
		b = append(b, ",\n  \"global\": ["...)
		for i, g := range o.Global {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n    "...)
			b = jsonstr.Append(b, []byte(g))
		}
		b = append(b, "\n  ]"...)
	}
	return append(b, "\n}\n"...)
}
