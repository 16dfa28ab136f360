//go:build linux && cgo

package nsentertest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
	"github.com/ima-hook/ima-hook/pkg/oci"
)

// passEnv is a test's world for the pre-filter: a card directory, an admin
// config with its card (written by nsenter.WriteCard, as the wrapper does),
// a runtime, a run_dir and bundles.
type passEnv struct {
	t        *testing.T
	dir      string
	cards    string
	config   string
	runtime  string
	runDir   string
	plain    string // bundle without IMA
	imaBund  string // bundle with io.imans.enable
	self     string
	adminSrc string
}

const plainConfig = `{"ociVersion": "1.0.2", "process": {"args": ["/bin/true"], "cwd": "/"}, "root": {"path": "rootfs"}, "annotations": {"io.kubernetes.cri.container-type": "container"}}`

func newPassEnv(t *testing.T) *passEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("cards are root's: the pre-filter trusts no other owner")
	}
	dir := t.TempDir()
	e := &passEnv{t: t, dir: dir, cards: filepath.Join(dir, "cards"), config: filepath.Join(dir, "ima-hook.toml"),
		runtime: filepath.Join(dir, "runc"), runDir: filepath.Join(dir, "run"), plain: filepath.Join(dir, "plain"),
		imaBund: filepath.Join(dir, "ima"), self: "/proc/self/exe"}
	e.adminSrc = "run_dir = \"" + e.runDir + "\"\nruntime = \"" + e.runtime + "\"\n"
	must(t, os.WriteFile(e.config, []byte(e.adminSrc), 0o644))
	must(t, os.WriteFile(e.runtime, []byte("#!/bin/sh\n"), 0o755))
	must(t, os.MkdirAll(filepath.Join(e.runDir, "created"), 0o700))
	must(t, os.MkdirAll(e.plain, 0o755))
	must(t, os.WriteFile(filepath.Join(e.plain, "config.json"), []byte(plainConfig), 0o644))
	must(t, os.MkdirAll(e.imaBund, 0o755))
	must(t, os.WriteFile(filepath.Join(e.imaBund, "config.json"),
		[]byte(`{"ociVersion": "1.0.2", "annotations": {"io.imans.enable": "true"}}`), 0o644))
	e.writeCard()
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeCard writes the card the Go wrapper would write for the config as
// it is now.
func (e *passEnv) writeCard() {
	a, err := config.LoadAdmin(e.config)
	must(e.t, err)
	must(e.t, nsenter.WriteCard(e.cards, nsenter.Card{ConfigPath: e.config, ConfigSize: a.SourceSize,
		ConfigFNV: a.SourceFNV, Runtime: e.runtime, RunDir: a.RunDir}))
}

func (e *passEnv) wrapper(rtargs ...string) []string {
	return append([]string{"/usr/bin/ima-hook", "runtime", "--config", e.config, "--"}, rtargs...)
}

func (e *passEnv) decide(argv []string) (string, int, int) {
	return PassDecide(argv, []string{"PATH=/usr/bin:/bin"}, e.cards, e.self)
}

func (e *passEnv) wantPass(argv []string, at int) {
	e.t.Helper()
	rt, got, state := e.decide(argv)
	if got != at || rt != e.runtime || state != CardValid {
		e.t.Fatalf("%q: got at=%d runtime=%q card=%d, want at=%d runtime=%q card valid", argv, got, rt, state, at, e.runtime)
	}
}

func (e *passEnv) wantGo(argv []string, why string) {
	e.t.Helper()
	if _, at, _ := e.decide(argv); at != -1 {
		e.t.Fatalf("%s: %q was passed through (at %d); the Go wrapper must decide", why, argv, at)
	}
}

func TestPassThroughOnlyWhatNeedsNoWrapper(t *testing.T) {
	e := newPassEnv(t)
	e.wantPass(e.wrapper("--root", "/run/runc", "create", "--bundle", e.plain, "c1"), 5)
	e.wantPass(e.wrapper("run", "-b", e.plain, "-d", "c1"), 5)
	e.wantPass(e.wrapper("create", "--bundle="+e.plain, "c1"), 5)
	e.wantPass([]string{"/usr/bin/ima-hook", "runtime", "--config=" + e.config, "--inject-hooks", "--", "kill", "c1", "KILL"}, 5)
	e.wantPass([]string{"/usr/bin/ima-hook", "runtime", "--config", e.config, "state", "c1"}, 4)

	e.wantGo(e.wrapper("create", "--bundle", e.imaBund, "c1"), "a bundle with io.imans.enable")
	e.wantGo(e.wrapper("create", "--bundle", e.plain, "--bundle", e.imaBund, "c1"), "a second --bundle with IMA")
	e.wantGo(e.wrapper("exec", "c1", "sh"), "exec joins the container's namespace")
	e.wantGo(e.wrapper("delete", "c1"), "delete removes notes")
	e.wantGo(e.wrapper("--imans", "create", "--bundle", e.plain, "c1"), "the original guide's --imans")
	e.wantGo(e.wrapper("--ima-kcmd", "ima_policy=tcb", "create", "--bundle", e.plain, "c1"), "the original guide's flags")
	e.wantGo(e.wrapper("-imans", "create", "--bundle", e.plain, "c1"), "a guide flag with one dash")
	e.wantGo(e.wrapper("-ima-x509 /etc/keys/x.der", "create", "--bundle", e.plain, "c1"), "a guide flag and its value in one element")
	e.wantGo([]string{"/usr/lib/ima-runtime", "--imans", "create", "--bundle", e.plain, "c1"}, "the symlink form with --imans")
	e.wantGo(e.wrapper("create", "-b"+e.plain, "c1"), "a glued -bDIR")
	e.wantGo(e.wrapper("create", "-bundle", e.plain, "c1"), "runc's single-dash long flag")
	e.wantGo(e.wrapper("create", "--bund", e.plain, "c1"), "an abbreviation crun accepts")
	e.wantGo(e.wrapper("create", "--bundle", e.plain, "--config", "other.json", "c1"), "crun's --config")
	e.wantGo(e.wrapper("create", "--bundle", e.plain, "-f", "other.json", "c1"), "crun's -f")
	e.wantGo(e.wrapper("create", "--bundle"), "--bundle without a value")
	e.wantGo(e.wrapper("create", "--bundle", filepath.Join(e.dir, "nobundle"), "c1"), "a named bundle without config.json")
	e.wantGo([]string{"/usr/bin/ima-hook", "runtime", "--help"}, "the wrapper's --help")
	e.wantGo([]string{"/usr/bin/ima-hook", "runtime", "--verbose", "--", "state", "c1"}, "an unknown wrapper flag")
	e.wantGo([]string{"/usr/bin/ima-hook", "runtime", "--config", e.config}, "no runtime arguments")
	e.wantGo([]string{"/usr/bin/ima-hook", "runtime", "--config", "rel.toml", "--", "state", "c1"}, "a relative config path")
	e.wantGo([]string{"/usr/bin/ima-hook", "hook", "createRuntime"}, "not the wrapper")
	e.wantGo([]string{"/usr/bin/ima-hook", "runtime", "--config", e.config, "--runtime", "runc", "--", "state", "c1"}, "a relative --runtime")
	e.wantGo([]string{"/usr/bin/ima-hook", "runtime", "--config", e.config, "--runtime", "/proc/self/exe", "--", "state", "c1"}, "the runtime is ima-hook itself")
	e.wantGo([]string{"/usr/bin/ima-hook", "runtime", "--config", e.config, "--runtime", e.dir + "/missing", "--", "state", "c1"}, "a missing runtime")
}

func TestPassThroughUsesTheRuntimeFlag(t *testing.T) {
	e := newPassEnv(t)
	other := filepath.Join(e.dir, "crun")
	must(t, os.WriteFile(other, []byte("#!/bin/sh\n"), 0o755))
	rt, at, _ := e.decide([]string{"/x/ima-hook", "runtime", "--runtime=" + other, "--config", e.config, "--", "state", "c1"})
	if at != 6 || rt != other {
		t.Fatalf("got %q at %d, want %q at 6", rt, at, other)
	}
}

func TestPassThroughWithoutBundleReadsTheWorkingDirectory(t *testing.T) {
	e := newPassEnv(t)
	wd, err := os.Getwd()
	must(t, err)
	defer func() { must(t, os.Chdir(wd)) }()
	empty := filepath.Join(e.dir, "empty")
	must(t, os.MkdirAll(empty, 0o755))
	must(t, os.Chdir(empty))
	e.wantPass(e.wrapper("kill", "c1", "KILL"), 5) // no config.json at all: nothing asks for IMA
	must(t, os.Chdir(e.imaBund))
	e.wantGo(e.wrapper("create", "c1"), "the working directory's config.json asks for IMA")
	must(t, os.Chdir(e.plain))
	e.wantPass(e.wrapper("create", "c1"), 5)
}

func TestPassThroughTrustsOnlyAValidCard(t *testing.T) {
	e := newPassEnv(t)
	argv := e.wrapper("create", "--bundle", e.plain, "c1")
	e.wantPass(argv, 5)
	name := filepath.Join(e.cards, nsenter.CardName(e.config))
	card, err := os.ReadFile(name)
	must(t, err)

	state := func() int { _, _, s := e.decide(argv); return s }

	// The admin config edited (same size, other bytes): the card no longer
	// speaks for it, whatever the file's times say.
	edited := strings.Replace(e.adminSrc, "run_dir", "run_diR", 1)
	must(t, os.WriteFile(e.config, []byte(edited), 0o644))
	e.wantGo(argv, "an edited admin config")
	if s := state(); s != CardStale {
		t.Fatalf("card state %d after an edit, want stale", s)
	}
	must(t, os.WriteFile(e.config, []byte(e.adminSrc), 0o644))
	e.wantPass(argv, 5)

	// Written by another binary.
	other := strings.Replace(string(card), "exe ", "exe 1", 1)
	must(t, os.WriteFile(name, []byte(other), 0o600))
	e.wantGo(argv, "a card of another ima-hook binary")
	must(t, os.WriteFile(name, card, 0o600))
	e.wantPass(argv, 5)

	// Writable by others, or a symlink, or in a directory others may write.
	must(t, os.Chmod(name, 0o622))
	e.wantGo(argv, "a card others may write")
	must(t, os.Chmod(name, 0o600))
	must(t, os.Chmod(e.cards, 0o722))
	e.wantGo(argv, "a card directory others may write")
	must(t, os.Chmod(e.cards, 0o700))
	must(t, os.Rename(name, name+".real"))
	must(t, os.Symlink(name+".real", name))
	e.wantGo(argv, "a card that is a symlink")
	must(t, os.Remove(name))
	must(t, os.Rename(name+".real", name))
	e.wantPass(argv, 5)

	// Truncated, or with a line more.
	must(t, os.WriteFile(name, card[:len(card)-1], 0o600))
	e.wantGo(argv, "a card without its last newline")
	must(t, os.WriteFile(name, append(append([]byte{}, card...), "extra\n"...), 0o600))
	e.wantGo(argv, "a card with a seventh line")
	must(t, os.Remove(name))
	e.wantGo(argv, "no card")
	if s := state(); s != CardStale {
		t.Fatalf("card state %d without a card, want stale", s)
	}
	// Calls declined on what they say themselves (a container that asks
	// for IMA, exec, delete) never read the card: the namespace path pays
	// no card read, and Go rewrites the card only after a call it would
	// have passed through.
	for _, a := range [][]string{e.wrapper("create", "--bundle", e.imaBund, "c1"), e.wrapper("exec", "c1", "true"), e.wrapper("delete", "c1")} {
		if _, _, s := e.decide(a); s != CardUnchecked {
			t.Fatalf("%q: card state %d, want unchecked", a, s)
		}
	}
	if _, _, s := e.decide([]string{"/usr/bin/ima-hook", "hook"}); s != CardUnchecked {
		t.Fatalf("card state %d for a non-wrapper command line, want unchecked", s)
	}
}

func TestPassThroughLeavesReusedIDsWithNotesToGo(t *testing.T) {
	e := newPassEnv(t)
	argv := e.wrapper("create", "--bundle", e.plain, "c1")
	created := filepath.Join(e.runDir, "created")
	must(t, os.WriteFile(filepath.Join(created, "c10.nsid"), []byte("1"), 0o600)) // another id
	e.wantPass(argv, 5)
	must(t, os.WriteFile(filepath.Join(created, ".tmp-c1.owner-123"), nil, 0o600))
	e.wantGo(argv, "a note being written for the same id")
	must(t, os.Remove(filepath.Join(created, ".tmp-c1.owner-123")))
	must(t, os.WriteFile(filepath.Join(created, "c1.nsid"), []byte("1"), 0o600))
	e.wantGo(argv, "notes left for the same id")
}

func TestPassThroughLookedUpRuntimeNeedsTheSamePATH(t *testing.T) {
	e := newPassEnv(t)
	a, err := config.LoadAdmin(e.config)
	must(t, err)
	must(t, nsenter.WriteCard(e.cards, nsenter.Card{ConfigPath: e.config, ConfigSize: a.SourceSize, ConfigFNV: a.SourceFNV,
		Runtime: e.runtime, LookedUp: true, Path: e.dir + ":/usr/bin", RunDir: a.RunDir}))
	argv := e.wrapper("state", "c1")
	if _, at, _ := PassDecide(argv, []string{"PATH=" + e.dir + ":/usr/bin"}, e.cards, e.self); at != 5 {
		t.Fatalf("same PATH: at %d, want 5", at)
	}
	if _, at, _ := PassDecide(argv, []string{"PATH=/usr/sbin:" + e.dir}, e.cards, e.self); at != -1 {
		t.Fatal("another PATH may find another runtime, but the call was passed through")
	}
	if _, at, _ := PassDecide(argv, nil, e.cards, e.self); at != -1 {
		t.Fatal("no PATH, but the call was passed through")
	}
}

func TestPassScanConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	for body, want := range map[string]int{
		plainConfig: 0,
		`{"annotations": {"io.imans.enable": "true"}}`:            -3,
		`{"annotations": {"IO.IMANS.ENABLE": "true"}}`:            -3,
		`{"annotations": {"io.iMaNs.x": "1"}}`:                    -3,
		`{"annotations": {"io.\u0069mans.enable": "true"}}`:       -1,
		`{"process": {"env": ["A=\\u"]}}`:                         -1,
		`{"process": {"env": ["IMANS=1"]}}`:                       -3,
		`{"annotations": {"io.ima.enable": "true", "x": "mans"}}`: 0,
		``: 0,
	} {
		if got := PassScanConfig(write("c.json", body)); got != want {
			t.Errorf("scan of %q = %d, want %d", body, got, want)
		}
	}
	// Across the scanner's 64 KiB reads.
	big := strings.Repeat(" ", 65536-3) + `"imans"`
	if got := PassScanConfig(write("big.json", big)); got != -3 {
		t.Errorf("imans across a read boundary: %d, want -3", got)
	}
	if got := PassScanConfig(filepath.Join(dir, "none.json")); got != -2 {
		t.Errorf("missing file: %d, want -2", got)
	}
	must(t, os.Symlink(write("target.json", plainConfig), filepath.Join(dir, "link.json")))
	if got := PassScanConfig(filepath.Join(dir, "link.json")); got != -1 {
		t.Errorf("symlink: %d, want -1 (Go reads it)", got)
	}
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo.json"), 0o644))
	if got := PassScanConfig(filepath.Join(dir, "fifo.json")); got != -1 {
		t.Errorf("FIFO: %d, want -1", got)
	}
	huge := filepath.Join(dir, "huge.json")
	must(t, os.WriteFile(huge, nil, 0o644))
	must(t, os.Truncate(huge, 16<<20+1))
	if got := PassScanConfig(huge); got != -1 {
		t.Errorf("17 MiB: %d, want -1", got)
	}
}

func TestPassConstantsMatchGo(t *testing.T) {
	if PassDefaultConfig() != config.DefaultPath {
		t.Fatalf("the pre-filter's default config %q is not pkg/config's %q", PassDefaultConfig(), config.DefaultPath)
	}
	for _, p := range []string{"/etc/ima-hook/ima-hook.toml", "/x", "", "/tmp/ä ö"} {
		if c, g := PassCardName(p), nsenter.CardName(p); c != g {
			t.Fatalf("card name of %q: C %s, Go %s", p, c, g)
		}
	}
}

// FuzzPassFilterSound holds the pre-filter to Go's decision: whatever a
// bundle config holds, if the C scan finds it clean, the Go wrapper would
// have passed the container through too (no IMA under an admin config
// that is not mandatory), or could not read it at all.
func FuzzPassFilterSound(f *testing.F) {
	f.Add([]byte(plainConfig))
	f.Add([]byte(`{"annotations": {"io.imans.enable": "true"}}`))
	f.Add([]byte(`{"annotations": {"io.\u0069mans.enable": "true"}}`))
	f.Add([]byte(`{"annotations": {"io.imans.enable": "true", "io.imans.enable": "false"}}`))
	admin := config.BuiltinAdmin()
	dir := f.TempDir()
	path := filepath.Join(dir, "config.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		must(t, os.WriteFile(path, body, 0o644))
		if PassScanConfig(path) != 0 {
			return
		}
		ann, _, err := oci.ReadConfigAnnotations(path)
		if err != nil {
			return
		}
		c, err := config.Resolve(ann, admin)
		if c != nil || err != nil {
			t.Fatalf("the pre-filter passes %q, but Go gives IMA config %v, error %v", body, c, err)
		}
		if on, err := config.Enabled(ann, admin); on || err != nil {
			t.Fatalf("the pre-filter passes %q, but Go says enabled=%v, error %v", body, on, err)
		}
	})
}

// FuzzPassFilterAnnotations: annotations as an engine writes them (Go's
// encoder), keys and values from the fuzzer.
func FuzzPassFilterAnnotations(f *testing.F) {
	f.Add("io.imans.enable", "true")
	f.Add("io.kubernetes.cri.container-type", "sandbox")
	f.Add("IO.IMANS.ENABLE", "1")
	admin := config.BuiltinAdmin()
	dir := f.TempDir()
	path := filepath.Join(dir, "config.json")
	f.Fuzz(func(t *testing.T, k, v string) {
		b, err := json.Marshal(map[string]any{"ociVersion": "1.0.2", "annotations": map[string]string{k: v}})
		must(t, err)
		must(t, os.WriteFile(path, b, 0o644))
		if PassScanConfig(path) != 0 {
			return
		}
		c, err := config.Resolve(map[string]string{k: v}, admin)
		if c != nil || err != nil {
			t.Fatalf("the pre-filter passes annotation %q=%q, but Go gives %v, %v", k, v, c, err)
		}
	})
}

// FuzzPassCard feeds the pre-filter's card parser whatever a card file
// may hold. Whatever it accepts must name this binary and this admin
// config exactly as the Go wrapper wrote them, and the runtime it passes to
// must be the one the card names: a card for anything else never passes a
// call through.
func FuzzPassCard(f *testing.F) {
	if os.Geteuid() != 0 {
		f.Skip("cards are root's: the pre-filter trusts no other owner")
	}
	dir := f.TempDir()
	e := &passEnv{dir: dir, cards: filepath.Join(dir, "cards"), config: filepath.Join(dir, "ima-hook.toml"),
		runtime: filepath.Join(dir, "runc"), runDir: filepath.Join(dir, "run"), plain: filepath.Join(dir, "plain"), self: "/proc/self/exe"}
	e.adminSrc = "run_dir = \"" + e.runDir + "\"\nruntime = \"" + e.runtime + "\"\n"
	for _, err := range []error{
		os.WriteFile(e.config, []byte(e.adminSrc), 0o644),
		os.WriteFile(e.runtime, []byte("#!/bin/sh\n"), 0o755),
		os.MkdirAll(filepath.Join(e.runDir, "created"), 0o700),
		os.MkdirAll(e.plain, 0o755),
		os.WriteFile(filepath.Join(e.plain, "config.json"), []byte(plainConfig), 0o644),
	} {
		if err != nil {
			f.Fatal(err)
		}
	}
	a, err := config.LoadAdmin(e.config)
	if err != nil {
		f.Fatal(err)
	}
	if err := nsenter.WriteCard(e.cards, nsenter.Card{ConfigPath: e.config, ConfigSize: a.SourceSize,
		ConfigFNV: a.SourceFNV, Runtime: e.runtime, RunDir: a.RunDir}); err != nil {
		f.Fatal(err)
	}
	name := filepath.Join(e.cards, nsenter.CardName(e.config))
	valid, err := os.ReadFile(name)
	if err != nil {
		f.Fatal(err)
	}
	lines := strings.Split(string(valid), "\n")
	exeLine, configLine := lines[1], lines[2]
	f.Add(valid)
	f.Add([]byte(strings.Replace(string(valid), "runtime "+e.runtime, "runtime /bin/true", 1)))
	f.Add([]byte(strings.Replace(string(valid), "path -", "path =/usr/bin", 1)))
	f.Add([]byte(strings.Replace(string(valid), configLine, "config absent", 1)))
	f.Add([]byte(strings.Replace(string(valid), configLine, configLine[:len(configLine)-16]+"0000000000000000", 1)))
	f.Add([]byte(strings.Replace(string(valid), exeLine, exeLine+"1", 1)))
	argv := []string{"/usr/bin/ima-hook", "runtime", "--config", e.config, "--", "create", "--bundle", e.plain, "c1"}
	f.Fuzz(func(t *testing.T, card []byte) {
		if err := os.WriteFile(name, card, 0o600); err != nil {
			t.Fatal(err)
		}
		rt, at, _ := PassDecide(argv, []string{"PATH=/usr/bin"}, e.cards, e.self)
		if at < 0 {
			return
		}
		got := strings.Split(string(card), "\n")
		if len(got) < 4 || got[1] != exeLine || got[2] != configLine || got[3] != "runtime "+rt {
			t.Fatalf("passed through to %q under a card that is not this binary's for this config:\n%q", rt, card)
		}
	})
}

// A call declined because a bundle config mentions imans says so (the
// constructor then hands the Go wrapper's work to a child); no other
// decline does.
func TestPassThroughSaysWhenABundleAsksForIMA(t *testing.T) {
	e := newPassEnv(t)
	for _, c := range []struct {
		argv []string
		asks bool
	}{
		{e.wrapper("create", "--bundle", e.imaBund, "c1"), true},
		{e.wrapper("run", "--bundle", e.plain, "--bundle", e.imaBund, "c1"), true},
		{e.wrapper("create", "--bundle", e.plain, "c1"), false},
		{e.wrapper("exec", "c1", "true"), false},
		{e.wrapper("create", "-bundle", e.imaBund, "c1"), false},
	} {
		if _, _, _, asks := PassDecideAsks(c.argv, nil, e.cards, e.self); asks != c.asks {
			t.Errorf("%q: asks IMA %v, want %v", c.argv, asks, c.asks)
		}
	}
}
