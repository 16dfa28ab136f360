package oci

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestReadState(t *testing.T) {
	good := `{"ociVersion":"1.0.2-dev","id":"c1","status":"creating","pid":42,"bundle":"/b","annotations":{"io.imans.enable":"true"}}`
	st, err := ReadState(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != "c1" || st.Pid != 42 || st.Annotations["io.imans.enable"] != "true" {
		t.Fatalf("decoded %+v", st)
	}
	for name, in := range map[string]string{
		"not json":     `{`,
		"relative":     `{"id":"c","bundle":"b"}`,
		"negative pid": `{"id":"c","pid":-1}`,
		"empty id":     `{"id":""}`,
	} {
		if _, err := ReadState(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAnnotationsFallBackToConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"ociVersion":"1.0.2","annotations":{"io.imans.enable":"true"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := ReadState(strings.NewReader(`{"id":"c","bundle":"` + dir + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Annotations(st)
	if err != nil || a["io.imans.enable"] != "true" {
		t.Fatalf("annotations %v, %v", a, err)
	}
}

func FuzzReadState(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.0","id":"c1","status":"created","pid":1,"bundle":"/b","annotations":{"a":"b"}}`))
	f.Add([]byte(`{"id":"x","pid":-5}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ReadState(strings.NewReader(string(b)))
		if err == nil && (st.Pid < 0 || st.ID == "") {
			t.Fatalf("accepted bad state %+v", st)
		}
	})
}

// The annotations-only read agrees with the full decode wherever the full
// decode succeeds, and its errors always carry a position or the cause.
func FuzzReadConfigAnnotations(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.0.2","annotations":{"io.imans.enable":"true"},"process":{"args":["/bin/true"]}}`))
	f.Add([]byte(`{"annotations":{"a":1}}`))
	f.Add([]byte("{\n\n,"))
	f.Add([]byte(`{"annotations":null,"annotations":{"x":"y"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		ann, _, err := ReadConfigAnnotations(p)
		var full specs.Spec
		if ferr := json.Unmarshal(b, &full); ferr == nil {
			if err != nil {
				t.Fatalf("full decode succeeded, annotations-only failed: %v", err)
			}
			if !maps.Equal(ann, full.Annotations) {
				t.Fatalf("annotations %v, full decode %v", ann, full.Annotations)
			}
		}
		if err != nil && !strings.HasPrefix(err.Error(), "not a valid OCI config: ") {
			t.Fatalf("error without context: %v", err)
		}
	})
}
