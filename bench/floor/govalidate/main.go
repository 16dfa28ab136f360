// Command govalidate-floor is the floor of any runtime wrapper that meets
// issue 3 on this machine: the configuration must be validated by Go code
// (the hook's own) before the runtime is born, and the namespace must be
// created single-threaded by the task that then forks the runtime.
//
// So the fastest possible shape is C-first: the C constructor (floor.c)
// forks; the child runs the Go runtime, which here validates nothing and
// only answers "go ahead" on a pipe; the single-threaded C parent then
// unshares CLONE_NEWTIME (the timens stand-in for CLONE_NEWIMA), forks the
// runtime into the namespace and waits. No config is read, nothing is
// written, no signal is forwarded: every real wrapper costs more.
//
// bench/wrapper.sh builds it static with cgo, like ima-hook, and runs
// `govalidate-floor RUNTIME ARGS...`.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../../pkg/ns/nsenter
extern int floor_verdict_fd;
*/
import "C"

import "os"

func main() {
	fd := int(C.floor_verdict_fd)
	if fd < 0 {
		os.Stderr.WriteString("govalidate-floor: usage: govalidate-floor RUNTIME [ARGS...]\n")
		os.Exit(2)
	}
	f := os.NewFile(uintptr(fd), "verdict")
	if _, err := f.Write([]byte{'y'}); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}
