// Package imansid is the one type for an IMA namespace id, shared by the
// kernel seam (pkg/ns), the emulated kernel (pkg/ns/emukernel), the
// measurement lists (pkg/measure) and the records (pkg/record). It has no
// dependencies, so that every one of them can use it.
package imansid

import (
	"fmt"
	"strconv"
	"strings"
)

// ID is an IMA namespace id: the nsfs inode number of /proc/<pid>/ns/ima,
// which get_ns_id() puts into the ima-ns template's field and into the
// event name ns_aggregate_<id>.
type ID uint32

// Initial is PROC_IMA_INIT_INO, the initial (host) IMA namespace.
const Initial ID = 0xEFFFFFF9

func (id ID) String() string { return strconv.FormatUint(uint64(id), 10) }

// ParseLink parses an nsfs link target such as "ima:[4026532329]" of the
// namespace type kind.
func ParseLink(kind, target string) (ID, error) {
	rest, ok := strings.CutPrefix(target, kind+":[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return 0, fmt.Errorf("unexpected namespace link %q (want %s:[inode])", target, kind)
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("namespace link %q: %w", target, err)
	}
	return ID(n), nil
}
