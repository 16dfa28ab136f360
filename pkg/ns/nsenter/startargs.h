// start_args: the program's argc and argv from inside an ELF constructor,
// whatever the C library. glibc passes (argc, argv, envp) to constructors
// as an extension; musl, which the release build links (see the Makefile:
// its start-up is about half a millisecond cheaper than static glibc's in a
// VM), passes nothing. Included by nsenter.c and by the benchmark floor
// bench/floor/govalidate, which must start the same way.
//
// How: execve (fs/exec.c, create_elf_tables) lays out the new stack as
// argc, argv[0..argc-1], NULL, envp[0..], NULL, auxv, and copies the
// strings themselves contiguously, argv's first and then envp's. Every libc
// sets environ to that envp before it runs constructors, and nothing in
// this binary changes the environment before ours runs. So argv's NULL is
// environ[-1], argc is the word just before argv[0] (the only slot below
// environ whose value equals its distance from it), and the strings prove
// the find: each argv string must end right where the next one starts, the
// last right where envp[0]'s starts.
#ifndef IMA_HOOK_STARTARGS_H
#define IMA_HOOK_STARTARGS_H

#include <stdint.h>
#include <string.h>

extern char **environ;

// The kernel's own bound on the number of strings is far larger, but ARG_MAX
// (a quarter of the stack limit) bounds what any caller can pass in practice;
// 2^22 pointers are 32 MiB of argv array.
#define START_ARGS_MAX (1u << 22)

// start_args sets *argvp and returns argc, or -1 when the stack does not look
// like execve left it (then the caller must not use argv).
static int start_args(char ***argvp)
{
	char **env = environ;
	if (!env || env[-1] != NULL)
		return -1;
	for (uintptr_t k = 0; k < START_ARGS_MAX; k++) {
		char **slot = env - 2 - k;
		if ((uintptr_t)*slot != k)
			continue;
		char **argv = slot + 1;
		// Contiguous strings, as execve copied them.
		for (uintptr_t i = 0; i + 1 < k; i++)
			if (argv[i] + strlen(argv[i]) + 1 != argv[i + 1])
				return -1;
		if (k > 0 && env[0] && argv[k - 1] + strlen(argv[k - 1]) + 1 != env[0])
			return -1;
		*argvp = argv;
		return (int)k;
	}
	return -1;
}

#endif
