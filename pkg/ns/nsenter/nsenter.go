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
	"strings"
	"syscall"
)

// selfExe is the running binary, whatever its name: the re-exec must run the
// same code (the constructor) even if the file was replaced meanwhile.
const selfExe = "/proc/self/exe"

// Exec re-executes this binary with p, replacing the process (same pid). The
// C stage then performs p before any Go code runs, and execs p.Exec or comes
// back to Go in p.Stage. It returns only on error.
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
	err := syscall.Exec(selfExe, p.argv(), p.environ())
	return fmt.Errorf("nsenter: re-exec %s: %w", selfExe, err)
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
