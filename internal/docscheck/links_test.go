package docscheck

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestAnchor(t *testing.T) {
	for h, want := range map[string]string{
		"SM2 and SM3 (openEuler)":                   "sm2-and-sm3-openeuler",
		"kcmd_for_children":                         "kcmd_for_children",
		"Layer 1: the emulated kernel":              "layer-1-the-emulated-kernel",
		"Emulated kernels: switches and the matrix": "emulated-kernels-switches-and-the-matrix",
		"`read_policy` without `write_policy`":      "read_policy-without-write_policy",
	} {
		if got := anchor(h); got != want {
			t.Errorf("anchor(%q) = %q, want %q", h, got, want)
		}
	}
}

func TestCheckLinks(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "docs"), 0o755)
	os.WriteFile(filepath.Join(root, "README.md"), []byte("# Top\n\nSee [a](docs/a.md#the-x), [b](docs/a.md#nope),\n[c](docs/missing.md), [d](#top), [e](https://example.org/x#y),\n[f](../outside.md), [g](docs/a.md#the-x-1).\n"), 0o644)
	os.WriteFile(filepath.Join(root, "docs", "a.md"), []byte("# A\n\n## The `x`\n\n## The x\n\nBack to [top](../README.md#top).\n"), 0o644)
	n, failures := CheckLinks(root, []string{"README.md", "docs/a.md"})
	want := []string{
		`README.md:3: link "docs/a.md#nope": docs/a.md has no heading with anchor #nope`,
		`README.md:4: link "docs/missing.md": no such file docs/missing.md`,
		`README.md:5: link "../outside.md" leaves the repository`,
	}
	if n != 7 || !reflect.DeepEqual(failures, want) {
		t.Errorf("%d links, failures %q; want 7, %q", n, failures, want)
	}
}
