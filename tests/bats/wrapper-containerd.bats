#!/usr/bin/env bats
# The runtime wrapper under containerd: a private containerd daemon, its
# runc shim (containerd-shim-runc-v2) and `ctr run --runc-binary`, which is
# what the runc options' BinaryName (docs/runtime-wrapper.md) does for a
# Kubernetes runtime class. The shim calls the wrapper with go-runc's
# command lines (--root, --log FILE --log-format json, create --bundle
# --pid-file, start, exec --process --detach, delete) and reads the reason of
# a failure from that log file only, never from stderr.
#
# The timens build stands in for IMA namespaces on this kernel (docs/testing.md
# layer 2, see wrapper.bats); the emulated build runs the full IMA path
# with --inject-hooks, since containerd reads no hooks.d.

load helpers

# One containerd for the file, with its own socket, root and state, and a
# namespace of its own: nothing of a containerd the machine may run is
# touched (the shim's runc root is /run/containerd/runc/<namespace>).
setup_file() {
	command -v containerd >/dev/null && command -v ctr >/dev/null || return 0
	CTD_DIR=$(mktemp -d /tmp/ih-ctd.XXXXXX) # short: the socket path is bounded
	export CTD_DIR CTD_NS="ih-$IH_RUN_ID"
	cat >"$CTD_DIR/config.toml" <<-TOML
		version = 2
		root = "$CTD_DIR/root"
		state = "$CTD_DIR/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$CTD_DIR/ctd.sock"
	TOML
	containerd --config "$CTD_DIR/config.toml" >"$CTD_DIR/containerd.log" 2>&1 3>&- &
	echo $! >"$CTD_DIR/pid"
	for _ in $(seq 100); do
		ctr --address "$CTD_DIR/ctd.sock" version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "containerd did not come up: $(tail -n 5 "$CTD_DIR/containerd.log")" >&2
	return 1
}

teardown_file() {
	[[ -n ${CTD_DIR:-} ]] || return 0
	kill "$(cat "$CTD_DIR/pid")" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$(cat "$CTD_DIR/pid")" 2>/dev/null || break; sleep 0.1; done
	rm -rf "$CTD_DIR" "/run/containerd/runc/$CTD_NS"
	# The per-namespace parent cgroups ctr made (the containers' own are
	# gone with them); rmdir only removes empty ones.
	find /sys/fs/cgroup -depth -type d -name "$CTD_NS" -exec rmdir {} + 2>/dev/null || true
}

setup() {
	ih_setup
	ih_require_cmd containerd ctr
	[[ -n ${CTD_DIR:-} ]] || ih_fail "setup_file did not start containerd"
	ih_require_bin "$IH_TIMENS_BIN"
	HOST_TIME_NS=$(readlink /proc/self/ns/time)
	CTRS=()
}

teardown() {
	local id
	for id in "${CTRS[@]}"; do
		ctd task kill -s KILL "$id" >/dev/null 2>&1 || true
		ctd task rm -f "$id" >/dev/null 2>&1 || true
		ctd container rm "$id" >/dev/null 2>&1 || true
	done
	ih_teardown
}

ctd() { timeout "$IH_TIMEOUT" ctr --address "$CTD_DIR/ctd.sock" -n "$CTD_NS" "$@"; }

# binary_name BIN [--inject-hooks]: the script containerd runs instead of
# runc (BinaryName), as docs/runtime-wrapper.md shows it.
binary_name() {
	local bin=$1 f
	f=$BATS_TEST_TMPDIR/binary-name-$(basename "$1")
	shift
	printf '#!/bin/sh\nIMA_HOOK_EMU_DIR=%s\nexport IMA_HOOK_EMU_DIR\nexec %s runtime %s --config %s --runtime %s -- "$@"\n' \
		"$IMA_HOOK_EMU_DIR" "$bin" "$*" "$IH_CONFIG" "$IH_RUNC" >"$f"
	chmod +x "$f"
	echo "$f"
}

# ctd_run NAME BINARY-NAME [ctr run flags...] -- CMD...: ctr run --rm over the
# shared busybox rootfs; $id is the container id.
ctd_run() {
	local name=$1 rt=$2 flags=()
	shift 2
	while (($#)) && [[ $1 != -- ]]; do flags+=("$1"); shift; done
	shift
	id=$(ih_cid "$name")
	CTRS+=("$id")
	run ctd run --rm --null-io=false --read-only --runc-binary "$rt" "${flags[@]}" --rootfs "$IH_ROOTFS" "$id" "$@"
}

@test "containerd: the container is born into the wrapper's new namespace, with the offset" {
	rt=$(binary_name "$IH_TIMENS_BIN")
	ctd_run t1 "$rt" --annotation io.imans.enable=true -- /bin/sh -c 'readlink /proc/1/ns/time; cat /proc/1/timens_offsets'
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	[[ ${lines[0]} == time:\[*\] && ${lines[0]} != "$HOST_TIME_NS" ]] || ih_fail "container in ${lines[0]}, host $HOST_TIME_NS"
	[ "$(ih_squeeze "${lines[1]} ${lines[2]}")" = "$IH_TIMENS_OFFSETS" ] || ih_fail "offsets: ${lines[*]}"
	# --rm deleted it through the wrapper, which removed its notes (the
	# recorded id is compared with a running container's below).
	! ls "$IH_RUN_DIR/created/$id".* 2>/dev/null || ih_fail "notes left after ctr run --rm: $(ls "$IH_RUN_DIR/created")"
}

@test "containerd: a container without IMA passes through unchanged" {
	rt=$(binary_name "$IH_TIMENS_BIN")
	ctd_run plain "$rt" -- /bin/readlink /proc/1/ns/time
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	[ "$output" = "$HOST_TIME_NS" ] || ih_fail "plain container in $output"
	[ ! -e "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "a namespace id was recorded"
}

@test "containerd: ctr task exec goes through the wrapper into the container's namespace" {
	rt=$(binary_name "$IH_TIMENS_BIN")
	id=$(ih_cid ex)
	CTRS+=("$id")
	ctd run -d --read-only --runc-binary "$rt" --annotation io.imans.enable=true --rootfs "$IH_ROOTFS" "$id" /bin/sleep 60 >/dev/null ||
		ih_fail "ctr run -d failed"
	pid=$(ctd task ls | awk -v id="$id" '$1 == id {print $2}')
	ctr_ns=$(readlink "/proc/$pid/ns/time")
	[ "$ctr_ns" != "$HOST_TIME_NS" ] || ih_fail "container init in the host namespace"
	run ctd task exec --exec-id e1 "$id" /bin/sh -c 'readlink /proc/self/ns/time; cat /proc/self/timens_offsets'
	[ "$status" -eq 0 ] || ih_fail "exec status $status: $output"
	[ "${lines[0]}" = "$ctr_ns" ] || ih_fail "exec in ${lines[0]}, container $ctr_ns"
	[ "$(ih_squeeze "${lines[1]} ${lines[2]}")" = "$IH_TIMENS_OFFSETS" ] || ih_fail "exec offsets: ${lines[*]}"
}

@test "containerd: exit codes pass through the shim and the wrapper" {
	rt=$(binary_name "$IH_TIMENS_BIN")
	for code in 0 1 3; do
		ctd_run "code$code" "$rt" --annotation io.imans.enable=true -- /bin/sh -c "exit $code"
		[ "$status" -eq "$code" ] || ih_fail "exit $code came back as $status: $output"
	done
}

@test "containerd: a refusal reaches the user through the runtime log (go-runc shows no stderr)" {
	rt=$(binary_name "$IH_TIMENS_BIN")
	ctd_run bad "$rt" --annotation io.imans.enable=true --annotation io.imans.kcmd=ima_bogus=1 -- /bin/true
	[ "$status" -ne 0 ] || ih_fail "an invalid kcmd started"
	[[ $output == *"OCI runtime create failed: ima-hook: io.imans.kcmd: "* ]] || ih_fail "ctr did not show the reason: $output"
	[ ! -e "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "a namespace was created"
	# A failure of the C stage, after Go is gone, reaches it as well: the
	# release build forced to unshare(CLONE_NEWIMA) on this kernel.
	ih_require_bin "$IH_RELEASE_BIN"
	rt=$(binary_name "$IH_RELEASE_BIN" --force-unshare)
	ctd_run forced "$rt" --annotation io.imans.enable=true --annotation io.imans.required=false -- /bin/true
	[ "$status" -ne 0 ] || ih_fail "the forced unshare did not fail on this kernel"
	[[ $output == *"OCI runtime create failed: ima-hook: unshare(0x400000000): Invalid argument (errno 22); this kernel has no IMA namespaces"* ]] ||
		ih_fail "ctr did not show the C stage's reason: $output"
}

@test "emulated kernel, containerd with --inject-hooks: namespace with kcmd and x509, the hook loads the policy" {
	ih_require_bin "$IH_EMU_BIN"
	ih_require_cmd openssl
	cert=$(ih_make_cert ctd)
	pol=$(ih_write_policy ctd.policy "measure func=BPRM_CHECK mask=MAY_EXEC")
	rt=$(binary_name "$IH_EMU_BIN" --inject-hooks)
	id=$(ih_cid emu)
	CTRS+=("$id")
	ctd run -d --read-only --runc-binary "$rt" --annotation io.imans.enable=true --annotation "io.imans.policy=$pol" \
		--annotation "io.imans.x509=$cert" --annotation "io.imans.kcmd=ima_appraise=log" \
		--rootfs "$IH_ROOTFS" "$id" /bin/sleep 60 >/dev/null || ih_fail "ctr run -d failed: $(tail -n 3 "$CTD_DIR/containerd.log")"
	pid=$(ctd task ls | awk -v id="$id" '$1 == id {print $2}')
	ns=$(ih_ns_of_pid "$pid")
	[ "$ns" = "$(cat "$IH_RUN_DIR/created/$id.nsid")" ] || ih_fail "init in $ns, wrapper recorded $(cat "$IH_RUN_DIR/created/$id.nsid")"
	[ "$ns" != "$IH_HOST_NS" ] || ih_fail "container in the host namespace"
	ih_expect_applied "$id" "$pol"
	[ "$(ih_record_field "$id" .ns_created_by_wrapper)" = true ] || ih_fail "the hook did not see the wrapper's namespace"
	ih_emu_rules "$pid" | tail -n 1 | diff - "$pol"
	j=$(ih_emu namespaces | jq --argjson id "$ns" '.[] | select(.id == $id)')
	[ "$(jq -r .appraise <<<"$j")" = log ] || ih_fail "kcmd not applied: $j"
	[ "$(jq '.key_ids | length' <<<"$j")" -eq 1 ] || ih_fail "x509 key not in the namespace keyring: $j"
}
