// Package configure registers ima-hook with a container engine's own
// configuration, the way `nvidia-ctk runtime configure` does for GPUs: a
// runtime handler (or runtime) named "ima" that runs the wrapper, the
// annotation pass-through, and the hooks.d directory where the engine needs
// it. It plans first (Make: parse everything, decide every change) and
// writes only when the whole plan stands (Plan.Apply: a backup of every
// file it replaces, then an atomic rename); an unparseable config is
// refused and nothing is changed. Running it again changes nothing.
//
// Where each engine's configuration goes:
//
//   - containerd: config.toml itself. containerd 1.x merges an imported
//     file's plugin section over the main file's as a whole (a drop-in with
//     the ima runtime would drop the main file's CRI settings, checked with
//     `containerd config dump` on 1.6.20), so the entry is appended to the
//     main file, whose text stays as it is.
//   - CRI-O: a drop-in in /etc/crio/crio.conf.d.
//   - podman: a drop-in in /etc/containers/containers.conf.d.
//   - Docker: daemon.json (Docker has no drop-in directory).
//   - iSulad: /etc/isulad/daemon.json, and with the hook-spec option the
//     hook-spec it names (isulad.go).
package configure

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/ima-hook/ima-hook/internal/userror"
)

// Engines configure knows.
var Engines = []string{"containerd", "cri-o", "podman", "docker", "isulad"}

// The annotation keys engines must pass to the runtime.
const AnnotationGlob = "io.imans.*"

// Options say what to configure and where ima-hook is installed.
type Options struct {
	Engine string
	// Root is prepended to every engine file (the node's filesystem as a
	// DaemonSet mounts it, e.g. /host); "" or "/" for this machine.
	Root string
	// Prefix is where `make install` put ima-hook (PREFIX, /usr/local):
	// the wrapper PREFIX/bin/ima-runtime, the binary
	// PREFIX/libexec/oci/hooks.d/ima-hook, the hooks.d files
	// PREFIX/share/containers/oci/hooks.d. These are paths on the node.
	Prefix string
	// Handler is the runtime handler name (RuntimeClass handler), "ima".
	Handler string
	// IsuladHookSpec (iSulad only): the hooks come from daemon.json's
	// hook-spec instead of the wrapper's --inject-hooks (isulad.go).
	IsuladHookSpec bool
}

// DefaultPrefix and DefaultHandler are the defaults of Options.
const (
	DefaultPrefix  = "/usr/local"
	DefaultHandler = "ima"
)

func (o Options) wrapper() string  { return o.Prefix + "/bin/ima-runtime" }
func (o Options) binary() string   { return o.Prefix + "/libexec/oci/hooks.d/ima-hook" }
func (o Options) hooksDir() string { return o.Prefix + "/share/containers/oci/hooks.d" }
func (o Options) inject() string   { return o.Prefix + "/bin/ima-runtime-inject" }

// host is the path of node file p as this process sees it.
func (o Options) host(p string) string {
	if o.Root == "" || o.Root == "/" {
		return p
	}
	return filepath.Join(o.Root, p)
}

// Change is one file to write.
type Change struct {
	Path string // node path (without Root)
	// Old is the current content; nil when the file does not exist.
	Old  []byte
	New  []byte
	Mode os.FileMode
	What string // what the change does, one line
}

// Plan is everything configure would do for one engine.
type Plan struct {
	Engine  string
	Changes []Change
	// Unchanged says what was already in place.
	Unchanged []string
	// Restart is what the engine needs to see the change.
	Restart string
	opts    Options
}

// Make reads the engine's configuration and plans the changes. It writes
// nothing.
func Make(o Options) (*Plan, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Handler == "" {
		o.Handler = DefaultHandler
	}
	if !filepath.IsAbs(o.Prefix) {
		return nil, userror.New("--prefix", fmt.Sprintf("%s is not an absolute path", userror.Quote(o.Prefix)), "give where ima-hook is installed, e.g. /usr/local")
	}
	if !validHandler(o.Handler) {
		return nil, userror.New("--handler", fmt.Sprintf("%s is not a runtime handler name", userror.Quote(o.Handler)), "use lower-case letters, digits and '-', e.g. ima")
	}
	if o.IsuladHookSpec && o.Engine != "isulad" {
		return nil, userror.New("--hook-spec", "is for --engine isulad only", "leave it out")
	}
	p := &Plan{Engine: o.Engine, opts: o}
	var err error
	switch o.Engine {
	case "containerd":
		err = planContainerd(o, p)
	case "cri-o":
		err = planCRIO(o, p)
	case "podman":
		err = planPodman(o, p)
	case "docker":
		err = planDocker(o, p)
	case "isulad":
		err = planIsulad(o, p)
	default:
		return nil, userror.New("--engine", fmt.Sprintf("unknown engine %s", userror.Quote(o.Engine)), "use one of "+strings.Join(Engines, ", "))
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// validHandler: a DNS label, as RuntimeClass handlers are.
func validHandler(h string) bool {
	if h == "" || len(h) > 63 || h[0] == '-' || h[len(h)-1] == '-' {
		return false
	}
	for _, c := range h {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// readFile returns the content of node file p, which configure may
// replace, nil when it does not exist (nodefs.go says how it is read).
func (o Options) readFile(p string) ([]byte, error) { return o.readNodeFile(p, false) }

// readInput is readFile for a file configure only reads: a symlink inside
// the node root is followed.
func (o Options) readInput(p string) ([]byte, error) { return o.readNodeFile(p, true) }

// add plans writing content to node file p unless it holds exactly that.
func (p *Plan) add(path string, old, content []byte, mode os.FileMode, what string) {
	if old != nil && bytes.Equal(old, content) {
		p.Unchanged = append(p.Unchanged, path+": "+what+" (already there)")
		return
	}
	p.Changes = append(p.Changes, Change{Path: path, Old: old, New: content, Mode: mode, What: what})
}

// Apply writes the plan: for each file a backup of the old content
// (PATH.ima-hook-backup-<time>) and the new content, each first written
// whole to a temporary file beside it; only when every file is staged are
// they renamed into place, so that a failure (a full disk, a symlink where
// a file was planned) leaves every engine file as it was, never half a
// configuration. It returns one line per file written.
func (p *Plan) Apply(now time.Time) ([]string, error) {
	r, err := p.opts.openNode()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	stamp := now.UTC().Format("20060102T150405Z")
	var all []staged
	defer func() {
		for _, s := range all {
			_ = r.Remove(s.tmp) // gone already once renamed
		}
	}()
	lines := make([]string, len(p.Changes))
	// Files that exist first: their directories exist, so a failure to
	// stage them (the likelier one) comes before any directory is made.
	order := make([]int, 0, len(p.Changes))
	for i, c := range p.Changes {
		if c.Old != nil {
			order = append(order, i)
		}
	}
	for i, c := range p.Changes {
		if c.Old == nil {
			order = append(order, i)
		}
	}
	for _, i := range order {
		c := p.Changes[i]
		mode := c.Mode
		line := "wrote " + c.Path + ": " + c.What
		if c.Old != nil {
			if st, err := r.Lstat(rel(c.Path)); err == nil && st.Mode().IsRegular() {
				mode = st.Mode().Perm()
			}
			backup := c.Path + ".ima-hook-backup-" + stamp
			s, err := p.opts.stage(r, backup, c.Old, mode)
			if err != nil {
				return nil, err
			}
			all = append(all, s)
			line += " (backup " + backup + ")"
		}
		s, err := p.opts.stage(r, c.Path, c.New, mode)
		if err != nil {
			return nil, err
		}
		all = append(all, s)
		lines[i] = line
	}
	for i, s := range all {
		if err := r.Rename(s.tmp, s.dst); err != nil {
			subject := p.opts.host("/" + s.dst)
			if i == 0 {
				return nil, userror.Wrapf(err, subject, "fix permissions; nothing was changed", "cannot put it in place")
			}
			return nil, userror.Wrapf(err, subject, "check the files named above against their backups", "cannot put it in place after %d other files were", i)
		}
	}
	return lines, nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlArray(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

const header = "# Written by `ima-hook configure`: the runtime handler that gives containers\n# their own IMA namespace (docs/kubernetes.md). Run it again rather than\n# editing this file.\n"

// decodeTOML parses TOML strictly by the TOML 1.0 specification, with
// the parser containerd 2.x and the containers libraries use (go-toml): a
// file that a lenient parser takes but the engine does not (a table added
// to an inline table, say) must never be written.
func decodeTOML(text []byte, m *map[string]any) error {
	return toml.Unmarshal(text, m)
}
