#!/usr/bin/env bats
# The runtime wrapper's full IMA path on the emulated kernel
# (bin/ima-hook-emu, TESTING.md layer 1): the wrapper creates the namespace
# and writes kcmd_for_children and x509_for_children before the runtime is
# born into it; the hook then loads the policy; exec joins it. Real runc and
# podman; only the IMA-namespace kernel calls are emulated.

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_EMU_BIN"
}

teardown() { ih_teardown; }

# ns_json ID: the emulator's view of namespace ID.
ns_json() { ih_emu namespaces | jq --argjson id "$1" '.[] | select(.id == $id)'; }

# expect_created ID PID KCMD-APPRAISE CERT-NAME: the namespace the wrapper
# recorded for ID is PID's, not the host's, the kcmd's ima_appraise took
# effect at creation and the x509 key is in the namespace's keyring.
expect_created() {
	local id=$1 pid=$2 appraise=$3 cert=$4 ns recorded j keyid
	recorded=$(cat "$IH_RUN_DIR/created/$id.nsid") || { ih_fail "the wrapper recorded no namespace for $id"; return 1; }
	ns=$(ih_ns_of_pid "$pid")
	[ "$ns" = "$recorded" ] || { ih_fail "init of $id in $ns, wrapper recorded $recorded"; return 1; }
	[ "$ns" != "$IH_HOST_NS" ] || { ih_fail "$id in the host namespace"; return 1; }
	[ "$(ih_record_field "$id" .ns_id)" = "$ns" ] || { ih_fail "hook record has another namespace"; return 1; }
	[ "$(ih_record_field "$id" .ns_created_by_wrapper)" = true ] || { ih_fail "hook did not see the wrapper's namespace"; return 1; }
	j=$(ns_json "$ns")
	[ "$(jq -r .appraise <<<"$j")" = "$appraise" ] || { ih_fail "ima_appraise not applied: $j"; return 1; }
	keyid=$(ih_evmctl_keyid "$cert")
	[ "$(printf '%08x' "$(jq -r '.key_ids[0]' <<<"$j")")" = "$keyid" ] || { ih_fail "x509 key $keyid not in the namespace keyring: $j"; return 1; }
}

@test "emulated kernel, runc: the wrapper creates the namespace with kcmd and x509, the hook loads the policy" {
	ih_require_cmd openssl evmctl
	cert=$(ih_make_cert tenant)
	pol=$(ih_write_policy tenant.policy "measure func=BPRM_CHECK mask=MAY_EXEC" "dont_measure fsmagic=0x9fa0")
	b=$(ih_bundle a /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy=$pol" "io.imans.x509=$cert" \
		"io.imans.kcmd=ima_policy=tcb ima_appraise=log"
	ih_add_hooks "$b"
	id=$(ih_cid a)
	ih_start_detached a "$b"
	[ "$status" -eq 0 ] || ih_fail "start: $output"
	pid=$(ih_container_pid "$id")
	expect_created "$id" "$pid" log tenant
	ih_expect_applied "$id" "$pol"
	# The policy the hook wrote is in force in that namespace (after the
	# built-in rules kcmd asked for).
	ih_emu_rules "$pid" | tail -n 2 | diff - "$pol"
	# The wrapper itself and this shell stay in the host namespace.
	[ "$(ih_ns_of_pid $$)" = "$IH_HOST_NS" ]
}

@test "emulated kernel, runc: exec through the wrapper joins the container's namespace, plain runc exec does not" {
	b=$(ih_bundle ex /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b"
	id=$(ih_cid ex)
	ih_start_detached ex "$b"
	[ "$status" -eq 0 ] || ih_fail "start: $output"
	ns=$(ih_ns_of_pid "$(ih_container_pid "$id")")
	# Foreground exec, looked up while runc still waits for it: the
	# emulator follows births by process ancestry, which a detached
	# (reparented) process no longer has.
	exec_ns() { # WRAPPED|PLAIN
		local pf=$BATS_TEST_TMPDIR/$1.pid rt=ih_runc
		[ "$1" = wrapped ] && rt=ih_wrapped_runc
		"$rt" exec --pid-file "$pf" "$id" /bin/sleep 3 </dev/null >/dev/null 2>&1 &
		for _ in $(seq 50); do [ -s "$pf" ] && break; sleep 0.05; done
		ih_ns_of_pid "$(cat "$pf")"
		wait
	}
	got=$(exec_ns wrapped)
	[ "$got" = "$ns" ] || ih_fail "wrapped exec in $got, container $ns"
	got=$(exec_ns plain)
	[ "$got" = "$IH_HOST_NS" ] || ih_fail "plain runc exec in $got"
}

@test "emulated kernel, runc: optional IMA without kcmd or x509 still gets its own namespace" {
	b=$(ih_bundle opt /bin/true)
	ih_annotate "$b" io.imans.enable=true io.imans.required=false "io.imans.policy-rules=measure func=BPRM_CHECK"
	ih_add_hooks "$b"
	ih_write_admin_config --default 'kcmd = ""'
	ih_run_container opt "$b"
	[ "$status" -eq 0 ] || ih_fail "run: $output"
	id=$(ih_cid opt)
	# poststop archived the record (and dropped the wrapper's id file).
	[ "$(ih_record_field "$id" .ns_created_by_wrapper)" = true ]
	[ "$(ih_record_field "$id" .ns_id)" != "$IH_HOST_NS" ]
	[ "$(ih_record_field "$id" .result)" = applied ]
}

@test "emulated kernel, podman: wrapper and hooks.d give the container its namespace, kcmd, key and policy" {
	ih_require_cmd "$IH_PODMAN" openssl evmctl
	ih_render_hooks_dir
	cert=$(ih_make_cert ptenant)
	pol=$(ih_write_policy p.policy "measure func=FILE_CHECK mask=MAY_READ uid=0")
	cidfile=$BATS_TEST_TMPDIR/cid
	ih_podman_run --cidfile "$cidfile" -d --annotation io.imans.enable=true --annotation "io.imans.policy=$pol" \
		--annotation "io.imans.x509=$cert" --annotation "io.imans.kcmd=ima_appraise=fix" -- /bin/sleep 300 >/dev/null
	id=$(cat "$cidfile")
	pid=$("$IH_PODMAN" inspect -f '{{.State.Pid}}' "$id")
	expect_created "$id" "$pid" fix ptenant
	ih_expect_applied "$id" "$pol"
	# podman exec: conmon runs `exec --detach`, whose process is reparented
	# before it can be looked up, so the emulator cannot follow it; the
	# real-kernel stand-in (wrapper.bats, timens build) checks podman exec.
	timeout 60 "$IH_PODMAN" rm -f -t 0 "$id" >/dev/null
}

@test "emulated kernel, runc: --inject-hooks adds the hook to a bundle without one (containerd, Docker)" {
	pol=$(ih_write_policy inj.policy "measure func=BPRM_CHECK mask=MAY_EXEC")
	b=$(ih_bundle inj /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy=$pol"
	jq -e '.hooks == null or .hooks == {}' "$b/config.json" >/dev/null || ih_fail "bundle already has hooks"
	iw=$BATS_TEST_TMPDIR/inject-wrapper
	printf '#!/bin/sh\nIMA_HOOK_EMU_DIR=%s\nexport IMA_HOOK_EMU_DIR\nexec %s runtime --inject-hooks --config %s --runtime %s -- "$@"\n' \
		"$IMA_HOOK_EMU_DIR" "$IH_EMU_BIN" "$IH_CONFIG" "$IH_RUNC" >"$iw"
	chmod +x "$iw"
	id=$(ih_cid inj)
	timeout "$IH_TIMEOUT" "$iw" --root "$IH_RUNC_ROOT" run -d --bundle "$b" "$id" </dev/null >"$BATS_TEST_TMPDIR/inj.out" 2>&1 ||
		ih_fail "run: $(cat "$BATS_TEST_TMPDIR/inj.out")"
	[ "$(jq '.hooks.createRuntime | length' "$b/config.json")" -eq 1 ]
	[ "$(jq -r '.hooks.poststop[0].args | join(" ")' "$b/config.json")" = "ima-hook hook --stage poststop --config $IH_CONFIG" ]
	ih_expect_applied "$id" "$pol"
	pid=$(ih_container_pid "$id")
	[ "$(ih_ns_of_pid "$pid")" = "$(cat "$IH_RUN_DIR/created/$id.nsid")" ]
	ih_emu_rules "$pid" | tail -n 1 | diff - "$pol"
}

@test "emulated kernel, runc: the kernel loads the wrapper's private copy of the checked key, not what the keys dir holds later (issue 15.4)" {
	ih_require_cmd openssl evmctl
	cert=$(ih_make_cert tenant)
	ih_make_cert next >/dev/null
	b=$(ih_bundle rot /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.x509=$cert" "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b"
	id=$(ih_cid rot)
	copy=$IH_RUN_DIR/created/$id.x509
	# After the wrapper checked the key, before the kernel reads it: the
	# key is rotated by rename; note what the private copy looks like then.
	export IMA_HOOK_EMU_BEFORE_FORK="stat -c '%a %U %F' '$copy' >'$BATS_TEST_TMPDIR/copy.stat'; mv '$IH_KEYS_DIR/next.der' '$cert'"
	ih_start_detached rot "$b"
	unset IMA_HOOK_EMU_BEFORE_FORK
	[ "$(cat "$BATS_TEST_TMPDIR/copy.stat")" = "600 root regular file" ] || ih_fail "private copy: $(cat "$BATS_TEST_TMPDIR/copy.stat")"
	# The kernel read the copy, with the checked key.
	log=$(ih_emu log)
	[[ $log == *"key id $(ih_evmctl_keyid tenant) added (x509_for_children $copy)"* ]] ||
		ih_fail "the kernel did not load the checked key from the private copy: $log"
	[[ $log != *"key id $(ih_evmctl_keyid next) added"* ]] || ih_fail "the rotated key was loaded: $log"
	# The hook, whose own check reads the new file, refuses: the record must
	# never name a key the kernel did not load.
	[ "$status" -ne 0 ] || ih_fail "started although the key changed during creation"
	ih_expect_one_hook_line io.imans.x509
	[[ $output == *"changed while the container was being created"* ]] || ih_fail "$output"
	[ ! -e "$copy" ] || ih_fail "the private copy was left behind"
}

@test "emulated kernel: a rootless wrapper (root in a user namespace of its own) cannot configure a namespace, as on the kernel" {
	ih_require_cmd unshare
	unshare -U -r true 2>/dev/null || skip "no user namespaces here"
	b=$(ih_bundle rootless /bin/true)
	ih_annotate "$b" io.imans.enable=true "io.imans.kcmd=ima_policy=tcb"
	id=$(ih_cid rootless)
	# The kernel checks CAP_SYS_ADMIN over the owner of the caller's IMA
	# namespace: the host's, owned by the initial user namespace.
	run timeout "$IH_TIMEOUT" unshare -U -r "$(ih_wrapper)" --root "$IH_RUNC_ROOT" run --bundle "$b" "$id" </dev/null
	ih_log "output: $output"
	[ "$status" -ne 0 ] || ih_fail "a rootless wrapper created and configured an IMA namespace"
	[ "$(ih_count_hook_lines "$output")" -eq 1 ] || ih_fail "want one ima-hook line: $output"
	[[ $output == *"operation not permitted"*"CAP_SYS_ADMIN"* ]] || ih_fail "the refusal does not say which capability: $output"
	[ "$(ih_emu namespaces | jq length)" -eq 0 ] || ih_fail "a namespace was left: $(ih_emu namespaces)"
}
