package configure

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/ima-hook/ima-hook/internal/userror"
)

// ContainerdConfig is containerd's config file.
const ContainerdConfig = "/etc/containerd/config.toml"

// criPlugin is the plugin that holds the CRI runtimes, by config version:
// 2 for containerd 1.x (and accepted by 2.x), 3 for containerd 2.x.
var criPlugin = map[int64]string{2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}

func planContainerd(o Options, p *Plan) error {
	p.Restart = "systemctl restart containerd (running containers keep running: their shims stay)"
	// containerd reads no hooks.d: the runtime it runs adds the hooks.
	script := "#!/bin/sh\n# Written by `ima-hook configure --engine containerd`: containerd reads no\n# hooks.d, so the wrapper adds the ima-hook hooks to the container's config.\nexec " +
		o.binary() + " runtime --inject-hooks -- \"$@\"\n"
	old, err := o.readFile(o.inject())
	if err != nil {
		return err
	}
	p.add(o.inject(), old, []byte(script), 0o755, "the runtime containerd runs for handler "+o.Handler+" (the wrapper with --inject-hooks)")

	path := ContainerdConfig
	text, err := o.readFile(path)
	if err != nil {
		return err
	}
	subject := o.host(path)
	cfg := map[string]any{}
	if text != nil {
		if err := decodeTOML(text, &cfg); err != nil {
			return userror.Wrap(err, subject, "not valid TOML: "+oneLine(err.Error()), "fix the file (containerd would not start with it either); nothing was changed")
		}
	}
	version := int64(2)
	if text != nil {
		v, ok := cfg["version"].(int64)
		if !ok || criPlugin[v] == "" {
			return userror.New(subject, fmt.Sprintf("config version %v: only versions 2 and 3 are handled", cfg["version"]),
				"migrate it first (containerd config migrate, containerd 1.7 or later); nothing was changed")
		}
		version = v
	}
	plugin := criPlugin[version]
	table := fmt.Sprintf("plugins.%s.containerd.runtimes.%s", tomlString(plugin), o.Handler)
	want := map[string]any{
		"runtime_type":          "io.containerd.runc.v2",
		"pod_annotations":       []any{AnnotationGlob},
		"container_annotations": []any{AnnotationGlob},
	}
	options := map[string]any{"BinaryName": o.inject()}
	// The ima runtime must drive cgroups as the default runc runtime does
	// (kubelet's cgroup driver): copy SystemdCgroup.
	if sd, ok := lookup(cfg, "plugins", plugin, "containerd", "runtimes", "runc", "options", "SystemdCgroup").(bool); ok {
		options["SystemdCgroup"] = sd
	}
	want["options"] = options
	if have := lookup(cfg, "plugins", plugin, "containerd", "runtimes", o.Handler); have != nil {
		if err := sameRuntime(have, want); err != nil {
			return userror.New(subject, "runtime "+o.Handler+" is there already, but "+err.Error(),
				"remove the ["+table+"] tables (a backup first) and run configure again, or fix them by hand; nothing was changed")
		}
		p.Unchanged = append(p.Unchanged, path+": runtime handler "+o.Handler+" (already there)")
		return nil
	}
	var add strings.Builder
	fmt.Fprintf(&add, "\n# Added by `ima-hook configure`: runtime handler %s (RuntimeClass handler %q)\n# runs the ima-hook wrapper and passes it the io.imans.* annotations.\n", o.Handler, o.Handler)
	fmt.Fprintf(&add, "[%s]\n  runtime_type = \"io.containerd.runc.v2\"\n  pod_annotations = %s\n  container_annotations = %s\n",
		table, tomlArray([]string{AnnotationGlob}), tomlArray([]string{AnnotationGlob}))
	fmt.Fprintf(&add, "  [%s.options]\n    BinaryName = %s\n", table, tomlString(o.inject()))
	if sd, ok := options["SystemdCgroup"].(bool); ok {
		fmt.Fprintf(&add, "    SystemdCgroup = %v\n", sd)
	}
	base := text
	if base == nil {
		base = []byte("version = 2\n")
	}
	if len(base) > 0 && base[len(base)-1] != '\n' {
		base = append(base, '\n')
	}
	next := append(append([]byte{}, base...), add.String()...)
	// The appended tables must mean exactly the entry, and nothing of the
	// rest may change meaning (a layout with inline tables, say, would
	// not take them).
	after := map[string]any{}
	if err := decodeTOML(next, &after); err != nil {
		return userror.Wrap(err, subject, "the runtime entry cannot be appended to this file's layout ("+oneLine(err.Error())+")",
			"add ["+table+"] by hand (docs/kubernetes.md shows it); nothing was changed")
	}
	if err := sameRuntime(lookup(after, "plugins", plugin, "containerd", "runtimes", o.Handler), want); err != nil {
		return userror.New(subject, "the appended runtime entry would not read back as written: "+err.Error(), "add it by hand; nothing was changed")
	}
	if rt, ok := lookup(after, "plugins", plugin, "containerd", "runtimes").(map[string]any); ok {
		delete(rt, o.Handler)
	}
	if text != nil && !reflect.DeepEqual(normalize(cfg), normalize(after)) {
		return userror.New(subject, "appending the runtime entry would change other settings", "add it by hand; nothing was changed")
	}
	what := "added runtime handler " + o.Handler + " (runc v2 shim, BinaryName " + o.inject() + ", io.imans.* pod and container annotations)"
	if text == nil {
		what = "created it (config version 2) with " + strings.TrimPrefix(what, "added ")
	}
	p.add(path, text, next, 0o644, what)
	return nil
}

// lookup walks nested tables; nil when any step is missing.
func lookup(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		t, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = t[k]
	}
	return cur
}

// sameRuntime checks that have holds what want says (more keys are fine:
// the admin may have tuned the entry).
func sameRuntime(have any, want map[string]any) error {
	h, ok := have.(map[string]any)
	if !ok {
		return fmt.Errorf("it is not a table")
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w := want[k]
		switch w := w.(type) {
		case map[string]any:
			if err := sameRuntime(h[k], w); err != nil {
				return fmt.Errorf("%s: %v", k, err)
			}
		case []any:
			list, _ := h[k].([]any)
			for _, item := range w {
				if !slices.Contains(list, item) {
					return fmt.Errorf("%s does not list %v", k, item)
				}
			}
		default:
			if !reflect.DeepEqual(h[k], w) {
				return fmt.Errorf("%s is %v, not %v", k, h[k], w)
			}
		}
	}
	return nil
}

// normalize drops empty tables, which appending a subtable may create
// implicitly where the file had none.
func normalize(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, x := range m {
		x = normalize(x)
		if t, ok := x.(map[string]any); ok && len(t) == 0 {
			continue
		}
		out[k] = x
	}
	return out
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
