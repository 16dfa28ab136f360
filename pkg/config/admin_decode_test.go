package config

import (
	"bytes"
	"reflect"
	"sort"
	"testing"
	"unicode/utf8"

	burntsushi "github.com/BurntSushi/toml"
)

// burntSushiAdmin is how LoadAdmin decoded the admin file before it moved
// to go-toml: the reference the new decoder must agree with.
func burntSushiAdmin(b []byte, a *Admin) (unknown []string, err error) {
	md, err := burntsushi.NewDecoder(bytes.NewReader(b)).Decode(a)
	if err != nil {
		return nil, err
	}
	// An unknown table is named once, not with each of its keys (go-toml
	// names only the table): "[extra] a = 1" is "unknown setting extra".
	listed := map[string]bool{}
	for _, k := range md.Undecoded() {
		listed[k.String()] = true
	}
	for _, k := range md.Undecoded() {
		if len(k) > 1 && listed[k[:len(k)-1].String()] {
			continue
		}
		unknown = append(unknown, k.String())
	}
	sort.Strings(unknown)
	return unknown, nil
}

var adminDecodeSeeds = []string{
	"",
	"mandatory = true\nkeys_dir = \"/k\"\n[defaults]\nkcmd = \"ima_policy=appraise_tcb\"\nrequired = false\n[kernel]\nkeyring = \"_ima\"\n",
	"mandatroy = true\n",
	"mandatory = \n",
	"[defaults]\nkcmdd = \"x\"\npolicy = \"p\"\n[kernel]\nlsm = \"selinux\"\nconfgi = \"auto\"\n",
	"[extra]\na = 1\nb = 2\n",
	"mandatory = \"yes\"\n",
	"mandatory = true\nmandatory = false\n",
	"runtime = 'runc'\nlog = \"\"\"stderr\"\"\"\n",
	"[defaults]\nscope = \"pod\"\n[defaults]\nscope = \"container\"\n",
	"defaults.kcmd = \"ima_policy=tcb\"\n",
	"preflight_timeout = 10\n",
	"Mandatory = true\n",
	"a.b.c = 1\n",
	"[kernel]\nallow_template = true\nkeyring = \"auto\"\n# comment\n",
}

// The admin file decodes the same with go-toml as with BurntSushi/toml:
// accepted or refused alike, the same settings, the same unknown keys.
func TestAdminDecodeMatchesBurntSushi(t *testing.T) {
	for _, s := range adminDecodeSeeds {
		checkAdminDecode(t, []byte(s))
	}
}

func FuzzAdminDecodeMatchesBurntSushi(f *testing.F) {
	for _, s := range adminDecodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 {
			return
		}
		checkAdminDecode(t, b)
	})
}

func checkAdminDecode(t *testing.T, b []byte) {
	t.Helper()
	got, want := BuiltinAdmin(), BuiltinAdmin()
	gu, gerr := decodeAdmin(b, got)
	wu, werr := burntSushiAdmin(b, want)
	if gerr != nil && werr == nil && !utf8.Valid(b) {
		// BurntSushi takes some byte-order marks and stray bytes; a file
		// that is not UTF-8 is no valid TOML, and refusing it is stricter.
		return
	}
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("%q: go-toml says %v, BurntSushi says %v", b, gerr, werr)
	}
	if gerr != nil {
		return
	}
	if !reflect.DeepEqual(gu, wu) {
		t.Fatalf("%q: unknown settings %q, BurntSushi %q", b, gu, wu)
	}
	if len(gu) == 0 && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decoded %+v, BurntSushi %+v", b, got, want)
	}
}
