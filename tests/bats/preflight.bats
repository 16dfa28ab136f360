#!/usr/bin/env bats
# `ima-hook preflight` on real busybox rootfs and bundles (docs/preflight.md),
# and the hook's io.imans.preflight annotation once pkg/config reads it.
#
# The CLI tests use the release build ($IH_RELEASE_BIN); signing uses evmctl
# and needs a filesystem with security.* xattrs under $BATS_TEST_TMPDIR.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_RELEASE_BIN"
}
teardown() { ih_teardown; }

IMASIG_EXEC='appraise func=BPRM_CHECK appraise_type=imasig'

# pf_signed_rootfs: a private copy of the busybox rootfs (the shared one is
# read-only for every test) with /bin/busybox signed by a fresh key; prints
# the rootfs path, the certificate is $IH_KEYS_DIR/pf.der.
pf_signed_rootfs() {
	ih_require_cmd evmctl openssl
	local r=$BATS_TEST_TMPDIR/signed-rootfs
	cp -a "$IH_ROOTFS" "$r"
	ih_make_cert pf >/dev/null
	evmctl ima_sign --key "$BATS_TEST_TMPDIR/private/pf.pem" -a sha256 "$r/bin/busybox" >/dev/null 2>&1 ||
		skip "evmctl cannot set security.ima under $BATS_TEST_TMPDIR (no xattr support?)"
	echo "$r"
}

@test "preflight: --help teaches the flags, verdicts and exit codes" {
	run "$IH_RELEASE_BIN" preflight --help
	[ "$status" -eq 0 ]
	[[ $output == *"--rootfs"* && $output == *"--bundle"* && $output == *"Exit status"* && $output == *"refused"* ]]
}

@test "preflight: an unsigned busybox entrypoint is reported refused (exit 1)" {
	b=$(ih_bundle unsigned /bin/sh -c true)
	run "$IH_RELEASE_BIN" preflight --bundle "$b" --policy-rules "$IMASIG_EXEC"
	ih_log "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"REFUSED"*"/bin/busybox [entrypoint]"*"no security.ima"* ]]
	[[ $output == *"REFUSED: the container would not start"* ]]
	# JSON: the chain and the blocking list name the file and the rule.
	run "$IH_RELEASE_BIN" preflight --bundle "$b" --policy-rules "$IMASIG_EXEC" --format json
	[ "$status" -eq 1 ]
	[ "$(jq -r '.blocking[0].path' <<<"$output")" = /bin/busybox ]
	[ "$(jq -r '.blocking[0].cause' <<<"$output")" = no-xattr ]
	[ "$(jq -r '.blocking[0].rule.text' <<<"$output")" = "$IMASIG_EXEC" ]
	[ "$(jq -r '.entrypoint[0].role' <<<"$output")" = entrypoint ]
}

@test "preflight: a signed entrypoint passes only with its key" {
	r=$(pf_signed_rootfs)
	b=$(ih_bundle signed /bin/sh -c true)
	ih_update_config "$b" '.root.path = $r' --arg r "$r"
	run "$IH_RELEASE_BIN" preflight --bundle "$b" --policy-rules "$IMASIG_EXEC" --x509 "$IH_KEYS_DIR/pf.der"
	ih_log "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"pass"*"/bin/busybox [entrypoint]"*"verifies"* ]]
	# The kernel would look the key id up and not find it without the key.
	run "$IH_RELEASE_BIN" preflight --bundle "$b" --policy-rules "$IMASIG_EXEC"
	[ "$status" -eq 1 ]
	[[ $output == *"not in the namespace's keyring"* ]]
	# The same file changed after signing: bad signature.
	printf '\0' >>"$r/bin/busybox"
	run "$IH_RELEASE_BIN" preflight --bundle "$b" --policy-rules "$IMASIG_EXEC" --x509 "$IH_KEYS_DIR/pf.der" --format json
	[ "$status" -eq 1 ]
	[ "$(jq -r '.blocking[0].cause' <<<"$output")" = bad-signature ]
}

@test "preflight: appraise_tcb refuses a root-owned unsigned entrypoint on overlayfs, not on tmpfs (dont_appraise)" {
	b=$(ih_bundle tcb /bin/sh -c true)
	run "$IH_RELEASE_BIN" preflight --bundle "$b" --kcmd 'ima_policy=appraise_tcb'
	[ "$status" -eq 1 ]
	[[ $output == *"builtin:appraise_tcb"* ]]
	run "$IH_RELEASE_BIN" preflight --bundle "$b" --kcmd 'ima_policy=appraise_tcb' --fsmagic tmpfs
	[ "$status" -eq 0 ]
}

@test "preflight: usage errors are one ima-hook line and exit 2" {
	run "$IH_RELEASE_BIN" preflight --rootfs "$BATS_TEST_TMPDIR/missing"
	[ "$status" -eq 2 ]
	[ "$(ih_count_hook_lines "$output")" -eq 1 ]
	run "$IH_RELEASE_BIN" preflight --rootfs "$IH_ROOTFS" --policy-rules 'appraise func=BPRM'
	[ "$status" -eq 2 ]
	[[ $output == "ima-hook: --policy-rules: "* ]]
}

# --- the hook (io.imans.preflight) ---------------------------------------------

@test "hook: io.imans.preflight=enforce refuses a container whose entrypoint is unsigned" {
	ih_require_bin "$IH_EMU_BIN"
	b=$(ih_bundle enforce /bin/sh -c 'echo started')
	ih_annotate "$b" io.imans.enable=true io.imans.kcmd= "io.imans.policy-rules=$IMASIG_EXEC" io.imans.preflight=enforce
	ih_add_hooks "$b"
	ih_run_container enforce "$b"
	[ "$status" -ne 0 ]
	[[ $output != *started* ]]
	[ "$(ih_count_hook_lines "$output")" -eq 1 ]
	[[ $output == *"ima-hook: "*"/bin/busybox"* ]]
}

@test "hook: io.imans.preflight=warn starts the container and records the warning" {
	ih_require_bin "$IH_EMU_BIN"
	b=$(ih_bundle warn /bin/sh -c 'echo started')
	ih_annotate "$b" io.imans.enable=true io.imans.kcmd= "io.imans.policy-rules=$IMASIG_EXEC" io.imans.preflight=warn
	ih_add_hooks "$b"
	ih_run_container warn "$b"
	[ "$status" -eq 0 ]
	[[ $output == *started* ]]
	# The warning names the file that would be refused; runc drops a
	# successful hook's stderr, so it must be in the container's record.
	id=$(ih_cid warn)
	grep -rq '/bin/busybox' "$IH_RUN_DIR" "$IH_ARCHIVE_DIR" 2>/dev/null ||
		ih_fail "no record of $id mentions the preflight warning about /bin/busybox"
}

@test "hook: io.imans.preflight=enforce lets a signed entrypoint start" {
	ih_require_bin "$IH_EMU_BIN"
	r=$(pf_signed_rootfs)
	b=$(ih_bundle signed-enforce /bin/sh -c 'echo started')
	ih_update_config "$b" '.root.path = $r' --arg r "$r"
	ih_annotate "$b" io.imans.enable=true io.imans.kcmd= "io.imans.policy-rules=$IMASIG_EXEC" \
		io.imans.x509=pf.der io.imans.preflight=enforce
	ih_add_hooks "$b"
	ih_run_container signed-enforce "$b"
	[ "$status" -eq 0 ]
	[[ $output == *started* ]]
}

@test "preflight: a run whose time budget ran out says NOT FULLY CHECKED, never OK (exit 3)" {
	b=$(ih_bundle budget /bin/sh -c 'echo started')
	run --separate-stderr "$IH_RELEASE_BIN" preflight --bundle "$b" --policy-rules "$IMASIG_EXEC" --timeout 1ns
	[ "$status" -eq 3 ] || ih_fail "exit $status: $output"
	[[ ${lines[-1]} == "NOT FULLY CHECKED: "* ]] || ih_fail "last line: ${lines[-1]}"
	[[ $output != *"OK: "* ]]
}

@test "preflight: a missing entrypoint is UNDECIDED, not a chain that passes" {
	run "$IH_RELEASE_BIN" preflight --rootfs "$IH_ROOTFS" --entrypoint /bin/no-such-program --policy-rules "$IMASIG_EXEC"
	[ "$status" -eq 0 ] || ih_fail "exit $status: $output"
	[[ ${lines[-1]} == "UNDECIDED: "*"/bin/no-such-program"* ]] || ih_fail "last line: ${lines[-1]}"
	[[ $output != *passes* ]]
	run "$IH_RELEASE_BIN" preflight --rootfs "$IH_ROOTFS" --entrypoint /bin/no-such-program --policy-rules "$IMASIG_EXEC" --strict
	[ "$status" -eq 1 ]
}

@test "preflight: a file name with a newline and ESC cannot forge a report line" {
	r=$BATS_TEST_TMPDIR/hostile-rootfs
	cp -a "$IH_ROOTFS" "$r"
	printf x >"$r/bin/evil"$'\n'"REFUSED bin-busybox [entrypoint]"$'\e'"[2J"
	run "$IH_RELEASE_BIN" preflight --rootfs "$r" --all --policy-rules 'appraise func=FILE_CHECK'
	[ "$status" -eq 0 ] || ih_fail "exit $status: $output"
	! grep -q $'\e' <<<"$output" || ih_fail "ESC reached the report"
	! grep -q '^REFUSED ' <<<"$output" || ih_fail "a line was forged: $output"
	grep -q '"/bin/evil\\nREFUSED' <<<"$output" || ih_fail "the name is not shown quoted: $output"
}

@test "hook: io.imans.preflight=enforce refuses a container whose entrypoint it cannot judge" {
	ih_require_bin "$IH_EMU_BIN"
	b=$(ih_bundle undecided /bin/no-such-program)
	ih_annotate "$b" io.imans.enable=true io.imans.kcmd= "io.imans.policy-rules=$IMASIG_EXEC" io.imans.preflight=enforce
	ih_add_hooks "$b"
	ih_run_container undecided "$b"
	[ "$status" -ne 0 ]
	[ "$(ih_count_hook_lines "$output")" -eq 1 ] || ih_fail "$output"
	[[ $output == *"ima-hook: io.imans.preflight: the appraisal preflight cannot tell whether the container would start: "*"/bin/no-such-program"* ]] ||
		ih_fail "$output"
}
