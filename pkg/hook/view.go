package hook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/measure"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// A container's archived view is read from inside its namespace, through a
// pin made at createRuntime (pkg/ns pin.go says why the host list filtered
// by id is not enough). Pins live in <run_dir>/ns/<container-id>-<ns-id>;
// a pin whose namespace has no task left when another container starts is
// released then (its final view kept beside it as <pin>.view for a poststop
// that may still come), so a crash leaks no namespace.

// savedViewSuffix marks the final view of a pin released early.
const savedViewSuffix = ".view"

func (h *Hook) pinDir() string { return ns.PinDir(h.Store.RunDir) }

func (h *Hook) pinPath(id string, nsid imansid.ID) string {
	return filepath.Join(h.pinDir(), ns.PinName(id, nsid))
}

// pins is the kernel's pin interface; both kernels of pkg/ns have it.
func (h *Hook) pins() (ns.Pinner, error) {
	p, ok := h.Kernel.(ns.Pinner)
	if !ok {
		return nil, errors.New("this kernel interface cannot pin namespaces")
	}
	return p, nil
}

// lockPins serialises pin handling between hooks (a sweep must not release
// a pin a poststop is reading, nor two sweeps release the same pin).
func (h *Hook) lockPins() (unlock func(), err error) {
	if err := os.MkdirAll(h.pinDir(), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(h.pinDir(), ".lock"), os.O_CREATE|os.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// pinNamespace pins the container's namespace at createRuntime, after
// releasing the pins of containers that are gone. Without a pin the view
// archived at poststop could only come from the host list, filtered by a
// namespace field the host's template may not have: required IMA refuses
// the container, optional IMA starts it and says so.
func (h *Hook) pinNamespace(id string, pid int, nsid imansid.ID, required bool) error {
	p, err := h.pins()
	var unlock func()
	if err == nil {
		unlock, err = h.lockPins()
	}
	if err == nil {
		defer unlock()
		h.sweepPins(p)
		path := h.pinPath(id, nsid)
		if got, perr := p.PinnedNamespace(path); perr == nil && got == nsid {
			return nil // createRuntime ran twice (e.g. also as prestart): one pin
		}
		if _, serr := os.Lstat(path); serr == nil {
			// A placeholder left by a crash, or a pin of a dead life.
			if uerr := p.Unpin(path); uerr != nil {
				h.Log.Error(id, "releasing the stale pin %s: %v", path, uerr)
			}
		}
		err = p.Pin(pid, nsid, path)
	}
	if err == nil {
		h.Log.Info(id, "IMA namespace %d pinned at %s until poststop", nsid, h.pinPath(id, nsid))
		return nil
	}
	why := "cannot pin the container's IMA namespace: " + err.Error()
	if !required {
		h.Log.Error(id, "%s; the container starts, and poststop will fall back to the host list filtered by namespace id", why)
		return nil
	}
	return userror.Wrap(err, h.pinDir(), why,
		"the hook must run as real root with run_dir ("+h.Store.RunDir+") on a writable local filesystem; or set "+config.AnnRequired+"=false")
}

// sweepPins releases pins whose namespace no task is in any more: the
// container is gone (or stopped and not yet deleted; its view is final
// either way and is kept as <pin>.view while its live record exists).
// Views whose container has no live record left are removed. Problems are
// logged: a sweep never stops a container from starting.
func (h *Hook) sweepPins(p ns.Pinner) {
	names, err := readDirNames(h.pinDir())
	if err != nil {
		h.Log.Error("", "listing the namespace pins in %s: %v", h.pinDir(), err)
		return
	}
	var inUse map[imansid.ID]bool // scanned once, and only when there is a pin

	for _, name := range names {
		if strings.HasPrefix(name, ".") {
			continue // the lock, temporary files
		}
		path := filepath.Join(h.pinDir(), name)
		if base, ok := strings.CutSuffix(name, savedViewSuffix); ok {
			if cid, nsid, ok := ns.ParsePinName(base); ok && !h.liveRecordOf(cid, nsid) {
				_ = os.Remove(path)
			}
			continue
		}
		cid, nsid, ok := ns.ParsePinName(name)
		if !ok {
			continue
		}
		if inUse == nil {
			if inUse, err = p.NamespacesInUse(); err != nil {
				h.Log.Error("", "finding the namespaces in use: %v", err)
				return
			}
		}
		if inUse[nsid] {
			continue
		}
		got, err := p.PinnedNamespace(path)
		if err == nil && got == nsid && h.liveRecordOf(cid, nsid) {
			if err := h.saveFinalView(p, path, nsid); err != nil {
				h.Log.Error(cid, "the final view of namespace %d could not be kept for poststop: %v", nsid, err)
			}
		}
		if err := p.Unpin(path); err != nil {
			h.Log.Error(cid, "releasing the pin %s of a namespace with no task left: %v", path, err)
			continue
		}
		h.Log.Info(cid, "released the pin of IMA namespace %d: no task is left in it", nsid)
	}
}

// liveRecordOf reports whether container id's live record is for namespace
// nsid (a poststop for it may still come).
func (h *Hook) liveRecordOf(id string, nsid imansid.ID) bool {
	rec, err := h.Store.ReadLive(id)
	return err == nil && rec.NS == nsid
}

func (h *Hook) saveFinalView(p ns.Pinner, pin string, nsid imansid.ID) error {
	data, err := p.PinnedView(pin, nsid, maxArchivedView)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(h.pinDir(), ".tmp-view-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), pin+savedViewSuffix)
}

// containerView writes the container's final view to w as ASCII lines and
// returns the index of its ns_aggregate in the host list (-1 when unknown)
// and the number of entries. In order: through the pin (released
// afterwards, whatever happened), the view a sweep kept, and only then the
// host list filtered by id, whose entries without a namespace field are
// reported, never silently dropped.
func (h *Hook) containerView(id string, nsid imansid.ID, listStart int64, w io.Writer) (aggIndex int64, n int, err error) {
	data, source, perr := h.pinnedView(id, nsid)
	if perr != nil {
		h.Log.Error(id, "poststop: %v; falling back to the host list", perr)
	}
	if data != nil {
		lines, n, err := asciiView(bytes.NewReader(data))
		if err != nil {
			return -1, 0, fmt.Errorf("the view read %s: %w", source, err)
		}
		if _, err := w.Write(lines); err != nil {
			return -1, 0, err
		}
		h.Log.Info(id, "poststop: read the view of namespace %d %s", nsid, source)
		return h.hostAggregateIndex(nsid, listStart), n, nil
	}
	var buf bytes.Buffer
	aggIndex, n, unattributed, err := h.namespaceView(nsid, listStart, &buf)
	if err != nil {
		return -1, 0, err
	}
	if unattributed > 0 {
		// Archived as far as it goes, but never passed off as complete.
		h.Log.Error(id, "poststop: namespace %d had no pin; %d entries of the host list in its span carry no namespace id (the host's template has no ns field) and could not be attributed: the archived view may miss some of its measurements",
			nsid, unattributed)
	}
	_, err = w.Write(buf.Bytes())
	return aggIndex, n, err
}

// pinnedView returns the namespace's own binary list, through its pin or
// as a sweep kept it, and releases both; nil data when there is neither.
func (h *Hook) pinnedView(id string, nsid imansid.ID) (data []byte, source string, err error) {
	p, err := h.pins()
	if err != nil {
		return nil, "", err
	}
	unlock, err := h.lockPins()
	if err != nil {
		return nil, "", err
	}
	defer unlock()
	pin := h.pinPath(id, nsid)
	saved := pin + savedViewSuffix
	if _, serr := os.Lstat(pin); serr == nil {
		data, err = p.PinnedView(pin, nsid, maxArchivedView)
		if uerr := p.Unpin(pin); uerr != nil {
			h.Log.Error(id, "poststop: releasing the pin %s: %v", pin, uerr)
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading through the pin %s: %w", pin, err)
		}
		return data, "inside it, through its pin", nil
	}
	f, err := os.OpenFile(saved, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	defer os.Remove(saved)
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, maxArchivedView+1))
	if err == nil && len(data) > maxArchivedView {
		err = ns.ErrViewTooLarge
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", saved, err)
	}
	return data, "inside it, kept when its pin was released early (" + saved + ")", nil
}

// hostAggregateIndex finds the namespace's ns_aggregate in the host list
// for the record (ima-hook measurements --container); -1 when the hook
// does not see the host list or the entry is not there.
func (h *Hook) hostAggregateIndex(nsid imansid.ID, listStart int64) int64 {
	self, err := h.Kernel.NamespaceOf(os.Getpid())
	if err != nil {
		return -1
	}
	if host, err := h.Kernel.NamespaceOf(1); err != nil || self != host {
		return -1
	}
	start, err := measure.LifeStartIn(h.hostList, measure.BinaryList, measure.ReadOptions{}, nsid, listStart)
	if err != nil {
		return -1
	}
	return start
}

// hostList opens the binary list the hook sees.
func (h *Hook) hostList() (io.ReadCloser, error) { return h.Kernel.OpenMeasurements(true) }

// namespaceView copies namespace id's entries of the host list to w in
// ASCII form (the fallback without a pin). The kernel reuses ids, so the
// namespace's entries start at its own ns_aggregate_<id> (measure.NSLifeStart).
// It returns the aggregate's index, the entry count and how many entries
// in the namespace's span had no namespace id.
func (h *Hook) namespaceView(id imansid.ID, listStart int64, w io.Writer) (aggIndex int64, n int, unattributed int64, err error) {
	// Under `runc run` through the wrapper, runc itself, and so this
	// poststop hook, still lives in the container's namespace: the list it
	// reads is then that namespace's own view (ima_measurements_show shows
	// a non-initial namespace only its entries since its activation), which
	// is exactly what is archived.
	self, err := h.Kernel.NamespaceOf(os.Getpid())
	if err != nil {
		return -1, 0, 0, err
	}
	if host, err := h.Kernel.NamespaceOf(1); err != nil {
		return -1, 0, 0, err
	} else if self != host {
		if self != id {
			return -1, 0, 0, fmt.Errorf("poststop runs in IMA namespace %d, neither the host's nor the container's (%d)", self, id)
		}
		n, err := h.copyView(w, nil)
		return -1, n, 0, err
	}
	aggIndex, err = measure.LifeStartIn(h.hostList, measure.BinaryList, measure.ReadOptions{}, id, listStart)
	if err != nil {
		return -1, 0, 0, err
	}
	if aggIndex < 0 {
		return -1, 0, 0, fmt.Errorf("no %s entry in the host list at or after entry %d", measure.NSAggregateName(id), listStart)
	}
	filter := measure.NewNSFilter(id, aggIndex, 0)
	if n, err = h.copyView(w, filter.Match); err != nil {
		return -1, 0, 0, err
	}
	if err := filter.Done(); err != nil {
		return -1, 0, 0, err
	}
	return aggIndex, n, filter.Unattributed(), nil
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
	lines, n, err := filterASCII(f, match)
	if err != nil {
		return 0, err
	}
	_, err = w.Write(lines)
	return n, err
}

// asciiView renders a whole binary list as ASCII lines.
func asciiView(r io.Reader) ([]byte, int, error) { return filterASCII(r, nil) }

func filterASCII(r io.Reader, match func(*measure.Entry) (bool, error)) ([]byte, int, error) {
	br := measure.NewBinaryReader(r, measure.ReadOptions{})
	var lines []byte
	n := 0
	for {
		e, err := br.Next()
		if err == io.EOF {
			return lines, n, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if match != nil {
			ok, err := match(e)
			if err != nil {
				return nil, 0, err
			}
			if !ok {
				continue
			}
		}
		if len(lines) > maxArchivedView {
			return nil, 0, fmt.Errorf("the namespace's view exceeds %d bytes", maxArchivedView)
		}
		lines = measure.AppendASCII(lines, e, measure.SHA1) // ends with '\n'
		n++
	}
}

func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}
