//go:build !linux

package keys

import "os"

// Other systems: no O_NOATIME and no readahead advice; the hashes are the
// same.
const oNoATime = 0

// AdviseSequential: no readahead advice on other systems.
func AdviseSequential(*os.File) {}
