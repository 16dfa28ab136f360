// Shared between nsenter.c and the cgo preamble. The names and limits here
// are the plan encoding documented in doc.go; encode.go mirrors them.
#ifndef IMA_HOOK_NSENTER_H
#define IMA_HOOK_NSENTER_H

#include <stddef.h>

#define NSENTER_VERSION "1"
#define NSENTER_ENV_PREFIX "_IMA_HOOK_NSENTER"
#define NSENTER_ENV_MARKER "_IMA_HOOK_NSENTER"
#define NSENTER_ENV_SETNS_PATH "_IMA_HOOK_NSENTER_SETNS_PATH"
#define NSENTER_ENV_SETNS_FD "_IMA_HOOK_NSENTER_SETNS_FD"
#define NSENTER_ENV_UNSHARE "_IMA_HOOK_NSENTER_UNSHARE"
#define NSENTER_ENV_WRITE "_IMA_HOOK_NSENTER_WRITE_"
#define NSENTER_ENV_NSID_LINK "_IMA_HOOK_NSENTER_NSID_LINK"
#define NSENTER_ENV_NSID_FILE "_IMA_HOOK_NSENTER_NSID_FILE"
#define NSENTER_ENV_FORK "_IMA_HOOK_NSENTER_FORK"
#define NSENTER_ENV_EXEC "_IMA_HOOK_NSENTER_EXEC"
#define NSENTER_ENV_STAGE "_IMA_HOOK_NSENTER_STAGE"
#define NSENTER_ENV_ERRLOG "_IMA_HOOK_NSENTER_ERRLOG"

#define NSENTER_MAX_PATH 4096
#define NSENTER_MAX_DATA 4095 /* the *_for_children writers refuse count >= PAGE_SIZE */
#define NSENTER_MAX_WRITES 8
#define NSENTER_MAX_STAGE 64

#define NSENTER_CLONE_NEWIMA 0x400000000ULL

/* Exit codes of a failed step (the one-line reason is on stderr). */
#define NSENTER_EXIT_PLAN 120
#define NSENTER_EXIT_SETNS 121
#define NSENTER_EXIT_UNSHARE 122
#define NSENTER_EXIT_WRITE 123
#define NSENTER_EXIT_NSID 124
#define NSENTER_EXIT_FORK 125
#define NSENTER_EXIT_EXEC 126
#define NSENTER_EXIT_EXEC_NOENT 127

struct nsenter_write {
	char path[NSENTER_MAX_PATH + 1];
	char data[NSENTER_MAX_DATA];
	size_t len;
};

struct nsenter_plan {
	int active;
	char setns_path[NSENTER_MAX_PATH + 1];
	int setns_fd;
	unsigned long long unshare;
	int nwrites;
	struct nsenter_write writes[NSENTER_MAX_WRITES];
	char nsid_link[NSENTER_MAX_PATH + 1];
	char nsid_file[NSENTER_MAX_PATH + 1];
	int fork;
	int exec;
	char stage[NSENTER_MAX_STAGE + 1];
	char errlog[NSENTER_MAX_PATH + 1]; /* the runtime's --log file, "" for none */
	int errlog_json;                   /* --log-format json */
};

int nsenter_parse(char **env, struct nsenter_plan *p, char *err, size_t errlen);

// A hand-off request (nsenter.c, hand_off) is at most this long and holds
// at most this many strings in each of argv and the environment.
#define NSENTER_MAX_REQUEST (1 << 20)
#define NSENTER_MAX_REQUEST_STRINGS 65536
int nsenter_parse_request(char *buf, size_t n, char ***argv, int *argc, char ***env, char *err, size_t errlen);
int nsenter_handoff_fd(void);
int nsenter_handoff_parent(void);
int nsenter_log_quote(char *out, size_t cap, size_t n, const char *s);
const char *nsenter_stage_name(void);
int nsenter_single_threaded_entry(void);
int nsenter_pass_card_state(void);

#endif
