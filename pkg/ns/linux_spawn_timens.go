//go:build linux && !imaemu && timens

package ns

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/ns/nsenter"
)

// TimensOffset is what the timens test build adds to the monotonic clock of
// every namespace it creates: a week, easy to recognise in
// /proc/<pid>/timens_offsets.
//
// Only the monotonic clock: a boottime offset would also shift the process
// start times in /proc/<pid>/stat (shown in the reader's boottime), and runc
// compares the init's start time recorded by `runc create` (inside the
// namespace) with the one `runc start`/`state` reads (outside) to tell a live
// init from a recycled pid; with a boottime offset every split create/start
// (podman, containerd) sees its container as "stopped". IMA namespaces have
// no such side effect.
const TimensOffset = 7 * 24 * 3600

// The timens test build (docs/testing.md, layer 2): the wrapper creates a time
// namespace instead of an IMA one. unshare(CLONE_NEWTIME) leaves the caller
// where it is, /proc/self/timens_offsets takes the configuration only before
// the first child is born (EACCES afterwards), and children are born into
// it: the same chain as CLONE_NEWIMA with kcmd_for_children, on a kernel
// that exists. Kcmd and X509Path are validated by the wrapper but not
// written anywhere.
var spawnKind = spawnKindT{
	name:       "time",
	flag:       unix.CLONE_NEWTIME,
	childrenNS: "time_for_children",
	writes: func(k *linuxKernel, req SpawnRequest) []nsenter.Write {
		return []nsenter.Write{{
			Path: filepath.Join(k.proc, "self/timens_offsets"),
			Data: fmt.Sprintf("monotonic %d 0", TimensOffset),
		}}
	},
	missing: func(k *linuxKernel) string {
		if _, err := os.Stat(filepath.Join(k.proc, "self/ns/time_for_children")); err != nil {
			return "the kernel has no time namespaces (CONFIG_TIME_NS is off: no /proc/self/ns/time_for_children)"
		}
		return ""
	},
}
