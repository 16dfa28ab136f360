package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ima-hook/ima-hook/internal/userror"
	"github.com/ima-hook/ima-hook/pkg/ns"
	"github.com/ima-hook/ima-hook/pkg/ns/imansid"
	"github.com/ima-hook/ima-hook/pkg/oci"
	"github.com/ima-hook/ima-hook/pkg/record"
)

// Settings is what the wrapper needs of a container's validated IMA
// configuration (pkg/config.Config carries more; the wrapper only creates).
type Settings struct {
	Required bool
	Kcmd     string // written to kcmd_for_children ("" = kernel defaults)
	X509Path string // the validated certificate's path ("" = none), for messages
	// X509DER are the validated certificate's bytes: the kernel gets a
	// private copy of them (record.Store.X509CopyPath), not X509Path.
	X509DER []byte
	// Pod is the sandbox id of the container's pod when its app containers
	// share one IMA namespace (io.imans.scope=pod): the container joins
	// the namespace of the first of the pod's containers with an applied
	// record (record.Store.PodNamespaceOwners) that runs, and creates it
	// when none runs; the decision is taken under the pod's lock.
	Pod string
}

// DefaultPodWait bounds how long a container of a pod with
// io.imans.scope=pod waits for the pod's lock, and for another container
// of the pod that is creating the pod's namespace.
const DefaultPodWait = 30 * time.Second

// Wrapper is one run of ima-runtime. The fields are its inputs; tests
// replace Exec and State.
type Wrapper struct {
	// Runtime is the absolute path of the real runtime.
	Runtime string
	// Resolve validates the container's configuration from its annotations
	// (pkg/config.Resolve: the hook's own code). nil settings = IMA is not
	// enabled for the container.
	Resolve func(annotations map[string]string) (*Settings, error)
	// Enabled reports, for exec, whether the container asked for IMA
	// (pkg/config.Enabled); it does not re-validate files that may have
	// changed since the container was created.
	Enabled func(annotations map[string]string) (bool, error)
	// Mandatory is the admin's mandatory = true: every container has IMA,
	// whatever its annotations (and whether or not its state can be read).
	Mandatory bool
	Kernel    ns.Kernel
	Store     record.Store
	Env       []string
	// ForceUnshare attempts the namespace even when the kernel probe says it
	// lacks the support, so the kernel's own answer is seen (diagnostics and
	// the traced test).
	ForceUnshare bool
	// Inject, when set, adds the ima-hook hooks to the bundle config of a
	// container that wants IMA unless they are there (engines without
	// hooks.d support: containerd, Docker).
	Inject *HookSpec
	Log    func(id, format string, args ...any)
	Stderr io.Writer

	// Exec replaces the process (syscall.Exec).
	Exec func(path string, argv, env []string) error
	// RunChild runs the runtime as a child and returns its exit status
	// (RunRuntime), for the one command after which the wrapper has work
	// left: delete, whose notes it removes once the container is gone.
	RunChild func(path string, argv, env []string) (int, error)
	// State runs `<runtime> <global flags> state <id>` (runtimeState).
	State func(runtime string, global []string, id string, env []string) (*specs.State, error)

	// PodWait overrides DefaultPodWait (tests).
	PodWait time.Duration

	// PID is the process the engine waits on for this call, which the
	// owner note names (it lives as long as the runtime): this one, or the
	// C constructor's waiting parent (nsenter.WaiterPID). 0: this one.
	PID int

	// log is the runtime's --log of the command being handled: refusals go
	// there too (runtimelog.go).
	log ns.RuntimeLog
}

func (w *Wrapper) missing() string { return w.Kernel.SpawnMissing() }

func (w *Wrapper) pid() int {
	if w.PID > 0 {
		return w.PID
	}
	return os.Getpid()
}

func (w *Wrapper) logf(id, format string, args ...any) {
	if w.Log != nil {
		w.Log(id, format, args...)
	}
}

// fail prints the one stderr line, puts it into the runtime's log file
// (where containerd and Docker look for the reason) and returns the exit
// status.
func (w *Wrapper) fail(id string, err error) int {
	line := userror.Line(err)
	fmt.Fprintln(w.Stderr, line)
	if lerr := appendRuntimeLog(w.log, line, time.Now()); lerr != nil {
		w.logf(id, "cannot add the refusal to the runtime log %s: %v", w.log.Path, lerr)
	}
	w.logf(id, "refused: %s", line)
	return 1
}

// Run handles one runtime command line. It returns only when it does not
// exec (a refusal, or a failed exec); the status is the process's.
func (w *Wrapper) Run(args []string) int {
	inv, perr := Parse(args)
	w.log = runtimeLog(inv)
	switch inv.Command {
	case "create", "run":
		return w.create(inv, perr)
	case "exec":
		return w.exec(inv, perr)
	case "delete":
		return w.delete(inv, perr)
	}
	return w.passThrough(inv)
}

// argv is the real runtime's argv: its path, then the arguments untouched.
func (w *Wrapper) argv(inv *Invocation) []string {
	return append([]string{w.Runtime}, inv.Args...)
}

// passThrough execs the real runtime with our argv and environment; fds and
// signal dispositions are inherited by the exec as they are.
func (w *Wrapper) passThrough(inv *Invocation) int {
	err := w.Exec(w.Runtime, w.argv(inv), w.Env)
	return w.fail(inv.ID, userror.Wrap(err, w.Runtime, "cannot run the runtime: "+errText(err), "check the runtime path (--runtime, or runtime in the admin config)"))
}

func errText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

func (w *Wrapper) create(inv *Invocation, perr error) int {
	// Notes left by containers that are gone (a killed wrapper, a delete
	// that bypassed the wrapper) go at the next start.
	if removed, err := w.Store.RemoveStaleNotes(w.askRuntime); err != nil {
		w.logf(inv.ID, "cannot remove stale notes in %s: %v", w.Store.CreatedDir(), err)
	} else if len(removed) > 0 {
		w.logf(inv.ID, "removed the notes of containers that no longer exist: %s", strings.Join(removed, " "))
	}
	if perr != nil {
		return w.fail(inv.ID, userror.Wrapf(perr, "ima-runtime "+inv.Command, "the wrapper must read the command line to find the bundle; fix the runtime arguments", ""))
	}
	bundle := inv.Bundle
	if bundle == "" {
		wd, err := os.Getwd()
		if err != nil {
			return w.fail(inv.ID, userror.Wrapf(err, "ima-runtime "+inv.Command, "pass --bundle", "cannot find the working directory (the default bundle)"))
		}
		bundle = wd
	}
	ann, size, cfgPath, err := readBundleAnnotations(bundle, inv.Config)
	if err != nil {
		return w.fail(inv.ID, userror.Wrapf(err, cfgPath, "check --bundle and the bundle's config file", ""))
	}
	settings, err := w.Resolve(ann)
	if err != nil {
		return w.fail(inv.ID, err)
	}
	if settings == nil {
		return w.passThrough(inv)
	}
	if size > oci.MaxConfigSize {
		// Only the IMA path reads the config whole (--inject-hooks, the
		// preflight); a container without IMA was passed through above.
		return w.fail(inv.ID, userror.New(cfgPath, fmt.Sprintf("is %d bytes; a container that asks for IMA may have a config of at most %d", size, oci.MaxConfigSize),
			"shorten the config (large annotations or environment)"))
	}
	if len(inv.Unknown) > 0 {
		return w.fail(inv.ID, userror.New("ima-runtime "+inv.Command,
			fmt.Sprintf("unknown runtime flag %s: cannot tell whether it takes a value, so the container id is uncertain", quoteArg(inv.Unknown[0])),
			"give it as --flag=value, or report the flag so the wrapper learns it"))
	}
	if err := record.ValidID(inv.ID); err != nil {
		return w.fail(inv.ID, userror.Wrapf(err, "ima-runtime "+inv.Command, "give the container id as the last argument", ""))
	}
	m := w.missing()
	if m != "" && !w.ForceUnshare && settings.Required {
		return w.fail(inv.ID, userror.New("kernel", m+": cannot give container "+inv.ID+" its own IMA namespace",
			"run it on a kernel with IMA namespaces (openEuler, CONFIG_IMA_NS), or set io.imans.required=false to start it without"))
	}
	if w.Inject != nil {
		changed, err := InjectHooks(cfgPath, *w.Inject)
		if err != nil {
			return w.fail(inv.ID, userror.Wrapf(err, cfgPath, "check the bundle, or install the hooks.d files instead of --inject-hooks", "cannot add the ima-hook hooks"))
		}
		if changed {
			w.logf(inv.ID, "added the ima-hook createRuntime and poststop hooks to %s", cfgPath)
		}
	}
	if m != "" {
		if !w.ForceUnshare {
			w.logf(inv.ID, "IMA namespace skipped (io.imans.required=false): %s", m)
			return w.passThrough(inv)
		}
		w.logf(inv.ID, "kernel probe says %q; attempting the namespace anyway (--force-unshare)", m)
	}
	if settings.Pod != "" {
		pid, owner, err := w.podDecision(inv, settings.Pod)
		if err != nil {
			return w.fail(inv.ID, err)
		}
		if pid > 0 {
			// The pod's namespace exists: the runtime and so the
			// container are born in it, as exec joins it (the hook checks
			// the config).
			w.logf(inv.ID, "joining the pod's IMA namespace: that of container %s (pid %d), and running %s %s", owner, pid, w.Runtime, inv.Command)
			err := w.Kernel.JoinAndExec(pid, ns.ExecRequest{Argv: w.argv(inv), Env: w.Env, ErrorLog: w.log, RefuseOwn: true})
			return w.fail(inv.ID, userror.Wrapf(err, "ima-runtime "+inv.Command, "check that container "+owner+" still runs; nothing was created", "cannot join the pod's IMA namespace"))
		}
		// This container creates the pod's namespace (noted under the
		// pod's lock).
	} else if err := w.noteOwner(inv); err != nil {
		return w.fail(inv.ID, err)
	}
	// The kernel reads the certificate at activation, after this check:
	// hand it a private copy of exactly the validated bytes.
	x509Path := ""
	if settings.X509Path != "" {
		if len(settings.X509DER) == 0 {
			return w.fail(inv.ID, userror.New(settings.X509Path, "the certificate's validated bytes are missing", "report a bug; nothing was created"))
		}
		x509Path = w.Store.X509CopyPath(inv.ID)
		if err := w.Store.WritePrivateCopy(x509Path, settings.X509DER); err != nil {
			return w.fail(inv.ID, userror.Wrapf(err, x509Path, "check that the run directory is writable; nothing was created", "cannot write the private copy of the certificate"))
		}
	}
	w.logf(inv.ID, "creating the IMA namespace (kcmd %q, x509 %q) and running %s %s", settings.Kcmd, settings.X509Path, w.Runtime, inv.Command)
	err = w.Kernel.Spawn(ns.SpawnRequest{
		Kcmd:          settings.Kcmd,
		X509Path:      x509Path,
		NSIDFile:      w.Store.PendingNSPath(inv.ID),
		NoteNSID:      func(id imansid.ID) error { return w.Store.WriteNSIDNote(inv.ID, id) },
		NoteListStart: func(n uint64) error { return w.Store.WriteListStart(inv.ID, n) },
		Argv:          w.argv(inv),
		Env:           w.Env,
		ErrorLog:      w.log,
	})
	return w.fail(inv.ID, userror.Wrapf(err, "ima-runtime "+inv.Command, "see the message above; nothing was created", "cannot create the IMA namespace"))
}

// noteOwner notes this wrapper as the owner of the IMA namespace about to
// be created or joined for inv's container. NoteOwner also drops the notes
// of an earlier container with this id: they would describe another
// namespace.
func (w *Wrapper) noteOwner(inv *Invocation) error {
	err := w.Store.NoteOwner(inv.ID, w.pid(), w.Runtime, inv.Global)
	if errors.Is(err, record.ErrLiveNotes) {
		return userror.New("ima-runtime "+inv.Command, "container "+inv.ID+" already exists (the wrapper created or joined its IMA namespace and its init still runs)",
			"delete it first or choose another id")
	}
	if err != nil {
		return userror.Wrapf(err, w.Store.CreatedDir(), "check that "+w.Store.RunDir+" is writable; nothing was created", "cannot note the IMA namespace about to be created or joined")
	}
	return nil
}

func (w *Wrapper) exec(inv *Invocation, perr error) int {
	if perr != nil || inv.ID == "" || record.ValidID(inv.ID) != nil {
		// The runtime will say what is wrong with its own command line;
		// nothing of ours is at stake without a container to look up (the
		// wrapper never creates a namespace under an id that is no file
		// name).
		return w.passThrough(inv)
	}
	// The wrapper's own records decide first: what the runtime prints may
	// fail, or leave out what matters, and an exec that should join a
	// namespace must never land in the host's.
	noted := w.imaNoted(inv.ID)
	st, err := w.State(w.Runtime, inv.Global, inv.ID, w.Env)
	if err != nil {
		if noted == "" && !w.Mandatory {
			// No such container (or the runtime cannot tell), and nothing
			// says it has IMA: let the runtime report it in its own words.
			w.logf(inv.ID, "exec: no state (%v); no IMA namespace noted, passing through", err)
			return w.passThrough(inv)
		}
		why := noted
		if why == "" {
			why = "mandatory = true in the admin config"
		}
		return w.fail(inv.ID, userror.Wrap(err, "ima-runtime exec", "container "+inv.ID+" has an IMA namespace ("+why+") but its state cannot be read, so it cannot be joined: "+errText(err),
			"check the container with `"+filepath.Base(w.Runtime)+" state "+inv.ID+"`; nothing was executed"))
	}
	if noted != "" {
		// Decided already; the annotations only name the container in
		// the log.
		_, _ = w.Enabled(st.Annotations)
	} else {
		ann := st.Annotations
		if len(ann) == 0 && st.Bundle != "" {
			a, _, _, err := readBundleAnnotations(st.Bundle, "")
			if err != nil {
				return w.fail(inv.ID, userror.Wrapf(err, st.Bundle, "check the bundle", "cannot read the container's config to decide on its IMA namespace"))
			}
			ann = a
		}
		on, err := w.Enabled(ann)
		if err != nil {
			return w.fail(inv.ID, err)
		}
		if !on {
			return w.passThrough(inv)
		}
		if m := w.missing(); m != "" {
			// Only an optional container can exist on such a kernel: it
			// lives in the host namespace, where exec lands anyway.
			return w.passThrough(inv)
		}
	}
	if st.Pid <= 0 {
		return w.fail(inv.ID, userror.New("ima-runtime exec", "container "+inv.ID+" has no running init process (status "+string(st.Status)+")",
			"start the container first"))
	}
	w.logf(inv.ID, "exec: joining the namespace of pid %d", st.Pid)
	// A container the wrapper's notes or the hook's record give a
	// namespace is never joined in the host's (a reused pid): only one
	// that merely asks for optional IMA may be there.
	err = w.Kernel.JoinAndExec(st.Pid, ns.ExecRequest{Argv: w.argv(inv), Env: w.Env, ErrorLog: w.log, RefuseOwn: noted != "" || w.Mandatory})
	return w.fail(inv.ID, userror.Wrapf(err, "ima-runtime exec", "check that the container is running; nothing was executed", "cannot join the container's IMA namespace"))
}

// imaNoted says why the wrapper's own records show that container id has
// an IMA namespace, "" when they do not: the note of the namespace the
// wrapper created for it, or the hook's live record of a namespace it
// populated. Neither depends on the runtime's state output.
func (w *Wrapper) imaNoted(id string) string {
	if w.Store.HasNSNote(id) {
		return "the wrapper created it, " + w.Store.PendingNSPath(id)
	}
	if owner, ok := w.Store.ReadJoinedNote(id); ok {
		// io.imans.scope=pod: started in the namespace of an earlier
		// container of its pod; the hook records it as joined, but only the
		// wrapper's note is independent of the hook.
		if owner == "" {
			owner = "another container"
		}
		return "the wrapper started it in the pod's namespace of " + owner + ", " + w.Store.JoinedPath(id)
	}
	if r, err := w.Store.ReadLive(id); err == nil && r.NS != 0 && r.Result == "applied" {
		return "the hook populated it, " + w.Store.LivePath(id)
	}
	return ""
}

// askRuntime settles notes whose owner ended before an init was noted (a
// container started without the hook): the runtime the owner ran, with
// its global flags (--root), says whether the container still runs.
func (w *Wrapper) askRuntime(id string, owner record.Owner) (initPID int, gone bool) {
	rt := owner.Runtime
	if rt == "" || !filepath.IsAbs(rt) {
		rt = w.Runtime
	}
	st, err := w.State(rt, owner.Global, id, w.Env)
	if err != nil || st.Pid <= 0 || st.Status == specs.StateStopped {
		return 0, true
	}
	return st.Pid, false
}

// delete runs the runtime's delete and then removes the container's notes.
// Only a container with notes costs the wrapper a child process: the
// others are deleted by a plain exec of the runtime.
func (w *Wrapper) delete(inv *Invocation, perr error) int {
	if perr != nil || len(inv.Unknown) > 0 || record.ValidID(inv.ID) != nil || !w.Store.HasNotes(inv.ID) || w.RunChild == nil {
		return w.passThrough(inv)
	}
	status, err := w.RunChild(w.Runtime, w.argv(inv), w.Env)
	if err != nil {
		return w.fail(inv.ID, userror.Wrap(err, w.Runtime, "cannot run the runtime: "+errText(err), "check the runtime path (--runtime, or runtime in the admin config)"))
	}
	if status == 0 {
		// Gone for the runtime; the notes go unless a new container with
		// this id started meanwhile.
		if err := w.Store.RemoveNotesOfDeleted(inv.ID); err != nil {
			w.logf(inv.ID, "delete: cannot remove the notes in %s: %v", w.Store.CreatedDir(), err)
		}
	}
	return status
}

// podDecision decides, under the lock of the pod with sandbox id pod,
// whether inv's container joins the pod's IMA namespace (the pid of a
// running container that has it, and that container's id) or creates it
// (pid 0), and notes the decision before the lock is released: a join as
// the owner and join notes, a creation as the owner and pod notes, so
// that the next container of the pod joins the namespace being created
// instead of creating a second one. While another container of the pod is
// creating the namespace, it waits (bounded), then decides again.
func (w *Wrapper) podDecision(inv *Invocation, pod string) (pid int, owner string, err error) {
	wait := w.PodWait
	if wait <= 0 {
		wait = DefaultPodWait
	}
	deadline := time.Now().Add(wait)
	subject := "ima-runtime " + inv.Command
	for {
		unlock, err := w.Store.LockPod(pod, deadline)
		if err != nil {
			return 0, "", userror.Wrapf(err, w.Store.PodsDir(), "retry; check that "+w.Store.RunDir+" is writable; nothing was created", "cannot lock the pod's IMA namespace (io.imans.scope=pod)")
		}
		pid, owner, creator, err := w.podDecide(inv, pod)
		unlock()
		if err != nil || creator == "" {
			return pid, owner, err
		}
		if time.Now().After(deadline) {
			return 0, "", userror.New(subject, fmt.Sprintf("container %s was still creating the pod's IMA namespace (io.imans.scope=pod) after %s", creator, wait),
				"retry when it has started; nothing was created")
		}
		w.logf(inv.ID, "waiting for container %s, which is creating the pod's IMA namespace", creator)
		time.Sleep(50 * time.Millisecond)
	}
}

// podDecide is podDecision's step under the pod's lock: join (pid, owner),
// create (0, ""), or wait for creator.
func (w *Wrapper) podDecide(inv *Invocation, pod string) (pid int, owner, creator string, err error) {
	// A creation in progress first: once it is over, its record is there
	// for PodNamespaceOwners (read after it, so that a record written
	// between the two reads is not missed by both).
	creator, err = w.Store.PodCreatorPending(pod, inv.ID)
	if err != nil {
		return 0, "", "", userror.Wrapf(err, w.Store.CreatedDir(), "check the run directory; nothing was created", "cannot read the notes of the pod's containers (io.imans.scope=pod)")
	}
	if creator != "" {
		return 0, "", creator, nil
	}
	owners, err := w.Store.PodNamespaceOwners(pod)
	if err != nil {
		return 0, "", "", userror.Wrapf(err, w.Store.RunDir, "check the run directory; nothing was created", "cannot read the records of the pod's containers (io.imans.scope=pod)")
	}
	var join []string
	for _, o := range owners {
		join = append(join, o.ContainerID)
	}
	if pid, owner = w.joinTarget(inv, join); pid > 0 {
		// Noted like a namespace the wrapper creates: exec must know from
		// the wrapper's own notes that this container lives in an IMA
		// namespace, whatever the runtime's state and the hook's record
		// say (imaNoted); the notes go at delete and poststop as the
		// others do.
		if err := w.noteOwner(inv); err != nil {
			return 0, "", "", err
		}
		if err := w.Store.WriteJoinedNote(inv.ID, owner); err != nil {
			_ = w.Store.RemoveNotes(inv.ID)
			return 0, "", "", userror.Wrapf(err, w.Store.JoinedPath(inv.ID), "check that "+w.Store.RunDir+" is writable; nothing was created", "cannot note the join of the pod's IMA namespace")
		}
		return pid, owner, "", nil
	}
	if err := w.noteOwner(inv); err != nil {
		return 0, "", "", err
	}
	if err := w.Store.WritePodNote(inv.ID, pod); err != nil {
		_ = w.Store.RemoveNotes(inv.ID)
		return 0, "", "", userror.Wrapf(err, w.Store.PodNotePath(inv.ID), "check that "+w.Store.RunDir+" is writable; nothing was created", "cannot note the pod's IMA namespace about to be created")
	}
	return 0, "", "", nil
}

// joinTarget finds the first of the containers in join that runs, through
// the runtime's state (same global flags as this command: the same runtime
// root): its init's pid and its id; 0 when none runs.
func (w *Wrapper) joinTarget(inv *Invocation, join []string) (int, string) {
	for _, id := range join {
		if id == inv.ID || record.ValidID(id) != nil {
			continue
		}
		st, err := w.State(w.Runtime, inv.Global, id, w.Env)
		if err != nil || st.Pid <= 0 || (st.Status != specs.StateRunning && st.Status != specs.StateCreated) {
			continue
		}
		return st.Pid, id
	}
	return 0, ""
}

// readBundleAnnotations reads the annotations of the bundle's config file
// (config.json, or crun's --config name relative to the bundle) with the
// hook's bounds, and the file's size.
func readBundleAnnotations(bundle, name string) (map[string]string, int64, string, error) {
	if name == "" {
		name = "config.json"
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(bundle, name)
	}
	ann, size, err := oci.ReadConfigAnnotations(path)
	return ann, size, path, err
}
