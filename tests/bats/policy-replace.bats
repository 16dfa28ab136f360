#!/usr/bin/env bats
# One answer to "what policy is in force": a custom policy replaces the
# kcmd's built-in rules, as the kernel's first load does (architecture rules
# stay). The namespace, the record and `ima-hook policy check --explain`
# agree, and a custom exclusion such as Keylime's overlayfs `dont_measure`
# is not shadowed by built-ins written in front of it (docs/policy.md "What
# is in force"). Runs on the default emulated platform (no secure boot, no
# architecture rules) and, from the switch matrix, with secure_boot=true.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_EMU_BIN"
	ih_require_bin "$IH_RELEASE_BIN"
	KEYLIME=$(ih_write_policy keylime.policy \
		"dont_measure fsmagic=0x794c7630" \
		"measure func=BPRM_CHECK" \
		"measure func=MMAP_CHECK mask=MAY_EXEC")
	KCONFIG=$BATS_TEST_DIRNAME/../../pkg/policy/testdata/oracle/kernel-6.1.config
}

# arch_rules: the architecture rules of the emulated platform, which every
# namespace has (the emulator's openEuler profile has CONFIG_KEXEC_SIG and
# CONFIG_MODULE_SIG, so only the measure halves). The kernel config
# policy check reads here describes no platform, so it lists none.
arch_rules() {
	if [[ $(ih_switch secure_boot) == true ]]; then
		printf '%s\n' "measure func=KEXEC_KERNEL_CHECK" "measure func=MODULE_CHECK"
	fi
}

teardown() { ih_teardown; }

# run_keylime NAME [ANNOTATION...]: a wrapped container with the Keylime
# policy (and the admin's default kcmd, ima_policy=tcb, unless an
# annotation overrides it); sets id and pid.
run_keylime() {
	local name=$1
	shift
	b=$(ih_bundle "$name" /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy=$KEYLIME" "$@"
	ih_add_hooks "$b"
	id=$(ih_cid "$name")
	ih_start_detached "$name" "$b"
	[ "$status" -eq 0 ]
	ih_expect_applied "$id" "$KEYLIME"
	pid=$(ih_container_pid "$id")
}

@test "policy-replace: with the admin's ima_policy=tcb, the namespace holds exactly the Keylime rules (after any architecture rules)" {
	run_keylime dflt
	# Exactly the custom rules: the tcb built-ins, whose
	# `measure func=BPRM_CHECK mask=MAY_EXEC` would decide every exec
	# before the overlayfs exclusion, are not in force.
	{ arch_rules; cat "$KEYLIME"; } >"$BATS_TEST_TMPDIR/want"
	diff <(ih_emu_rules "$pid") "$BATS_TEST_TMPDIR/want"
	# The record says what is in force.
	[ "$(ih_record_field "$id" .in_force_sha256)" = "$(ih_sha256 "$BATS_TEST_TMPDIR/want")" ]
	[ "$(ih_record_field "$id" .in_force_rules)" -eq "$(wc -l <"$BATS_TEST_TMPDIR/want")" ]
	[ "$(ih_record_field "$id" .builtins_replaced)" = true ]
	# The admin's default kcmd: no warning.
	[ "$(ih_record_field "$id" '.warnings // [] | length')" -eq 0 ]
	# policy check --explain gives the same answer for the same kcmd and
	# policy (a kernel without secure boot: no architecture rules).
	run "$IH_RELEASE_BIN" policy check --kernel-config "$KCONFIG" --namespace --kcmd ima_policy=tcb --explain --format json "$KEYLIME"
	[ "$status" -eq 0 ]
	diff <(arch_rules; jq -r '.effective[].text' <<<"$output") <(ih_emu_rules "$pid")
	[ "$(jq '.shadowed // [] | length' <<<"$output")" -eq 0 ]
}

@test "policy-replace: an explicit io.imans.kcmd ima_policy= with a custom policy is warned about, in the log and the record" {
	run_keylime expl "io.imans.kcmd=ima_policy=tcb"
	diff <(ih_emu_rules "$pid") <(arch_rules; cat "$KEYLIME")
	[ "$(ih_record_field "$id" .builtins_replaced)" = true ]
	run ih_record_field "$id" '.warnings[0]'
	[[ $output == "io.imans.kcmd: the custom policy (io.imans.policy) replaces the ima_policy=tcb built-in rules"* ]] ||
		ih_fail "record warning: $output"
	# Logged too: to the file in run_dir where there is no journald or
	# syslog (as on the test machines), else to the journal.
	if [[ -e $IH_RUN_DIR/ima-hook.log ]]; then
		grep -q "$id.*warning: io.imans.kcmd: the custom policy" "$IH_RUN_DIR/ima-hook.log" || ih_fail "warning not logged"
	else
		journalctl -q --no-pager -t ima-hook "CONTAINER_ID=$id" | grep -q "warning: io.imans.kcmd: the custom policy" || ih_fail "warning not logged"
	fi
}

@test "policy-replace: without a custom policy the kcmd's built-ins stay, and the record hashes them" {
	b=$(ih_bundle konly /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true
	ih_add_hooks "$b"
	id=$(ih_cid konly)
	ih_start_detached konly "$b"
	[ "$status" -eq 0 ]
	pid=$(ih_container_pid "$id")
	ih_emu_rules "$pid" >"$BATS_TEST_TMPDIR/in-force"
	grep -qx 'measure func=BPRM_CHECK mask=MAY_EXEC' "$BATS_TEST_TMPDIR/in-force"
	[ "$(ih_record_field "$id" .in_force_sha256)" = "$(ih_sha256 "$BATS_TEST_TMPDIR/in-force")" ]
	[ "$(ih_record_field "$id" .builtins_replaced)" != true ]
	run "$IH_RELEASE_BIN" policy check --kernel-config "$KCONFIG" --namespace --kcmd ima_policy=tcb --explain --format json
	[ "$status" -eq 0 ]
	# tcb's rules, then the architecture rules (ima_init_policy's order).
	diff <(jq -r '.effective[].text' <<<"$output"; arch_rules) "$BATS_TEST_TMPDIR/in-force"
}

@test "policy-replace: policy check warns that the tcb-style order shadows the exclusion" {
	f=$(ih_write_policy shadowed.policy "measure func=BPRM_CHECK mask=MAY_EXEC" "dont_measure fsmagic=0x794c7630")
	run "$IH_RELEASE_BIN" policy check --kernel-config "$KCONFIG" --namespace "$f"
	[ "$status" -eq 0 ]
	[[ $output == *"$f:2:1: warning: rule 2: never applies to func=BPRM_CHECK: rule 1"* ]] || ih_fail "$output"
	run "$IH_RELEASE_BIN" policy check --kernel-config "$KCONFIG" --namespace "$KEYLIME"
	[ "$status" -eq 0 ]
	[[ $output != *warning* ]] || ih_fail "$output"
}
