// Package nstest is a scripted ns.Kernel for tests that run under a plain
// `go test ./...` (no emulator, no privileges): the hook's planning and
// verification, the runtime wrapper's decisions and poststop's reading of
// the list run against it. It answers from its fields and records what
// was asked of it; it never pretends to enforce a kernel rule (that is the
// emulator's job, pkg/ns/emukernel, build tag imaemu).
package nstest

import (
	"bytes"
	"errors"
	"io"

	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// ErrReplaced is what Spawn and JoinAndExec return: on a real kernel they
// do not return on success (the process is replaced), so the caller's
// "returned" path is its error path, and tests tell it by this error.
var ErrReplaced = errors.New("process replaced (nstest)")

// Kernel is the fake. The zero value is a kernel without IMA namespaces
// whose every process is in the initial namespace.
type Kernel struct {
	// Features is what Probe reports.
	Features ns.Features
	// Missing is what SpawnMissing reports.
	Missing string
	// Namespaces maps a pid to its IMA namespace; any other pid is in
	// imansid.Initial.
	Namespaces map[int]imansid.ID
	// List is the binary measurement list OpenMeasurements(true) returns
	// (the ASCII list is not faked).
	List []byte
	// PopulateFunc answers Populate; nil means the request is carried out
	// as asked (see Populate).
	PopulateFunc func(pid int, req ns.PopulateRequest) (ns.PopulateResult, error)

	// What was asked.
	Populated []ns.PopulateRequest
	Spawned   *ns.SpawnRequest
	Joined    int // pid JoinAndExec was given
	Join      ns.ExecRequest
}

var _ ns.Kernel = (*Kernel)(nil)

// Probe returns k.Features.
func (k *Kernel) Probe() ns.Features { return k.Features }

// SpawnMissing returns k.Missing.
func (k *Kernel) SpawnMissing() string { return k.Missing }

// NamespaceOf looks pid up in k.Namespaces.
func (k *Kernel) NamespaceOf(pid int) (imansid.ID, error) {
	if id, ok := k.Namespaces[pid]; ok {
		return id, nil
	}
	return imansid.Initial, nil
}

// Populate records req and answers with PopulateFunc, or else as a kernel
// that did what was asked: every rule (or the one policy file) written,
// the namespace's aggregate present, the namespace the pid is in.
func (k *Kernel) Populate(pid int, req ns.PopulateRequest) (ns.PopulateResult, error) {
	k.Populated = append(k.Populated, req)
	if k.PopulateFunc != nil {
		return k.PopulateFunc(pid, req)
	}
	id, _ := k.NamespaceOf(pid)
	n := len(req.PolicyRules)
	if req.PolicyPath != "" {
		n = 1
	}
	return ns.PopulateResult{NS: id, RulesWritten: n, AggregatePresent: true}, nil
}

// Spawn records req and returns ErrReplaced.
func (k *Kernel) Spawn(req ns.SpawnRequest) error {
	k.Spawned = &req
	return ErrReplaced
}

// JoinAndExec records pid and req and returns ErrReplaced.
func (k *Kernel) JoinAndExec(pid int, req ns.ExecRequest) error {
	k.Joined, k.Join = pid, req
	return ErrReplaced
}

// OpenMeasurements returns k.List for the binary list.
func (k *Kernel) OpenMeasurements(binary bool) (io.ReadCloser, error) {
	if !binary {
		return nil, errors.ErrUnsupported
	}
	return io.NopCloser(bytes.NewReader(k.List)), nil
}
