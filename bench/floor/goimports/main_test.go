package main

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// TestImportsMatchTheBinary: the floor links what the ima-hook binary
// links, so that it measures the same package initialisers. Both sides are
// the non-standard packages imported by cmd/ima-hook and its command
// subpackages (which the floor cannot import: they are the binary's own
// command code).
func TestImportsMatchTheBinary(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool")
	}
	list := func(pkgs ...string) []string {
		t.Helper()
		args := append([]string{"list", "-f", "{{join .Imports \"\\n\"}}"}, pkgs...)
		out, err := exec.Command("go", args...).Output()
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		seen := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			// Non-standard packages have a dot in their first element;
			// the command's own subpackages are its code, and
			// bench/floor/internal the floors' own, not libraries.
			if strings.Contains(strings.SplitN(p, "/", 2)[0], ".") && !strings.Contains(p, "/cmd/ima-hook") && !strings.Contains(p, "/bench/floor/") {
				seen[p] = true
			}
		}
		var s []string
		for p := range seen {
			s = append(s, p)
		}
		sort.Strings(s)
		return s
	}
	want := strings.Join(list("../../../cmd/ima-hook", "../../../cmd/ima-hook/policycmd", "../../../cmd/ima-hook/preflightcmd"), "\n")
	got := strings.Join(list("."), "\n")
	if got != want {
		t.Fatalf("bench/floor/goimports imports\n%s\nbut cmd/ima-hook imports\n%s", got, want)
	}
}
