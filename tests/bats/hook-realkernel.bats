#!/usr/bin/env bats
# The RELEASE binary (bin/ima-hook) on this machine's real kernel, which has
# no IMA at all (TESTING.md "Machine facts"): nothing is emulated here.
# Required IMA must refuse the container with a message naming the missing
# kernel support; optional IMA must let it start.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_RELEASE_BIN"
	if [[ -e /proc/self/ns/ima ]]; then
		skip "this kernel has IMA namespaces; the refusal cases need one without"
	fi
}

teardown() { ih_teardown; }

@test "real kernel: required IMA refuses with a message naming the missing kernel support" {
	b=$(ih_bundle req /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b" "$IH_RELEASE_BIN"
	ih_run_container --no-wrapper req "$b"
	[ "$status" -ne 0 ]
	[[ $output != *STARTED* ]]
	[ "$(ih_count_hook_lines "$output")" -eq 1 ]
	line=$(grep -o 'ima-hook: .*' <<<"$output")
	# Which support is missing depends on the kernel: IMA itself here
	# (CONFIG_IMA), elsewhere IMA namespaces (CONFIG_IMA_NS).
	[[ $line == *CONFIG_IMA* ]]
	[[ $line == *"io.imans.required=false"* || $line == *"CONFIG_IMA_NS"* ]]
	[ -z "$(ih_runc list -q)" ]
}

@test "real kernel: required is the default when io.imans.required is absent" {
	b=$(ih_bundle def /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true
	ih_add_hooks "$b" "$IH_RELEASE_BIN"
	ih_run_container --no-wrapper def "$b"
	[ "$status" -ne 0 ]
	[[ $output != *STARTED* ]]
	[ "$(ih_count_hook_lines "$output")" -eq 1 ]
}

@test "real kernel: optional IMA (io.imans.required=false) starts and records why it was skipped" {
	b=$(ih_bundle opt /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true io.imans.required=false \
		"io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b" "$IH_RELEASE_BIN"
	id=$(ih_cid opt)
	ih_run_container --no-wrapper opt "$b"
	[ "$status" -eq 0 ]
	[[ $output == *STARTED* ]]
	[ "$(ih_count_hook_lines "$output")" -eq 0 ]
	result=$(ih_record_field "$id" .result)
	[[ $result == skipped:* ]]
	[[ $result == *CONFIG_IMA* ]]
}

@test "real kernel: an invalid config is still reported as such, before the kernel check" {
	b=$(ih_bundle inval /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true io.imans.required=false "io.imans.kcmd=ima_hash=sha1"
	ih_add_hooks "$b" "$IH_RELEASE_BIN"
	ih_run_container --no-wrapper inval "$b"
	[ "$status" -ne 0 ]
	ih_expect_one_hook_line io.imans.kcmd
}

@test "real kernel: podman with the shipped hooks.d files, optional IMA starts" {
	ih_require_cmd "$IH_PODMAN"
	ih_render_hooks_dir "$IH_RELEASE_BIN"
	run ih_podman_run --runtime "$IH_RUNC" --annotation io.imans.enable=true \
		--annotation io.imans.required=false -- /bin/echo STARTED
	[ "$status" -eq 0 ]
	[[ $output == *STARTED* ]]
}

@test "real kernel: podman with the shipped hooks.d files, required IMA refuses" {
	ih_require_cmd "$IH_PODMAN"
	ih_render_hooks_dir "$IH_RELEASE_BIN"
	run ih_podman_run --runtime "$IH_RUNC" --annotation io.imans.enable=true -- /bin/echo STARTED
	[ "$status" -ne 0 ]
	[[ $output != *STARTED* ]]
	[ "$(ih_count_hook_lines "$output")" -eq 1 ]
	[[ $output == *CONFIG_IMA* ]]
}

@test "real kernel: status names what is missing" {
	run "$IH_RELEASE_BIN" status --config "$IH_CONFIG"
	echo "$output"
	[[ $output == *CONFIG_IMA* || $output == *"no IMA"* ]]
}
