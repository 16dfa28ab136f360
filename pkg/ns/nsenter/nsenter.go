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
	"unsafe"
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

// parsed is the C parser's view of a plan, for tests of the encoding.
type parsed struct {
	Active    bool
	SetnsPath string
	SetnsFD   int
	Unshare   uint64
	Writes    []Write
	NSIDLink  string
	NSIDFile  string
	Fork      bool
	Exec      bool
	Stage     string
	ErrorLog  string
	ErrorJSON bool
}

// parseEnv runs the C stage's parser (only the parser) on env.
func parseEnv(env []string) (parsed, error) {
	cenv := C.malloc(C.size_t(len(env)+1) * C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(cenv)
	ptrs := unsafe.Slice((**C.char)(cenv), len(env)+1)
	for i, e := range env {
		ptrs[i] = C.CString(e)
	}
	ptrs[len(env)] = nil
	defer func() {
		for _, p := range ptrs[:len(env)] {
			C.free(unsafe.Pointer(p))
		}
	}()
	plan := (*C.struct_nsenter_plan)(C.malloc(C.size_t(unsafe.Sizeof(C.struct_nsenter_plan{}))))
	defer C.free(unsafe.Pointer(plan))
	var errbuf [256]C.char
	if C.nsenter_parse((**C.char)(cenv), plan, &errbuf[0], C.size_t(len(errbuf))) != 0 {
		return parsed{}, fmt.Errorf("%s", C.GoString(&errbuf[0]))
	}
	out := parsed{
		Active:    plan.active != 0,
		SetnsPath: C.GoString(&plan.setns_path[0]),
		SetnsFD:   int(plan.setns_fd),
		Unshare:   uint64(plan.unshare),
		NSIDLink:  C.GoString(&plan.nsid_link[0]),
		NSIDFile:  C.GoString(&plan.nsid_file[0]),
		Fork:      plan.fork != 0,
		Exec:      plan.exec != 0,
		Stage:     C.GoString(&plan.stage[0]),
		ErrorLog:  C.GoString(&plan.errlog[0]),
		ErrorJSON: plan.errlog_json != 0,
	}
	for i := 0; i < int(plan.nwrites); i++ {
		w := &plan.writes[i]
		out.Writes = append(out.Writes, Write{
			Path: C.GoString(&w.path[0]),
			Data: C.GoStringN(&w.data[0], C.int(w.len)),
		})
	}
	return out, nil
}

// logQuote runs the C stage's escaping of a runtime-log message (only that)
// on s, for tests: the inside of a JSON string. ok is false when the C side
// found its buffer too small (it then writes no entry).
func logQuote(s string, capacity int) (quoted string, ok bool) {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	buf := (*C.char)(C.malloc(C.size_t(capacity)))
	defer C.free(unsafe.Pointer(buf))
	n := C.nsenter_log_quote(buf, C.size_t(capacity), 0, cs)
	if n < 0 {
		return "", false
	}
	return C.GoStringN(buf, n), true
}
