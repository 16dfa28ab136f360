package record

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/ima-hook/ima-hook/internal/sysfile"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// The runtime wrapper leaves two notes per container it created a namespace
// for, under <run-dir>/created/, for the hook's createRuntime:
//
//	<id>.nsid   the namespace id, in decimal (written by the C stage between
//	            unshare and fork, or by a Go kernel through WriteNSIDNote)
//	<id>.start  the host list's length just before the namespace was created
//
// This file is their one owner: paths, format, reading and writing.

// maxNote bounds a note: a decimal number and a newline.
const maxNote = 32

// PendingNSPath is where the runtime wrapper leaves the id of the namespace
// it created for a container, for the hook to check. The C stage writes it
// itself (it must, between unshare and fork), so it is handed the path.
func (s Store) PendingNSPath(id string) string {
	return filepath.Join(s.RunDir, "created", id+".nsid")
}

// ListStartPath is where the wrapper leaves the host list's length taken
// just before it created the namespace.
func (s Store) ListStartPath(id string) string {
	return filepath.Join(s.RunDir, "created", id+".start")
}

// PrepareNotes clears the notes an earlier container with id left behind
// and makes sure their directory exists, before a new namespace is created
// for id: a stale note would describe another namespace.
func (s Store) PrepareNotes(id string) error {
	if err := ValidID(id); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.RunDir, "created"), 0o700); err != nil {
		return err
	}
	return s.RemoveNotes(id)
}

// X509CopyPath is the private copy of the validated certificate that the
// wrapper hands the kernel (x509_for_children) for container id: the kernel
// reads the file at activation, later than the wrapper checked it, so it
// must read exactly the checked bytes, not whatever the keys dir holds by
// then (a key rotated by rename, a path swapped for a symlink).
func (s Store) X509CopyPath(id string) string {
	return filepath.Join(s.RunDir, "created", id+".x509")
}

// PolicyCopyPath is the private copy of the validated policy file that the
// hook hands the kernel when a namespace appraises its policy (the kernel
// then reads the file itself).
func (s Store) PolicyCopyPath(id string) string {
	return filepath.Join(s.RunDir, "created", id+".policy")
}

// WritePrivateCopy writes data to path (one of the copy paths above) as a
// new root-only file: a leftover of a killed run is removed first, then the
// file is created exclusively (O_EXCL, never through a symlink), 0600.
func (s Store) WritePrivateCopy(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := sysfile.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// ReadPrivateCopy reads a private copy (never through a symlink, regular
// files only, at most max bytes).
func (s Store) ReadPrivateCopy(path string, max int64) ([]byte, error) {
	return ReadBounded(path, max)
}

// RemoveNotes removes the notes and private copies of id (noteKinds, with
// the owner and init notes of owner.go); missing ones are not an error.
func (s Store) RemoveNotes(id string) error {
	if err := ValidID(id); err != nil {
		return err
	}
	var errs []error
	for _, k := range noteKinds {
		if err := removeNote(filepath.Join(s.CreatedDir(), id+k)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeNote removes one note; a missing one is no error. Notes are files,
// so unlink(2) alone decides the common cases in one system call
// (os.Remove follows a failed unlink with an rmdir, and most of a
// container's note kinds never exist: a namespace creation removes all of
// them first). Anything else gets os.Remove's own answer.
func removeNote(path string) error {
	err := syscall.Unlink(path)
	if err == nil || err == syscall.ENOENT {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// WriteNSIDNote records the namespace id the wrapper created for id.
func (s Store) WriteNSIDNote(id string, ns imansid.ID) error {
	if err := ValidID(id); err != nil {
		return err
	}
	return writeNote(s.PendingNSPath(id), strconv.FormatUint(uint64(ns), 10))
}

// ReadNSIDNote reads the namespace id the wrapper created for id; ok is
// false when there is no note (the wrapper created no namespace).
func (s Store) ReadNSIDNote(id string) (ns imansid.ID, ok bool, err error) {
	if err := ValidID(id); err != nil {
		return 0, false, err
	}
	text, err := readNote(s.PendingNSPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	n, err := ParseNSIDNote(text)
	if err != nil {
		return 0, false, err
	}
	return n, true, nil
}

// ParseNSIDNote parses a namespace-id note: a decimal uint32, surrounding
// white space allowed.
func ParseNSIDNote(text string) (imansid.ID, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(text), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("not a namespace id: %q", text)
	}
	return imansid.ID(n), nil
}

// WriteListStart records the host list's length n taken before the
// namespace of id was created.
func (s Store) WriteListStart(id string, n uint64) error {
	if err := ValidID(id); err != nil {
		return err
	}
	return writeNote(s.ListStartPath(id), strconv.FormatUint(n, 10))
}

// ReadListStart reads the list-start note of id; ok is false when there is
// none or it is not a count (the start is then unknown, which the readers
// of records handle: Record.ListStart nil).
func (s Store) ReadListStart(id string) (n int64, ok bool) {
	if ValidID(id) != nil {
		return 0, false
	}
	text, err := readNote(s.ListStartPath(id))
	if err != nil {
		return 0, false
	}
	return ParseListStart(text)
}

// ParseListStart parses a list-start note: a non-negative decimal count.
func ParseListStart(text string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

func writeNote(path, text string) error {
	return writeAtomic(path, false, func(w io.Writer) error {
		_, err := io.WriteString(w, text)
		return err
	})
}

// readNote reads a note without following a symlink and refuses anything
// but a small regular file.
func readNote(path string) (string, error) {
	b, err := ReadBounded(path, maxNote)
	return string(b), err
}

// ReadBounded reads what the wrapper and the hook left under the run
// directory (and the wrapper's pass-through cards, pkg/ns/nsenter): never
// through a symlink, without blocking on a FIFO planted there, regular
// files only, at most max bytes.
func ReadBounded(path string, max int64) ([]byte, error) {
	b, _, err := sysfile.ReadRegular(path, syscall.O_NOFOLLOW, max)
	if errors.Is(err, sysfile.ErrNotRegular) {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, nil
}
