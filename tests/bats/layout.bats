#!/usr/bin/env bats
# The binary measurement list's record layout (docs/measurements.md
# "Record layouts"): whether ima_measurements_show writes a u32 namespace id
# after the PCR (the 2020 RFC) or not (the openEuler snapshot) is uncertain,
# so the emulated kernel has the switch binary_ns_header and the readers
# (the hook's poststop, `ima-hook measurements`) detect the layout. Each test
# reads the setting it runs on (`ih_switch binary_ns_header`): `make
# test-bats` runs this file on the default (no header), the switch matrix
# again with binary_ns_header=true.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_EMU_BIN"
}

teardown() { ih_teardown; }

# want_layout: the layout the emulated kernel of this test writes.
want_layout() {
	if [ "$(ih_switch binary_ns_header)" = true ]; then echo ns-header; else echo plain; fi
}

@test "layout: poststop archives the container's view and measurements reads the host list, whatever the record layout" {
	want=$(want_layout)
	pol=$(ih_write_policy p.policy "measure func=BPRM_CHECK mask=MAY_EXEC")
	b=$(ih_bundle lay /bin/echo STARTED)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy=$pol"
	ih_add_hooks "$b"
	id=$(ih_cid lay)
	ih_run_container lay "$b"
	[ "$status" -eq 0 ] || ih_fail "container: $output"
	[[ $output == *STARTED* ]]

	# The host's binary list, as the emulated kernel of this switch writes it.
	ih_emu list --binary >"$BATS_TEST_TMPDIR/list.bin"
	[ -s "$BATS_TEST_TMPDIR/list.bin" ]

	# poststop read the host list in that layout and archived the view.
	arch=$(ih_archive "$id") || ih_fail "no archived life of $id"
	ns=$(jq -r .ns_id "$arch/record.json")
	view=$arch/ascii_runtime_measurements
	[ -f "$view" ] || ih_fail "no archived view"
	grep -q "ns_aggregate_$ns" "$view" || ih_fail "the archived view lacks ns_aggregate_$ns: $(cat "$view")"

	# measurements detects the layout and says which it found.
	run "$IH_EMU_BIN" measurements --file "$BATS_TEST_TMPDIR/list.bin" --ns "$ns" --verify --template-only --format json
	[ "$status" -eq 0 ] || ih_fail "measurements: $output"
	summary=$(grep '"type":"summary"' <<<"$output")
	[ "$(jq -r .layout <<<"$summary")" = "$want" ] || ih_fail "layout $(jq -r .layout <<<"$summary"), want $want"
	[ "$(jq -r .layout_detected <<<"$summary")" = true ]
	[ "$(jq -r .selected <<<"$summary")" -ge 1 ]
	# The namespace's entries read from the binary list are the archived view.
	"$IH_EMU_BIN" measurements --file "$BATS_TEST_TMPDIR/list.bin" --ns "$ns" >"$BATS_TEST_TMPDIR/view"
	diff "$BATS_TEST_TMPDIR/view" "$view" || ih_fail "the view read from the binary list differs from the archive"

	# Forced to the other layout, the read fails and names --layout.
	other=plain
	[ "$want" = plain ] && other="ns-header"
	run "$IH_EMU_BIN" measurements --file "$BATS_TEST_TMPDIR/list.bin" --layout "$other" --format none
	[ "$status" -eq 1 ] || ih_fail "read as $other: status $status: $output"
	[[ $output == *"--layout $want"* ]] || ih_fail "the failure does not name --layout $want: $output"
}
