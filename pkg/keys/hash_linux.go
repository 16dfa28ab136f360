package keys

import (
	"os"

	"golang.org/x/sys/unix"
)

// oNoATime keeps a preflight's reads from touching atimes.
const oNoATime = unix.O_NOATIME

// AdviseSequential tells the kernel the whole file is read in order, so
// readahead is generous (advisory only).
func AdviseSequential(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
}
