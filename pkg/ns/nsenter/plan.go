package nsenter

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Environment names and limits; nsenter.h holds the same values for C.
const (
	envPrefix    = "_IMA_HOOK_NSENTER"
	envMarker    = "_IMA_HOOK_NSENTER"
	envSetnsPath = "_IMA_HOOK_NSENTER_SETNS_PATH"
	envSetnsFD   = "_IMA_HOOK_NSENTER_SETNS_FD"
	envUnshare   = "_IMA_HOOK_NSENTER_UNSHARE"
	envWrite     = "_IMA_HOOK_NSENTER_WRITE_"
	envNSIDLink  = "_IMA_HOOK_NSENTER_NSID_LINK"
	envNSIDFile  = "_IMA_HOOK_NSENTER_NSID_FILE"
	envFork      = "_IMA_HOOK_NSENTER_FORK"
	envExec      = "_IMA_HOOK_NSENTER_EXEC"
	envStage     = "_IMA_HOOK_NSENTER_STAGE"
	envErrLog    = "_IMA_HOOK_NSENTER_ERRLOG"
	version      = "1"

	// Label is argv[0] of a re-exec; ps shows "ima-hook-nsenter <program> ...".
	Label = "ima-hook-nsenter"

	MaxPath   = 4096
	MaxData   = 4095 // the *_for_children writers refuse count >= PAGE_SIZE
	MaxWrites = 8
	MaxStage  = 64
)

// Exit codes of the C stage when a step fails (the reason is on stderr).
const (
	ExitPlan         = 120
	ExitSetns        = 121
	ExitUnshare      = 122
	ExitWrite        = 123
	ExitNSID         = 124
	ExitFork         = 125
	ExitExec         = 126
	ExitExecNotFound = 127
)

// Write is one write() of Data to Path; no newline is added.
type Write struct{ Path, Data string }

// StagePlan is what the C stage does, in the order of the fields.
type StagePlan struct {
	SetnsPath string   // open this nsfs file and setns(fd, 0)
	SetnsFD   int      // or an inherited fd (> 2) on the nsfs file (pins the namespace); 0 = none
	Unshare   uint64   // unshare flags (e.g. CLONE_NEWIMA 0x400000000, or CLONE_NEWTIME)
	Writes    []Write  // after unshare, before fork
	NSIDLink  string   // after the writes: readlink this ...
	NSIDFile  string   // ... and write the inode number (decimal) here
	Fork      bool     // fork; the child execs Exec; the parent waits and passes status and signals through
	Exec      []string // execve this argv (Exec[0] absolute): in the child if Fork, else directly
	Env       []string // environment for Exec (nil: the current one minus the plan's variables)
	Stage     string   // no Exec: return to Go; Stage() reports it in the child
	// ErrorLog, when set, also receives a failed step's line as an error
	// entry in the runtime's log format (JSON when ErrorLogJSON, else
	// logrus text): containerd and Docker show the user only that file.
	ErrorLog     string
	ErrorLogJSON bool
}

// ErrPlan marks a plan the C stage would refuse.
var ErrPlan = errors.New("invalid nsenter plan")

func planErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPlan, fmt.Sprintf(format, args...))
}

func checkPath(what, p string) error {
	switch {
	case p == "":
		return planErr("%s is empty", what)
	case len(p) > MaxPath:
		return planErr("%s is %d bytes, at most %d", what, len(p), MaxPath)
	case !filepath.IsAbs(p):
		return planErr("%s %q is not absolute", what, p)
	case strings.ContainsRune(p, 0):
		return planErr("%s contains a NUL byte", what)
	}
	return nil
}

func validStage(s string) bool {
	if s == "" || len(s) > MaxStage {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Validate checks p against the rules of the C stage, so that a bad plan is
// reported by Go with its field rather than by the re-executed child.
func (p StagePlan) Validate() error {
	if p.SetnsPath != "" {
		if err := checkPath("SetnsPath", p.SetnsPath); err != nil {
			return err
		}
	}
	if p.SetnsFD < 0 || p.SetnsFD > 0 && p.SetnsFD <= 2 {
		return planErr("SetnsFD %d: want an inherited descriptor above 2 (or 0 for none)", p.SetnsFD)
	}
	if p.SetnsPath != "" && p.SetnsFD != 0 {
		return planErr("set only one of SetnsPath and SetnsFD")
	}
	if len(p.Writes) > MaxWrites {
		return planErr("%d writes, at most %d", len(p.Writes), MaxWrites)
	}
	for i, w := range p.Writes {
		if err := checkPath(fmt.Sprintf("Writes[%d].Path", i), w.Path); err != nil {
			return err
		}
		if len(w.Data) > MaxData {
			return planErr("Writes[%d].Data is %d bytes, at most %d (the kernel refuses a write of a page or more)", i, len(w.Data), MaxData)
		}
	}
	if (p.NSIDLink == "") != (p.NSIDFile == "") {
		return planErr("set both NSIDLink and NSIDFile, or neither")
	}
	if p.NSIDLink != "" {
		if err := checkPath("NSIDLink", p.NSIDLink); err != nil {
			return err
		}
		if err := checkPath("NSIDFile", p.NSIDFile); err != nil {
			return err
		}
	}
	if p.ErrorLog != "" {
		if err := checkPath("ErrorLog", p.ErrorLog); err != nil {
			return err
		}
	}
	hasExec := len(p.Exec) > 0
	if hasExec == (p.Stage != "") {
		return planErr("set exactly one of Exec and Stage")
	}
	if p.Stage != "" && !validStage(p.Stage) {
		return planErr("Stage %q: want 1 to %d of [A-Za-z0-9_-]", p.Stage, MaxStage)
	}
	if p.Fork && !hasExec {
		return planErr("Fork needs Exec")
	}
	if p.Unshare != 0 && !hasExec {
		// Back in Go the runtime could not start threads (copy_process
		// refuses CLONE_VM while the namespaces differ): only exec or
		// fork+exec make sense after unshare.
		return planErr("Unshare needs Exec (the Go runtime cannot run after unshare)")
	}
	if hasExec {
		if err := checkPath("Exec[0]", p.Exec[0]); err != nil {
			return err
		}
		for i, a := range p.Exec {
			if strings.ContainsRune(a, 0) {
				return planErr("Exec[%d] contains a NUL byte", i)
			}
		}
	}
	for i, e := range p.Env {
		if strings.ContainsRune(e, 0) {
			return planErr("Env[%d] contains a NUL byte", i)
		}
	}
	return nil
}

// isMarker reports whether an environment entry belongs to a plan.
func isMarker(entry string) bool { return strings.HasPrefix(entry, envPrefix) }

// withoutMarkers returns env minus any plan variables.
func withoutMarkers(env []string) []string {
	out := make([]string, 0, len(env))
	for _, e := range env {
		if !isMarker(e) {
			out = append(out, e)
		}
	}
	return out
}

// environ is the re-exec's environment: the base (p.Env, or ours) without
// stale plan variables, plus the encoded plan (see doc.go).
func (p StagePlan) environ() []string {
	base := p.Env
	if base == nil {
		base = os.Environ()
	}
	env := withoutMarkers(base)
	env = append(env, envMarker+"="+version)
	if p.SetnsPath != "" {
		env = append(env, envSetnsPath+"="+p.SetnsPath)
	}
	if p.SetnsFD != 0 {
		env = append(env, envSetnsFD+"="+strconv.Itoa(p.SetnsFD))
	}
	if p.Unshare != 0 {
		env = append(env, envUnshare+"="+strconv.FormatUint(p.Unshare, 10))
	}
	for i, w := range p.Writes {
		env = append(env, envWrite+strconv.Itoa(i)+"="+hex.EncodeToString([]byte(w.Data))+":"+w.Path)
	}
	if p.NSIDLink != "" {
		env = append(env, envNSIDLink+"="+p.NSIDLink, envNSIDFile+"="+p.NSIDFile)
	}
	if p.Fork {
		env = append(env, envFork+"=1")
	}
	if len(p.Exec) > 0 {
		env = append(env, envExec+"=1")
	}
	if p.Stage != "" {
		env = append(env, envStage+"="+p.Stage)
	}
	if p.ErrorLog != "" {
		format := "text"
		if p.ErrorLogJSON {
			format = "json"
		}
		env = append(env, envErrLog+"="+format+":"+p.ErrorLog)
	}
	return env
}

// argv is the re-exec's argv: the label, then the program to exec if any.
func (p StagePlan) argv() []string {
	return append([]string{Label}, p.Exec...)
}
