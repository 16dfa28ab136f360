// Package record keeps what the hook did to each container: a live record
// under /run/ima-hook while the container exists, and an archive under
// /var/lib/ima-hook/<container-id>/<life>/ after it stopped (record plus its
// final measurement view). The measurements command finds a container's
// namespace through these records.
//
// Namespace ids are reused by the kernel once a namespace dies, so nothing
// here is keyed by namespace id: records are keyed by container id, and a
// namespace's entries in the host list start at its ns_aggregate_<id> entry
// (AggregateIndex) — an earlier namespace with the same id ended before it.
// Container ids are reused too (runc, crun and ctr users choose them), so
// each container life gets its own life id at createRuntime and its own
// archive directory: no record of an earlier life is ever overwritten.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/ima-hook/ima-hook/internal/sysfile"
	"github.com/ima-hook/ima-hook/pkg/kube"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// Default directories; tests and the demo override them.
const (
	DefaultRunDir     = "/run/ima-hook"
	DefaultArchiveDir = "/var/lib/ima-hook"
	maxRecordSize     = 1 << 20
)

// Record is the status of one container's IMA namespace.
type Record struct {
	ContainerID string `json:"container_id"`
	// Life tells this life of the container id from earlier and later
	// containers with the same id (NewLife); the archive is named after it.
	Life string `json:"life,omitempty"`
	// Names are what the engine calls the container, from its annotations
	// (EngineNames): `measurements --container` accepts them.
	Names   []string   `json:"names,omitempty"`
	Bundle  string     `json:"bundle,omitempty"`
	Runtime string     `json:"runtime,omitempty"`
	NS      imansid.ID `json:"ns_id"`
	Created bool       `json:"ns_created_by_wrapper"`
	KeyID   string     `json:"key_id,omitempty"` // IMA key id (evmctl), hex
	KeyPath string     `json:"key_path,omitempty"`
	// KeySHA256 is the sha256 of the certificate the kernel was handed
	// (the private copy of the validated bytes).
	KeySHA256   string `json:"key_sha256,omitempty"`
	PolicySHA   string `json:"policy_sha256,omitempty"`
	PolicyRules int    `json:"policy_rules"`
	// InForceSHA is the sha256 of the rules in force in the namespace once
	// the hook is done (one rule and a newline each, kernel order), and
	// InForceRules their number; BuiltinsReplaced says that a custom policy
	// took the kcmd's built-in rules out of force, as the kernel's first
	// load does (architecture rules stay).
	InForceSHA       string    `json:"in_force_sha256,omitempty"`
	InForceRules     int       `json:"in_force_rules"`
	BuiltinsReplaced bool      `json:"builtins_replaced,omitempty"`
	Kcmd             string    `json:"kcmd,omitempty"`
	Template         string    `json:"template,omitempty"`
	Required         bool      `json:"required"`
	Result           string    `json:"result"`              // "applied", "skipped: <why>", "failed: <why>"
	Preflight        string    `json:"preflight,omitempty"` // the appraisal preflight's one-line summary
	Measurement      uint64    `json:"measurement_count"`
	Violations       uint64    `json:"violations"`
	Aggregate        bool      `json:"ns_aggregate_present"`
	Time             time.Time `json:"time"`
	Stopped          time.Time `json:"stopped,omitzero"`
	// Archived says how the record reached the archive: "poststop", or
	// LeftBehind when the next container with the id found it still live.
	Archived string `json:"archived,omitempty"`
	// AggregateIndex is the position of this namespace's ns_aggregate entry
	// in the host list when known (-1 otherwise); filtering starts there.
	AggregateIndex int64 `json:"aggregate_index"`
	// ListStart is the host list's length just before the wrapper created
	// the namespace (nil: unknown): the namespace's aggregate is the first
	// ns_aggregate_<id> at or after it, whatever namespaces reused the id.
	ListStart *int64 `json:"list_start,omitempty"`
	// Warnings are what was accepted but is worth the admin's attention
	// (a weak or expired key, a lookalike io.imans.* key, ...); the hook
	// also logs each.
	Warnings []string `json:"warnings,omitempty"`
	// Kubernetes is the pod and container the CRI engine's annotations
	// name (containerd's io.kubernetes.cri.*, CRI-O's io.kubernetes.*);
	// nil outside Kubernetes. `measurements --pod` and `list` use it.
	Kubernetes *kube.Identity `json:"kubernetes,omitempty"`
	// PodNamespaceOf is, for a container that joined its pod's namespace
	// (io.imans.scope=pod), the id of the container whose namespace it is.
	PodNamespaceOf string `json:"pod_namespace_of,omitempty"`
}

// LeftBehind is Record.Archived of a live record that no poststop archived
// (the archive failed, or the runtime never ran poststop) and that the next
// container with the same id moved to the archive.
const LeftBehind = "left behind; archived when the container id was used again"

// Start returns ListStart, or -1 when it is unknown.
func (r Record) Start() int64 {
	if r.ListStart == nil {
		return -1
	}
	return *r.ListStart
}

// NewLife returns a life id for a container created at t: the time (UTC,
// sortable) and 32 random bits, so that two containers with one id never
// share an archive even when the clock steps back.
func NewLife(t time.Time) string {
	return t.UTC().Format("20060102T150405.000000000Z") + fmt.Sprintf("-%08x", rand.Uint32())
}

// ValidID reports whether id is safe to use as a file name. Container ids
// come from the runtime state; never trust them as paths. (A byte loop, not
// a regexp: compiling one costs every hook and wrapper run a millisecond.)
func ValidID(id string) error {
	if !safeName(id, 256) {
		return fmt.Errorf("container id %q is not a safe file name (want [A-Za-z0-9][A-Za-z0-9_.-]*, at most 256 characters)", id)
	}
	return nil
}

// safeName: [A-Za-z0-9][A-Za-z0-9_.-]*, at most max bytes.
func safeName(s string, max int) bool {
	ok := len(s) > 0 && len(s) <= max && isAlnum(s[0])
	for i := 1; ok && i < len(s); i++ {
		c := s[i]
		ok = isAlnum(c) || c == '_' || c == '.' || c == '-'
	}
	return ok
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Store reads and writes records.
type Store struct {
	RunDir     string
	ArchiveDir string
}

// LivePath is where the live record of id is.
func (s Store) LivePath(id string) string { return filepath.Join(s.RunDir, id+".json") }

// ArchiveDirOf is the directory that holds the archived lives of id, one
// subdirectory each (Lives).
func (s Store) ArchiveDirOf(id string) string { return filepath.Join(s.ArchiveDir, id) }

// WriteLive writes r atomically (write to a temp file, then rename). A live
// record of another life of the id (one that no poststop archived) is first
// moved to the archive; when that fails nothing is written and the error
// says so: a record is never overwritten. r without a Life gets a new one.
func (s Store) WriteLive(r Record) error {
	if err := ValidID(r.ContainerID); err != nil {
		return err
	}
	if r.Life == "" {
		r.Life = NewLife(r.Time)
	}
	if err := s.keepLeftover(r); err != nil {
		return err
	}
	// Never a record its readers (exec's decision, pod scope, poststop)
	// would refuse for its size: that would fail open or break them all.
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if len(b)+1 > maxRecordSize {
		return fmt.Errorf("the record would be %d bytes, more than the %d its readers take", len(b)+1, maxRecordSize)
	}
	// The live record is volatile by design (/run is a tmpfs and the
	// container does not outlive a reboot): atomic, but not fsync'ed, which
	// would cost every container start a disk flush.
	return writeAtomic(s.LivePath(r.ContainerID), false, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// keepLeftover archives a live record of id that belongs to another life
// than r's.
func (s Store) keepLeftover(r Record) error {
	old, err := s.ReadLive(r.ContainerID)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("a record of an earlier container with this id cannot be read and is kept (move it away): %w", err)
	case old.Life == r.Life:
		return nil
	}
	old.Archived = LeftBehind
	if _, err := s.Archive(old, nil); err != nil {
		return fmt.Errorf("the record of an earlier container with this id (%s) is still live and cannot be archived, so it is kept and nothing was written: %w", s.LivePath(r.ContainerID), err)
	}
	return nil
}

// ReadLive reads the live record of id.
func (s Store) ReadLive(id string) (Record, error) {
	if err := ValidID(id); err != nil {
		return Record{}, err
	}
	return readJSON(s.LivePath(id))
}

// RemoveLive drops the live record of id if it is of the given life: a
// newer life's record stays.
func (s Store) RemoveLive(id, life string) error {
	r, err := s.ReadLive(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.Life != life {
		return nil
	}
	err = os.Remove(s.LivePath(id))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return err
}

// ReadAny reads the latest life of id: the live record, or the most recent
// archived one.
func (s Store) ReadAny(id string) (Record, bool, error) {
	lives, err := s.Lives(id)
	if err != nil {
		return Record{}, false, err
	}
	l := lives[len(lives)-1]
	return l.Record, l.Live, nil
}

func writeJSONAtomic(path string, v any, durable bool) error {
	return writeAtomic(path, durable, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// WriteFileAtomic writes data to path through writeAtomic (not durable:
// for files under /run, such as the wrapper's pass-through cards).
func WriteFileAtomic(path string, data []byte) error {
	return writeAtomic(path, false, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic writes through a temp file and a rename, so readers see the
// old or the new file, never half of one; durable also flushes the file and
// then its directory entry to disk.
func writeAtomic(path string, durable bool, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := sysfile.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	renamed = true
	if durable {
		return syncDir(dir)
	}
	return nil
}

func readJSON(path string) (Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return Record{}, err
	}
	defer f.Close()
	var r Record
	dec := json.NewDecoder(io.LimitReader(f, maxRecordSize))
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
