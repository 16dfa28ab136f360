// Package oci reads what runtimes hand to a hook: the container state on
// stdin and the bundle's config.json, both bounded in size and checked, since
// a hook runs as root on input that pod authors partly control.
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

	"github.com/ima-hook/ima-hook/pkg/record"
)

const (
	// MaxStateSize bounds the state JSON (annotations included).
	MaxStateSize = 1 << 20
	// MaxConfigSize bounds config.json.
	MaxConfigSize = 16 << 20
)

// ReadState decodes and checks the state a runtime writes to a hook's stdin.
// The stage is not taken from State.Status: runc says "creating" and crun
// "created" at createRuntime.
func ReadState(r io.Reader) (*specs.State, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxStateSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the container state: %w", err)
	}
	if len(b) > MaxStateSize {
		return nil, fmt.Errorf("container state is larger than %d bytes", MaxStateSize)
	}
	var st specs.State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("container state is not valid JSON: %w", err)
	}
	if err := record.ValidID(st.ID); err != nil {
		return nil, err
	}
	if st.Bundle != "" && !filepath.IsAbs(st.Bundle) {
		return nil, fmt.Errorf("bundle path %q in the container state is not absolute", st.Bundle)
	}
	if st.Pid < 0 {
		return nil, fmt.Errorf("negative pid %d in the container state", st.Pid)
	}
	return &st, nil
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
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxConfigSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxConfigSize)
	}
	return b, nil
}

// Annotations returns the container's annotations: the state's, or the
// bundle config's when the runtime left them out of the state (they are
// optional there).
func Annotations(st *specs.State) (map[string]string, error) {
	if len(st.Annotations) > 0 || st.Bundle == "" {
		return st.Annotations, nil
	}
	path := filepath.Join(st.Bundle, "config.json")
	ann, err := ReadConfigAnnotations(path)
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
// path, with the same size bound as ReadConfig. The whole file must still
// be valid JSON, but the rest of the spec is not decoded: the runtime
// checks its own config, and decoding the full runtime-spec type graph is
// most of a millisecond in a fresh process, paid on every container start
// by the wrapper and the hook.
func ReadConfigAnnotations(path string) (map[string]string, error) {
	b, err := ReadConfigFile(path)
	if err != nil {
		return nil, err
	}
	var only struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(b, &only); err != nil {
		return nil, &ConfigError{Err: err, Data: b}
	}
	return only.Annotations, nil
}

// ConfigError is a config file that is not JSON or whose annotations are
// not a map of strings; its message names the byte offset and line.
type ConfigError struct {
	Err  error
	Data []byte
}

func (e *ConfigError) Unwrap() error { return e.Err }

func (e *ConfigError) Error() string {
	return "not a valid OCI config: " + DescribeJSONError(e.Err, e.Data)
}

// DescribeJSONError is err with the byte offset and line in b where
// decoding b failed, when encoding/json says where.
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
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return fmt.Sprintf("%v (byte %d, line %d)", err, off, bytes.Count(b[:off], []byte("\n"))+1)
}
