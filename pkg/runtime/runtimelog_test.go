package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ima-hook/ima-hook/pkg/ns"
)

// goRuncLastError reads a runtime log the way containerd's runc shim does
// (getLastRuntimeError): JSON objects one after another, the message of the
// last one at level "error"; a time that does not parse breaks the read.
func goRuncLastError(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last string
	dec := json.NewDecoder(f)
	for dec.More() {
		var e struct {
			Level string
			Msg   string
			Time  time.Time
		}
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if e.Level == "error" {
			last = strings.TrimSpace(e.Msg)
		}
	}
	return last
}

// A refusal of a container that wants IMA reaches containerd's and Docker's
// user: it is the last error in the runtime's --log, in its format. podman's
// command lines carry no --log and nothing is written.
func TestRefusalInRuntimeLog(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true", "io.imans.kcmd": "bad"})
	dir := t.TempDir()
	logJSON := filepath.Join(dir, "log.json")
	runcLine := `{"level":"info","msg":"runc's own","time":"2026-11-27T10:00:00Z"}` + "\n"
	if err := os.WriteFile(logJSON, []byte(runcLine), 0o644); err != nil {
		t.Fatal(err)
	}
	if st := h.run("--root /r --log " + logJSON + " --log-format json create --bundle BUNDLE --pid-file /p ctr"); st != 1 {
		t.Fatalf("status %d", st)
	}
	line := strings.TrimSpace(h.stderr.String())
	if !strings.HasPrefix(line, "ima-hook: io.imans.kcmd: ") {
		t.Fatalf("stderr %q", line)
	}
	if got := goRuncLastError(t, logJSON); got != line {
		t.Errorf("last runtime error %q, want the stderr line %q", got, line)
	}
	if h.k.Spawned != nil || h.execArgv != nil {
		t.Error("refused, yet the runtime ran")
	}

	// Text format: a logrus line. Relative paths are the runtime's own
	// (resolved against the working directory).
	h = newHarness(t, map[string]string{"io.imans.enable": "true", "io.imans.kcmd": "bad"})
	t.Chdir(dir)
	h.run("--log runc.log run --bundle BUNDLE ctr")
	data, err := os.ReadFile(filepath.Join(dir, "runc.log"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^time="([^"]+)" level=error msg=(".*")\n$`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("text log %q", data)
	}
	if msg, err := strconv.Unquote(m[2]); err != nil || msg != strings.TrimSpace(h.stderr.String()) {
		t.Errorf("text log message %q (%v)", m[2], err)
	}
	if _, err := time.Parse(time.RFC3339Nano, m[1]); err != nil {
		t.Error(err)
	}

	// Without --log nothing is written anywhere but stderr.
	h = newHarness(t, map[string]string{"io.imans.enable": "true", "io.imans.kcmd": "bad"})
	h.run("create --bundle BUNDLE ctr")
	if h.w.log != (ns.RuntimeLog{}) {
		t.Errorf("runtime log %+v without --log", h.w.log)
	}
}

// The namespace steps in C get the same target (they run after Go is gone).
func TestRuntimeLogReachesTheCStage(t *testing.T) {
	h := newHarness(t, map[string]string{"io.imans.enable": "true"})
	h.run("--log /run/x/log.json --log-format json create --bundle BUNDLE ctr")
	if h.k.Spawned == nil || h.k.Spawned.ErrorLog != (ns.RuntimeLog{Path: "/run/x/log.json", JSON: true}) {
		t.Errorf("spawn request %+v", h.k.Spawned)
	}
	h = newHarness(t, map[string]string{"io.imans.enable": "true"})
	h.run("--log /l exec running sh")
	if h.k.Join.ErrorLog != (ns.RuntimeLog{Path: "/l"}) {
		t.Errorf("join log %+v", h.k.Join.ErrorLog)
	}
}

// A log path that is a symlink is not followed (O_NOFOLLOW): the refusal
// still reaches stderr.
func TestRuntimeLogSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	link := filepath.Join(dir, "log.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := appendRuntimeLog(ns.RuntimeLog{Path: link, JSON: true}, "x", time.Now()); err == nil {
		t.Error("wrote through a symlink")
	}
	if _, err := os.Stat(target); err == nil {
		t.Error("symlink target created")
	}
}
