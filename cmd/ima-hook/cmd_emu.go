//go:build imaemu

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/emukernel"
)

// The emu command exists only in the emulated-kernel test build: it lets
// tests look at and drive the emulated kernel the way a test on a real
// openEuler machine would read /proc and securityfs.
func init() {
	register(command{name: "emu", summary: "inspect and drive the emulated IMA-namespace kernel (test build only)", run: runEmu})
}

func runEmu(args []string) int {
	fs := pflag.NewFlagSet("emu", pflag.ContinueOnError)
	pid := fs.Int("pid", os.Getpid(), "act as process `PID` (measure, list, rules, count)")
	digest := fs.String("digest", "", "sha256 `HEX` for measure (default: sha256 of the name)")
	violation := fs.Bool("violation", false, "measure: log a ToMToU violation instead")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, `Usage: ima-hook emu <what> [args] [flags]   (emulated-kernel build only)

  ns PID            active and for_children namespace of PID ("ima:[N] ima_for_children:[M]")
  namespaces        live namespaces as JSON (id, active, template, rules, key ids)
  rules             policy in force in --pid's namespace, one rule per line
  count             runtime_measurements_count as read in --pid's namespace
  violations        violations as read in --pid's namespace
  list [--binary]   the measurement list as read in --pid's namespace (host:
                    every namespace); count, violations and list read as a task
                    with CAP_SYS_ADMIN there would, whatever --pid's capabilities
  measure NAME      record a measurement of NAME in --pid's namespace
  log               the emulated kernel log
  switches          the kernel configuration (emukernel.Switches) as JSON: the
                    state's, or before it exists the ones $`+ns.EmuDirEnv+`/switches.json
                    will create it with

The state directory is $`+ns.EmuDirEnv+` (default `+ns.DefaultEmuDir+`).

Flags:
`)
		fs.PrintDefaults()
	}
	binary := fs.Bool("binary", false, "list: binary_runtime_measurements instead of ASCII")
	if status, done := parseFlags(fs, args); done {
		return status
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "ima-hook emu:", err)
		return 1
	}
	if rest[0] == "switches" {
		// Does not create the state: a test may still write switches.json.
		sw, err := emukernel.CurrentSwitches(ns.EmuDir())
		if err != nil {
			return fail(err)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(sw)
		return 0
	}
	k, err := ns.Emulator()
	if err != nil {
		return fail(err)
	}
	switch rest[0] {
	case "ns":
		if len(rest) != 2 {
			return fail(fmt.Errorf("usage: emu ns PID"))
		}
		p, err := strconv.Atoi(rest[1])
		if err != nil {
			return fail(err)
		}
		a, fc, err := k.TaskNamespaces(p)
		if err != nil {
			return fail(err)
		}
		fmt.Printf("ima:[%d] ima_for_children:[%d]\n", a, fc)
	case "namespaces":
		infos, err := k.Namespaces()
		if err != nil {
			return fail(err)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(infos)
	case "rules":
		rules, err := k.Rules(*pid)
		if err != nil {
			return fail(err)
		}
		for _, r := range rules {
			fmt.Println(r)
		}
	case "count", "violations":
		name := "runtime_measurements_count"
		if rest[0] == "violations" {
			name = "violations"
		}
		n, err := k.InspectCounter(*pid, name)
		if err != nil {
			return fail(err)
		}
		fmt.Println(n)
	case "list":
		entries, err := k.InspectEntries(*pid)
		if err != nil {
			return fail(err)
		}
		sw, err := k.Switches()
		if err != nil {
			return fail(err)
		}
		if err := ns.RenderEmulated(os.Stdout, entries, *binary, sw); err != nil {
			return fail(err)
		}
	case "measure":
		if len(rest) != 2 {
			return fail(fmt.Errorf("usage: emu measure NAME"))
		}
		d := *digest
		if d == "" {
			sum := sha256.Sum256([]byte(rest[1]))
			d = hex.EncodeToString(sum[:])
		}
		added, err := k.Measure(*pid, rest[1], "sha256", d, *violation)
		if err != nil {
			return fail(err)
		}
		if !added {
			fmt.Println("not measured (no measure rule, or already measured)")
		}
	case "log":
		lines, err := k.Log()
		if err != nil {
			return fail(err)
		}
		for _, l := range lines {
			fmt.Println(l)
		}
	default:
		return fail(fmt.Errorf("unknown emu command %q", rest[0]))
	}
	return 0
}
