#!/usr/bin/env bats
# The hook under crun, which differs from runc where it matters to a hook:
# the createRuntime state says "created" (runc: "creating"), and crun throws
# a hook's stdout/stderr away unless the annotation run.oci.hooks.stderr
# names a file. Skipped where crun cannot run containers at all (crun 1.8.1
# on hosts with hybrid cgroups: docs/testing.md "Machine facts").

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_EMU_BIN"
	CRUN=$(command -v crun) || skip "crun is not installed"
	CRUN_ROOT=$BATS_TEST_TMPDIR/crun-root
	local probe out
	probe=$(ih_bundle crunprobe /bin/true)
	if ! out=$(timeout 60 "$CRUN" --root "$CRUN_ROOT" run --bundle "$probe" "$(ih_cid crunprobe)" </dev/null 2>&1); then
		skip "crun cannot run containers on this host: ${out//$'\n'/ }"
	fi
	CW=$IH_TEST_BIN/ima-runtime-crun
	printf '#!/bin/sh\nIMA_HOOK_EMU_DIR=%s\nexport IMA_HOOK_EMU_DIR\nexec %s runtime --config %s --runtime %s -- "$@"\n' \
		"$IMA_HOOK_EMU_DIR" "$IH_EMU_BIN" "$IH_CONFIG" "$CRUN" >"$CW"
	chmod +x "$CW"
}

teardown() {
	local id
	if [[ -n ${CRUN:-} && -d ${CRUN_ROOT:-/nonexistent} ]]; then
		for id in $("$CRUN" --root "$CRUN_ROOT" list -q 2>/dev/null); do
			"$CRUN" --root "$CRUN_ROOT" delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	ih_teardown
}

@test "crun: an annotated container gets its policy in its own namespace; poststop archives it" {
	pol=$(ih_write_policy c.policy "measure func=BPRM_CHECK mask=MAY_EXEC")
	b=$(ih_bundle c1 /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy=$pol"
	ih_add_hooks "$b"
	id=$(ih_cid c1)
	run timeout "$IH_TIMEOUT" "$CW" --root "$CRUN_ROOT" run --bundle "$b" "$id" </dev/null
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	[[ $output == *STARTED* ]]
	ih_expect_applied "$id" "$pol"
	[ -f "$(ih_archive "$id")/record.json" ]
}

@test "crun: an invalid config is refused; the one line lands in run.oci.hooks.stderr" {
	b=$(ih_bundle c2 /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true io.imans.required=maybe \
		"run.oci.hooks.stderr=$BATS_TEST_TMPDIR/hooks.stderr"
	ih_add_hooks "$b"
	run timeout "$IH_TIMEOUT" "$CRUN" --root "$CRUN_ROOT" run --bundle "$b" "$(ih_cid c2)" </dev/null
	[ "$status" -ne 0 ]
	[[ $output != *STARTED* ]]
	output=$(cat "$BATS_TEST_TMPDIR/hooks.stderr")
	ih_expect_one_hook_line io.imans.required
}
