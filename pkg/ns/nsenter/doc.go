// Package nsenter is ima-hook's single-threaded stage: a C constructor
// (nsenter.c) that runs in a re-executed copy of the binary before the Go
// runtime starts any thread, and performs a plan the Go parent made.
//
// Why: the kernel lets only a single-threaded task setns() into an IMA
// namespace (imans_install returns EUSERS otherwise; timens_install behaves
// the same for time namespaces), and after unshare(CLONE_NEWIMA) it refuses
// to create threads (copy_process: CLONE_VM/CLONE_THREAD while ima_ns differs
// from ima_ns_for_children is EINVAL). A Go program has threads before main,
// so these steps happen in C, in the constructor, exactly like runc's nsexec.
// The C code holds no policy: Go decides, C performs.
//
// Steps, in this order, each optional:
//
//  1. setns into the namespace of SetnsPath or the inherited fd SetnsFD
//     (nstype 0), then close that fd;
//  2. unshare(Unshare) with the raw syscall (glibc's int argument cannot carry
//     bit 34);
//  3. one write() per Writes entry (open O_WRONLY, no O_CREAT/O_TRUNC);
//  4. readlink NSIDLink ("<type>:[<inode>]") and write the inode in decimal to
//     NSIDFile (created 0600, O_NOFOLLOW);
//  5. Fork: fork; the child execs Exec; the parent (renamed "ima-runtime",
//     holding no fds above 2) waits, forwards SIGTERM SIGINT SIGHUP SIGQUIT
//     SIGUSR1 SIGUSR2 SIGWINCH (except terminal-generated ones the child got
//     from the kernel already), and exits with the child's status or dies of
//     the child's signal;
//     else Exec: execve Exec directly;
//     else return to Go: Stage() names the stage, SingleThreadedEntry() says
//     the constructor saw one thread.
//
// The plan's variables are removed from the environment (in place, in the
// envp array the Go runtime reads later) before any exec or return to Go, so
// the runtime, its children and the Go code never run the plan again.
//
// # Hand-off
//
// A plan that unshares and forks the runtime (a new namespace) can skip the
// re-exec, whose cost is the kernel stopping the Go wrapper's threads and
// unmapping its pages. When the pass-through pre-filter declines a call
// because a bundle config mentions imans, the constructor forks before Go
// starts: the child runs the Go wrapper; the parent waits on a pipe. For
// such a plan, Exec in the child sends the plan's argv and environment
// down the pipe (EncodeRequest: "<argc>" NUL, the argv strings, "<envc>"
// NUL, the environment strings, each ending in NUL; at most 1 MiB) and
// exits, and the parent, single-threaded and never having run Go, performs
// it as the re-executed constructor would (any other plan there is refused
// in one line). When the child sends nothing (it refused, passed the call
// through, joined a namespace, or re-executed), the parent forwards signals
// to it and exits as it does. The child dies with the parent
// (PR_SET_PDEATHSIG); owner notes name the parent (WaiterPID), the process
// the engine waits on.
//
// # StagePlan encoding (version 1)
//
// The plan travels in the environment of the re-exec of /proc/self/exe:
//
//	_IMA_HOOK_NSENTER=1                          marker and encoding version
//	_IMA_HOOK_NSENTER_SETNS_PATH=<abs path>      step 1 (at most one of PATH, FD)
//	_IMA_HOOK_NSENTER_SETNS_FD=<decimal > 2>     step 1
//	_IMA_HOOK_NSENTER_UNSHARE=<decimal flags>    step 2
//	_IMA_HOOK_NSENTER_WRITE_<i>=<hex>:<abs path> step 3, i = 0..7 contiguous;
//	                                             data lower-case hex, < 4096 bytes
//	_IMA_HOOK_NSENTER_NSID_LINK=<abs path>       step 4 (both or neither)
//	_IMA_HOOK_NSENTER_NSID_FILE=<abs path>       step 4
//	_IMA_HOOK_NSENTER_FORK=1                     step 5
//	_IMA_HOOK_NSENTER_EXEC=1                     argv is "<label> <program> <args>..."
//	_IMA_HOOK_NSENTER_STAGE=<[A-Za-z0-9_-]{1,64}> return to Go in this stage
//	_IMA_HOOK_NSENTER_ERRLOG=<json|text>:<abs path> also log a failure there
//
// Paths are at most 4096 bytes. Data is hex so any byte survives the
// environment; the 4095-byte bound is the *_for_children writers' (count >=
// PAGE_SIZE is EINVAL). The exec argv travels as the process's own argv, so
// it needs no encoding and is bounded only by the kernel's ARG_MAX.
// Exactly one of EXEC and STAGE is set.
//
// # Failures
//
// A failed step prints one line
//
//	ima-hook: <step>: <strerror> (errno N); <hint>
//
// and exits with a code naming the step (ExitSetns ... ExitExecNotFound).
// With ERRLOG the same line is appended to the runtime's --log file as an
// error entry in the runtime's format (logrus JSON or text): containerd and
// Docker report the last such entry and never show the runtime's stderr.
package nsenter
