#!/usr/bin/env bash
# Cost of ima-hook on the Kubernetes CRI path (issue 12 point 9): what
# kubelet waits for when it starts a one-container pod, measured with
# crictl against a private containerd (scripts/cri-lib.sh).
#
#   baseline (runc handler):  crictl runp + create + start of a
#                             host-network pod with one busybox container
#   ima handler:              the same pod annotated io.imans.enable=true
#                             with a policy, through the runtime handler
#                             `ima`: the wrapper (emulated build,
#                             --inject-hooks) creates the namespace, the
#                             hook loads the policy; the pod's sandbox
#                             passes through
#   ima-timens handler:       the wrapper of the timens build alone (a time
#                             namespace stands in for the IMA one, as in
#                             bench/wrapper.sh)
#
# Beside them, in the same rounds, the runc-level numbers of
# bench/wrapper.sh: `runc run` of a /bin/true bundle directly and through
# the timens wrapper, so the CRI ratio can be read against the runc-level
# one (the floors bench/wrapper.sh measures in detail).
#
# RUNS (default 30) runs of each, interleaved (each round in a random
# order, ih_shuffled), after
# WARMUP (default 2) untimed runs each; pods are stopped and removed
# between runs, untimed. Prints medians and ratios of medians.
#
# Needs root, containerd, ctr, runc, jq, busybox-static, crictl (built into
# .cache/bin by scripts/install-deps.sh, or here with go), and
# `make build-emu build-timens`.
set -euo pipefail

RUNS=${RUNS:-30}
WARMUP=${WARMUP:-2}

repo=$(cd "$(dirname "$0")/.." && pwd)
emu=${IMA_HOOK_EMU_BIN:-$repo/bin/ima-hook-emu}
timens=${IMA_HOOK_TIMENS_BIN:-$repo/bin/ima-hook-timens}
runc=$(command -v runc)
[[ $EUID -eq 0 ]] || { echo "bench/cri.sh: needs root" >&2; exit 1; }
for b in "$emu" "$timens"; do
	[[ -x $b ]] || { echo "bench/cri.sh: $b missing; run make build-emu build-timens" >&2; exit 1; }
done
for c in containerd ctr jq; do
	command -v "$c" >/dev/null || { echo "bench/cri.sh: $c is not installed (make deps)" >&2; exit 1; }
done

. "$repo/scripts/lib.sh"
. "$repo/scripts/cri-lib.sh"
CRICTL=$(cri_find_crictl) || { echo "bench/cri.sh: no crictl and no go to build it (scripts/install-deps.sh)" >&2; exit 1; }
ih_workdir bench-cri
# The socket path is bounded: containerd's directory is short and its own.
ctd=$(mktemp -d /tmp/ih-bcri.XXXXXX)
cg=ih-cri-bench-$$
ih_cleanup_extra() {
	cri_containerd_stop "$ctd"
	find /sys/fs/cgroup -depth -type d -name "$cg" -exec rmdir {} + 2>/dev/null || true
}
cri_containerd_start "$ctd" "$emu" "$timens"
export IMA_HOOK_EMU_DIR=$ctd/emu
echo 'measure func=BPRM_CHECK mask=MAY_EXEC' >"$ctd/policies/bench.policy"

ctr_cfg=$work/ctr.json
jq -n '{metadata: {name: "c"}, image: {image: "docker.io/library/ih-app:1"}, command: ["/bin/sleep", "3600"], linux: {}}' >"$ctr_cfg"
pod_cfg() { # NAME ANNOTATIONS-JSON
	jq -n --arg name "$1" --arg cg "/$cg" --argjson ann "$2" '{
		metadata: {name: $name, namespace: "bench", uid: ("uid-" + $name), attempt: 0},
		linux: {cgroup_parent: $cg, security_context: {namespace_options: {network: 2}}},
		annotations: $ann}' >"$work/$1.json"
	echo "$work/$1.json"
}
ima_ann=$(jq -n --arg p "$ctd/policies/bench.policy" '{"io.imans.enable": "true", "io.imans.policy": $p}')

# runc level, as bench/wrapper.sh does it.
rootfs=$work/rootfs
ih_busybox_rootfs "$rootfs" sh true
cfg=$work/ima-hook.toml
ih_admin_config "$cfg" "$runc"
mkdir -p "$work/spec" "$work/plain" "$work/enabled"
(cd "$work/spec" && "$runc" spec)
for b in plain enabled; do
	ann='{}'
	[[ $b == enabled ]] && ann='{"io.imans.enable": "true"}'
	jq --arg root "$rootfs" --argjson ann "$ann" '.process.terminal = false | .process.args = ["/bin/true"]
		| .root = {path: $root, readonly: true} | .annotations = $ann' "$work/spec/config.json" >"$work/$b/config.json"
done

n=0
pods=()
cri_start() { # HANDLER ANNOTATIONS-JSON
	n=$((n + 1))
	local cfg p c
	cfg=$(pod_cfg "p$n" "$2")
	# shellcheck disable=SC2015 # any of the three failing is the error
	p=$(cri_ctl "$ctd" runp --runtime "$1" "$cfg" 2>"$work/err") &&
		c=$(cri_ctl "$ctd" create "$p" "$ctr_cfg" "$cfg" 2>"$work/err") &&
		cri_ctl "$ctd" start "$c" >/dev/null 2>"$work/err" ||
		{ echo "bench/cri.sh: $1 pod failed: $(tail -n 1 "$work/err")" >&2; exit 1; }
	pods+=("$p")
}
cri_clean() {
	local p
	for p in "${pods[@]}"; do
		cri_ctl "$ctd" stopp "$p" >/dev/null 2>&1
		cri_ctl "$ctd" rmp "$p" >/dev/null 2>&1
	done
	pods=()
}
runc_start() { # plain|enabled [wrapper]
	n=$((n + 1))
	if [[ ${2:-} == wrapper ]]; then
		"$timens" runtime --config "$cfg" --runtime "$runc" -- --root "$work/runc" run --bundle "$work/$1" "b$n" </dev/null >/dev/null 2>"$work/err"
	else
		"$runc" --root "$work/runc" run --bundle "$work/$1" "b$n" </dev/null >/dev/null 2>"$work/err"
	fi || { echo "bench/cri.sh: runc $1 failed: $(cat "$work/err")" >&2; exit 1; }
}
run_cbase() { cri_start runc '{}'; }
run_cima() { cri_start ima "$ima_ann"; }
run_ctimens() { cri_start ima-timens '{"io.imans.enable": "true"}'; }
run_rbase() { runc_start plain; }
run_rns() { runc_start enabled wrapper; }
timed() { # FUNC -> elapsed in 1/100 ms
	local t0 t1
	t0=$(date +%s%N)
	"$@"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 10000))
}

# Sanity: the ima pod's container got a namespace with the policy; its
# sandbox and the plain pod did not.
run_cima
c=$(cri_ctl "$ctd" ps -q -p "${pods[-1]}" 2>/dev/null)
[[ $(jq -r .result "$ctd/run/$c.json") == applied ]] || { echo "bench/cri.sh: the ima pod's container has no applied record" >&2; exit 1; }
cri_clean

order=(cbase cima ctimens rbase rns)
for ((i = 0; i < WARMUP; i++)); do for w in "${order[@]}"; do "run_$w"; done; cri_clean; done
for w in "${order[@]}"; do : >"$work/$w.ms"; done
for ((i = 0; i < RUNS; i++)); do
	for w in $(ih_shuffled "${order[@]}"); do
		timed "run_$w" >>"$work/$w.ms"
	done
	cri_clean
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
stat_line() {
	sort -n "$1" | awk -v med="$(median "$1")" '{a[NR]=$1} END {
		printf "median %7.2f ms   min %7.2f   p90 %7.2f   max %7.2f   (n=%d)", med/100, a[1]/100, a[int(NR*0.9+0.5)]/100, a[NR]/100, NR}'
}
ratio() { awk -v x="$(median "$work/$1.ms")" -v b="$(median "$work/$2.ms")" 'BEGIN {printf "%.3f", x/b}'; } # VARIANT BASE
added() { awk -v x="$(median "$work/$1.ms")" -v b="$(median "$work/$2.ms")" 'BEGIN {printf "%+.2f", (x-b)/100}'; }

echo "crictl runp + create + start of a one-container host-network pod, $RUNS runs each, interleaved"
echo "  containerd $(containerd --version | awk '{print $3}'), runc $("$runc" --version | head -n1 | awk '{print $3}'), $(nproc) cores, kernel $(uname -r)"
printf '  CRI baseline (runc handler)         %s\n' "$(stat_line "$work/cbase.ms")"
printf '  CRI ima handler (wrapper + hook)    %s   ratio %s   %s ms\n' "$(stat_line "$work/cima.ms")" "$(ratio cima cbase)" "$(added cima cbase)"
printf '  CRI ima-timens handler (wrapper)    %s   ratio %s   %s ms\n' "$(stat_line "$work/ctimens.ms")" "$(ratio ctimens cbase)" "$(added ctimens cbase)"
echo "  runc level, same rounds (bench/wrapper.sh measures its floors in detail):"
printf '    runc run /bin/true                %s\n' "$(stat_line "$work/rbase.ms")"
printf '    through the timens wrapper        %s   ratio %s   %s ms\n' "$(stat_line "$work/rns.ms")" "$(ratio rns rbase)" "$(added rns rbase)"
echo "  ratio of medians, CRI ima handler   $(ratio cima cbase)"
echo "  ratio of medians, CRI wrapper only  $(ratio ctimens cbase) (runc level: $(ratio rns rbase))"
