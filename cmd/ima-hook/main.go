// Command ima-hook brings per-container IMA namespaces to unmodified OCI
// runtimes. It is an OCI hook, a runtime wrapper and a set of tools in one
// binary; this file only dispatches to the subcommands, which register
// themselves from their own files (cmd_*.go).
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
)

// command is one subcommand. run gets the arguments after the subcommand
// name and returns the process exit status.
type command struct {
	name    string
	summary string
	run     func(args []string) int
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("duplicate subcommand " + c.name)
	}
	commands[c.name] = c
}

func main() {
	// A re-executed copy whose C stage (pkg/ns/nsenter) already entered a
	// namespace runs only the Go half of that stage.
	if stage := nsenter.Stage(); stage != "" {
		os.Exit(ns.RunStage(stage))
	}
	os.Exit(dispatch(os.Args))
}

func dispatch(argv []string) int {
	// Called through a symlink named ima-runtime, the binary is the runtime
	// wrapper and every argument belongs to the real runtime.
	if len(argv) > 0 && filepath.Base(argv[0]) == "ima-runtime" {
		if c, ok := commands["runtime"]; ok {
			return c.run(append([]string{"--from-symlink"}, argv[1:]...))
		}
	}
	if len(argv) < 2 {
		usage(os.Stderr)
		return 2
	}
	name := argv[1]
	switch name {
	case "-h", "--help", "help":
		usage(os.Stdout)
		return 0
	case "--version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "ima-hook: unknown command %q; run 'ima-hook --help' for the list\n", name)
		return 2
	}
	return c.run(argv[2:])
}

// parseFlags parses a subcommand's flags (fs is named after the
// subcommand). done means the command is over with status: 0 after --help
// (pflag printed the usage), 2 after a bad flag, for which it prints the
// one line naming the flag (pflag prints nothing under ContinueOnError).
func parseFlags(fs *pflag.FlagSet, args []string) (status int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0, true
		}
		fmt.Fprintln(fs.Output(), userror.UsageLine(fs.Name(), err))
		return 2, true
	}
	return 0, false
}

func usage(w *os.File) {
	fmt.Fprintln(w, `ima-hook: per-container IMA namespaces for unmodified OCI runtimes

Usage:
  ima-hook <command> [flags]
  ima-runtime <runtime arguments>      (symlink: the runtime wrapper)

Commands:`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, strings.TrimSpace(`
Run 'ima-hook <command> --help' for the flags of a command.
Annotations (io.imans.*), the admin config and the kernel support needed are
described in the README and docs/.`))
}
