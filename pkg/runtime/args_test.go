package runtime

import (
	"reflect"
	"strings"
	"testing"
)

const (
	podID  = "c96ba80346a892cc05b5cf71b7d47c2c249240b6b17fe68778c94317488b8c0e"
	podDir = "/var/lib/containers/storage/overlay-containers/" + podID + "/userdata"
)

// Command lines as engines send them. The podman ones were captured on the
// build machine (podman 4.3.1 + conmon, --runtime pointing at a logging
// script); containerd's are go-runc's argument order; crun's use argp forms.
func TestParseRealInvocations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		line    string
		cmd     string
		bundle  string
		config  string
		id      string
		global  string
		unknown []string
	}{
		{"podman create", "create --bundle " + podDir + " --pid-file /run/containers/storage/overlay-containers/" + podID + "/userdata/pidfile " + podID,
			"create", podDir, "", podID, "", nil},
		{"podman start", "start " + podID, "start", "", "", "", "", nil},
		{"podman exec", "exec --pid-file " + podDir + "/x/exec_pid --process " + podDir + "/x/exec-process-1512306436 --detach " + podID,
			"exec", "", "", podID, "", nil},
		{"podman exec -t", "exec --pid-file /p --process /q --detach --tty --console-socket /tmp/conmon-term.QJ63Y3 " + podID,
			"exec", "", "", podID, "", nil},
		{"podman kill", "kill " + podID + " 15", "kill", "", "", "", "", nil},
		{"podman delete", "delete --force " + podID, "delete", "", "", podID, "", nil},
		{"conmon systemd runc", "--root /run/runc --systemd-cgroup create --bundle /b --pid-file /p --console-socket /s --no-pivot ctr",
			"create", "/b", "", "ctr", "--root /run/runc --systemd-cgroup", nil},
		{"CRI-O equals form", "--root=/run/runc --systemd-cgroup=true create --bundle=/b --pid-file=/p ctr",
			"create", "/b", "", "ctr", "--root=/run/runc --systemd-cgroup=true", nil},
		{"containerd create", "--root /run/containerd/runc/k8s.io --log /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/log.json --log-format json create --bundle /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc --pid-file /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/init.pid abc",
			"create", "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc", "", "abc",
			"--root /run/containerd/runc/k8s.io --log /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/log.json --log-format json", nil},
		{"containerd create tty", "--root /r --log /l --log-format json --systemd-cgroup create --bundle /b --pid-file /p --console-socket /tmp/pty123/pty.sock --no-new-keyring abc",
			"create", "/b", "", "abc", "--root /r --log /l --log-format json --systemd-cgroup", nil},
		{"containerd exec", "--root /r --log /l --log-format json exec --process /tmp/runc-process123 --detach --pid-file /run/x/exec.pid abc",
			"exec", "", "", "abc", "--root /r --log /l --log-format json", nil},
		{"docker run", "--root /var/run/docker/runtime-runc/moby --log /l --log-format json --systemd-cgroup create --bundle /run/containerd/io.containerd.runtime.v2.task/moby/abc --pid-file /p abc",
			"create", "/run/containerd/io.containerd.runtime.v2.task/moby/abc", "", "abc",
			"--root /var/run/docker/runtime-runc/moby --log /l --log-format json --systemd-cgroup", nil},
		{"runc run foreground", "run -b /srv/bundle ctr", "run", "/srv/bundle", "", "ctr", "", nil},
		{"runc run detached", "--debug run -d --pid-file /p --bundle /b ctr", "run", "/b", "", "ctr", "--debug", nil},
		{"runc go-flag style", "-root /r -log-format=json run -bundle /b -detach ctr", "run", "/b", "", "ctr", "-root /r -log-format=json", nil},
		{"runc rootless value", "--rootless auto run --bundle /b ctr", "run", "/b", "", "ctr", "--rootless auto", nil},
		{"runc criu", "--criu /usr/sbin/criu create --bundle /b ctr", "create", "/b", "", "ctr", "--criu /usr/sbin/criu", nil},
		{"crun cgroup manager", "--cgroup-manager=systemd --root=/run/crun create --bundle=/b --config=other.json ctr",
			"create", "/b", "other.json", "ctr", "--cgroup-manager=systemd --root=/run/crun", nil},
		{"crun cgroup manager space", "--cgroup-manager systemd create -f alt.json -b /b ctr", "create", "/b", "alt.json", "ctr", "--cgroup-manager systemd", nil},
		{"crun short joined", "create -b/b -falt.json ctr", "create", "/b", "alt.json", "ctr", "", nil},
		{"crun flags after id", "create ctr --bundle /b", "create", "/b", "", "ctr", "", nil},
		{"crun exec tty optional", "exec -t --cwd / -e A=1 -e B=2 -u 0:0 ctr /bin/sh -c 'echo -b x'", "exec", "", "", "ctr", "", nil},
		{"exec command looks like flags", "exec ctr --bundle /evil ls -la", "exec", "", "", "ctr", "", nil},
		{"exec short cluster", "exec -dt ctr sh", "exec", "", "", "ctr", "", nil},
		{"default bundle", "--root /r create ctr", "create", "", "", "ctr", "--root /r", nil},
		{"double dash id", "create --bundle /b -- ctr", "create", "/b", "", "ctr", "", nil},
		{"version", "--version", "", "", "", "", "", nil},
		{"help", "--help", "", "", "", "", "", nil},
		{"unknown bool global", "--new-global create --bundle /b ctr", "create", "/b", "", "ctr", "--new-global", []string{"--new-global"}},
		{"unknown flag with value form", "create --future=1 --bundle /b ctr", "create", "/b", "", "ctr", "", nil},
		{"unknown flag ambiguous", "create --future x --bundle /b ctr", "create", "/b", "", "x", "", []string{"--future"}},
		{"state", "--root /r state ctr", "state", "", "", "ctr", "--root /r", nil},
		{"features", "features", "features", "", "", "", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := strings.Fields(tc.line)
			inv, err := Parse(args)
			if err != nil {
				t.Fatal(err)
			}
			if inv.Command != tc.cmd || inv.Bundle != tc.bundle || inv.Config != tc.config || inv.ID != tc.id {
				t.Errorf("got cmd %q bundle %q config %q id %q\nwant cmd %q bundle %q config %q id %q",
					inv.Command, inv.Bundle, inv.Config, inv.ID, tc.cmd, tc.bundle, tc.config, tc.id)
			}
			if g := strings.Join(inv.Global, " "); g != tc.global {
				t.Errorf("global %q, want %q", g, tc.global)
			}
			if !reflect.DeepEqual(inv.Unknown, tc.unknown) {
				t.Errorf("unknown %q, want %q", inv.Unknown, tc.unknown)
			}
			if !reflect.DeepEqual(inv.Args, args) {
				t.Errorf("Args changed: %q", inv.Args)
			}
		})
	}
}

// The runtime's own log, where go-runc (containerd, Docker) looks for the
// reason of a failure.
func TestParseRuntimeLog(t *testing.T) {
	for line, want := range map[string][2]string{
		"--root /r --log /run/x/log.json --log-format json create --bundle /b ctr": {"/run/x/log.json", "json"},
		"-log=/l -log-format=text run ctr":                                         {"/l", "text"},
		"--log /l exec ctr sh":                                                     {"/l", ""},
		"create --bundle /b ctr":                                                   {"", ""},
		// After the subcommand these are not the runtime's global flags.
		"exec ctr sh --log /x": {"", ""},
	} {
		inv, err := Parse(strings.Fields(line))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got := [2]string{inv.Log, inv.LogFormat}; got != want {
			t.Errorf("%s: log %q, want %q", line, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for line, want := range map[string]string{
		"--root":          `runtime argument 1 ("--root"): missing value`,
		"create --bundle": `runtime argument 2 ("--bundle"): missing value`,
		"--log /l run -b": `runtime argument 4 ("-b"): missing value`,
		"exec --process":  `runtime argument 2 ("--process"): missing value`,
	} {
		_, err := Parse(strings.Fields(line))
		if err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", line, err, want)
		}
	}
	many := make([]string, MaxArgs+1)
	for i := range many {
		many[i] = "--debug"
	}
	if _, err := Parse(many); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("too many args: %v", err)
	}
}

// The parser never panics, never changes Args, and an ID it reports is one
// of the arguments.
func FuzzParse(f *testing.F) {
	f.Add("--root /r --log-format=json create -b /b --pid-file /p ctr")
	f.Add("exec -dt ctr sh -c x")
	f.Add("-bx -- -")
	f.Add("create -b")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, " ")
		if len(args) > 64 {
			args = args[:64]
		}
		orig := append([]string(nil), args...)
		inv, err := Parse(args)
		if !reflect.DeepEqual(args, orig) || !reflect.DeepEqual(inv.Args, orig) {
			t.Fatalf("args modified")
		}
		if err != nil {
			return
		}
		if inv.CmdIndex >= 0 && args[inv.CmdIndex] != inv.Command {
			t.Fatalf("CmdIndex %d does not hold %q", inv.CmdIndex, inv.Command)
		}
		if inv.ID != "" && !contains(args, inv.ID) {
			t.Fatalf("ID %q is not an argument", inv.ID)
		}
		if inv.Bundle != "" && !strings.Contains(line, inv.Bundle) {
			t.Fatalf("bundle %q not in the line", inv.Bundle)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
