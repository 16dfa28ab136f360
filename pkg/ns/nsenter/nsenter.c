//go:build linux && cgo

// The single-threaded C stage of ima-hook (see nsenter.go for the Go side
// and doc.go for the plan encoding).
//
// This runs as an ELF constructor, i.e. inside __libc_start_main before the
// Go runtime's main and therefore before Go has created any thread. That is
// the only moment a Go binary can do what the kernel allows single-threaded
// callers only: setns() into an IMA or time namespace (imans_install and
// timens_install return EUSERS otherwise), and unshare(CLONE_NEWIMA) followed
// by fork() (copy_process refuses CLONE_VM/CLONE_THREAD while a task's
// namespace differs from its *_for_children one, so the Go runtime could not
// start its threads afterwards).
//
// There is no policy here: the Go parent decided everything and encoded the
// plan in the environment; this file only parses it (bounded), performs it,
// and explains a failure in one line.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nsenter.h"
#include "passthrough.h"
#include "startargs.h"

// Results of the constructor, read by Go through the accessors below.
static int nsenter_ran;              // a plan was found and performed
static int nsenter_threads_at_entry; // threads counted in /proc/self/status
static char nsenter_stage[NSENTER_MAX_STAGE + 1];

const char *nsenter_stage_name(void) { return nsenter_ran ? nsenter_stage : ""; }
int nsenter_single_threaded_entry(void) { return nsenter_ran && nsenter_threads_at_entry == 1; }

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

// env_value returns the value of name=... in env (exact name match), or NULL.
static const char *env_value(char **env, const char *name)
{
	size_t n = strlen(name);
	for (char **e = env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static int is_marker(const char *entry)
{
	return strncmp(entry, NSENTER_ENV_PREFIX, sizeof(NSENTER_ENV_PREFIX) - 1) == 0;
}

static int set_err(char *err, size_t errlen, const char *fmt, const char *what)
{
	snprintf(err, errlen, fmt, what);
	return -1;
}

// parse_decimal accepts 1..20 digits without sign, no overflow.
static int parse_decimal(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i = 0;
	if (!s || !*s)
		return -1;
	for (; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 20)
			return -1;
		unsigned long long d = (unsigned long long)(s[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int copy_path(const char *v, char *dst, const char *name, char *err, size_t errlen)
{
	size_t n = strlen(v);
	if (n == 0 || n > NSENTER_MAX_PATH || v[0] != '/')
		return set_err(err, errlen, "%s: want an absolute path of at most 4096 bytes", name);
	memcpy(dst, v, n + 1);
	return 0;
}

// plan_reset empties a plan for nsenter_parse. Not with memset: the plan
// is some 86 KiB (eight writes, each a path and 4 KiB of data), and zeroing
// it would fault in about twenty pages of the constructor's BSS at every
// namespace start (some 30 us in a VM, where a page fault costs over a
// microsecond). Nothing reads more: a string field is read through its first
// byte, a write only below nwrites, and the parser fills each write it
// counts whole (its path with the NUL, its data, its len).
static void plan_reset(struct nsenter_plan *p)
{
	p->active = 0;
	p->setns_path[0] = 0;
	p->setns_fd = -1;
	p->unshare = 0;
	p->nwrites = 0;
	p->nsid_link[0] = 0;
	p->nsid_file[0] = 0;
	p->fork = 0;
	p->exec = 0;
	p->stage[0] = 0;
	p->errlog[0] = 0;
	p->errlog_json = 0;
}

int nsenter_parse(char **env, struct nsenter_plan *p, char *err, size_t errlen)
{
	const char *v;
	unsigned long long n;

	plan_reset(p);
	v = env_value(env, NSENTER_ENV_MARKER);
	if (!v)
		return 0;
	if (strcmp(v, NSENTER_VERSION) != 0)
		return set_err(err, errlen, "%s: unknown plan encoding version (want " NSENTER_VERSION ")", NSENTER_ENV_MARKER);
	p->active = 1;

	if ((v = env_value(env, NSENTER_ENV_SETNS_PATH)) && copy_path(v, p->setns_path, NSENTER_ENV_SETNS_PATH, err, errlen))
		return -1;
	if ((v = env_value(env, NSENTER_ENV_SETNS_FD))) {
		if (parse_decimal(v, INT_MAX, &n) || n <= 2)
			return set_err(err, errlen, "%s: want a decimal file descriptor above 2", NSENTER_ENV_SETNS_FD);
		p->setns_fd = (int)n;
	}
	if (p->setns_path[0] && p->setns_fd >= 0)
		return set_err(err, errlen, "%s: set only one of it and the fd", NSENTER_ENV_SETNS_PATH);
	if ((v = env_value(env, NSENTER_ENV_UNSHARE))) {
		if (parse_decimal(v, ULLONG_MAX, &n) || n == 0)
			return set_err(err, errlen, "%s: want non-zero decimal clone flags", NSENTER_ENV_UNSHARE);
		p->unshare = n;
	}
	for (int i = 0; i < NSENTER_MAX_WRITES + 1; i++) {
		char name[sizeof(NSENTER_ENV_WRITE) + 4];
		snprintf(name, sizeof(name), NSENTER_ENV_WRITE "%d", i);
		v = env_value(env, name);
		if (!v)
			break;
		if (i == NSENTER_MAX_WRITES)
			return set_err(err, errlen, "%s: too many writes (at most 8)", name);
		if (i != p->nwrites)
			break;
		// <hex data>:<absolute path>
		const char *colon = strchr(v, ':');
		size_t hexlen = colon ? (size_t)(colon - v) : 0;
		if (!colon || hexlen % 2 || hexlen / 2 > NSENTER_MAX_DATA)
			return set_err(err, errlen, "%s: want <lower-case hex data, under 4096 bytes>:<path>", name);
		struct nsenter_write *w = &p->writes[i];
		for (size_t j = 0; j < hexlen; j += 2) {
			int hi = hexval(v[j]), lo = hexval(v[j + 1]);
			if (hi < 0 || lo < 0)
				return set_err(err, errlen, "%s: data is not lower-case hex", name);
			w->data[j / 2] = (char)(hi << 4 | lo);
		}
		w->len = hexlen / 2;
		if (copy_path(colon + 1, w->path, name, err, errlen))
			return -1;
		p->nwrites++;
	}
	if ((v = env_value(env, NSENTER_ENV_NSID_LINK)) && copy_path(v, p->nsid_link, NSENTER_ENV_NSID_LINK, err, errlen))
		return -1;
	if ((v = env_value(env, NSENTER_ENV_NSID_FILE)) && copy_path(v, p->nsid_file, NSENTER_ENV_NSID_FILE, err, errlen))
		return -1;
	if (!p->nsid_link[0] != !p->nsid_file[0])
		return set_err(err, errlen, "%s: set both the link and the file, or neither", NSENTER_ENV_NSID_LINK);
	if ((v = env_value(env, NSENTER_ENV_FORK))) {
		if (strcmp(v, "1") != 0)
			return set_err(err, errlen, "%s: want 1", NSENTER_ENV_FORK);
		p->fork = 1;
	}
	if ((v = env_value(env, NSENTER_ENV_EXEC))) {
		if (strcmp(v, "1") != 0)
			return set_err(err, errlen, "%s: want 1", NSENTER_ENV_EXEC);
		p->exec = 1;
	}
	if ((v = env_value(env, NSENTER_ENV_STAGE))) {
		size_t len = strlen(v);
		if (len == 0 || len > NSENTER_MAX_STAGE)
			return set_err(err, errlen, "%s: want 1 to 64 characters", NSENTER_ENV_STAGE);
		for (size_t j = 0; j < len; j++)
			if (!((v[j] >= 'a' && v[j] <= 'z') || (v[j] >= 'A' && v[j] <= 'Z') ||
			      (v[j] >= '0' && v[j] <= '9') || v[j] == '-' || v[j] == '_'))
				return set_err(err, errlen, "%s: want [A-Za-z0-9_-]", NSENTER_ENV_STAGE);
		memcpy(p->stage, v, len + 1);
	}
	if ((v = env_value(env, NSENTER_ENV_ERRLOG))) {
		// <json|text>:<absolute path>
		if (strncmp(v, "json:", 5) == 0)
			p->errlog_json = 1;
		else if (strncmp(v, "text:", 5) != 0)
			return set_err(err, errlen, "%s: want json:<path> or text:<path>", NSENTER_ENV_ERRLOG);
		if (copy_path(v + 5, p->errlog, NSENTER_ENV_ERRLOG, err, errlen))
			return -1;
	}
	return 0;
}

// nsenter_parse_request reads a hand-off request (nsenter.go, handOff):
// "<argc>" NUL, argc strings each ending in NUL, "<envc>" NUL, envc
// strings each ending in NUL, and nothing after. On success *argv and *env
// are NULL-terminated arrays (malloc'd) of pointers into buf.
int nsenter_parse_request(char *buf, size_t n, char ***argv, int *argc, char ***env, char *err, size_t errlen)
{
	char *q = buf, *end = buf + n;
	char **lists[2] = {NULL, NULL};
	unsigned long long count[2];
	*argv = *env = NULL;
	for (int l = 0; l < 2; l++) {
		char *nul = memchr(q, 0, (size_t)(end - q));
		// Canonical decimal (no leading zero), as Go's encoder writes it.
		if (q >= end || !nul || (q[0] == '0' && q[1]) || parse_decimal(q, NSENTER_MAX_REQUEST_STRINGS, &count[l]) ||
		    (l == 0 && count[l] < 2)) {
			free(lists[0]);
			return set_err(err, errlen, "%s: bad string count", "hand-off request");
		}
		q = nul + 1;
		lists[l] = malloc(sizeof(char *) * ((size_t)count[l] + 1));
		if (!lists[l]) {
			free(lists[0]);
			return set_err(err, errlen, "%s: out of memory", "hand-off request");
		}
		for (unsigned long long i = 0; i < count[l]; i++) {
			nul = q < end ? memchr(q, 0, (size_t)(end - q)) : NULL;
			if (!nul) {
				free(lists[0]);
				free(lists[1]);
				return set_err(err, errlen, "%s: a string runs past the end", "hand-off request");
			}
			lists[l][i] = q;
			q = nul + 1;
		}
		lists[l][count[l]] = NULL;
	}
	if (q != end) {
		free(lists[0]);
		free(lists[1]);
		return set_err(err, errlen, "%s: bytes after the environment", "hand-off request");
	}
	*argv = lists[0];
	*argc = (int)count[0];
	*env = lists[1];
	return 0;
}

#ifndef NSENTER_PARSER_ONLY
// (The test-only package nsentertest builds this file with
// NSENTER_PARSER_ONLY: the parser and the log escaping, no constructor.)

// hint explains an errno for one step; it only rephrases what the kernel
// said, it decides nothing.
static const char *hint(int step, int e, const struct nsenter_plan *p)
{
	switch (step) {
	case NSENTER_EXIT_UNSHARE:
		if (e == EINVAL)
			return (p->unshare & NSENTER_CLONE_NEWIMA)
				   ? "this kernel has no IMA namespaces (needs an openEuler kernel built with CONFIG_IMA_NS)"
				   : "this kernel does not support one of these namespace types";
		if (e == EPERM)
			return "creating a namespace needs CAP_SYS_ADMIN: run the runtime as real root";
		if (e == ENOSPC || e == EUSERS)
			return "too many namespaces: raise the limit in /proc/sys/user/max_*_namespaces";
		break;
	case NSENTER_EXIT_WRITE:
		if (e == EACCES)
			return "the namespace is already active; its configuration is accepted only before its first task is born";
		if (e == EPERM)
			return "only the task that unshared the namespace, with CAP_SYS_ADMIN on the host, may configure it";
		if (e == EINVAL)
			return "the kernel rejected the value (bad syntax, or 4096 bytes or more)";
		if (e == ENOENT)
			return "the file is missing: is securityfs mounted and does the kernel support this?";
		break;
	case NSENTER_EXIT_SETNS:
		if (e == ENOENT || e == ESRCH)
			return "the process is gone or the kernel lacks this namespace type";
		if (e == EUSERS)
			return "the caller has more than one thread (the C stage must run before the Go runtime)";
		if (e == EPERM)
			return "joining needs CAP_SYS_ADMIN in the namespace's owner: run as real root";
		if (e == EINVAL)
			return "not a namespace file, or a namespace this caller may not join";
		if (e == EBADF)
			return "the namespace file descriptor was not inherited";
		break;
	case NSENTER_EXIT_NSID:
		return "could not record the new namespace id; check that the directory exists and is writable";
	case NSENTER_EXIT_FORK:
		return "out of processes or memory, or the kernel refused the fork into the new namespace";
	case NSENTER_EXIT_EXEC_NOENT:
	case NSENTER_EXIT_EXEC:
		if (e == ENOENT)
			return "the program does not exist: check the runtime path";
		if (e == EACCES)
			return "the program is not executable";
		if (e == ENOEXEC)
			return "the file is not a program this kernel can run";
		break;
	}
	return "see the kernel's documentation of this call";
}

#endif // NSENTER_PARSER_ONLY

// nsenter_log_quote appends s to out as the inside of a JSON (and logrus text) string:
// quote, backslash and control bytes escaped. Returns the new length, or
// -1 when out is too small.
int nsenter_log_quote(char *out, size_t cap, size_t n, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		size_t k;
		if (c == '"' || c == '\\')
			k = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			k = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
		else
			esc[0] = (char)c, k = 1;
		if (n + k >= cap)
			return -1;
		memcpy(out + n, esc, k);
		n += k;
	}
	out[n] = 0;
	return (int)n;
}

#ifndef NSENTER_PARSER_ONLY
// log_error appends msg as one error entry to the runtime's --log file, in
// the format the runtime writes there (runc uses logrus: JSON or text).
// containerd and Docker (go-runc) show the user the last error entry of
// that file and drop the runtime's stderr. Best effort: stderr has the line.
static void log_error(const struct nsenter_plan *p, const char *msg)
{
	char line[NSENTER_MAX_PATH * 2 + 1024], ts[40];
	struct timespec now;
	struct tm tm;
	int n;

	if (!p || !p->errlog[0])
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = (int)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - (size_t)n, ".%09ldZ", now.tv_nsec);
	n = snprintf(line, sizeof(line), p->errlog_json ? "{\"level\":\"error\",\"msg\":\"" : "time=\"%s\" level=error msg=\"", ts);
	n = nsenter_log_quote(line, sizeof(line) - 64, (size_t)n, msg);
	if (n < 0)
		return;
	if (p->errlog_json)
		snprintf(line + n, sizeof(line) - (size_t)n, "\",\"time\":\"%s\"}\n", ts);
	else
		snprintf(line + n, sizeof(line) - (size_t)n, "\"\n");
	// O_NOFOLLOW and the mode runc itself creates it with.
	int fd = open(p->errlog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return;
	ssize_t ignored = write(fd, line, strlen(line));
	(void)ignored;
	close(fd);
}

static void die(int step, const char *what, int e, const struct nsenter_plan *p)
{
	char msg[NSENTER_MAX_PATH * 2 + 512];
	// One line, like every ima-hook failure. dprintf does not buffer, so the
	// line is out before _exit.
	snprintf(msg, sizeof(msg), "ima-hook: %s: %s (errno %d); %s", what, strerror(e), e, hint(step, e, p));
	dprintf(2, "%s\n", msg);
	log_error(p, msg);
	_exit(step);
}

static void die_plan(const char *msg)
{
	dprintf(2, "ima-hook: nsenter plan: %s; the plan is produced by ima-hook itself, do not set " NSENTER_ENV_PREFIX "* by hand\n", msg);
	_exit(NSENTER_EXIT_PLAN);
}

// remove_markers drops every plan variable from env in place, for the
// program we exec (it must never re-run the plan). Only on the exec paths:
// the Go runtime finds the auxiliary vector by walking past the NULL that
// ends envp, so a shortened array would break a return to Go; there the Go
// side unsets the variables (init in nsenter.go).
static void remove_markers(char **env)
{
	char **dst = env;
	for (char **src = env; *src; src++)
		if (!is_marker(*src))
			*dst++ = *src;
	*dst = NULL;
}

static int count_threads(void)
{
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *t = strstr(buf, "\nThreads:");
	return t ? atoi(t + 9) : -1;
}

static void do_setns(const struct nsenter_plan *p)
{
	char what[NSENTER_MAX_PATH + 64];
	int fd = p->setns_fd;
	if (p->setns_path[0]) {
		snprintf(what, sizeof(what), "open %s", p->setns_path);
		fd = open(p->setns_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die(NSENTER_EXIT_SETNS, what, errno, p);
		snprintf(what, sizeof(what), "setns %s", p->setns_path);
	} else {
		snprintf(what, sizeof(what), "setns fd %d", fd);
	}
	// nstype 0: "any type". An IMA namespace cannot be named here anyway,
	// setns's nstype is an int and CLONE_NEWIMA is bit 34.
	if (setns(fd, 0) < 0)
		die(NSENTER_EXIT_SETNS, what, errno, p);
	close(fd); // never leak the namespace handle into the next program
}

static void do_unshare(const struct nsenter_plan *p)
{
	char what[64];
	// The raw syscall, not glibc's unshare(int): the kernel takes an
	// unsigned long and an int cannot carry CLONE_NEWIMA (bit 34).
	if (syscall(SYS_unshare, (unsigned long)p->unshare) < 0) {
		int e = errno;
		snprintf(what, sizeof(what), "unshare(0x%llx)", p->unshare);
		die(NSENTER_EXIT_UNSHARE, what, e, p);
	}
}

static void do_write(const struct nsenter_plan *p, const struct nsenter_write *w)
{
	char what[NSENTER_MAX_PATH + 16];
	snprintf(what, sizeof(what), "write %s", w->path);
	// No O_TRUNC/O_CREAT: these are kernel files; each takes one write()
	// at offset 0 (ima_write_*_for_children refuses *ppos != 0).
	int fd = open(w->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die(NSENTER_EXIT_WRITE, what, errno, p);
	ssize_t n = write(fd, w->data, w->len);
	if (n < 0)
		die(NSENTER_EXIT_WRITE, what, errno, p);
	if ((size_t)n != w->len)
		die(NSENTER_EXIT_WRITE, what, EIO, p);
	if (close(fd) < 0)
		die(NSENTER_EXIT_WRITE, what, errno, p);
}

static void do_nsid(const struct nsenter_plan *p)
{
	char what[NSENTER_MAX_PATH + 16], target[128], out[24];
	snprintf(what, sizeof(what), "readlink %s", p->nsid_link);
	ssize_t n = readlink(p->nsid_link, target, sizeof(target) - 1);
	if (n < 0)
		die(NSENTER_EXIT_NSID, what, errno, p);
	target[n] = 0;
	// "<type>:[<inode>]"
	char *open_br = strchr(target, '['), *close_br = strrchr(target, ']');
	unsigned long long inum;
	if (!open_br || !close_br || close_br < open_br) {
		dprintf(2, "ima-hook: %s: unexpected link target \"%s\"; want <type>:[<inode>]\n", what, target);
		_exit(NSENTER_EXIT_NSID);
	}
	*close_br = 0;
	if (parse_decimal(open_br + 1, UINT32_MAX, &inum)) {
		dprintf(2, "ima-hook: %s: inode \"%s\" is not a 32-bit number; want <type>:[<inode>]\n", what, open_br + 1);
		_exit(NSENTER_EXIT_NSID);
	}
	snprintf(what, sizeof(what), "write %s", p->nsid_file);
	int len = snprintf(out, sizeof(out), "%llu", inum);
	// O_NOFOLLOW: the directory is root's, but never write through a link.
	int fd = open(p->nsid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		die(NSENTER_EXIT_NSID, what, errno, p);
	if (write(fd, out, (size_t)len) != len)
		die(NSENTER_EXIT_NSID, what, errno ? errno : EIO, p);
	if (close(fd) < 0)
		die(NSENTER_EXIT_NSID, what, errno, p);
}

static void do_exec(char **argv, char **env, const struct nsenter_plan *p)
{
	char what[NSENTER_MAX_PATH + 16];
	execve(argv[0], argv, env);
	int e = errno;
	snprintf(what, sizeof(what), "exec %.4096s", argv[0]);
	die(e == ENOENT ? NSENTER_EXIT_EXEC_NOENT : NSENTER_EXIT_EXEC, what, e, p);
}

// ---- fork, wait and forward signals ----

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))
static volatile pid_t child_pid;

static void forward(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	int saved = errno;
	// A terminal sends SIGINT, SIGQUIT, SIGWINCH ... to the whole foreground
	// process group, which includes the child: forwarding those again would
	// deliver them twice. Signals sent by a process (kill) are forwarded.
	if (info && info->si_code == SI_KERNEL && getpgid(child_pid) == getpgrp()) {
		errno = saved;
		return;
	}
	if (child_pid > 0)
		kill(child_pid, sig);
	errno = saved;
}

// fork_wait_exit forks argv (or, with existing > 0, takes that child as
// it is: a hand-off relay), forwards signals to it, waits and exits as it
// did. It reaps any other child on the way: after a hand-off, the Go child
// that sent the plan is still winding down.
static void fork_wait_exit(char **argv, char **env, const struct nsenter_plan *p, pid_t existing)
{
	struct sigaction old[NFORWARDED], sa;
	sigset_t block, oldmask;

	sigemptyset(&block);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaddset(&block, forwarded[i]);
	// Block until child_pid is known, so a signal arriving around the fork
	// is forwarded rather than lost.
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < NFORWARDED; i++) {
		sigaction(forwarded[i], NULL, &old[i]);
		// A signal the caller ignored stays ignored (e.g. SIGINT for a
		// background job); the child inherits that below.
		if (old[i].sa_handler != SIG_IGN)
			sigaction(forwarded[i], &sa, NULL);
	}

	pid_t pid = existing > 0 ? existing : fork();
	if (pid < 0)
		die(NSENTER_EXIT_FORK, "fork", errno, p);
	if (pid == 0) {
		for (size_t i = 0; i < NFORWARDED; i++)
			sigaction(forwarded[i], &old[i], NULL);
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		do_exec(argv, env, p);
	}
	child_pid = pid;
	// The waiting parent is visible in ps; name it for what it is.
	prctl(PR_SET_NAME, "ima-runtime", 0, 0, 0);
	// Hold no extra copies of inherited pipes and sockets: whoever waits for
	// EOF on them (conmon, containerd-shim) must see it when the runtime
	// closes its copy. stdio stays for the runtime's sake and ours.
	syscall(SYS_close_range, 3U, ~0U, 0U);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);

	int status;
	for (;;) {
		pid_t r = waitpid(-1, &status, 0);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			die(NSENTER_EXIT_FORK, "waitpid", errno, p);
	}
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		// Die the same way, so our parent sees the child's signal. A core
		// dump of this small waiter helps nobody.
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		signal(sig, SIG_DFL);
		sigset_t one;
		sigemptyset(&one);
		sigaddset(&one, sig);
		sigprocmask(SIG_UNBLOCK, &one, NULL);
		raise(sig);
		_exit(128 + sig);
	}
	_exit(NSENTER_EXIT_FORK);
}

static struct nsenter_plan plan;

// What the pre-filter found of the card (IH_PASS_CARD_*), for Go.
static int pass_card_state;
int nsenter_pass_card_state(void) { return pass_card_state; }

// pass_card_dir: where the pass-through cards are. Only test builds
// (imaemu, timens: passcard_testbuild.go) let the environment move it.
static const char *pass_card_dir(char **envp)
{
#ifdef IH_PASS_TEST_BUILD
	const char *d = env_value(envp, IH_PASS_CARD_DIR_ENV);
	if (d && d[0] == '/')
		return d;
#endif
	return IH_PASS_CARD_DIR;
}

// pass_through execs the real runtime when the pre-filter (passthrough.c)
// proves that the Go wrapper would only pass this call through; otherwise,
// or when the exec fails, it returns and the Go wrapper runs (and says why
// an exec failed).
// It returns 1 when it declined because a bundle config mentions imans.
static int pass_through(char **envp)
{
	char **argv = NULL;
	static char rt[NSENTER_MAX_PATH + 1];
	int asks_ima = 0;
	int argc = start_args(&argv);
	if (argc < 2)
		return 0;
	int at = ih_pass_decide(argc, argv, env_value(envp, "PATH"), pass_card_dir(envp), "/proc/self/exe", rt, sizeof(rt), &pass_card_state,
				&asks_ima);
	if (at < 1)
		return asks_ima;
	char **rargv = malloc(sizeof(char *) * (size_t)(argc - at + 2));
	if (!rargv)
		return 0;
	rargv[0] = rt; // as the Go wrapper's exec: the runtime's path, then its arguments untouched
	memcpy(rargv + 1, argv + at, sizeof(char *) * (size_t)(argc - at));
	rargv[argc - at + 1] = NULL;
	execve(rt, rargv, envp);
	free(rargv);
	return 0;
}

static void run_plan(char **envp, char **argv, int argc, int handoff);

// ---- hand-off: the Go wrapper's work in a child ----
//
// A call whose bundle config mentions imans probably creates a namespace,
// which a multi-threaded Go process cannot: it would re-execute itself so
// that this constructor, single-threaded, unshares and forks the runtime,
// and the kernel first stops its threads and unmaps its pages (some 0.3 ms
// here, against 0.17 for the same exec from a small process). Instead,
// this process forks before Go starts: the child runs the Go wrapper,
// which validates everything as always and, for a namespace it creates,
// sends the plan down a pipe (nsenter.go, handOff) and exits; this parent,
// still single-threaded and never having run Go, performs the plan as the
// re-executed C stage would (run_plan) while the child's exit runs on
// another CPU. When the child sends nothing (it refused, passed the call
// through, joined a pod's namespace, or re-executed after all), the parent
// relays: it forwards signals to the child and exits as it does. The
// engine's pid stays the one that waits for the runtime either way.

static int handoff_fd = -1;  // the Go child's end of the pipe
static pid_t handoff_parent; // the waiting parent (owner notes name it)
int nsenter_handoff_fd(void) { return handoff_fd; }
int nsenter_handoff_parent(void) { return (int)handoff_parent; }

static void hand_off(void)
{
	static const struct nsenter_plan relay_only; // no --log to write to
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return; // the Go wrapper runs here and re-executes, as without
	pid_t parent = getpid();
	pid_t child = fork();
	if (child < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (child == 0) {
		close(p[0]);
		// The engine waits on and signals the parent: never outlive it.
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(NSENTER_EXIT_FORK);
		handoff_fd = p[1];
		handoff_parent = parent;
		return;
	}
	close(p[1]);
	char *req = malloc(NSENTER_MAX_REQUEST + 1);
	size_t n = 0;
	for (;;) {
		if (!req)
			die(NSENTER_EXIT_PLAN, "hand-off: malloc", ENOMEM, &relay_only);
		ssize_t r = read(p[0], req + n, NSENTER_MAX_REQUEST + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die(NSENTER_EXIT_PLAN, "hand-off: read", errno, &relay_only);
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > NSENTER_MAX_REQUEST)
			die_plan("hand-off request larger than 1 MiB");
	}
	close(p[0]);
	if (n == 0) {
		free(req);
		fork_wait_exit(NULL, NULL, &relay_only, child);
	}
	char err[256], **argv, **env;
	int argc;
	if (nsenter_parse_request(req, n, &argv, &argc, &env, err, sizeof(err)) < 0)
		die_plan(err);
	run_plan(env, argv, argc, 1);
	die_plan("a hand-off plan must fork the runtime");
}

// No parameters: only glibc passes (argc, argv, envp) to constructors, and
// the release build links musl (startargs.h finds them on the stack).
__attribute__((constructor)) static void nsenter_ctor(void)
{
	char **envp = environ, **argv = NULL;
	int argc;

	if (!env_value(envp, NSENTER_ENV_MARKER)) {
		if (pass_through(envp))
			hand_off();
		return;
	}
	argc = start_args(&argv);
	if (argc < 0)
		die_plan("cannot find the program's arguments on the initial stack");
	run_plan(envp, argv, argc, 0);
}

// run_plan performs the plan in envp: exec or fork+wait never return; a
// stage returns to Go. A hand-off (handoff) may only create a namespace
// and fork the runtime into it: this process has not run Go and must not.
static void run_plan(char **envp, char **argv, int argc, int handoff)
{
	char err[256];
	if (nsenter_parse(envp, &plan, err, sizeof(err)) < 0)
		die_plan(err);
	if (handoff && (!plan.unshare || !plan.fork || !plan.exec || plan.stage[0] || plan.setns_path[0] || plan.setns_fd >= 0))
		die_plan("a hand-off plan may only unshare and fork the runtime");
	// Only a plan that returns to Go (a stage) has a use for the count
	// (SingleThreadedEntry); with an exec this process never runs Go, and
	// reading /proc/self/status costs some 25 us. Parsing started no
	// thread, so this is still the count at entry.
	if (!plan.exec)
		nsenter_threads_at_entry = count_threads();

	// With an exec, argv is "<label> <program> <args>...".
	int has_exec = plan.exec;
	if (has_exec && argc < 2)
		die_plan("exec without a program in argv");
	if (has_exec == !!plan.stage[0])
		die_plan("want exactly one of an exec argv and a stage");
	if (plan.fork && !has_exec)
		die_plan("fork needs an exec argv");
	if (has_exec && argv[1][0] != '/')
		die_plan("the program to exec must be an absolute path");
	if (plan.unshare && !plan.fork && !has_exec)
		die_plan("unshare without fork or exec would leave the Go runtime unable to start threads");

	if (plan.setns_path[0] || plan.setns_fd >= 0)
		do_setns(&plan);
	if (plan.unshare)
		do_unshare(&plan);
	for (int i = 0; i < plan.nwrites; i++)
		do_write(&plan, &plan.writes[i]);
	if (plan.nsid_link[0])
		do_nsid(&plan);
	if (has_exec)
		remove_markers(envp);
	if (plan.fork)
		fork_wait_exit(argv + 1, envp, &plan, 0);
	if (has_exec)
		do_exec(argv + 1, envp, &plan);

	memcpy(nsenter_stage, plan.stage, sizeof(nsenter_stage));
	nsenter_ran = 1;
}

#endif // NSENTER_PARSER_ONLY
