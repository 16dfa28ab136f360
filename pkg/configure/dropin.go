package configure

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/ima-hook/ima-hook/internal/userror"
)

// DropInName is the file configure writes into an engine's drop-in
// directory; drop-ins apply in lexical order, later ones win.
const DropInName = "50-ima-hook.conf"

// Files of CRI-O and podman.
const (
	CRIOConfig        = "/etc/crio/crio.conf"
	CRIODropIns       = "/etc/crio/crio.conf.d"
	PodmanVendorConf  = "/usr/share/containers/containers.conf"
	PodmanConfig      = "/etc/containers/containers.conf"
	PodmanDropIns     = "/etc/containers/containers.conf.d"
	defaultHooksDirV1 = "/usr/share/containers/oci/hooks.d"
)

// dropInEngine describes a TOML engine configured through a drop-in.
type dropInEngine struct {
	name     string
	mains    []string // read in this order, before the drop-ins
	dir      string
	hooksKey []string // where hooks_dir is
	// runtimeKey is where the runtime entry is; runtime is what it must
	// hold, entry its TOML text (under the runtime's table or key).
	runtimeKey []string
	runtime    any
	entry      string
	restart    string
}

func planCRIO(o Options, p *Plan) error {
	return planDropIn(o, p, dropInEngine{
		name:       "CRI-O",
		mains:      []string{CRIOConfig},
		dir:        CRIODropIns,
		hooksKey:   []string{"crio", "runtime", "hooks_dir"},
		runtimeKey: []string{"crio", "runtime", "runtimes", o.Handler},
		runtime:    map[string]any{"runtime_path": o.wrapper(), "runtime_type": "oci"},
		entry: fmt.Sprintf("[crio.runtime.runtimes.%s]\n# CRI-O copies the pod's annotations into the container's config;\n# the hooks.d files match io.imans.enable there.\nruntime_path = %s\nruntime_type = \"oci\"\nruntime_root = \"/run/runc\"\n",
			o.Handler, tomlString(o.wrapper())),
		restart: "systemctl restart crio (CRI-O reads hooks_dir and its runtimes only at start)",
	})
}

func planPodman(o Options, p *Plan) error {
	return planDropIn(o, p, dropInEngine{
		name:       "podman",
		mains:      []string{PodmanVendorConf, PodmanConfig},
		dir:        PodmanDropIns,
		hooksKey:   []string{"engine", "hooks_dir"},
		runtimeKey: []string{"engine", "runtimes", o.Handler},
		runtime:    []any{o.wrapper()},
		entry:      fmt.Sprintf("[engine.runtimes]\n%s = %s\n", o.Handler, tomlArray([]string{o.wrapper()})),
		restart:    "none: podman reads its configuration at every command (podman --runtime " + o.Handler + " run --annotation io.imans.enable=true ...)",
	})
}

func planDropIn(o Options, p *Plan, e dropInEngine) error {
	p.Restart = e.restart
	ours := filepath.Join(e.dir, DropInName)
	files := append([]string{}, e.mains...)
	ents, err := o.readNodeDir(e.dir)
	if err != nil {
		return err
	}
	var dropIns []string
	for _, d := range ents {
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".conf") {
			dropIns = append(dropIns, d.Name())
		}
	}
	sort.Strings(dropIns)
	for _, n := range dropIns {
		files = append(files, filepath.Join(e.dir, n))
	}

	var hooks []string
	hooksFrom := ""
	var ourOld []byte
	for _, f := range files {
		read := o.readInput
		if f == ours {
			read = o.readFile // replaced below
		}
		text, err := read(f)
		if err != nil {
			return err
		}
		if text == nil {
			continue
		}
		cfg := map[string]any{}
		if err := decodeTOML(text, &cfg); err != nil {
			return userror.Wrap(err, o.host(f), "not valid TOML: "+oneLine(err.Error()), "fix the file ("+e.name+" would not read it either); nothing was changed")
		}
		if f == ours {
			ourOld = text
			continue
		}
		if h, ok := lookup(cfg, e.hooksKey...).([]any); ok {
			later := filepath.Dir(f) == e.dir && filepath.Base(f) > DropInName
			if later && !containsString(h, o.hooksDir()) {
				return userror.New(o.host(f), "sets "+strings.Join(e.hooksKey, ".")+" after "+DropInName+" and without "+o.hooksDir()+", so the hooks.d files would not be found",
					"add "+o.hooksDir()+" to its hooks_dir; nothing was changed")
			}
			hooks, hooksFrom = nil, f
			for _, x := range h {
				if s, ok := x.(string); ok {
					hooks = append(hooks, s)
				}
			}
		}
		if have := lookup(cfg, e.runtimeKey...); have != nil {
			same := reflect.DeepEqual(have, e.runtime)
			if m, ok := have.(map[string]any); ok {
				same = sameRuntime(m, e.runtime.(map[string]any)) == nil
			}
			if !same {
				return userror.New(o.host(f), "defines runtime "+o.Handler+" already, differently", "remove it there, or pick another --handler; nothing was changed")
			}
		}
	}
	if hooksFrom == "" {
		hooks = []string{defaultHooksDirV1} // the engines' built-in default
	}
	var b strings.Builder
	b.WriteString(header)
	what := "runtime " + o.Handler + " = " + o.wrapper()
	if !slices.Contains(hooks, o.hooksDir()) {
		// A drop-in's hooks_dir replaces the list: keep what was in force.
		section := strings.Join(e.hooksKey[:len(e.hooksKey)-1], ".")
		fmt.Fprintf(&b, "\n[%s]\n# The directories in force before (%s), and ima-hook's hooks.d files.\nhooks_dir = %s\n",
			section, orBuiltin(hooksFrom), tomlArray(append(hooks, o.hooksDir())))
		what += ", hooks_dir + " + o.hooksDir()
	}
	b.WriteString("\n" + e.entry)
	// What is written must read back as meant.
	check := map[string]any{}
	if err := decodeTOML([]byte(b.String()), &check); err != nil {
		return fmt.Errorf("configure: generated %s does not parse: %v", ours, err)
	}
	p.add(ours, ourOld, []byte(b.String()), 0o644, what)
	return nil
}

func orBuiltin(f string) string {
	if f == "" {
		return "the built-in default"
	}
	return f
}

func containsString(list []any, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
