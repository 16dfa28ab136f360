package preflight

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// walker visits every directory of the rootfs through directory fds
// (openat with O_NOFOLLOW, one level at a time): symlinks are counted, never
// followed, so the walk cannot leave the rootfs. Regular files are opened
// by the walker and judged by a few workers; the channel between them is
// small, which bounds the open files.
type walker struct {
	root   *rootFS
	judge  *judge
	id     *identity
	lim    Limits
	mounts []string

	files, entries          int
	dirs, symlinks, special int
	truncated               string
	notes                   []string
	depthNoted              bool
	dropped                 int
	results                 []FileResult
	shadowed                []string
	mu                      sync.Mutex
	jobs                    chan *target
}

func (w *walker) run(ctx context.Context) {
	w.jobs = make(chan *target, 2*w.lim.Workers)
	var wg sync.WaitGroup
	for i := 0; i < w.lim.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range w.jobs {
				res := w.judgeWalkFile(t)
				t.f.Close()
				w.mu.Lock()
				w.results = append(w.results, res)
				w.mu.Unlock()
			}
		}()
	}
	fd, err := unix.Openat(w.root.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		w.note("cannot read the rootfs directory: %v", err)
	} else {
		w.dir(ctx, fd, "/", 0)
	}
	close(w.jobs)
	wg.Wait()
	if len(w.shadowed) > 0 {
		w.notes = append(w.notes, "not examined, config.json mounts over them: "+strings.Join(w.shadowed, ", "))
	}
	if w.dropped > 0 {
		w.notes = append(w.notes, fmt.Sprintf("... and %d more notes", w.dropped))
	}
}

// maxNotes bounds the notes a hostile rootfs can produce (one per
// unreadable entry otherwise).
const maxNotes = 50

func (w *walker) note(format string, a ...any) {
	if len(w.notes) >= maxNotes {
		w.dropped++
		return
	}
	w.notes = append(w.notes, fmt.Sprintf(format, a...))
}

// dir visits one directory; it owns fd and closes it.
func (w *walker) dir(ctx context.Context, fd int, dirPath string, depth int) {
	f := os.NewFile(uintptr(fd), dirPath)
	defer f.Close()
	w.dirs++
	for {
		// Batches keep memory flat for huge directories; the fd's position
		// survives the recursion below.
		names, err := f.Readdirnames(256)
		for _, name := range names {
			if w.truncated != "" || ctx.Err() != nil {
				return
			}
			w.entry(ctx, fd, dirPath, name, depth)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.note("%s: reading the directory stopped: %v", dirPath, err)
			}
			return
		}
	}
}

func (w *walker) entry(ctx context.Context, dirfd int, dirPath, name string, depth int) {
	w.entries++
	if w.entries > w.lim.MaxEntries {
		w.truncated = fmt.Sprintf("more than %d directory entries (limit max_entries)", w.lim.MaxEntries)
		return
	}
	p := path.Join(dirPath, name)
	if m := shadowedBy(w.mounts, p); m != "" && p == m {
		w.shadowed = append(w.shadowed, p)
		return
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		w.note("%s: %v", p, err)
		return
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if depth+1 > w.lim.MaxDepth {
			if !w.depthNoted {
				w.depthNoted = true
				w.note("directories deeper than %d levels were not examined (first: %s)", w.lim.MaxDepth, p)
			}
			return
		}
		sub, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			w.note("%s: %v", p, err)
			return
		}
		w.dir(ctx, sub, p, depth+1)
	case unix.S_IFLNK:
		w.symlinks++
	case unix.S_IFREG:
		if w.files >= w.lim.MaxFiles {
			w.truncated = fmt.Sprintf("more than %d regular files (limit max_files)", w.lim.MaxFiles)
			return
		}
		w.files++
		f, fst, err := openRegularAt(dirfd, name)
		if err != nil {
			w.mu.Lock()
			w.results = append(w.results, FileResult{Path: p, Verdict: Undecidable, Reason: "cannot open: " + err.Error(),
				Size: st.Size, Mode: modeNames()[st.Mode&0o7777], UID: st.Uid, GID: st.Gid})
			w.mu.Unlock()
			return
		}
		if fst.Dev != st.Dev || fst.Ino != st.Ino {
			f.Close()
			w.note("%s: replaced while the preflight ran; skipped", p)
			return
		}
		select {
		case w.jobs <- &target{path: p, f: f, st: fst}:
		case <-ctx.Done():
			f.Close()
		}
	default:
		w.special++
	}
}

// walkUses are the ways any process of the container may use a file:
// every file can be read; a file with an execute bit can be executed; an
// ELF shared object (or an executable ELF program) is mapped executable.
func (w *walker) walkUses(t *target) []use {
	any := &creds{unknownCredsNote: "any process of the container may use the file"}
	uses := []use{{accRead, any}}
	if t.st.Mode&0o111 != 0 {
		uses = append(uses, use{accOpenExec, any}, use{accBprm, any}, use{accCreds, any})
	}
	if typ, ok := elfType(readHead(t.f, 64)); ok {
		if typ == elf.ET_DYN || (typ == elf.ET_EXEC && t.st.Mode&0o111 != 0) {
			uses = append(uses, w.judge.mmapUses(any)...)
		}
	}
	return uses
}

func (w *walker) judgeWalkFile(t *target) FileResult {
	res := w.judge.judgeFile(t, w.walkUses(t), w.id)
	if res.Verdict == NotAppraised {
		// Every use is "no rule applies": the list adds nothing but
		// memory on a large rootfs.
		res.Accesses = nil
	}
	return res
}
