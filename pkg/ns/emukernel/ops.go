//go:build imaemu

package emukernel

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ima-hook/ima-hook/pkg/keys"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
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
	if n := s.ns(born); n != nil && parent != nil && parent.NS != parent.ForChildren {
		// imans_on_fork runs on every fork by a task whose active and
		// for_children namespaces differ (copy_namespaces takes its fast
		// path only when they are equal), not only on the first: the
		// child's user namespace becomes the owner whenever it differs
		// (ima_swap_user_ns, before imans_activate and whether or not the
		// namespace is frozen), then the namespace is activated if it was
		// pending. Source: openEuler ima_ns.c imans_on_fork (newest
		// version); RFC 18/30.
		first := chain[len(chain)-1]
		if c, err := s.cred(first.pid); err == nil && len(n.Owner) > 0 && c.chain[0].Ino != n.Owner[0].Ino {
			n.Owner = c.chain
		}
		if !n.Frozen {
			if err := s.activate(n, parent); err != nil {
				return nil, err
			}
		}
	} else if n != nil && !n.Frozen {
		// Born into a pending namespace through an unknown ancestor: the
		// fork that made the chain activated it.
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
func (k *Kernel) TaskNamespaces(pid int) (active, forChildren imansid.ID, err error) {
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
func (k *Kernel) Unshare(pid int) (imansid.ID, error) {
	var id imansid.ID
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
		last := lastPid()
		s.NS[nsKey(id)] = &namespace{ID: id, Owner: c.chain, Unsharer: taskKey(t.Pid, t.Start),
			LastPid: last, Scanned: last, ChildAcct: reapedChildren(pid)}
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
func (k *Kernel) Setns(pid int, target imansid.ID, singleThreaded bool) error {
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
	lastPid := n.LastPid
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
	// The unsharer stays recorded: its later forks still go through
	// imans_on_fork (settle).
	n.LastPid = 0
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
				n.LastPid = lastPid
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
	k := key{Serial: s.NextSerial, KeyID: c.KeyID, Desc: c.Subject + ": " + hex.EncodeToString(c.SKID), Source: source}
	// key_create_or_update -> __key_link: a key with the same type,
	// description and key domain is replaced in the keyring (the index
	// key of the assoc array), so adding a certificate twice to one
	// namespace leaves one key, the new one.
	for i, old := range n.Keys {
		if old.Desc != "" && old.Desc == k.Desc {
			n.Keys[i] = k
			return nil
		}
	}
	n.Keys = append(n.Keys, k)
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
// emulator cannot watch forks, so at the start of each transaction it looks
// at the children each unsharer forked since it last looked (pids the
// counter handed out since then whose parent is the unsharer), in the order
// they were forked: each one was born into the unsharer's for_children
// namespace, activating it if it was pending (from then on it is frozen:
// EACCES for *_for_children writes, whoever asks) and taking it over for
// its user namespace if that differs (lookup).
//
// A child that was forked and already reaped is no longer in /proc. The
// kernel activated the namespace in its fork all the same, so a pending
// namespace whose unsharer has reaped a child since the unshare
// (reapedChildren grew, and the pid counter moved) is activated too. That
// child may have been forked before the unshare: the emulator cannot tell,
// and treats the namespace as activated rather than be kinder than the
// kernel.
func (s *state) settle() {
	var watched []*namespace
	for _, n := range s.NS {
		if n.Unsharer != "" {
			watched = append(watched, n)
		}
	}
	if len(watched) == 0 {
		return
	}
	// Oldest first, so that a child seen by two scans goes to the
	// namespace its parent unshared last (it is the one in force).
	sort.Slice(watched, func(i, j int) bool {
		return watched[i].FirstEntry < watched[j].FirstEntry || watched[i].ID < watched[j].ID
	})
	cur := lastPid()
	for _, n := range watched {
		u, ok := s.Tasks[n.Unsharer]
		if ok {
			if st, _, err := s.procStat(u.Pid); err != nil || st != u.Start || s.stats[u.Pid].exited {
				ok = false
			}
		}
		if !ok || u.ForChildren != n.ID || u.NS == n.ID {
			// No more forks through imans_on_fork into n: its unsharer
			// is gone, unshared again, or joined it (setns).
			n.Unsharer, n.Scanned, n.ChildAcct = "", 0, 0
			continue
		}
		if cur < 0 {
			continue // no pid counter: births are found when someone asks
		}
		if cur != n.Scanned {
			for _, p := range s.pidsSince(n.Scanned, cur) {
				_, ppid, err := s.procStat(p)
				if err != nil || ppid != u.Pid || !isProcess(p) {
					continue
				}
				if _, err := s.lookup(p); err != nil {
					s.logf("emukernel: child %d of unsharer %d: %v", p, u.Pid, err)
				}
			}
			n.Scanned = cur
		}
		if !n.Frozen && n.LastPid >= 0 && cur != n.LastPid && reapedChildren(u.Pid) != n.ChildAcct {
			// Not a kernel message: the emulator's own trace for tests.
			s.logf("emukernel: namespace %d: unsharer %d reaped a child since the unshare; activated as by its fork", n.ID, u.Pid)
			if err := s.activate(n, u); err != nil {
				s.logf("emukernel: namespace %d: activation: %v", n.ID, err)
			}
		}
	}
}

// reapedChildren is pid's accounting of its reaped children (cminflt,
// cmajflt, cutime and cstime of /proc/<pid>/stat, summed; wait4 adds the
// child's counts): it grows when the process reaps a child that ran at
// all, and a forked child takes at least its first copy-on-write fault.
// 0 when it cannot be read.
func reapedChildren(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): cminflt is field 11, cmajflt 13, cutime
	// 16, cstime 17 (proc(5)).
	if len(f) < 15 {
		return 0
	}
	var sum uint64
	for _, k := range []int{11 - 3, 13 - 3, 16 - 3, 17 - 3} {
		v, _ := strconv.ParseUint(f[k], 10, 64)
		sum += v
	}
	return sum
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
	var after, wrapped []int // in fork order: past last first, then from the bottom
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		switch {
		case cur > last && p > last && p <= cur, cur < last && p > last:
			after = append(after, p)
		case cur < last && p <= cur:
			wrapped = append(wrapped, p)
		}
	}
	sort.Ints(after)
	sort.Ints(wrapped)
	return append(after, wrapped...)
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
// certificate must be signed by one of the trusted keys, which
// keys.CheckSignedBy decides as restrict_link_by_signature does (RSA, ECDSA
// and SM2 alike).
func (s *state) signedByTrustedKey(der []byte) error {
	ents, _ := os.ReadDir(filepath.Join(s.dir, BuiltinTrustedKeysDir))
	var why []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(s.dir, BuiltinTrustedKeysDir, e.Name()))
		if err != nil {
			continue
		}
		err = keys.CheckSignedBy(der, b)
		if err == nil {
			return nil
		}
		why = append(why, e.Name()+": "+err.Error())
	}
	if len(why) == 0 {
		return errNotSignedByTrustedKey
	}
	return fmt.Errorf("%w (%s)", errNotSignedByTrustedKey, strings.Join(why, "; "))
}
