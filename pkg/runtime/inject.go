package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ima-hook/ima-hook/pkg/oci"
)

// HookSpec is the ima-hook entry the wrapper adds to a bundle's config when
// asked to (--inject-hooks): for engines that do not read hooks.d
// (containerd, Docker), the same pattern as runtime wrappers that add their
// prestart hook to config.json before calling runc.
type HookSpec struct {
	Path    string   // absolute path of the ima-hook binary
	Config  string   // admin config passed to the hook, "" for the default
	Env     []string // the hook's whole environment (runc passes no other)
	Timeout int      // seconds
	// Args are added to the hook's arguments: the runtime entry's guide
	// flags (config.RuntimeDefaults.Args), so the hook resolves the same
	// configuration as the wrapper.
	Args []string
}

func (h HookSpec) entry(stage string) map[string]any {
	args := []string{"ima-hook", "hook", "--stage", stage}
	if h.Config != "" {
		args = append(args, "--config", h.Config)
	}
	args = append(args, h.Args...)
	e := map[string]any{"path": h.Path, "args": args, "env": h.Env}
	if h.Timeout > 0 {
		e["timeout"] = h.Timeout
	}
	return e
}

// hookStages are the stages the hook handles, with the config keys.
var hookStages = []string{"createRuntime", "poststop"}

// InjectHooks adds the ima-hook createRuntime and poststop entries to the
// config file at path unless an ima-hook entry for that stage is there
// already (podman and CRI-O add one from hooks.d). Every other field is kept
// as it was (the file is edited as raw JSON, so fields newer than our
// runtime-spec types survive); the file is replaced atomically.
func InjectHooks(path string, h HookSpec) (bool, error) {
	b, err := oci.ReadConfigFile(path)
	if err != nil {
		return false, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return false, fmt.Errorf("not a JSON object: %s", oci.DescribeJSONError(err, b))
	}
	hooks := map[string]json.RawMessage{}
	if raw, ok := doc["hooks"]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if err := json.Unmarshal(raw, &hooks); err != nil {
			return false, fmt.Errorf("hooks: %v", err)
		}
	}
	changed := false
	for _, stage := range hookStages {
		var list []json.RawMessage
		if raw, ok := hooks[stage]; ok {
			if err := json.Unmarshal(raw, &list); err != nil {
				return false, fmt.Errorf("hooks.%s: %v", stage, err)
			}
		}
		if hasIMAHook(list, stage) {
			continue
		}
		e, _ := json.Marshal(h.entry(stage))
		// createRuntime: first, so the namespace is populated before any
		// other hook runs in it; poststop: last, after the others' cleanup.
		if stage == "createRuntime" {
			list = append([]json.RawMessage{e}, list...)
		} else {
			list = append(list, e)
		}
		raw, _ := json.Marshal(list)
		hooks[stage] = raw
		changed = true
	}
	if !changed {
		return false, nil
	}
	raw, _ := json.Marshal(hooks)
	doc["hooks"] = raw
	out, err := json.Marshal(doc)
	if err != nil {
		return false, err
	}
	return true, writeFileAtomic(path, out)
}

// hasIMAHook reports whether list holds an ima-hook entry for stage.
func hasIMAHook(list []json.RawMessage, stage string) bool {
	for _, raw := range list {
		var e struct {
			Path string   `json:"path"`
			Args []string `json:"args"`
		}
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		name := filepath.Base(e.Path)
		if len(e.Args) > 0 {
			name += " " + filepath.Base(e.Args[0])
		}
		if !strings.Contains(name, "ima-hook") {
			continue
		}
		for i, a := range e.Args {
			if a == "--stage="+stage || a == "--stage" && i+1 < len(e.Args) && e.Args[i+1] == stage {
				return true
			}
		}
	}
	return false
}

func writeFileAtomic(path string, data []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".ima-hook-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(st.Mode().Perm()); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
