//go:build linux && cgo

package nsenter

/*
#cgo CFLAGS: -Wall -Wextra -Wno-unused-parameter -O2
#include <stdlib.h>
#include "nsenter.h"
*/
import "C"

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// selfExe is the running binary, whatever its name: the re-exec must run the
// same code (the constructor) even if the file was replaced meanwhile.
const selfExe = "/proc/self/exe"

// Exec re-executes this binary with p, replacing the process (same pid). The
// C stage then performs p before any Go code runs, and execs p.Exec or comes
// back to Go in p.Stage. In a Go wrapper the constructor forked for a
// hand-off (doc.go), a plan that unshares and forks the runtime goes to the
// waiting parent instead, and this process exits. It returns only on error.
func Exec(p StagePlan) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.SetnsFD != 0 {
		// os.Open sets close-on-exec; the descriptor must survive this exec.
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(p.SetnsFD), syscall.F_SETFD, 0); e != 0 {
			return fmt.Errorf("nsenter: SetnsFD %d: %w", p.SetnsFD, e)
		}
	}
	argv, env := p.argv(), p.environ()
	if handOff(p, argv, env) {
		os.Exit(0) // the waiting parent performs p
	}
	err := syscall.Exec(selfExe, argv, env)
	return fmt.Errorf("nsenter: re-exec %s: %w", selfExe, err)
}

// handOff sends p to the waiting parent when the constructor forked this
// Go wrapper for a call that probably creates a namespace (nsenter.c,
// hand_off): the parent, which never ran Go, performs p without the
// re-exec that stops this process's threads and unmaps its pages first.
// Only a plan that unshares and forks the runtime goes there (the parent
// returns to no Go and holds no descriptor of ours); anything else, or a
// request over the parent's bound, re-executes here as always, and the
// parent relays. false: not handed off.
func handOff(p StagePlan, argv, env []string) bool {
	fd := int(C.nsenter_handoff_fd())
	if fd < 0 || p.Unshare == 0 || !p.Fork || len(p.Exec) == 0 || p.Stage != "" || p.SetnsFD != 0 || p.SetnsPath != "" {
		return false
	}
	req := EncodeRequest(argv, env)
	if req == nil {
		return false
	}
	for len(req) > 0 {
		n, err := syscall.Write(fd, req)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			// The parent is gone (and we with it) or refused: nothing of
			// the plan ran, say why as a re-exec would.
			fmt.Fprintf(os.Stderr, "ima-hook: hand-off to the waiting parent: %v; nothing was created\n", err)
			os.Exit(int(C.NSENTER_EXIT_PLAN))
		}
		req = req[n:]
	}
	// EOF for the parent now: an exit closes descriptors only after it
	// has unmapped the address space.
	syscall.Close(fd)
	return true
}

// EncodeRequest is the hand-off request nsenter_parse_request reads (the
// parent of a hand-off, nsenter.c; nsentertest holds the two together):
// "<argc>" NUL, the argv strings, "<envc>" NUL, the environment strings,
// each ending in NUL; nil when it would exceed the parent's bounds.
func EncodeRequest(argv, env []string) []byte {
	if len(argv) > int(C.NSENTER_MAX_REQUEST_STRINGS) || len(env) > int(C.NSENTER_MAX_REQUEST_STRINGS) {
		return nil
	}
	var b []byte
	for _, list := range [][]string{argv, env} {
		b = strconv.AppendInt(b, int64(len(list)), 10)
		b = append(b, 0)
		for _, s := range list {
			if strings.IndexByte(s, 0) >= 0 {
				return nil
			}
			b = append(append(b, s...), 0)
		}
		if len(b) > int(C.NSENTER_MAX_REQUEST) {
			return nil
		}
	}
	return b
}

// WaiterPID is the process the engine waits on for this call: the
// constructor's waiting parent after a hand-off fork (nsenter.c,
// hand_off), else this process. The wrapper names it in its owner note:
// it lives as long as the runtime it runs.
func WaiterPID() int {
	if p := int(C.nsenter_handoff_parent()); p > 0 {
		return p
	}
	return os.Getpid()
}

// Command returns a re-exec of this binary that performs p and then either
// execs p.Exec or returns to Go in p.Stage (Stage() tells the child). The
// caller sets Stdin/Stdout/Stderr and ExtraFiles (ExtraFiles[i] is fd 3+i in
// the child, which is what SetnsFD names) and may append to Args and Env, but
// must keep Env's plan variables.
func Command(p StagePlan) (*exec.Cmd, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{Path: selfExe, Args: p.argv(), Env: p.environ()}
	return cmd, nil
}

// A stage child must not pass the plan on to anything it starts.
func init() {
	if Stage() == "" {
		return
	}
	for _, e := range os.Environ() {
		if isMarker(e) {
			name, _, _ := strings.Cut(e, "=")
			os.Unsetenv(name)
		}
	}
}

// Stage returns the stage name in a child made by Command; "" in a normal
// start (no plan in the environment).
func Stage() string { return C.GoString(C.nsenter_stage_name()) }

// SingleThreadedEntry reports whether a plan ran in the constructor and the
// process had exactly one thread then (read from /proc/self/status), i.e.
// the namespace steps ran before the Go runtime existed. The emulator checks
// it where the kernel's imans_install would return EUSERS.
func SingleThreadedEntry() bool { return C.nsenter_single_threaded_entry() != 0 }
