// Package logx logs one line per action, tagged with the container id, to
// journald when it runs, else syslog, else a file. Never to stderr unless
// asked: runtimes show a failing hook's stderr to the user, and that must
// stay exactly one line.
package logx

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/syslog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/ima-hook/ima-hook/internal/sysfile"
	"github.com/ima-hook/ima-hook/internal/userror"
)

// Logger writes action lines.
type Logger struct {
	mu     sync.Mutex
	target string // "journald", "syslog", "file", "stderr", "discard"
	sys    *syslog.Writer
	file   io.WriteCloser
	// who names containers beyond their id (Identify).
	who map[string]string
}

// Identify makes every later line about container id name it as who as
// well, e.g. its Kubernetes pod and container ("pod=default/web
// container=app"): engines show users names, logs show ids.
func (l *Logger) Identify(id, who string) {
	if l == nil || who == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.who == nil {
		l.who = map[string]string{}
	}
	l.who[id] = userror.OneLine(who)
}

// journalEnabled and newSyslog reach the system's log daemons; tests
// replace them.
//
// Each first looks for the daemon's socket file: without one, dialling
// costs journald two sockets and five system calls and log/syslog six
// sockets (three paths, datagram then stream), on every container start
// the wrapper logs, and cannot succeed.
var (
	journalEnabled = func() bool {
		return socketExists(journalSocket) && journal.Enabled()
	}
	newSyslog = func() (*syslog.Writer, error) {
		if !anySocketExists(syslogSockets) {
			return nil, errors.New("no syslog socket")
		}
		return syslog.New(syslog.LOG_INFO|syslog.LOG_DAEMON, "ima-hook")
	}
)

// journalSocket is where go-systemd's journal package sends; syslogSockets
// are the paths log/syslog dials, in its order.
const journalSocket = "/run/systemd/journal/socket"

var syslogSockets = []string{"/dev/log", "/var/run/syslog", "/var/run/log"}

func socketExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().Type() == fs.ModeSocket
}

func anySocketExists(paths []string) bool {
	for _, p := range paths {
		if socketExists(p) {
			return true
		}
	}
	return false
}

// Open picks the target: "auto" tries journald, syslog, then a file
// ima-hook.log in fallbackDir. A target asked for by name that cannot be
// reached falls back the same way ("journald" to syslog, then the file;
// "syslog" to the file) and the first line in the fallback says so: the
// lines are an audit trail, and losing them silently because a daemon is
// not running would be worse than finding them in the next place. Only
// when no target at all can be opened do lines go nowhere, as under "auto".
func Open(target, fallbackDir string) *Logger {
	l := &Logger{}
	var missed string // the named target that could not be reached
	switch target {
	case "stderr":
		l.target = "stderr"
		return l
	case "journald":
		if journalEnabled() {
			l.target = "journald"
			return l
		}
		missed = `log = "journald" but journald does not run (no socket /run/systemd/journal/socket)`
		if l.openSyslog() {
			l.notice(missed + ": logging to syslog instead")
			return l
		}
	case "syslog":
		if l.openSyslog() {
			return l
		}
		missed = `log = "syslog" but no syslog daemon listens (/dev/log)`
	case "auto", "":
		if journalEnabled() {
			l.target = "journald"
			return l
		}
		if l.openSyslog() {
			return l
		}
	}
	if fallbackDir != "" {
		if err := os.MkdirAll(fallbackDir, 0o700); err == nil {
			path := filepath.Join(fallbackDir, "ima-hook.log")
			// sysfile: the wrapper opens this on every start it logs.
			if f, err := sysfile.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
				l.target, l.file = "file", f
				if missed != "" {
					l.notice(missed + ": logging to " + path + " instead")
				}
				return l
			}
		}
	}
	l.target = "discard"
	return l
}

func (l *Logger) openSyslog() bool {
	w, err := newSyslog()
	if err != nil {
		return false
	}
	l.target, l.sys = "syslog", w
	return true
}

// notice writes a line about the logging itself (no container) to the
// target chosen.
func (l *Logger) notice(msg string) {
	msg = userror.OneLine(msg)
	switch l.target {
	case "syslog":
		_ = l.sys.Warning(msg)
	case "file":
		fmt.Fprintf(l.file, "%s ima-hook[%d]: %s\n", time.Now().UTC().Format(time.RFC3339), os.Getpid(), msg)
	}
}

// Target says where lines go.
func (l *Logger) Target() string { return l.target }

// Info logs an action of container id.
func (l *Logger) Info(id, format string, args ...any) { l.emit(false, id, format, args...) }

// Error logs a failure of container id.
func (l *Logger) Error(id, format string, args ...any) { l.emit(true, id, format, args...) }

func (l *Logger) emit(isErr bool, id, format string, args ...any) {
	if l == nil {
		return
	}
	// One printable line whatever the message carries: container ids,
	// annotation keys and file names are untrusted (userror.OneLine).
	msg := userror.OneLine(fmt.Sprintf(format, args...))
	id = userror.OneLine(id)
	l.mu.Lock()
	defer l.mu.Unlock()
	if who := l.who[id]; who != "" {
		msg = who + " " + msg
	}
	line := "container=" + id + " " + msg
	switch l.target {
	case "journald":
		prio := journal.PriInfo
		if isErr {
			prio = journal.PriErr
		}
		_ = journal.Send(msg, prio, map[string]string{"SYSLOG_IDENTIFIER": "ima-hook", "CONTAINER_ID": id})
	case "syslog":
		if isErr {
			_ = l.sys.Err(line)
		} else {
			_ = l.sys.Info(line)
		}
	case "file":
		fmt.Fprintf(l.file, "%s ima-hook[%d]: %s\n", time.Now().UTC().Format(time.RFC3339), os.Getpid(), line)
	case "stderr":
		fmt.Fprintf(os.Stderr, "ima-hook: %s\n", line)
	}
}

// Close releases the target.
func (l *Logger) Close() {
	if l == nil {
		return
	}
	if l.sys != nil {
		l.sys.Close()
	}
	if l.file != nil {
		l.file.Close()
	}
}
