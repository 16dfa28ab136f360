#!/usr/bin/env bats
# The hook with real runc on the emulated IMA-namespace kernel
# (bin/ima-hook-emu). Containers that want IMA run behind the runtime
# wrapper, the only thing that creates an IMA namespace; the hook then
# populates that namespace at createRuntime and archives it at poststop.

load helpers
bats_require_minimum_version 1.5.0

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
	# One directory for this life of the id, named by its life id.
	arch=$(ih_archive "$id")
	[ "$(basename "$arch")" = "$(jq -r .life "$arch/record.json")" ]
	ih_expect_applied "$id" "$pol"
	jq -e '.stopped != null and .stopped != "" and .archived == "poststop"' "$arch/record.json" >/dev/null
	# The final measurement view starts at the namespace's ns_aggregate.
	ns=$(jq -r .ns_id "$arch/record.json")
	[ -f "$arch/ascii_runtime_measurements" ]
	grep -q "ns_aggregate_$ns" "$arch/ascii_runtime_measurements"
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
	[ "$(ih_archived_record "$id" | jq -r .result)" = applied ]
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
		view=$(ih_archive "$(ih_cid "seq$i")")/ascii_runtime_measurements
		[ -f "$view" ] || ih_fail "seq$i: no archived measurement view"
		[ "$(grep -c "ns_aggregate_$ns1" "$view")" -eq 1 ] || ih_fail "seq$i: view does not start at one ns_aggregate: $(cat "$view")"
	done
}

@test "runc: a reused container id keeps every life's archive; measurements --container takes the latest and lists the other" {
	# runc users choose ids: two containers with one id, one after the
	# other. Each life is archived on its own (the second never replaces
	# the first), and `measurements --container` reads the latest life and
	# names the earlier one, which --life selects.
	local id arch1 arch2 life1 life2
	id=$(ih_cid same)
	for i in 1 2; do
		ih_write_policy "same$i.policy" "measure func=BPRM_CHECK mask=MAY_EXEC uid=$i" >/dev/null
		b=$(ih_bundle "same$i" /bin/echo STARTED)
		ih_annotate "$b" io.imans.enable=true "io.imans.policy=$IH_POLICIES_DIR/same$i.policy"
		ih_add_hooks "$b"
		run ih_wrapped_runc run --bundle "$b" "$id" </dev/null
		ih_log "life $i: status $status: $output"
		[ "$status" -eq 0 ]
		[[ $output == *STARTED* ]]
		[ "$(ih_count_hook_lines "$output")" -eq 0 ]
	done
	[ ! -e "$IH_RUN_DIR/$id.json" ]
	mapfile -t lives < <(compgen -G "$IH_ARCHIVE_DIR/$id/*/record.json" | sort)
	[ "${#lives[@]}" -eq 2 ] || ih_fail "want 2 archived lives of $id, got: ${lives[*]}"
	arch1=$(dirname "${lives[0]}") arch2=$(dirname "${lives[1]}")
	life1=$(basename "$arch1") life2=$(basename "$arch2")
	[ "$(jq -r .policy_sha256 "$arch1/record.json")" = "$(ih_sha256 "$IH_POLICIES_DIR/same1.policy")" ]
	[ "$(jq -r .policy_sha256 "$arch2/record.json")" = "$(ih_sha256 "$IH_POLICIES_DIR/same2.policy")" ]
	[ -s "$arch1/ascii_runtime_measurements" ] && [ -s "$arch2/ascii_runtime_measurements" ]

	# The latest life by default; stderr names it and lists the other.
	run --separate-stderr "$IH_EMU_BIN" measurements --container "$id" --config "$IH_CONFIG"
	ih_log "measurements: status $status: $output / $stderr"
	[ "$status" -eq 0 ]
	[[ $stderr == *"life $life2"* ]] || ih_fail "latest life $life2 not named: $stderr"
	[[ $stderr == *"1 other lives with this id: $life1"* ]] || ih_fail "earlier life $life1 not listed: $stderr"
	ns2=$(jq -r .ns_id "$arch2/record.json")
	[[ ${lines[0]} == *"ns_aggregate_$ns2"* ]]
	# --life reads the earlier one.
	run --separate-stderr "$IH_EMU_BIN" measurements --container "$id" --life "$life1" --config "$IH_CONFIG"
	[ "$status" -eq 0 ]
	[[ $stderr == *"life $life1"* ]]
	[[ ${lines[0]} == *"ns_aggregate_$(jq -r .ns_id "$arch1/record.json")"* ]]
}

@test "runc: measurements --container finds a container by a unique id prefix and by the name its engine recorded" {
	b=$(ih_bundle named /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC" \
		"nerdctl/name=web-$BATS_TEST_NUMBER"
	ih_add_hooks "$b"
	id=$(ih_cid named)
	ih_start_detached named "$b"
	[ "$status" -eq 0 ]
	[ "$(ih_record_field "$id" '.names[0]')" = "web-$BATS_TEST_NUMBER" ]
	ns=$(ih_record_field "$id" .ns_id)
	for query in "web-$BATS_TEST_NUMBER" "${id:0:$((${#id} - 3))}"; do
		run --separate-stderr "$IH_EMU_BIN" measurements --container "$query" --config "$IH_CONFIG"
		ih_log "$query: status $status: $stderr"
		[ "$status" -eq 0 ]
		[[ $stderr == *"container $id (by "* ]] || ih_fail "$query: the picked container is not named: $stderr"
		[[ ${lines[0]} == *"ns_aggregate_$ns"* ]]
	done
	# An ambiguous prefix lists the candidates.
	b2=$(ih_bundle named2 /bin/sleep 300)
	ih_annotate "$b2" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b2"
	ih_start_detached named2 "$b2"
	[ "$status" -eq 0 ]
	run --separate-stderr "$IH_EMU_BIN" measurements --container "$IH_RUN_ID-$BATS_TEST_NUMBER-nam" --config "$IH_CONFIG"
	[ "$status" -eq 2 ]
	[[ $stderr == *"2 containers match this id prefix"* && $stderr == *"$id "* && $stderr == *"$(ih_cid named2)"* ]] || ih_fail "ambiguity not listed: $stderr"
}
