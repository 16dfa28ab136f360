#!/usr/bin/env bats
# The hook under real podman: the shipped hooks.d templates rendered into a
# --hooks-dir (podman's own loader decides which containers get the hook),
# the emulated build behind the runtime wrapper as --runtime, a busybox
# --rootfs. Podman runs poststop itself, with an empty environment.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_EMU_BIN"
	ih_require_cmd "$IH_PODMAN"
	ih_render_hooks_dir "$IH_EMU_BIN"
}

teardown() { ih_teardown; }

# wait_for_archive ID: podman may run poststop after `podman run --rm`
# returned (conmon's cleanup); wait up to 20 s for ID's archive.
wait_for_archive() {
	local i
	for i in $(seq 200); do
		ih_archive "$1" >/dev/null && return 0
		sleep 0.1
	done
	ih_fail "$1 did not appear"
}

@test "podman: an annotated container gets its policy in its own namespace; poststop archives it" {
	pol=$(ih_write_policy tenant.policy "measure func=BPRM_CHECK mask=MAY_EXEC" "dont_measure fsmagic=0x62656572")
	cidfile=$BATS_TEST_TMPDIR/cid
	run ih_podman_run --cidfile "$cidfile" --annotation io.imans.enable=true \
		--annotation "io.imans.policy=$pol" -- /bin/echo STARTED
	[ "$status" -eq 0 ]
	[[ $output == *STARTED* ]]
	id=$(cat "$cidfile")
	wait_for_archive "$id"
	ih_expect_applied "$id" "$pol"
	[ ! -e "$IH_RUN_DIR/$id.json" ]
}

@test "podman: the namespace is live with the policy while the container runs" {
	pol=$(ih_write_policy live.policy "measure func=FILE_CHECK mask=MAY_READ uid=0")
	cidfile=$BATS_TEST_TMPDIR/cid
	ih_podman_run --cidfile "$cidfile" --annotation io.imans.enable=true \
		--annotation "io.imans.policy=$pol" -d -- /bin/sleep 300 >/dev/null
	id=$(cat "$cidfile")
	ih_expect_applied "$id" "$pol"
	pid=$("$IH_PODMAN" inspect -f '{{.State.Pid}}' "$id")
	[ "$(ih_ns_of_pid "$pid")" = "$(ih_record_field "$id" .ns_id)" ]
	# Built-ins of the default kcmd first, then the policy's rule.
	diff <(ih_emu_rules "$pid" | tail -n 1) "$pol"
	"$IH_PODMAN" rm -f "$id" >/dev/null
	wait_for_archive "$id"
}

@test "podman: measurements --container finds a container by its podman name" {
	# podman puts no name into config.json, so the record has the id only:
	# measurements asks podman (on PATH) for the name's id.
	name=ih-$IH_RUN_ID-$BATS_TEST_NUMBER-web
	cidfile=$BATS_TEST_TMPDIR/cid
	ih_podman_run --cidfile "$cidfile" --name "$name" --annotation io.imans.enable=true \
		--annotation "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC" -d -- /bin/sleep 300 >/dev/null
	id=$(cat "$cidfile")
	ns=$(ih_record_field "$id" .ns_id)
	[ "$(ih_record_field "$id" '.names // [] | length')" = 0 ] || ih_fail "the record has names: podman now records them, so this test no longer tests the engine lookup"
	run --separate-stderr "$IH_EMU_BIN" measurements --container "$name" --config "$IH_CONFIG"
	ih_log "status $status: $stderr"
	[ "$status" -eq 0 ] || ih_fail "measurements --container $name: $stderr"
	[[ $stderr == *"--container $name: container $id (by podman name)"* ]] || ih_fail "the picked container is not named: $stderr"
	[[ ${lines[0]} == *"ns_aggregate_$ns"* ]]
	"$IH_PODMAN" rm -f "$id" >/dev/null
	wait_for_archive "$id"
}

@test "podman: an unannotated container gets no hook and starts" {
	cidfile=$BATS_TEST_TMPDIR/cid
	run ih_podman_run --cidfile "$cidfile" -- /bin/echo STARTED
	[ "$status" -eq 0 ]
	[[ $output == *STARTED* ]]
	id=$(cat "$cidfile")
	sleep 1
	[ ! -e "$IH_RUN_DIR/$id.json" ]
	[ ! -e "$IH_ARCHIVE_DIR/$id" ]
	run compgen -G "$IH_RUN_DIR/*.json"
	[ "$status" -ne 0 ]
}

@test "podman: io.imans.enable=false does not match the hooks.d file" {
	# Would be refused if the hook ran (bad kcmd): proves the match, not
	# the hook, kept it out.
	run ih_podman_run --annotation io.imans.enable=false \
		--annotation io.imans.kcmd=ima_hash=sha1 -- /bin/echo STARTED
	[ "$status" -eq 0 ]
	[[ $output == *STARTED* ]]
}

@test "podman: an invalid config refuses the container with one line naming the annotation" {
	run ih_podman_run --annotation io.imans.enable=true \
		--annotation io.imans.required=perhaps -- /bin/echo STARTED
	[ "$status" -ne 0 ]
	[[ $output != *STARTED* ]]
	ih_expect_one_hook_line io.imans.required
}

@test "podman: without the wrapper (plain runc) required IMA is refused" {
	run ih_podman_run --runtime "$IH_RUNC" --annotation io.imans.enable=true \
		--annotation "io.imans.policy-rules=measure func=BPRM_CHECK" -- /bin/echo STARTED
	[ "$status" -ne 0 ]
	[[ $output != *STARTED* ]]
	[ "$(ih_count_hook_lines "$output")" -eq 1 ]
	[[ $output == *wrapper* ]]
}
