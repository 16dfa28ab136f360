package record

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// The files of one archived life.
const (
	RecordFile = "record.json"
	ViewFile   = "ascii_runtime_measurements"
)

// maxLivesPerID bounds the archive directories tried for one life (the life
// id is unique; a clash means the same life is archived again, e.g. a
// poststop that ran twice).
const maxLivesPerID = 64

// Archive stores r and the final measurement view of its namespace
// (measurements may be nil) in a new directory of its own under
// ArchiveDirOf(id), named after r.Life, and returns that directory. It
// returns only once the archive is on disk (files and directories
// fsync'ed), and never replaces an existing archive. The live record is
// left alone: the caller drops it (RemoveLive) once Archive succeeded.
func (s Store) Archive(r Record, measurements io.Reader) (string, error) {
	if err := ValidID(r.ContainerID); err != nil {
		return "", err
	}
	if !safeName(r.Life, 64) {
		// An old record, or one whose life id is not a safe name.
		r.Life = NewLife(r.Time)
	}
	idDir := s.ArchiveDirOf(r.ContainerID)
	if err := mkdirDurable(idDir); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(idDir, ".tmp-"+r.Life+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // gone after the rename
	if measurements != nil {
		if err := writeAtomic(filepath.Join(tmp, ViewFile), true, func(w io.Writer) error {
			_, err := io.Copy(w, measurements)
			return err
		}); err != nil {
			return "", err
		}
	}
	if err := writeJSONAtomic(filepath.Join(tmp, RecordFile), r, true); err != nil {
		return "", err
	}
	// The directory appears whole under its final name, or not at all:
	// rename(2) refuses to replace a non-empty directory.
	for n := 1; n <= maxLivesPerID; n++ {
		dir := filepath.Join(idDir, r.Life)
		if n > 1 {
			dir += "-" + strconv.Itoa(n)
		}
		err := os.Rename(tmp, dir)
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTDIR) {
			continue
		}
		if err != nil {
			return "", err
		}
		return dir, syncDir(idDir)
	}
	return "", fmt.Errorf("%s: %d archives of life %s exist already", idDir, maxLivesPerID, r.Life)
}

// Life is one life of a container id as found on disk.
type Life struct {
	Record
	// Key names the life for users: the archive directory's name, the
	// record's life id for the live record, "legacy" for an archive of the
	// layout before lives (<archive-dir>/<id>/record.json).
	Key  string
	Live bool   // the live record under RunDir
	Dir  string // the archive directory ("" for the live record)
}

// ViewPath is the measurement view archived with the life ("" for the live
// record).
func (l Life) ViewPath() string {
	if l.Dir == "" {
		return ""
	}
	return filepath.Join(l.Dir, ViewFile)
}

// Lives returns every life of id, oldest first: its archives and its live
// record. The latest is last (the live record, when there is one). An error
// wrapping fs.ErrNotExist means there is no record of id at all; a damaged
// record is an error naming its file, never skipped.
func (s Store) Lives(id string) ([]Life, error) {
	if err := ValidID(id); err != nil {
		return nil, err
	}
	var lives []Life
	idDir := s.ArchiveDirOf(id)
	// The layout before lives kept one archive directly in idDir.
	if r, err := readJSON(filepath.Join(idDir, RecordFile)); err == nil {
		lives = append(lives, Life{Record: r, Key: "legacy", Dir: idDir})
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ents, err := os.ReadDir(idDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue // temp directories of an archive in progress
		}
		dir := filepath.Join(idDir, e.Name())
		r, err := readJSON(filepath.Join(dir, RecordFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		lives = append(lives, Life{Record: r, Key: e.Name(), Dir: dir})
	}
	sort.SliceStable(lives, func(i, j int) bool {
		a, b := lives[i], lives[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		return a.Key < b.Key
	})
	r, err := s.ReadLive(id)
	switch {
	case err == nil:
		key := r.Life
		if key == "" {
			key = "live"
		}
		lives = append(lives, Life{Record: r, Key: key, Live: true})
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if len(lives) == 0 {
		return nil, fmt.Errorf("no record of container %s in %s or %s: %w", id, s.RunDir, s.ArchiveDir, fs.ErrNotExist)
	}
	return lives, nil
}

// mkdirDurable creates dir and any missing parent, and flushes each new
// directory entry to disk.
func mkdirDurable(dir string) error {
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// syncDir flushes dir's entries (a rename or a new file in it) to disk.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
