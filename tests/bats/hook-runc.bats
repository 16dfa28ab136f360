#!/usr/bin/env bats
# The hook with real runc on the emulated IMA-namespace kernel
# (bin/ima-hook-emu). Containers that want IMA run behind the runtime
# wrapper, the only thing that creates an IMA namespace; the hook then
# populates that namespace at createRuntime and archives it at poststop.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_EMU_BIN"
}

teardown() { ih_teardown; }

@test "runc: an annotated container gets its policy file in its own IMA namespace" {
	local pol
	pol=$(ih_write_policy tenant-a.policy \
		"measure func=BPRM_CHECK mask=MAY_EXEC" \
		"dont_measure fsmagic=0x9fa0" \
		"measure func=FILE_CHECK mask=MAY_READ uid=0")
	b=$(ih_bundle a /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy=$pol"
	ih_add_hooks "$b"
	id=$(ih_cid a)

	ih_start_detached a "$b"
	[ "$status" -eq 0 ]
	ih_expect_applied "$id" "$pol"

	# The emulated kernel agrees: the container's init lives in the
	# recorded namespace, not the host's, and that namespace has exactly
	# the policy's rules in force.
	pid=$(ih_container_pid "$id")
	ns=$(ih_record_field "$id" .ns_id)
	[ "$(ih_ns_of_pid "$pid")" = "$ns" ]
	[ "$(ih_ns_of_pid 1)" = "$IH_HOST_NS" ]
	[ "$(ih_ns_of_pid $$)" = "$IH_HOST_NS" ]
	# In force: the policy's rules alone; they replace the built-ins of
	# the default kcmd (ima_policy=tcb) as the kernel's first load does
	# (docs/configuration.md "What the namespace ends up with").
	diff <(ih_emu_rules "$pid") "$pol"
	[ "$(ih_record_field "$id" .builtins_replaced)" = true ]
	[ "$(ih_record_field "$id" .ns_created_by_wrapper)" = true ]
	[ "$(ih_record_field "$id" .ns_aggregate_present)" = true ]
	[ "$(ih_record_field "$id" .policy_rules)" -eq 3 ]

	# The namespace measures what its own policy says, separately from
	# the host: the host's list has the entry, tagged with the namespace.
	ih_emu measure --pid "$pid" /bin/busybox-exec-probe
	run ih_emu count --pid "$pid"
	[ "$status" -eq 0 ]
	[ "$output" -ge 1 ]
}

@test "runc: inline io.imans.policy-rules with an empty kcmd are exactly the rules in force" {
	local rules=$'measure func=BPRM_CHECK mask=MAY_EXEC\nmeasure func=MMAP_CHECK mask=MAY_EXEC'
	b=$(ih_bundle inline /bin/sleep 300)
	# An empty kcmd: no built-in policy, so nothing but these rules.
	ih_annotate "$b" io.imans.enable=true "io.imans.kcmd=" "io.imans.policy-rules=$rules"
	ih_add_hooks "$b"
	id=$(ih_cid inline)

	ih_start_detached inline "$b"
	[ "$status" -eq 0 ]
	ih_expect_applied "$id" "$(ih_sha256_str "$rules"$'\n')"
	pid=$(ih_container_pid "$id")
	diff <(ih_emu_rules "$pid") <(printf '%s\n' "$rules")
}

@test "runc: the appraisal key's IMA key id is recorded as evmctl computes it" {
	ih_require_cmd evmctl openssl
	cert=$(ih_make_cert tenant)
	want=$(ih_evmctl_keyid tenant)
	b=$(ih_bundle key /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.x509=$cert" \
		"io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b"
	id=$(ih_cid key)

	ih_start_detached key "$b"
	[ "$status" -eq 0 ]
	[ "$(ih_record_field "$id" .result)" = applied ]
	[ "$(ih_record_field "$id" .key_id)" = "$want" ]
	[ "$(ih_record_field "$id" .key_path)" = "$cert" ]
	# The emulated kernel holds the key in the container's namespace.
	ns=$(ih_record_field "$id" .ns_id)
	run ih_emu namespaces
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --argjson ns "$ns" --argjson kid "$((16#$want))" '
		[(. // [])[] | select(.id == $ns)] | length == 1 and any(.[0].key_ids[]?; . == $kid)' >/dev/null
}

@test "runc: an unannotated container is untouched and starts" {
	b=$(ih_bundle plain /bin/sh -c 'echo STARTED; sleep 300')
	ih_add_hooks "$b"
	id=$(ih_cid plain)

	ih_start_detached plain "$b"
	[ "$status" -eq 0 ]
	[ "$(ih_count_hook_lines "$output")" -eq 0 ]
	pid=$(ih_container_pid "$id")
	[ "$(ih_ns_of_pid "$pid")" = "$IH_HOST_NS" ]
	# No record and no namespace: the hook wrote nothing.
	run compgen -G "$IH_RUN_DIR/*.json"
	[ "$status" -ne 0 ]
	run ih_emu namespaces
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq '[(. // [])[] | select(.id != 4026531833)] | length')" -eq 0 ]
	for _ in $(seq 50); do grep -q STARTED "$BATS_TEST_TMPDIR/plain.out" && break; sleep 0.1; done
	grep -q STARTED "$BATS_TEST_TMPDIR/plain.out"
}

@test "runc: io.imans.enable=false is the same as no annotation" {
	b=$(ih_bundle off /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=false "io.imans.kcmd=ima_policy=tcb"
	ih_add_hooks "$b"
	ih_run_container off "$b"
	[ "$status" -eq 0 ]
	[[ $output == *STARTED* ]]
	run compgen -G "$IH_RUN_DIR/*.json"
	[ "$status" -ne 0 ]
	[ ! -e "$IH_ARCHIVE_DIR/$(ih_cid off)" ]
}

@test "runc: poststop archives the record under the archive dir and drops the live one" {
	pol=$(ih_write_policy p.policy "measure func=BPRM_CHECK mask=MAY_EXEC")
	b=$(ih_bundle arch /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy=$pol"
	ih_add_hooks "$b"
	id=$(ih_cid arch)

	# Foreground run: runc deletes the container when it exits, which runs
	# the poststop hook.
	ih_run_container arch "$b"
	[ "$status" -eq 0 ]
	[[ $output == *STARTED* ]]
	[ ! -e "$IH_RUN_DIR/$id.json" ]
	[ -f "$IH_ARCHIVE_DIR/$id/record.json" ]
	ih_expect_applied "$id" "$pol"
	jq -e '.stopped != null and .stopped != ""' "$IH_ARCHIVE_DIR/$id/record.json" >/dev/null
	# The final measurement view starts at the namespace's ns_aggregate.
	ns=$(jq -r .ns_id "$IH_ARCHIVE_DIR/$id/record.json")
	[ -f "$IH_ARCHIVE_DIR/$id/ascii_runtime_measurements" ]
	grep -q "ns_aggregate_$ns" "$IH_ARCHIVE_DIR/$id/ascii_runtime_measurements"
}

@test "runc: poststop after kill and delete of a detached container archives it" {
	b=$(ih_bundle det /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b"
	id=$(ih_cid det)
	ih_start_detached det "$b"
	[ "$status" -eq 0 ]
	[ -f "$IH_RUN_DIR/$id.json" ]
	run ih_delete "$id"
	[ "$status" -eq 0 ]
	[ ! -e "$IH_RUN_DIR/$id.json" ]
	[ "$(jq -r .result "$IH_ARCHIVE_DIR/$id/record.json")" = applied ]
}

@test "runc: without the wrapper, required IMA refuses and names the wrapper" {
	b=$(ih_bundle nowrap /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b"
	ih_run_container --no-wrapper nowrap "$b"
	[ "$status" -ne 0 ]
	[[ $output != *STARTED* ]]
	[ "$(ih_count_hook_lines "$output")" -eq 1 ]
	[[ $output == *wrapper* ]]
	[ -z "$(ih_runc list -q)" ]
}

@test "runc: without the wrapper, optional IMA starts the container and records why" {
	b=$(ih_bundle nowrap-opt /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true io.imans.required=false \
		"io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b"
	id=$(ih_cid nowrap-opt)
	ih_run_container --no-wrapper nowrap-opt "$b"
	[ "$status" -eq 0 ]
	[[ $output == *STARTED* ]]
	result=$(ih_record_field "$id" .result)
	[[ $result == skipped:* ]]
}

@test "runc: the hook reads the stage from --stage, not from the state's status" {
	# crun says "created" where runc says "creating"; a state with a
	# misleading status must not change what the hook does.
	pol=$(ih_write_policy s.policy "measure func=BPRM_CHECK mask=MAY_EXEC")
	b=$(ih_bundle st /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy=$pol"
	ih_add_hooks "$b"
	id=$(ih_cid st)
	ih_start_detached st "$b"
	[ "$status" -eq 0 ]
	pid=$(ih_container_pid "$id")
	state=$(jq -n --arg id "$id" --argjson pid "$pid" --arg b "$b" --arg pol "$pol" \
		'{ociVersion: "1.0", id: $id, status: "stopped", pid: $pid, bundle: $b,
		  annotations: {"io.imans.enable": "true", "io.imans.policy": $pol}}')
	run "$IH_EMU_BIN" hook --stage createRuntime --config "$IH_CONFIG" <<<"$state"
	ih_log "hook: status $status: $output"
	[ "$status" -eq 0 ]
	[ "$(ih_record_field "$id" .result)" = applied ]
	[ "$(ih_record_field "$id" .policy_sha256)" = "$(ih_sha256 "$pol")" ]
	# No --stage: refused with the one-line error naming --stage.
	run "$IH_EMU_BIN" hook --config "$IH_CONFIG" <<<"$state"
	[ "$status" -ne 0 ]
	ih_expect_one_hook_line --stage
}

@test "runc: a reused namespace id archives only its own life (from its ns_aggregate on)" {
	# The kernel hands a dead namespace's id to the next one (ns_alloc_inum);
	# the host list keeps the old entries. Two containers one after the
	# other get the same id; each archive must hold its own view, and
	# poststop must not fail.
	local i id
	for i in 1 2 3; do
		ih_write_policy "p$i.policy" "measure func=BPRM_CHECK mask=MAY_EXEC uid=$i" >/dev/null
		b=$(ih_bundle "seq$i" /bin/echo STARTED)
		ih_annotate "$b" io.imans.enable=true "io.imans.policy=$IH_POLICIES_DIR/p$i.policy"
		ih_add_hooks "$b"
		ih_run_container "seq$i" "$b"
		[ "$status" -eq 0 ]
		[[ $output != *poststop* ]] || ih_fail "poststop failed: $output"
		[ "$(ih_count_hook_lines "$output")" -eq 0 ]
		id=$(ih_cid "seq$i")
		ih_expect_applied "$id" "$IH_POLICIES_DIR/p$i.policy"
	done
	ns1=$(ih_record_field "$(ih_cid seq1)" .ns_id)
	ns3=$(ih_record_field "$(ih_cid seq3)" .ns_id)
	[ "$ns1" = "$ns3" ] || skip "the emulated kernel did not reuse namespace ids ($ns1, $ns3)"
	for i in 1 2 3; do
		view=$IH_ARCHIVE_DIR/$(ih_cid "seq$i")/ascii_runtime_measurements
		[ -f "$view" ] || ih_fail "seq$i: no archived measurement view"
		[ "$(grep -c "ns_aggregate_$ns1" "$view")" -eq 1 ] || ih_fail "seq$i: view does not start at one ns_aggregate: $(cat "$view")"
	done
}
