//go:build !(linux && cgo)

package nsenter

import (
	"errors"
	"os"
	"os/exec"
)

// The C stage exists only in Linux builds with cgo (nsenter.go,
// nsenter.c). Without it, nothing can enter or create a namespace: the
// functions say so, and no re-executed copy ever runs a stage. This keeps
// the packages above buildable (and their plain logic testable) with
// CGO_ENABLED=0 and on other systems; the shipped binary is always built
// with cgo (Makefile).
var errNoStage = errors.New("nsenter: this build has no C stage (it needs Linux and cgo)")

// Exec fails: there is no C stage to perform p.
func Exec(p StagePlan) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return errNoStage
}

// Command fails: there is no C stage to perform p.
func Command(p StagePlan) (*exec.Cmd, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return nil, errNoStage
}

// Stage is "": no stage ran.
func Stage() string { return "" }

// SingleThreadedEntry is false: no stage ran.
func SingleThreadedEntry() bool { return false }

// CardDir is where the cards would be.
func CardDir() string { return "/run/ima-hook-passthrough" }

// CardStale is false: no pre-filter ran, and none reads cards.
func CardStale() bool { return false }

// WriteCard does nothing: no pre-filter reads cards in this build.
func WriteCard(dir string, c Card) error { return nil }

// RemoveCard does nothing: no pre-filter reads cards in this build.
func RemoveCard(dir, configPath string) error { return nil }

// WaiterPID is this process: no constructor forked it.
func WaiterPID() int { return os.Getpid() }
