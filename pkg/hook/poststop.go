package hook

import (
	"bytes"
	"errors"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// maxArchivedView bounds the measurement view kept per container.
const maxArchivedView = 64 << 20

// Poststop archives the container's record with the final measurement view
// of its namespace in an archive of its own (one per container life: ids
// are reused), then drops the live record and the wrapper's notes. A
// container whose createRuntime never wrote a record has nothing to
// archive. Runtimes only warn about poststop failures, so every failure is
// logged as well as returned; when the archive cannot be written the live
// record stays, and the next container with the id archives it.
func (h *Hook) Poststop(st *specs.State) error {
	if record.ValidID(st.ID) != nil {
		// No record or note can exist under an id that is no file name
		// (oci.ReadState takes any id for a container without IMA).
		h.Log.Info(st.ID, "poststop: no IMA record; nothing to archive")
		return nil
	}
	// The notes describe this life's namespace only: whatever happens to
	// the record, they go.
	defer func() { _ = h.Store.RemoveNotes(st.ID) }()
	rec, err := h.Store.ReadLive(st.ID)
	if errors.Is(err, os.ErrNotExist) {
		h.Log.Info(st.ID, "poststop: no IMA record; nothing to archive")
		return nil
	}
	if err != nil {
		return userror.Wrapf(err, h.Store.LivePath(st.ID), "remove the damaged record", "")
	}
	h.Log.Identify(st.ID, rec.Kubernetes.String())
	rec.Stopped = h.Now().UTC()
	rec.Archived = "poststop"
	var view io.Reader
	var viewErr error
	n := 0
	if rec.NS != 0 && rec.Result == "applied" {
		var buf bytes.Buffer
		idx, count, err := h.containerView(st.ID, rec.NS, rec.Start(), &buf) // view.go
		switch {
		case err != nil:
			viewErr = err
		default:
			rec.AggregateIndex = idx
			view, n = &buf, count
		}
	}
	dir, err := h.Store.Archive(rec, view)
	if err != nil {
		h.Log.Error(st.ID, "poststop: not archived, the live record %s stays: %v", h.Store.LivePath(st.ID), err)
		return userror.Wrap(err, h.Store.ArchiveDirOf(st.ID), "cannot archive the record ("+err.Error()+"); the live record "+h.Store.LivePath(st.ID)+" is kept",
			"make "+h.Store.ArchiveDir+" writable (free space); the next container with this id archives the kept record")
	}
	// Only now is the archive on disk: the live record may go.
	if view != nil {
		h.Log.Info(st.ID, "poststop: archived the record and %d measurements of namespace %d in %s", n, rec.NS, dir)
	} else {
		h.Log.Info(st.ID, "poststop: archived the record in %s", dir)
	}
	if err := h.Store.RemoveLive(st.ID, rec.Life); err != nil {
		h.Log.Error(st.ID, "poststop: archived in %s, but the live record stays: %v", dir, err)
	}
	if viewErr != nil {
		h.Log.Error(st.ID, "poststop: measurement view not archived: %v", viewErr)
		return userror.Wrapf(viewErr, "measurement list", "read them with ima-hook measurements --ns", "the record was archived without the namespace's measurements")
	}
	return nil
}
