package hooksd

import (
	"reflect"
	"testing"

	"github.com/ima-hook/ima-hook/pkg/config"
)

// TestExampleConfigIsTheDefaults: make install copies
// hooks.d/ima-hook.toml.example to /etc/ima-hook/ima-hook.toml, and its
// header promises that it spells out the built-in defaults. It must load
// without error (unknown settings are errors) and change nothing.
func TestExampleConfigIsTheDefaults(t *testing.T) {
	got, err := config.LoadAdmin("../../hooks.d/ima-hook.toml.example")
	if err != nil {
		t.Fatalf("the example config does not load: %v", err)
	}
	got.Source, got.SourceSize, got.SourceFNV = "", 0, 0 // where the values came from, not what they are
	want := config.BuiltinAdmin()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the example config differs from the built-in defaults:\n got %+v\nwant %+v", got, want)
	}
}
