package preflight

import "golang.org/x/sys/unix"

const (
	// oPath opens a directory of the walk only to resolve names under it.
	oPath = unix.O_PATH
	// oNoATime keeps the walk from touching atimes where allowed.
	oNoATime = unix.O_NOATIME
)
