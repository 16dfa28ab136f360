#!/usr/bin/env bats
# The RELEASE binary (bin/ima-hook) on this machine's real kernel, which has
# no IMA at all (docs/testing.md "Machine facts"): nothing is emulated here.
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

# missing_support: the words a correct message must contain, from what this
# machine really lacks (checked here independently of ima-hook). Kernel
# support is named first, since mounting securityfs cannot help a kernel
# without it: no IMA namespaces (CONFIG_IMA_NS), securityfs not mounted, or
# no IMA (CONFIG_IMA).
missing_support() {
	if [[ ! -e /proc/self/ns/ima ]]; then
		echo CONFIG_IMA_NS
	elif ! grep -qs ' /sys/kernel/security securityfs ' /proc/self/mounts; then
		echo securityfs
	else
		echo CONFIG_IMA
	fi
}

@test "real kernel: required IMA refuses with a message naming the missing kernel support" {
	b=$(ih_bundle req /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b" "$IH_RELEASE_BIN"
	ih_run_container --no-wrapper req "$b"
	[ "$status" -ne 0 ]
	[[ $output != *STARTED* ]]
	[ "$(ih_count_hook_lines "$output")" -eq 1 ]
	line=$(grep -o 'ima-hook: .*' <<<"$output")
	want=$(missing_support)
	[[ $line == *"$want"* ]] || ih_fail "message does not name the missing $want: $line"
	# ...and tells how to get on: a kernel with IMA namespaces, or optional IMA.
	[[ $line == *CONFIG_IMA_NS* ]]
	[[ $line == *"io.imans.required=false"* ]]
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
	[[ $result == *"$(missing_support)"* ]]
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
	[[ $output == *"$(missing_support)"* ]]
}

@test "real kernel: status says it is not ready and names what is missing" {
	# Exit status 1: not ready (0 ready, 2 bad config).
	run -1 "$IH_RELEASE_BIN" status --json --config "$IH_CONFIG"
	[ "$(jq -r .ready <<<"$output")" = false ]
	[[ $(jq -r .missing <<<"$output") == *"$(missing_support)"* ]]
	[ "$(jq -r .config.Source <<<"$output")" = "$IH_CONFIG" ]
	run -1 "$IH_RELEASE_BIN" status --config "$IH_CONFIG"
	[[ $output == *"$(missing_support)"* ]]
}
