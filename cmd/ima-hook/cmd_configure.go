package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/configure"
)

func init() {
	register(command{name: "configure", summary: "register the ima runtime handler with containerd, CRI-O, podman, Docker or iSulad", run: func(args []string) int {
		return configureMain(args, os.Stdout, os.Stderr)
	}})
}

const configureUsage = `Usage: ima-hook configure --engine containerd|cri-o|podman|docker|isulad [--hook-spec] [--dry-run] [--prefix DIR] [--handler NAME] [--root DIR]

Registers ima-hook with a container engine, as 'make install' placed it
under --prefix: a runtime (handler) named "ima" that runs the wrapper, the
io.imans.* annotations passed to it, and the hooks.d directory where the
engine reads hooks.d files. A Kubernetes RuntimeClass with handler "ima"
then selects it (deploy/kubernetes/, docs/kubernetes.md).

  containerd  appends the runtime entry to /etc/containerd/config.toml (its
              imports would replace the main file's CRI section as a whole)
              and writes PREFIX/bin/ima-runtime-inject (containerd reads no
              hooks.d: the wrapper adds the hooks)
  cri-o       writes /etc/crio/crio.conf.d/50-ima-hook.conf
  podman      writes /etc/containers/containers.conf.d/50-ima-hook.conf
  docker      adds the runtime to /etc/docker/daemon.json
  isulad      adds the runtime to /etc/isulad/daemon.json ("runtimes", with
              "runtime-args"); the wrapper adds the hooks to each container
              of that runtime (--inject-hooks) and daemon.json's daemon-wide
              "hook-spec" is left alone. With --hook-spec the runtime is the
              plain wrapper and the hooks come from the hook-spec instead:
              "hook-spec" set to PREFIX/share/ima-hook/isulad-hook-spec.json,
              or, when it names another file, ima-hook's two entries added
              to that file. Never both: either way a container would run
              ima-hook twice, so configure refuses a hook-spec that runs
              ima-hook (without --hook-spec) and a runtime entry that adds
              the hooks itself, --inject-hooks or --imans (with it).

Every file it replaces is kept as FILE.ima-hook-backup-<time>. Running it
again changes nothing. A config it cannot parse is refused with one line,
and nothing is changed. It prints what it changed and the restart the
engine needs; it restarts nothing itself.

Flags:
`

func configureMain(args []string, stdout, stderr io.Writer) int {
	var o configure.Options
	var dryRun bool
	fs := pflag.NewFlagSet("configure", pflag.ContinueOnError)
	fs.StringVar(&o.Engine, "engine", "", "the engine: "+strings.Join(configure.Engines, ", ")+" (required)")
	fs.BoolVar(&dryRun, "dry-run", false, "print what would change, change nothing")
	fs.StringVar(&o.Prefix, "prefix", configure.DefaultPrefix, "where ima-hook is installed on the node (make install PREFIX)")
	fs.StringVar(&o.Handler, "handler", configure.DefaultHandler, "the runtime handler `NAME` (RuntimeClass handler)")
	fs.BoolVar(&o.IsuladHookSpec, "hook-spec", false, "with --engine isulad: give containers the hook through daemon.json's hook-spec, not --inject-hooks")
	fs.StringVar(&o.Root, "root", "/", "the node's root `DIR` as this process sees it (a DaemonSet's host mount, e.g. /host)")
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, configureUsage)
		fs.PrintDefaults()
	}
	if status, done := parseFlags(fs, args); done {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, userror.Line(userror.New("configure", "unexpected argument "+userror.Quote(fs.Arg(0)), "give the engine with --engine")))
		return 2
	}
	if o.Engine == "" {
		fmt.Fprintln(stderr, userror.Line(userror.New("--engine", "missing", "use one of "+strings.Join(configure.Engines, ", "))))
		return 2
	}
	plan, err := configure.Make(o)
	if err != nil {
		fmt.Fprintln(stderr, userror.Line(err))
		return 1
	}
	for _, u := range plan.Unchanged {
		fmt.Fprintf(stdout, "unchanged %s\n", u)
	}
	if len(plan.Changes) == 0 {
		fmt.Fprintf(stdout, "%s is configured for ima-hook already; nothing to do\n", o.Engine)
		return 0
	}
	if dryRun {
		for _, c := range plan.Changes {
			verb := "would replace"
			if c.Old == nil {
				verb = "would create"
			}
			fmt.Fprintf(stdout, "%s %s: %s\n", verb, c.Path, c.What)
			fmt.Fprintf(stdout, "--- new content of %s ---\n%s", c.Path, c.New)
			if len(c.New) > 0 && c.New[len(c.New)-1] != '\n' {
				fmt.Fprintln(stdout)
			}
		}
		fmt.Fprintf(stdout, "dry run: nothing was changed; after a real run: %s\n", plan.Restart)
		return 0
	}
	lines, err := plan.Apply(time.Now())
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if err != nil {
		fmt.Fprintln(stderr, userror.Line(err))
		return 1
	}
	fmt.Fprintf(stdout, "restart needed: %s\n", plan.Restart)
	return 0
}
