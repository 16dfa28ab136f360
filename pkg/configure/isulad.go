package configure

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"

	"github.com/ima-hook/ima-hook/internal/userror"
)

// IsuladConfig is iSulad's daemon configuration.
const IsuladConfig = "/etc/isulad/daemon.json"

// isuladArgsKey is how iSulad's daemon.json spells a runtime's arguments
// (Docker's runtimeArgs); iSulad's C structures call the field runtime_args.
const isuladArgsKey = "runtime-args"

// isuladSpec is where `make install` puts the rendered iSulad hook-spec
// (Makefile ISULADSPEC, $(DATADIR)/ima-hook/isulad-hook-spec.json).
func (o Options) isuladSpec() string { return o.Prefix + "/share/ima-hook/isulad-hook-spec.json" }

// isuladHooks are the two entries of hooks.d/isulad/hook-spec.json.in as
// `make install` renders it under o.Prefix (a test holds them equal).
func (o Options) isuladHooks() map[string]any {
	hook := func(stage string) []any {
		return []any{map[string]any{
			"path":    o.binary(),
			"args":    []any{"ima-hook", "hook", "--stage", stage},
			"env":     []any{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"timeout": json.Number("30"),
		}}
	}
	return map[string]any{"prestart": hook("prestart"), "poststop": hook("poststop")}
}

// planIsulad registers the wrapper as iSulad runtime o.Handler. The hook
// reaches containers one of two ways, never both (each container would
// then run two ima-hook hooks: the one the wrapper injects, with its
// flags, and the daemon-wide hook-spec one without them, which refuses
// the entry's unannotated containers that the flags made IMA containers):
//
//   - by default the wrapper adds the hooks to each config.json
//     (--inject-hooks), as for Docker: only containers of this runtime get
//     them, and daemon.json's hook-spec, a single daemon-wide file that
//     iSulad's own default already sets, is left alone. A hook-spec that
//     already runs ima-hook is refused.
//   - with o.IsuladHookSpec the runtime is the plain wrapper and the hooks
//     come from the hook-spec: daemon.json's hook-spec is pointed at the
//     shipped file, or, when it names another file, the two entries are
//     added to that file. A runtime entry that injects hooks or carries
//     the --imans flags is refused.
func planIsulad(o Options, p *Plan) error {
	p.Restart = "systemctl restart isulad (iSulad reads daemon.json only when it starts)"
	cfgPath := IsuladConfig
	text, err := o.readFile(cfgPath)
	if err != nil {
		return err
	}
	cfg, err := decodeJSONObject(text)
	if err != nil {
		return userror.Wrapf(err, o.host(cfgPath), "fix the file (iSulad would not start with it either); nothing was changed", "not valid JSON")
	}
	args := []any{"runtime", "--inject-hooks", "--"}
	if o.IsuladHookSpec {
		args = []any{"runtime", "--"}
	}
	want := map[string]any{"path": o.binary(), isuladArgsKey: args}
	runtimes, _ := cfg["runtimes"].(map[string]any)
	if cfg["runtimes"] != nil && runtimes == nil {
		return userror.New(o.host(cfgPath), "\"runtimes\" is not an object", "fix it; nothing was changed")
	}
	spec, _ := cfg["hook-spec"].(string)
	if cfg["hook-spec"] != nil && (spec == "" || !path.IsAbs(spec)) {
		return userror.New(o.host(cfgPath), "\"hook-spec\" is not an absolute path", "fix it (iSulad requires one); nothing was changed")
	}
	if o.IsuladHookSpec {
		for _, name := range sortedKeys(runtimes) {
			if name != o.Handler && injectsHooks(runtimes[name]) {
				return userror.New(o.host(cfgPath), "runtime "+name+" adds ima-hook's hooks itself (--inject-hooks or --imans flags), and with the hook-spec its containers would run ima-hook twice",
					"remove those arguments, or run configure without --hook-spec; nothing was changed")
			}
		}
	} else if spec != "" {
		runs, err := o.specRunsImaHook(spec)
		if err != nil {
			return err
		}
		if runs {
			return userror.New(o.host(cfgPath), "hook-spec "+spec+" runs ima-hook for every container already, and runtime "+o.Handler+" would add it again",
				"run configure with --hook-spec, or remove ima-hook from the hook-spec; nothing was changed")
		}
	}
	var what []string
	if have, ok := runtimes[o.Handler]; ok {
		if !reflect.DeepEqual(have, want) {
			return userror.New(o.host(cfgPath), "runtime "+o.Handler+" is there already, differently", "remove it (a backup first) and run configure again; nothing was changed")
		}
		p.Unchanged = append(p.Unchanged, cfgPath+": runtime "+o.Handler+" (already there)")
	} else {
		if runtimes == nil {
			runtimes = map[string]any{}
		}
		runtimes[o.Handler] = want
		cfg["runtimes"] = runtimes
		what = append(what, fmt.Sprintf("added runtime %s (%s %s)", o.Handler, o.binary(), strings.Join(anyStrings(args), " ")))
	}
	if o.IsuladHookSpec {
		switch spec {
		case o.isuladSpec():
			p.Unchanged = append(p.Unchanged, cfgPath+": hook-spec "+spec+" (already there)")
		case "":
			cfg["hook-spec"] = o.isuladSpec()
			what = append(what, "set hook-spec "+o.isuladSpec())
		default:
			if err := o.addToHookSpec(p, spec); err != nil {
				return err
			}
		}
	}
	if len(what) == 0 {
		return nil
	}
	out, err := json.MarshalIndent(cfg, "", "    ")
	if err != nil {
		return err
	}
	p.add(cfgPath, text, append(out, '\n'), 0o644, strings.Join(what, ", "))
	return nil
}

// addToHookSpec plans adding ima-hook's two entries to the hook-spec file
// daemon.json names (iSulad takes one for the whole daemon).
func (o Options) addToHookSpec(p *Plan, spec string) error {
	text, err := o.readFile(spec)
	if err != nil {
		return err
	}
	if text == nil {
		return userror.New(o.host(spec), "the hook-spec "+IsuladConfig+" names does not exist",
			"create it or remove \"hook-spec\" from "+IsuladConfig+", then run configure again; nothing was changed")
	}
	hs, err := decodeJSONObject(text)
	if err != nil {
		return userror.Wrapf(err, o.host(spec), "fix the file (iSulad would not start with it either); nothing was changed", "not valid JSON")
	}
	var added []string
	for _, stage := range []string{"prestart", "poststop"} {
		entry := o.isuladHooks()[stage].([]any)[0]
		list, ok := hs[stage].([]any)
		if hs[stage] != nil && !ok {
			return userror.New(o.host(spec), fmt.Sprintf("%q is not a list", stage), "fix it; nothing was changed")
		}
		if slices.ContainsFunc(list, func(h any) bool { return reflect.DeepEqual(h, entry) }) {
			continue
		}
		if slices.ContainsFunc(list, isImaHook) {
			return userror.New(o.host(spec), "its "+stage+" list runs ima-hook already, differently", "remove that entry (a backup first) and run configure again; nothing was changed")
		}
		hs[stage] = append(list, entry)
		added = append(added, stage)
	}
	if len(added) == 0 {
		p.Unchanged = append(p.Unchanged, spec+": ima-hook's hooks (already there)")
		return nil
	}
	out, err := json.MarshalIndent(hs, "", "    ")
	if err != nil {
		return err
	}
	p.add(spec, text, append(out, '\n'), 0o644, "added ima-hook's "+strings.Join(added, " and ")+" hooks")
	return nil
}

// specRunsImaHook says whether the hook-spec file spec has an ima-hook
// hook; the shipped one does, whether or not it is installed yet. A
// missing file has none (iSulad would refuse to start, which is
// not ours to fix); one that cannot be parsed is refused.
func (o Options) specRunsImaHook(spec string) (bool, error) {
	if spec == o.isuladSpec() {
		return true, nil
	}
	text, err := o.readInput(spec)
	if err != nil || text == nil {
		return false, err
	}
	hs, err := decodeJSONObject(text)
	if err != nil {
		return false, userror.Wrapf(err, o.host(spec), "fix the file (iSulad would not start with it either); nothing was changed", "the hook-spec "+IsuladConfig+" names is not valid JSON")
	}
	for _, stage := range []string{"prestart", "poststart", "poststop"} {
		list, _ := hs[stage].([]any)
		if slices.ContainsFunc(list, isImaHook) {
			return true, nil
		}
	}
	return false, nil
}

// isImaHook: a hook-spec entry whose program is ima-hook.
func isImaHook(h any) bool {
	m, _ := h.(map[string]any)
	p, _ := m["path"].(string)
	return path.Base(p) == "ima-hook"
}

// injectsHooks: an iSulad runtime entry whose wrapper adds the hooks to
// config.json itself: --inject-hooks, or the guide's --imans flags (which
// imply it), in any of the forms the wrapper takes.
func injectsHooks(rt any) bool {
	m, _ := rt.(map[string]any)
	args, _ := m[isuladArgsKey].([]any)
	for _, a := range args {
		s, _ := a.(string)
		for _, f := range []string{"--inject-hooks", "--imans", "--ima-x509", "--ima-kcmd"} {
			if s == f || strings.HasPrefix(s, f+"=") || strings.HasPrefix(s, f+" ") {
				return true
			}
		}
	}
	return false
}

// decodeJSONObject parses a JSON object, numbers kept as written; empty
// text is an empty object.
func decodeJSONObject(text []byte) (map[string]any, error) {
	m := map[string]any{}
	if len(bytes.TrimSpace(text)) == 0 {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return m, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func anyStrings(a []any) []string {
	s := make([]string, len(a))
	for i, v := range a {
		s[i], _ = v.(string)
	}
	return s
}
