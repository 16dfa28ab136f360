package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

// runCaptured runs the binary's dispatch with argv and returns its exit
// status, stdout and stderr.
func runCaptured(t *testing.T, argv ...string) (int, string, string) {
	t.Helper()
	capture := func(f **os.File) (func() string, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		old := *f
		*f = w
		out := make(chan string)
		go func() {
			b, _ := io.ReadAll(r)
			out <- string(b)
		}()
		return func() string {
			*f = old
			w.Close()
			s := <-out
			r.Close()
			return s
		}, nil
	}
	doneOut, err := capture(&os.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	doneErr, err := capture(&os.Stderr)
	if err != nil {
		doneOut()
		t.Fatal(err)
	}
	status := dispatch(append([]string{"ima-hook"}, argv...))
	stderr := doneErr()
	stdout := doneOut()
	return status, stdout, stderr
}

// TestEveryUsageErrorSpeaks: a bad flag to any subcommand prints one line
// that names the flag and points at the subcommand's --help, and exits 2.
// Before, pflag's ContinueOnError printed nothing at all for most of them.
func TestEveryUsageErrorSpeaks(t *testing.T) {
	see := func(cmd string) string { return "; see 'ima-hook " + cmd + " --help'" }
	cases := []struct {
		argv []string
		want string
	}{
		{[]string{"measurements", "--contianer", "web-1"}, "ima-hook: measurements: unknown flag --contianer" + see("measurements")},
		{[]string{"policy", "check", "--bogus"}, "ima-hook: policy check: unknown flag --bogus" + see("policy check")},
		{[]string{"policy", "check", "--kcmd"}, "ima-hook: policy check: flag --kcmd needs a value" + see("policy check")},
		{[]string{"status", "--jsn"}, "ima-hook: status: unknown flag --jsn" + see("status")},
		{[]string{"status", "-x"}, "ima-hook: status: unknown flag -x (in -x)" + see("status")},
		{[]string{"hook", "--bogus"}, "ima-hook: hook: unknown flag --bogus" + see("hook")},
		{[]string{"hook", "--stage"}, "ima-hook: hook: flag --stage needs a value" + see("hook")},
		{[]string{"preflight", "--bogus"}, "ima-hook: preflight: unknown flag --bogus" + see("preflight")},
		{[]string{"preflight", "--timeout", "soon"}, `ima-hook: preflight: invalid value "soon" for --timeout: must be a duration like "30s" or "5m"` + see("preflight")},
		{[]string{"runtime", "--bogus", "create"}, "ima-hook: runtime: unknown flag --bogus; put the runtime's arguments after -- (see 'ima-hook runtime --help')"},
		{[]string{"configure", "--engin", "docker"}, "ima-hook: configure: unknown flag --engin" + see("configure")},
		{[]string{"list", "--jsn"}, "ima-hook: list: unknown flag --jsn" + see("list")},
		{[]string{"version", "--bogus"}, "ima-hook: version: unknown flag --bogus" + see("version")},
		{[]string{"emu", "--bogus"}, "ima-hook: emu: unknown flag --bogus" + see("emu")},
		// What the user typed is shown, escaped, never raw.
		{[]string{"status", "--j\x1b[2Jsn"}, `ima-hook: status: unknown flag --j\x1b[2Jsn` + see("status")},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		if _, ok := commands[c.argv[0]]; !ok {
			if c.argv[0] == "emu" {
				continue // only in the emulated-kernel build
			}
			t.Fatalf("no command %q", c.argv[0])
		}
		covered[c.argv[0]] = true
		status, stdout, stderr := runCaptured(t, c.argv...)
		if status != 2 || stdout != "" || stderr != c.want+"\n" {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want 2 and %q", c.argv, status, stdout, stderr, c.want)
		}
	}
	for name := range commands {
		if !covered[name] {
			t.Errorf("subcommand %q has no bad-flag case here", name)
		}
	}
}

// TestHelpStillExitsZero: --help is not a usage error.
func TestHelpStillExitsZero(t *testing.T) {
	for name := range commands {
		status, stdout, stderr := runCaptured(t, name, "--help")
		if status != 0 || stdout+stderr == "" || strings.Contains(stdout+stderr, "unknown flag") {
			t.Errorf("%s --help: status %d, stdout %q, stderr %q", name, status, stdout, stderr)
		}
	}
}
