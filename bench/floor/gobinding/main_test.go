package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTheBinaryLinksAllOfIt: the floor is a subset of ima-hook, so that it
// is a floor: every package it links (with their dependencies), the
// ima-hook binary links too.
func TestTheBinaryLinksAllOfIt(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool")
	}
	deps := func(pkg string) map[string]bool {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		set := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			set[p] = true
		}
		return set
	}
	binary := deps("../../../cmd/ima-hook")
	floor := deps(".")
	if len(floor) < 50 {
		t.Fatalf("go list -deps . gave %d packages; expected the floor's imports and theirs", len(floor))
	}
	for p := range floor {
		if strings.Contains(p, "/bench/floor/") {
			continue // the floor's own code (execfloor, itself)
		}
		if !binary[p] {
			t.Errorf("the floor links %s, which cmd/ima-hook does not: it would cost more than ima-hook's own start", p)
		}
	}
}
