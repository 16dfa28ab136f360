package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/ima-hook/ima-hook/internal/logx"
	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/kconfig"
	"github.com/ima-hook/ima-hook/pkg/kube"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
	"github.com/ima-hook/ima-hook/pkg/record"
	"github.com/ima-hook/ima-hook/pkg/runtime"
)

func init() {
	register(command{name: "runtime", summary: "runtime wrapper: create/join the container's IMA namespace, then run runc or crun", run: runRuntime})
}

const runtimeUsage = `Usage: ima-hook runtime [--runtime PATH] [--config FILE] [--inject-hooks] [--force-unshare] -- <runtime arguments>
       ima-runtime <runtime arguments>          (a symlink named ima-runtime)

Stands in for runc or crun. Engines call it exactly like the runtime it
wraps; it hands every command to the real runtime unchanged (argv, stdio,
inherited fds such as the console socket, exit status and signals), except:

  create, run   If the bundle's config.json enables IMA (io.imans.enable=true,
                or mandatory = true in the admin config), the configuration is
                validated first (same code as the hook: nothing is created on
                an error, one stderr line says why). Then a fresh IMA namespace
                is created (unshare(CLONE_NEWIMA), kcmd_for_children and
                x509_for_children written, its id recorded under run_dir) and
                the runtime is forked into it. On a kernel without IMA
                namespaces: io.imans.required=true (default) refuses the
                container, false starts it without.
  exec          Joins the IMA namespace of the container's init process
                (pid from '<runtime> state <id>') before running the runtime,
                so processes started later are measured under its policy.
                A container the wrapper's own notes (run_dir/created) or the
                hook's record show with a namespace is joined or refused,
                never passed through, even if its state cannot be read.
  delete        Removes the wrapper's notes of the container once the runtime
                deleted it (stale notes also go at the next create).

Examples:
  ima-hook runtime -- --root /run/runc run --bundle /srv/b ctr1
  podman --runtime /usr/local/bin/ima-runtime run --annotation io.imans.enable=true ...
  (containers.conf, CRI-O, containerd and Docker set-ups: docs/runtime-wrapper.md)

Engines that do not read hooks.d (containerd, Docker) need --inject-hooks,
so that the hook that loads the policy runs; podman and CRI-O add it from
hooks.d themselves (an ima-hook entry already present is never doubled).

The symlink form takes the runtime and everything else from the admin
config (runtime = "runc" by default, looked up in PATH).

The original IMA-namespace guide's flags may come first (daemon.json
runtimeArgs): --imans (IMA for every container of this runtime entry),
--ima-x509 PATH and --ima-kcmd "..." (its default certificate and kcmd),
also as one argument each ("--ima-x509 /etc/ima-hook/keys/x.der"). They are
the admin's defaults for this entry, never passed to the runtime, and imply
--inject-hooks with the same defaults for the hook.

Flags:
`

func runRuntime(args []string) int {
	var runtimeFlag, cfgPath string
	var force, inject bool
	var rtArgs []string
	if len(args) > 0 && args[0] == "--from-symlink" {
		rtArgs = args[1:]
	} else {
		fs := pflag.NewFlagSet("runtime", pflag.ContinueOnError)
		fs.SetInterspersed(false)
		fs.StringVar(&runtimeFlag, "runtime", "", "the real runtime `PATH` (default: runtime in the admin config, \"runc\")")
		fs.StringVar(&cfgPath, "config", "", "admin config `FILE` (default "+config.DefaultPath+")")
		fs.BoolVar(&inject, "inject-hooks", false, "add the ima-hook createRuntime/poststop hooks to config.json of containers that want IMA, unless present (containerd, Docker: engines without hooks.d)")
		fs.BoolVar(&force, "force-unshare", false, "attempt the namespace even if the kernel probe says IMA namespaces are missing (diagnostics: shows the kernel's own answer)")
		fs.Usage = func() {
			fmt.Fprint(os.Stderr, runtimeUsage)
			fs.PrintDefaults()
		}
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, pflag.ErrHelp) {
				return 0
			}
			fmt.Fprintln(os.Stderr, userror.UsageLine("runtime", err, "put the runtime's arguments after --"))
			return 2
		}
		rtArgs = fs.Args()
	}

	// The original guide's --imans, --ima-x509 and --ima-kcmd in front of
	// the runtime's arguments (daemon.json runtimeArgs): the admin's
	// defaults for this runtime entry, never passed to the runtime.
	guide, rest, guideErr := runtime.SplitGuideFlags(rtArgs)
	rtArgs = rest
	inv, _ := runtime.Parse(rtArgs)
	wantsUs := inv.Command == "create" || inv.Command == "run" || inv.Command == "exec"
	// refuse reports a failure before the wrapper runs: stderr, and the
	// runtime's --log file, the only place containerd and Docker look.
	refuse := func(err error) int {
		line := userror.Line(err)
		fmt.Fprintln(os.Stderr, line)
		_ = runtime.LogRefusal(inv, line) // best effort: stderr has it
		return 1
	}

	admin, err := config.LoadAdmin(cfgPath)
	if err != nil {
		// Without the admin config we cannot decide on IMA; but a broken
		// config must not keep an explicitly named runtime from deleting or
		// killing containers.
		if wantsUs || runtimeFlag == "" {
			return refuse(err)
		}
		admin = config.BuiltinAdmin()
	} else if nsenter.CardStale() {
		writePassCard(cfgPath, admin)
	}
	if guideErr == nil {
		guideErr = admin.ApplyRuntimeDefaults(guide)
	}
	if guideErr != nil {
		if wantsUs {
			return refuse(guideErr)
		}
		// Deleting and killing containers must keep working.
		guide = config.RuntimeDefaults{}
	}
	if !guide.IsZero() {
		// The guide's set-ups are Docker's, which has no hooks.d: the hook
		// that checks the namespace's key and loads a policy is added, with
		// the same defaults.
		inject = true
	}
	rt, err := resolveRuntime(runtimeFlag, admin)
	if err != nil {
		return refuse(err)
	}

	var logger *logx.Logger
	// who is the container's Kubernetes pod and container, from the
	// annotations the wrapper reads: its log lines name them too.
	var who string
	var w *runtime.Wrapper
	w = &runtime.Wrapper{
		Runtime: rt,
		Resolve: func(ann map[string]string) (*runtime.Settings, error) {
			who = kube.FromAnnotations(ann).String()
			c, err := config.Resolve(ann, admin)
			if err != nil || c == nil {
				return nil, err
			}
			if c.Sandbox {
				// A pod's sandbox (pause) container: its annotations are the
				// pod's, validated here so that a bad one fails the pod at
				// once; it gets no namespace of its own (io.imans.scope).
				if logger == nil {
					logger = logx.Open(admin.Log, admin.RunDir)
				}
				logger.Info(sandboxID(ann), "runtime: pod sandbox container: IMA configuration valid; no IMA namespace of its own")
				return nil, nil
			}
			// What the hook would refuse in the namespace about to be
			// created is refused now, before anything exists.
			// The kernel's build config counts only where a namespace will
			// be created (an optional container on a kernel without IMA
			// namespaces starts without one).
			// Probe reads the kernel's build config (and more): only done
			// when the configuration can depend on it.
			var kc *kconfig.Config
			if c.KernelConfigMatters() {
				if feat := w.Kernel.Probe(); feat.Missing() == "" {
					kc = feat.KernelConfig
				}
			}
			if _, err := c.CheckNamespace(true, kc); err != nil {
				return nil, err
			}
			set := &runtime.Settings{Required: c.Required, Kcmd: c.KcmdText, X509Path: c.X509Path}
			if c.Cert != nil {
				set.X509DER = c.Cert.DER
			}
			if c.Scope == config.ScopePod {
				// The pod's app containers share one namespace: the
				// wrapper joins the one an earlier container of the pod
				// created, or creates it (under the pod's lock).
				// A sandbox that gets a namespace (mandatory = true) has
				// one of its own: it takes no part in the pod's.
				if k := kube.FromAnnotations(ann); k != nil && k.SandboxID != "" && !k.Sandbox {
					set.Pod = k.SandboxID
				}
			}
			return set, nil
		},
		Enabled: func(ann map[string]string) (bool, error) {
			who = kube.FromAnnotations(ann).String()
			return config.Enabled(ann, admin)
		},
		Mandatory:    admin.Mandatory,
		Store:        record.Store{RunDir: admin.RunDir, ArchiveDir: admin.ArchiveDir},
		Env:          os.Environ(),
		ForceUnshare: force,
		Stderr:       os.Stderr,
		Log: func(id, format string, a ...any) {
			if logger == nil {
				logger = logx.Open(admin.Log, admin.RunDir)
			}
			logger.Identify(id, who)
			if logger.Target() == "stderr" && strings.HasPrefix(format, "refused: ") {
				return // the refusal is already the one stderr line
			}
			logger.Info(id, "runtime: "+format, a...)
		},
		PID:      nsenter.WaiterPID(),
		Exec:     syscall.Exec,
		RunChild: runtime.RunRuntime,
		State:    runtime.RuntimeState,
	}
	if inject {
		spec, err := hookSpec(cfgPath)
		if err != nil {
			return refuse(err)
		}
		spec.Args = guide.Args()
		w.Inject = spec
	}
	if wantsUs {
		// Only the subcommands that may need it touch the kernel seam (the
		// emulated build opens its state directory here).
		w.Kernel = ns.Default()
	}
	status := w.Run(rtArgs)
	if logger != nil {
		logger.Close()
	}
	return status
}

// sandboxID is the container id of a sandbox container as the CRI
// annotations give it, for the log line.
func sandboxID(ann map[string]string) string {
	if k := kube.FromAnnotations(ann); k != nil && k.SandboxID != "" {
		return k.SandboxID
	}
	return "-"
}

// writePassCard tells the C pre-filter (pkg/ns/nsenter/passthrough.c) what
// this admin config says of a container without io.imans.* annotations,
// so that the next such container is passed through before any Go starts:
// a card for a config that is not mandatory, none for one that is. It runs
// before the original guide's flags apply (they are per runtime entry, and
// the pre-filter leaves any command line with them to Go). Best effort:
// without a card every call takes the Go path, as before.
func writePassCard(cfgPath string, admin *config.Admin) {
	path := cfgPath
	if path == "" {
		path = config.DefaultPath
	}
	if !filepath.IsAbs(path) {
		return // the pre-filter reads only absolute config paths
	}
	dir := nsenter.CardDir()
	if admin.Mandatory {
		_ = nsenter.RemoveCard(dir, path)
		return
	}
	card := nsenter.Card{ConfigPath: path, ConfigAbsent: admin.Source == "", ConfigSize: admin.SourceSize,
		ConfigFNV: admin.SourceFNV, RunDir: admin.RunDir}
	name := admin.Runtime
	if name == "" {
		name = "runc"
	}
	// A runtime named relative to the working directory resolves
	// differently from call to call: no runtime on the card then (the
	// pre-filter passes only calls with --runtime).
	if filepath.IsAbs(name) || filepath.Base(name) == name {
		if rt, err := resolveRuntime("", admin); err == nil {
			card.Runtime = rt
			if !filepath.IsAbs(name) {
				card.LookedUp, card.Path = true, os.Getenv("PATH")
			}
		}
	}
	_ = nsenter.WriteCard(dir, card)
}

// resolveRuntime finds the real runtime: the flag, else the admin config's
// runtime (a PATH lookup unless absolute). It must not be this binary, or
// the wrapper would call itself forever.
func resolveRuntime(flag string, admin *config.Admin) (string, error) {
	name, subject := flag, "--runtime"
	if name == "" {
		name, subject = admin.Runtime, "runtime (admin config)"
		if admin.Source != "" {
			subject = admin.Source + ": runtime"
		}
	}
	if name == "" {
		name = "runc"
	}
	path := name
	if filepath.Base(name) == name {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", userror.Wrap(err, subject, fmt.Sprintf("runtime %q not found in PATH", name), "install it or give its absolute path")
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", userror.Wrapf(err, subject, "give an absolute path", "")
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", userror.Wrap(err, subject, fmt.Sprintf("runtime %s: %v", abs, errors.Unwrap(err)), "install it or fix the path")
	}
	if self, err := os.Stat("/proc/self/exe"); err == nil && os.SameFile(st, self) {
		return "", userror.New(subject, abs+" is ima-hook itself (the wrapper would call itself)", "name the real runtime, e.g. /usr/sbin/runc")
	}
	return abs, nil
}

// hookSpec is the hook entry --inject-hooks adds: this very binary, the same
// admin config, and an environment of PATH plus the IMA_HOOK_* variables
// (runc gives a hook no other environment; the emulated build needs
// IMA_HOOK_EMU_DIR).
func hookSpec(cfgPath string) (*runtime.HookSpec, error) {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, userror.Wrapf(err, "--inject-hooks", "run it from a path the hook can use", "cannot find this binary")
	}
	if cfgPath != "" {
		if cfgPath, err = filepath.Abs(cfgPath); err != nil {
			return nil, userror.Wrapf(err, "--config", "give an absolute path", "")
		}
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "IMA_HOOK_") {
			env = append(env, kv)
		}
	}
	return &runtime.HookSpec{Path: self, Config: cfgPath, Env: env, Timeout: 30}, nil
}
