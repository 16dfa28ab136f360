// Command goexec is the floor of a runtime wrapper written in Go: a Go
// process start and an exec of the runtime, nothing else. bench/wrapper.sh
// builds it like ima-hook (static) and runs `goexec RUNTIME ARGS...`.
// ima-hook's wrapper is in Go and validates in Go (the design card), so no
// wrapper of ours can cost less than this.
package main

import "github.com/ima-hook/ima-hook/bench/floor/internal/execfloor"

func main() { execfloor.Main("goexec") }
