package main

import (
	"fmt"
	"runtime"

	"github.com/ima-hook/ima-hook/pkg/ns"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func init() {
	register(command{name: "version", summary: "print the version and the kernel seam this build uses", run: func(args []string) int {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Println("Usage: ima-hook version\n\nPrints the version, the Go version and which kernel this build talks to\n(linux, or the emulator of test builds).")
			return 0
		}
		fmt.Printf("ima-hook %s (%s, kernel seam: %s)\n", version, runtime.Version(), ns.Default().Probe().Kernel)
		return 0
	}})
}
