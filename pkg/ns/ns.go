// Package ns is the one narrow seam between ima-hook and the IMA-namespace
// parts of the kernel (openEuler CONFIG_IMA_NS). Everything above it is plain
// Go that can be tested anywhere; everything below it is either the real
// Linux implementation (what ships) or, in builds with the "imaemu" tag only,
// an emulated kernel that follows docs/kernel-abi.md.
//
// The seam is deliberately coarse: callers describe *what* must happen in a
// namespace (a Populate or Spawn request) and the implementation decides how.
// That keeps the single-threaded, re-executed C stage (nsenter) and the
// emulator interchangeable without leaking either into the hook logic.
package ns

import (
	"errors"
	"io"

	"github.com/ima-hook/ima-hook/pkg/kconfig"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

// CloneNewIMA is the openEuler clone/unshare flag (bit 34, clone3-only range).
const CloneNewIMA = 0x400000000

// Features is what the running kernel offers, as far as it can be seen
// without changing anything.
type Features struct {
	Kernel            string // "linux" or "emulator"
	SecurityFSDir     string // where the IMA securityfs files are, e.g. /sys/kernel/security/ima
	SecurityFSMounted bool   // securityfs is mounted at /sys/kernel/security
	IMA               bool   // the ima/ directory exists (CONFIG_IMA)
	Namespaces        bool   // /proc/self/ns/ima exists (CONFIG_IMA_NS)
	KcmdForChildren   bool   // ima/kcmd_for_children exists (openEuler ABI)
	X509ForChildren   bool   // ima/x509_for_children exists
	PolicyFile        bool   // ima/policy exists (vanishes after the first load without CONFIG_IMA_WRITE_POLICY)
	PolicyWritable    bool   // ima/policy has an owner-write bit
	ImaKeyring        string // ".ima" when the trusted keyring exists, "_ima" otherwise (see keys)
	Template          string // template of the host list's first entry, "" when unknown
	// SecureBoot: the platform booted with EFI secure boot, so a kernel
	// with CONFIG_IMA_ARCH_POLICY gives every namespace the architecture
	// rules, which stay in force after a custom policy load.
	SecureBoot bool
	// KernelConfig is the running kernel's build config when readable
	// (/proc/config.gz, /boot/config-<release>; KernelConfigPaths), nil
	// otherwise, with the reason in KernelConfigError.
	KernelConfig      *kconfig.Config `json:",omitempty"`
	KernelConfigError string          `json:",omitempty"`
}

// KernelConfigPaths are where Probe looks for the kernel config; tests
// point it elsewhere.
var KernelConfigPaths = kconfig.DefaultPaths

// WritePolicyProblem says why this kernel cannot load a policy into each
// of several namespaces, from its config ("" when it can, or when the
// config is not readable): without CONFIG_IMA_WRITE_POLICY,
// ima_release_policy either keeps the policy file busy forever after the
// first load (with CONFIG_IMA_READ_POLICY) or removes it (without).
func (f Features) WritePolicyProblem() string {
	c := f.KernelConfig
	if c == nil || c.Enabled("CONFIG_IMA_WRITE_POLICY") {
		return ""
	}
	if c.Enabled("CONFIG_IMA_READ_POLICY") {
		return "this kernel has CONFIG_IMA_READ_POLICY without CONFIG_IMA_WRITE_POLICY (" + c.Source +
			"): after the first policy load in any namespace the policy file stays busy (EBUSY) for every namespace"
	}
	return "this kernel has neither CONFIG_IMA_WRITE_POLICY nor CONFIG_IMA_READ_POLICY (" + c.Source +
		"): the first policy load in any namespace removes the policy file for all of them"
}

// Missing returns why the kernel cannot give a container its own IMA
// namespace, or "" when it can.
func (f Features) Missing() string {
	// Kernel support first: mounting securityfs cannot help a kernel built
	// without CONFIG_IMA_NS, so that is the reason worth naming.
	switch {
	case !f.Namespaces:
		return "the kernel has no IMA namespaces (CONFIG_IMA_NS is off: no /proc/self/ns/ima)"
	case !f.SecurityFSMounted:
		return "securityfs is not mounted at /sys/kernel/security (mount -t securityfs securityfs /sys/kernel/security)"
	case !f.IMA:
		return "the kernel has no IMA (CONFIG_IMA is off: no " + f.SecurityFSDir + ")"
	case !f.KcmdForChildren:
		return "the kernel's IMA namespaces are not the openEuler ABI (no ima/kcmd_for_children)"
	}
	return ""
}

// Write is one write() of data to a file: the kernel's *_for_children and
// policy files take each write on its own.
type Write struct {
	Path string
	Data string
}

// PopulateRequest says what to put into an existing IMA namespace from
// inside it: the policy and, when the namespace was not created with it, the
// appraisal key. The caller has validated all of it.
type PopulateRequest struct {
	// PolicyRules are written one rule per write() to the policy file.
	PolicyRules []string
	// PolicyPath, when set, is written instead of PolicyRules: the kernel then
	// reads the file itself (needed when the namespace appraises POLICY_CHECK).
	PolicyPath string
	// KeyDER is an X.509 certificate to add to the namespace's keyring.
	KeyDER []byte
	// Keyring is ".ima", "_ima" or "" (auto: the trusted .ima keyring when the
	// kernel has it, else a _ima keyring as request_key looks it up).
	Keyring string
	// Expect is the namespace the caller believes pid is in; a mismatch after
	// entering means the pid was recycled and nothing is written.
	Expect imansid.ID
	// ListKeys asks for the key ids in the keyring the namespace appraises
	// with, after the key (if any) was added: the proof that a key the
	// kernel was to load at creation (x509_for_children) is there.
	ListKeys bool `json:",omitempty"`
}

// PopulateResult is what was found in the namespace after populating it.
type PopulateResult struct {
	NS               imansid.ID `json:"ns"`
	RulesWritten     int        `json:"rules_written"`
	KeySerial        int32      `json:"key_serial,omitempty"`
	MeasurementCount uint64     `json:"measurement_count"`
	Violations       uint64     `json:"violations"`
	AggregatePresent bool       `json:"ns_aggregate_present"`
	// KeyIDs are the IMA key ids in the namespace's keyring (ListKeys).
	KeyIDs []uint32 `json:"key_ids,omitempty"`
}

// SpawnRequest is the runtime wrapper's job: create a pending namespace,
// configure it, and run the real runtime as the first task born into it.
type SpawnRequest struct {
	// Writes go to the *_for_children files between unshare and fork.
	Kcmd     string // kcmd_for_children content, "" to leave defaults
	X509Path string // x509_for_children content (absolute host path), "" for none
	// NSIDFile, when set, receives the new namespace id (decimal) before the
	// fork. The C stage writes it, between unshare and fork where no Go
	// runs, so it is handed the path (record.Store.PendingNSPath, whose
	// directory the caller has made); a kernel whose Spawn runs Go there
	// (the emulator) calls NoteNSID instead.
	NSIDFile string
	NoteNSID func(imansid.ID) error
	// NoteListStart, when set, is given the host measurement count
	// (runtime_measurements_count of the initial namespace) taken before the
	// unshare: the new namespace's ns_aggregate entry comes at or after that
	// index, and any earlier namespace with the same (reused) id before it.
	// A kernel without the count (no IMA) gives none.
	NoteListStart func(count uint64) error
	// Argv and Env of the runtime to exec in the child; Argv[0] must be absolute.
	Argv []string
	Env  []string
	// ErrorLog also receives the line of a failed single-threaded step.
	ErrorLog RuntimeLog
}

// ExecRequest is the wrapper's exec: the runtime to run once joined.
type ExecRequest struct {
	Argv     []string // Argv[0] must be absolute
	Env      []string
	ErrorLog RuntimeLog
	// RefuseOwn: the process joined must be in another namespace than the
	// caller's (the wrapper runs in the host's): joining one's own
	// namespace changes nothing, so the exec would run outside the
	// container's namespace. For a container the wrapper knows has a
	// namespace, a process in the wrapper's own is not its init (its pid
	// was reused).
	RefuseOwn bool
}

// ErrJoinOwn: JoinAndExec with RefuseOwn found the process in the caller's
// own namespace.
var ErrJoinOwn = errors.New("the process is in the wrapper's own (the host's) namespace, not a container's")

// RuntimeLog is the runtime's own log file (its global --log and
// --log-format), where a failure of the wrapper is reported too: containerd
// and Docker show the user the last error entry of that file, not the
// runtime's stderr. The zero value means none.
type RuntimeLog struct {
	Path string // absolute
	JSON bool   // --log-format json (else logrus text)
}

// Kernel is the seam. Implementations: linux (release) and the emulator
// (build tag imaemu).
type Kernel interface {
	// Probe reports what the kernel offers; it never fails, absent features
	// are simply false.
	Probe() Features
	// SpawnMissing says why Spawn cannot work on this kernel, "" when it
	// can: Probe().Missing() for IMA namespaces; the timens test build
	// answers for the time namespaces it creates instead.
	SpawnMissing() string
	// NamespaceOf returns the active IMA namespace of pid (/proc/<pid>/ns/ima).
	NamespaceOf(pid int) (imansid.ID, error)
	// Populate enters the active IMA namespace of pid from a single-threaded
	// context and applies req there.
	Populate(pid int, req PopulateRequest) (PopulateResult, error)
	// Spawn performs req and then behaves like the runtime it ran: it does
	// not return on success (the process exits with the runtime's status).
	Spawn(req SpawnRequest) error
	// JoinAndExec enters the active IMA namespace of pid and execs
	// req.Argv; it does not return on success.
	JoinAndExec(pid int, req ExecRequest) error
	// OpenMeasurements opens the measurement list as seen from the caller's
	// namespace (the host sees every namespace's entries).
	OpenMeasurements(binary bool) (io.ReadCloser, error)
}
