package hook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/measure"
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
	// The notes describe this life's namespace only: whatever happens to
	// the record, they go.
	defer func() { _ = h.Store.RemoveNotes(st.ID) }()
	rec, err := h.Store.ReadLive(st.ID)
	if errors.Is(err, os.ErrNotExist) {
		h.Log.Info(st.ID, "poststop: no IMA record; nothing to archive")
		return nil
	}
	if err != nil {
		return userror.Wrap(err, h.Store.LivePath(st.ID), err.Error(), "remove the damaged record")
	}
	rec.Stopped = h.Now().UTC()
	rec.Archived = "poststop"
	var view io.Reader
	var viewErr error
	n := 0
	if rec.NS != 0 && rec.Result == "applied" {
		var buf bytes.Buffer
		idx, count, err := h.namespaceView(rec.NS, rec.Start(), &buf)
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
		return userror.Wrap(viewErr, "measurement list", "the record was archived without the namespace's measurements: "+viewErr.Error(), "read them with ima-hook measurements --ns")
	}
	return nil
}

// namespaceView copies namespace id's entries of the host list to w in
// ASCII form. The kernel reuses ids, so the namespace's entries start at
// its own ns_aggregate_<id>: the first one at or after listStart (the host
// list's length when the wrapper created the namespace: any earlier
// namespace with this id was activated before), or, when that is unknown,
// the last one. It returns the aggregate's index and the entry count.
func (h *Hook) namespaceView(id uint32, listStart int64, w io.Writer) (aggIndex int64, n int, err error) {
	// Under `runc run` through the wrapper, runc itself, and so this
	// poststop hook, still lives in the container's namespace: the list it
	// reads is then that namespace's own view (ima_measurements_show shows
	// a non-initial namespace only its entries since its activation), which
	// is exactly what is archived.
	self, err := h.Kernel.NamespaceOf(os.Getpid())
	if err != nil {
		return -1, 0, err
	}
	if host, err := h.Kernel.NamespaceOf(1); err != nil {
		return -1, 0, err
	} else if self != host {
		if uint32(self) != id {
			return -1, 0, fmt.Errorf("poststop runs in IMA namespace %d, neither the host's nor the container's (%d)", self, id)
		}
		n, err := h.copyView(w, nil)
		return -1, n, err
	}
	f, err := h.Kernel.OpenMeasurements(true)
	if err != nil {
		return -1, 0, err
	}
	aggs, err := measure.FindAggregates(measure.NewBinaryReader(f, measure.ReadOptions{}), id)
	f.Close()
	if err != nil {
		return -1, 0, err
	}
	aggIndex = measure.NSLifeStart(aggs, listStart)
	if aggIndex < 0 {
		return -1, 0, fmt.Errorf("no %s entry in the host list at or after entry %d", measure.NSAggregateName(id), listStart)
	}
	filter := measure.NewNSFilter(id, aggIndex, 0)
	if n, err = h.copyView(w, filter.Match); err != nil {
		return -1, 0, err
	}
	if err := filter.Done(); err != nil {
		return -1, 0, err
	}
	return aggIndex, n, nil
}

// copyView writes the entries of the list the caller reads (the host's,
// or its own namespace's) that match selects (nil: all) to w as ASCII
// lines, bounded by maxArchivedView, and returns how many.
func (h *Hook) copyView(w io.Writer, match func(*measure.Entry) (bool, error)) (int, error) {
	f, err := h.Kernel.OpenMeasurements(true)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := measure.NewBinaryReader(f, measure.ReadOptions{})
	var lines []byte
	n := 0
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if match != nil {
			ok, err := match(e)
			if err != nil {
				return 0, err
			}
			if !ok {
				continue
			}
		}
		if len(lines) > maxArchivedView {
			return 0, fmt.Errorf("the namespace's view exceeds %d bytes", maxArchivedView)
		}
		lines = measure.AppendASCII(lines, e, measure.SHA1) // ends with '\n'
		n++
	}
	_, err = w.Write(lines)
	return n, err
}
