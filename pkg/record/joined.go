package record

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// A container of an io.imans.scope=pod pod that the wrapper started in the
// namespace an earlier container of the pod created has no nsid note (it
// created nothing), so the wrapper notes the join itself:
//
//	<id>.joined   the id of the container whose namespace it joined
//
// beside the owner note (NoteOwner), so that exec decides from the
// wrapper's own notes for joined containers too, whatever the runtime's
// state or the hook's record say, and the notes' lifecycle (delete,
// poststop, the stale sweep) covers them.

// JoinedPath is the join note of container id.
func (s Store) JoinedPath(id string) string { return filepath.Join(s.CreatedDir(), id+".joined") }

// WriteJoinedNote notes that container id was started in the IMA
// namespace of container owner.
func (s Store) WriteJoinedNote(id, owner string) error {
	if err := ValidID(id); err != nil {
		return err
	}
	if err := ValidID(owner); err != nil {
		return fmt.Errorf("owner: %w", err)
	}
	return writeAtomic(s.JoinedPath(id), false, func(w io.Writer) error {
		_, err := io.WriteString(w, owner+"\n")
		return err
	})
}

// ReadJoinedNote returns the container whose namespace id joined; ok is
// false when there is no join note. A note that exists but cannot be read
// still reports ok (with owner ""): it shows a join all the same.
func (s Store) ReadJoinedNote(id string) (owner string, ok bool) {
	if ValidID(id) != nil {
		return "", false
	}
	if _, err := os.Lstat(s.JoinedPath(id)); err != nil {
		return "", false
	}
	b, err := ReadBounded(s.JoinedPath(id), 258)
	if err != nil {
		return "", true
	}
	owner = strings.TrimSuffix(string(b), "\n")
	if ValidID(owner) != nil {
		return "", true
	}
	return owner, true
}
