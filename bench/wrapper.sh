#!/usr/bin/env bash
# Cost of the runtime wrapper on container start (issue 3 point 6).
#
#   baseline:     runc run of a busybox /bin/true bundle
#   wrapper-ns:   the same bundle with io.imans.enable=true through the
#                 wrapper of the timens test build (bin/ima-hook-timens): the
#                 config is resolved and validated, the C stage unshares a
#                 namespace, writes its configuration, records its id, forks,
#                 and the child execs runc, which is born into the namespace.
#                 On this kernel that is a time namespace (docs/testing.md layer 2);
#                 the release build does the same with CLONE_NEWIMA.
#   pass-through: the bundle without the annotation through the same wrapper
#                 (the C pre-filter reads config.json and execs runc, under
#                 the card the Go wrapper wrote at the first call).
#
#   floors:       the same start through six stand-ins built from
#                 bench/floor/: an exec-only C wrapper, the ABI's minimum in
#                 C (unshare, fork, wait), an exec-only Go program, the
#                 minimum of any wrapper that meets issue 3 (a Go process
#                 must validate before the runtime is born: C forks a Go
#                 child that validates nothing, then unshares and forks the
#                 runtime), and two exec-only Go programs: one linking
#                 what the design requires of any wrapper (the C stage,
#                 SM2 x509, TOML, JSON, pflag), one linking ima-hook's
#                 packages. They show what any wrapper, any wrapper on this
#                 ABI, any wrapper in Go, any Go-validated wrapper on this
#                 ABI, any wrapper of this design and any wrapper on
#                 ima-hook's libraries cost on this machine, every binary
#                 from the same page-cache state (ih_settle_binaries).
#                 bench/startup.sh measures the same without runc's own
#                 noise.
#
# RUNS (default 30) runs of each, interleaved so drift of the machine hits
# all alike, each round in a random order (ih_shuffled), after WARMUP (default 3) untimed runs each.
# Prints the medians and the ratios of medians against the baseline (goal
# for wrapper-ns <= 1.05).
#
# As on a node: run_dir is a tmpfs (/run is one wherever systemd runs;
# RUN_TMPFS=0 keeps it on the work directory's filesystem, where creating
# a file can cost a millisecond), and the notes of a container that ran
# are gone before the next start, as the hook's poststop removes them
# (untimed here, since this bench runs no hooks). KEEP_NOTES=1 leaves them:
# then every start first asks the runtime (`runc state`) about the
# previous one's notes, which a node with the hooks never pays.
# EXTRA_BIN=PATH measures a second wrapper binary (e.g. one built from an
# earlier commit) as two more variants in the same rounds. It reads its own
# copy of the admin config: a pass-through card names the binary that wrote
# it, so two binaries on one config would each rewrite the other's card and
# neither would ever pass through before Go.
#
# Needs root, runc, jq, busybox-static, gcc (musl-gcc for a musl build), go
# and `make build-timens`.
set -euo pipefail

RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
GOAL=${GOAL:-1.05}

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${IMA_HOOK_TIMENS_BIN:-$repo/bin/ima-hook-timens}
extra=${EXTRA_BIN:-}
RUN_TMPFS=${RUN_TMPFS:-1}
KEEP_NOTES=${KEEP_NOTES:-0}
runc=$(command -v runc)
[[ $EUID -eq 0 ]] || { echo "bench/wrapper.sh: needs root" >&2; exit 1; }
[[ -x $bin ]] || { echo "bench/wrapper.sh: $bin missing; run make build-timens" >&2; exit 1; }
[[ -z $extra || -x $extra ]] || { echo "bench/wrapper.sh: EXTRA_BIN $extra is not executable" >&2; exit 1; }

. "$repo/scripts/lib.sh"
ih_workdir bench-wrapper
if [[ $RUN_TMPFS == 1 ]]; then
	mount -t tmpfs -o size=64m,mode=0755 ima-hook-bench "$work/run"
	ih_cleanup_extra() { umount "$work/run" 2>/dev/null || true; }
fi
# The timens build keeps its pass-through cards where this says.
export IMA_HOOK_PASS_CARD_DIR=$work/cards

rootfs=$work/rootfs
ih_busybox_rootfs "$rootfs" sh true
mkdir -p "$work/spec"

cfg=$work/ima-hook.toml
ih_admin_config "$cfg" "$runc"
cfgx=$work/ima-hook-extra.toml
cp "$cfg" "$cfgx"

(cd "$work/spec" && "$runc" spec)
make_bundle() { # NAME ANNOTATIONS-JSON
	local b=$work/$1
	mkdir -p "$b"
	jq --arg root "$rootfs" --argjson ann "$2" '.process.terminal = false | .process.args = ["/bin/true"]
		| .root = {path: $root, readonly: true} | .annotations = $ann' "$work/spec/config.json" >"$b/config.json"
	echo "$b"
}
# Floors measured in the same rounds: an exec-only C wrapper (any wrapper
# at all), the ABI's minimum in C (unshare, fork the runtime into the
# namespace, wait), an exec-only Go program (any wrapper in Go), the
# Go-validated C-first minimum and the two library floors, built like the
# wrapper (bench/floor/build.sh).
. "$repo/bench/floor/build.sh"
ih_build_floors "$repo" "$bin" "$work/bin"

plain=$(make_bundle plain '{}')
enabled=$(make_bundle enabled '{"io.imans.enable": "true"}')

n=0
start() { # WHO BUNDLE
	n=$((n + 1))
	local id=bench-$1-$n
	if [[ $1 == base ]]; then
		"$runc" --root "$work/runc" run --bundle "$2" "$id" </dev/null >/dev/null 2>"$work/err"
	elif [[ $1 == *-floor ]]; then
		"$work/bin/$1" "$runc" --root "$work/runc" run --bundle "$2" "$id" </dev/null >/dev/null 2>"$work/err"
	elif [[ $1 == *x ]]; then
		"$extra" runtime --config "$cfgx" --runtime "$runc" -- --root "$work/runc" run --bundle "$2" "$id" </dev/null >/dev/null 2>"$work/err"
	else
		"$bin" runtime --config "$cfg" --runtime "$runc" -- --root "$work/runc" run --bundle "$2" "$id" </dev/null >/dev/null 2>"$work/err"
	fi || { echo "bench/wrapper.sh: $1 run failed: $(cat "$work/err")" >&2; exit 1; }
}
# What the hook's poststop does (record.Store.RemoveNotes), untimed.
poststop() { [[ $KEEP_NOTES == 1 ]] || rm -f "$work/run/created/bench-$1-$n".*; }
run_base() { start base "$plain"; }
run_ns() { start ns "$enabled"; }
run_pass() { start pass "$plain"; }
run_nsx() { start nsx "$enabled"; }
run_passx() { start passx "$plain"; }
run_fexec() { start exec-floor "$plain"; }
run_funshare() { start unshare-floor "$plain"; }
run_fgo() { start goexec-floor "$plain"; }
run_fval() { start govalidate-floor "$plain"; }
run_fbind() { start gobinding-floor "$plain"; }
run_fimp() { start goimports-floor "$plain"; }
timed() { # VARIANT -> elapsed in 1/100 ms, appended to $work/VARIANT.ms
	local t0 t1
	t0=$(date +%s%N)
	"run_$1"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 10000)) >>"$work/$1.ms"
	case $1 in ns | nsx) poststop "$1" ;; esac
}

# Sanity: the enabled bundle really gets its own namespace.
run_ns
[[ -s $work/run/created/bench-ns-$n.nsid ]] || { echo "bench/wrapper.sh: no namespace was created" >&2; exit 1; }

poststop ns
ih_settle_binaries "$bin" ${extra:+"$extra"} "$work"/bin/*-floor
order=(base ns pass fexec funshare fgo fval fbind fimp)
[[ -z $extra ]] || order+=(nsx passx)
for ((i = 0; i < WARMUP; i++)); do for w in "${order[@]}"; do timed "$w"; done; done
for w in "${order[@]}"; do : >"$work/$w.ms"; done
for ((i = 0; i < RUNS; i++)); do
	for w in $(ih_shuffled "${order[@]}"); do
		timed "$w"
	done
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
stat_line() {
	sort -n "$1" | awk -v med="$(median "$1")" '{a[NR]=$1} END {
		printf "median %7.2f ms   min %7.2f   p90 %7.2f   max %7.2f   (n=%d)", med/100, a[1]/100, a[int(NR*0.9+0.5)]/100, a[NR]/100, NR}'
}
mb=$(median "$work/base.ms")
mn=$(median "$work/ns.ms")
mp=$(median "$work/pass.ms")
ratio() { awk -v x="$(median "$work/$1.ms")" -v b="$mb" 'BEGIN {printf "%.3f", x/b}'; } # VARIANT
rn=$(ratio ns)
rp=$(ratio pass)

echo "runc run busybox /bin/true through the runtime wrapper, $RUNS runs each, interleaved"
echo "  runc $("$runc" --version | head -n1 | awk '{print $3}'), $(nproc) cores, kernel $(uname -r)"
echo "  run_dir on $(stat -f -c %T "$work/run"); notes $([[ $KEEP_NOTES == 1 ]] && echo "left for the next start's sweep" || echo "removed after each run, as poststop does")"
echo "  wrapper $bin${extra:+; extra $extra}; floors built with $floor_libc ($floor_cc)"
printf '  baseline (runc)                    %s\n' "$(stat_line "$work/base.ms")"
printf '  wrapper, new namespace             %s\n' "$(stat_line "$work/ns.ms")"
printf '  wrapper, pass-through              %s\n' "$(stat_line "$work/pass.ms")"
printf '  added per start (namespace)        %.2f ms\n' "$(awk -v x="$mn" -v b="$mb" 'BEGIN {print (x-b)/100}')"
printf '  added per start (pass-through)     %.2f ms\n' "$(awk -v x="$mp" -v b="$mb" 'BEGIN {print (x-b)/100}')"
if [[ -n $extra ]]; then
	printf '  extra wrapper, new namespace       %s   ratio %s\n' "$(stat_line "$work/nsx.ms")" "$(ratio nsx)"
	printf '  extra wrapper, pass-through        %s   ratio %s\n' "$(stat_line "$work/passx.ms")" "$(ratio passx)"
fi
echo "  floors, same rounds (bench/floor/):"
printf '    exec-only C wrapper              %s   ratio %s\n' "$(stat_line "$work/fexec.ms")" "$(ratio fexec)"
printf '    unshare+fork+wait in C (ABI min) %s   ratio %s\n' "$(stat_line "$work/funshare.ms")" "$(ratio funshare)"
printf '    exec-only Go program             %s   ratio %s\n' "$(stat_line "$work/fgo.ms")" "$(ratio fgo)"
printf '    Go-validated, C-first (issue min) %s   ratio %s\n' "$(stat_line "$work/fval.ms")" "$(ratio fval)"
printf '    exec-only Go, design libraries   %s   ratio %s\n' "$(stat_line "$work/fbind.ms")" "$(ratio fbind)"
printf '    exec-only Go, ima-hook packages  %s   ratio %s\n' "$(stat_line "$work/fimp.ms")" "$(ratio fimp)"
echo "  ratio of medians, namespace        $rn (goal <= $GOAL)"
echo "  ratio of medians, pass-through     $rp"
gap() { awk -v x="$(median "$work/$1.ms")" -v f="$(median "$work/$2.ms")" 'BEGIN {printf "%+.2f ms", (x-f)/100}'; } # VARIANT FLOOR
echo "  above its floor: namespace $(gap ns fval) (Go-validated; goal <= +1 ms), pass-through $(gap pass fgo) (exec-only Go; goal <= +0.5 ms)"
[[ -z $extra ]] || echo "  extra wrapper:   namespace $(gap nsx fval), pass-through $(gap passx fgo)"
if awk -v r="$rn" -v g="$GOAL" 'BEGIN {exit !(r <= g)}'; then
	echo "  goal met"
else
	echo "  goal NOT met"
fi
