/*
 * Floor of a wrapper on the openEuler ABI (docs/kernel-abi.md#clone-flag): the
 * task that unshares must fork the runtime so that the runtime is born
 * into the new namespace, and wait for it. This does only that, with
 * CLONE_NEWTIME standing in for CLONE_NEWIMA as in the timens test build,
 * and no configuration, no validation and no signal forwarding.
 * bench/wrapper.sh compiles it statically and runs
 * `unshare-floor RUNTIME ARGS...`.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int main(int argc, char **argv)
{
	int status;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: unshare-floor RUNTIME [ARGS...]\n");
		return 2;
	}
	if (unshare(CLONE_NEWTIME) < 0) {
		perror("unshare-floor: unshare");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("unshare-floor: fork");
		return 1;
	}
	if (pid == 0) {
		execv(argv[1], argv + 1);
		perror("unshare-floor: execv");
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("unshare-floor: waitpid");
		return 1;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
