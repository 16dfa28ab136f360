#!/usr/bin/env bats
# The runtime wrapper on a real kernel (docs/testing.md layer 2): the timens test
# build (bin/ima-hook-timens) creates a time namespace with a week of
# monotonic offset where the release build creates an IMA namespace: same
# unshare -> write -> fork -> exec-the-runtime chain, same C stage, same
# pass-through. Real runc and real podman; crun where this host's cgroups let
# it run.
#
# The offset is monotonic only, so it shows in /proc/<pid>/timens_offsets
# (the kernel's own account of the namespace) and not in /proc/uptime: a
# boottime offset shifts the start times in /proc/<pid>/stat, which runc
# compares between `create` (inside) and `start`/`state` (outside), and every
# split create/start would then see its container as stopped (see
# pkg/ns/linux_spawn_timens.go).
# Plus the release binary on this kernel (no IMA at all): refusal, and a
# traced attempt showing unshare(0x400000000).

load helpers

setup() {
	ih_setup
	ih_require_bin "$IH_TIMENS_BIN"
	W=$(ih_wrapper "$IH_TIMENS_BIN")
	HOST_TIME_NS=$(readlink /proc/self/ns/time)
	mkdir -p "$IH_HOOKS_DIR"
}

teardown() { ih_teardown; }

# wrapped ARGS...: runc behind the timens wrapper, this test's runc root.
wrapped() { timeout "$IH_TIMEOUT" "$W" --root "$IH_RUNC_ROOT" "$@"; }

# enabled_bundle NAME CMD...: a bundle that asks for IMA (so the wrapper
# creates the namespace).
enabled_bundle() {
	local b
	b=$(ih_bundle "$@")
	ih_annotate "$b" io.imans.enable=true
	echo "$b"
}

# container_pid ID: the init pid from runc state.
container_pid() { ih_runc state "$1" | jq -r .pid; }

@test "runc run: the container is born into the wrapper's new namespace, with the offset" {
	b=$(enabled_bundle t1 /bin/sh -c 'readlink /proc/1/ns/time; cat /proc/1/timens_offsets')
	id=$(ih_cid t1)
	run wrapped run --bundle "$b" "$id" </dev/null
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	ns=${lines[0]}
	[[ $ns == time:\[*\] ]] || ih_fail "no namespace link: $output"
	[ "$ns" != "$HOST_TIME_NS" ] || ih_fail "container in the host's time namespace $ns"
	[ "$(ih_squeeze "${lines[1]} ${lines[2]}")" = "$IH_TIMENS_OFFSETS" ] || ih_fail "container offsets: ${lines[1]} ${lines[2]}"
	# The id the hook will compare with is the one the container has.
	recorded=$(cat "$IH_RUN_DIR/created/$id.nsid")
	[ "time:[$recorded]" = "$ns" ] || ih_fail "recorded namespace $recorded, container $ns"
}

@test "a namespace start reads the kernel config only for a kcmd whose answer depends on it (ima_appraise=)" {
	# Reading (and gunzipping) /proc/config.gz cost every namespace start
	# about 3 ms of CPU (docs/testing.md, start-up of the wrapper).
	ih_require_cmd strace
	b=$(enabled_bundle kc1 /bin/true)
	id=$(ih_cid kc1)
	run strace -f -qq -e trace=open,openat -o "$BATS_TEST_TMPDIR/plain.trace" timeout "$IH_TIMEOUT" "$W" --root "$IH_RUNC_ROOT" run --bundle "$b" "$id" </dev/null
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	grep -q "kc1/config.json" "$BATS_TEST_TMPDIR/plain.trace" || ih_fail "the trace shows no config.json read: $(head -c 2000 "$BATS_TEST_TMPDIR/plain.trace")"
	! grep -Eq '"(/proc/config\.gz|/boot/config-[^"]*)"' "$BATS_TEST_TMPDIR/plain.trace" || ih_fail "kernel config read for a plain kcmd: $(grep -E 'config\.gz|/boot/config-' "$BATS_TEST_TMPDIR/plain.trace")"
	# ima_appraise=log is ignored by a kernel without
	# CONFIG_IMA_APPRAISE_BOOTPARAM: there the wrapper still asks.
	ih_annotate "$b" io.imans.kcmd="ima_policy=tcb ima_appraise=log"
	id=$(ih_cid kc2)
	run strace -f -qq -e trace=open,openat -o "$BATS_TEST_TMPDIR/appraise.trace" timeout "$IH_TIMEOUT" "$W" --root "$IH_RUNC_ROOT" run --bundle "$b" "$id" </dev/null
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	grep -Eq '"(/proc/config\.gz|/boot/config-[^"]*)"' "$BATS_TEST_TMPDIR/appraise.trace" || ih_fail "no kernel config read for ima_appraise=log"
}

@test "a container without IMA passes through unchanged: host namespace, nothing recorded" {
	b=$(ih_bundle plain /bin/sh -c 'readlink /proc/1/ns/time; cat /proc/1/timens_offsets')
	id=$(ih_cid plain)
	run wrapped run --bundle "$b" "$id" </dev/null
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	[ "${lines[0]}" = "$HOST_TIME_NS" ] || ih_fail "plain container in ${lines[0]}, host $HOST_TIME_NS"
	[ "$(ih_squeeze "${lines[1]} ${lines[2]}")" = "monotonic 0 0 boottime 0 0" ] || ih_fail "plain container has offsets: ${lines[*]}"
	[ ! -e "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "a namespace id was recorded for a plain container"
}

# wrapper_cloned TRACE: whether the ima-hook process of an `strace -f -e
# trace=execve,clone,clone3` trace cloned (started Go's threads) before it
# exec'd the next program: the C pre-filter execs the runtime before Go
# starts, the Go wrapper only after.
wrapper_cloned() {
	awk -v bin="$IH_TIMENS_BIN" '
		$2 ~ /^execve\(/ && index($0, "\"" bin "\"") && pid == "" { pid = $1; next }
		pid != "" && $1 == pid && $2 ~ /^clone/ { cloned = 1 }
		pid != "" && $1 == pid && $2 ~ /^execve\(/ { exit }
		END { if (pid == "") exit 2; exit !cloned }' "$1"
}

@test "a container without IMA is passed through by the C pre-filter once the Go wrapper wrote the admin config's card" {
	ih_require_cmd strace
	b=$(ih_bundle pf /bin/true)
	[ ! -e "$IMA_HOOK_PASS_CARD_DIR" ] || ih_fail "cards before the first call: $(ls -la "$IMA_HOOK_PASS_CARD_DIR")"
	trace=$BATS_TEST_TMPDIR/trace
	strace -f -qq -s 512 -e trace=execve,clone,clone3 -o "$trace" timeout "$IH_TIMEOUT" "$W" --root "$IH_RUNC_ROOT" run --bundle "$b" "$(ih_cid pf1)" </dev/null ||
		ih_fail "first run failed: $(cat "$trace")"
	wrapper_cloned "$trace" || ih_fail "no card yet, but the Go wrapper did not run: $(cat "$trace")"
	[ "$(find "$IMA_HOOK_PASS_CARD_DIR" -type f | wc -l)" -eq 1 ] || ih_fail "no card written: $(ls -la "$IMA_HOOK_PASS_CARD_DIR")"
	strace -f -qq -s 512 -e trace=execve,clone,clone3 -o "$trace" timeout "$IH_TIMEOUT" "$W" --root "$IH_RUNC_ROOT" run --bundle "$b" "$(ih_cid pf2)" </dev/null ||
		ih_fail "second run failed: $(cat "$trace")"
	run wrapper_cloned "$trace"
	[ "$status" -eq 1 ] || ih_fail "the Go wrapper ran for a container without IMA although the card was valid (status $status): $(cat "$trace")"
	grep -q "execve(\"$IH_RUNC\", \[\"$IH_RUNC\", \"--root\", \"$IH_RUNC_ROOT\", \"run\"" "$trace" ||
		ih_fail "runc was not exec'd with the wrapper's arguments untouched: $(cat "$trace")"

	# A container that asks for IMA still reaches the Go wrapper, which
	# creates its namespace.
	e=$(enabled_bundle pfe /bin/true)
	id=$(ih_cid pfe)
	wrapped run --bundle "$e" "$id" </dev/null || ih_fail "IMA container failed"
	[ -s "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "the container that asked for IMA got no namespace"
}

# wrapper_pid TRACE: the pid of the wrapper binary's first execve in an
# strace -f output (the process the engine started and waits on).
wrapper_pid() {
	awk -v bin="$IH_TIMENS_BIN" '$2 ~ /^execve\(/ && index($0, "\"" bin "\"") { print $1; exit }' "$1"
}

@test "a namespace start hands its plan to the waiting parent: no re-exec, the engine's pid unshares, and the owner note names it" {
	ih_require_cmd strace
	e=$(enabled_bundle ho /bin/true)
	id=$(ih_cid ho)
	trace=$BATS_TEST_TMPDIR/trace
	strace -f -qq -s 512 -e trace=execve,fork,clone,clone3,unshare -o "$trace" timeout "$IH_TIMEOUT" "$W" --root "$IH_RUNC_ROOT" run --bundle "$e" "$id" </dev/null ||
		ih_fail "run failed: $(cat "$trace")"
	wpid=$(wrapper_pid "$trace")
	[ -n "$wpid" ] || ih_fail "no wrapper in the trace: $(cat "$trace")"
	grep -Eq "^$wpid +(unshare\(CLONE_NEWTIME|<\.\.\. unshare resumed)" "$trace" ||
		ih_fail "the process the engine waits on did not create the namespace: $(cat "$trace")"
	! grep -q 'execve("/proc/self/exe", \["ima-hook-nsenter"' "$trace" || ih_fail "the wrapper re-executed itself: $(cat "$trace")"
	grep -Eq "^$wpid +fork\(\)" "$trace" || ih_fail "no fork before Go: $(cat "$trace")"
	[ "$(jq -r .pid "$IH_RUN_DIR/created/$id.owner")" = "$wpid" ] ||
		ih_fail "owner note $(cat "$IH_RUN_DIR/created/$id.owner") does not name pid $wpid"
	[ -s "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "no namespace noted"
}

@test "a bundle that mentions IMA but gets no namespace is relayed: the runtime runs, its exit code and no namespace" {
	ih_require_cmd strace
	b=$(ih_bundle rl /bin/sh -c 'exit 7')
	ih_annotate "$b" io.imans.enable=false
	id=$(ih_cid rl)
	trace=$BATS_TEST_TMPDIR/trace
	run strace -f -qq -s 512 -e trace=execve,fork,unshare -o "$trace" timeout "$IH_TIMEOUT" "$W" --root "$IH_RUNC_ROOT" run --bundle "$b" "$id"
	[ "$status" -eq 7 ] || ih_fail "status $status, want the container's 7: $output $(cat "$trace")"
	wpid=$(wrapper_pid "$trace")
	grep -Eq "^$wpid +fork\(\)" "$trace" || ih_fail "no hand-off fork: $(cat "$trace")"
	! grep -q 'unshare(CLONE_NEWTIME' "$trace" || ih_fail "a namespace was attempted: $(cat "$trace")"
	grep -q "execve(\"$IH_RUNC\"" "$trace" || ih_fail "runc did not run: $(cat "$trace")"
	[ ! -e "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "a namespace was noted"
}

@test "the card follows the admin config: mandatory = true gives the next container without annotations its namespace" {
	b=$(ih_bundle pm /bin/true)
	wrapped run --bundle "$b" "$(ih_cid pm1)" </dev/null || ih_fail "first run failed"
	[ "$(find "$IMA_HOOK_PASS_CARD_DIR" -type f | wc -l)" -eq 1 ] || ih_fail "no card written"
	sed -i '1i mandatory = true' "$IH_CONFIG"
	id=$(ih_cid pm2)
	wrapped run --bundle "$b" "$id" </dev/null || ih_fail "run under mandatory = true failed"
	[ -s "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "mandatory = true, but the container without annotations was passed through"
	[ "$(find "$IMA_HOOK_PASS_CARD_DIR" -type f | wc -l)" -eq 0 ] || ih_fail "the card of a mandatory config was kept: $(ls -la "$IMA_HOOK_PASS_CARD_DIR")"
}

@test "exec through the wrapper lands in the container's namespace (plain runc exec does not)" {
	b=$(enabled_bundle ex /bin/sleep 60)
	id=$(ih_cid ex)
	wrapped create --bundle "$b" "$id" </dev/null >/dev/null 2>&1 || ih_fail "create failed"
	wrapped start "$id"
	pid=$(container_pid "$id")
	ctr_ns=$(readlink "/proc/$pid/ns/time")
	[ "$ctr_ns" != "$HOST_TIME_NS" ] || ih_fail "container init in the host namespace"
	run wrapped exec "$id" /bin/sh -c 'readlink /proc/self/ns/time; cat /proc/self/timens_offsets'
	[ "$status" -eq 0 ] || ih_fail "exec status $status: $output"
	[ "${lines[0]}" = "$ctr_ns" ] || ih_fail "wrapped exec in ${lines[0]}, container $ctr_ns"
	[ "$(ih_squeeze "${lines[1]} ${lines[2]}")" = "$IH_TIMENS_OFFSETS" ] || ih_fail "wrapped exec offsets: ${lines[*]}"
	# runc 1.1 knows no time namespaces: without the wrapper exec stays on
	# the host's clock (this is what the wrapper's exec fixes for IMA).
	run ih_runc exec "$id" /bin/readlink /proc/self/ns/time
	[ "$output" = "$HOST_TIME_NS" ] || ih_fail "plain runc exec in $output"
	wrapped kill "$id" KILL
}

@test "exit codes 0, 1 and 137 pass through the wrapper" {
	for code in 0 1 137; do
		b=$(enabled_bundle "code$code" /bin/sh -c "exit $code")
		run wrapped run --bundle "$b" "$(ih_cid "code$code")" </dev/null
		[ "$status" -eq "$code" ] || ih_fail "exit $code came back as $status: $output"
	done
	# killed by SIGKILL from outside (a container's pid 1 cannot SIGKILL
	# itself): runc run reports 137
	b=$(enabled_bundle killed /bin/sleep 60)
	id=$(ih_cid killed)
	wrapped run --bundle "$b" "$id" </dev/null >/dev/null 2>&1 &
	wpid=$!
	for _ in $(seq 100); do [ "$(ih_runc state "$id" 2>/dev/null | jq -r .status)" = running ] && break; sleep 0.1; done
	ih_runc kill "$id" KILL
	status=0
	wait "$wpid" || status=$?
	[ "$status" -eq 137 ] || ih_fail "SIGKILLed container: status $status"
}

@test "signals sent to the wrapper reach the container" {
	for sig in TERM HUP USR1; do
		b=$(enabled_bundle "sig$sig" /bin/sh -c "trap 'echo got $sig; exit 42' $sig; echo ready; while :; do sleep 0.1; done")
		id=$(ih_cid "sig$sig")
		out=$BATS_TEST_TMPDIR/sig$sig.out
		# Not through timeout(1) or a function: $! must be the wrapper itself.
		"$W" --root "$IH_RUNC_ROOT" run --bundle "$b" "$id" </dev/null >"$out" 2>&1 &
		wpid=$!
		for _ in $(seq 100); do grep -q ready "$out" && break; sleep 0.1; done
		grep -q ready "$out" || ih_fail "container did not start: $(cat "$out")"
		kill -"$sig" "$wpid"
		status=0
		wait "$wpid" || status=$?
		[ "$status" -eq 42 ] || ih_fail "SIG$sig: status $status, output $(cat "$out")"
		grep -q "got $sig" "$out" || ih_fail "trap did not run: $(cat "$out")"
	done
}

@test "inherited fds reach the container (--preserve-fds), with and without a namespace" {
	echo "through fd 3" >"$BATS_TEST_TMPDIR/fd3"
	for how in enabled plain; do
		if [ $how = enabled ]; then
			b=$(enabled_bundle "fd$how" /bin/sh -c 'cat <&3')
		else
			b=$(ih_bundle "fd$how" /bin/sh -c 'cat <&3')
		fi
		run wrapped run --preserve-fds 1 --bundle "$b" "$(ih_cid "fd$how")" </dev/null 3<"$BATS_TEST_TMPDIR/fd3"
		[ "$status" -eq 0 ] || ih_fail "$how: status $status: $output"
		[ "$output" = "through fd 3" ] || ih_fail "$how: container read '$output' from fd 3"
	done
}

@test "20 parallel creates each get their own namespace" {
	n=20
	ids=()
	for i in $(seq $n); do
		b=$(enabled_bundle "par$i" /bin/sleep 60)
		id=$(ih_cid "par$i")
		ids+=("$id")
		wrapped create --bundle "$b" "$id" </dev/null >"$BATS_TEST_TMPDIR/create$i.log" 2>&1 &
	done
	wait
	declare -A seen=()
	for i in $(seq $n); do
		id=${ids[$((i - 1))]}
		pid=$(container_pid "$id") || ih_fail "$id not created: $(cat "$BATS_TEST_TMPDIR/create$i.log")"
		ns=$(readlink "/proc/$pid/ns/time")
		[ "$ns" != "$HOST_TIME_NS" ] || ih_fail "$id in the host namespace"
		[ -z "${seen[$ns]:-}" ] || ih_fail "$id shares $ns with ${seen[$ns]}"
		seen[$ns]=$id
		[ "time:[$(cat "$IH_RUN_DIR/created/$id.nsid")]" = "$ns" ] || ih_fail "$id: recorded id differs from $ns"
	done
	[ "${#seen[@]}" -eq $n ]
}

@test "an invalid config is refused before anything is created, in one line" {
	b=$(enabled_bundle bad)
	ih_annotate "$b" 'io.imans.kcmd=ima_policy=nonsense'
	id=$(ih_cid bad)
	run wrapped run --bundle "$b" "$id" </dev/null
	[ "$status" -ne 0 ]
	ih_expect_one_hook_line io.imans.kcmd
	[ -z "$(ih_runc list -q)" ] || ih_fail "a container was created: $(ih_runc list)"
	[ ! -e "$IH_RUN_DIR/created/$id.nsid" ]
}

@test "runtime subcommands other than create/run/exec are the runtime's own" {
	run "$W" --version
	[ "$status" -eq 0 ]
	[[ $output == *"runc version"* ]] || ih_fail "not runc's output: $output"
	run "$W" --root "$IH_RUNC_ROOT" state no-such-container
	[ "$status" -ne 0 ]
	[[ $output == *"container does not exist"* ]] || ih_fail "runc's own error expected: $output"
	[[ $output != *"ima-hook"* ]] || ih_fail "the wrapper spoke: $output"
}

@test "the ima-runtime symlink is the wrapper (runtime from the admin config)" {
	l=$(ih_wrapper_symlink "$IH_TIMENS_BIN")
	run "$l" --version
	[ "$status" -eq 0 ]
	[[ $output == *"runc version"* ]] || ih_fail "symlink did not reach runc: $output"
}

podman_wrapped() {
	ih_require_cmd "$IH_PODMAN"
	ih_podman_run --runtime "$W" "$@"
}

@test "podman --runtime: the container gets the new namespace with the offset" {
	run podman_wrapped --annotation io.imans.enable=true -- /bin/sh -c 'readlink /proc/1/ns/time; cat /proc/1/timens_offsets'
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	[[ ${lines[0]} == time:\[*\] && ${lines[0]} != "$HOST_TIME_NS" ]] || ih_fail "podman container in ${lines[0]}"
	[ "$(ih_squeeze "${lines[1]} ${lines[2]}")" = "$IH_TIMENS_OFFSETS" ] || ih_fail "podman container offsets: ${lines[*]}"
}

@test "podman --runtime: a terminal container (console socket) works through the wrapper" {
	run podman_wrapped -t --annotation io.imans.enable=true -- /bin/sh -c 'test -t 0 && echo tty; readlink /proc/1/ns/time'
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	[[ ${lines[0]} == tty* ]] || ih_fail "no terminal in the container: $output"
	[[ ${lines[1]} == time:* && ${lines[1]%$'\r'} != "$HOST_TIME_NS" ]] || ih_fail "terminal container in ${lines[1]}"
}

@test "podman --runtime: without the annotation nothing changes" {
	run podman_wrapped -- /bin/readlink /proc/1/ns/time
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	[ "$output" = "$HOST_TIME_NS" ] || ih_fail "plain podman container in $output"
}

@test "podman --runtime: exit codes 0, 1, 137 pass through" {
	for code in 0 1 137; do
		run podman_wrapped --annotation io.imans.enable=true -- /bin/sh -c "exit $code"
		[ "$status" -eq "$code" ] || ih_fail "exit $code came back as $status: $output"
	done
}

@test "podman exec through the wrapper lands in the container's namespace" {
	ih_require_cmd "$IH_PODMAN"
	name=$(ih_cid pexec)
	IH_USED_PODMAN=1
	timeout "$IH_TIMEOUT" "$IH_PODMAN" --runtime "$W" run -d --name "$name" --label "ima-hook-test=$IH_RUN_ID-$BATS_TEST_NUMBER" \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network none \
		--annotation io.imans.enable=true --rootfs "$IH_ROOTFS" /bin/sleep 60 >/dev/null
	ctr=$(timeout "$IH_TIMEOUT" "$IH_PODMAN" --runtime "$W" exec "$name" /bin/readlink /proc/1/ns/time)
	mine=$(timeout "$IH_TIMEOUT" "$IH_PODMAN" --runtime "$W" exec "$name" /bin/readlink /proc/self/ns/time)
	[ "$ctr" != "$HOST_TIME_NS" ] || ih_fail "container init in the host namespace"
	[ "$mine" = "$ctr" ] || ih_fail "podman exec in $mine, container $ctr"
	timeout 60 "$IH_PODMAN" rm -f -t 0 "$name" >/dev/null
}

@test "crun behind the wrapper (skipped where crun cannot run)" {
	crun=$(command -v crun) || skip "crun is not installed"
	probe=$(ih_bundle crunprobe /bin/true)
	if ! out=$(timeout 60 "$crun" --root "$BATS_TEST_TMPDIR/crun-root" run --bundle "$probe" "$(ih_cid crunprobe)" </dev/null 2>&1); then
		skip "crun cannot run containers on this host: ${out//$'\n'/ }"
	fi
	b=$(enabled_bundle crun1 /bin/readlink /proc/1/ns/time)
	cw=$BATS_TEST_TMPDIR/crun-wrapper
	printf '#!/bin/sh\nexec %s runtime --config %s --runtime %s -- "$@"\n' "$IH_TIMENS_BIN" "$IH_CONFIG" "$crun" >"$cw"
	chmod +x "$cw"
	run timeout "$IH_TIMEOUT" "$cw" --root "$BATS_TEST_TMPDIR/crun-root" run --bundle "$b" "$(ih_cid crun1)" </dev/null
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	[ "$output" != "$HOST_TIME_NS" ] || ih_fail "crun container in the host namespace"
}

# --- the release binary on this kernel (no IMA namespaces) -------------------

@test "release build: required IMA is refused before unshare, naming the missing kernel support" {
	ih_require_bin "$IH_RELEASE_BIN"
	ih_require_cmd strace
	rw=$(ih_wrapper "$IH_RELEASE_BIN")
	b=$(enabled_bundle rel1)
	id=$(ih_cid rel1)
	run strace -f -qq -e trace=unshare -o "$BATS_TEST_TMPDIR/strace" timeout "$IH_TIMEOUT" "$rw" --root "$IH_RUNC_ROOT" run --bundle "$b" "$id" </dev/null
	[ "$status" -ne 0 ]
	ih_expect_one_hook_line kernel
	[[ $output == *"cannot give container $id its own IMA namespace"* ]] || ih_fail "$output"
	! grep -q 'unshare(' "$BATS_TEST_TMPDIR/strace" || ih_fail "unshare attempted after the probe said no: $(cat "$BATS_TEST_TMPDIR/strace")"
	[ -z "$(ih_runc list -q)" ]
}

@test "release build: a traced forced attempt shows unshare(0x400000000) and the kernel's EINVAL in one line" {
	ih_require_bin "$IH_RELEASE_BIN"
	ih_require_cmd strace
	b=$(enabled_bundle rel2)
	id=$(ih_cid rel2)
	run strace -f -qq -e trace=unshare -o "$BATS_TEST_TMPDIR/strace" \
		timeout "$IH_TIMEOUT" "$IH_RELEASE_BIN" runtime --force-unshare --config "$IH_CONFIG" --runtime "$IH_RUNC" -- \
		--root "$IH_RUNC_ROOT" run --bundle "$b" "$id" </dev/null
	ih_log "strace: $(cat "$BATS_TEST_TMPDIR/strace")"
	[ "$status" -eq 122 ] || ih_fail "status $status: $output"
	grep -q 'unshare(0x400000000' "$BATS_TEST_TMPDIR/strace" || ih_fail "no unshare(0x400000000) in the trace"
	# strace may split the call around another thread's event ("<unfinished
	# ...>" / "<... unshare resumed>").
	grep -Eq '(unshare\(0x400000000|unshare resumed).*= -1 EINVAL' "$BATS_TEST_TMPDIR/strace" || ih_fail "unshare did not fail with EINVAL"
	[ "$output" = "ima-hook: unshare(0x400000000): Invalid argument (errno 22); this kernel has no IMA namespaces (needs an openEuler kernel built with CONFIG_IMA_NS)" ] ||
		ih_fail "unexpected report: $output"
	[ -z "$(ih_runc list -q)" ]
}

@test "release build: optional IMA on this kernel starts the container without a namespace" {
	ih_require_bin "$IH_RELEASE_BIN"
	rw=$(ih_wrapper "$IH_RELEASE_BIN")
	b=$(enabled_bundle rel3 /bin/echo started)
	ih_annotate "$b" io.imans.required=false
	run timeout "$IH_TIMEOUT" "$rw" --root "$IH_RUNC_ROOT" run --bundle "$b" "$(ih_cid rel3)" </dev/null
	[ "$status" -eq 0 ] || ih_fail "status $status: $output"
	[ "$output" = started ] || ih_fail "output: $output"
	# ima_appraise= depends on the kernel's build config only where a
	# namespace is created: here none is, and the container starts.
	b=$(enabled_bundle rel4 /bin/echo started)
	ih_annotate "$b" io.imans.required=false "io.imans.kcmd=ima_policy=tcb ima_appraise=log"
	run timeout "$IH_TIMEOUT" "$rw" --root "$IH_RUNC_ROOT" run --bundle "$b" "$(ih_cid rel4)" </dev/null
	[ "$status" -eq 0 ] || ih_fail "with ima_appraise: status $status: $output"
	[ "$output" = started ] || ih_fail "with ima_appraise: output: $output"
}
