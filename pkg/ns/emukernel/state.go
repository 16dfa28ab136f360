//go:build imaemu

// Package emukernel is an emulated openEuler IMA-namespace kernel
// (CONFIG_IMA_NS) for tests on machines whose kernel has none. It exists only
// in builds with the imaemu tag and is never part of the release binary.
//
// It follows the kernel ABI of docs/kernel-abi.md: pending and active
// ("frozen") namespaces, who may write which securityfs file, the errno of
// each misuse, per-namespace measurement views, ns_aggregate_<id> and the
// ima-ns template. Points the ABI marks as uncertain are Switches.
//
// Tasks are real processes: the emulator identifies them by pid and start
// time, and a process it has never seen inherits the namespace of its nearest
// known ancestor the way imans_on_fork makes children be born into their
// parent's ima_ns_for_children. State lives in a directory shared by every
// process of a test (the wrapper, the hook, the tools), guarded by flock.
package emukernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
)

const (
	// InitialNS is PROC_IMA_INIT_INO.
	InitialNS imansid.ID = 0xEFFFFFF9
	// firstDynamicIno is where proc_alloc_inum's dynamic range starts.
	firstDynamicIno imansid.ID = 0xF0000000
)

const pageSize = 4096

// Switches are the points of the ABI that stored material could not settle
// ([U] in docs/kernel-abi.md). Tests run both settings.
type Switches struct {
	// WritePolicy is CONFIG_IMA_WRITE_POLICY: without it (and without
	// ReadPolicy) the first successful policy load removes the policy file
	// for every namespace (ima_release_policy).
	WritePolicy bool `json:"write_policy"`
	ReadPolicy  bool `json:"read_policy"`
	// AllowTemplate: kcmd_for_children accepts ima_template= (RFC 30/30);
	// otherwise it is an unknown parameter (EINVAL), as in the oE snapshot.
	AllowTemplate bool `json:"allow_template"`
	// X509FailAborts: a certificate that cannot be loaded at activation
	// fails the activating fork/setns (RFC 28/30); oE only logs it.
	X509FailAborts bool `json:"x509_fail_aborts"`
	// AggregateTemplate is the template of the ns_aggregate entry: the new
	// namespace's ("") or the activator's, e.g. "ima-ng" (RFC 29/30).
	AggregateTemplate string `json:"aggregate_template"`
	// DefaultTemplate is CONFIG_IMA_DEFAULT_TEMPLATE for new namespaces.
	DefaultTemplate string `json:"default_template"`
	// MaxNamespaces is /proc/sys/user/max_ima_namespaces (ENOSPC past it).
	MaxNamespaces int `json:"max_namespaces"`
	// BinaryNSHeader: binary_runtime_measurements records carry a u32
	// namespace id after the PCR, as ima_measurements_show of the 2020 RFC
	// writes them; the openEuler snapshot does not (unknown for the newest
	// code). Readers must detect either (measure.DetectLayout).
	BinaryNSHeader bool `json:"binary_ns_header"`
	// AppraiseBootParam is CONFIG_IMA_APPRAISE_BOOTPARAM: without it the
	// kcmd's ima_appraise= is ignored (the namespace enforces).
	AppraiseBootParam bool `json:"appraise_bootparam"`
	// SecureBoot: the platform booted with EFI secure boot on a kernel
	// with CONFIG_IMA_ARCH_POLICY, so every namespace gets the
	// architecture rules (ima_init_arch_policy), which survive its first
	// custom policy load (ima_update_policy).
	SecureBoot bool `json:"secure_boot"`
	// NSTemplate is the template of namespace entries: NSTemplateKcmd ("",
	// "kcmd": the namespace's own, ima-ns) or NSTemplateHost ("host": the
	// host's boot template, ima-ng, as the newest openEuler ima_ns.c does).
	NSTemplate string `json:"ns_template"`
	// LoadX509 is CONFIG_IMA_LOAD_X509: without it imans_activate never
	// loads x509_for_children, silently (ima_ns_load_x509 is a stub).
	LoadX509 bool `json:"load_x509"`
	// TrustedKeyringRequiresCA is CONFIG_IMA_TRUSTED_KEYRING: the .ima
	// keyring takes only certificates signed by a key in the built-in or
	// secondary trusted keyring (the emulator's: the DER certificates in
	// <state dir>/builtin-trusted-keys/); others are dropped at activation
	// (logged) and refused by add_key (ENOKEY).
	TrustedKeyringRequiresCA bool `json:"trusted_keyring_requires_ca"`
	// KeyringShared: a task inside a namespace that lists the .ima keyring
	// (KEYCTL_READ, /proc/keys) sees the keys of every namespace, not only
	// the ones tagged with its own key domain. Appraisal uses only its own
	// either way (keyring_search_tag with the namespace's domain, RFC
	// 23/24/27); whether the listing filters by domain is not settled
	// (keyring_read in mainline does not look at domain tags). The host
	// sees every namespace's keys when shared, none of them otherwise.
	KeyringShared bool `json:"keyring_shared"`
	// KernelConfigReadable: the emulated kernel exposes its build config
	// (<state dir>/kernel-config, as /proc/config.gz would), generated from
	// these switches.
	KernelConfigReadable bool `json:"kernel_config_readable"`
}

// DefaultSwitches describe an openEuler kernel as docs/kernel-abi.md describes it,
// with CONFIG_IMA_WRITE_POLICY (the configuration ima-hook documents) and
// CONFIG_IMA_LOAD_X509, which Kconfig lets exist only with
// CONFIG_IMA_TRUSTED_KEYRING: the namespace's certificate must be signed
// by a trusted key (tests put their CA into builtin-trusted-keys).
func DefaultSwitches() Switches {
	return Switches{WritePolicy: true, DefaultTemplate: "ima-ns", MaxNamespaces: 1024,
		AppraiseBootParam: true, NSTemplate: NSTemplateKcmd, LoadX509: true, TrustedKeyringRequiresCA: true,
		KeyringShared: true, KernelConfigReadable: true}
}

type task struct {
	Pid         int        `json:"pid"`
	Start       uint64     `json:"start"`
	NS          imansid.ID `json:"ns"`
	ForChildren imansid.ID `json:"for_children"`
}

type kcmdSetup struct {
	Policies []string `json:"policies,omitempty"`
	Appraise string   `json:"appraise"`
}

type key struct {
	Serial int32  `json:"serial"`
	KeyID  uint32 `json:"key_id"`
	Desc   string `json:"desc,omitempty"` // the asymmetric key's description (subject and SKID)
	Source string `json:"source"`
}

type namespace struct {
	ID     imansid.ID `json:"id"`
	Frozen bool       `json:"frozen"`
	// Owner is the owning user namespace and its ancestors (ns->user_ns):
	// the unsharer's, moved to a child's at every fork through
	// imans_on_fork whose child has another user namespace (the first
	// fork and every later one: ima_swap_user_ns).
	Owner []userNS `json:"owner,omitempty"`
	// Unsharer is the task whose ima_ns_for_children this namespace is
	// while its own active namespace differs: every fork it makes goes
	// through imans_on_fork (the first activates, each may swap the
	// owner). LastPid is the pid counter (ns_last_pid) at the unshare (a
	// child it forks later has a pid after it), Scanned the counter up to
	// which its children were looked at, and ChildAcct the unsharer's
	// accounting of reaped children at the unshare (reapedChildren).
	Unsharer  string     `json:"unsharer,omitempty"`
	LastPid   int        `json:"last_pid,omitempty"`
	Scanned   int        `json:"scanned,omitempty"`
	ChildAcct uint64     `json:"child_acct,omitempty"`
	Kcmd      *kcmdSetup `json:"kcmd,omitempty"`
	Template  string     `json:"template,omitempty"`
	X509Path  string     `json:"x509_path,omitempty"`
	Appraise  string     `json:"appraise,omitempty"`
	// Rules in force; DefaultRules says they still are the kcmd defaults,
	// which the first custom load replaces (later loads append).
	Rules        []string `json:"rules,omitempty"`
	DefaultRules bool     `json:"default_rules"`
	// ArchRules seed the namespace's custom list at activation: the first
	// load replaces Rules with them followed by the loaded rules.
	ArchRules  []string `json:"arch_rules,omitempty"`
	Violations uint64   `json:"violations"`
	Keys       []key    `json:"keys,omitempty"`
	// FirstEntry is the global index of this namespace's ns_aggregate: its
	// view starts there (an earlier namespace may have had the same id).
	FirstEntry int `json:"first_entry"`
	// Count is the length of its view (runtime_measurements_count).
	Count int `json:"count"`
	// Staged policy of the open writer, and whether every write parsed.
	Staged      []string `json:"staged,omitempty"`
	StageFailed bool     `json:"stage_failed,omitempty"`
}

// Entry is one measurement in the global list.
type Entry struct {
	PCR       int        `json:"pcr"`
	Template  string     `json:"template"`
	Algo      string     `json:"algo"`
	Digest    string     `json:"digest"` // hex file digest
	Name      string     `json:"name"`
	NS        imansid.ID `json:"ns"`
	Violation bool       `json:"violation,omitempty"`
}

type state struct {
	Switches   Switches              `json:"switches"`
	Tasks      map[string]*task      `json:"tasks"`
	NS         map[string]*namespace `json:"namespaces"`
	EntryCount int                   `json:"entry_count"`           // length of the global list (entries file)
	PolicyBusy string                `json:"policy_busy,omitempty"` // task key of the open writer
	PolicyGone bool                  `json:"policy_gone,omitempty"`
	NextSerial int32                 `json:"next_serial"`
	// Pins are the bind mounts of namespace files (pin.go), by path.
	Pins map[string]pin `json:"pins,omitempty"`
	// PolicyReadOnly: the policy inode lost its owner-write bit
	// (CONFIG_IMA_READ_POLICY without CONFIG_IMA_WRITE_POLICY).
	PolicyReadOnly bool `json:"policy_read_only,omitempty"`

	// creds caches credentials (/proc/<pid>/status, user namespaces) for
	// one transaction, as stats does for /proc/<pid>/stat.
	creds map[int]cred

	// stats caches /proc/<pid>/stat reads for one transaction: a 50-rule
	// policy load looks its writer up once per write, and each read is a
	// /proc round trip. A process that dies during the transaction is
	// treated as dying right after it.
	stats map[int]procInfo

	// The global measurement list lives in its own append-only file and is
	// read only by the operations that look at entries: it grows with
	// every namespace ever activated, and most operations do not need it.
	dir           string
	entries       []Entry // the whole list once loaded, else only this transaction's appends
	entriesLoaded bool
	appended      []Entry  // appended in this transaction, written by save
	logged        []string // kernel log lines (pr_info/pr_err) of this transaction, appended to logFile by save
}

const logFile = "kernel.log"

const entriesFile = "entries.jsonl"

// allEntries returns the global measurement list.
func (s *state) allEntries() ([]Entry, error) {
	if s.entriesLoaded {
		return s.entries, nil
	}
	b, err := os.ReadFile(filepath.Join(s.dir, entriesFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var list []Entry
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var e Entry
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("emulator entries %s: %w", s.dir, err)
		}
		list = append(list, e)
	}
	if len(list) != s.EntryCount-len(s.appended) {
		return nil, fmt.Errorf("emulator entries %s: %d entries on file, state says %d", s.dir, len(list), s.EntryCount-len(s.appended))
	}
	s.entries = append(list, s.appended...)
	s.entriesLoaded = true
	return s.entries, nil
}

// appendEntry adds e to the global list and to its namespace's count.
func (s *state) appendEntry(e Entry) {
	s.entries = append(s.entries, e)
	s.appended = append(s.appended, e)
	s.EntryCount++
	if n := s.ns(e.NS); n != nil {
		n.Count++
	}
}

// dropLastEntry undoes appendEntry within the same transaction.
func (s *state) dropLastEntry() {
	e := s.appended[len(s.appended)-1]
	s.appended = s.appended[:len(s.appended)-1]
	s.entries = s.entries[:len(s.entries)-1]
	s.EntryCount--
	if n := s.ns(e.NS); n != nil {
		n.Count--
	}
}

type procInfo struct {
	start  uint64
	ppid   int
	exited bool
	err    error
}

// exited reports whether t's process is a zombie: exit_task_namespaces
// dropped its namespaces at exit, before the reap, and /proc/<pid>/ns/*
// no longer resolves (InUse). The record, and the references collect
// counts, stay until the reap: the emulator learns tasks lazily, and the
// lookup of a task not seen yet may still need the zombie's for_children.
func (s *state) exited(t *task) bool {
	if _, _, err := s.procStat(t.Pid); err != nil {
		return true
	}
	return s.stats[t.Pid].exited
}

// procStat is procStat through the transaction's cache.
func (s *state) procStat(pid int) (uint64, int, error) {
	if p, ok := s.stats[pid]; ok {
		return p.start, p.ppid, p.err
	}
	start, ppid, exited, err := procStatExited(pid)
	if s.stats == nil {
		s.stats = map[int]procInfo{}
	}
	s.stats[pid] = procInfo{start, ppid, exited, err}
	return start, ppid, err
}

// Kernel is a handle on an emulator state directory.
type Kernel struct {
	dir string
	// sw caches the switches once read: they never change after the
	// state was created.
	mu sync.Mutex
	sw *Switches
}

// Open returns the emulator whose state is in dir, creating it with sw the
// first time.
func Open(dir string, sw Switches) (*Kernel, error) {
	if err := sw.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	k := &Kernel{dir: dir}
	if st, err := os.Stat(filepath.Join(dir, "state.json")); err == nil && st.Size() > 0 {
		// Initialised by an earlier process (state is only ever saved
		// whole, under the lock): no transaction needed to open it.
		return k, nil
	}
	err := k.tx(func(s *state) error {
		if s.NextSerial == 0 {
			s.Switches = sw
			s.NextSerial = 100000
			// Under the lock and before the state exists: whoever sees
			// the state also sees the kernel's config.
			if sw.KernelConfigReadable {
				return writeKernelConfig(filepath.Join(dir, KernelConfigFile), sw)
			}
		}
		return nil
	})
	return k, err
}

// Dir is the state directory.
func (k *Kernel) Dir() string { return k.dir }

// tx runs fn on the state under an exclusive lock and saves it if fn
// succeeded and changed it. Dead tasks and namespaces nobody references are
// collected (the kernel frees them when their last reference drops) before
// every save, and up front by the operations whose outcome depends on it
// (Unshare reuses ids, OpenPolicy frees a dead writer's busy bit, the
// listings): checking every recorded task's liveness costs a /proc read
// each, and most operations are reads by a live task, which a dead task or
// an unreachable namespace cannot affect.
func (k *Kernel) tx(fn func(*state) error) error {
	lock, err := os.OpenFile(filepath.Join(k.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	s, raw, err := k.load()
	if err != nil {
		return err
	}
	s.settle()
	if err := fn(s); err != nil {
		// Failed operations change nothing, except the ones that the kernel
		// also leaves a trace of (handled by returning a *kept error).
		var kept *keptError
		if !errors.As(err, &kept) {
			return err
		}
		if serr := k.save(s, raw); serr != nil {
			return serr
		}
		return kept.err
	}
	return k.save(s, raw)
}

// keptError is an error after which the state change must still be saved
// (e.g. a failed kcmd write discards the pending setup).
type keptError struct{ err error }

func (e *keptError) Error() string { return e.err.Error() }
func (e *keptError) Unwrap() error { return e.err }

func keep(err error) error { return &keptError{err: err} }

// load returns the state and the bytes it was read from.
func (k *Kernel) load() (*state, []byte, error) {
	s := &state{Tasks: map[string]*task{}, NS: map[string]*namespace{}, dir: k.dir}
	b, err := os.ReadFile(filepath.Join(k.dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, nil, fmt.Errorf("emulator state %s: %w", k.dir, err)
	}
	if s.Tasks == nil {
		s.Tasks = map[string]*task{}
	}
	if s.NS == nil {
		s.NS = map[string]*namespace{}
	}
	return s, b, nil
}

// save writes s unless it is unchanged from old (most operations only read),
// collecting dead tasks and free namespaces first.
func (k *Kernel) save(s *state, old []byte) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if old != nil && bytes.Equal(b, old) {
		return nil
	}
	if s.collect() {
		if b, err = json.Marshal(s); err != nil {
			return err
		}
	}
	if len(s.logged) > 0 {
		if err := appendFile(filepath.Join(k.dir, logFile), []byte(strings.Join(s.logged, "\n")+"\n")); err != nil {
			return err
		}
	}
	if len(s.appended) > 0 {
		var lines bytes.Buffer
		enc := json.NewEncoder(&lines)
		for _, e := range s.appended {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		if err := appendFile(filepath.Join(k.dir, entriesFile), lines.Bytes()); err != nil {
			return err
		}
	}
	// Rewritten in place, not through a temporary file and rename: every
	// reader holds the lock, so no one sees a half-written file, and on
	// ext4 a rename over an existing file forces the new blocks out
	// (auto_da_alloc), which made each state change cost ten times more.
	f, err := os.OpenFile(filepath.Join(k.dir, "state.json"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Truncate(int64(len(b))); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func nsKey(id imansid.ID) string { return strconv.FormatUint(uint64(id), 10) }

func (s *state) ns(id imansid.ID) *namespace { return s.NS[nsKey(id)] }

func (s *state) logf(format string, args ...any) {
	s.logged = append(s.logged, strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " "))
}

// collect drops tasks that died and frees namespaces no task references
// (free_ima_ns for pending ones; the imans workqueue destroys active ones,
// releasing the inum and the key domain; their entries stay in the list).
//
// It reports whether it changed anything.
func (s *state) collect() (changed bool) {
	for key, t := range s.Tasks {
		if st, _, err := s.procStat(t.Pid); err != nil || st != t.Start {
			delete(s.Tasks, key)
			changed = true
		}
	}
	used := map[imansid.ID]bool{}
	for _, t := range s.Tasks {
		used[t.NS] = true
		used[t.ForChildren] = true
	}
	for _, id := range s.pinnedIDs() {
		used[id] = true // a bind mount holds a reference (pin.go)
	}
	for key, n := range s.NS {
		if !used[n.ID] {
			if n.Frozen {
				s.logf("ima: namespace %d destroyed", n.ID)
			}
			delete(s.NS, key)
			changed = true
		}
	}
	if s.PolicyBusy != "" && s.PolicyBusy != policyBusyForever {
		if _, ok := s.Tasks[s.PolicyBusy]; !ok {
			// The writer died: its file was closed by exit.
			s.PolicyBusy = ""
			changed = true
		}
	}
	return changed
}

// allocID is ns_alloc_inum: the lowest free id of the dynamic proc inode
// range, so ids are reused after a namespace dies. The range is shared
// with every other proc inode (the proc entries made at boot, and every
// other namespace on the machine), so an IMA namespace never gets the
// first ids of the range and consecutive namespaces seldom get
// consecutive ids: the emulator takes the ids below firstFreeIno as used
// at boot (4026532329 is the first id of the ABI's worked examples) and
// a fixed third of the rest as held by other inodes, so tests cannot come
// to depend on small or sequential ids.
func (s *state) allocID() imansid.ID {
	for id := firstFreeIno; ; id++ {
		if s.ns(id) == nil && !heldByOtherInode(id) {
			return id
		}
	}
}

// firstFreeIno is where the emulator's proc inode allocation starts.
const firstFreeIno imansid.ID = firstDynamicIno + 0x1E9

// heldByOtherInode says whether the emulator treats id as another proc
// inode's (a fixed pseudo-random third of the ids).
func heldByOtherInode(id imansid.ID) bool {
	x := uint64(id) * 0x9E3779B97F4A7C15
	x ^= x >> 29
	return x%3 == 0
}

// lastPid reads the pid counter of the caller's pid namespace.
func lastPid() int {
	b, err := os.ReadFile("/proc/sys/kernel/ns_last_pid")
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return n
}

// procStat reads a process's start time and parent pid from /proc.
func procStat(pid int) (start uint64, ppid int, err error) {
	start, ppid, _, err = procStatExited(pid)
	return start, ppid, err
}

// procStatExited is procStat that also says whether the process has
// exited and waits to be reaped (a zombie).
func procStatExited(pid int) (start uint64, ppid int, exited bool, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false, err
	}
	// comm may contain spaces and parentheses: the fields start after the
	// last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is state (field 3), ppid is field 4, starttime field 22.
	if len(f) < 20 {
		return 0, 0, false, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, false, err
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return start, ppid, f[0] == "Z" || f[0] == "X", err
}

func taskKey(pid int, start uint64) string {
	return strconv.Itoa(pid) + ":" + strconv.FormatUint(start, 10)
}

func appendFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
