package kconfig

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `#
# Automatically generated file; DO NOT EDIT.
#
CONFIG_IMA=y
CONFIG_IMA_NS=y
# CONFIG_IMA_LOAD_X509 is not set
CONFIG_IMA_TRUSTED_KEYRING=y
CONFIG_IMA_READ_POLICY=y
CONFIG_IMA_DEFAULT_TEMPLATE="ima-ng"
CONFIG_IMA_MEASURE_PCR_IDX=10
`

func TestParseAndRead(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "config-6.6")
	if err := os.WriteFile(plain, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(sample))
	zw.Close()
	packed := filepath.Join(dir, "config.gz")
	if err := os.WriteFile(packed, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, paths := range [][]string{{filepath.Join(dir, "missing"), plain}, {packed, plain}} {
		c, err := Read(paths)
		if err != nil {
			t.Fatal(err)
		}
		if c.Source == filepath.Join(dir, "missing") {
			t.Fatal("a missing file was taken")
		}
		want := map[string]string{"CONFIG_IMA_NS": "y", "CONFIG_IMA_LOAD_X509": "n", "CONFIG_IMA_TRUSTED_KEYRING": "y",
			"CONFIG_IMA_WRITE_POLICY": "n", "CONFIG_IMA_READ_POLICY": "y"}
		for k, v := range want {
			if got := c.Summary()[k]; got != v {
				t.Errorf("%s: %s = %q, want %q", c.Source, k, got, v)
			}
		}
		if c.Value("CONFIG_IMA_WRITE_POLICY") != "" || c.Value("CONFIG_IMA_DEFAULT_TEMPLATE") != "ima-ng" {
			t.Errorf("values: %v", c.Values)
		}
	}
	if _, err := Read([]string{filepath.Join(dir, "none")}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no file: %v", err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("hello world\n"), 0o600)
	if _, err := Read([]string{bad, plain}); err == nil || !strings.Contains(err.Error(), "no CONFIG_") {
		t.Fatalf("a file that is not a config must be an error, got %v", err)
	}
	var c *Config
	if c.Enabled("CONFIG_IMA_NS") || c.Value("CONFIG_IMA_NS") != "" {
		t.Fatal("nil config")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("# CONFIG_A is not set\n"))
	f.Add([]byte("CONFIG_=y\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		for k := range c.Values {
			if !strings.HasPrefix(k, "CONFIG_") {
				t.Fatalf("%q accepted", k)
			}
		}
		_ = c.Summary()
	})
}

// The running kernel's own config, where this machine exposes it.
func TestReadRunningKernel(t *testing.T) {
	c, err := Read(DefaultPaths())
	if errors.Is(err, ErrNotFound) {
		t.Skipf("no kernel config here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Values) < 100 || c.Value("CONFIG_64BIT") == "" && c.Value("CONFIG_X86_32") == "" && c.Value("CONFIG_ARM64") == "" {
		t.Fatalf("%s: %d options; not the running kernel's config?", c.Source, len(c.Values))
	}
	for _, o := range Options {
		if v := c.Options[o]; v != "y" && v != "m" && v != "n" {
			t.Errorf("%s = %q", o, v)
		}
	}
	t.Logf("%s: %v", c.Source, c.Options)
}
