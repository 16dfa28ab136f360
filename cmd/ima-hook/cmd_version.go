package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/pflag"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/ns"
)

// version and libc are set at build time (-ldflags "-X main.version=...
// -X main.libc=..."): libc is the C library the static binary carries
// (the Makefile's LIBC: musl or glibc), which bug reports about start-up
// cost or C-stage messages need.
var (
	version = "dev"
	libc    = "unknown"
)

func init() {
	register(command{name: "version", summary: "print the version, the C library and the kernel seam this build uses", run: func(args []string) int {
		fs := pflag.NewFlagSet("version", pflag.ContinueOnError)
		fs.Usage = func() {
			fmt.Println("Usage: ima-hook version\n\nPrints the version, the Go version, the C library linked in (musl or\nglibc) and which kernel this build talks to (linux, or the emulator of\ntest builds).")
		}
		if status, done := parseFlags(fs, args); done {
			return status
		}
		if fs.NArg() > 0 {
			fmt.Fprintln(os.Stderr, userror.Line(userror.New("version", "unexpected argument "+userror.Quote(fs.Arg(0)), "run 'ima-hook version' without arguments")))
			return 2
		}
		fmt.Printf("ima-hook %s (%s, libc: %s, kernel seam: %s)\n", version, runtime.Version(), libc, ns.Default().Probe().Kernel)
		return 0
	}})
}
