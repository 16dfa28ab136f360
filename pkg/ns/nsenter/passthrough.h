// The pass-through pre-filter (passthrough.c): what it shares with the cgo
// preamble and the card writer (passcard.go). The card format is
// documented in passcard.go, which writes it; passthrough.c only reads it.
#ifndef IMA_HOOK_PASSTHROUGH_H
#define IMA_HOOK_PASSTHROUGH_H

#include <stddef.h>

// Where the cards live. Test builds (imaemu, timens) may move it with the
// environment variable IH_PASS_CARD_DIR_ENV names; the release build never
// reads the environment for it.
#define IH_PASS_CARD_DIR "/run/ima-hook-passthrough"
#define IH_PASS_CARD_DIR_ENV "IMA_HOOK_PASS_CARD_DIR"
#define IH_PASS_CARD_MAGIC "ima-hook pass-through card 1"
#define IH_PASS_CARD_MAX 8192

// The admin config the wrapper reads when no --config is given
// (pkg/config.DefaultPath; a test keeps them equal).
#define IH_PASS_DEFAULT_CONFIG "/etc/ima-hook/ima-hook.toml"

// The admin config's bound (pkg/config maxAdminSize).
#define IH_PASS_MAX_ADMIN (1 << 20)

// A bundle config larger than this is left to Go (which streams it).
#define IH_PASS_MAX_CONFIG (16 << 20)

// What the pre-filter found of the admin config's card, for the Go
// wrapper: it rewrites the card when it was found stale.
#define IH_PASS_CARD_UNCHECKED 0 // not read: the call was declined before it
#define IH_PASS_CARD_STALE 1     // missing, unreadable, or not this binary's or this config's
#define IH_PASS_CARD_VALID 2

// ih_pass_decide returns the index in argv where the runtime's arguments
// start and fills rt with the runtime to exec, when the invocation provably
// needs nothing of the wrapper; -1 (the Go wrapper decides) otherwise.
// path_env is the value of PATH (NULL when unset); card_dir the directory
// of the cards; self the path of the running
// binary (/proc/self/exe); *card_state says what became of the card, and
// *asks_ima is 1 when it declined because a bundle config mentions
// "imans" (the call probably creates a namespace: the constructor then
// hands the Go wrapper's work to a child, nsenter.c's hand_off).
int ih_pass_decide(int argc, char **argv, const char *path_env, const char *card_dir, const char *self, char *rt, size_t rtlen,
		   int *card_state, int *asks_ima);

// ih_pass_card_name writes the card file name of an admin config path (16
// hex digits of its FNV-1a 64 hash and a NUL) into out[17].
void ih_pass_card_name(const char *config_path, char out[17]);

// ih_pass_scan_config returns 0 when the file at path is a regular file of
// at most IH_PASS_MAX_CONFIG bytes that contains neither "imans" (in any
// case) nor a JSON \u escape, IH_PASS_SCAN_IMANS when it stopped at an
// "imans", -2 when there is no such file (ENOENT), -1 otherwise
// (including any other error).
#define IH_PASS_SCAN_IMANS (-3)
int ih_pass_scan_config(const char *path);

#endif
