package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A container that does not ask for IMA may have any id its runtime takes:
// only the IMA path makes a file name of it (and checks it there).
func TestReadStateTakesAnyID(t *testing.T) {
	for _, id := range []string{"a+b", "web@1", "../x"} {
		st, err := ReadState(strings.NewReader(`{"id":` + quote(id) + `,"pid":3,"bundle":"/b"}`))
		if err != nil || st.ID != id {
			t.Errorf("%q: %v %+v", id, err, st)
		}
	}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// manyAnnotations is an indented state (as `runc state` prints it) with n
// ordinary annotations of size bytes each, plus extra.
func manyAnnotations(n, size int, extra map[string]string) []byte {
	ann := map[string]string{}
	for i := range n {
		ann[fmt.Sprintf("org.example.k%07d", i)] = strings.Repeat("v", size)
	}
	maps.Copy(ann, extra)
	b, _ := json.MarshalIndent(map[string]any{"ociVersion": "1.2.0", "id": "big", "pid": 77, "status": "running",
		"bundle": "/b", "annotations": ann, "rootfs": "/b/rootfs", "created": "2026-01-01T00:00:00Z"}, "", "  ")
	return b
}

// A state past MaxStateSize (many ordinary annotations) is streamed, not
// refused; IMA's annotations survive whatever else had to be dropped.
func TestReadStateLargerThanReadWhole(t *testing.T) {
	b := manyAnnotations(90000, 200, map[string]string{"io.imans.enable": "true", "zzz.IO.IMANS.Kcmd": "x"})
	if len(b) <= MaxStateSize {
		t.Fatalf("test state is only %d bytes", len(b))
	}
	st, err := ReadState(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != "big" || st.Pid != 77 || st.Bundle != "/b" || st.Status != "running" || st.Version != "1.2.0" {
		t.Errorf("state %+v", st.ID)
	}
	if st.Annotations["io.imans.enable"] != "true" || st.Annotations["zzz.IO.IMANS.Kcmd"] != "x" {
		t.Errorf("IMA annotations lost")
	}
	if n := len(st.Annotations); n < 1000 || n >= 90002 {
		t.Errorf("%d annotations kept: want those within the budget", n)
	}
}

// Past MaxScanSize even a streamed state is refused (here with a small
// limit: the rule, not the number, is under test).
func TestScanStateLimit(t *testing.T) {
	b := []byte(`{"id":"c","annotations":{"a":"` + strings.Repeat("x", 4096) + `"}}`)
	if _, err := scanStateLimit(bytes.NewReader(b), 1024, 1024); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("over the scan limit: %v", err)
	}
	if st, err := scanStateLimit(bytes.NewReader(b), 8192, 10); err != nil || st.ID != "c" || len(st.Annotations) != 0 {
		t.Errorf("within the limit, over the keep budget: %v %+v", err, st)
	}
}

func TestConfigAnnotationsLargerThanReadWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.json")
	big := strings.Repeat("p", MaxConfigSize)
	b, _ := json.Marshal(map[string]any{"ociVersion": "1.2.0", "process": map[string]any{"env": []string{big}},
		"annotations": map[string]string{"io.imans.enable": "false", "other": "1"}})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ann, size, err := ReadConfigAnnotations(p)
	if err != nil || size != int64(len(b)) || ann["io.imans.enable"] != "false" || ann["other"] != "1" {
		t.Errorf("ann %v size %d err %v", ann, size, err)
	}
	// The IMA path's whole read still refuses it.
	if _, err := ReadConfigFile(p); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ReadConfigFile: %v", err)
	}
	os.WriteFile(p, append(b[:len(b)-1:len(b)-1], ","...), 0o600)
	if _, _, err := ReadConfigAnnotations(p); err == nil || !strings.HasPrefix(err.Error(), "not a valid OCI config: ") {
		t.Errorf("broken large config: %v", err)
	}
}

// A FIFO (or any non-regular file) as config.json is refused at once,
// never waited on. Without O_NONBLOCK the open would block until a writer
// came, which the timeout catches.
func TestNonRegularConfigRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "config.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(t.TempDir(), "config.json")
	os.Mkdir(sub, 0o700)
	for name, read := range map[string]func() error{
		"ReadConfigAnnotations": func() error { _, _, err := ReadConfigAnnotations(fifo); return err },
		"ReadConfigFile":        func() error { _, err := ReadConfigFile(fifo); return err },
		"ReadConfig":            func() error { _, err := ReadConfig(dir); return err },
		"Annotations":           func() error { _, err := Annotations(&specs.State{ID: "c", Bundle: dir}); return err },
		"directory":             func() error { _, _, err := ReadConfigAnnotations(sub); return err },
	} {
		done := make(chan error, 1)
		go func() { done <- read() }()
		select {
		case err := <-done:
			var nr *NotRegularError
			if !errors.As(err, &nr) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: blocked on a FIFO", name)
		}
	}
}

// scanStateLimit decodes what json.Unmarshal decodes, wherever it succeeds.
func FuzzScanState(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.0","id":"c1","status":"created","pid":1,"bundle":"/b","annotations":{"a":"b"}}`))
	f.Add([]byte(`{"ID":"x","Pid":5,"annotations":{"a":"1"},"annotations":{"b":"2"},"x":[{"y":[1,{}]}]}`))
	f.Add([]byte(`{"annotations":{"a":"1"},"annotations":null}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"id":"a"} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := scanStateLimit(bytes.NewReader(b), 1<<20, 1<<20)
		var want specs.State
		werr := json.Unmarshal(b, &want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("scan error %v, json.Unmarshal error %v", err, werr)
		}
		if err == nil && !reflect.DeepEqual(*got, want) {
			t.Fatalf("scan %+v, json.Unmarshal %+v", *got, want)
		}
	})
}

func FuzzScanConfig(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.0.2","annotations":{"io.imans.enable":"true"},"process":{"args":["/bin/true"]}}`))
	f.Add([]byte(`{"Annotations":{"a":"x"},"annotations":{"b":null}}`))
	f.Add([]byte(`{"annotations":{"a":1}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, n, err := scanConfigLimit(bytes.NewReader(b), 1<<20, 1<<20)
		var want struct {
			Annotations map[string]string `json:"annotations"`
		}
		werr := json.Unmarshal(b, &want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("scan error %v, json.Unmarshal error %v", err, werr)
		}
		if err == nil && (!reflect.DeepEqual(got, want.Annotations) || n != int64(len(b))) {
			t.Fatalf("scan %v (%d bytes), json.Unmarshal %v", got, n, want.Annotations)
		}
	})
}
