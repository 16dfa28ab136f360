#!/usr/bin/env bats
# ima-hook through the Kubernetes CRI: a private containerd with its CRI
# plugin and an `ima` runtime handler (runc v2 shim, BinaryName = the
# emulated wrapper with --inject-hooks, pod_annotations and
# container_annotations passing io.imans.*), driven by crictl the way
# kubelet drives it: RunPodSandbox, CreateContainer, StartContainer, Exec,
# StopPodSandbox, RemovePodSandbox. No registry and no CNI: the app and
# pause images are built here from busybox-static (oci-image.sh) and
# imported with `ctr -n k8s.io images import`, and every pod uses the
# host's network. The IMA kernel is the emulated one (bin/ima-hook-emu).

load helpers

CRICTL_VERSION=v1.37.0

# cri_find_crictl: prints the crictl to use: $IMA_HOOK_CRICTL, one in PATH,
# or the one scripts/install-deps.sh builds into .cache/bin (built here,
# once, under a lock, when Go is there and it is not).
cri_find_crictl() {
	local c=${IMA_HOOK_CRICTL:-} cache=$IH_REPO_ROOT/.cache/bin
	[[ -n $c ]] || c=$(command -v crictl || true)
	[[ -n $c ]] || c=$cache/crictl
	if [[ ! -x $c ]]; then
		local go
		go=$(command -v go || echo /usr/local/go/bin/go)
		[[ -x $go ]] || return 1
		mkdir -p "$cache"
		(
			flock 9
			[[ -x $c ]] || GOBIN=$cache GOFLAGS=-buildvcs=false "$go" install "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION" >&2
		) 9>"$cache/.crictl.lock" || return 1
	fi
	echo "$c"
}

# One containerd for the file: its own socket, root, state, runc root and
# emulated kernel; the admin config, keys, policies, records and archives
# are the file's too (every pod and container has a name of its own).
setup_file() {
	command -v containerd >/dev/null && command -v ctr >/dev/null || return 0
	CRICTL=$(cri_find_crictl) || return 0
	CTD_DIR=$(mktemp -d /tmp/ih-cri.XXXXXX) # short: the socket path is bounded
	export CTD_DIR CRICTL
	local d=$CTD_DIR
	mkdir -p "$d/keys" "$d/policies" "$d/emu" "$d/rootfs"
	# The images: busybox-static with relative applet links; the pause
	# image sleeps as the real one does (the CRI kills it at stopp).
	local r=$d/rootfs a
	mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,run,root,var}
	chmod 1777 "$r/tmp"
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do [[ $a == busybox ]] || ln -sf busybox "$r/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
	echo 'root:x:0:' >"$r/etc/group"
	"$BATS_TEST_DIRNAME/oci-image.sh" "$d/app.tar" docker.io/library/ih-app:1 "$r" /bin/sleep 3600
	"$BATS_TEST_DIRNAME/oci-image.sh" "$d/pause.tar" docker.io/library/ih-pause:1 "$r" /bin/sleep inf
	cat >"$d/ima-hook.toml" <<-TOML
		# admin config of the CRI suite
		keys_dir = "$d/keys"
		policies_dir = "$d/policies"
		run_dir = "$d/run"
		archive_dir = "$d/archive"
		runtime = "$(command -v runc || echo /usr/sbin/runc)"
		log = "auto"
	TOML
	# What docs/runtime-wrapper.md calls ima-runtime-inject: containerd
	# reads no hooks.d, so the wrapper adds the hooks.
	printf '#!/bin/sh\nexec %s runtime --inject-hooks --config %s -- "$@"\n' \
		"$IH_EMU_BIN" "$d/ima-hook.toml" >"$d/ima-runtime-inject"
	chmod +x "$d/ima-runtime-inject"
	# The timens build (time namespaces stand in for IMA ones, see
	# wrapper.bats) for what the emulator cannot follow: a detached exec,
	# reparented to the shim, leaves the emulated kernel's process tree.
	printf '#!/bin/sh\nexec %s runtime --config %s -- "$@"\n' \
		"$IH_TIMENS_BIN" "$d/ima-hook.toml" >"$d/ima-runtime-timens"
	chmod +x "$d/ima-runtime-timens"
	# restrict_oom_score_adj: the CRI gives the sandbox oom_score_adj -998,
	# which this machine does not let anyone lower to; the CRI then keeps
	# it at containerd's own. The shim inherits containerd's environment,
	# and so do the wrapper and (through --inject-hooks) the hook:
	# IMA_HOOK_EMU_DIR reaches all of them from here.
	cat >"$d/config.toml" <<-TOML
		version = 2
		root = "$d/root"
		state = "$d/state"
		[grpc]
		  address = "$d/ctd.sock"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$d/opt"
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "docker.io/library/ih-pause:1"
		  disable_apparmor = true
		  restrict_oom_score_adj = true
		  stream_server_address = "127.0.0.1"
		  stream_server_port = "0"
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "$d/cni/bin"
		    conf_dir = "$d/cni/conf"
		  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		    runtime_type = "io.containerd.runc.v2"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		      Root = "$d/runc"
		  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima]
		    runtime_type = "io.containerd.runc.v2"
		    pod_annotations = ["io.imans.*"]
		    container_annotations = ["io.imans.*"]
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima.options]
		      BinaryName = "$d/ima-runtime-inject"
		      Root = "$d/runc"
		  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima-timens]
		    runtime_type = "io.containerd.runc.v2"
		    pod_annotations = ["io.imans.*"]
		    container_annotations = ["io.imans.*"]
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima-timens.options]
		      BinaryName = "$d/ima-runtime-timens"
		      Root = "$d/runc"
	TOML
	cat >"$d/crictl.yaml" <<-YAML
		runtime-endpoint: unix://$d/ctd.sock
		image-endpoint: unix://$d/ctd.sock
		timeout: 60
	YAML
	IMA_HOOK_EMU_DIR=$d/emu containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 3>&- &
	echo $! >"$d/pid"
	local up=
	for _ in $(seq 100); do
		if ctr --address "$d/ctd.sock" version >/dev/null 2>&1; then up=1; break; fi
		sleep 0.1
	done
	[[ -n $up ]] || { echo "containerd did not come up: $(tail -n 5 "$d/containerd.log")" >&2; return 1; }
	ctr --address "$d/ctd.sock" -n k8s.io images import "$d/app.tar" >/dev/null
	ctr --address "$d/ctd.sock" -n k8s.io images import "$d/pause.tar" >/dev/null
}

teardown_file() {
	[[ -n ${CTD_DIR:-} ]] || return 0
	local p
	for p in $(cri_raw pods -q 2>/dev/null); do
		cri_raw stopp "$p" >/dev/null 2>&1 || true
		cri_raw rmp -f "$p" >/dev/null 2>&1 || true
	done
	kill "$(cat "$CTD_DIR/pid")" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$(cat "$CTD_DIR/pid")" 2>/dev/null || break; sleep 0.1; done
	# Whatever a failed test left mounted under the file's directories.
	awk -v d="$CTD_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
	rm -rf "$CTD_DIR"
	find /sys/fs/cgroup -depth -type d -name "ih-cri-$IH_RUN_ID*" -exec rmdir {} + 2>/dev/null || true
}

setup() {
	ih_setup
	ih_require_cmd containerd ctr
	[[ -n ${CRICTL:-} ]] || skip "crictl is not installed and cannot be built (scripts/install-deps.sh builds it)"
	[[ -n ${CTD_DIR:-} ]] || ih_fail "setup_file did not start containerd"
	ih_require_bin "$IH_EMU_BIN"
	# The file's containerd, emulated kernel and admin config, not the
	# per-test ones ih_setup made.
	IH_CONFIG=$CTD_DIR/ima-hook.toml
	IH_KEYS_DIR=$CTD_DIR/keys
	IH_POLICIES_DIR=$CTD_DIR/policies
	IH_RUN_DIR=$CTD_DIR/run
	IH_ARCHIVE_DIR=$CTD_DIR/archive
	IMA_HOOK_EMU_DIR=$CTD_DIR/emu
	export IMA_HOOK_EMU_DIR
	# The Kubernetes namespace of this test's pods: teardown removes them.
	KNS=ih-$IH_RUN_ID-$BATS_TEST_NUMBER
}

teardown() {
	local p
	if [[ -n ${KNS:-} && -n ${CTD_DIR:-} ]]; then
		for p in $(cri_raw pods -q --namespace "$KNS" 2>/dev/null); do
			cri_raw stopp "$p" >/dev/null 2>&1 || true
			cri_raw rmp -f "$p" >/dev/null 2>&1 || true
		done
	fi
	ih_teardown
}

# cri ARGS...: crictl against the file's containerd (the flags win over a
# CONTAINER_RUNTIME_ENDPOINT the caller may have set).
cri() {
	timeout "$IH_TIMEOUT" "$CRICTL" --config "$CTD_DIR/crictl.yaml" \
		--runtime-endpoint "unix://$CTD_DIR/ctd.sock" --image-endpoint "unix://$CTD_DIR/ctd.sock" "$@"
}
cri_raw() { cri "$@" 2>&1; }

# pod_json NAME [ANNOTATIONS-JSON]: a host-network pod config of this
# test's namespace; prints its file.
pod_json() {
	local name=$1 ann=${2:-'{}'} f=$BATS_TEST_TMPDIR/pod-$1.json
	jq -n --arg name "$name" --arg ns "$KNS" --arg uid "uid-$KNS-$name" \
		--arg cg "/ih-cri-$IH_RUN_ID" --argjson ann "$ann" '{
		metadata: {name: $name, namespace: $ns, uid: $uid, attempt: 0},
		log_directory: "",
		linux: {cgroup_parent: $cg, security_context: {namespace_options: {network: 2}}},
		annotations: $ann
	}' >"$f"
	echo "$f"
}

# ctr_json NAME [ANNOTATIONS-JSON]: an app container config (sleeps).
ctr_json() {
	local name=$1 ann=${2:-'{}'} f=$BATS_TEST_TMPDIR/ctr-$1-$RANDOM.json
	jq -n --arg name "$name" --argjson ann "$ann" '{
		metadata: {name: $name},
		image: {image: "docker.io/library/ih-app:1"},
		command: ["/bin/sleep", "3600"],
		annotations: $ann,
		linux: {}
	}' >"$f"
	echo "$f"
}

# runp NAME [ANNOTATIONS-JSON]: runs a pod under the $HANDLER runtime
# handler (default ima); sets POD (sandbox id) and POD_JSON.
runp() {
	POD_JSON=$(pod_json "$@")
	POD=$(cri runp --runtime "${HANDLER:-ima}" "$POD_JSON") || { ih_fail "crictl runp $1 failed"; return 1; }
}

# start_ctr NAME [ANNOTATIONS-JSON]: creates and starts an app container in
# $POD; sets CID.
start_ctr() {
	local cfg
	cfg=$(ctr_json "$@")
	CID=$(cri create "$POD" "$cfg" "$POD_JSON") || { ih_fail "crictl create $1 failed"; return 1; }
	cri start "$CID" >/dev/null || { ih_fail "crictl start $1 failed"; return 1; }
}

# cri_pid ID: the host pid of a container's (or sandbox's) init.
cri_pid() { cri inspect "$1" 2>/dev/null | jq -r .info.pid; }
cri_sandbox_pid() { cri inspectp "$1" 2>/dev/null | jq -r .info.pid; }

# emu_custom_rules PID POLICY-FILE: the last rules in force in PID's
# namespace, as many as POLICY-FILE has (the kcmd's built-in policy,
# ima_policy=tcb by default, comes first).
emu_custom_rules() { ih_emu_rules "$1" | tail -n "$(wc -l <"$2")"; }

@test "cri: each app container of an annotated pod gets a namespace of its own; pod annotations apply to all, container keys win" {
	pod_pol=$(ih_write_policy "$BATS_TEST_NUMBER-pod.policy" "measure func=BPRM_CHECK mask=MAY_EXEC")
	own_pol=$(ih_write_policy "$BATS_TEST_NUMBER-own.policy" "measure func=FILE_CHECK mask=MAY_READ uid=0")
	runp web "$(jq -n --arg p "$pod_pol" '{"io.imans.enable": "true", "io.imans.policy": $p}')"
	start_ctr a
	a=$CID
	start_ctr b "$(jq -n --arg p "$own_pol" '{"io.imans.policy": $p}')"
	b=$CID
	ih_expect_applied "$a" "$pod_pol"
	ih_expect_applied "$b" "$own_pol"
	ns_a=$(ih_ns_of_pid "$(cri_pid "$a")")
	ns_b=$(ih_ns_of_pid "$(cri_pid "$b")")
	[ "$ns_a" = "$(ih_record_field "$a" .ns_id)" ] || ih_fail "a runs in $ns_a, its record says $(ih_record_field "$a" .ns_id)"
	[ "$ns_b" = "$(ih_record_field "$b" .ns_id)" ] || ih_fail "b runs in $ns_b, its record says $(ih_record_field "$b" .ns_id)"
	[ "$ns_a" != "$ns_b" ] || ih_fail "both app containers share namespace $ns_a"
	emu_custom_rules "$(cri_pid "$a")" "$pod_pol" | diff - "$pod_pol"
	emu_custom_rules "$(cri_pid "$b")" "$own_pol" | diff - "$own_pol"
}

@test "cri: a pod without io.imans annotations under the ima handler is untouched" {
	runp plain
	start_ctr c
	[ "$(ih_ns_of_pid "$(cri_pid "$CID")")" = "$IH_HOST_NS" ] || ih_fail "the container is not in the host namespace"
	[ "$(ih_ns_of_pid "$(cri_sandbox_pid "$POD")")" = "$IH_HOST_NS" ] || ih_fail "the sandbox is not in the host namespace"
	[ ! -e "$IH_RUN_DIR/$CID.json" ] || ih_fail "a record was written for the container"
	[ ! -e "$IH_RUN_DIR/created/$CID.nsid" ] || ih_fail "a namespace was created for the container"
	[ ! -e "$IH_RUN_DIR/created/$POD.nsid" ] || ih_fail "a namespace was created for the sandbox"
}

@test "cri: a bad container annotation refuses the container with the ima-hook line in crictl's error" {
	runp bad '{"io.imans.enable": "true"}'
	cfg=$(ctr_json c '{"io.imans.kcmd": "ima_bogus=1"}')
	# containerd's CreateContainer only stores the container; the runtime
	# (and so the wrapper) first runs at StartContainer.
	run cri create "$POD" "$cfg" "$POD_JSON"
	[ "$status" -eq 0 ] || ih_fail "crictl create: $output"
	id=$output
	run cri start "$id"
	[ "$status" -ne 0 ] || ih_fail "a container with an invalid kcmd started"
	[[ $output == *"OCI runtime create failed: ima-hook: io.imans.kcmd: "* ]] || ih_fail "crictl did not show the reason: $output"
	# crictl logs the error, then dies of it: the last line is its own.
	[ "$(ih_count_hook_lines "${lines[-1]}")" -eq 1 ] || ih_fail "want one ima-hook line: ${lines[-1]}"
	[ ! -e "$IH_RUN_DIR/created/$id.nsid" ] || ih_fail "a namespace was created"
	[ "$(cri inspect "$id" | jq -r .status.state)" != CONTAINER_RUNNING ] || ih_fail "the container runs"
}

@test "cri: crictl exec lands in the container's namespace (timens stand-in)" {
	ih_require_bin "$IH_TIMENS_BIN"
	HANDLER=ima-timens runp ex '{"io.imans.enable": "true"}'
	start_ctr c
	host=$(readlink /proc/self/ns/time)
	ns=$(readlink "/proc/$(cri_pid "$CID")/ns/time")
	[ "$ns" != "$host" ] || ih_fail "the container runs in the host's time namespace"
	run cri exec "$CID" /bin/sh -c 'readlink /proc/self/ns/time; cat /proc/self/timens_offsets'
	[ "$status" -eq 0 ] || ih_fail "crictl exec: $output"
	[ "${lines[0]}" = "$ns" ] || ih_fail "crictl exec runs in ${lines[0]}, the container in $ns"
	[ "$(ih_squeeze "${lines[1]} ${lines[2]}")" = "$IH_TIMENS_OFFSETS" ] || ih_fail "exec offsets: ${lines[*]}"
}

@test "cri: 10 pods started in parallel each get exactly their own config" {
	local i
	for i in $(seq 10); do
		ih_policy_rules 3 "$i" >"$IH_POLICIES_DIR/$BATS_TEST_NUMBER-p$i.policy"
	done
	for i in $(seq 10); do
		(
			POD_JSON=$(pod_json "p$i" "$(jq -n --arg p "$IH_POLICIES_DIR/$BATS_TEST_NUMBER-p$i.policy" '{"io.imans.enable": "true", "io.imans.policy": $p}')")
			POD=$(cri runp --runtime ima "$POD_JSON") || exit 1
			cfg=$(ctr_json c)
			cid=$(cri create "$POD" "$cfg" "$POD_JSON") || exit 1
			cri start "$cid" >/dev/null || exit 1
			echo "$cid" >"$BATS_TEST_TMPDIR/cid-$i"
		) &
	done
	wait
	declare -A seen=()
	for i in $(seq 10); do
		[[ -s $BATS_TEST_TMPDIR/cid-$i ]] || ih_fail "pod p$i did not start"
		cid=$(cat "$BATS_TEST_TMPDIR/cid-$i")
		ih_expect_applied "$cid" "$IH_POLICIES_DIR/$BATS_TEST_NUMBER-p$i.policy"
		[ "$(ih_record_field "$cid" .policy_rules)" -eq 3 ] || ih_fail "p$i: $(ih_record_field "$cid" .policy_rules) rules"
		ns=$(ih_ns_of_pid "$(cri_pid "$cid")")
		[ "$ns" = "$(ih_record_field "$cid" .ns_id)" ] || ih_fail "p$i runs in $ns, its record says $(ih_record_field "$cid" .ns_id)"
		[[ -z ${seen[$ns]:-} ]] || ih_fail "p$i shares namespace $ns with ${seen[$ns]}"
		seen[$ns]=p$i
		pol=$IH_POLICIES_DIR/$BATS_TEST_NUMBER-p$i.policy
		emu_custom_rules "$(cri_pid "$cid")" "$pol" | diff - "$pol"
	done
}
