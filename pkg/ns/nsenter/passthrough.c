// The pass-through pre-filter of the runtime wrapper.
//
// A container that does not ask for IMA needs nothing of the wrapper but an
// exec of the real runtime, yet the Go wrapper starts the Go runtime and
// every package initialiser of the validation libraries before it can tell
// (about 0.6 ms of the 0.9 it costs above an exec-only Go program; see
// docs/testing.md). This code runs in the C constructor, before any of
// that, and execs the runtime itself when it can prove the Go wrapper
// would only have passed the call through. It never decides that a
// container gets IMA, never refuses, and never writes: anything it cannot
// prove, or any error, returns to the Go wrapper, which decides as always.
//
// What it proves, all of it or nothing:
//   - the command line is the wrapper's (`ima-hook runtime [flags] --` or
//     the ima-runtime symlink) with only flags it knows, and no runtime
//     argument is one of the original guide's -ima* or --ima* flags, a
//     command with wrapper work (exec, delete), or a bundle or config-file
//     flag in a form it cannot read for certain (glued, abbreviated,
//     crun's --config);
//   - the admin config is the one a card (passcard.go) was written for by
//     this very binary: the Go wrapper writes a card only for a config
//     that is not mandatory, after loading and validating it, and the card
//     names the size and FNV-1a 64 hash of the bytes it parsed, which are
//     compared with the file's bytes now, so an edited config is never
//     trusted; the card directory and file are root's and not writable by
//     others;
//   - every config.json the command line may name (each --bundle value, or
//     the working directory without one) is a regular file that contains
//     no "imans" in any case and no JSON \u escape, so it cannot hold an
//     io.imans.* annotation however it is decoded (pkg/config reacts only
//     to keys under io.imans.; a fuzz test in nsentertest holds Go's
//     decision to this);
//   - no note of the wrapper (run_dir/created, pkg/record) carries any of
//     the arguments as a container id: a reused id with notes left over is
//     the Go wrapper's to sweep.
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "passthrough.h"

#define IH_PASS_MAX_BUNDLES 8
#define IH_PASS_MAX_NOTES 100000

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

// FNV-1a 64, as hash/fnv's New64a in Go (passcard.go, pkg/config).
static uint64_t fnv1a64(uint64_t h, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

// read_chunks feeds the regular file at path, of at most max bytes, to fn
// in pieces: 0 when all of it was read and fn never objected, -2 when there
// is no such file, -1 otherwise (not regular, too large, grown past max
// while read, a read error, or fn returning nonzero). oflags are added to
// O_RDONLY; the file is never waited on (O_NONBLOCK).
static int read_chunks(const char *path, int oflags, long long max,
		       int (*fn)(void *ctx, const unsigned char *b, size_t n), void *ctx)
{
	static unsigned char buf[65536];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | oflags);
	if (fd < 0)
		return errno == ENOENT ? -2 : -1;
	int rc = 0;
	long long total = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > max)
		rc = -1;
	while (rc == 0) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -1 : 0;
			break;
		}
		total += n;
		if (total > max || fn(ctx, buf, (size_t)n) != 0)
			rc = -1;
	}
	close(fd);
	return rc;
}

struct digest {
	unsigned long long size;
	uint64_t fnv;
};

static int digest_chunk(void *ctx, const unsigned char *b, size_t n)
{
	struct digest *d = ctx;
	d->size += n;
	d->fnv = fnv1a64(d->fnv, b, n);
	return 0;
}

// config_digest hashes the admin config at path as LoadAdmin reads it
// (following symlinks, at most 1 MiB): 0 and *size, *fnv; -2 when there is
// no such file; -1 on any other error.
static int config_digest(const char *path, unsigned long long *size, unsigned long long *fnv)
{
	struct digest d = {0, 14695981039346656037ULL};
	int rc = read_chunks(path, 0, IH_PASS_MAX_ADMIN, digest_chunk, &d);
	*size = d.size;
	*fnv = d.fnv;
	return rc;
}

void ih_pass_card_name(const char *config_path, char out[17])
{
	uint64_t h = fnv1a64(14695981039346656037ULL, (const unsigned char *)config_path, strlen(config_path));
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

// The scan's state across chunks: the last five bytes, lower-cased, and
// whether the byte before was a backslash.
struct scan {
	char win[5];
	int prev_backslash;
	int saw_imans;
};

static int scan_chunk(void *ctx, const unsigned char *b, size_t n)
{
	struct scan *sc = ctx;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = b[i];
		if (sc->prev_backslash && c == 'u')
			return -1;
		// A backslash escapes the next byte: "\\u" is no escape, but
		// flagging it too costs only a trip through Go.
		sc->prev_backslash = (c == '\\');
		memmove(sc->win, sc->win + 1, 4);
		sc->win[4] = (char)(c < 0x80 ? tolower(c) : c);
		if (memcmp(sc->win, "imans", 5) == 0) {
			sc->saw_imans = 1;
			return -1;
		}
	}
	return 0;
}

int ih_pass_scan_config(const char *path)
{
	struct scan sc = {{0}, 0, 0};
	int rc = read_chunks(path, O_NOFOLLOW, IH_PASS_MAX_CONFIG, scan_chunk, &sc);
	return rc == -1 && sc.saw_imans ? IH_PASS_SCAN_IMANS : rc;
}

// parse_u64: decimal digits only, no sign, no spaces; advances *s past them.
static int parse_u64(const char **s, unsigned long long *out)
{
	const char *p = *s;
	unsigned long long v = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	*s = p;
	*out = v;
	return 0;
}

// parse_numbers reads exactly n space-separated numbers and the end of s.
static int parse_numbers(const char *s, unsigned long long *v, int n)
{
	for (int i = 0; i < n; i++) {
		if (i > 0 && *s++ != ' ')
			return -1;
		if (parse_u64(&s, &v[i]) < 0)
			return -1;
	}
	return *s == '\0' ? 0 : -1;
}

struct card {
	unsigned long long exe[5]; // dev ino size mtime.sec mtime.nsec
	int config_absent;         // the default config did not exist
	unsigned long long config_size, config_fnv;
	const char *runtime; // "" when the admin's runtime did not resolve
	const char *path;    // NULL: runtime was absolute; else PATH it was looked up in
	const char *run_dir;
};

static int same_exe(const struct stat *st, const unsigned long long *v)
{
	return (unsigned long long)st->st_dev == v[0] && (unsigned long long)st->st_ino == v[1] &&
	       (unsigned long long)st->st_size == v[2] && (unsigned long long)st->st_mtim.tv_sec == v[3] &&
	       (unsigned long long)st->st_mtim.tv_nsec == v[4];
}

// read_card loads and parses the card of config_path into c, whose strings
// point into buf. The directory and the file must be root's and writable by
// no one else, as passcard.go makes them.
static int read_card(const char *card_dir, const char *config_path, char *buf, size_t cap, struct card *c)
{
	struct stat st;
	char name[17];
	if (lstat(card_dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return -1;
	int dfd = open(card_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return -1;
	ih_pass_card_name(config_path, name);
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	close(dfd);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) ||
	    st.st_size <= 0 || (size_t)st.st_size >= cap) {
		close(fd);
		return -1;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, cap - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size || buf[got - 1] != '\n')
		return -1;
	buf[got] = '\0';

	// Six lines, in this order, each ending in '\n'.
	char *line[6];
	char *p = buf;
	for (int i = 0; i < 6; i++) {
		char *nl = strchr(p, '\n');
		if (!nl)
			return -1;
		*nl = '\0';
		line[i] = p;
		p = nl + 1;
	}
	if (*p != '\0')
		return -1;
	if (strcmp(line[0], IH_PASS_CARD_MAGIC) != 0)
		return -1;
	if (!has_prefix(line[1], "exe ") || parse_numbers(line[1] + 4, c->exe, 5) < 0)
		return -1;
	if (strcmp(line[2], "config absent") == 0) {
		c->config_absent = 1;
	} else {
		// "config SIZE HASH": decimal size, 16 lower-case hex digits.
		const char *q = line[2] + 7;
		char *end;
		if (!has_prefix(line[2], "config ") || parse_u64(&q, &c->config_size) < 0 || *q++ != ' ' ||
		    strlen(q) != 16 || strspn(q, "0123456789abcdef") != 16)
			return -1;
		c->config_fnv = strtoull(q, &end, 16);
		if (*end != '\0')
			return -1;
		c->config_absent = 0;
	}
	if (!has_prefix(line[3], "runtime "))
		return -1;
	c->runtime = strcmp(line[3] + 8, "-") == 0 ? "" : line[3] + 8;
	if (c->runtime[0] && c->runtime[0] != '/')
		return -1;
	if (strcmp(line[4], "path -") == 0)
		c->path = NULL;
	else if (has_prefix(line[4], "path ="))
		c->path = line[4] + 6;
	else
		return -1;
	if (!has_prefix(line[5], "run_dir /"))
		return -1;
	c->run_dir = line[5] + 8;
	return 0;
}

// notes_name_any reports whether run_dir/created holds a note (or a note's
// temporary file) of a container whose id is one of args; 1 also when the
// directory cannot be read.
static int notes_name_any(const char *run_dir, char **args, int nargs)
{
	char dir[4096 + 16];
	if (snprintf(dir, sizeof(dir), "%s/created", run_dir) >= (int)sizeof(dir))
		return 1;
	DIR *d = opendir(dir);
	if (!d)
		return errno != ENOENT;
	struct dirent *e;
	int seen = 0, hit = 0;
	while (!hit && (e = readdir(d)) != NULL) {
		if (++seen > IH_PASS_MAX_NOTES) {
			hit = 1;
			break;
		}
		const char *n = e->d_name;
		if (has_prefix(n, ".tmp-"))
			n += 5;
		for (int i = 0; i < nargs && !hit; i++) {
			size_t l = strlen(args[i]);
			if (l > 0 && strncmp(n, args[i], l) == 0 && n[l] == '.')
				hit = 1;
		}
	}
	closedir(d);
	return hit;
}

int ih_pass_decide(int argc, char **argv, const char *path_env, const char *card_dir, const char *self, char *rt, size_t rtlen,
		   int *card_state, int *asks_ima)
{
	*card_state = IH_PASS_CARD_UNCHECKED;
	*asks_ima = 0;
	if (argc < 2 || !argv[0])
		return -1;
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	const char *config = NULL, *rtflag = NULL;
	int i;
	if (strcmp(base, "ima-runtime") == 0) {
		i = 1;
	} else if (strcmp(argv[1], "runtime") == 0) {
		// The wrapper's own flags (cmd_runtime.go), as pflag reads them
		// without interspersing: up to "--" or the first non-flag.
		for (i = 2; i < argc; i++) {
			const char *a = argv[i];
			if (strcmp(a, "--") == 0) {
				i++;
				break;
			}
			if (a[0] != '-')
				break;
			if ((strcmp(a, "--config") == 0 || strcmp(a, "--runtime") == 0) && i + 1 < argc) {
				*(a[2] == 'c' ? &config : &rtflag) = argv[++i];
			} else if (has_prefix(a, "--config=")) {
				config = a + 9;
			} else if (has_prefix(a, "--runtime=")) {
				rtflag = a + 10;
			} else if (strcmp(a, "--inject-hooks") != 0 && strcmp(a, "--force-unshare") != 0) {
				return -1; // --help, --from-symlink, anything else
			}
		}
	} else {
		return -1;
	}
	if (i >= argc)
		return -1;

	if (!config)
		config = IH_PASS_DEFAULT_CONFIG;
	if (config[0] != '/')
		return -1;

	// The runtime's arguments, read for what could make the call the
	// wrapper's business, never for what they mean.
	const char *bundle[IH_PASS_MAX_BUNDLES];
	int nb = 0;
	for (int j = i; j < argc; j++) {
		const char *a = argv[j];
		// The guide's --imans, --ima-x509, --ima-kcmd with one or two
		// dashes, in every form SplitGuideFlags reads (pkg/runtime).
		const char *undashed = a[0] == '-' ? (a[1] == '-' ? a + 2 : a + 1) : NULL;
		if ((undashed && has_prefix(undashed, "ima")) || strcmp(a, "exec") == 0 || strcmp(a, "delete") == 0)
			return -1;
		const char *b = NULL;
		if (strcmp(a, "--bundle") == 0 || strcmp(a, "-b") == 0) {
			if (j + 1 >= argc)
				return -1;
			b = argv[j + 1];
		} else if (has_prefix(a, "--bundle=")) {
			b = a + 9;
		} else if (has_prefix(a, "-b") || has_prefix(a, "--b") || has_prefix(a, "-f") || has_prefix(a, "--conf")) {
			// -bDIR, -bundle (runc's single-dash long form), argp's
			// abbreviations, crun's --config/-f: Go reads those.
			return -1;
		}
		if (b) {
			if (nb == IH_PASS_MAX_BUNDLES || !b[0])
				return -1;
			bundle[nb++] = b;
		}
	}

	// Every config.json the runtime may read. Without --bundle that is the
	// working directory's, which commands other than create and run (state,
	// kill, start: no bundle at all) usually lack: none there, nothing to
	// ask for IMA. A named bundle without one is left to Go's message.
	char cfg[4096 + 16];
	if (nb == 0) {
		int r = ih_pass_scan_config("config.json");
		*asks_ima = r == IH_PASS_SCAN_IMANS;
		if (r == -1 || r == IH_PASS_SCAN_IMANS)
			return -1;
	}
	for (int k = 0; k < nb; k++) {
		if (snprintf(cfg, sizeof(cfg), "%s/config.json", bundle[k]) >= (int)sizeof(cfg))
			return -1;
		int r = ih_pass_scan_config(cfg);
		*asks_ima = r == IH_PASS_SCAN_IMANS;
		if (r < 0)
			return -1;
	}

	// The admin config's card, only now: what the call itself rules out
	// (exec, delete, a container that asks for IMA) costs no card read,
	// which matters on the namespace path. The Go wrapper rewrites the card
	// only when this found it stale (IH_PASS_CARD_STALE), i.e. on a call it
	// would otherwise have passed through; every card is checked against
	// the config's bytes and this binary before use, so one that waits for
	// such a call is never used wrongly.
	static char cardbuf[IH_PASS_CARD_MAX];
	struct card c;
	*card_state = IH_PASS_CARD_STALE;
	if (read_card(card_dir, config, cardbuf, sizeof(cardbuf), &c) < 0)
		return -1;
	struct stat st, self_st;
	if (stat(self, &self_st) < 0 || !same_exe(&self_st, c.exe))
		return -1; // written by another build of ima-hook
	unsigned long long size = 0, fnv = 0;
	int d = config_digest(config, &size, &fnv);
	if (d == -2) {
		// LoadAdmin: a missing default file is the built-in defaults.
		if (!c.config_absent || strcmp(config, IH_PASS_DEFAULT_CONFIG) != 0)
			return -1;
	} else if (d < 0 || c.config_absent || size != c.config_size || fnv != c.config_fnv) {
		return -1; // not the bytes the Go wrapper read
	}
	*card_state = IH_PASS_CARD_VALID;

	// The runtime: the flag, else the admin's as the card resolved it.
	const char *runtime = rtflag;
	if (!runtime) {
		runtime = c.runtime;
		if (!runtime[0])
			return -1;
		if (c.path) {
			if (strcmp(path_env ? path_env : "", c.path) != 0)
				return -1; // looked up in another PATH
		}
	}
	if (runtime[0] != '/' || strlen(runtime) >= rtlen)
		return -1;
	if (stat(runtime, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_dev == self_st.st_dev && st.st_ino == self_st.st_ino))
		return -1; // Go says why (or that it is ima-hook itself)

	if (notes_name_any(c.run_dir, argv + i, argc - i))
		return -1;

	memcpy(rt, runtime, strlen(runtime) + 1);
	return i;
}
