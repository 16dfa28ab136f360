#!/usr/bin/env bats
# The runtime wrapper under Docker, configured as docs/runtime-wrapper.md
# says: a daemon.json runtime whose path is ima-hook and whose runtimeArgs
# are "runtime [--inject-hooks] --config FILE --" (Docker puts them before
# the runtime's own arguments). A private dockerd (own socket, data and exec
# roots, no bridge, no iptables, vfs) and its own containerd. Debian's
# Docker 20.10 has no --annotation, so the admin config turns IMA on for
# every container of the runtime (mandatory = true): the seed's daemon-wide
# pattern, through an unmodified runc.
#
# The timens build stands in for IMA namespaces (docs/testing.md layer 2); the
# emulated build runs the full IMA path with the injected hooks.

load helpers

IMAGE=ih-busybox:test

setup_file() {
	command -v dockerd >/dev/null && [[ -x /usr/bin/docker ]] || return 0
	DK_DIR=$(mktemp -d /tmp/ih-dk.XXXXXX) # short: the socket path is bounded
	export DK_DIR
	# ima-hook as daemon.json names it: a stand-in that runs the binary and
	# emulator directory the current test chose (daemon.json is read once).
	cat >"$DK_DIR/ima-hook" <<-SH
		#!/bin/sh
		. "$DK_DIR/current.env"
		export IMA_HOOK_EMU_DIR
		exec "\$BIN" "\$@"
	SH
	chmod +x "$DK_DIR/ima-hook"
	# The original guide's daemon.json (issue 13.3): its runtimeArgs as it
	# writes them, one JSON string per flag and value, and a path that is
	# the only change. The stand-in pins the test's binary and admin config
	# (the symlink form would read /etc/ima-hook); the guide's flags reach
	# the wrapper first, as they do through the ima-runtime symlink.
	cat >"$DK_DIR/ima-runtime" <<-SH
		#!/bin/sh
		. "$DK_DIR/current.env"
		export IMA_HOOK_EMU_DIR
		exec "\$BIN" runtime --config "$DK_DIR/ima-hook.toml" -- "\$@"
	SH
	chmod +x "$DK_DIR/ima-runtime"
	mkdir -p "$DK_DIR/keys" "$DK_DIR/private"
	# Signed by a test CA that each test's emulated kernel trusts
	# (use_binary): the kernel drops any other certificate.
	ih_make_ca "$DK_DIR/ca" && ih_sign_cert x "$DK_DIR/keys" "$DK_DIR/private" "$DK_DIR/ca" || return 1
	cat >"$DK_DIR/daemon.json" <<-JSON
		{"runtimes": {
		  "ima": {"path": "$DK_DIR/ima-hook", "runtimeArgs": ["runtime", "--inject-hooks", "--config", "$DK_DIR/ima-hook.toml", "--"]},
		  "ima-nohooks": {"path": "$DK_DIR/ima-hook", "runtimeArgs": ["runtime", "--config", "$DK_DIR/ima-hook.toml", "--"]},
		  "ima-guide": {"path": "$DK_DIR/ima-runtime", "runtimeArgs": ["--imans", "--ima-x509 $DK_DIR/keys/x.der", "--ima-kcmd ima_policy=appraise_tcb ima_appraise=log"]},
		  "ima-guide-bad": {"path": "$DK_DIR/ima-runtime", "runtimeArgs": ["--imans", "--ima-kcmd ima_policy=bogus"]}
		}}
	JSON
	dockerd --config-file "$DK_DIR/daemon.json" --data-root "$DK_DIR/data" --exec-root "$DK_DIR/exec" \
		-H "unix://$DK_DIR/docker.sock" --pidfile "$DK_DIR/docker.pid" \
		--iptables=false --ip-masq=false --bridge=none --storage-driver=vfs \
		--cgroup-parent "/$(basename "$DK_DIR")" --containerd-namespace "$(basename "$DK_DIR")" \
		--containerd-plugins-namespace "$(basename "$DK_DIR")-plugins" >"$DK_DIR/dockerd.log" 2>&1 3>&- &
	for _ in $(seq 150); do
		/usr/bin/docker -H "unix://$DK_DIR/docker.sock" version >/dev/null 2>&1 && break
		sleep 0.2
	done
	local rootfs
	rootfs=$(ih_busybox_rootfs)
	tar -C "$rootfs" -c . | /usr/bin/docker -H "unix://$DK_DIR/docker.sock" import - "$IMAGE" >/dev/null ||
		{ echo "dockerd did not come up: $(tail -n 5 "$DK_DIR/dockerd.log")" >&2; return 1; }
}

teardown_file() {
	[[ -n ${DK_DIR:-} ]] || return 0
	local pid
	pid=$(cat "$DK_DIR/docker.pid" 2>/dev/null) || true
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	# vfs layers are plain directories; dockerd unmounted its own mounts.
	# The containers' parent cgroup is this daemon's own (--cgroup-parent).
	find /sys/fs/cgroup -depth -maxdepth 2 -type d -name "$(basename "$DK_DIR")" -exec rmdir {} + 2>/dev/null || true
	rm -rf "$DK_DIR"
}

setup() {
	ih_setup
	ih_require_cmd dockerd /usr/bin/docker
	[[ -n ${DK_DIR:-} ]] || ih_fail "setup_file did not start dockerd"
	ih_require_bin "$IH_TIMENS_BIN"
	HOST_TIME_NS=$(readlink /proc/self/ns/time)
	ih_write_admin_config --top 'mandatory = true' --default 'policy_rules = "measure func=BPRM_CHECK mask=MAY_EXEC"'
	ln -sf "$IH_CONFIG" "$DK_DIR/ima-hook.toml"
	use_binary "$IH_TIMENS_BIN"
}

teardown() {
	local id
	for id in $(dk ps -aq --filter "label=ima-hook-test=$IH_RUN_ID-$BATS_TEST_NUMBER"); do
		dk rm -f "$id" >/dev/null 2>&1 || true
	done
	ih_teardown
}

dk() { timeout "$IH_TIMEOUT" /usr/bin/docker -H "unix://$DK_DIR/docker.sock" "$@"; }

# use_binary BIN: the ima-hook binary the daemon.json runtimes run from now.
use_binary() {
	printf 'BIN=%s\nIMA_HOOK_EMU_DIR=%s\n' "$1" "$IMA_HOOK_EMU_DIR" >"$DK_DIR/current.env"
	ih_trust_ca "$DK_DIR/ca"
}

# dk_run RUNTIME [docker run flags...] -- CMD...: $cid is the container id,
# which is also the runtime's container id.
dk_run() {
	local rt=$1 flags=()
	shift
	while (($#)) && [[ $1 != -- ]]; do flags+=("$1"); shift; done
	shift
	rm -f "$BATS_TEST_TMPDIR/cid"
	run dk run --runtime "$rt" --network none --label "ima-hook-test=$IH_RUN_ID-$BATS_TEST_NUMBER" \
		--cidfile "$BATS_TEST_TMPDIR/cid" "${flags[@]}" "$IMAGE" "$@"
	cid=$(cat "$BATS_TEST_TMPDIR/cid" 2>/dev/null || true)
}

@test "docker (daemon.json runtime, runtimeArgs): the container is born into the wrapper's new namespace" {
	dk_run ima-nohooks --rm -- /bin/sh -c 'readlink /proc/1/ns/time; cat /proc/1/timens_offsets'
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	[[ ${lines[0]} == time:\[*\] && ${lines[0]} != "$HOST_TIME_NS" ]] || ih_fail "container in ${lines[0]}, host $HOST_TIME_NS"
	[ "$(ih_squeeze "${lines[1]} ${lines[2]}")" = "$IH_TIMENS_OFFSETS" ] || ih_fail "offsets: ${lines[*]}"
	# --rm deleted it through the wrapper, which removed its notes (the
	# recorded id is compared with a running container's below).
	[ -n "$cid" ] && ! ls "$IH_RUN_DIR/created/$cid".* 2>/dev/null || ih_fail "notes left after docker run --rm: $(ls "$IH_RUN_DIR/created")"
	for code in 1 3; do
		dk_run ima-nohooks --rm -- /bin/sh -c "exit $code"
		[ "$status" -eq "$code" ] || ih_fail "exit $code came back as $status: $output"
	done
}

@test "docker exec goes through the wrapper into the container's namespace" {
	dk_run ima-nohooks -d -- /bin/sleep 60
	[ "$status" -eq 0 ] || ih_fail "run -d: $output"
	pid=$(dk inspect -f '{{.State.Pid}}' "$cid")
	ctr_ns=$(readlink "/proc/$pid/ns/time")
	[ "$ctr_ns" != "$HOST_TIME_NS" ] || ih_fail "container init in the host namespace"
	run dk exec "$cid" /bin/sh -c 'readlink /proc/self/ns/time; cat /proc/self/timens_offsets'
	[ "$status" -eq 0 ] || ih_fail "exec: $output"
	[ "${lines[0]}" = "$ctr_ns" ] || ih_fail "exec in ${lines[0]}, container $ctr_ns"
	[ "$(ih_squeeze "${lines[1]} ${lines[2]}")" = "$IH_TIMENS_OFFSETS" ] || ih_fail "exec offsets: ${lines[*]}"
}

@test "emulated kernel, docker with --inject-hooks: the hook loads the admin's policy into the container's namespace" {
	ih_require_bin "$IH_EMU_BIN"
	use_binary "$IH_EMU_BIN"
	dk_run ima -d -- /bin/sleep 60
	[ "$status" -eq 0 ] || ih_fail "run -d: $output"
	pid=$(dk inspect -f '{{.State.Pid}}' "$cid")
	ns=$(ih_ns_of_pid "$pid")
	[ "$ns" = "$(cat "$IH_RUN_DIR/created/$cid.nsid")" ] || ih_fail "init in $ns, wrapper recorded another"
	[ "$(ih_record_field "$cid" .ns_created_by_wrapper)" = true ] || ih_fail "the hook did not see the wrapper's namespace"
	[ "$(ih_record_field "$cid" .result)" = applied ] || ih_fail "record: $(cat "$IH_RUN_DIR/$cid.json")"
	[ "$(ih_emu_rules "$pid" | tail -n 1)" = "measure func=BPRM_CHECK mask=MAY_EXEC" ] || ih_fail "policy not in force: $(ih_emu_rules "$pid")"
}

@test "docker: a refusal reaches docker's error message in one ima-hook line" {
	# The release build on this kernel: required IMA is refused by the
	# wrapper before anything is created; dockerd shows what the runtime
	# log says.
	ih_require_bin "$IH_RELEASE_BIN"
	use_binary "$IH_RELEASE_BIN"
	dk_run ima --rm -- /bin/true
	[ "$status" -ne 0 ] || ih_fail "started on a kernel without IMA namespaces"
	[[ $output == *"OCI runtime create failed: ima-hook: kernel: "*"cannot give container $cid its own IMA namespace"* ]] ||
		ih_fail "docker did not show the reason: $output"
	[ ! -e "$IH_RUN_DIR/created/$cid.nsid" ] || ih_fail "a namespace was recorded"
}

# guide_config: this test's admin config without mandatory (so that only
# the runtime entry's --imans turns IMA on) and with keys_dir where the
# guide's certificate lies.
guide_config() {
	ih_write_admin_config
	sed -i "s|^keys_dir = .*|keys_dir = \"$DK_DIR/keys\"|" "$IH_CONFIG"
	ih_require_bin "$IH_EMU_BIN"
	use_binary "$IH_EMU_BIN"
}

@test "emulated kernel, the guide's daemon.json (--imans, --ima-x509 PATH, --ima-kcmd as single runtimeArgs): every container its own namespace with the flags' kcmd and key" {
	ih_require_cmd openssl evmctl
	guide_config
	keyid=$(printf 'probe\n' >"$BATS_TEST_TMPDIR/probe" &&
		evmctl ima_sign --sigfile -a sha256 --key "$DK_DIR/private/x.pem" "$BATS_TEST_TMPDIR/probe" >/dev/null 2>&1 &&
		od -An -tx1 -j3 -N4 "$BATS_TEST_TMPDIR/probe.sig" | tr -d ' \n')
	[ ${#keyid} -eq 8 ] || ih_fail "evmctl gave no key id"
	declare -A seen=()
	for i in 1 2; do
		# No annotation (Docker 20.10 has none) and no mandatory: --imans alone.
		dk_run ima-guide -d -- /bin/sleep 60
		[ "$status" -eq 0 ] || ih_fail "run $i: $output"
		pid=$(dk inspect -f '{{.State.Pid}}' "$cid")
		ns=$(ih_ns_of_pid "$pid")
		[ "$ns" = "$(cat "$IH_RUN_DIR/created/$cid.nsid")" ] || ih_fail "container $i: init in $ns, the wrapper recorded another"
		[ "$ns" != "$IH_HOST_NS" ] || ih_fail "container $i in the host namespace"
		[[ -z ${seen[$ns]:-} ]] || ih_fail "containers share namespace $ns"
		seen[$ns]=1
		# The flags' kcmd reached kcmd_for_children, the key the keyring.
		j=$(ih_emu namespaces | jq --argjson id "$ns" '.[] | select(.id == $id)')
		[ "$(jq -r .appraise <<<"$j")" = log ] || ih_fail "ima_appraise of --ima-kcmd not applied: $j"
		[ "$(printf '%08x' "$(jq -r '.key_ids[0]' <<<"$j")")" = "$keyid" ] || ih_fail "--ima-x509 key $keyid not in the namespace keyring: $j"
		# The injected hook resolved the same defaults (it got the flags too).
		[ "$(ih_record_field "$cid" .result)" = applied ] || ih_fail "record: $(cat "$IH_RUN_DIR/$cid.json")"
		[ "$(ih_record_field "$cid" .kcmd)" = "ima_policy=appraise_tcb ima_appraise=log" ] || ih_fail "hook's kcmd: $(ih_record_field "$cid" .kcmd)"
		[ "$(ih_record_field "$cid" .key_id)" = "$keyid" ] || ih_fail "hook's key: $(ih_record_field "$cid" .key_id)"
		[ "$(ih_record_field "$cid" .ns_created_by_wrapper)" = true ]
		# runc never saw the guide's flags: docker's other calls (state,
		# exec, kill, delete) go through the same entry.
		run dk exec "$cid" /bin/true
		[ "$status" -eq 0 ] || ih_fail "exec: $output"
	done
	# An entry without --imans leaves an unannotated container alone.
	dk_run ima-nohooks --rm -- /bin/true
	[ "$status" -eq 0 ] || ih_fail "plain entry: $output"
	[ ! -e "$IH_RUN_DIR/created/$cid.nsid" ] || ih_fail "a namespace without --imans or mandatory"
}

@test "the guide's daemon.json with a kcmd the kernel refuses: the container does not start, one line names --ima-kcmd" {
	guide_config
	dk_run ima-guide-bad --rm -- /bin/true
	[ "$status" -ne 0 ] || ih_fail "started with --ima-kcmd ima_policy=bogus"
	[[ $output == *"OCI runtime create failed: ima-hook: --ima-kcmd (runtime argument): "*"bogus"* ]] ||
		ih_fail "docker did not show the reason: $output"
	[ ! -e "$IH_RUN_DIR/created/$cid.nsid" ] || ih_fail "a namespace was recorded"
}
