#!/usr/bin/env bats
# The README's main job, `make demo` (scripts/demo.sh), run as the README
# runs it: real podman and runc, the emulated IMA-namespace kernel. The demo
# broke once without any suite noticing (its self-signed key stopped loading
# when the emulated kernel's default became the trusted keyring's rule), so
# it is a test now: it must finish, and what it shows must hold.

load helpers

setup() {
	ih_require_root
	ih_require_bin "$IH_EMU_BIN"
	ih_require_cmd podman runc jq openssl
}

@test "make demo: both containers get their namespace, policy and key; a wrong config is refused; an unannotated one is left alone" {
	run --separate-stderr timeout "$IH_TIMEOUT" "$IH_REPO_ROOT/scripts/demo.sh"
	printf '%s\n' "$output" >&2
	((status == 0)) || ih_fail "demo.sh exited $status: $stderr"
	# podman: applied with its key (and the same key id evmctl computes).
	[[ $output == *'"result": "applied"'* ]] || ih_fail "no applied record"
	key=$(sed -nE 's/.*"key_id": "([0-9a-f]{8})".*/\1/p' <<<"$output" | head -n1)
	[[ -n $key ]] || ih_fail "the podman container's record has no key id"
	[[ $output == *"evmctl's key id for the same key: $key"* ]] || ih_fail "evmctl's key id differs from the record's $key"
	# Each container's policy is what is in force in its namespace.
	[[ $output == *"| measure func=MMAP_CHECK mask=MAY_EXEC"* ]] || ih_fail "podman's policy not in force"
	[[ $output == *"| measure func=FILE_CHECK mask=MAY_READ uid=0"* ]] || ih_fail "runc's inline rules not in force"
	# Both containers were born into a namespace other than the host's.
	(($(grep -c '| container: ima:\[4026532' <<<"$output") == 2)) || ih_fail "not both containers in a new namespace"
	(($(grep -c 'verification passed' <<<"$output") == 2)) || ih_fail "not both views verified"
	[[ $output == *"record.json"* ]] || ih_fail "poststop archived nothing"
	[[ $output == *'ima-hook: io.imans.kcmd: kcmd parameter "ima_hash"'* ]] || ih_fail "the wrong config was not refused in one line"
	[[ $output == *"no IMA namespace was made for it"* ]] || ih_fail "the unannotated container did not run untouched"
	[[ $output == *"records written: 0 live"* ]] || ih_fail "live records left behind"
}
