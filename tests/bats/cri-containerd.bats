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
. "$BATS_TEST_DIRNAME/../../scripts/cri-lib.sh"

# One containerd for the file (scripts/cri-lib.sh): its own socket, root,
# state, runc root and emulated kernel; the admin config, keys, policies,
# records and archives are the file's too (every pod and container has a
# name of its own).
setup_file() {
	command -v containerd >/dev/null && command -v ctr >/dev/null || return 0
	CRICTL=$(cri_find_crictl) || return 0
	CTD_DIR=$(mktemp -d /tmp/ih-cri.XXXXXX) # short: the socket path is bounded
	export CTD_DIR CRICTL
	cri_containerd_start "$CTD_DIR" "$IH_EMU_BIN" "$IH_TIMENS_BIN"
}

teardown_file() {
	[[ -n ${CTD_DIR:-} ]] || return 0
	cri_containerd_stop "$CTD_DIR"
	find /sys/fs/cgroup -depth -type d -name "ih-cri-$IH_RUN_ID" -exec rmdir {} + 2>/dev/null || true
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
	timeout "$IH_TIMEOUT" "$CRICTL" --config /dev/null --timeout 60s \
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
	# The sandbox (pause) container carries the pod's annotations but gets
	# no namespace of its own.
	[ "$(ih_ns_of_pid "$(cri_sandbox_pid "$POD")")" = "$IH_HOST_NS" ] || ih_fail "the sandbox is not in the host namespace"
	[ ! -e "$IH_RUN_DIR/created/$POD.nsid" ] && [ ! -e "$IH_RUN_DIR/$POD.json" ] || ih_fail "the sandbox got a namespace or a record"
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

@test "cri: a bad pod annotation fails the pod at runp, with the ima-hook line in crictl's error" {
	cfg=$(pod_json badpod '{"io.imans.enable": "true", "io.imans.scope": "node"}')
	run cri runp --runtime ima "$cfg"
	[ "$status" -ne 0 ] || ih_fail "a pod with an invalid scope started"
	[[ ${lines[-1]} == *'OCI runtime create failed: ima-hook: io.imans.scope: \"node\" is not a scope; '* ]] || ih_fail "crictl did not show the reason: ${lines[-1]}"
	[ "$(ih_count_hook_lines "${lines[-1]}")" -eq 1 ] || ih_fail "want one ima-hook line: ${lines[-1]}"
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

@test "cri: stopping and removing a pod archives its evidence; measurements --pod reads it by name, list shows it" {
	pol=$(ih_write_policy "$BATS_TEST_NUMBER.policy" "measure func=BPRM_CHECK mask=MAY_EXEC")
	runp shop "$(jq -n --arg p "$pol" '{"io.imans.enable": "true", "io.imans.policy": $p}')"
	start_ctr app
	pid=$(cri_pid "$CID")
	ih_emu measure --pid "$pid" "/usr/bin/evidence-$KNS" >/dev/null
	run "$IH_EMU_BIN" list --config "$IH_CONFIG"
	[ "$status" -eq 0 ] || ih_fail "list: $output"
	grep -E "^${CID:0:12} +live +$KNS/shop +app +[0-9]+ +applied " <<<"$output" || ih_fail "list does not show the live container: $output"
	cri stopp "$POD" >/dev/null
	cri rmp "$POD" >/dev/null
	# The log names the pod and container on every line about it (the
	# file target; journald gets the same message).
	if [[ -f $IH_RUN_DIR/ima-hook.log ]]; then
		n=$(grep -c "container=$CID " "$IH_RUN_DIR/ima-hook.log")
		named=$(grep -c "container=$CID pod=$KNS/shop container=app pod_uid=uid-$KNS-shop " "$IH_RUN_DIR/ima-hook.log")
		[ "$n" -ge 3 ] && [ "$named" -eq "$n" ] || ih_fail "$named of $n log lines name the pod: $(grep "container=$CID " "$IH_RUN_DIR/ima-hook.log")"
	fi
	[ ! -e "$IH_RUN_DIR/$CID.json" ] || ih_fail "the live record is still there after rmp"
	run --separate-stderr "$IH_EMU_BIN" measurements --config "$IH_CONFIG" --pod "$KNS/shop" --container app
	[ "$status" -eq 0 ] || ih_fail "measurements --pod: $status $stderr"
	grep -q " /usr/bin/evidence-$KNS " <<<"$output" || ih_fail "the pod's measurement is not in its view: $output"
	[[ $stderr == *"--pod $KNS/shop: container app, container id $CID (stopped, pod uid uid-$KNS-shop)"* ]] || ih_fail "stderr: $stderr"
	# With one app container the pod's view needs no --container.
	run --separate-stderr "$IH_EMU_BIN" measurements --config "$IH_CONFIG" --pod "$KNS/shop"
	[ "$status" -eq 0 ] && grep -q "evidence-$KNS" <<<"$output" || ih_fail "measurements --pod without --container: $status $stderr"
	run "$IH_EMU_BIN" list --json --config "$IH_CONFIG"
	j=$(jq -c --arg id "$CID" 'select(.container_id == $id)' <<<"$output")
	[ "$(jq -r .state <<<"$j")" = stopped ] || ih_fail "list: $j"
	[ "$(jq -r '.kubernetes | "\(.namespace)/\(.pod)/\(.container)/\(.sandbox_id)"' <<<"$j")" = "$KNS/shop/app/$POD" ] || ih_fail "list identity: $j"
}

@test "cri: the containerd entry ima-hook configure appends is what containerd itself loads" {
	root=$BATS_TEST_TMPDIR/node
	mkdir -p "$root/etc/containerd"
	containerd config default >"$root/etc/containerd/config.toml"
	run "$IH_RELEASE_BIN" configure --engine containerd --root "$root"
	[ "$status" -eq 0 ] || ih_fail "configure: $output"
	[[ $output == *"restart needed: systemctl restart containerd"* ]] || ih_fail "no restart line: $output"
	dump=$(containerd --config "$root/etc/containerd/config.toml" config dump) || ih_fail "containerd does not load it"
	entry=$(sed -n '/runtimes.ima\]/,/runtimes.runc\]/p' <<<"$dump")
	grep -q 'pod_annotations = \["io.imans.\*"\]' <<<"$entry" || ih_fail "pod_annotations: $entry"
	grep -q 'container_annotations = \["io.imans.\*"\]' <<<"$entry" || ih_fail "container_annotations: $entry"
	grep -q 'BinaryName = "/usr/local/bin/ima-runtime-inject"' <<<"$entry" || ih_fail "BinaryName: $entry"
	grep -q 'runtime_type = "io.containerd.runc.v2"' <<<"$entry" || ih_fail "runtime_type: $entry"
	run "$IH_RELEASE_BIN" configure --engine containerd --root "$root"
	[[ $status -eq 0 && $output == *"nothing to do"* ]] || ih_fail "second run: $output"
}

@test "cri: io.imans.scope=pod gives the pod's app containers one namespace and one view; a container asking for another policy is refused" {
	pol=$(ih_write_policy "$BATS_TEST_NUMBER.policy" "measure func=BPRM_CHECK mask=MAY_EXEC")
	other=$(ih_write_policy "$BATS_TEST_NUMBER-other.policy" "measure func=FILE_CHECK mask=MAY_READ uid=0")
	runp shared "$(jq -n --arg p "$pol" '{"io.imans.enable": "true", "io.imans.scope": "pod", "io.imans.policy": $p}')"
	start_ctr a
	a=$CID
	start_ctr b
	b=$CID
	ns_a=$(ih_ns_of_pid "$(cri_pid "$a")")
	ns_b=$(ih_ns_of_pid "$(cri_pid "$b")")
	[ "$ns_a" != "$IH_HOST_NS" ] || ih_fail "a runs in the host namespace"
	[ "$ns_a" = "$ns_b" ] || ih_fail "a runs in $ns_a, b in $ns_b"
	[ "$(ih_ns_of_pid "$(cri_sandbox_pid "$POD")")" = "$IH_HOST_NS" ] || ih_fail "the sandbox is not in the host namespace"
	ih_expect_applied "$a" "$pol"
	ih_expect_applied "$b" "$pol"
	[ "$(ih_record_field "$b" .pod_namespace_of)" = "$a" ] || ih_fail "b's record: $(cat "$IH_RUN_DIR/$b.json")"
	[ "$(ih_record_field "$b" .ns_id)" = "$ns_a" ] || ih_fail "b's record names namespace $(ih_record_field "$b" .ns_id)"
	emu_custom_rules "$(cri_pid "$b")" "$pol" | diff - "$pol"
	# A container that asks for another policy cannot have it in the pod's
	# namespace: refused, with the line in crictl's error.
	cfg=$(ctr_json c "$(jq -n --arg p "$other" '{"io.imans.policy": $p}')")
	c=$(cri create "$POD" "$cfg" "$POD_JSON")
	run cri start "$c"
	[ "$status" -ne 0 ] || ih_fail "a container with another policy joined the pod's namespace"
	[[ ${lines[-1]} == *"ima-hook: io.imans.policy: this container asks for the policy with sha256 $(ih_sha256 "$other"), but the pod's IMA namespace (io.imans.scope=pod), created by container $a, has $(ih_sha256 "$pol"); "* ]] ||
		ih_fail "crictl did not show the reason: ${lines[-1]}"
	# The pod's evidence is one list: what b runs shows in the pod's view.
	ih_emu measure --pid "$(cri_pid "$b")" "/usr/bin/from-b-$KNS" >/dev/null
	run --separate-stderr "$IH_EMU_BIN" measurements --config "$IH_CONFIG" --pod "$KNS/shared"
	[ "$status" -eq 0 ] || ih_fail "measurements --pod: $status $stderr"
	grep -q " /usr/bin/from-b-$KNS " <<<"$output" || ih_fail "b's measurement is not in the pod's view: $output"
	[[ $stderr == *"the pod's shared namespace (containers a, b), container id $a"* ]] || ih_fail "stderr: $stderr"
}
