#!/usr/bin/env bash
# Cost of ima-hook on container start (issue 2 point 11).
#
#   baseline: runc run of a busybox /bin/true bundle, no hook
#   ima-hook: the same bundle with io.imans.enable and a 50-rule policy,
#             started through the runtime wrapper (which creates the IMA
#             namespace) with the createRuntime and poststop hooks, on the
#             emulated IMA-namespace kernel (bin/ima-hook-emu)
#
# RUNS (default 30) runs of each, interleaved (A B C D, B C D A, ...) so
# drift of the machine hits all alike, after WARMUP (default 3) untimed runs
# each. Three more variants break the cost down: the wrapper passing an
# unannotated bundle through, the wrapper creating the namespace with no
# hooks, and plain runc with /bin/true as both hooks (what runc spends on
# any pair of hook processes: the floor of any hook).
# Prints both medians, the ratio of medians (goal <= 1.05) and the hook's
# peak RSS, measured with GNU time in separate, untimed runs.
#
# Needs root, runc, jq, busybox-static, GNU time (/usr/bin/time) and
# `make build-emu`.
set -euo pipefail

RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
RSS_RUNS=${RSS_RUNS:-5}
RULES=${RULES:-50}
GOAL=${GOAL:-1.05}

repo=$(cd "$(dirname "$0")/.." && pwd)
emu=${IMA_HOOK_EMU_BIN:-$repo/bin/ima-hook-emu}
runc=$(command -v runc)
[[ $EUID -eq 0 ]] || { echo "bench/hook.sh: needs root" >&2; exit 1; }
[[ -x $emu ]] || { echo "bench/hook.sh: $emu missing; run make build-emu" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench/hook.sh: GNU time missing (apt-get install time)" >&2; exit 1; }

. "$repo/scripts/lib.sh"
ih_workdir bench
[[ -n ${KEEP:-} ]] && trap - EXIT

# --- rootfs, policy, admin config, wrapper ---------------------------------
rootfs=$work/rootfs
ih_busybox_rootfs "$rootfs" sh true
mkdir -p "$work/emu"
for ((i = 0; i < RULES; i++)); do
	case $((i % 5)) in
	0) echo "measure func=BPRM_CHECK uid=$i" ;;
	1) echo "measure func=FILE_CHECK mask=MAY_READ fowner=$i" ;;
	2) echo "dont_measure fsmagic=0x9fa0" ;;
	3) echo "measure func=MMAP_CHECK mask=MAY_EXEC uid=$i" ;;
	4) echo "dont_measure fsmagic=0x62656572" ;;
	esac
done >"$work/policies/bench.policy"

cfg=$work/ima-hook.toml
ih_admin_config "$cfg" "$runc"

export IMA_HOOK_EMU_DIR=$work/emu
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# The wrapper is called directly (not through a shell script), so that a
# shell's start is not counted as ima-hook's.
wrapper=("$emu" runtime --config "$cfg" --runtime "$runc" --)

# --- bundles ---------------------------------------------------------------
spec_dir=$work/spec
mkdir -p "$spec_dir"
(cd "$spec_dir" && "$runc" spec)

make_bundle() { # NAME HOOKBIN|-
	local b=$work/$1 hookbin=$2
	mkdir -p "$b"
	jq --arg root "$rootfs" '.process.terminal = false | .process.args = ["/bin/true"]
		| .root = {path: $root, readonly: true}' "$spec_dir/config.json" >"$b/config.json"
	if [[ $hookbin != - ]]; then
		jq --arg bin "$hookbin" --arg cfg "$cfg" --arg pol "$work/policies/bench.policy" \
			--arg path "PATH=$path" --arg emu "IMA_HOOK_EMU_DIR=$IMA_HOOK_EMU_DIR" '
			.annotations = {"io.imans.enable": "true", "io.imans.policy": $pol}
			| .hooks = {
				createRuntime: [{path: $bin, args: ["ima-hook", "hook", "--stage", "createRuntime", "--config", $cfg], env: [$path, $emu], timeout: 30}],
				poststop: [{path: $bin, args: ["ima-hook", "hook", "--stage", "poststop", "--config", $cfg], env: [$path, $emu], timeout: 30}]}
		' "$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"
	fi
	echo "$b"
}
base_bundle=$(make_bundle base -)
hook_bundle=$(make_bundle hook "$emu")
# Breakdown bundles: the wrapper passing an unannotated bundle through, and
# the wrapper creating the namespace with no hooks at all.
pass_bundle=$(make_bundle pass -)
ns_bundle=$(make_bundle ns "$emu")
jq 'del(.hooks)' "$ns_bundle/config.json" >"$ns_bundle/c.json" && mv "$ns_bundle/c.json" "$ns_bundle/config.json"
# The floor of any hook: the same two stages running /bin/true, on the
# baseline bundle through plain runc. What runc itself spends on starting
# and waiting for two hook processes, whatever they do.
noop_bundle=$(make_bundle noop -)
jq '.hooks = {createRuntime: [{path: "/bin/true", args: ["true"]}], poststop: [{path: "/bin/true", args: ["true"]}]}' \
	"$noop_bundle/config.json" >"$noop_bundle/c.json" && mv "$noop_bundle/c.json" "$noop_bundle/config.json"

# The RSS probe: the same hook behind GNU time, one file per stage call.
rss_hook=$work/bin/rss-hook
cat >"$rss_hook" <<EOF
#!/bin/sh
exec /usr/bin/time -a -o $work/rss.kib -f "%M %e \$3" $emu "\$@" 2>>$work/hook.stderr
EOF
chmod +x "$rss_hook"
rss_bundle=$(make_bundle rss "$rss_hook")

n=0
now_ns() { date +%s%N; }
run_base() {
	n=$((n + 1))
	"$runc" --root "$work/runc" run --bundle "$base_bundle" "bench-base-$n" </dev/null >/dev/null 2>"$work/err" ||
		{ echo "baseline run failed: $(cat "$work/err")" >&2; exit 1; }
}
run_hook() {
	n=$((n + 1))
	"${wrapper[@]}" --root "$work/runc" run --bundle "${1:-$hook_bundle}" "bench-hook-$n" </dev/null >/dev/null 2>"$work/err" ||
		{ echo "ima-hook run failed: $(cat "$work/err")" >&2; exit 1; }
}
run_noop() {
	n=$((n + 1))
	"$runc" --root "$work/runc" run --bundle "$noop_bundle" "bench-noop-$n" </dev/null >/dev/null 2>"$work/err" ||
		{ echo "no-op hook run failed: $(cat "$work/err")" >&2; exit 1; }
}
run_pass() {
	n=$((n + 1))
	"${wrapper[@]}" --root "$work/runc" run --bundle "$pass_bundle" "bench-pass-$n" </dev/null >/dev/null 2>"$work/err" ||
		{ echo "wrapper pass-through run failed: $(cat "$work/err")" >&2; exit 1; }
}
run_ns() {
	n=$((n + 1))
	"${wrapper[@]}" --root "$work/runc" run --bundle "$ns_bundle" "bench-ns-$n" </dev/null >/dev/null 2>"$work/err" ||
		{ echo "wrapper namespace-only run failed: $(cat "$work/err")" >&2; exit 1; }
}
timed() { # FUNC -> elapsed ms with 0.01 precision on stdout
	local t0 t1
	t0=$(now_ns)
	"$@"
	t1=$(now_ns)
	echo $(((t1 - t0) / 10000))
}

# Sanity: the hook run must really apply the policy.
run_hook
rec=$(compgen -G "$work/archive/bench-hook-$n/*/record.json" | tail -n 1) || true
[[ $(jq -r .result "$rec") == applied && $(jq -r .policy_rules "$rec") -eq $RULES ]] ||
	{ echo "bench/hook.sh: the hook did not apply the $RULES-rule policy: $(cat "$rec")" >&2; exit 1; }

for ((i = 0; i < WARMUP; i++)); do run_base; run_hook; done

# Interleaved: each round runs every variant once, in a random order
# (ih_shuffled), so a slow phase of the machine hits all variants alike.
variants=(base hook pass ns noop)
for v in "${variants[@]}"; do : >"$work/$v.ms"; done
for ((i = 0; i < RUNS; i++)); do
	for v in $(ih_shuffled "${variants[@]}"); do
		timed "run_$v" >>"$work/$v.ms"
	done
done

# Peak RSS of the hook process (createRuntime and poststop calls).
: >"$work/rss.kib"
for ((i = 0; i < RSS_RUNS; i++)); do run_hook "$rss_bundle"; done

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
stat_line() { # FILE (values in 1/100 ms)
	sort -n "$1" | awk -v med="$(median "$1")" '{a[NR]=$1} END {
		printf "median %7.2f ms   min %7.2f   p90 %7.2f   max %7.2f   (n=%d)", med/100, a[1]/100, a[int(NR*0.9+0.5)]/100, a[NR]/100, NR}'
}
mb=$(median "$work/base.ms")
mh=$(median "$work/hook.ms")
ratio=$(awk -v h="$mh" -v b="$mb" 'BEGIN {printf "%.3f", h/b}')
rss=$(sort -n "$work/rss.kib" | tail -n1 | cut -d' ' -f1)

echo "runc run busybox /bin/true, $RUNS runs each, interleaved; emulated kernel, $RULES-rule policy"
echo "  runc $("$runc" --version | head -n1 | awk '{print $3}'), $(nproc) cores, kernel $(uname -r)"
printf '  baseline (runc, no hook)           %s\n' "$(stat_line "$work/base.ms")"
printf '  ima-hook (wrapper + hooks)         %s\n' "$(stat_line "$work/hook.ms")"
printf '  added per container start          %.2f ms\n' "$(awk -v h="$mh" -v b="$mb" 'BEGIN {print (h-b)/100}')"
echo "  breakdown (same rounds):"
printf '    wrapper, unannotated pass-through %s\n' "$(stat_line "$work/pass.ms")"
printf '    wrapper + namespace, no hooks     %s\n' "$(stat_line "$work/ns.ms")"
printf '    floor: /bin/true as both hooks   %s\n' "$(stat_line "$work/noop.ms")"
echo "  ratio of medians                   $ratio (goal <= $GOAL)"
echo "  ratios of medians, breakdown:      hooks alone (vs wrapper + namespace) $(awk -v h="$mh" -v b="$(median "$work/ns.ms")" 'BEGIN {printf "%.3f", h/b}')," \
	"floor of any hook pair (no-op vs baseline) $(awk -v h="$(median "$work/noop.ms")" -v b="$mb" 'BEGIN {printf "%.3f", h/b}')"
echo "  hook peak RSS                      $rss KiB (max of $(grep -c "^[0-9]" "$work/rss.kib") hook calls)"
if grep -q 'non-zero status' "$work/rss.kib"; then
	echo "  warning: $(grep -c 'non-zero status' "$work/rss.kib") hook calls exited non-zero: $(sort -u "$work/hook.stderr" | head -n 3)"
fi
if awk -v r="$ratio" -v g="$GOAL" 'BEGIN {exit !(r <= g)}'; then
	echo "  goal met"
else
	echo "  goal NOT met"
fi
