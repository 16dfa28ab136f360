//go:build linux && cgo

// Package nsentertest runs the parser and the runtime-log escaping of the
// C stage (pkg/ns/nsenter's nsenter.c) on their own, for tests: the
// encoding round trip and the fuzz targets. It is never linked into
// ima-hook; it builds nsenter.c with NSENTER_PARSER_ONLY (no constructor)
// and its own names for the C functions, so a test binary may link it
// beside pkg/ns/nsenter (as runc tests its nsenter's escaping from a
// separate package).
package nsentertest

/*
#cgo CFLAGS: -Wall -Wextra -Wno-unused-parameter -Wno-unused-function -O2 -DNSENTER_PARSER_ONLY
#define nsenter_parse nsentertest_parse
#define nsenter_parse_request nsentertest_parse_request
#define nsenter_log_quote nsentertest_log_quote
#define nsenter_stage_name nsentertest_stage_name
#define nsenter_single_threaded_entry nsentertest_single_threaded_entry
#include <stdlib.h>
#include <string.h>
#include "../nsenter.c"
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
)

// Parsed is the C parser's view of a plan.
type Parsed struct {
	Active    bool
	SetnsPath string
	SetnsFD   int
	Unshare   uint64
	Writes    []nsenter.Write
	NSIDLink  string
	NSIDFile  string
	Fork      bool
	Exec      bool
	Stage     string
	ErrorLog  string
	ErrorJSON bool
}

// ParseEnv runs the C stage's parser (only the parser) on env.
func ParseEnv(env []string) (Parsed, error) {
	cenv := cStrings(env)
	defer freeStrings(cenv, len(env))
	size := C.size_t(unsafe.Sizeof(C.struct_nsenter_plan{}))
	plan := (*C.struct_nsenter_plan)(C.malloc(size))
	defer C.free(unsafe.Pointer(plan))
	// The parser resets only what it must (plan_reset): garbage in the
	// rest must never show through.
	C.memset(unsafe.Pointer(plan), 0xa5, size)
	var errbuf [256]C.char
	if C.nsentertest_parse((**C.char)(cenv), plan, &errbuf[0], C.size_t(len(errbuf))) != 0 {
		return Parsed{}, fmt.Errorf("%s", C.GoString(&errbuf[0]))
	}
	out := Parsed{
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
		out.Writes = append(out.Writes, nsenter.Write{
			Path: C.GoString(&w.path[0]),
			Data: C.GoStringN(&w.data[0], C.int(w.len)),
		})
	}
	return out, nil
}

// LogQuote runs the C stage's escaping of a runtime-log message (only that)
// on s, for tests: the inside of a JSON string. ok is false when the C side
// found its buffer too small (it then writes no entry).
func LogQuote(s string, capacity int) (quoted string, ok bool) {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	buf := (*C.char)(C.malloc(C.size_t(capacity)))
	defer C.free(unsafe.Pointer(buf))
	n := C.nsentertest_log_quote(buf, C.size_t(capacity), 0, cs)
	if n < 0 {
		return "", false
	}
	return C.GoStringN(buf, n), true
}

// ParseRequest runs the C side's parser of a hand-off request (only that).
func ParseRequest(req []byte) (argv, env []string, err error) {
	buf := C.CBytes(req)
	defer C.free(buf)
	var cargv, cenv **C.char
	var argc C.int
	var errbuf [256]C.char
	if C.nsentertest_parse_request((*C.char)(buf), C.size_t(len(req)), &cargv, &argc, &cenv, &errbuf[0], C.size_t(len(errbuf))) != 0 {
		return nil, nil, fmt.Errorf("%s", C.GoString(&errbuf[0]))
	}
	defer C.free(unsafe.Pointer(cargv))
	defer C.free(unsafe.Pointer(cenv))
	for _, l := range []struct {
		p   **C.char
		out *[]string
	}{{cargv, &argv}, {cenv, &env}} {
		for i := 0; ; i++ {
			s := *(**C.char)(unsafe.Add(unsafe.Pointer(l.p), i*int(unsafe.Sizeof(l.p))))
			if s == nil {
				break
			}
			*l.out = append(*l.out, C.GoString(s))
		}
	}
	if len(argv) != int(argc) {
		return nil, nil, fmt.Errorf("argc %d for %d strings", argc, len(argv))
	}
	return argv, env, nil
}
