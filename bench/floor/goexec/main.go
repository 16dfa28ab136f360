// Command goexec is the floor of a runtime wrapper written in Go: a Go
// process start and an exec of the runtime, nothing else. bench/wrapper.sh
// builds it like ima-hook (static) and runs `goexec RUNTIME ARGS...`.
// ima-hook's wrapper is in Go and validates in Go (the design card), so no
// wrapper of ours can cost less than this.
package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goexec RUNTIME [ARGS...]")
		os.Exit(2)
	}
	err := syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
	fmt.Fprintln(os.Stderr, "goexec:", err)
	os.Exit(127)
}
