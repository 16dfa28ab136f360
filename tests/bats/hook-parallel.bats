#!/usr/bin/env bats
# Twenty containers started at once, each with its own policy, must each
# end up with their own namespace holding their own policy: no crossed
# records, no shared namespace, no lost write under the emulator's lock.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_EMU_BIN"
}

teardown() { ih_teardown; }

N=20

@test "parallel: 20 containers with different policies each get their own" {
	local i
	for ((i = 1; i <= N; i++)); do
		ih_policy_rules $((i % 7 + 1)) "$i" >"$IH_POLICIES_DIR/p$i.policy"
		b=$(ih_bundle "c$i" /bin/sleep 300)
		# Empty kcmd: no built-in rules, so each namespace must hold
		# exactly its own policy.
		ih_annotate "$b" io.imans.enable=true "io.imans.kcmd=" "io.imans.policy=$IH_POLICIES_DIR/p$i.policy"
		ih_add_hooks "$b"
	done
	# Start all at once.
	for ((i = 1; i <= N; i++)); do
		(
			rc=0
			ih_wrapped_runc run -d --bundle "$IH_BUNDLES_DIR/c$i" "$(ih_cid "c$i")" \
				</dev/null >"$BATS_TEST_TMPDIR/c$i.out" 2>&1 || rc=$?
			echo "$rc" >"$BATS_TEST_TMPDIR/c$i.rc"
		) &
	done
	wait
	local bad=0
	for ((i = 1; i <= N; i++)); do
		rc=$(cat "$BATS_TEST_TMPDIR/c$i.rc")
		if [ "$rc" -ne 0 ]; then
			ih_log "container c$i: exit $rc: $(cat "$BATS_TEST_TMPDIR/c$i.out")"
			bad=$((bad + 1))
		fi
	done
	if ((bad > 0)); then
		ih_emu log | tail -n 40 | sed 's/^/# emu log: /' >&2 || true
		ih_fail "$bad of $N containers did not start"
	fi

	# Each record matches its own policy, each namespace is distinct, and
	# the emulated kernel holds that policy in that namespace.
	: >"$BATS_TEST_TMPDIR/ns-ids"
	for ((i = 1; i <= N; i++)); do
		id=$(ih_cid "c$i")
		ih_expect_applied "$id" "$IH_POLICIES_DIR/p$i.policy"
		ns=$(ih_record_field "$id" .ns_id)
		echo "$ns" >>"$BATS_TEST_TMPDIR/ns-ids"
		pid=$(ih_container_pid "$id")
		[ "$(ih_ns_of_pid "$pid")" = "$ns" ] || ih_fail "c$i: init in $(ih_ns_of_pid "$pid"), record says $ns"
		diff <(ih_emu_rules "$pid") "$IH_POLICIES_DIR/p$i.policy" || ih_fail "c$i: wrong rules in force"
	done
	[ "$(sort -u "$BATS_TEST_TMPDIR/ns-ids" | wc -l)" -eq "$N" ]

	# Delete all at once: every poststop archives its own record.
	for ((i = 1; i <= N; i++)); do
		ih_delete "$(ih_cid "c$i")" >/dev/null 2>&1 &
	done
	wait
	for ((i = 1; i <= N; i++)); do
		id=$(ih_cid "c$i")
		ih_archive "$id" >/dev/null || ih_fail "c$i not archived"
		[ ! -e "$IH_RUN_DIR/$id.json" ]
		[ "$(ih_archived_record "$id" | jq -r .policy_sha256)" = "$(ih_sha256 "$IH_POLICIES_DIR/p$i.policy")" ]
	done
}
