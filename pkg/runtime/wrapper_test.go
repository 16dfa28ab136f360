package runtime

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/ns/nstest"
	"github.com/ima-hook/ima-hook/pkg/record"
)

type harness struct {
	w         *Wrapper
	k         *nstest.Kernel
	execArgv  []string
	childArgv []string
	childExit int
	stderr    strings.Builder
	logs      []string
	bundle    string
}

// newHarness: annotations decide like pkg/config does for the contract's
// keys (enable, required, kcmd, x509); "bad" in kcmd is a validation error.
func newHarness(t *testing.T, ann map[string]string) *harness {
	t.Helper()
	h := &harness{k: &nstest.Kernel{}, bundle: t.TempDir()}
	writeConfig(t, h.bundle, "config.json", ann)
	h.w = &Wrapper{
		Runtime: "/usr/sbin/runc",
		Resolve: func(a map[string]string) (*Settings, error) {
			if a["io.imans.enable"] != "true" {
				return nil, nil
			}
			if strings.Contains(a["io.imans.kcmd"], "bad") {
				return nil, userror.New("io.imans.kcmd", `unknown parameter "bad"`, "use ima_policy")
			}
			s := &Settings{Required: a["io.imans.required"] != "false", Kcmd: a["io.imans.kcmd"], X509Path: a["io.imans.x509"]}
			if s.X509Path != "" {
				s.X509DER = []byte("validated DER of " + s.X509Path)
			}
			return s, nil
		},
		Enabled: func(a map[string]string) (bool, error) { return a["io.imans.enable"] == "true" || h.w.Mandatory, nil },
		Kernel:  h.k,
		Store:   record.Store{RunDir: filepath.Join(t.TempDir(), "run")},
		Env:     []string{"PATH=/usr/bin", "X=1"},
		Log:     func(id, f string, a ...any) { h.logs = append(h.logs, id) },
		Stderr:  &h.stderr,
		Exec: func(path string, argv, env []string) error {
			h.execArgv = argv
			return nstest.ErrReplaced
		},
		RunChild: func(path string, argv, env []string) (int, error) {
			h.childArgv = argv
			return h.childExit, nil
		},
		State: func(rt string, global []string, id string, env []string) (*specs.State, error) {
			if id != "running" {
				return nil, errors.New("container does not exist")
			}
			return &specs.State{ID: id, Pid: 4242, Status: "running", Bundle: h.bundle}, nil
		},
	}
	return h
}

func writeConfig(t *testing.T, dir, name string, ann map[string]string) {
	t.Helper()
	b, _ := json.Marshal(specs.Spec{Version: "1.0.2", Annotations: ann})
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) run(line string) int {
	return h.w.Run(strings.Fields(strings.ReplaceAll(line, "BUNDLE", h.bundle)))
}

func TestPassThroughUntouched(t *testing.T) {
	for _, line := range []string{
		"--root /r start ctr", "kill ctr 9", "delete --force ctr", "--version", "state ctr", "list", "",
		"--root /r create --bundle BUNDLE ctr", // IMA not enabled
	} {
		h := newHarness(t, map[string]string{"other": "x"})
		h.run(line)
		want := append([]string{"/usr/sbin/runc"}, strings.Fields(strings.ReplaceAll(line, "BUNDLE", h.bundle))...)
		if !reflect.DeepEqual(h.execArgv, want) {
			t.Errorf("%q: exec %q, want %q", line, h.execArgv, want)
		}
		if h.k.Spawned != nil {
			t.Errorf("%q: spawned a namespace", line)
		}
	}
}

func TestCreateSpawns(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true", "io.imans.kcmd": "ima_policy=tcb", "io.imans.x509": "/etc/k.der"})
	h.run("--root /r create --bundle BUNDLE --pid-file /p ctr1")
	req := h.k.Spawned
	if req == nil {
		t.Fatalf("no spawn; exec %q stderr %q", h.execArgv, h.stderr.String())
	}
	wantArgv := []string{"/usr/sbin/runc", "--root", "/r", "create", "--bundle", h.bundle, "--pid-file", "/p", "ctr1"}
	// The kernel is handed a private copy of the validated bytes, not the
	// path the annotation names (issue 15.4).
	copyPath := h.w.Store.X509CopyPath("ctr1")
	if b, err := os.ReadFile(copyPath); err != nil || string(b) != "validated DER of /etc/k.der" {
		t.Errorf("private copy %s: %q, %v", copyPath, b, err)
	}
	if st, err := os.Stat(copyPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private copy mode: %v %v", st, err)
	}
	if req.Kcmd != "ima_policy=tcb" || req.X509Path != copyPath || !reflect.DeepEqual(req.Argv, wantArgv) ||
		req.NSIDFile != h.w.Store.PendingNSPath("ctr1") || !reflect.DeepEqual(req.Env, h.w.Env) {
		t.Errorf("spawn request %+v", req)
	}
	if h.execArgv != nil {
		t.Errorf("also exec'd %q", h.execArgv)
	}
}

func TestCreateDefaultBundleIsCwd(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	t.Chdir(h.bundle)
	h.run("run ctr")
	if h.k.Spawned == nil {
		t.Fatalf("no spawn from the working directory's config.json: %s", h.stderr.String())
	}
}

func TestCreateCrunConfigOverride(t *testing.T) {
	h := newHarness(t, nil)
	writeConfig(t, h.bundle, "alt.json", map[string]string{"io.imans.enable": "true"})
	h.run("create -b BUNDLE --config alt.json ctr")
	if h.k.Spawned == nil {
		t.Fatalf("crun --config ignored: %s", h.stderr.String())
	}
}

func TestCreateRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		ann        map[string]string
		missing    string
		want       string
	}{
		{"invalid config", "create --bundle BUNDLE c", map[string]string{"io.imans.enable": "true", "io.imans.kcmd": "bad"}, "",
			`ima-hook: io.imans.kcmd: unknown parameter "bad"; use ima_policy`},
		{"required on a kernel without", "create --bundle BUNDLE c", map[string]string{"io.imans.enable": "true"},
			"the kernel has no IMA namespaces (CONFIG_IMA_NS is off: no /proc/self/ns/ima)",
			"ima-hook: kernel: the kernel has no IMA namespaces (CONFIG_IMA_NS is off: no /proc/self/ns/ima): cannot give container c its own IMA namespace; run it on a kernel with IMA namespaces"},
		{"validation before kernel", "create --bundle BUNDLE c", map[string]string{"io.imans.enable": "true", "io.imans.kcmd": "bad"}, "no IMA",
			`ima-hook: io.imans.kcmd: unknown parameter "bad"`},
		{"bad id", "create --bundle BUNDLE ../etc", map[string]string{"io.imans.enable": "true"}, "",
			`ima-hook: ima-runtime create: container id "../etc" is not a safe file name`},
		{"ambiguous flag", "create --future x --bundle BUNDLE c", map[string]string{"io.imans.enable": "true"}, "",
			`ima-hook: ima-runtime create: unknown runtime flag "--future"`},
		{"missing value", "create --bundle", nil, "", `ima-hook: ima-runtime create: runtime argument 2 ("--bundle"): missing value`},
		{"no config", "create --bundle /nonexistent c", nil, "", "ima-hook: /nonexistent/config.json: open /nonexistent/config.json: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.ann)
			h.k.Missing = tc.missing
			if st := h.run(tc.line); st != 1 {
				t.Errorf("status %d", st)
			}
			if h.k.Spawned != nil || h.execArgv != nil {
				t.Errorf("went on: spawn %v exec %q", h.k.Spawned, h.execArgv)
			}
			out := h.stderr.String()
			if !strings.HasPrefix(out, tc.want) || strings.Count(out, "\n") != 1 {
				t.Errorf("stderr %q\nwant one line starting %q", out, tc.want)
			}
		})
	}
}

func TestCreateOptionalOnKernelWithout(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true", "io.imans.required": "false"})
	h.k.Missing = "no IMA namespaces"
	h.run("create --bundle BUNDLE c")
	if h.k.Spawned != nil || h.execArgv == nil || strings.Contains(h.stderr.String(), "kernel") {
		t.Errorf("optional container not passed through: spawn %v exec %q stderr %q", h.k.Spawned, h.execArgv, h.stderr.String())
	}
}

func TestCreateForceUnshare(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	h.k.Missing = "no IMA namespaces"
	h.w.ForceUnshare = true
	h.run("create --bundle BUNDLE c")
	if h.k.Spawned == nil {
		t.Errorf("--force-unshare did not attempt the namespace: %s", h.stderr.String())
	}
}

func TestExecJoins(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	h.run("--root /r exec --detach --process /p running")
	if h.k.Joined != 4242 || !reflect.DeepEqual(h.k.Join.Argv, []string{"/usr/sbin/runc", "--root", "/r", "exec", "--detach", "--process", "/p", "running"}) {
		t.Errorf("join pid %d argv %q; stderr %q", h.k.Joined, h.k.Join.Argv, h.stderr.String())
	}
}

func TestExecPassesThrough(t *testing.T) {
	for name, tc := range map[string]struct {
		line    string
		ann     map[string]string
		missing string
	}{
		"no IMA":            {"exec running sh", map[string]string{}, ""},
		"no such container": {"exec gone sh", map[string]string{"io.imans.enable": "true"}, ""},
		"kernel without":    {"exec running sh", map[string]string{"io.imans.enable": "true", "io.imans.required": "false"}, "no IMA"},
		"unparsable":        {"exec --process", map[string]string{"io.imans.enable": "true"}, ""},
	} {
		h := newHarness(t, tc.ann)
		h.k.Missing = tc.missing
		h.run(tc.line)
		if h.k.Joined != 0 || h.execArgv == nil {
			t.Errorf("%s: joined %d exec %q", name, h.k.Joined, h.execArgv)
		}
	}
}

func TestExecStateAnnotationsWin(t *testing.T) {
	h := newHarness(t, nil) // bundle config without annotations
	h.w.State = func(string, []string, string, []string) (*specs.State, error) {
		return &specs.State{ID: "running", Pid: 7, Status: "running", Annotations: map[string]string{"io.imans.enable": "true"}}, nil
	}
	h.run("exec running sh")
	if h.k.Joined != 7 {
		t.Errorf("state annotations ignored: joined %d", h.k.Joined)
	}
}
