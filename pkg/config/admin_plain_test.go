package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// docsAdminExample is the admin file docs/configuration.md shows.
func docsAdminExample(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "## Admin file\n\n```toml\n")
	text, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/configuration.md: no toml block under \"## Admin file\"")
	}
	return []byte(text)
}

var adminPlainSeeds = []string{
	"keys_dir = \"/k\"\r\n\"run_dir\" = '/r' # comment\n\n[kernel]\n  keyring = \"_ima\"\n[defaults]\n",
	"log = \"\"\"\nstderr\"\"\"\nruntime = '''/usr/bin/crun'''\n",
	"runtime = \"/opt/\\u00e9/runc\\t\"\n",
	"[defaults]\n[defaults]\n",
	"[defaults]\nkcmd = 'a'\n[kernel]\nkcmd = 'a'\n",
	"keys_dir = \"/k\"\nkeys_dir = \"/k\"\n",
	"mandatory = 'true'\n",
	"keys_dir = true\n",
	"[defaults.sub]\n",
	"[[defaults]]\n",
	"defaults = { kcmd = \"x\" }\n",
	"MANDATORY = true\n",
	"mandatory = true\n[kernel]\nmandatory = true\n",
	"run_dir = \"/r\"\xff\n",
	"\ufeffmandatory = true\n",
}

// Wherever the plain path answers, the reflecting decoder gives the same
// result; where it does not, a is untouched.
func checkAdminPlain(t *testing.T, b []byte) (answered bool) {
	t.Helper()
	got, untouched := BuiltinAdmin(), BuiltinAdmin()
	if !decodeAdminPlain(b, got) {
		if !reflect.DeepEqual(got, untouched) {
			t.Fatalf("%q: the plain path declined but changed the admin config: %+v", b, got)
		}
		return false
	}
	want := BuiltinAdmin()
	unknown, err := decodeAdminReflect(b, want)
	if err != nil || len(unknown) > 0 {
		t.Fatalf("%q: the plain path accepted what go-toml refuses (%v, unknown %q)", b, err, unknown)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: plain path %+v, go-toml %+v", b, got, want)
	}
	return true
}

func TestAdminPlainMatchesReflect(t *testing.T) {
	if !checkAdminPlain(t, docsAdminExample(t)) {
		t.Error("the admin file docs/configuration.md shows does not take the plain path")
	}
	for _, s := range []string{"", adminDecodeSeeds[1], "keys_dir = \"/k\"\r\n\"run_dir\" = '/r' # comment\n\n[kernel]\n  keyring = \"_ima\"\n[defaults]\n"} {
		if !checkAdminPlain(t, []byte(s)) {
			t.Errorf("%q does not take the plain path", s)
		}
	}
	for _, s := range append(adminDecodeSeeds, adminPlainSeeds...) {
		checkAdminPlain(t, []byte(s))
	}
	// Declined, so that go-toml's words say what is wrong.
	for _, s := range []string{"keys_dir = \"/k\"\nkeys_dir = \"/k\"\n", "mandatory = 'true'\n", "[[defaults]]\n", "MANDATORY = true\n", "mandatroy = true\n"} {
		if checkAdminPlain(t, []byte(s)) {
			t.Errorf("%q took the plain path", s)
		}
	}
}

func FuzzAdminPlainMatchesReflect(f *testing.F) {
	for _, s := range append(adminDecodeSeeds, adminPlainSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 {
			return
		}
		checkAdminPlain(t, b)
	})
}

// plainField knows every setting of Admin, Defaults and Kernel by its toml
// tag, as a pointer to that very field.
func TestAdminPlainKnowsEveryField(t *testing.T) {
	a := BuiltinAdmin()
	check := func(table string, v reflect.Value) {
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			tag := f.Tag.Get("toml")
			if tag == "" || tag == "-" || f.Type.Kind() == reflect.Struct {
				continue
			}
			s, b := a.plainField(table, tag)
			var p any
			switch f.Type.Kind() {
			case reflect.String:
				p = s
			case reflect.Bool:
				p = b
			default:
				t.Fatalf("%s.%s: a %s setting; teach decodeAdminPlain its type", table, tag, f.Type)
			}
			if reflect.ValueOf(p).IsNil() || reflect.ValueOf(p).Pointer() != v.Field(i).Addr().Pointer() {
				t.Errorf("plainField(%q, %q) is not the field %s", table, tag, f.Name)
			}
		}
	}
	check("", reflect.ValueOf(a).Elem())
	check("defaults", reflect.ValueOf(&a.Defaults).Elem())
	check("kernel", reflect.ValueOf(&a.Kernel).Elem())
	if s, b := a.plainField("", "defaults"); s != nil || b != nil {
		t.Error("a table is no setting")
	}
}
