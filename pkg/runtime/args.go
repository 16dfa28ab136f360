// Package runtime is the runtime wrapper (ima-runtime): it stands in for runc
// or crun, finds out from the command line and the bundle whether the
// container wants an IMA namespace, creates it (through pkg/ns) before the
// real runtime runs, joins it for exec, and otherwise gets out of the way
// with an exec of the real runtime: argv, stdio, inherited fds, exit status
// and signals untouched.
package runtime

import (
	"fmt"
	"strings"
)

// Invocation is what the wrapper needs from a runtime command line. Args is
// never modified: the real runtime gets exactly what the engine sent.
type Invocation struct {
	Args     []string // the runtime's arguments (without argv[0])
	Command  string   // subcommand ("" when there is none, e.g. --version)
	CmdIndex int      // index of Command in Args, -1 when none
	Global   []string // Args[:CmdIndex]: the global flags, reused for `state`
	Bundle   string   // --bundle/-b of create and run, "" when not given (= cwd)
	Config   string   // crun's --config/-f (config file name), "" when not given
	// Log and LogFormat are the global --log and --log-format: where the
	// runtime writes its errors. containerd and Docker (go-runc) show the
	// user only the last error in that file, not the runtime's stderr, so
	// the wrapper writes its refusals there too (runtimelog.go).
	Log       string
	LogFormat string
	ID        string // first positional argument after the subcommand
	// Unknown lists flags the parser does not know that were given without
	// "=value": whether they took the next argument cannot be told, so the
	// ID (and Bundle) may be wrong. The wrapper refuses to act on such a line
	// for a container that wants IMA.
	Unknown []string
}

// flagSet says which flags of one parsing context take a value. Names are
// without dashes; one letter = short option.
type flagSet struct {
	value map[string]string // name -> canonical long name
	bools map[string]bool
}

func newFlagSet(values, bools []string) flagSet {
	fs := flagSet{value: map[string]string{}, bools: map[string]bool{}}
	for _, v := range values {
		names := strings.Split(v, "|")
		for _, n := range names {
			fs.value[n] = names[0]
		}
	}
	for _, b := range bools {
		fs.bools[b] = true
	}
	return fs
}

// Global flags of runc 1.1 (urfave/cli: -flag and --flag, value by "=" or
// the next argument) and crun 1.x (argp: --flag=value or --flag value).
var globalFlags = newFlagSet(
	[]string{"root", "log", "log-format", "criu", "rootless", "cgroup-manager", "log-level"},
	[]string{"debug", "systemd-cgroup", "help", "h", "?", "version", "v", "V", "usage"},
)

// Per-subcommand flags (union of runc and crun) for the subcommands whose
// positional arguments the wrapper needs.
var commandFlags = map[string]flagSet{
	"create": newFlagSet(
		[]string{"bundle|b", "console-socket", "pid-file", "preserve-fds", "config|f"},
		[]string{"no-pivot", "no-new-keyring", "no-subreaper", "help", "h", "?", "usage"},
	),
	"run": newFlagSet(
		[]string{"bundle|b", "console-socket", "pid-file", "preserve-fds", "config|f"},
		[]string{"detach", "d", "keep", "no-subreaper", "no-pivot", "no-new-keyring", "help", "h", "?", "usage"},
	),
	"exec": newFlagSet(
		[]string{"console-socket", "cwd", "env|e", "user|u", "additional-gids|g", "process|p", "pid-file",
			"process-label", "apparmor", "cap|c", "preserve-fds", "cgroup"},
		// crun's --tty takes an optional value, only with "=".
		[]string{"tty", "t", "detach", "d", "no-new-privs", "ignore-paused", "help", "h", "?", "usage"},
	),
	"state":  newFlagSet(nil, []string{"help", "h", "?", "usage"}),
	"delete": newFlagSet(nil, []string{"force", "f", "help", "h", "?", "usage"}),
}

// MaxArgs bounds the command line the parser looks at (the kernel's ARG_MAX
// bounds it anyway; this keeps the parser's work small).
const MaxArgs = 4096

// ParseError is a command line the wrapper cannot read; Index is the
// position in Args.
type ParseError struct {
	Index int
	Arg   string
	Msg   string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("runtime argument %d (%s): %s", e.Index+1, quoteArg(e.Arg), e.Msg)
}

func quoteArg(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// Parse reads a runtime command line. It never fails on a subcommand it does
// not handle; errors concern only what the wrapper must know.
func Parse(args []string) (*Invocation, error) {
	inv := &Invocation{Args: args, CmdIndex: -1}
	if len(args) > MaxArgs {
		return inv, &ParseError{Index: MaxArgs, Arg: args[MaxArgs], Msg: fmt.Sprintf("more than %d arguments", MaxArgs)}
	}
	ps := &parser{args: args}
	defer func() { inv.Unknown = ps.unknown }()
	// Global flags up to the first non-flag: the subcommand.
	i, err := ps.flags(0, globalFlags, func(name, value string) {
		switch name {
		case "log":
			inv.Log = value
		case "log-format":
			inv.LogFormat = value
		}
	})
	if err != nil {
		return inv, err
	}
	if i >= len(args) {
		return inv, nil
	}
	if args[i] == "--" {
		i++
		if i >= len(args) {
			return inv, nil
		}
	}
	inv.Command, inv.CmdIndex = args[i], i
	inv.Global = args[:i]
	fs, known := commandFlags[inv.Command]
	if !known {
		return inv, nil
	}
	onValue := func(name, value string) {
		switch name {
		case "bundle":
			inv.Bundle = value
		case "config":
			inv.Config = value
		}
	}
	// After the ID exec takes the command to run, whose arguments may look
	// like flags: stop there. create and run take nothing after the ID, and
	// crun (argp) still reads flags placed after it.
	stopAtPositional := inv.Command != "create" && inv.Command != "run"
	j := i + 1
	for j < len(args) {
		j, err = ps.flags(j, fs, onValue)
		if err != nil {
			return inv, err
		}
		if j >= len(args) {
			break
		}
		if args[j] == "--" {
			if j+1 < len(args) && inv.ID == "" {
				inv.ID = args[j+1]
			}
			break
		}
		if inv.ID == "" {
			inv.ID = args[j]
		}
		j++
		if stopAtPositional {
			break
		}
	}
	return inv, nil
}

type parser struct {
	args    []string
	unknown []string // unknown flags without "=value"
}

// flags consumes flags from args[i:] and returns the index of the first
// non-flag argument (or len(args)).
func (ps *parser) flags(i int, fs flagSet, onValue func(name, value string)) (int, error) {
	args := ps.args
	for i < len(args) {
		a := args[i]
		if a == "--" || a == "-" || !strings.HasPrefix(a, "-") {
			return i, nil
		}
		var name, value string
		hasValue := false
		long := strings.HasPrefix(a, "--")
		body := strings.TrimLeft(a, "-")
		if k := strings.IndexByte(body, '='); k >= 0 {
			name, value, hasValue = body[:k], body[k+1:], true
		} else {
			name = body
		}
		_, isValue := fs.value[name]
		isBool := fs.bools[name]
		if !long && !isValue && !isBool && len(name) > 1 {
			// Short options: "-bDIR" (argp), or a cluster of booleans "-dt".
			c := name[:1]
			if canon, ok := fs.value[c]; ok {
				v := body[1:]
				if v == "" {
					if i+1 >= len(args) {
						return i, &ParseError{Index: i, Arg: a, Msg: "missing value"}
					}
					i++
					v = args[i]
				}
				if onValue != nil {
					onValue(canon, strings.TrimPrefix(v, "="))
				}
				i++
				continue
			}
			allBool := true
			for _, r := range name {
				if !fs.bools[string(r)] {
					allBool = false
				}
			}
			if allBool && !hasValue {
				i++
				continue
			}
		}
		switch {
		case isValue:
			if !hasValue {
				if i+1 >= len(args) {
					return i, &ParseError{Index: i, Arg: a, Msg: "missing value"}
				}
				i++
				value = args[i]
			}
			if onValue != nil {
				onValue(fs.value[name], value)
			}
		case isBool:
			// "--debug" or "--debug=false": self-contained either way.
		default:
			if !hasValue {
				ps.unknown = append(ps.unknown, a)
			}
		}
		i++
	}
	return i, nil
}
