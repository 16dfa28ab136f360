// C half of govalidate-floor (see main.go): runs before the Go runtime.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "startargs.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int floor_verdict_fd = -1;

// Started like ima-hook's C stage, with any C library (startargs.h).
__attribute__((constructor)) static void floor_main(void)
{
	char **argv = NULL;
	int argc = start_args(&argv);
	int p[2], status;
	char verdict;
	pid_t v, r;

	if (argc < 2)
		return;
	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("govalidate-floor: pipe");
		_exit(1);
	}
	v = fork();
	if (v < 0) {
		perror("govalidate-floor: fork");
		_exit(1);
	}
	if (v == 0) { // the validator: on to the Go runtime
		close(p[0]);
		floor_verdict_fd = p[1];
		return;
	}
	close(p[1]);
	if (read(p[0], &verdict, 1) != 1 || verdict != 'y')
		_exit(1);
	close(p[0]);
	if (unshare(CLONE_NEWTIME) < 0) {
		perror("govalidate-floor: unshare");
		_exit(1);
	}
	r = fork();
	if (r < 0) {
		perror("govalidate-floor: fork");
		_exit(1);
	}
	if (r == 0) {
		execv(argv[1], argv + 1);
		perror("govalidate-floor: execv");
		_exit(127);
	}
	if (waitpid(r, &status, 0) < 0) {
		perror("govalidate-floor: waitpid");
		_exit(1);
	}
	waitpid(v, NULL, 0);
	_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
}
