// Package kconfig reads the running kernel's build configuration (the
// .config the kernel was built with), where the system exposes it:
// /proc/config.gz (CONFIG_IKCONFIG_PROC) or /boot/config-<release>. Some
// IMA-namespace behaviour depends on build options that nothing else shows
// (CONFIG_IMA_LOAD_X509 loads a namespace's certificate silently or not at
// all; CONFIG_IMA_WRITE_POLICY decides whether more than one policy can
// ever be loaded), so the hook names them when it can read them.
package kconfig

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/policy"
)

// Options are the build options ima-hook reports and acts on.
var Options = []string{
	"CONFIG_IMA_NS",
	"CONFIG_IMA_LOAD_X509",
	"CONFIG_IMA_TRUSTED_KEYRING",
	"CONFIG_IMA_WRITE_POLICY",
	"CONFIG_IMA_READ_POLICY",
}

// maxConfigBytes bounds the (decompressed) read: a distribution kernel's
// .config is about 300 KiB; a file much larger is not a kernel config.
const maxConfigBytes = 4 << 20

// Config is a parsed kernel configuration.
type Config struct {
	// Source is the file it was read from.
	Source string `json:"source"`
	// Options are the IMA options of Options as y, m or n (Summary).
	Options map[string]string `json:"options"`
	// Values holds every option that is set ("y", "m", a number, a string
	// without its quotes) and "n" for the "# CONFIG_X is not set" lines.
	Values map[string]string `json:"-"`
}

// Value returns option's value: "y", "m", "n" (explicitly not set) or ""
// when the config does not mention it (an option whose dependencies are
// off is absent, which also means off).
func (c *Config) Value(option string) string {
	if c == nil {
		return ""
	}
	return c.Values[option]
}

// Enabled says whether option is built in (y) or a module (m).
func (c *Config) Enabled(option string) bool {
	v := c.Value(option)
	return v == "y" || v == "m"
}

// Summary returns the Options as "y"/"n", for status output.
func (c *Config) Summary() map[string]string {
	out := map[string]string{}
	for _, o := range Options {
		if c.Enabled(o) {
			out[o] = c.Value(o)
		} else {
			out[o] = "n"
		}
	}
	return out
}

// DefaultPaths are where the running kernel's config is looked for, in
// order.
func DefaultPaths() []string {
	paths := []string{"/proc/config.gz"}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		paths = append(paths, "/boot/config-"+unix.ByteSliceToString(u.Release[:]))
	}
	return paths
}

// ErrNotFound: none of the paths could be read.
var ErrNotFound = errors.New("kernel config not readable")

// Read returns the config from the first of paths that exists. A file that
// exists but does not parse is an error (not skipped): it was meant to be
// the config.
func Read(paths []string) (*Config, error) {
	for _, p := range paths {
		b, err := readBounded(p)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		c, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		c.Source = p
		c.Options = c.Summary()
		return c, nil
	}
	return nil, fmt.Errorf("%w (tried %s)", ErrNotFound, strings.Join(paths, ", "))
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	br := bufio.NewReader(f)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	b, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("larger than %d bytes: not a kernel config", maxConfigBytes)
	}
	return b, nil
}

// Parse parses .config text with pkg/policy's parser (the one the policy
// validator builds its kernel profile from), keeping the CONFIG_ prefix.
func Parse(b []byte) (*Config, error) {
	kc, err := policy.ParseKconfig(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	c := &Config{Values: make(map[string]string, len(kc.Values))}
	for name, v := range kc.Values {
		c.Values["CONFIG_"+name] = v
	}
	return c, nil
}
