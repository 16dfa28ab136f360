//go:build !linux

package preflight

// Other systems (the package builds there as a library; what it judges is
// Linux's IMA): a plain read-only open stands in for O_PATH, and there is
// no O_NOATIME.
const (
	oPath    = 0
	oNoATime = 0
)
