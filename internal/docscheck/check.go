package docscheck

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Options say what to check and with which binaries.
type Options struct {
	// Root is the repository root: commands run there.
	Root string
	// Files are the Markdown files, relative to Root.
	Files []string
	// EmuBinary is the emulated build that "ima-hook" means on PATH
	// (bin/ima-hook-emu); "ima-runtime" is a symlink to it.
	EmuBinary string
	// Tmp is a private directory; every session gets its own inside it.
	Tmp string
	// Timeout bounds one command.
	Timeout time.Duration
}

// Report counts what the check did.
type Report struct {
	Files       int
	Blocks      int // code blocks seen
	Run         int // console and script blocks run
	Compared    int // blocks of which at least one output was compared
	Commands    int // commands run (setup commands included)
	Outputs     int // outputs compared
	Skipped     int
	SkipReasons map[string]int
	Skips       []string // file:line (reason) of each skipped block
	Text        int      // blocks that are not commands
	Links       int      // relative links checked
	Failures    []string
}

func (r *Report) String() string {
	return fmt.Sprintf("docs-check: %d files, %d code blocks: %d run (%d commands), %d compared (%d outputs), %d skipped, %d not commands; %d relative links checked; %d failures\nskipped:\n\t%s",
		r.Files, r.Blocks, r.Run, r.Commands, r.Compared, r.Outputs, r.Skipped, r.Text, r.Links, len(r.Failures), strings.Join(r.Skips, "\n\t"))
}

// DocFiles lists README.md and docs/*.md under root, as check paths.
func DocFiles(root string) ([]string, error) {
	files := []string{"README.md"}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	sort.Strings(more)
	for _, f := range more {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			return nil, err
		}
		files = append(files, rel)
	}
	return files, nil
}

// Check parses every file and runs its blocks; failures are in the report.
func Check(o Options) (*Report, error) {
	r := &Report{SkipReasons: map[string]int{}}
	binDir := filepath.Join(o.Tmp, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, err
	}
	for _, name := range []string{"ima-hook", "ima-runtime", "ima-hook-emu"} {
		if err := os.Symlink(o.EmuBinary, filepath.Join(binDir, name)); err != nil {
			return nil, err
		}
	}
	path := binDir + string(os.PathListSeparator) + os.Getenv("PATH")
	isProgram := func(w string) bool {
		if strings.HasPrefix(w, "./") || strings.HasPrefix(w, "bin/") {
			return true
		}
		if strings.ContainsAny(w, "/:[]<>|") {
			return false
		}
		for _, d := range filepath.SplitList(path) {
			if fi, err := os.Stat(filepath.Join(d, w)); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return true
			}
		}
		return false
	}
	before := snapshot()
	for i, file := range o.Files {
		r.Files++
		src, err := os.ReadFile(filepath.Join(o.Root, file))
		if err != nil {
			return nil, err
		}
		blocks, err := Parse(file, src, isProgram)
		if err != nil {
			r.Failures = append(r.Failures, err.Error())
		}
		sess := filepath.Join(o.Tmp, fmt.Sprintf("s%02d", i))
		checkFile(o, r, blocks, sess, path)
	}
	var broken []string
	r.Links, broken = CheckLinks(o.Root, o.Files)
	r.Failures = append(r.Failures, broken...)
	if after := snapshot(); after != before {
		r.Failures = append(r.Failures, fmt.Sprintf("the docs' commands changed the host's ima-hook state (%s before, %s after): run them against private directories", before, after))
	}
	return r, nil
}

// guarded are the host's own ima-hook directories: the check must leave
// them as it found them.
var guarded = []string{"/etc/ima-hook", "/run/ima-hook", "/var/lib/ima-hook", "/run/ima-hook-emu"}

func snapshot() string {
	var parts []string
	for _, p := range guarded {
		fi, err := os.Lstat(p)
		if err != nil {
			parts = append(parts, p+": absent")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %v %d", p, fi.ModTime().UnixNano(), fi.Size()))
	}
	return strings.Join(parts, ", ")
}

// checkFile runs one file's blocks in one session.
func checkFile(o Options, r *Report, blocks []Block, dir, path string) {
	var s *Session
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	fail := func(where, format string, args ...any) {
		r.Failures = append(r.Failures, where+": "+fmt.Sprintf(format, args...))
	}
	for bi := range blocks {
		b := &blocks[bi]
		r.Blocks++
		switch {
		case b.Skip != "":
			r.Skipped++
			r.SkipReasons[b.Skip]++
			r.Skips = append(r.Skips, fmt.Sprintf("%s (%s)", b.Where(), b.Skip))
			continue
		case b.Kind == Text:
			r.Text++
			continue
		}
		if s == nil {
			var err error
			s, err = startSession(o, dir, path)
			if err != nil {
				fail(b.Where(), "cannot start the shell: %v", err)
				return
			}
		}
		r.Run++
		compared := false
		cmds := append(append([]Command(nil), b.Setup...), b.Commands...)
		for ci, c := range cmds {
			where := fmt.Sprintf("%s:%d", b.File, c.Line)
			r.Commands++
			out, rc, err := s.Run(c.Text, o.Timeout)
			if err != nil {
				fail(where, "%s: %v; output:\n%s", firstLine(c.Text), err, indent(out))
				return // the session is gone
			}
			if b.Kind == Console && len(c.Expected) > 0 {
				compared = true
				r.Outputs++
				if m := Match(c.Expected, out); m != nil {
					line := c.Line + strings.Count(c.Text, "\n") + 1 + max(m.Line, 0)
					fail(fmt.Sprintf("%s:%d", b.File, line), "output of %q differs: %v; the whole output:\n%s", firstLine(c.Text), m, indent(out))
					continue
				}
			}
			// a failure is shown when the next command prints its $?
			shown := ci+1 < len(cmds) && strings.Contains(cmds[ci+1].Text, "$?")
			if rc != 0 && !shown {
				fail(where, "%s: exit status %d (a command shown must succeed; show a failure with '; echo \"exit status $?\"' or a next command 'echo $?'); output:\n%s", firstLine(c.Text), rc, indent(out))
			}
		}
		if compared {
			r.Compared++
		}
	}
}

func startSession(o Options, dir, path string) (*Session, error) {
	tmp := filepath.Join(dir, "tmp")
	emu := filepath.Join(dir, "emu")
	for _, d := range []string{tmp, emu} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PATH", k == "TMPDIR", k == "LANG", strings.HasPrefix(k, "LC_"),
			strings.HasPrefix(k, "IMA_HOOK_"), strings.HasPrefix(k, "MAKE"), k == "MFLAGS":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+path, "TMPDIR="+tmp, "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
		"IMA_HOOK_EMU_DIR="+emu, "DOCS_CHECK_TMP="+dir)
	return NewSession(filepath.Join(dir, "shell"), o.Root, env)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if len(l) > 80 {
		l = l[:77] + "..."
	}
	return l
}

func indent(s string) string {
	lines := normalize(s)
	if len(lines) > 40 {
		lines = append(lines[:40], fmt.Sprintf("[%d more lines]", len(lines)-40))
	}
	return "\t" + strings.Join(lines, "\n\t")
}
