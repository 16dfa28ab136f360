// Package oci reads what runtimes hand to a hook: the container state on
// stdin and the bundle's config.json, both bounded in size and checked, since
// a hook runs as root on input that pod authors partly control.
//
// Two kinds of bound apply. What the IMA path reads whole (a config file the
// wrapper rewrites or the preflight decodes) is bounded by MaxConfigSize and
// refused beyond it. The state and the annotations, which every container's
// start passes through (IMA or not), are read whole up to the same bound and
// streamed past it (scan.go), keeping every io.imans.* annotation, so that a
// container that does not ask for IMA is never refused for a limit that only
// IMA needs.
package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/sysfile"
	"github.com/ima-hook/ima-hook/pkg/safefile"
)

const (
	// MaxConfigSize bounds a config file read whole (the IMA path refuses a
	// larger one).
	MaxConfigSize = 16 << 20
	// MaxStateSize is how much of a state is read whole: as large as the
	// config whose annotations it carries. A larger state is streamed.
	MaxStateSize = MaxConfigSize
	// MaxScanSize bounds a streamed state or config. A runtime re-encodes
	// the config's annotations in its state (runc indents `runc state` and
	// escapes <, > and & as \u003c), which can make a state several times
	// the config it came from; 8 times the config bound leaves room for
	// that and still bounds what a hostile input can make us read.
	MaxScanSize = 8 * MaxConfigSize
)

// ReadState decodes and checks the state a runtime writes to a hook's stdin.
// The stage is not taken from State.Status: runc says "creating" and crun
// "created" at createRuntime. The id is only required to be present: it
// becomes a file name only on the IMA path, which checks it there
// (record.ValidID), so a container that does not ask for IMA may have any id
// its runtime accepts.
func ReadState(r io.Reader) (*specs.State, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxStateSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the container state: %w", err)
	}
	var st *specs.State
	if len(b) <= MaxStateSize {
		st = new(specs.State)
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("container state is not valid JSON: %w", err)
		}
	} else if st, err = scanState(io.MultiReader(bytes.NewReader(b), r)); err != nil {
		return nil, err
	}
	if st.ID == "" {
		return nil, errors.New("the container state has no id")
	}
	if st.Bundle != "" && !filepath.IsAbs(st.Bundle) {
		return nil, fmt.Errorf("bundle path %q in the container state is not absolute", st.Bundle)
	}
	if st.Pid < 0 {
		return nil, fmt.Errorf("negative pid %d in the container state", st.Pid)
	}
	return st, nil
}

// ReadConfig reads <bundle>/config.json.
func ReadConfig(bundle string) (*specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	b, err := ReadConfigFile(path)
	if err != nil {
		return nil, withPath(path, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, fmt.Errorf("%s/config.json: %w", bundle, err)
	}
	return &spec, nil
}

// ReadConfigFile reads a config file of at most MaxConfigSize bytes, never
// more into memory.
func ReadConfigFile(path string) ([]byte, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > MaxConfigSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxConfigSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxConfigSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxConfigSize)
	}
	return b, nil
}

// NotRegularError is a config path that names something other than a
// regular file: reading a FIFO would block forever, a device could be
// anything.
type NotRegularError struct {
	Kind string // safefile.DescribeMode's words, with the article
}

func (e *NotRegularError) Error() string { return "is " + e.Kind + ", not a regular file" }

// openRegular opens path without blocking (O_NONBLOCK: opening a FIFO for
// reading would otherwise wait for a writer) and refuses anything but a
// regular file. It returns the file's size. Symlinks are followed: the
// bundle is the engine's, not the container's.
// It reads through sysfile: the wrapper reads config.json on every start.
func openRegular(path string) (*sysfile.File, int64, error) {
	f, mode, size, err := sysfile.OpenRegular(path, 0)
	if errors.Is(err, sysfile.ErrNotRegular) {
		return nil, 0, &fs.PathError{Op: "open", Path: path, Err: &NotRegularError{Kind: safefile.DescribeMode(mode)}}
	}
	if err != nil {
		return nil, 0, err
	}
	return f, size, nil
}

// Annotations returns the container's annotations: the state's, or the
// bundle config's when the runtime left them out of the state (they are
// optional there).
func Annotations(st *specs.State) (map[string]string, error) {
	if len(st.Annotations) > 0 || st.Bundle == "" {
		return st.Annotations, nil
	}
	path := filepath.Join(st.Bundle, "config.json")
	ann, _, err := ReadConfigAnnotations(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, withPath(path, err)
	}
	return ann, nil
}

// withPath names path in err unless err is an *fs.PathError, which names
// it already (and must stay unwrapped for os.IsNotExist).
func withPath(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// ReadConfigAnnotations reads only the annotations of the config file at
// path and returns them with the file's size. The whole file must still be
// valid JSON, but the rest of the spec is not decoded: the runtime checks
// its own config, and decoding the full runtime-spec type graph is most of
// a millisecond in a fresh process, paid on every container start by the
// wrapper and the hook. A file up to MaxConfigSize is read whole; a larger
// one is streamed (up to MaxScanSize) so that the caller can still tell
// whether the container asks for IMA: every io.imans.* annotation is kept,
// others only while they fit in MaxConfigSize. A caller on the IMA path
// refuses a size over MaxConfigSize itself.
func ReadConfigAnnotations(path string) (map[string]string, int64, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, 0, err
	}
	if len(b) > MaxConfigSize {
		ann, n, err := scanConfigAnnotations(io.MultiReader(bytes.NewReader(b), f))
		if err != nil {
			return nil, n, err
		}
		return ann, n, nil
	}
	var only struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(b, &only); err != nil {
		return nil, int64(len(b)), &ConfigError{Err: err, Data: b}
	}
	if size < int64(len(b)) {
		size = int64(len(b))
	}
	return only.Annotations, size, nil
}

// ConfigError is a config file that is not JSON or whose annotations are
// not a map of strings; its message names the byte offset and line (only
// the offset when the file was streamed).
type ConfigError struct {
	Err  error
	Data []byte
}

func (e *ConfigError) Unwrap() error { return e.Err }

func (e *ConfigError) Error() string {
	return "not a valid OCI config: " + DescribeJSONError(e.Err, e.Data)
}

// DescribeJSONError is err with the byte offset and line in b where
// decoding b failed, when encoding/json says where; with b nil (a streamed
// input), the offset only.
func DescribeJSONError(err error, b []byte) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 {
		return err.Error()
	}
	if b == nil {
		return fmt.Sprintf("%v (byte %d)", err, off)
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return fmt.Sprintf("%v (byte %d, line %d)", err, off, bytes.Count(b[:off], []byte("\n"))+1)
}
