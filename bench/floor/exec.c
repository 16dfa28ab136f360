/*
 * Floor of any runtime wrapper: one more exec in front of the runtime and
 * nothing else. bench/wrapper.sh compiles it (static, like ima-hook) and
 * runs `exec-floor RUNTIME ARGS...`.
 */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: exec-floor RUNTIME [ARGS...]\n");
		return 2;
	}
	execv(argv[1], argv + 1);
	perror("exec-floor: execv");
	return 127;
}
