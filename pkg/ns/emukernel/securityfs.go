//go:build imaemu

package emukernel

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/policy"
)

// The securityfs files act on the caller's active namespace
// (get_current_ns()), found through the calling task.

func (s *state) activeNS(pid int) (*task, *namespace, error) {
	t, err := s.lookup(pid)
	if err != nil {
		return nil, nil, err
	}
	if t.NS == InitialNS {
		return t, nil, nil
	}
	n := s.ns(t.NS)
	if n == nil {
		return nil, nil, fmt.Errorf("task %d is in unknown namespace %d", pid, t.NS)
	}
	return t, n, nil
}

// OpenPolicy is open(policy, O_WRONLY) by pid: one global busy bit for all
// namespaces (ima_open_policy), and no file at all once a kernel without
// CONFIG_IMA_WRITE_POLICY has loaded a policy.
func (k *Kernel) OpenPolicy(pid int) error {
	return k.tx(func(s *state) error {
		s.collect() // a writer that died closed the file
		t, n, err := s.activeNS(pid)
		if err != nil {
			return err
		}
		if s.PolicyGone {
			return opErr("open policy", unix.ENOENT, "policy file removed after the first load (no CONFIG_IMA_WRITE_POLICY)")
		}
		if s.PolicyBusy == policyBusyForever {
			return opErr("open policy", unix.EBUSY, "the busy bit stayed set after the first load (CONFIG_IMA_READ_POLICY without CONFIG_IMA_WRITE_POLICY)")
		}
		if s.PolicyBusy != "" {
			return opErr("open policy", unix.EBUSY, "another writer holds the policy file")
		}
		if n == nil {
			return opErr("open policy", unix.EPERM, "the emulator does not manage the host's own policy")
		}
		// The RFC checks only DAC on the write path; like the read path,
		// the emulator requires CAP_SYS_ADMIN over the namespace's owner.
		if err := s.requireCap(pid, n.Owner, "open policy",
			"no CAP_SYS_ADMIN over the owner of the caller's IMA namespace (ima_open_policy)"); err != nil {
			return err
		}
		s.PolicyBusy = taskKey(t.Pid, t.Start)
		n.Staged, n.StageFailed = nil, false
		return nil
	})
}

// WritePolicy is one write() to the open policy file (ima_write_policy):
// at most PAGE_SIZE-1 bytes are taken, a leading '/' names a policy file to
// read, unsigned text is refused when the namespace appraises POLICY_CHECK,
// and a rule that does not parse fails with EINVAL and spoils the session.
func (k *Kernel) WritePolicy(pid int, data string) error {
	return k.tx(func(s *state) error { return s.writePolicy(pid, data) })
}

// WritePolicies is a sequence of write() calls, one per element, stopping
// at the first that fails; it returns how many succeeded. Each is judged
// exactly as WritePolicy judges it; they only share one locked transaction
// of the emulator's state, which keeps a 50-rule load from costing 50
// state-file round trips.
func (k *Kernel) WritePolicies(pid int, writes []string) (int, error) {
	done := 0
	err := k.tx(func(s *state) error {
		for _, w := range writes {
			if err := s.writePolicy(pid, w); err != nil {
				return err
			}
			done++
		}
		return nil
	})
	return done, err
}

func (s *state) writePolicy(pid int, data string) error {
	t, n, err := s.activeNS(pid)
	if err != nil {
		return err
	}
	if n == nil || s.PolicyBusy != taskKey(t.Pid, t.Start) {
		return opErr("write policy", unix.EBADF, "policy file not open by this task")
	}
	if len(data) > pageSize-1 {
		data = data[:pageSize-1]
	}
	var lines []string
	if strings.HasPrefix(data, "/") {
		path := strings.TrimRight(data, "\n")
		f, err := os.Open(path)
		if err != nil {
			n.StageFailed = true
			return keep(opErr("write policy", unix.ENOENT, err.Error()))
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
	} else {
		if appraisesPolicy(n.Rules) {
			n.StageFailed = true
			return keep(opErr("write policy", unix.EACCES, "namespace appraises POLICY_CHECK: only signed policy files"))
		}
		lines = strings.Split(data, "\n")
	}
	for _, line := range lines {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		p, errs := policy.Parse(line, emuProfile())
		if len(errs) > 0 {
			n.StageFailed = true
			s.logf("ima: invalid-policy: %v", errs[0])
			return keep(opErr("write policy", unix.EINVAL, errs[0].Error()))
		}
		for _, r := range p.Rules {
			n.Staged = append(n.Staged, r.Text)
		}
	}
	return nil
}

// ClosePolicy is close() of the policy file (ima_release_policy): the staged
// rules replace the kcmd defaults the first time (the architecture rules
// stay in front of them) and are appended later; a
// spoiled or empty session changes nothing ("policy update failed").
func (k *Kernel) ClosePolicy(pid int) error {
	return k.tx(func(s *state) error {
		t, n, err := s.activeNS(pid)
		if err != nil {
			return err
		}
		if n == nil || s.PolicyBusy != taskKey(t.Pid, t.Start) {
			return opErr("close policy", unix.EBADF, "policy file not open by this task")
		}
		s.PolicyBusy = ""
		staged, failed := n.Staged, n.StageFailed
		n.Staged, n.StageFailed = nil, false
		if failed || len(staged) == 0 {
			// The invalid-policy path clears the busy bit on every kernel.
			s.logf("ima: policy update failed (namespace %d)", n.ID)
			return nil
		}
		if n.DefaultRules {
			// ima_update_policy: the namespace moves from its default
			// list (the kcmd built-ins) to its custom list, which holds
			// the architecture rules; the loaded rules follow them.
			n.Rules = append([]string(nil), n.ArchRules...)
			n.DefaultRules = false
		}
		n.Rules = append(n.Rules, staged...)
		// ima_release_policy after a valid load (digest-list ima_fs.c):
		// only CONFIG_IMA_WRITE_POLICY clears the busy bit; with just
		// CONFIG_IMA_READ_POLICY the inode loses its owner-write bit and
		// IMA_FS_BUSY stays set for every namespace; with neither the file
		// is removed.
		switch {
		case s.Switches.WritePolicy:
		case s.Switches.ReadPolicy:
			s.PolicyBusy = policyBusyForever
			s.PolicyReadOnly = true
		default:
			s.PolicyGone = true
		}
		s.logf("ima: policy update completed (namespace %d)", n.ID)
		return nil
	})
}

// policyBusyForever marks the global busy bit as set with no writer.
const policyBusyForever = "forever"

// PolicyFileState is what stat(2) shows of the policy file: whether it
// exists and whether its owner-write bit is set.
func (k *Kernel) PolicyFileState() (present, writable bool, err error) {
	err = k.tx(func(s *state) error {
		present, writable = !s.PolicyGone, !s.PolicyGone && !s.PolicyReadOnly
		return nil
	})
	return
}

// KeyIDs returns the IMA key ids of the keys pid sees when it lists the
// .ima keyring: those tagged with its active namespace's key domain (the
// ones its appraisal uses), or, with KeyringShared, every namespace's (in
// the order they were added).
func (k *Kernel) KeyIDs(pid int) ([]uint32, error) {
	var out []uint32
	err := k.tx(func(s *state) error {
		_, n, err := s.activeNS(pid)
		if err != nil {
			return err
		}
		var listed []key
		switch {
		case s.Switches.KeyringShared:
			for _, other := range s.NS {
				listed = append(listed, other.Keys...)
			}
			sort.Slice(listed, func(i, j int) bool { return listed[i].Serial < listed[j].Serial })
		case n != nil:
			listed = n.Keys
		}
		for _, key := range listed {
			out = append(out, key.KeyID)
		}
		return nil
	})
	return out, err
}

func appraisesPolicy(rules []string) bool {
	for _, r := range rules {
		f := strings.Fields(r)
		if len(f) > 0 && f[0] == "appraise" {
			for _, c := range f[1:] {
				if c == "func=POLICY_CHECK" {
					return true
				}
			}
		}
	}
	return false
}

// AddKey adds a certificate to the .ima keyring from pid: it is tagged with
// the key domain of the caller's ima_ns_for_children (KEY_ALLOC_DOMAIN_IMA).
func (k *Kernel) AddKey(pid int, der []byte) (int32, error) {
	var serial int32
	err := k.tx(func(s *state) error {
		t, err := s.lookup(pid)
		if err != nil {
			return err
		}
		n := s.ns(t.ForChildren)
		if n == nil {
			return opErr("add_key", unix.EPERM, "the emulator does not manage the host's keyring")
		}
		if err := s.addKey(n, der, "add_key"); err != nil {
			if errors.Is(err, errNotSignedByTrustedKey) {
				// restrict_link_by_builtin_and_secondary_trusted
				return opErr("add_key", unix.ENOKEY, err.Error())
			}
			return opErr("add_key", unix.EBADMSG, err.Error())
		}
		serial = s.NextSerial // the key just added (it may have replaced one)
		return nil
	})
	return serial, err
}

// measurementsOpen is the open check of the measurement files
// (ima_measurements_open and the counters): CAP_SYS_ADMIN over the owner
// of the reader's active namespace, else EPERM.
func (s *state) measurementsOpen(pid int, n *namespace, file string) error {
	var owner []userNS
	if n != nil {
		owner = n.Owner
	}
	return s.requireCap(pid, owner, "open "+file,
		"no CAP_SYS_ADMIN over the owner of the reader's IMA namespace")
}

// view returns the entries pid may read: all of them from the initial
// namespace, else only its namespace's own since its activation. check
// applies the open's capability check (off for Inspect*).
func (s *state) view(pid int, check bool) ([]Entry, error) {
	_, n, err := s.activeNS(pid)
	if err != nil {
		return nil, err
	}
	if check {
		if err := s.measurementsOpen(pid, n, "ascii_runtime_measurements"); err != nil {
			return nil, err
		}
	}
	all, err := s.allEntries()
	if err != nil {
		return nil, err
	}
	if n == nil {
		return all, nil
	}
	var out []Entry
	for _, e := range all[n.FirstEntry:] {
		if e.NS == n.ID {
			out = append(out, e)
		}
	}
	return out, nil
}

// Counter reads runtime_measurements_count or violations as pid would.
func (k *Kernel) Counter(pid int, name string) (uint64, error) { return k.counter(pid, name, true) }

// InspectCounter is Counter as a task with CAP_SYS_ADMIN in pid's
// namespace reads it (tests and `ima-hook emu`: root entering it).
func (k *Kernel) InspectCounter(pid int, name string) (uint64, error) {
	return k.counter(pid, name, false)
}

func (k *Kernel) counter(pid int, name string, check bool) (uint64, error) {
	var v uint64
	err := k.tx(func(s *state) error {
		_, n, err := s.activeNS(pid)
		if err != nil {
			return err
		}
		if name != "runtime_measurements_count" && name != "violations" {
			return opErr("open "+name, unix.ENOENT, "no such file")
		}
		if check {
			if err := s.measurementsOpen(pid, n, name); err != nil {
				return err
			}
		}
		switch name {
		case "runtime_measurements_count":
			if n != nil {
				v = uint64(n.Count)
			} else {
				v = uint64(s.EntryCount)
			}
			return nil
		case "violations":
			if n != nil {
				v = n.Violations
				return nil
			}
			all, err := s.allEntries()
			if err != nil {
				return err
			}
			for _, e := range all {
				if e.Violation && e.NS == InitialNS {
					v++
				}
			}
			return nil
		}
		return opErr("open "+name, unix.ENOENT, "no such file")
	})
	return v, err
}

// Entries returns the measurement view of pid.
func (k *Kernel) Entries(pid int) ([]Entry, error) { return k.entries(pid, true) }

// InspectEntries is Entries as a task with CAP_SYS_ADMIN in pid's
// namespace reads them.
func (k *Kernel) InspectEntries(pid int) ([]Entry, error) { return k.entries(pid, false) }

func (k *Kernel) entries(pid int, check bool) ([]Entry, error) {
	var out []Entry
	err := k.tx(func(s *state) error {
		v, err := s.view(pid, check)
		out = append(out, v...)
		return err
	})
	return out, err
}

// Rules returns the policy in force in pid's active namespace.
func (k *Kernel) Rules(pid int) ([]string, error) {
	var out []string
	err := k.tx(func(s *state) error {
		_, n, err := s.activeNS(pid)
		if n != nil {
			out = append(out, n.Rules...)
		}
		return err
	})
	return out, err
}

// Measure records a measurement of name in pid's namespace, as
// process_measurement does when a measure rule of that namespace matched;
// the emulator does not evaluate rule conditions: it measures when the
// namespace has any measure rule. Duplicates (same digest, name, ns) are
// skipped as ima_lookup_digest_entry does. violation logs a ToMToU entry.
func (k *Kernel) Measure(pid int, name, algo, digestHex string, violation bool) (bool, error) {
	added := false
	err := k.tx(func(s *state) error {
		t, n, err := s.activeNS(pid)
		if err != nil {
			return err
		}
		id := t.NS
		template := s.entryTemplate(n) // the host's under NSTemplateHost (pin.go)
		if n != nil {
			if !hasMeasureRule(n.Rules) {
				return nil
			}
		}
		if violation {
			s.appendEntry(Entry{PCR: 10, Template: template, Algo: algo,
				Digest: strings.Repeat("0", len(digestHex)), Name: name, NS: id, Violation: true})
			if n != nil {
				n.Violations++
			}
			added = true
			return nil
		}
		all, err := s.allEntries()
		if err != nil {
			return err
		}
		// imans_remove_hash_entries: a dead namespace's entries left the
		// hash table, so a namespace that reuses its id measures again.
		from := 0
		if n != nil {
			from = n.FirstEntry
		}
		for _, e := range all[from:] {
			if e.NS == id && e.Name == name && e.Digest == digestHex && !e.Violation {
				return nil
			}
		}
		s.appendEntry(Entry{PCR: 10, Template: template, Algo: algo, Digest: digestHex, Name: name, NS: id})
		added = true
		return nil
	})
	return added, err
}

func hasMeasureRule(rules []string) bool {
	for _, r := range rules {
		if f := strings.Fields(r); len(f) > 0 && f[0] == "measure" {
			return true
		}
	}
	return false
}

// NamespaceInfo describes one namespace for tests and the emu tool.
type NamespaceInfo struct {
	ID       imansid.ID `json:"id"`
	Active   bool       `json:"active"`
	Template string     `json:"template"`
	Appraise string     `json:"appraise"`
	Rules    []string   `json:"rules"`
	KeyIDs   []uint32   `json:"key_ids"`
	X509Path string     `json:"x509_path,omitempty"`
}

// Namespaces lists the live namespaces.
func (k *Kernel) Namespaces() ([]NamespaceInfo, error) {
	var out []NamespaceInfo
	err := k.tx(func(s *state) error {
		s.collect()
		for _, n := range s.NS {
			info := NamespaceInfo{ID: n.ID, Active: n.Frozen, Template: n.Template, Appraise: n.Appraise,
				Rules: append([]string(nil), n.Rules...), X509Path: n.X509Path}
			for _, key := range n.Keys {
				info.KeyIDs = append(info.KeyIDs, key.KeyID)
			}
			out = append(out, info)
		}
		return nil
	})
	return out, err
}

// Log returns the emulated kernel log.
func (k *Kernel) Log() ([]string, error) {
	var out []string
	err := k.tx(func(s *state) error {
		s.collect()
		b, err := os.ReadFile(filepath.Join(k.dir, logFile))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		var lines []string
		if len(b) > 0 {
			lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		}
		// The collection above may have logged too; save appends that
		// after this function, so it is added here.
		lines = append(lines, s.logged...)
		if len(lines) > 200 {
			lines = lines[len(lines)-200:]
		}
		out = append(out, lines...)
		return nil
	})
	return out, err
}

// emuProfile is the kernel profile rules are judged by, built once per
// process: a policy load calls the parser once per write.
var emuProfile = sync.OnceValue(policy.DefaultProfile)
