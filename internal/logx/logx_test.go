package logx

import (
	"errors"
	"log/syslog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileFallbackOneLinePerAction(t *testing.T) {
	dir := t.TempDir()
	l := &Logger{}
	f, err := os.OpenFile(filepath.Join(dir, "ima-hook.log"), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	l.target, l.file = "file", f
	l.Info("c1", "policy loaded: %d rules", 3)
	l.Error("c2", "refused: %s", "bad kcmd")
	l.Close()
	b, err := os.ReadFile(filepath.Join(dir, "ima-hook.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "container=c1 policy loaded: 3 rules") || !strings.Contains(lines[1], "container=c2 refused: bad kcmd") {
		t.Fatalf("log lines: %q", lines)
	}
}

func TestOpenFallsBackToFile(t *testing.T) {
	dir := t.TempDir()
	l := Open("file-only-for-test", dir)
	defer l.Close()
	if l.Target() != "file" {
		t.Fatalf("target %q, want file", l.Target())
	}
}

// TestControlsNeverReachTheLog: a message carrying a newline or ESC (an
// annotation key, a file name) stays one printable line.
func TestControlsNeverReachTheLog(t *testing.T) {
	dir := t.TempDir()
	l := &Logger{}
	f, err := os.OpenFile(filepath.Join(dir, "ima-hook.log"), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	l.target, l.file = "file", f
	l.Error("c\n1", "warning: annotation %s", "IO.IMANS.\x1b[2Jx\nforged line")
	l.Close()
	b, _ := os.ReadFile(filepath.Join(dir, "ima-hook.log"))
	if strings.Count(string(b), "\n") != 1 || strings.ContainsRune(string(b), 0x1b) || !strings.Contains(string(b), `container=c 1 warning: annotation IO.IMANS.\x1b[2Jx forged line`) {
		t.Fatalf("log %q", b)
	}
}

// TestIdentifiedContainersAreNamed: once a container is identified (its
// Kubernetes pod and container), every line about it names it; lines
// about other containers do not, and an identity cannot break the line.
func TestIdentifiedContainersAreNamed(t *testing.T) {
	dir := t.TempDir()
	l := Open("file-only-for-test", dir)
	l.Identify("c1", "pod=default/web container=app")
	l.Identify("c3", "pod=x/y\ncontainer=z")
	l.Info("c1", "IMA namespace %d populated", 7)
	l.Error("c2", "refused")
	l.Info("c3", "poststop")
	l.Close()
	b, err := os.ReadFile(filepath.Join(dir, "ima-hook.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], "container=c1 pod=default/web container=app IMA namespace 7 populated") ||
		!strings.HasSuffix(lines[1], "container=c2 refused") || !strings.Contains(lines[2], "container=c3 pod=x/y") {
		t.Fatalf("log lines: %q", lines)
	}
}

// noDaemons makes journald and syslog unreachable for one test.
func noDaemons(t *testing.T) {
	oj, os0 := journalEnabled, newSyslog
	t.Cleanup(func() { journalEnabled, newSyslog = oj, os0 })
	journalEnabled = func() bool { return false }
	newSyslog = func() (*syslog.Writer, error) { return nil, errors.New("no syslog daemon") }
}

// TestNamedTargetFallsBackToTheFile: log = "journald" (or "syslog") on a
// machine where that daemon does not run falls back as "auto" does, to the
// file in run_dir, whose first line says why; before, "journald" kept its
// target and every line was lost without a word.
func TestNamedTargetFallsBackToTheFile(t *testing.T) {
	for _, target := range []string{"journald", "syslog"} {
		t.Run(target, func(t *testing.T) {
			noDaemons(t)
			dir := t.TempDir()
			l := Open(target, dir)
			if l.Target() != "file" {
				t.Fatalf("target %q, want file", l.Target())
			}
			l.Info("c1", "policy loaded")
			l.Close()
			b, err := os.ReadFile(filepath.Join(dir, "ima-hook.log"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			want := `log = "` + target + `" but `
			if len(lines) != 2 || !strings.Contains(lines[0], want) || !strings.HasSuffix(lines[0], "logging to "+filepath.Join(dir, "ima-hook.log")+" instead") ||
				!strings.Contains(lines[1], "container=c1 policy loaded") {
				t.Fatalf("log lines: %q", lines)
			}
		})
	}
}

// TestJournaldFallsBackToSyslog: log = "journald" without journald but with
// a syslog daemon logs to syslog, the first message saying why.
func TestJournaldFallsBackToSyslog(t *testing.T) {
	noDaemons(t)
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	newSyslog = func() (*syslog.Writer, error) {
		return syslog.Dial("unixgram", sock, syslog.LOG_INFO|syslog.LOG_DAEMON, "ima-hook")
	}
	l := Open("journald", t.TempDir())
	if l.Target() != "syslog" {
		t.Fatalf("target %q, want syslog", l.Target())
	}
	l.Info("c1", "policy loaded")
	l.Close()
	var got []string
	buf := make([]byte, 4096)
	for range 2 {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, string(buf[:n]))
	}
	if !strings.Contains(got[0], `log = "journald" but journald does not run`) || !strings.Contains(got[0], "logging to syslog instead") ||
		!strings.Contains(got[1], "container=c1 policy loaded") {
		t.Fatalf("syslog messages: %q", got)
	}
}

// TestSocketExists: the daemons are dialled only where a socket file is;
// a regular file, a directory or nothing at that path is not one.
func TestSocketExists(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "log")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no unix sockets here: %v", err)
	}
	defer l.Close()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link") // /dev/log is often a symlink to the socket
	if err := os.Symlink(sock, link); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{sock: true, link: true, file: false, dir: false, filepath.Join(dir, "none"): false} {
		if got := socketExists(path); got != want {
			t.Errorf("socketExists(%s) = %v, want %v", path, got, want)
		}
	}
	if anySocketExists([]string{file, filepath.Join(dir, "none")}) || !anySocketExists([]string{file, link}) {
		t.Error("anySocketExists disagrees with socketExists")
	}
}
