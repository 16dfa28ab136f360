//go:build !linux

package policy

import "errors"

// kernelRelease: only Linux has the IMA this package describes; elsewhere
// the package is a library for policy text (ProfileFromSystem then finds
// no /boot/config-<release>).
func kernelRelease() (string, error) {
	return "", errors.New("no Linux kernel release on this system")
}
