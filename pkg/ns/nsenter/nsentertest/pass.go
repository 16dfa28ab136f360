//go:build linux && cgo

package nsentertest

/*
#cgo CFLAGS: -Wall -Wextra -Wno-unused-parameter -O2
#define ih_pass_decide nsentertest_pass_decide
#define ih_pass_card_name nsentertest_pass_card_name
#define ih_pass_scan_config nsentertest_pass_scan_config
#include <stdlib.h>
#include "../passthrough.c"
static const char *nsentertest_pass_default_config(void) { return IH_PASS_DEFAULT_CONFIG; }
*/
import "C"

import (
	"strings"
	"unsafe"
)

// Card states of the pre-filter (passthrough.h).
const (
	CardUnchecked = int(C.IH_PASS_CARD_UNCHECKED)
	CardStale     = int(C.IH_PASS_CARD_STALE)
	CardValid     = int(C.IH_PASS_CARD_VALID)
)

// PassDefaultConfig is the admin config path the pre-filter assumes
// without --config.
func PassDefaultConfig() string { return C.GoString(C.nsentertest_pass_default_config()) }

// PassDecide runs the pass-through pre-filter (passthrough.c, only that,
// no exec) on argv and env with the cards in cardDir and self as the
// running binary. at is the index where the runtime's arguments start, or
// -1 when the call is left to the Go wrapper; runtime is what it would exec.
func PassDecide(argv, env []string, cardDir, self string) (runtime string, at int, cardState int) {
	runtime, at, cardState, _ = PassDecideAsks(argv, env, cardDir, self)
	return runtime, at, cardState
}

// PassDecideAsks is PassDecide, and whether the pre-filter declined
// because a bundle config mentions imans (the constructor then hands the
// Go wrapper's work to a child).
func PassDecideAsks(argv, env []string, cardDir, self string) (runtime string, at int, cardState int, asksIMA bool) {
	cargv := cStrings(argv)
	defer freeStrings(cargv, len(argv))
	var cpath *C.char // PATH as the constructor's environment lookup finds it
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			cpath = C.CString(v)
			defer C.free(unsafe.Pointer(cpath))
			break
		}
	}
	cdir := C.CString(cardDir)
	defer C.free(unsafe.Pointer(cdir))
	cself := C.CString(self)
	defer C.free(unsafe.Pointer(cself))
	var rt [4097]C.char
	var state, asks C.int
	n := C.nsentertest_pass_decide(C.int(len(argv)), (**C.char)(cargv), cpath, cdir, cself, &rt[0], C.size_t(len(rt)), &state, &asks)
	if n < 0 {
		return "", -1, int(state), asks != 0
	}
	return C.GoString(&rt[0]), int(n), int(state), asks != 0
}

// PassScanConfig runs the pre-filter's scan of a bundle config: 0 clean,
// -3 it mentions imans, -2 no such file, -1 anything else.
func PassScanConfig(path string) int {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	return int(C.nsentertest_pass_scan_config(cp))
}

// PassCardName is the C side's card file name of a config path.
func PassCardName(configPath string) string {
	cp := C.CString(configPath)
	defer C.free(unsafe.Pointer(cp))
	var out [17]C.char
	C.nsentertest_pass_card_name(cp, &out[0])
	return C.GoString(&out[0])
}

// cStrings makes a NULL-terminated C array of strings (freeStrings frees it).
func cStrings(ss []string) unsafe.Pointer {
	arr := C.malloc(C.size_t(len(ss)+1) * C.size_t(unsafe.Sizeof(uintptr(0))))
	ptrs := unsafe.Slice((**C.char)(arr), len(ss)+1)
	for i, s := range ss {
		ptrs[i] = C.CString(s)
	}
	ptrs[len(ss)] = nil
	return arr
}

func freeStrings(arr unsafe.Pointer, n int) {
	ptrs := unsafe.Slice((**C.char)(arr), n+1)
	for _, p := range ptrs[:n] {
		C.free(unsafe.Pointer(p))
	}
	C.free(arr)
}
