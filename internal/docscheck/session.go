package docscheck

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxOutput bounds the output kept of one command.
const maxOutput = 1 << 20

// Session is one bash process that runs a file's commands in order, so
// that variables, functions, the working directory and $? carry over as
// in a terminal. Each command's stdin is /dev/null and its stdout and
// stderr go, interleaved as a terminal shows them, to one file.
type Session struct {
	dir    string // private files of the session (commands, outputs)
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	status chan string
	n      int
}

// ErrShellGone means a command ended the session's shell (exit, exec).
var ErrShellGone = errors.New("the shell ended (did the command call exit?)")

// NewSession starts bash in workdir with env; dir holds the session's own
// files.
func NewSession(dir, workdir string, env []string) (*Session, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Dir = workdir
	cmd.Env = env
	cmd.ExtraFiles = []*os.File{w} // fd 3: one status line per command
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log, err := os.Create(filepath.Join(dir, "shell.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w.Close()
	log.Close()
	s := &Session{dir: dir, cmd: cmd, stdin: stdin, status: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			s.status <- sc.Text()
		}
		close(s.status)
		r.Close()
	}()
	if _, err := io.WriteString(stdin, "__docs_check_rc=0\n"); err != nil {
		return nil, err
	}
	return s, nil
}

// Run runs one command (any number of lines) and returns its output and
// exit status. $? at its start is the previous command's status.
func (s *Session) Run(command string, timeout time.Duration) (string, int, error) {
	s.n++
	script := filepath.Join(s.dir, fmt.Sprintf("cmd%d.sh", s.n))
	out := filepath.Join(s.dir, fmt.Sprintf("out%d", s.n))
	if err := os.WriteFile(script, []byte(command+"\n"), 0o600); err != nil {
		return "", 0, err
	}
	line := fmt.Sprintf("{ (exit $__docs_check_rc); . %s; } </dev/null >%s 2>&1; __docs_check_rc=$?; echo \"$__docs_check_rc\" >&3\n",
		shellQuote(script), shellQuote(out))
	if _, err := io.WriteString(s.stdin, line); err != nil {
		return "", 0, ErrShellGone
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case st, ok := <-s.status:
		text := readBounded(out)
		if !ok {
			return text, 0, ErrShellGone
		}
		rc, err := strconv.Atoi(strings.TrimSpace(st))
		return text, rc, err
	case <-timer.C:
		s.Close()
		return readBounded(out), 0, fmt.Errorf("no end after %v", timeout)
	}
}

// Close ends the shell and everything it started in its process group.
func (s *Session) Close() {
	s.stdin.Close()
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
}

func readBounded(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, maxOutput))
	return string(b)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
