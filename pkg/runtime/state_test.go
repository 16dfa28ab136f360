package runtime

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fakeRuntime writes a script that records its argv and prints body.
func fakeRuntime(t *testing.T, body string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	argvFile := filepath.Join(dir, "argv")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argvFile + "\n" + body + "\n"
	path := filepath.Join(dir, "runc")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, argvFile
}

func TestRuntimeState(t *testing.T) {
	rt, argvFile := fakeRuntime(t, `cat <<'J'
{"ociVersion":"1.0.2","id":"ctr","pid":1234,"status":"running","bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00Z","owner":""}
J`)
	st, err := RuntimeState(rt, []string{"--root", "/r", "--log-format=json"}, "ctr", nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pid != 1234 || st.Bundle != "/b" || st.Status != "running" {
		t.Errorf("state %+v", st)
	}
	argv, _ := os.ReadFile(argvFile)
	if got := strings.Fields(string(argv)); !reflect.DeepEqual(got, []string{"--root", "/r", "--log-format=json", "state", "ctr"}) {
		t.Errorf("runtime called with %q", got)
	}
}

func TestRuntimeStateErrors(t *testing.T) {
	for name, tc := range map[string]struct{ body, want string }{
		"fails":       {`echo 'container "ctr" does not exist' >&2; exit 1`, `does not exist`},
		"not json":    {`echo hello`, "not valid JSON"},
		"other id":    {`echo '{"id":"other","pid":1,"status":"running"}'`, `answered for "other"`},
		"bad id":      {`echo '{"id":"../x","pid":1}'`, `answered for "../x"`},
		"fails quiet": {`exit 3`, "exit status 3"},
	} {
		rt, _ := fakeRuntime(t, tc.body)
		_, err := RuntimeState(rt, nil, "ctr", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// runc prints its state indented: many ordinary annotations make it far
// larger than the config they came from. It is still read (streamed past
// the whole-read bound), IMA's annotations first of all.
func TestRuntimeStateLarge(t *testing.T) {
	rt, _ := fakeRuntime(t, `printf '{\n  "ociVersion": "1.2.0",\n  "id": "ctr",\n  "pid": 99,\n  "status": "running",\n  "bundle": "/b",\n  "annotations": {\n    "io.imans.enable": "true"'
i=0; while [ $i -lt 200 ]; do printf ',\n    "org.example.k%d": "%0*d"' $i 100000 0; i=$((i+1)); done
printf '\n  }\n}\n'`)
	st, err := RuntimeState(rt, nil, "ctr", nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pid != 99 || st.Annotations["io.imans.enable"] != "true" {
		t.Errorf("state pid %d, enable %q", st.Pid, st.Annotations["io.imans.enable"])
	}
}

func TestBundleAnnotationErrorsCarryPositions(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.json")
	os.WriteFile(p, []byte("{\n  \"annotations\": {\"a\": 1}\n}"), 0o644)
	_, _, _, err := readBundleAnnotations(dir, "")
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("%v, want the line of the error", err)
	}
	os.WriteFile(p, []byte("{\n\n,"), 0o644)
	_, _, _, err = readBundleAnnotations(dir, "")
	if err == nil || !strings.Contains(err.Error(), "byte 4, line 3") {
		t.Errorf("%v, want byte and line", err)
	}
	// Only the annotations are decoded; a wrong type elsewhere is the
	// runtime's to report.
	os.WriteFile(p, []byte(`{"process": 7, "annotations": {"io.imans.enable": "true"}}`), 0o644)
	ann, _, _, err := readBundleAnnotations(dir, "")
	if err != nil || ann["io.imans.enable"] != "true" {
		t.Errorf("annotations %v, %v", ann, err)
	}
}
