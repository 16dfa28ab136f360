//go:build imaemu

package emukernel

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/keys"
	"github.com/ima-hook/ima-hook/pkg/policy"
)

// opErr is a failed syscall: the operation and the errno the kernel gives.
func opErr(op string, errno unix.Errno, why string) error {
	return fmt.Errorf("%s: %w (%s)", op, errno, why)
}

// lookup returns the task record of pid, creating it from the nearest
// known ancestor: a task the emulator has not seen was born by fork into its
// parent's ima_ns_for_children (imans_on_fork), and its first birth
// activates a pending namespace.
func (s *state) lookup(pid int) (*task, error) {
	start, ppid, err := s.procStat(pid)
	if err != nil {
		return nil, fmt.Errorf("no process %d: %w", pid, err)
	}
	if t, ok := s.Tasks[taskKey(pid, start)]; ok {
		return t, nil
	}
	// Walk up until a known task; everyone in between was born into the
	// ancestor's for_children namespace (and so were their children).
	chain := []struct {
		pid   int
		start uint64
	}{{pid, start}}
	born := InitialNS
	var parent *task
	for p := ppid; p > 0; {
		st, pp, err := s.procStat(p)
		if err != nil {
			break
		}
		if t, ok := s.Tasks[taskKey(p, st)]; ok {
			parent = t
			born = t.ForChildren
			break
		}
		chain = append(chain, struct {
			pid   int
			start uint64
		}{p, st})
		p = pp
	}
	if n := s.ns(born); n != nil && !n.Frozen {
		// ima_swap_user_ns in imans_on_fork: the first child's user
		// namespace becomes the owner when it differs.
		first := chain[len(chain)-1]
		if c, err := s.cred(first.pid); err == nil && len(n.Owner) > 0 && c.chain[0].Ino != n.Owner[0].Ino {
			n.Owner = c.chain
		}
		if err := s.activate(n, parent); err != nil {
			return nil, err
		}
	}
	var t *task
	for _, c := range chain {
		rec := &task{Pid: c.pid, Start: c.start, NS: born, ForChildren: born}
		s.Tasks[taskKey(c.pid, c.start)] = rec
		if c.pid == pid {
			t = rec
		}
	}
	return t, nil
}

// TaskNamespaces returns the active namespace and the for_children
// namespace of pid (/proc/<pid>/ns/ima and ima_for_children).
func (k *Kernel) TaskNamespaces(pid int) (active, forChildren NSID, err error) {
	err = k.tx(func(s *state) error {
		t, err := s.lookup(pid)
		if err != nil {
			return err
		}
		active, forChildren = t.NS, t.ForChildren
		return nil
	})
	return
}

// Unshare is unshare(CLONE_NEWIMA) by pid: a new pending namespace becomes
// its ima_ns_for_children; its own namespace does not change (copy_ima_ns).
// A previous pending namespace is freed with its configuration.
func (k *Kernel) Unshare(pid int) (NSID, error) {
	var id NSID
	err := k.tx(func(s *state) error {
		s.collect() // ids of freed namespaces are reused, and they no longer count
		t, err := s.lookup(pid)
		if err != nil {
			return err
		}
		// unshare_nsproxy_namespaces: CAP_SYS_ADMIN in the caller's own
		// user namespace, which then owns the new namespace.
		c, err := s.cred(pid)
		if err != nil {
			return err
		}
		if !c.sysAdmin {
			return opErr("unshare", unix.EPERM, "no CAP_SYS_ADMIN in the caller's user namespace (unshare_nsproxy_namespaces)")
		}
		if s.Switches.MaxNamespaces > 0 && len(s.NS) >= s.Switches.MaxNamespaces {
			return opErr("unshare", unix.ENOSPC, "max_ima_namespaces reached (inc_ucount in clone_ima_ns)")
		}
		if old := s.ns(t.ForChildren); old != nil && !old.Frozen && t.ForChildren != t.NS {
			delete(s.NS, nsKey(old.ID)) // free_ima_ns: never frozen, freed at once
		}
		// An active for_children namespace (the first child was born
		// into it) stays as it is: only its reference is dropped.
		id = s.allocID()
		s.NS[nsKey(id)] = &namespace{ID: id, Owner: c.chain, Unsharer: taskKey(t.Pid, t.Start), LastPid: lastPid()}
		t.ForChildren = id
		return nil
	})
	return id, err
}

// WriteForChildren is a write() of data to kcmd_for_children or
// x509_for_children by pid (ima_open_for_children + the writers).
func (k *Kernel) WriteForChildren(pid int, file string, data []byte) error {
	return k.tx(func(s *state) error {
		t, err := s.lookup(pid)
		if err != nil {
			return err
		}
		op := "write " + file
		if file != "x509_for_children" && file != "kcmd_for_children" {
			return opErr("open "+file, unix.ENOENT, "no such file")
		}
		if t.NS == t.ForChildren {
			// ima_open_for_children: nothing unshared, or already inside.
			return opErr("open "+file, unix.EPERM, "the caller has no pending IMA namespace")
		}
		if err := s.requireCap(pid, s.ownerOf(t.NS), "open "+file,
			"no CAP_SYS_ADMIN over the owner of the caller's active IMA namespace (ima_open_for_children)"); err != nil {
			return err
		}
		if len(data) >= pageSize {
			return opErr(op, unix.EINVAL, "count >= PAGE_SIZE")
		}
		n := s.ns(t.ForChildren)
		if n == nil {
			return opErr(op, unix.EINVAL, "no namespace")
		}
		if n.Frozen {
			return opErr(op, unix.EACCES, "namespace already active (frozen)")
		}
		switch file {
		case "x509_for_children":
			// Copied verbatim: a trailing newline becomes part of the path.
			n.X509Path = string(data)
			return nil
		case "kcmd_for_children":
			// The buffer is a C string: it ends at the first NUL.
			kc, err := parseKernelKcmd(cstr(data), s.Switches)
			if err != nil {
				// The pending setup is discarded: defaults apply.
				n.Kcmd = nil
				return keep(opErr(op, unix.EINVAL, err.Error()))
			}
			for _, msg := range kc.Ignored {
				s.logf("ima: %s", msg)
			}
			// Every successful write starts from zeroed settings.
			n.Kcmd = &kcmdSetup{Policies: kc.Policies, Appraise: kc.Appraise}
			if kc.Template != "" && n.Template == "" {
				// RFC 30/30: applied at once, first successful setting
				// wins; an unknown template is logged and ignored.
				if knownTemplate(kc.Template) {
					n.Template = kc.Template
				} else {
					s.logf("ima: template %s not found, using default", kc.Template)
				}
			}
			return nil
		}
		return opErr("open "+file, unix.ENOENT, "no such file")
	})
}

// Setns is setns(fd, 0) by pid into namespace target (imans_install).
// singleThreaded says whether the caller had one thread at the time.
func (k *Kernel) Setns(pid int, target NSID, singleThreaded bool) error {
	return k.tx(func(s *state) error {
		t, err := s.lookup(pid)
		if err != nil {
			return err
		}
		if !singleThreaded {
			return opErr("setns", unix.EUSERS, "caller is not single-threaded (imans_install)")
		}
		n := s.ns(target)
		if target != InitialNS && n == nil {
			return opErr("setns", unix.EINVAL, "no such namespace")
		}
		// imans_install: CAP_SYS_ADMIN over the target's owner and in the
		// caller's own user namespace (the nsset credentials).
		c, err := s.cred(pid)
		if err != nil {
			return err
		}
		if !c.capable(s.ownerOf(target)) || !c.sysAdmin {
			return opErr("setns", unix.EPERM, "no CAP_SYS_ADMIN over the namespace's owner or in the caller's user namespace (imans_install)")
		}
		if n != nil && !n.Frozen {
			// A pending target is taken over by the caller's user
			// namespace and activated with the caller as activator.
			n.Owner = c.chain
			if err := s.activate(n, t); err != nil {
				return err
			}
		}
		t.NS, t.ForChildren = target, target
		return nil
	})
}

// activate is imans_activate: build the policy from the kcmd setup, freeze,
// log ns_aggregate_<id>, then load the x509 certificate in the activator's
// context, and free the child configuration.
func (s *state) activate(n *namespace, activator *task) error {
	unsharer, lastPid := n.Unsharer, n.LastPid
	n.Appraise = "enforce"
	n.DefaultRules = true
	n.Rules = nil
	prof := s.policyProfile()
	// The architecture rules go on the default and on the custom list
	// (ima_init_policy adds them with IMA_DEFAULT_POLICY|IMA_CUSTOM_POLICY).
	n.ArchRules = nil
	for _, r := range policy.ArchRules(prof) {
		n.ArchRules = append(n.ArchRules, r.Text)
	}
	kcmd := policy.Kcmd{}
	if n.Kcmd != nil {
		if n.Kcmd.Appraise != "" {
			n.Appraise = n.Kcmd.Appraise
		}
		kcmd.Policies = n.Kcmd.Policies
	}
	// ima_init_ns_policy: the built-ins in the kernel's order, the
	// architecture rules among them even without a kcmd.
	rules, err := policy.ExpandKcmd(kcmd, prof)
	if err != nil {
		s.logf("ima: %v", err)
	}
	for _, r := range rules {
		n.Rules = append(n.Rules, r.Text)
	}
	if n.Template == "" {
		n.Template = s.Switches.DefaultTemplate
	}
	n.Frozen = true
	n.Unsharer, n.LastPid = "", 0
	n.FirstEntry = s.EntryCount
	aggTemplate := s.entryTemplate(n) // the host's under NSTemplateHost (pin.go)
	if s.Switches.AggregateTemplate != "" {
		aggTemplate = s.Switches.AggregateTemplate
	}
	s.appendEntry(Entry{PCR: 10, Template: aggTemplate, Algo: "sha1",
		Digest: strings.Repeat("0", 40), Name: fmt.Sprintf("ns_aggregate_%d", n.ID), NS: n.ID})
	// ima_ns_load_x509 exists only with CONFIG_IMA_LOAD_X509; without it
	// nothing is loaded and nothing is logged.
	if n.X509Path != "" && s.Switches.LoadX509 {
		if err := s.loadX509(n, n.X509Path, "x509_for_children"); err != nil {
			s.logf("IMA ns x509 cert. loading failed, appraisal will fail: %v", err)
			if s.Switches.X509FailAborts {
				n.Frozen = false
				n.Unsharer, n.LastPid = unsharer, lastPid
				s.dropLastEntry()
				return opErr("activate", unix.EINVAL, "x509 load failed: "+err.Error())
			}
		}
	}
	n.Kcmd, n.X509Path = nil, ""
	_ = activator
	return nil
}

// policyProfile is the kernel the built-in rules are expanded for: the
// openEuler profile, on a secure-boot platform when the switch says so.
func (s *state) policyProfile() policy.Profile {
	p := emuProfile()
	p.SecureBoot = s.Switches.SecureBoot
	return p
}

// loadX509 reads a certificate from a host path (the activating task's
// mount namespace) into the namespace's key domain.
func (s *state) loadX509(n *namespace, path, source string) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("path %q is not absolute", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return s.addKey(n, b, source+" "+path)
}

func (s *state) addKey(n *namespace, der []byte, source string) error {
	c, err := keys.LoadCertificate(der)
	if err != nil {
		return err
	}
	if s.Switches.TrustedKeyringRequiresCA {
		if err := s.signedByTrustedKey(der); err != nil {
			return err
		}
	}
	// Not a kernel message: the emulator's own trace for tests.
	s.logf("emukernel: namespace %d: key id %08x added (%s)", n.ID, c.KeyID, source)
	s.NextSerial++
	n.Keys = append(n.Keys, key{Serial: s.NextSerial, KeyID: c.KeyID, Source: source})
	return nil
}

// knownTemplate is lookup_template_desc over the built-in templates.
func knownTemplate(name string) bool {
	switch name {
	case "ima", "ima-ng", "ima-sig", "ima-buf", "ima-modsig", "evm-sig", "ima-ns":
		return true
	}
	return false
}

// settle applies what imans_on_fork did since the last transaction: the
// emulator cannot watch forks, so at the start of each transaction it
// looks for a child that a pending namespace's unsharer forked after the
// unshare (a pid the counter handed out since then, whose parent is the
// unsharer); the kernel activated the namespace in that fork, so from then
// on it is frozen (EACCES for *_for_children writes) whoever asks. A child
// that already exited is not seen (see docs/testing.md).
func (s *state) settle() {
	var pending []*namespace
	for _, n := range s.NS {
		if !n.Frozen && n.Unsharer != "" {
			pending = append(pending, n)
		}
	}
	if len(pending) == 0 {
		return
	}
	cur := lastPid()
	if cur < 0 {
		return // no pid counter: births are found when someone asks
	}
	for _, n := range pending {
		if n.Frozen || n.LastPid < 0 || cur == n.LastPid {
			continue
		}
		u, ok := s.Tasks[n.Unsharer]
		if !ok {
			continue
		}
		for _, p := range s.pidsSince(n.LastPid, cur) {
			_, ppid, err := s.procStat(p)
			if err != nil || ppid != u.Pid || !isProcess(p) {
				continue
			}
			if _, err := s.lookup(p); err == nil || n.Frozen {
				break
			}
		}
	}
}

// pidsSince lists the pids handed out after last up to cur (the counter
// wraps at pid_max).
func (s *state) pidsSince(last, cur int) []int {
	if cur > last && cur-last <= 4096 {
		out := make([]int, 0, cur-last)
		for p := last + 1; p <= cur; p++ {
			out = append(out, p)
		}
		return out
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if (cur > last && p > last && p <= cur) || (cur < last && (p > last || p <= cur)) {
			out = append(out, p)
		}
	}
	return out
}

// isProcess says whether pid is a thread group leader (a thread id can be
// looked up under /proc too, with its process's parent as ppid).
func isProcess(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			return strings.TrimSpace(v) == strconv.Itoa(pid)
		}
	}
	return false
}

var errNotSignedByTrustedKey = errors.New("certificate not signed by a key in the built-in or secondary trusted keyring")

// BuiltinTrustedKeysDir holds the emulated .builtin_trusted_keys: DER
// certificates a test puts there before creating namespaces.
const BuiltinTrustedKeysDir = "builtin-trusted-keys"

// signedByTrustedKey is restrict_link_by_builtin_and_secondary_trusted: the
// certificate must be signed by one of the trusted keys.
func (s *state) signedByTrustedKey(der []byte) error {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	ents, _ := os.ReadDir(filepath.Join(s.dir, BuiltinTrustedKeysDir))
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(s.dir, BuiltinTrustedKeysDir, e.Name()))
		if err != nil {
			continue
		}
		ca, err := x509.ParseCertificate(b)
		if err != nil {
			continue
		}
		// The kernel checks only the signature by the trusted key (no
		// basic constraints, no validity period).
		if ca.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
			return nil
		}
	}
	return errNotSignedByTrustedKey
}
