#!/usr/bin/env bats
# The runtime wrapper's full IMA path on the emulated kernel
# (bin/ima-hook-emu, docs/testing.md layer 1): the wrapper creates the namespace
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

# broken_state_wrapper: prints a wrapper whose runtime is runc except that
# `runc --root R state ID` fails, as a runtime that cannot tell would.
broken_state_wrapper() {
	local rt=$BATS_TEST_TMPDIR/runc-broken-state w=$BATS_TEST_TMPDIR/ima-runtime-broken-state
	printf '#!/bin/sh\n[ "$3" = state ] && { echo "runc: state: simulated failure" >&2; exit 1; }\nexec %s "$@"\n' "$IH_RUNC" >"$rt"
	printf '#!/bin/sh\nIMA_HOOK_EMU_DIR=%s\nexport IMA_HOOK_EMU_DIR\nexec %s runtime --config %s --runtime %s -- "$@"\n' \
		"$IMA_HOOK_EMU_DIR" "$IH_EMU_BIN" "$IH_CONFIG" "$rt" >"$w"
	chmod +x "$rt" "$w"
	echo "$w"
}

# expect_exec_refused WRAPPER ID: an exec through WRAPPER is refused in the
# wrapper's one line (a pass-through would run: status 0).
expect_exec_refused() {
	run timeout "$IH_TIMEOUT" "$1" --root "$IH_RUNC_ROOT" exec "$2" /bin/true </dev/null
	[ "$status" -eq 1 ] || ih_fail "exec status $status (passed through?): $output"
	ih_expect_one_hook_line "ima-runtime exec: container $2 has an IMA namespace ("
	[[ $output == *"its state cannot be read"*"simulated failure"* ]] || ih_fail "refusal does not say why: $output"
}

@test "emulated kernel, runc: exec into a container with an IMA namespace is refused, not passed through, when runc state fails (also under mandatory = true with the records gone)" {
	b=$(ih_bundle sf /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	ih_add_hooks "$b"
	id=$(ih_cid sf)
	ih_start_detached sf "$b"
	[ "$status" -eq 0 ] || ih_fail "start: $output"
	w=$(broken_state_wrapper)
	expect_exec_refused "$w" "$id"
	# The same container through the intact runtime is joined, as before.
	run ih_wrapped_runc exec "$id" /bin/true </dev/null
	[ "$status" -eq 0 ] || ih_fail "exec with a readable state: $output"

	# mandatory = true: a container without annotations, its notes and
	# record lost; the admin's rule alone makes the exec refuse.
	ih_write_admin_config --top "mandatory = true"
	b=$(ih_bundle sm /bin/sleep 300)
	ih_add_hooks "$b"
	id=$(ih_cid sm)
	ih_start_detached sm "$b"
	[ "$status" -eq 0 ] || ih_fail "start: $output"
	[ -e "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "mandatory container got no namespace"
	rm -f "$IH_RUN_DIR/created/$id".* "$IH_RUN_DIR/$id.json"
	expect_exec_refused "$w" "$id"
}

@test "emulated kernel, runc: exec joins a container whose indented runc state is far larger than 1 MiB" {
	b=$(ih_bundle big /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC"
	# 3000 ordinary annotations of 1 KiB: runc state prints about 3 MB.
	ih_update_config "$b" '.annotations += ([range(3000)] | map({key: "org.example.k\(.)", value: ("v" * 1024)}) | from_entries)'
	ih_add_hooks "$b"
	id=$(ih_cid big)
	ih_start_detached big "$b"
	[ "$status" -eq 0 ] || ih_fail "start: $output"
	size=$(ih_runc state "$id" | wc -c)
	((size > 2 * 1024 * 1024)) || ih_fail "runc state is only $size bytes"
	ns=$(ih_ns_of_pid "$(ih_container_pid "$id")")
	pf=$BATS_TEST_TMPDIR/big.pid
	ih_wrapped_runc exec --pid-file "$pf" "$id" /bin/sleep 3 </dev/null >/dev/null 2>&1 &
	for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.05; done
	got=$(ih_ns_of_pid "$(cat "$pf")")
	wait
	[ "$got" = "$ns" ] || ih_fail "exec in $got, container in $ns"
	[ "$ns" != "$IH_HOST_NS" ]
}

@test "emulated kernel, runc: a config the hook would refuse is refused by the wrapper itself, before any namespace exists" {
	b=$(ih_bundle ap /bin/true)
	ih_annotate "$b" io.imans.enable=true "io.imans.kcmd=ima_policy=appraise_tcb" "io.imans.policy-rules=measure func=BPRM_CHECK"
	ih_add_hooks "$b"
	before=$(ih_emu namespaces | jq 'length')
	ih_run_container ap "$b"
	[ "$status" -eq 1 ] || ih_fail "run: status $status"
	# The wrapper's own line, not runc's hook error around the hook's.
	[ "$output" = "ima-hook: io.imans.policy-rules: the namespace appraises its own policy (POLICY_CHECK, from ima_policy=appraise_tcb) and refuses inline rules; give a signed policy file with io.imans.policy" ] ||
		ih_fail "output: $output"
	[ "$(ih_emu namespaces | jq 'length')" = "$before" ] || ih_fail "a namespace was created: $(ih_emu namespaces)"
	id=$(ih_cid ap)
	[ ! -e "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "a namespace was noted"
	! ih_runc state "$id" >/dev/null 2>&1 || ih_fail "runc created the container"
}

# note_dead_process PATH: a process note ("pid start") of a process that
# has ended, as a killed wrapper leaves it.
note_dead_process() {
	local p start
	sleep 60 &
	p=$!
	start=$(sed 's/.*) //' "/proc/$p/stat" | cut -d' ' -f20)
	kill "$p"
	wait "$p" 2>/dev/null || true
	printf '%s %s\n' "$p" "$start" >"$1"
}

@test "emulated kernel, runc: the wrapper's notes go when it deletes the container, and stale ones at the next start" {
	# No hooks: only the wrapper's notes, and no poststop to remove them.
	# A first container without IMA reaches the Go wrapper, which writes
	# the pass-through card (a start that asks for IMA leaves the card to
	# such a call).
	ih_run_container plain0 "$(ih_bundle plain0 /bin/true)"
	[ "$status" -eq 0 ] || ih_fail "run: $output"
	b=$(ih_bundle nh /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true
	id=$(ih_cid nh)
	ih_start_detached nh "$b"
	[ "$status" -eq 0 ] || ih_fail "start: $output"
	[ -e "$IH_RUN_DIR/created/$id.nsid" ] && [ -e "$IH_RUN_DIR/created/$id.owner" ] || ih_fail "notes: $(ls "$IH_RUN_DIR/created")"
	# A start the C pre-filter passes through does not reach the Go
	# wrapper, which sweeps: the notes stay as they are.
	ih_run_container plain "$(ih_bundle plain /bin/true)"
	[ "$status" -eq 0 ] || ih_fail "run: $output"
	[ ! -e "$IH_RUN_DIR/created/$id.init" ] || ih_fail "a container without IMA reached the Go wrapper"
	# The next start that does (one with IMA) asks runc (the wrapper has
	# exited and no hook noted the init), keeps the notes and notes the init.
	first=$(ih_bundle first /bin/true)
	ih_annotate "$first" io.imans.enable=true
	ih_run_container first "$first"
	[ "$status" -eq 0 ] || ih_fail "run: $output"
	[ -e "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "a running container's notes were swept"
	[ "$(cut -d' ' -f1 "$IH_RUN_DIR/created/$id.init")" = "$(ih_container_pid "$id")" ] || ih_fail "init not noted"
	ih_delete "$id"
	! ls "$IH_RUN_DIR/created/$id".* 2>/dev/null || ih_fail "notes left after delete: $(ls "$IH_RUN_DIR/created")"

	# A live container with the hook (its init noted) keeps its notes; the
	# notes of a container whose wrapper was killed go at the next start.
	b=$(ih_bundle live /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=true
	ih_add_hooks "$b"
	live=$(ih_cid live)
	ih_start_detached live "$b"
	[ "$status" -eq 0 ] || ih_fail "start: $output"
	[ -e "$IH_RUN_DIR/created/$live.init" ] || ih_fail "the hook noted no init: $(ls "$IH_RUN_DIR/created")"
	echo 4026532999 >"$IH_RUN_DIR/created/ghost.nsid"
	echo 0 >"$IH_RUN_DIR/created/ghost.start"
	note_dead_process "$IH_RUN_DIR/created/ghost.owner"
	b=$(ih_bundle next /bin/true)
	ih_annotate "$b" io.imans.enable=true
	ih_run_container next "$b"
	[ "$status" -eq 0 ] || ih_fail "run: $output"
	! ls "$IH_RUN_DIR/created/ghost".* 2>/dev/null || ih_fail "stale notes kept: $(ls "$IH_RUN_DIR/created")"
	[ -e "$IH_RUN_DIR/created/$live.nsid" ] || ih_fail "a live container's notes were removed"
	# ...and exec still joins it.
	run ih_wrapped_runc exec "$live" /bin/true </dev/null
	[ "$status" -eq 0 ] || ih_fail "exec: $output"
}

@test "emulated kernel, runc: a container without IMA is not refused for IMA's limits (id with +, state over 1 MiB, config over 16 MiB), one with IMA is" {
	b=$(ih_bundle plain /bin/true)
	head -c 17000000 /dev/zero | tr '\0' a >"$BATS_TEST_TMPDIR/big"
	ih_update_config "$b" '.annotations["org.example.big"] = $big' --rawfile big "$BATS_TEST_TMPDIR/big"
	ih_add_hooks "$b"
	(($(stat -c %s "$b/config.json") > 16 * 1024 * 1024))
	id="$(ih_cid plain)+1"
	IH_CIDS+=("$id")
	run ih_wrapped_runc run --bundle "$b" "$id" </dev/null
	[ "$status" -eq 0 ] || ih_fail "container without IMA refused: $output"
	[ ! -e "$IH_RUN_DIR/$id.json" ] || ih_fail "a record was written"

	ih_annotate "$b" io.imans.enable=true
	run ih_wrapped_runc run --bundle "$b" "$(ih_cid ima)" </dev/null
	[ "$status" -eq 1 ] || ih_fail "IMA container with a 17 MB config: status $status"
	ih_expect_one_hook_line "$b/config.json: is "
	b=$(ih_bundle plus /bin/true)
	ih_annotate "$b" io.imans.enable=true
	run ih_wrapped_runc run --bundle "$b" "$(ih_cid plus)+1" </dev/null
	[ "$status" -eq 1 ] || ih_fail "IMA container with + in its id: status $status"
	ih_expect_one_hook_line "ima-runtime run: container id"
}

@test "emulated kernel without CONFIG_IMA_APPRAISE_BOOTPARAM: the wrapper refuses ima_appraise= before it creates a namespace" {
	ih_emu_switches appraise_bootparam=false
	b=$(ih_bundle bp /bin/true)
	ih_annotate "$b" io.imans.enable=true "io.imans.kcmd=ima_policy=tcb ima_appraise=log"
	ih_add_hooks "$b"
	ih_run_container bp "$b"
	[ "$status" -eq 1 ] || ih_fail "run: status $status"
	[[ $output == "ima-hook: io.imans.kcmd: ima_appraise=log is ignored by this kernel, built without CONFIG_IMA_APPRAISE_BOOTPARAM ("*"; remove ima_appraise from the kcmd"* ]] ||
		ih_fail "not the wrapper's own line: $output"
	[ "$(ih_count_hook_lines "$output")" -eq 1 ] || ih_fail "want one line: $output"
	[ "$(ih_emu namespaces | jq length)" -eq 0 ] || ih_fail "a namespace was created: $(ih_emu namespaces)"
}

# pod_annotate BUNDLE POD NAME: the annotations containerd's CRI plugin gives
# app container NAME of pod default/POD (sandbox id POD-sandbox), set by hand,
# with io.imans.scope=pod.
pod_annotate() {
	ih_annotate "$1" io.imans.enable=true io.imans.scope=pod "io.imans.policy-rules=measure func=BPRM_CHECK mask=MAY_EXEC" \
		io.kubernetes.cri.container-type=container "io.kubernetes.cri.sandbox-id=$2-sandbox" \
		io.kubernetes.cri.sandbox-namespace=default "io.kubernetes.cri.sandbox-name=$2" "io.kubernetes.cri.sandbox-uid=$2-uid" \
		"io.kubernetes.cri.container-name=$3"
}

@test "emulated kernel, runc: exec into a container that joined its pod's namespace (io.imans.scope=pod) is refused, not passed through, when runc state fails, even with its hook record gone" {
	b=$(ih_bundle pa /bin/sleep 300)
	pod_annotate "$b" pj a
	ih_add_hooks "$b"
	ih_start_detached pa "$b"
	[ "$status" -eq 0 ] || ih_fail "start a: $output"
	b=$(ih_bundle pb /bin/sleep 300)
	pod_annotate "$b" pj b
	ih_add_hooks "$b"
	ih_start_detached pb "$b"
	[ "$status" -eq 0 ] || ih_fail "start b: $output"
	a=$(ih_cid pa) id=$(ih_cid pb)
	ns=$(ih_ns_of_pid "$(ih_container_pid "$a")")
	[ "$(ih_ns_of_pid "$(ih_container_pid "$id")")" = "$ns" ] || ih_fail "b is not in a's namespace $ns"
	[ "$(ih_record_field "$id" .pod_namespace_of)" = "$a" ] || ih_fail "b not recorded as joined"
	[ ! -e "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "b has a creator's note"
	rm -f "$IH_RUN_DIR/$id.json"
	expect_exec_refused "$(broken_state_wrapper)" "$id"
}

@test "emulated kernel, runc: containers of one pod with io.imans.scope=pod started all at once share exactly one namespace" {
	local n=4 i ns nss created=0
	for i in $(seq "$n"); do
		b=$(ih_bundle "pp$i" /bin/sleep 300)
		pod_annotate "$b" pp "c$i"
		ih_add_hooks "$b"
		IH_CIDS+=("$(ih_cid "pp$i")")
	done
	for i in $(seq "$n"); do
		ih_wrapped_runc run -d --bundle "$IH_BUNDLES_DIR/pp$i" "$(ih_cid "pp$i")" </dev/null >"$BATS_TEST_TMPDIR/pp$i.out" 2>&1 &
	done
	wait
	for i in $(seq "$n"); do
		id=$(ih_cid "pp$i")
		[ "$(ih_record_field "$id" .result)" = applied ] || ih_fail "$id: $(cat "$BATS_TEST_TMPDIR/pp$i.out") $(cat "$IH_RUN_DIR/$id.json")"
		nss+=" $(ih_ns_of_pid "$(ih_container_pid "$id")")"
		[ -e "$IH_RUN_DIR/created/$id.nsid" ] && created=$((created + 1))
	done
	ns=$(tr ' ' '\n' <<<"$nss" | sort -u | grep -c .)
	[ "$ns" -eq 1 ] || ih_fail "the pod's containers are in $ns namespaces:$nss"
	[ "$created" -eq 1 ] || ih_fail "$created containers created a namespace"
	[ "$(ih_emu namespaces | jq length)" -eq 1 ] || ih_fail "namespaces: $(ih_emu namespaces)"
}

@test "emulated kernel, runc: under mandatory = true a container claiming to be a pod's sandbox, or io.imans.enable=false and io.imans.required=false, still gets its namespace" {
	ih_write_admin_config --top "mandatory = true"
	b=$(ih_bundle fs /bin/sleep 300)
	ih_annotate "$b" io.imans.enable=false io.imans.required=false io.kubernetes.cri.container-type=sandbox \
		io.kubernetes.cri.sandbox-id=fake io.kubernetes.cri.sandbox-namespace=default io.kubernetes.cri.sandbox-name=fake
	ih_add_hooks "$b"
	id=$(ih_cid fs)
	ih_start_detached fs "$b"
	[ "$status" -eq 0 ] || ih_fail "start: $output"
	ns=$(ih_ns_of_pid "$(ih_container_pid "$id")")
	[ "$ns" != "$IH_HOST_NS" ] || ih_fail "the container escaped into the host's IMA namespace"
	[ "$(cat "$IH_RUN_DIR/created/$id.nsid")" = "$ns" ] || ih_fail "the wrapper did not create its namespace"
	[ "$(ih_record_field "$id" .result)" = applied ] || ih_fail "record: $(cat "$IH_RUN_DIR/$id.json")"
	[ "$(ih_record_field "$id" .required)" = true ] || ih_fail "not required under mandatory"
}
