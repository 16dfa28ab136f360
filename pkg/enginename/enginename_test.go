package enginename

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const webID = "4f1c2a9e0b7d4c3a8e6f5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a291800"

// fakeEngines puts shell scripts named after engines on a PATH of their
// own (nothing else is on it): each script is the body of a fake engine.
func fakeEngines(t *testing.T, scripts map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

func TestResolve(t *testing.T) {
	fakeEngines(t, map[string]string{
		// Answers only the exact command line Resolve must use.
		"podman": `[ "$*" = "container inspect --format {{.Id}} -- web" ] && { echo ` + webID + `; exit 0; }
echo "Error: no such container $*" >&2; exit 125`,
		"docker": `echo "Error: No such container: $6" >&2; exit 1`,
	})
	got := Resolve(context.Background(), Engines, "web", 5*time.Second)
	if len(got) != 2 || got[0].Engine != "podman" || got[0].ID != webID || got[0].Err != nil ||
		got[1].Engine != "docker" || got[1].ID != "" || got[1].Err == nil || got[1].Err.Error() != "Error: No such container: web" {
		t.Fatalf("answers: %+v", got)
	}
	// A name that looks like a flag stays a name (after "--").
	got = Resolve(context.Background(), Engines, "--help", 5*time.Second)
	if got[0].Err == nil || !strings.Contains(got[0].Err.Error(), "no such container container inspect --format {{.Id}} -- --help") {
		t.Fatalf("flag-like name: %+v", got)
	}
}

func TestResolveRefusesWhatIsNotAnID(t *testing.T) {
	fakeEngines(t, map[string]string{
		"podman": `echo "` + webID + `"; echo "` + webID + `"`, // two ids
		"docker": `printf 'web\033[2J\n'`,
	})
	got := Resolve(context.Background(), Engines, "web", 5*time.Second)
	for _, a := range got {
		if a.ID != "" || a.Err == nil || !strings.Contains(a.Err.Error(), "not a container id") || strings.Contains(a.Err.Error(), "\033") {
			t.Errorf("%s: %+v", a.Engine, a)
		}
	}
}

func TestResolveSkipsEnginesNotOnPath(t *testing.T) {
	fakeEngines(t, map[string]string{"docker": `echo ` + webID})
	got := Resolve(context.Background(), Engines, "web", 5*time.Second)
	if !errors.Is(got[0].Err, ErrNotOnPath) || got[1].ID != webID {
		t.Fatalf("answers: %+v", got)
	}
}

// TestResolveIsBounded: an engine that hangs (a daemon not answering) or
// prints without end costs at most the timeout and maxOutput.
func TestResolveIsBounded(t *testing.T) {
	fakeEngines(t, map[string]string{
		"podman": `exec sleep 30`,
		"docker": `while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done`,
	})
	t.Setenv("PATH", os.Getenv("PATH")+":/bin:/usr/bin") // sleep
	start := time.Now()
	got := Resolve(context.Background(), Engines, "web", 300*time.Millisecond)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %s", took)
	}
	if got[0].Err == nil || got[0].Err.Error() != "no answer within 300ms" {
		t.Errorf("podman: %+v", got[0])
	}
	if got[1].Err == nil || got[1].ID != "" {
		t.Errorf("docker: %+v", got[1])
	}
}

func TestIsFullID(t *testing.T) {
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{webID, true},
		{strings.Repeat("0", 64), true},
		{"", false},
		{webID[:63], false},
		{webID + "0", false},
		{strings.ToUpper(webID), false},        // engines print lower case
		{webID[:63] + "g", false},              // not hex
		{webID[:63] + "\n", false},             // trimmed before the check
		{strings.Repeat("é", 32), false},       // 64 bytes, not 64 digits
		{webID[:32] + " " + webID[33:], false}, // a space inside
		{"sha256:" + webID[:57], false},        // a digest prefix is not an id
	} {
		if got := isFullID(c.s); got != c.ok {
			t.Errorf("isFullID(%q) = %v, want %v", c.s, got, c.ok)
		}
	}
}
