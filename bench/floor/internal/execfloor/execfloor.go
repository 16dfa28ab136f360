// Package execfloor is the whole work of the exec-only Go floors (goexec,
// goimports): exec the runtime named by the arguments. Both floors run this
// same code, so what one costs above the other is only what it links.
package execfloor

import (
	"fmt"
	"os"
	"syscall"
)

// Main execs os.Args[1] with the rest of the arguments and the environment;
// it returns only by exiting (2 without a runtime, 127 when the exec fails).
func Main(name string) {
	if len(os.Args) < 2 {
		fmt.Fprintf(os.Stderr, "usage: %s RUNTIME [ARGS...]\n", name)
		os.Exit(2)
	}
	err := syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(127)
}
