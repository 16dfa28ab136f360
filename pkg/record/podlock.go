package record

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// io.imans.scope=pod: the pod's app containers share one IMA namespace,
// created by the first and joined by the rest. kubelet starts a pod's
// containers one at a time, but nothing else has to (another engine, a
// retry, a hand-made bundle): the wrapper decides between creating and
// joining under a lock of the pod, and a creator notes the pod beside its
// other notes (<id>.pod, the pod's key) so that a start that comes while
// the namespace is being created waits for it instead of creating a
// second one.

// PodKey is the file name part of a pod: a hash of its sandbox id, which
// is the engine's text and no file name of ours.
func PodKey(sandboxID string) string {
	sum := sha256.Sum256([]byte(sandboxID))
	return hex.EncodeToString(sum[:16])
}

// PodsDir holds the pods' lock files.
func (s Store) PodsDir() string { return filepath.Join(s.RunDir, "pods") }

// PodNotePath is the note of container id that it creates the IMA
// namespace of a pod (its content: the pod's key).
func (s Store) PodNotePath(id string) string { return filepath.Join(s.CreatedDir(), id+".pod") }

// ErrPodLockTimeout: the pod's lock was not had within the wait.
var ErrPodLockTimeout = errors.New("timed out waiting for the pod's lock")

// LockPod takes the lock of the pod with sandbox id sandboxID, waiting at
// most until deadline. The lock file is opened without following a
// symlink and removed at unlock (so that a node's pods leave no files
// behind); a waiter that got the lock of a file removed meanwhile tries
// again on the new one.
func (s Store) LockPod(sandboxID string, deadline time.Time) (unlock func(), err error) {
	if sandboxID == "" {
		return nil, errors.New("no sandbox id")
	}
	if err := os.MkdirAll(s.PodsDir(), 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(s.PodsDir(), PodKey(sandboxID)+".lock")
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, err
		}
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if err == nil || !errors.Is(err, syscall.EWOULDBLOCK) {
				break
			}
			if time.Now().After(deadline) {
				f.Close()
				return nil, ErrPodLockTimeout
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		held, herr := f.Stat()
		now, nerr := os.Lstat(path)
		if herr == nil && nerr == nil && os.SameFile(held, now) {
			return func() {
				os.Remove(path)
				f.Close()
			}, nil
		}
		// The holder before us removed the file we locked: lock the
		// path's file anew.
		f.Close()
		if herr != nil {
			return nil, herr
		}
		if nerr != nil && !errors.Is(nerr, fs.ErrNotExist) {
			return nil, nerr
		}
	}
}

// WritePodNote notes that container id creates the IMA namespace of the
// pod with sandbox id sandboxID (under the pod's lock, after NoteOwner).
func (s Store) WritePodNote(id, sandboxID string) error {
	if err := ValidID(id); err != nil {
		return err
	}
	return writeAtomic(s.PodNotePath(id), false, func(w io.Writer) error {
		_, err := io.WriteString(w, PodKey(sandboxID)+"\n")
		return err
	})
}

// PodCreatorPending returns a container, other than self, that is creating
// the IMA namespace of the pod with sandbox id sandboxID and has not
// finished: its pod note says so, the wrapper that creates it still runs
// (its owner note; the wrapper waits for the runtime's create, in which
// the hook writes the record), and the hook has not yet written its live
// record. "" when there is none. Call it under the pod's lock.
func (s Store) PodCreatorPending(sandboxID, self string) (string, error) {
	ents, err := os.ReadDir(s.CreatedDir())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	key := PodKey(sandboxID)
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".pod")
		if !ok || id == self || ValidID(id) != nil || !e.Type().IsRegular() {
			continue
		}
		b, err := ReadBounded(s.PodNotePath(id), int64(len(key)+2))
		if err != nil || strings.TrimSpace(string(b)) != key {
			continue
		}
		o, err := s.ReadOwner(id)
		if err != nil || !o.Alive() {
			continue // ended: it created the namespace, or failed
		}
		if r, err := s.ReadLive(id); err == nil && r.Kubernetes != nil && r.Kubernetes.SandboxID == sandboxID {
			continue // the hook has recorded it: applied, or refused
		}
		return id, nil
	}
	return "", nil
}
