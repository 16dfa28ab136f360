// Package record keeps what the hook did to each container: a live record
// under /run/ima-hook while the container exists, and an archive under
// /var/lib/ima-hook/<container-id>/ after it stopped (record plus its final
// measurement view). The measurements command finds a container's namespace
// through these records.
//
// Namespace ids are reused by the kernel once a namespace dies, so nothing
// here is keyed by namespace id: records are keyed by container id, and a
// namespace's entries in the host list start at its ns_aggregate_<id> entry
// (AggregateIndex) — an earlier namespace with the same id ended before it.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
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
	Bundle      string `json:"bundle,omitempty"`
	Runtime     string `json:"runtime,omitempty"`
	NS          uint32 `json:"ns_id"`
	Created     bool   `json:"ns_created_by_wrapper"`
	KeyID       string `json:"key_id,omitempty"` // IMA key id (evmctl), hex
	KeyPath     string `json:"key_path,omitempty"`
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
}

// Start returns ListStart, or -1 when it is unknown.
func (r Record) Start() int64 {
	if r.ListStart == nil {
		return -1
	}
	return *r.ListStart
}

// ValidID reports whether id is safe to use as a file name. Container ids
// come from the runtime state; never trust them as paths. (A byte loop, not
// a regexp: compiling one costs every hook and wrapper run a millisecond.)
func ValidID(id string) error {
	ok := len(id) > 0 && len(id) <= 256 && isAlnum(id[0])
	for i := 1; ok && i < len(id); i++ {
		c := id[i]
		ok = isAlnum(c) || c == '_' || c == '.' || c == '-'
	}
	if !ok {
		return fmt.Errorf("container id %q is not a safe file name (want [A-Za-z0-9][A-Za-z0-9_.-]*, at most 256 characters)", id)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Store reads and writes records.
type Store struct {
	RunDir     string
	ArchiveDir string
}

// DefaultStore uses the standard directories.
func DefaultStore() Store { return Store{RunDir: DefaultRunDir, ArchiveDir: DefaultArchiveDir} }

// LivePath is where the live record of id is.
func (s Store) LivePath(id string) string { return filepath.Join(s.RunDir, id+".json") }

// ArchiveDirOf is where the archive of id is.
func (s Store) ArchiveDirOf(id string) string { return filepath.Join(s.ArchiveDir, id) }

// PendingNSPath is where the runtime wrapper leaves the id of the namespace
// it created for a container, for the hook to check.
func (s Store) PendingNSPath(id string) string {
	return filepath.Join(s.RunDir, "created", id+".nsid")
}

// ListStartPath is where the wrapper leaves the host list's length taken
// just before it created the namespace.
func (s Store) ListStartPath(id string) string {
	return filepath.Join(s.RunDir, "created", id+".start")
}

// WriteLive writes r atomically (write to a temp file, then rename).
func (s Store) WriteLive(r Record) error {
	if err := ValidID(r.ContainerID); err != nil {
		return err
	}
	// The live record is volatile by design (/run is a tmpfs and the
	// container does not outlive a reboot): atomic, but not fsync'ed, which
	// would cost every container start a disk flush.
	return writeJSONAtomic(s.LivePath(r.ContainerID), r, false)
}

// ReadLive reads the live record of id.
func (s Store) ReadLive(id string) (Record, error) {
	if err := ValidID(id); err != nil {
		return Record{}, err
	}
	return readJSON(s.LivePath(id))
}

// ReadAny reads the live record of id, or the archived one.
func (s Store) ReadAny(id string) (Record, bool, error) {
	r, err := s.ReadLive(id)
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return Record{}, false, err
	}
	r, err = readJSON(filepath.Join(s.ArchiveDirOf(id), "record.json"))
	return r, false, err
}

// Archive stores r and the final measurement view of its namespace, then
// drops the live record. measurements may be nil.
func (s Store) Archive(r Record, measurements io.Reader) error {
	if err := ValidID(r.ContainerID); err != nil {
		return err
	}
	dir := s.ArchiveDirOf(r.ContainerID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if measurements != nil {
		if err := writeAtomic(filepath.Join(dir, "ascii_runtime_measurements"), true, func(w io.Writer) error {
			_, err := io.Copy(w, measurements)
			return err
		}); err != nil {
			return err
		}
	}
	if err := writeJSONAtomic(filepath.Join(dir, "record.json"), r, true); err != nil {
		return err
	}
	err := os.Remove(s.LivePath(r.ContainerID))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return err
}

func writeJSONAtomic(path string, v any, durable bool) error {
	return writeAtomic(path, durable, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// writeAtomic writes through a temp file and a rename, so readers see the
// old or the new file, never half of one; durable also flushes it to disk.
func writeAtomic(path string, durable bool, fill func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
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
	return os.Rename(f.Name(), path)
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
