package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/pflag"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/ns"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func init() {
	register(command{name: "version", summary: "print the version and the kernel seam this build uses", run: func(args []string) int {
		fs := pflag.NewFlagSet("version", pflag.ContinueOnError)
		fs.Usage = func() {
			fmt.Println("Usage: ima-hook version\n\nPrints the version, the Go version and which kernel this build talks to\n(linux, or the emulator of test builds).")
		}
		if status, done := parseFlags(fs, args); done {
			return status
		}
		if fs.NArg() > 0 {
			fmt.Fprintln(os.Stderr, userror.Line(userror.New("version", "unexpected argument "+userror.Quote(fs.Arg(0)), "run 'ima-hook version' without arguments")))
			return 2
		}
		fmt.Printf("ima-hook %s (%s, kernel seam: %s)\n", version, runtime.Version(), ns.Default().Probe().Kernel)
		return 0
	}})
}
