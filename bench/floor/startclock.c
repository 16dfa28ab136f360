// startclock: times process starts, for bench/startup.sh.
//
//   startclock RUNS WARMUP CLEANDIR SPECFILE
//
// Each line of SPECFILE is NAME<TAB>PROGRAM<TAB>ARG... (absolute PROGRAM,
// no shell). Every variant runs WARMUP untimed times, then RUNS timed times,
// interleaved so that drift of the machine hits all alike, each round in a
// fresh random order (shuffle below: not a rotation). A run is fork, execv,
// waitpid, timed with CLOCK_MONOTONIC in this process: no shell, no
// date(1), so the only cost measured besides the variant's own is one fork.
// stdin and stdout are /dev/null; a run that does not exit 0 stops the
// bench with its stderr. After every run, timed or not, the entries of
// CLEANDIR are removed, untimed (the wrapper's notes, which the hook's
// poststop removes on a node).
//
// Prints one line per variant: NAME median p10 p90 (microseconds) and RUNS.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXVARIANTS 16
#define MAXARGS 64

struct variant {
	char *name;
	char *argv[MAXARGS + 1];
	long *us;
};

static struct variant v[MAXVARIANTS];
static int nv;

static void clean(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

static long run(const struct variant *x, int devnull)
{
	struct timespec a, b;
	int status;
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid_t p = fork();
	if (p < 0) {
		perror("startclock: fork");
		exit(1);
	}
	if (p == 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		execv(x->argv[0], x->argv);
		perror("startclock: execv");
		_exit(127);
	}
	if (waitpid(p, &status, 0) < 0) {
		perror("startclock: waitpid");
		exit(1);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "startclock: %s failed (wait status %d)\n", x->name, status);
		exit(1);
	}
	return (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
}

static int cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

// shuffle fills order with a random permutation of 0..n-1 (xorshift64,
// fixed seed: the same sequence every run). Each round gets its own: what
// a start costs depends on what ran just before it (a Go program that
// exits leaves its pages and threads for the kernel to free while the
// next one starts), and a rotating order gives every variant the same
// predecessor in every round. With the same binary named twice, a
// rotation measured its two copies 0.07 ms apart.
static void shuffle(int *order, int n)
{
	static unsigned long long x = 0x9e3779b97f4a7c15ULL;
	for (int j = 0; j < n; j++)
		order[j] = j;
	for (int j = n - 1; j > 0; j--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int r = (int)(x % (unsigned long long)(j + 1)), t = order[j];
		order[j] = order[r];
		order[r] = t;
	}
}

int main(int argc, char **argv)
{
	char line[8192];
	if (argc != 5) {
		fprintf(stderr, "usage: startclock RUNS WARMUP CLEANDIR SPECFILE\n");
		return 2;
	}
	int runs = atoi(argv[1]), warmup = atoi(argv[2]);
	if (runs < 1 || warmup < 0) {
		fprintf(stderr, "startclock: want RUNS >= 1 and WARMUP >= 0\n");
		return 2;
	}
	FILE *f = fopen(argv[4], "r");
	if (!f) {
		perror(argv[4]);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0])
			continue;
		if (nv == MAXVARIANTS) {
			fprintf(stderr, "startclock: at most %d variants\n", MAXVARIANTS);
			return 2;
		}
		char *s = strdup(line), *tok;
		int k = 0;
		v[nv].name = strsep(&s, "\t");
		while ((tok = strsep(&s, "\t"))) {
			if (k == MAXARGS) {
				fprintf(stderr, "startclock: %s: at most %d arguments\n", v[nv].name, MAXARGS);
				return 2;
			}
			v[nv].argv[k++] = tok;
		}
		if (k == 0 || v[nv].argv[0][0] != '/') {
			fprintf(stderr, "startclock: %s: want an absolute program\n", v[nv].name);
			return 2;
		}
		v[nv].us = calloc((size_t)runs, sizeof(long));
		nv++;
	}
	fclose(f);
	int devnull = open("/dev/null", O_RDWR);
	if (devnull < 0) {
		perror("/dev/null");
		return 1;
	}
	for (int w = 0; w < warmup; w++)
		for (int j = 0; j < nv; j++) {
			run(&v[j], devnull);
			clean(argv[3]);
		}
	for (int i = 0; i < runs; i++) {
		int order[MAXVARIANTS];
		shuffle(order, nv);
		for (int j = 0; j < nv; j++) {
			int k = order[j];
			v[k].us[i] = run(&v[k], devnull);
			clean(argv[3]);
		}
	}
	for (int j = 0; j < nv; j++) {
		qsort(v[j].us, (size_t)runs, sizeof(long), cmp);
		printf("%s %ld %ld %ld %d\n", v[j].name, v[j].us[runs / 2], v[j].us[runs / 10], v[j].us[runs * 9 / 10], runs);
	}
	return 0;
}
