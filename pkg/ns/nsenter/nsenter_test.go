//go:build linux && cgo

package nsenter

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary links the constructor too, so it can re-exec itself:
// Stage() != "" means this process is such a child.
func TestMain(m *testing.M) {
	if s := Stage(); s != "" {
		os.Exit(runStage(s))
	}
	if os.Getenv("NSENTER_TEST_SECOND_WRITE") != "" {
		os.Exit(secondWrite())
	}
	// A child that should call Exec (the path the wrapper takes).
	if js := os.Getenv("NSENTER_TEST_EXEC_PLAN"); js != "" {
		var p StagePlan
		if err := json.Unmarshal([]byte(js), &p); err != nil {
			fmt.Fprintln(os.Stderr, "bad plan:", err)
			os.Exit(98)
		}
		err := Exec(p)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(99)
	}
	os.Exit(m.Run())
}

// report is what a stage child sees after the C stage returned to Go.
type report struct {
	Stage        string
	Single       bool
	TimeNS       string
	MntNS        string
	Uptime       float64
	Markers      []string
	Probe        string
	ProbeErr     string
	ThreadsLater int
}

func runStage(stage string) int {
	r := report{Stage: stage, Single: SingleThreadedEntry()}
	r.TimeNS, _ = os.Readlink("/proc/self/ns/time")
	r.MntNS, _ = os.Readlink("/proc/self/ns/mnt")
	r.Uptime = uptime()
	for _, e := range os.Environ() {
		if isMarker(e) {
			r.Markers = append(r.Markers, e)
		}
	}
	if len(os.Args) > 1 {
		b, err := os.ReadFile(os.Args[1])
		r.Probe = string(b)
		if err != nil {
			r.ProbeErr = err.Error()
		}
	}
	// Threads are allowed again after setns: start some and count.
	done := make(chan struct{})
	for range 4 {
		go func() { time.Sleep(10 * time.Millisecond); done <- struct{}{} }()
	}
	for range 4 {
		<-done
	}
	r.ThreadsLater = threads()
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

func uptime() float64 {
	b, _ := os.ReadFile("/proc/uptime")
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}

func threads() int {
	b, _ := os.ReadFile("/proc/self/status")
	m := regexp.MustCompile(`(?m)^Threads:\s*(\d+)`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

const week = 7 * 24 * 3600

var offsets = fmt.Sprintf("monotonic %d 0\nboottime %d 0", week, week)

func needTimeNS(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creating and joining namespaces needs CAP_SYS_ADMIN")
	}
	if _, err := os.Stat("/proc/self/timens_offsets"); err != nil {
		t.Skip("kernel without time namespaces (CONFIG_TIME_NS): ", err)
	}
}

func nsLink(t *testing.T, path string) string {
	t.Helper()
	l, err := os.Readlink(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func inode(t *testing.T, link string) string {
	t.Helper()
	m := regexp.MustCompile(`^\w+:\[(\d+)\]$`).FindStringSubmatch(link)
	if m == nil {
		t.Fatalf("not a namespace link: %q", link)
	}
	return m[1]
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("not an exit error: %v", err)
	}
	return ee.ExitCode()
}

// The wrapper's chain on a real kernel (docs/testing.md, layer 2): unshare a time
// namespace, configure it, fork: the child is born into it with the offset,
// the parent stays where it was, and the new id is recorded.
func TestUnshareWriteForkExecTime(t *testing.T) {
	needTimeNS(t)
	host := nsLink(t, "/proc/self/ns/time")
	idFile := filepath.Join(t.TempDir(), "nsid")
	cmd, err := Command(StagePlan{
		Unshare:  unix.CLONE_NEWTIME,
		Writes:   []Write{{Path: "/proc/self/timens_offsets", Data: offsets}},
		NSIDLink: "/proc/self/ns/time_for_children",
		NSIDFile: idFile,
		Fork:     true,
		Exec: []string{"/bin/sh", "-c", `readlink /proc/self/ns/time; readlink /proc/$PPID/ns/time;
			readlink /proc/$PPID/ns/time_for_children; cut -d' ' -f1 /proc/uptime; cat /proc/$PPID/comm; env`},
	})
	if err != nil {
		t.Fatal(err)
	}
	before := uptime()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, stderrOf(err))
	}
	lines := strings.Split(string(out), "\n")
	child, parent, parentForChildren := lines[0], lines[1], lines[2]
	if child == host {
		t.Fatalf("child in the host time namespace %s", host)
	}
	if parent != host {
		t.Errorf("waiting parent moved to %s, want it to stay in %s", parent, host)
	}
	if parentForChildren != child {
		t.Errorf("parent's time_for_children %s, child %s", parentForChildren, child)
	}
	id, err := os.ReadFile(idFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(id) != inode(t, child) {
		t.Errorf("recorded namespace id %q, child's namespace %s", id, child)
	}
	up, _ := strconv.ParseFloat(lines[3], 64)
	if up < before+week-1 || up > before+week+60 {
		t.Errorf("child uptime %.0f, host %.0f: want the host's plus a week", up, before)
	}
	if lines[4] != "ima-runtime" {
		t.Errorf("waiting parent is named %q, want ima-runtime", lines[4])
	}
	if strings.Contains(string(out), envPrefix) {
		t.Errorf("plan variables leaked into the exec'd program:\n%s", out)
	}
}

// After the first child is born the namespace is frozen: the unsharer's
// second write fails with EACCES (timens_offsets is the unsharer's file;
// the child writes it through /proc/<ppid>, which the kernel checks the
// same way). The Go child can do that because it lives in the namespace it
// was born into (time == time_for_children), so its threads are fine.
func TestSecondWriteAfterBirthIsEACCES(t *testing.T) {
	needTimeNS(t)
	cmd, err := Command(StagePlan{
		Unshare: unix.CLONE_NEWTIME,
		Writes:  []Write{{Path: "/proc/self/timens_offsets", Data: offsets}},
		Fork:    true,
		Exec:    []string{os.Args[0]},
		Env:     append(os.Environ(), "NSENTER_TEST_SECOND_WRITE=1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if string(out) != "second write: permission denied\n" {
		t.Errorf("%q, want EACCES", out)
	}
}

// secondWrite runs in the child of TestSecondWriteAfterBirthIsEACCES.
func secondWrite() int {
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/timens_offsets", os.Getppid()), os.O_WRONLY, 0)
	if err == nil {
		_, err = f.Write([]byte("monotonic 1 0"))
		f.Close()
	}
	switch {
	case errors.Is(err, syscall.EACCES):
		fmt.Println("second write: permission denied")
	default:
		fmt.Println("second write:", err)
	}
	return 0
}

// With Exec and no fork the program itself is the unsharer. (Time
// namespaces differ from IMA ones here: exec moves a task into its
// time_for_children, exec_task_namespaces; IMA has no such rule.) Its
// children are born into the new namespace.
func TestExecUnsharer(t *testing.T) {
	needTimeNS(t)
	host := nsLink(t, "/proc/self/ns/time")
	out := runExecHelper(t, StagePlan{
		Unshare: unix.CLONE_NEWTIME,
		Writes:  []Write{{Path: "/proc/self/timens_offsets", Data: offsets}},
		Exec:    []string{"/bin/sh", "-c", `echo child=$(readlink /proc/self/ns/time)`},
	})
	m := regexp.MustCompile(`child=(\S+)`).FindStringSubmatch(out)
	if m == nil || m[1] == host {
		t.Errorf("child not born into a new namespace:\n%s", out)
	}
}

func runExecHelper(t *testing.T, p StagePlan) string {
	t.Helper()
	out, err := execHelper(t, p)
	if err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	return out
}

func execHelper(t *testing.T, p StagePlan) (string, error) {
	t.Helper()
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "NSENTER_TEST_EXEC_PLAN="+string(js))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// startInNewTimeNS starts a sleeping process in a fresh time namespace with a
// week of offset and returns its pid.
func startInNewTimeNS(t *testing.T) int {
	t.Helper()
	cmd, err := Command(StagePlan{
		Unshare: unix.CLONE_NEWTIME,
		Writes:  []Write{{Path: "/proc/self/timens_offsets", Data: offsets}},
		Fork:    true,
		Exec:    []string{"/bin/sh", "-c", "echo $$; exec sleep 60"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return startAndReadPid(t, cmd)
}

func startAndReadPid(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func runReport(t *testing.T, p StagePlan, extra []*os.File, args ...string) report {
	t.Helper()
	cmd, err := Command(p)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Args = append(cmd.Args, args...)
	cmd.ExtraFiles = extra
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, stderrOf(err))
	}
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return r
}

// The Go process cannot join another process's time namespace (it has
// threads: timens_install says EUSERS); the C stage can, through an
// inherited fd, and Go code then runs in it with threads again.
func TestSetnsFDTimeNamespace(t *testing.T) {
	needTimeNS(t)
	pid := startInNewTimeNS(t)
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/time", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	target := nsLink(t, fmt.Sprintf("/proc/%d/ns/time", pid))
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWTIME); !errors.Is(err, unix.EUSERS) {
		t.Fatalf("setns from the multi-threaded Go test: %v, want EUSERS", err)
	}
	before := uptime()
	r := runReport(t, StagePlan{SetnsFD: 3, Stage: "report"}, []*os.File{f})
	if r.TimeNS != target {
		t.Errorf("stage child in %s, want %s", r.TimeNS, target)
	}
	if r.Uptime < before+week-1 {
		t.Errorf("stage child uptime %.0f, want the host's %.0f plus a week", r.Uptime, before)
	}
	if !r.Single || r.Stage != "report" {
		t.Errorf("stage %q single-threaded entry %v", r.Stage, r.Single)
	}
	if r.ThreadsLater < 2 {
		t.Errorf("Go runtime has %d threads after setns, want it to run normally", r.ThreadsLater)
	}
	if len(r.Markers) != 0 {
		t.Errorf("plan variables visible to Go: %v", r.Markers)
	}
}

// The same for a mount namespace by path (Go: setns(CLONE_NEWNS) needs an
// unshared fs_struct, which a threaded process never has: EINVAL).
func TestSetnsPathMountNamespace(t *testing.T) {
	needTimeNS(t)
	unsharePath, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("util-linux unshare not found")
	}
	dir := t.TempDir()
	cmd := exec.Command(unsharePath, "--mount", "--propagation", "private", "/bin/sh", "-c",
		`mount -t tmpfs probe "$1" && echo inside > "$1/marker" && echo $$ && exec sleep 60`, "sh", dir)
	pid := startAndReadPid(t, cmd)
	if _, err := os.Stat(filepath.Join(dir, "marker")); err == nil {
		t.Fatal("marker visible in the host mount namespace")
	}
	nsPath := fmt.Sprintf("/proc/%d/ns/mnt", pid)
	f, err := os.Open(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNS); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("setns(mnt) from the multi-threaded Go test: %v, want EINVAL", err)
	}
	r := runReport(t, StagePlan{SetnsPath: nsPath, Stage: "report"}, nil, filepath.Join(dir, "marker"))
	if r.Probe != "inside\n" {
		t.Errorf("stage child read %q (%s), want the marker of the other mount namespace", r.Probe, r.ProbeErr)
	}
	if r.MntNS != nsLink(t, nsPath) {
		t.Errorf("stage child in %s", r.MntNS)
	}
}

// Signals sent to the waiting parent reach the program; its exit status is
// the parent's.
func TestForkForwardsSignals(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not needed, but keep the suite uniform: needs root")
	}
	sigs := map[string]syscall.Signal{
		"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP, "QUIT": syscall.SIGQUIT,
		"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "WINCH": syscall.SIGWINCH,
	}
	for name, sig := range sigs {
		t.Run(name, func(t *testing.T) {
			want := 40 + int(sig)
			cmd, err := Command(StagePlan{Fork: true, Exec: []string{"/bin/sh", "-c",
				fmt.Sprintf(`trap 'exit %d' %s; echo $$; while :; do sleep 0.02; done`, want, name)}})
			if err != nil {
				t.Fatal(err)
			}
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if got := exitCode(t, err); got != want {
					t.Errorf("exit %d, want %d (the trap's)", got, want)
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatal("signal was not forwarded")
			}
		})
	}
}

func TestForkPassesStatusAndSignals(t *testing.T) {
	for _, tc := range []struct {
		script string
		code   int
		signal syscall.Signal
	}{
		{"exit 0", 0, 0},
		{"exit 1", 1, 0},
		{"exit 137", 137, 0},
		{"kill -KILL $$", -1, syscall.SIGKILL},
		{"kill -TERM $$", -1, syscall.SIGTERM},
		{"kill -SEGV $$", -1, syscall.SIGSEGV},
	} {
		t.Run(tc.script, func(t *testing.T) {
			cmd, err := Command(StagePlan{Fork: true, Exec: []string{"/bin/sh", "-c", tc.script}})
			if err != nil {
				t.Fatal(err)
			}
			err = cmd.Run()
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if tc.signal != 0 {
				if !ws.Signaled() || ws.Signal() != tc.signal {
					t.Fatalf("status %v, want death by %v", ws, tc.signal)
				}
				if ws.CoreDump() {
					t.Error("the waiting parent dumped core")
				}
				return
			}
			if got := exitCode(t, err); got != tc.code {
				t.Errorf("exit %d, want %d", got, tc.code)
			}
		})
	}
}

// The waiting parent keeps no inherited descriptors above stdio; the child
// gets them all.
func TestForkParentClosesInheritedFDs(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd, err := Command(StagePlan{Fork: true, Exec: []string{"/bin/sh", "-c", `ls /proc/$$/fd | sort -n | tr '\n' ' ' >&2
		# the parent closes right after fork: give it a moment
		for i in $(seq 100); do p=$(ls /proc/$PPID/fd | sort -n | tr '\n' ' '); [ "$p" = "0 1 2 " ] && break; sleep 0.02; done
		echo "$p"`}})
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{w}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	w.Close()
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if strings.TrimSpace(string(out)) != "0 1 2" {
		t.Errorf("parent fds %q, want 0 1 2", out)
	}
	if !strings.Contains(stderr.String(), " 3 ") {
		t.Errorf("child fds %q, want the inherited fd 3", stderr.String())
	}
}

func TestExecEnvironment(t *testing.T) {
	p := StagePlan{Exec: []string{"/usr/bin/env"}, Env: []string{"A=1", "_IMA_HOOK_NSENTER_STALE=x", "B=two words"}}
	out := runExecHelper(t, p)
	if out != "A=1\nB=two words\n" {
		t.Errorf("environment of the program:\n%s\nwant exactly Env minus plan variables", out)
	}
	// nil Env: ours minus the plan's.
	out = runExecHelper(t, StagePlan{Exec: []string{"/usr/bin/env"}})
	if strings.Contains(out, envPrefix) || !strings.Contains(out, "NSENTER_TEST_EXEC_PLAN=") {
		t.Errorf("environment of the program:\n%s", out)
	}
}

// Exec with a stage replaces the process with a fresh copy of the binary
// (same pid) that returns to Go in the stage.
func TestExecIntoStage(t *testing.T) {
	out := runExecHelper(t, StagePlan{Stage: "report"})
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Stage != "report" || !r.Single || len(r.Markers) != 0 {
		t.Errorf("stage child: %+v", r)
	}
}

func TestExecArgvUntouched(t *testing.T) {
	args := []string{"/bin/sh", "-c", `for a; do printf '[%s]' "$a"; done`, "zero", "", "with space", "--flag=x", "\nnl"}
	out := runExecHelper(t, StagePlan{Fork: true, Exec: args})
	if out != "[][with space][--flag=x][\nnl]" {
		t.Errorf("argv seen by the program: %q", out)
	}
}

var oneLine = regexp.MustCompile(`^ima-hook: [^\n]+: [^\n]+ \(errno \d+\); [^\n]+\n$`)

// Each failing step exits with its own code and one explaining line.
func TestStepFailures(t *testing.T) {
	needTimeNS(t)
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/plain", []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    StagePlan
		code int
		want string
	}{
		{"setns path", StagePlan{SetnsPath: "/proc/999999999/ns/time", Stage: "report"}, ExitSetns,
			"ima-hook: open /proc/999999999/ns/time: No such file or directory (errno 2); the process is gone"},
		{"setns not a namespace", StagePlan{SetnsPath: "/dev/null", Stage: "report"}, ExitSetns,
			"ima-hook: setns /dev/null: Invalid argument (errno 22)"},
		{"unshare IMA on a kernel without it", StagePlan{Unshare: 0x400000000, Fork: true, Exec: []string{"/bin/true"}}, ExitUnshare,
			"ima-hook: unshare(0x400000000): Invalid argument (errno 22); this kernel has no IMA namespaces (needs an openEuler kernel built with CONFIG_IMA_NS)"},
		{"write missing file", StagePlan{Writes: []Write{{Path: "/sys/kernel/security/ima/kcmd_for_children_missing", Data: "x"}}, Exec: []string{"/bin/true"}}, ExitWrite,
			"ima-hook: write /sys/kernel/security/ima/kcmd_for_children_missing: No such file or directory (errno 2)"},
		{"write rejected", StagePlan{Unshare: unix.CLONE_NEWTIME, Writes: []Write{{Path: "/proc/self/timens_offsets", Data: "bogus"}}, Fork: true, Exec: []string{"/bin/true"}}, ExitWrite,
			"ima-hook: write /proc/self/timens_offsets: Invalid argument (errno 22); the kernel rejected the value"},
		{"nsid dir missing", StagePlan{NSIDLink: "/proc/self/ns/time", NSIDFile: dir + "/missing/x", Exec: []string{"/bin/true"}}, ExitNSID,
			"ima-hook: write " + dir + "/missing/x: No such file or directory (errno 2)"},
		{"exec missing", StagePlan{Fork: true, Exec: []string{"/nonexistent/runc"}}, ExitExecNotFound,
			"ima-hook: exec /nonexistent/runc: No such file or directory (errno 2); the program does not exist"},
		{"exec not executable", StagePlan{Exec: []string{dir + "/plain"}}, ExitExec,
			"ima-hook: exec " + dir + "/plain: Permission denied (errno 13); the program is not executable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := Command(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err = cmd.Run()
			if got := exitCode(t, err); got != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", got, tc.code, stderr.String())
			}
			if !strings.HasPrefix(stderr.String(), tc.want) || !oneLine.MatchString(stderr.String()) {
				t.Errorf("stderr %q\nwant one line starting %q", stderr.String(), tc.want)
			}
		})
	}
}

// A failed step also lands in the runtime's --log file, as the entry go-runc
// (containerd, Docker) reads back to tell the user why the runtime failed:
// the last JSON object with level "error" and a valid time. In text format
// it is a logrus line. The file gets appended to, never truncated.
func TestStepFailureInRuntimeLog(t *testing.T) {
	dir := t.TempDir()
	bad := dir + `/odd "name"` + "\t/x" // quote and tab in the message
	for _, asJSON := range []bool{true, false} {
		logPath := filepath.Join(dir, fmt.Sprintf("log-%v", asJSON))
		if err := os.WriteFile(logPath, []byte(`{"level":"info","msg":"earlier","time":"2026-01-01T00:00:00Z"}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd, err := Command(StagePlan{NSIDLink: "/proc/self/ns/time", NSIDFile: bad, Exec: []string{"/bin/true"},
			ErrorLog: logPath, ErrorLogJSON: asJSON})
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if got := exitCode(t, cmd.Run()); got != ExitNSID {
			t.Fatalf("exit %d, want %d; stderr %q", got, ExitNSID, stderr.String())
		}
		line := strings.TrimSuffix(stderr.String(), "\n")
		data, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		entries := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(entries) != 2 || !strings.Contains(entries[0], "earlier") {
			t.Fatalf("log not appended to: %q", data)
		}
		if asJSON {
			var e struct {
				Level string
				Msg   string
				Time  time.Time
			}
			if err := json.Unmarshal([]byte(entries[1]), &e); err != nil {
				t.Fatalf("entry %q: %v", entries[1], err)
			}
			if e.Level != "error" || e.Msg != line || time.Since(e.Time) > time.Minute || time.Since(e.Time) < 0 {
				t.Errorf("entry %+v, want level error, msg %q, time now", e, line)
			}
		} else {
			m := regexp.MustCompile(`^time="([^"]+)" level=error msg="(.*)"$`).FindStringSubmatch(entries[1])
			if m == nil {
				t.Fatalf("text entry %q", entries[1])
			}
			if _, err := time.Parse(time.RFC3339Nano, m[1]); err != nil {
				t.Errorf("time %q: %v", m[1], err)
			}
			if msg, err := strconv.Unquote(`"` + m[2] + `"`); err != nil || msg != line {
				t.Errorf("msg %q (%v), want %q", m[2], err, line)
			}
		}
	}
}

// A plan the C parser refuses (only possible by hand-made environments)
// stops with ExitPlan before doing anything.
func TestHandMadeBadPlan(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{"_IMA_HOOK_NSENTER=1", "_IMA_HOOK_NSENTER_UNSHARE=-1", "_IMA_HOOK_NSENTER_EXEC=1"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if got := exitCode(t, err); got != ExitPlan {
		t.Errorf("exit %d, want %d", got, ExitPlan)
	}
	if !strings.HasPrefix(stderr.String(), "ima-hook: nsenter plan: _IMA_HOOK_NSENTER_UNSHARE: want non-zero decimal clone flags") {
		t.Errorf("stderr %q", stderr.String())
	}
	// Version mismatch, and a plan without exec or stage.
	for env, want := range map[string]string{
		"_IMA_HOOK_NSENTER=2": "unknown plan encoding version",
		"_IMA_HOOK_NSENTER=1": "want exactly one of an exec argv and a stage",
	} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = []string{env}
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), want) {
			t.Errorf("%s: %q, want %q", env, out, want)
		}
	}
}

// Without the marker nothing happens (normal starts of the binary).
func TestNoPlanNoStage(t *testing.T) {
	if Stage() != "" || SingleThreadedEntry() {
		t.Errorf("Stage %q SingleThreadedEntry %v in a normal start", Stage(), SingleThreadedEntry())
	}
}

var _ = io.EOF
