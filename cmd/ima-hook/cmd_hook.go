package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ima-hook/ima-hook/internal/logx"
	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/config"
	"github.com/ima-hook/ima-hook/pkg/hook"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/oci"
)

func init() {
	register(command{name: "hook", summary: "run as an OCI hook (createRuntime or poststop); state JSON on stdin", run: runHook})
}

func runHook(args []string) int {
	fs := pflag.NewFlagSet("hook", pflag.ContinueOnError)
	stage := fs.String("stage", "", "hook stage: createRuntime (also prestart) or poststop (required)")
	stateFile := fs.String("state", "", "read the container state from `FILE` instead of stdin (for tests)")
	cfgPath := fs.String("config", "", "admin config `FILE` (default "+config.DefaultPath+")")
	// The runtime entry's guide flags, passed on by ima-runtime when it
	// injects the hook (config.RuntimeDefaults): the same defaults as the
	// wrapper's.
	var guide config.RuntimeDefaults
	fs.BoolVar(&guide.Enable, "imans", false, "every container gets an IMA namespace (a runtime entry's --imans, passed on by ima-runtime)")
	fs.StringVar(&guide.X509, "ima-x509", "", "default certificate `PATH` (a runtime entry's --ima-x509)")
	fs.StringVar(&guide.Kcmd, "ima-kcmd", "", "default kcmd `STRING` (a runtime entry's --ima-kcmd)")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, `Usage: ima-hook hook --stage createRuntime|poststop [--state FILE] [--config FILE]

Run by the OCI runtime (runc, crun) from a hooks.d file or config.json hook
entry, with the container state JSON on stdin.

createRuntime  validate the container's io.imans.* annotations against the
               admin config, enter the container's IMA namespace and load its
               policy (and key), verify it, record it in the run directory.
               Any problem refuses the container with one line on stderr.
poststop       archive the record and the namespace's final measurement view.

The stage is taken from --stage only, never from the state's "status":
runc and crun disagree there.

Flags:
`)
		fs.PrintDefaults()
	}
	if status, done := parseFlags(fs, args); done {
		return status
	}
	a, err := config.LoadAdmin(*cfgPath)
	if err == nil {
		err = a.ApplyRuntimeDefaults(guide)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, userror.Line(err))
		return 1
	}
	log := logx.Open(a.Log, a.RunDir)
	defer log.Close()

	var in io.Reader = os.Stdin
	if *stateFile != "" {
		f, err := os.Open(*stateFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, userror.Line(userror.Wrapf(err, *stateFile, "give a readable state file", "")))
			return 1
		}
		defer f.Close()
		in = f
	}
	st, err := oci.ReadState(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, userror.Line(userror.Wrapf(err, "container state", "the runtime must pass the OCI state on stdin", "")))
		return 1
	}
	h := hook.New(ns.Default(), a, log)
	switch strings.ToLower(*stage) {
	case "createruntime", "prestart":
		err = h.CreateRuntime(st)
	case "poststop":
		err = h.Poststop(st)
	case "":
		err = userror.New("--stage", "missing", "pass --stage createRuntime or --stage poststop in the hook's args")
	default:
		err = userror.New("--stage", fmt.Sprintf("unsupported stage %q", *stage), "use createRuntime or poststop")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, userror.Line(err))
		return 1
	}
	return 0
}
