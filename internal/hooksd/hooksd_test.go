package hooksd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"go.podman.io/common/pkg/hooks"
	hook "go.podman.io/common/pkg/hooks/1.0.0"
)

// placeholder is what `make install` replaces (sed s|@LIBEXECDIR@|$(LIBEXECDIR)|).
const placeholder = "@LIBEXECDIR@"

// podmanExtensionStages are the stages podman runs itself instead of giving
// them to the runtime (libpod: []string{"precreate", "poststop"}); CRI-O
// passes none.
var podmanExtensionStages = []string{"precreate", "poststop"}

const enableKey = "io.imans.enable"

// template is one shipped hooks.d template.
type template struct {
	name string // file name without .in, e.g. 50-ima-hook-poststop.json
	raw  []byte
}

func templates(t *testing.T) []template {
	t.Helper()
	paths, err := filepath.Glob("../../hooks.d/*.json.in")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no hooks.d/*.json.in templates shipped")
	}
	var out []template
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, template{name: strings.TrimSuffix(filepath.Base(p), ".in"), raw: raw})
	}
	return out
}

// installTree makes PREFIX/libexec/oci/hooks.d/ima-hook as an executable
// file (podman's loader skips hooks whose binary is missing) and returns
// LIBEXECDIR.
func installTree(t *testing.T) string {
	t.Helper()
	libexec := filepath.Join(t.TempDir(), "libexec")
	bin := filepath.Join(libexec, "oci", "hooks.d", "ima-hook")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return libexec
}

// render fills the placeholder like `make install` and writes every template
// into a fresh hooks.d directory, returning it.
func render(t *testing.T, libexec string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tp := range templates(t) {
		out := bytes.ReplaceAll(tp.raw, []byte(placeholder), []byte(libexec))
		if err := os.WriteFile(filepath.Join(dir, tp.name), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var leftoverPlaceholder = regexp.MustCompile(`@[A-Z_]+@`)

// TestTemplatesStrict decodes each template strictly and checks every field
// podman's own Validate does not: unknown fields, absolute path, timeout,
// PATH, one stage per file matching the --stage argument, and the match.
func TestTemplatesStrict(t *testing.T) {
	libexec := installTree(t)
	stagesSeen := map[string]string{}
	for _, tp := range templates(t) {
		t.Run(tp.name, func(t *testing.T) {
			if !bytes.Contains(tp.raw, []byte(placeholder)) {
				t.Fatalf("template lacks %s: make install could not fill in the binary path", placeholder)
			}
			rendered := bytes.ReplaceAll(tp.raw, []byte(placeholder), []byte(libexec))
			if m := leftoverPlaceholder.Find(rendered); m != nil {
				t.Fatalf("placeholder %s is left after rendering; make install fills only %s", m, placeholder)
			}

			var h hook.Hook
			dec := json.NewDecoder(bytes.NewReader(rendered))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&h); err != nil {
				t.Fatalf("strict decode: %v", err)
			}
			if dec.More() {
				t.Fatal("trailing data after the JSON object")
			}

			if h.Version != hook.Version {
				t.Errorf("version %q, want %q", h.Version, hook.Version)
			}
			if !filepath.IsAbs(h.Hook.Path) {
				t.Errorf("hook.path %q is not absolute (the runtime execs it without PATH lookup)", h.Hook.Path)
			}
			if want := filepath.Join(libexec, "oci", "hooks.d", "ima-hook"); h.Hook.Path != want {
				t.Errorf("hook.path %q, want %q (the place make install puts the binary)", h.Hook.Path, want)
			}
			if h.Hook.Timeout == nil || *h.Hook.Timeout <= 0 {
				t.Errorf("hook.timeout must be set and > 0, got %v", h.Hook.Timeout)
			} else if *h.Hook.Timeout > 120 {
				t.Errorf("hook.timeout %d s is longer than a container create should wait", *h.Hook.Timeout)
			}
			checkPATH(t, h.Hook.Env)

			if len(h.Stages) != 1 {
				t.Fatalf("stages %v: want exactly one stage per file, because the stage is passed in args", h.Stages)
			}
			stage := h.Stages[0]
			if stage != "createRuntime" && stage != "poststop" {
				t.Errorf("stage %q: ima-hook runs only at createRuntime and poststop", stage)
			}
			wantArgs := []string{"ima-hook", "hook", "--stage", stage}
			if !slices.Equal(h.Hook.Args, wantArgs) {
				t.Errorf("args %q, want %q", h.Hook.Args, wantArgs)
			}
			if prev, dup := stagesSeen[stage]; dup {
				t.Errorf("stage %s shipped twice (%s and %s)", stage, prev, tp.name)
			}
			stagesSeen[stage] = tp.name

			checkWhen(t, h.When)
		})
	}
	for _, s := range []string{"createRuntime", "poststop"} {
		if _, ok := stagesSeen[s]; !ok {
			t.Errorf("no template for stage %s", s)
		}
	}
}

func checkPATH(t *testing.T, env []string) {
	t.Helper()
	var path string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	if path == "" {
		t.Fatalf("env %q has no PATH (podman runs poststop hooks with an empty environment)", env)
	}
	for _, d := range strings.Split(path, ":") {
		if !filepath.IsAbs(d) {
			t.Errorf("PATH entry %q is not absolute", d)
		}
	}
}

// checkWhen: the match must be exactly the opt-in annotation, anchored at
// both ends (pkg/hooks matches unanchored with regexp.MatchString).
func checkWhen(t *testing.T, w hook.When) {
	t.Helper()
	if w.Always != nil && *w.Always {
		t.Error("when.always is set: the hook would run for every container")
	}
	if len(w.Commands) != 0 || w.HasBindMounts != nil {
		t.Errorf("when has conditions besides the annotation: commands=%q hasBindMounts=%v", w.Commands, w.HasBindMounts)
	}
	if len(w.Annotations) != 1 {
		t.Fatalf("when.annotations %q: want exactly the %s opt-in", w.Annotations, enableKey)
	}
	for k, v := range w.Annotations {
		for _, p := range []string{k, v} {
			if !strings.HasPrefix(p, "^") || !strings.HasSuffix(p, "$") {
				t.Errorf("pattern %q is not anchored with ^...$", p)
			}
		}
		kre, err := regexp.Compile(k)
		if err != nil {
			t.Fatal(err)
		}
		vre, err := regexp.Compile(v)
		if err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]bool{
			enableKey:              true,
			"io.imans.enable2":     false,
			"xio.imans.enable":     false,
			"io-imans-enable":      false,
			"ioXimansXenable":      false,
			"io.imans.required":    false,
			"io.imans.enable\n":    false,
			"org.io.imans.enable":  false,
			"IO.IMANS.ENABLE":      false,
			"io.imans.enable.true": false,
		} {
			if got := kre.MatchString(key); got != want {
				t.Errorf("key pattern %q on %q: match=%v, want %v", k, key, got, want)
			}
		}
		for val, want := range map[string]bool{
			"true": true, "1": true,
			"false": false, "0": false, "": false, "yes": false,
			"true ": false, " true": false, "true\n": false, "truely": false, "11": false, "TRUE": false,
		} {
			if got := vre.MatchString(val); got != want {
				t.Errorf("value pattern %q on %q: match=%v, want %v", v, val, got, want)
			}
		}
	}
}

// TestReadLikeEngines loads each rendered file with pkg/hooks.Read the way
// CRI-O (no extension stages) and podman (precreate, poststop) do.
func TestReadLikeEngines(t *testing.T) {
	dir := render(t, installTree(t))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		for name, ext := range map[string][]string{"crio": nil, "podman": podmanExtensionStages} {
			h, err := hooks.Read(p, ext)
			if err != nil {
				t.Errorf("%s: hooks.Read as %s: %v", e.Name(), name, err)
				continue
			}
			if h.Version != hook.Version {
				t.Errorf("%s: version %q", e.Name(), h.Version)
			}
		}
	}
}

// TestReadRefusesMissingBinary documents the engine behaviour the install
// order depends on: a hooks.d file whose binary is absent is refused (podman
// then skips it silently), so make install copies the binary first.
func TestReadRefusesMissingBinary(t *testing.T) {
	dir := render(t, filepath.Join(t.TempDir(), "nowhere"))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := hooks.Read(filepath.Join(dir, e.Name()), nil); err == nil {
			t.Errorf("%s: hooks.Read accepted a missing binary", e.Name())
		}
	}
}

func newSpec(annotations map[string]string) *rspec.Spec {
	return &rspec.Spec{
		Version:     rspec.Version,
		Process:     &rspec.Process{Args: []string{"/bin/true"}},
		Root:        &rspec.Root{Path: "rootfs"},
		Annotations: annotations,
	}
}

// stageOf returns the --stage argument of h.
func stageOf(t *testing.T, h rspec.Hook) string {
	t.Helper()
	for i, a := range h.Args {
		if a == "--stage" && i+1 < len(h.Args) {
			return h.Args[i+1]
		}
	}
	t.Fatalf("hook args %q carry no --stage", h.Args)
	return ""
}

// injected summarises where a Manager put our hooks: stage in the spec (or
// "ext:<stage>" for extension stages) -> the --stage arguments found there.
func injected(t *testing.T, spec *rspec.Spec, ext map[string][]rspec.Hook) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	add := func(where string, hs []rspec.Hook) {
		for _, h := range hs {
			out[where] = append(out[where], stageOf(t, h))
		}
	}
	if spec.Hooks != nil {
		//lint:ignore SA1019 the deprecated stage is read to check that it stays empty
		add("prestart", spec.Hooks.Prestart)
		add("createRuntime", spec.Hooks.CreateRuntime)
		add("createContainer", spec.Hooks.CreateContainer)
		add("startContainer", spec.Hooks.StartContainer)
		add("poststart", spec.Hooks.Poststart)
		add("poststop", spec.Hooks.Poststop)
	}
	for stage, hs := range ext {
		add("ext:"+stage, hs)
	}
	return out
}

// TestManagerInjection builds the hooks Manager podman and CRI-O build over
// the rendered directory and checks which containers get which hooks.
func TestManagerInjection(t *testing.T) {
	dir := render(t, installTree(t))
	enabledPodman := map[string][]string{
		"createRuntime": {"createRuntime"},
		"ext:poststop":  {"poststop"},
	}
	enabledCRIO := map[string][]string{
		"createRuntime": {"createRuntime"},
		"poststop":      {"poststop"},
	}
	none := map[string][]string{}
	cases := []struct {
		name        string
		annotations map[string]string
		podman      map[string][]string
		crio        map[string][]string
	}{
		{"enabled", map[string]string{enableKey: "true"}, enabledPodman, enabledCRIO},
		{"enabled-1", map[string]string{enableKey: "1"}, enabledPodman, enabledCRIO},
		{"enabled-with-others", map[string]string{enableKey: "true", "io.imans.kcmd": "ima_policy=tcb", "x": "y"}, enabledPodman, enabledCRIO},
		{"no-annotations", nil, none, none},
		{"unrelated-annotation", map[string]string{"io.podman.annotations.label": "x"}, none, none},
		{"enable-false", map[string]string{enableKey: "false"}, none, none},
		{"enable-0", map[string]string{enableKey: "0"}, none, none},
		{"enable-padded", map[string]string{enableKey: " true"}, none, none},
		{"enable-newline", map[string]string{enableKey: "true\n"}, none, none},
		{"other-imans-only", map[string]string{"io.imans.required": "true", "io.imans.kcmd": "ima_policy=tcb"}, none, none},
		{"key-suffix", map[string]string{enableKey + "d": "true"}, none, none},
		{"key-prefix", map[string]string{"x" + enableKey: "true"}, none, none},
	}
	for _, engine := range []struct {
		name string
		ext  []string
	}{{"podman", podmanExtensionStages}, {"crio", nil}} {
		m, err := hooks.New(context.Background(), []string{dir}, engine.ext)
		if err != nil {
			t.Fatalf("%s: hooks.New: %v", engine.name, err)
		}
		for _, c := range cases {
			t.Run(engine.name+"/"+c.name, func(t *testing.T) {
				spec := newSpec(c.annotations)
				ext, err := m.Hooks(spec, spec.Annotations, false)
				if err != nil {
					t.Fatal(err)
				}
				got := injected(t, spec, ext)
				want := c.podman
				if engine.name == "crio" {
					want = c.crio
				}
				if !equalInjection(got, want) {
					t.Errorf("injected %v, want %v", got, want)
				}
			})
		}
	}
}

func equalInjection(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb := b[k]
		va, vb = slices.Clone(va), slices.Clone(vb)
		sort.Strings(va)
		sort.Strings(vb)
		if !slices.Equal(va, vb) {
			return false
		}
	}
	return true
}

// TestOverrideDirMasksByName: an admin file of the same name in a later
// directory (/etc/containers/oci/hooks.d) replaces ours, which is how an
// admin switches the hook off or to `when.always` for mandatory mode.
func TestOverrideDirMasksByName(t *testing.T) {
	libexec := installTree(t)
	shipped := render(t, libexec)
	override := t.TempDir()
	for _, tp := range templates(t) {
		var h map[string]any
		if err := json.Unmarshal(bytes.ReplaceAll(tp.raw, []byte(placeholder), []byte(libexec)), &h); err != nil {
			t.Fatal(err)
		}
		h["when"] = map[string]any{"always": true}
		b, _ := json.Marshal(h)
		if err := os.WriteFile(filepath.Join(override, tp.name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := hooks.New(context.Background(), []string{shipped, override}, podmanExtensionStages)
	if err != nil {
		t.Fatal(err)
	}
	spec := newSpec(nil)
	ext, err := m.Hooks(spec, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	got := injected(t, spec, ext)
	want := map[string][]string{"createRuntime": {"createRuntime"}, "ext:poststop": {"poststop"}}
	if !equalInjection(got, want) {
		t.Errorf("with the always override: injected %v, want %v", got, want)
	}
}
