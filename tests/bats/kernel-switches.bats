#!/usr/bin/env bats
# The emulated kernel's switches (emukernel.Switches): the points of the
# openEuler IMA-namespace ABI that vary between kernels (build options) or
# that the sources could not settle. Each test reads the setting of the
# kernel it runs on (`ih_switch NAME`) and asserts what the hook and the
# wrapper do on a kernel of that kind, so the same test holds on both
# settings: `make test-bats` runs this file on the default switches, and the
# matrix (tests/bats/switch-matrix, tests/bats/switches.sh) runs it again
# with each switch in its other setting.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_EMU_BIN"
}

teardown() { ih_teardown; }

@test "switches: ih_emu_switches chooses the kernel; a misspelt switch is refused before any container" {
	ih_emu_switches read_policy=true
	[ "$(ih_switch read_policy)" = true ]
	run ih_emu_switches no_such_switch=1
	[ "$status" -ne 0 ]
	[[ $output == *no_such_switch* ]] || ih_fail "the refusal does not name the switch: $output"
	rm -f "$IMA_HOOK_EMU_DIR/switches.json"
	ih_emu_switches read_policy=true
	# Once the kernel runs, its configuration is fixed.
	ih_emu count >/dev/null
	run ih_emu_switches read_policy=false
	[ "$status" -ne 0 ]
	[ "$(ih_switch read_policy)" = true ]
}

@test "max_ima_namespaces: a container beyond the limit is refused by the wrapper (clone_ima_ns inc_ucount ENOSPC)" {
	max=$(ih_switch max_namespaces)
	[[ $max =~ ^[0-9]+$ ]] || ih_fail "max_namespaces is '$max'"
	b=$(ih_bundle one /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK"
	ih_add_hooks "$b"
	ih_start_detached one "$b"
	[ "$status" -eq 0 ] || ih_fail "first container: $output"
	b2=$(ih_bundle two /bin/true)
	ih_annotate "$b2" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK"
	ih_add_hooks "$b2"
	ih_run_container two "$b2"
	if ((max == 1)); then
		[ "$status" -ne 0 ] || ih_fail "a second namespace was created past max_ima_namespaces=1"
		[[ $output == *"no space left"* || $output == *ENOSPC* || $output == *max_ima_namespaces* ]] ||
			ih_fail "the refusal does not say the limit was reached: $output"
		[ "$(ih_count_hook_lines "$output")" -eq 1 ] || ih_fail "want one ima-hook line: $output"
	else
		[ "$status" -eq 0 ] || ih_fail "second container under max_namespaces=$max: $output"
	fi
}
