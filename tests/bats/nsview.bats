#!/usr/bin/env bats
# A container's archived measurement view, read from inside its own IMA
# namespace through the pin the hook makes at createRuntime (runc, the
# runtime wrapper and the emulated kernel, bin/ima-hook-emu). The view must
# hold the container's measurements whatever template the kernel logs
# namespace entries with (switch ns_template: kcmd = the namespace's own
# ima-ns, host = the host's ima-ng as on the newest openEuler code, where no
# host-side entry carries the namespace id), and no pin may outlive its
# container, not even after a crash.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_EMU_BIN"
}

teardown() { ih_teardown; }

# pins: the pins (and kept views) in the run dir, one per line.
pins() { find "$IH_RUN_DIR/ns" -mindepth 1 -maxdepth 1 ! -name '.*' -printf '%f\n' 2>/dev/null | sort; }

# ns_alive ID: the emulated kernel still has namespace ID.
ns_alive() { ih_emu namespaces | jq -e --argjson id "$1" 'any(.[]; .id == $id)' >/dev/null; }

# ns_pinned ID: the emulated kernel counts a pin (a bind mount on the
# kernel) as a reference on namespace ID. Read from its state: once the pin
# is gone the namespace may still wait for this machine's pid 1 to reap the
# container's zombie init, which the emulator counts until the reap.
ns_pinned() { jq -e --argjson id "$1" 'any((.pins // {})[]; .ns == $id)' "$IMA_HOOK_EMU_DIR/state.json" >/dev/null; }

# start_measured NAME: a detached container with IMA whose namespace
# measured /bin/app-NAME (as an exec inside it would be); sets $id, $ns.
start_measured() {
	local name=$1 b pid
	b=$(ih_bundle "$name" /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b"
	[[ -z ${NO_POSTSTOP:-} ]] || ih_update_config "$b" '.hooks.poststop = []'
	id=$(ih_cid "$name")
	ih_start_detached "$name" "$b"
	[ "$status" -eq 0 ] || ih_fail "start $name: $output"
	ns=$(ih_record_field "$id" .ns_id)
	pid=$(ih_container_pid "$id")
	[ "$(ih_ns_of_pid "$pid")" = "$ns" ] || ih_fail "container $name is not in its recorded namespace $ns"
	run ih_emu measure "/bin/app-$name" --pid "$pid"
	# shellcheck disable=SC2015 # either test failing is the error
	[ "$status" -eq 0 ] && [[ $output != *"not measured"* ]] || ih_fail "measure in $name: $output"
}

archive_holds_the_containers_measurements() {
	local template=$1 view
	[ "$(ih_switch ns_template)" = "$2" ]
	start_measured app
	[ "$(pins)" = "$id-$ns" ] || ih_fail "pins after createRuntime: $(pins)"
	run ih_delete "$id"
	[ "$status" -eq 0 ] || ih_fail "delete: $output"
	[[ $output != *poststop* ]] || ih_fail "poststop failed: $output"
	view=$(ih_archive "$id")/ascii_runtime_measurements
	[ -f "$view" ]
	ih_log "archived view: $(cat "$view")"
	[ "$(wc -l <"$view")" -eq 2 ]
	grep -q " ns_aggregate_$ns\b" "$view"
	grep -q " /bin/app-app\b" "$view"
	# Every line carries the template the switch says, namespace id or not.
	[ "$(grep -c " $template " "$view")" -eq 2 ]
	# The pin is released, in the run dir and in the kernel.
	[ -z "$(pins)" ] || ih_fail "left after poststop: $(pins)"
	! ns_pinned "$ns"
}

@test "nsview: ns_template=kcmd: the archived view holds the container's measurements and the pin is released" {
	archive_holds_the_containers_measurements ima-ns kcmd
}

@test "nsview: ns_template=host (ima-ng, no namespace field): the archived view still holds the container's measurements" {
	ih_emu_switches ns_template=host
	archive_holds_the_containers_measurements ima-ng host
	# The host list filtered by id finds nothing but the aggregate, and
	# says what it could not attribute instead of staying silent.
	run "$IH_EMU_BIN" measurements --ns "$ns"
	ih_log "measurements --ns: $output"
	[ "$status" -eq 0 ]
	[[ $output == *"ns_aggregate_$ns"* ]]
	[[ $output != *"/bin/app-app"* ]]
	[[ $output == *"1 entries in its span carry no namespace id"*"could not be attributed"* ]]
}

@test "nsview: a pinned namespace keeps its id while its container exists; a crash (kill -9, delete without poststop) leaks no pin past the next start" {
	NO_POSTSTOP=1 start_measured crash
	crash_id=$id crash_ns=$ns
	[ "$(pins)" = "$crash_id-$crash_ns" ]
	kill -9 "$(ih_container_pid "$crash_id")"
	run ih_delete "$crash_id"
	[ "$status" -eq 0 ] || ih_fail "delete: $output"
	[ ! -e "$IH_ARCHIVE_DIR/$crash_id" ] || ih_fail "a poststop ran"
	# Nobody is left in it, yet the pin holds it and its id.
	[ "$(pins)" = "$crash_id-$crash_ns" ]
	ns_alive "$crash_ns"
	ns_pinned "$crash_ns"
	start_measured next
	[ "$ns" != "$crash_ns" ] || ih_fail "the pinned id $crash_ns was handed out again"
	# The next start released the crashed container's pin (its final view
	# is kept beside it while its stale live record says a poststop may
	# still come) and pinned its own.
	ih_log "pins after the next start: $(pins)"
	! ns_pinned "$crash_ns" || ih_fail "the crashed container's namespace $crash_ns is still pinned"
	run pins
	[[ $output != *"$crash_id-$crash_ns"$'\n'* && $output != "$crash_id-$crash_ns" ]]
	[[ $output == *"$id-$ns"* ]]
	run ih_delete "$id"
	[ "$status" -eq 0 ]
	# shellcheck disable=SC2143 # a bare "! grep -q" would not fail a bats test
	[ -z "$(pins | grep -v "^$crash_id-$crash_ns.view$")" ] || ih_fail "left: $(pins)"
}

@test "nsview: a foreground run (poststop inside the namespace) archives the namespace's own view through the pin" {
	ih_emu_switches ns_template=host
	b=$(ih_bundle fg /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b"
	id=$(ih_cid fg)
	ih_run_container fg "$b"
	[ "$status" -eq 0 ]
	[[ $output == *STARTED* && $output != *poststop* ]]
	ns=$(ih_record_field "$id" .ns_id)
	grep -q " ns_aggregate_$ns\b" "$(ih_archive "$id")/ascii_runtime_measurements"
	[ -z "$(pins)" ]
	! ns_pinned "$ns" || ih_fail "namespace $ns is still pinned"
}
