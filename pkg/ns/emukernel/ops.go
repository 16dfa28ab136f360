//go:build imaemu

package emukernel

import (
	"fmt"
	"os"
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
		if s.Switches.MaxNamespaces > 0 && len(s.NS) >= s.Switches.MaxNamespaces {
			return opErr("unshare", unix.ENOSPC, "max_ima_namespaces reached (inc_ucount in clone_ima_ns)")
		}
		if old := s.ns(t.ForChildren); old != nil && !old.Frozen && t.ForChildren != t.NS {
			delete(s.NS, nsKey(old.ID)) // free_ima_ns: never frozen, freed at once
		}
		id = s.allocID()
		s.NS[nsKey(id)] = &namespace{ID: id}
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
		if t.NS == t.ForChildren {
			// ima_open_for_children: nothing unshared, or already inside.
			return opErr("open "+file, unix.EPERM, "the caller has no pending IMA namespace")
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
			kc, err := policy.ParseKcmd(string(data), policy.KcmdOptions{AllowTemplate: s.Switches.AllowTemplate})
			if err != nil {
				// The pending setup is discarded: defaults apply.
				n.Kcmd = nil
				return keep(opErr(op, unix.EINVAL, err.Error()))
			}
			// Every successful write starts from zeroed settings.
			n.Kcmd = &kcmdSetup{Policies: kc.Policies, Appraise: kc.Appraise}
			if kc.Template != "" && n.Template == "" {
				// RFC 30/30: applied at once, first successful setting wins.
				n.Template = kc.Template
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
		if n != nil && !n.Frozen {
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
	n.Appraise = "enforce"
	n.DefaultRules = true
	n.Rules = nil
	if n.Kcmd != nil {
		if n.Kcmd.Appraise != "" {
			n.Appraise = n.Kcmd.Appraise
		}
		// ima_init_ns_policy: the built-ins in the kernel's order.
		rules, err := policy.ExpandKcmd(policy.Kcmd{Policies: n.Kcmd.Policies}, policy.DefaultProfile())
		if err != nil {
			s.logf("ima: %v", err)
		}
		for _, r := range rules {
			n.Rules = append(n.Rules, r.Text)
		}
	}
	if n.Template == "" {
		n.Template = s.Switches.DefaultTemplate
	}
	n.Frozen = true
	n.FirstEntry = s.EntryCount
	aggTemplate := n.Template
	if s.Switches.AggregateTemplate != "" {
		aggTemplate = s.Switches.AggregateTemplate
	}
	s.appendEntry(Entry{PCR: 10, Template: aggTemplate, Algo: "sha1",
		Digest: strings.Repeat("0", 40), Name: fmt.Sprintf("ns_aggregate_%d", n.ID), NS: n.ID})
	if n.X509Path != "" {
		if err := s.loadX509(n, n.X509Path, "x509_for_children"); err != nil {
			s.logf("IMA ns x509 cert. loading failed, appraisal will fail: %v", err)
			if s.Switches.X509FailAborts {
				n.Frozen = false
				s.dropLastEntry()
				return opErr("activate", unix.EINVAL, "x509 load failed: "+err.Error())
			}
		}
	}
	n.Kcmd, n.X509Path = nil, ""
	_ = activator
	return nil
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
	return s.addKey(n, b, source)
}

func (s *state) addKey(n *namespace, der []byte, source string) error {
	c, err := keys.LoadCertificate(der)
	if err != nil {
		return err
	}
	s.NextSerial++
	n.Keys = append(n.Keys, key{Serial: s.NextSerial, KeyID: c.KeyID, Source: source})
	return nil
}
