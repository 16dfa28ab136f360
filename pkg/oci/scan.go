package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The streaming readers below take a state or config too large to read
// whole, one JSON token at a time, and keep only what a decision needs:
// the state's scalar fields and the annotations. They decode exactly what
// encoding/json would (same keys, case-insensitive as it matches them; same
// merging of a repeated "annotations"), which FuzzScanState and
// FuzzScanConfig check, except that annotations beyond keepBudget bytes are
// dropped unless they concern IMA.

// keepBudget is how many bytes of annotations (keys plus values) a scan
// keeps in full; past it only IMA's own keys are kept.
const keepBudget = MaxConfigSize

var errScanTooLarge = fmt.Errorf("larger than %d bytes", MaxScanSize)

// countingReader counts what the decoder has taken from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// newScanDecoder reads at most limit bytes of r (one more, to notice).
func newScanDecoder(r io.Reader, limit int64) (*json.Decoder, *countingReader) {
	cr := &countingReader{r: io.LimitReader(r, limit+1)}
	return json.NewDecoder(cr), cr
}

// scanState streams a container state.
func scanState(r io.Reader) (*specs.State, error) {
	return scanStateLimit(r, MaxScanSize, keepBudget)
}

func scanStateLimit(r io.Reader, limit int64, budget int) (*specs.State, error) {
	dec, cr := newScanDecoder(r, limit)
	st := new(specs.State)
	keep := &annotationSink{budget: budget}
	err := walkObject(dec, func(key string) error {
		switch {
		case strings.EqualFold(key, "ociVersion"):
			return dec.Decode(&st.Version)
		case strings.EqualFold(key, "id"):
			return dec.Decode(&st.ID)
		case strings.EqualFold(key, "status"):
			return dec.Decode(&st.Status)
		case strings.EqualFold(key, "pid"):
			return dec.Decode(&st.Pid)
		case strings.EqualFold(key, "bundle"):
			return dec.Decode(&st.Bundle)
		case strings.EqualFold(key, "annotations"):
			return keep.decode(dec)
		}
		return skipValue(dec)
	}, stateType)
	if cr.n > limit {
		return nil, fmt.Errorf("container state is %w", errScanTooLarge)
	}
	if err != nil {
		return nil, fmt.Errorf("container state is not valid JSON: %w", err)
	}
	st.Annotations = keep.m
	return st, nil
}

// scanConfigAnnotations streams a config file's annotations; it returns the
// bytes read.
func scanConfigAnnotations(r io.Reader) (map[string]string, int64, error) {
	return scanConfigLimit(r, MaxScanSize, keepBudget)
}

func scanConfigLimit(r io.Reader, limit int64, budget int) (map[string]string, int64, error) {
	dec, cr := newScanDecoder(r, limit)
	keep := &annotationSink{budget: budget}
	err := walkObject(dec, func(key string) error {
		if strings.EqualFold(key, "annotations") {
			return keep.decode(dec)
		}
		return skipValue(dec)
	}, configType)
	if cr.n > limit {
		return nil, cr.n, errScanTooLarge
	}
	if err != nil {
		return nil, cr.n, &ConfigError{Err: err}
	}
	return keep.m, cr.n, nil
}

var (
	stateType  = reflect.TypeFor[specs.State]()
	configType = reflect.TypeFor[struct {
		Annotations map[string]string `json:"annotations"`
	}]()
	annotationsType = reflect.TypeFor[map[string]string]()
)

// walkObject reads one top-level JSON object (or null), calling field for
// each key with the decoder positioned at its value, which field must
// consume; then it requires the end of the input.
func walkObject(dec *json.Decoder, field func(key string) error, typ reflect.Type) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case nil: // null decodes to nothing, as json.Unmarshal does
	case json.Delim('{'):
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			if err := field(k.(string)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // '}'
			return err
		}
	default:
		if d, ok := tok.(json.Delim); ok && d == '[' {
			return &json.UnmarshalTypeError{Value: "array", Type: typ, Offset: dec.InputOffset()}
		}
		return &json.UnmarshalTypeError{Value: valueKind(tok), Type: typ, Offset: dec.InputOffset()}
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("invalid character after top-level value")
		}
		return err
	}
	return nil
}

func valueKind(tok json.Token) string {
	switch tok.(type) {
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	}
	return "value"
}

// skipValue consumes one value token by token, so that no more than one
// token is ever held.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// annotationSink decodes "annotations" objects as json.Unmarshal decodes
// them into a map[string]string (null clears the map, a repeated key
// merges), keeping what fits in budget and every key that concerns IMA.
type annotationSink struct {
	m      map[string]string
	budget int
	kept   int
}

// concernsIMA keeps io.imans.* and lookalikes (another case, a stray
// character) that the config code warns about or refuses.
func concernsIMA(key string) bool { return strings.Contains(strings.ToLower(key), "imans") }

func (s *annotationSink) decode(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case nil:
		s.m, s.kept = nil, 0
		return nil
	case json.Delim('{'):
	default:
		if d, ok := tok.(json.Delim); ok && d == '[' {
			return &json.UnmarshalTypeError{Value: "array", Type: annotationsType, Offset: dec.InputOffset()}
		}
		return &json.UnmarshalTypeError{Value: valueKind(tok), Type: annotationsType, Offset: dec.InputOffset()}
	}
	if s.m == nil {
		s.m = map[string]string{}
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		key := k.(string)
		var v string
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if s.kept+len(key)+len(v) <= s.budget || concernsIMA(key) {
			s.kept += len(key) + len(v)
			s.m[key] = v
		}
	}
	_, err = dec.Token() // '}'
	return err
}
