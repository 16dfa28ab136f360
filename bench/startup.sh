#!/usr/bin/env bash
# Start-up cost of the runtime wrapper itself (issue 14 point 6), without
# the runtime's own noise: the "runtime" is /bin/true, so what is timed is
# the wrapper's start, its decision and its exec (pass-through), or its
# start, validation, namespace creation and fork (new namespace, timens
# build: a time namespace stands in for the IMA one), against the floors
# of bench/floor/ started the same way in the same rounds.
# bench/wrapper.sh measures the same against a real `runc run`, where a
# container start's 15-40 ms of runc hide differences under a millisecond.
#
#   baseline      /bin/true run --bundle B ID (the "runtime" alone)
#   pass-through  ima-hook-timens runtime --runtime /bin/true -- run ...
#                 on a bundle without io.imans.enable: the C pre-filter
#                 execs the runtime (the Go wrapper wrote the admin
#                 config's card in the sanity run)
#   pass-through, Go wrapper
#                 the same with runc's single-dash "-bundle", which the
#                 pre-filter leaves to Go: the pass-through as the Go
#                 wrapper decides it
#   namespace     the same on a bundle with io.imans.enable=true
#   floors        exec-only C, unshare+fork+wait in C, exec-only Go,
#                 Go-validated C-first, exec-only Go linking what the design
#                 requires of any wrapper (gobinding) and exec-only Go
#                 linking ima-hook's packages (bench/floor/build.sh), each
#                 running /bin/true with the same arguments
#
# Goals (issue 14.6): namespace at most 1 ms above the Go-validated floor,
# pass-through at most 0.5 ms above the exec-only Go floor.
#
# RUNS (default 300) timed runs of each after WARMUP (default 10), timed by
# bench/floor/startclock.c (fork, exec, wait; no shell). Every binary
# measured starts from the same page-cache state (ih_settle_binaries in
# bench/floor/build.sh): read back from disk by the warm-up runs. run_dir is a tmpfs
# as on a node, and the wrapper's notes are removed after every run, as the
# hook's poststop does (untimed). EXTRA_BIN=PATH adds a second wrapper
# binary (e.g. one built from an earlier commit) in the same rounds, on its
# own copy of the admin config (a pass-through card names the binary that
# wrote it: on one config the two would rewrite each other's card).
#
# Needs root (the namespace), gcc (musl-gcc for a musl build), go, and
# `make build-timens`.
set -euo pipefail

RUNS=${RUNS:-300}
WARMUP=${WARMUP:-10}
NS_GOAL_MS=${NS_GOAL_MS:-1}
PASS_GOAL_MS=${PASS_GOAL_MS:-0.5}

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${IMA_HOOK_TIMENS_BIN:-$repo/bin/ima-hook-timens}
extra=${EXTRA_BIN:-}
[[ $EUID -eq 0 ]] || { echo "bench/startup.sh: needs root" >&2; exit 1; }
[[ -x $bin ]] || { echo "bench/startup.sh: $bin missing; run make build-timens" >&2; exit 1; }
[[ -z $extra || -x $extra ]] || { echo "bench/startup.sh: EXTRA_BIN $extra is not executable" >&2; exit 1; }
rt=$(command -v true)
[[ $rt == /* ]] || rt=/bin/true

. "$repo/scripts/lib.sh"
ih_workdir bench-startup
# shellcheck disable=SC2317 # called by ih_cleanup (scripts/lib.sh) at exit
ih_cleanup_extra() { umount "$work/run" 2>/dev/null || true; }
mount -t tmpfs -o size=16m,mode=0755 ima-hook-bench "$work/run"
mkdir -p "$work/run/created"
# The timens build keeps its pass-through cards where this says.
export IMA_HOOK_PASS_CARD_DIR=$work/cards

cfg=$work/ima-hook.toml
ih_admin_config "$cfg" "$rt"
cfgx=$work/ima-hook-extra.toml
cp "$cfg" "$cfgx"
for b in plain enabled; do mkdir -p "$work/$b"; done
echo '{"ociVersion": "1.0.2", "process": {"args": ["/bin/true"], "cwd": "/"}, "root": {"path": "rootfs"}, "annotations": {}}' >"$work/plain/config.json"
echo '{"ociVersion": "1.0.2", "process": {"args": ["/bin/true"], "cwd": "/"}, "root": {"path": "rootfs"}, "annotations": {"io.imans.enable": "true"}}' >"$work/enabled/config.json"

. "$repo/bench/floor/build.sh"
ih_build_floors "$repo" "$bin" "$work/bin"
"${CC_HOST:-gcc}" -O2 -Wall -o "$work/bin/startclock" "$repo/bench/floor/startclock.c"

# Sanity: the enabled bundle really gets its own namespace, the plain one none.
"$bin" runtime --config "$cfg" --runtime "$rt" -- run --bundle "$work/enabled" sanity-ns
[[ -s $work/run/created/sanity-ns.nsid ]] || { echo "bench/startup.sh: no namespace was created" >&2; exit 1; }
"$bin" runtime --config "$cfg" --runtime "$rt" -- run --bundle "$work/plain" sanity-pass
[[ ! -e $work/run/created/sanity-pass.nsid ]] || { echo "bench/startup.sh: the plain bundle got a namespace" >&2; exit 1; }
[[ -n $(ls -A "$IMA_HOOK_PASS_CARD_DIR") ]] || { echo "bench/startup.sh: the Go wrapper wrote no pass-through card" >&2; exit 1; }
# The extra binary writes its card (if it is a build that has them).
[[ -z $extra ]] || "$extra" runtime --config "$cfgx" --runtime "$rt" -- run --bundle "$work/plain" sanity-passx

spec=$work/variants
tab=$'\t'
wrap() { # NAME BINARY BUNDLE ID [CONFIG]
	echo "$1${tab}$2${tab}runtime${tab}--config${tab}${5:-$cfg}${tab}--runtime${tab}$rt${tab}--${tab}run${tab}--bundle${tab}$work/$3${tab}$4"
}
# The baseline and the floors run the "runtime" with the same arguments.
rtargs="run${tab}--bundle${tab}$work/plain${tab}bench"
floor() { # NAME FLOOR
	echo "$1${tab}$work/bin/$2${tab}$rt${tab}$rtargs"
}
{
	echo "base${tab}$rt${tab}$rtargs"
	wrap pass "$bin" plain bench-pass
	echo "passgo${tab}$bin${tab}runtime${tab}--config${tab}$cfg${tab}--runtime${tab}$rt${tab}--${tab}run${tab}-bundle${tab}$work/plain${tab}bench-passgo"
	wrap ns "$bin" enabled bench-ns
	floor fexec exec-floor
	floor funshare unshare-floor
	floor fgo goexec-floor
	floor fval govalidate-floor
	floor fbind gobinding-floor
	floor fimp goimports-floor
	if [[ -n $extra ]]; then
		wrap passx "$extra" plain bench-passx "$cfgx"
		wrap nsx "$extra" enabled bench-nsx "$cfgx"
	fi
} >"$spec"
ih_settle_binaries "$bin" ${extra:+"$extra"} "$work"/bin/*-floor
"$work/bin/startclock" "$RUNS" "$WARMUP" "$work/run/created" "$spec" >"$work/result"

declare -A med p10 p90
while read -r name m lo hi _; do
	med[$name]=$m p10[$name]=$lo p90[$name]=$hi
done <"$work/result"
ms() { awk -v x="$1" 'BEGIN {printf "%.2f", x/1000}'; }
line() { # LABEL VARIANT
	printf '  %-34s median %6s ms   p10 %6s   p90 %6s   ratio %s\n' "$1" "$(ms "${med[$2]}")" "$(ms "${p10[$2]}")" "$(ms "${p90[$2]}")" \
		"$(awk -v x="${med[$2]}" -v b="${med[base]}" 'BEGIN {printf "%.3f", x/b}')"
}
gap() { awk -v x="${med[$1]}" -v f="${med[$2]}" 'BEGIN {printf "%+.2f", (x-f)/1000}'; } # VARIANT FLOOR
within() { awk -v x="${med[$1]}" -v f="${med[$2]}" -v g="$3" 'BEGIN {exit !((x-f)/1000 <= g)}'; } # VARIANT FLOOR GOAL-MS

echo "wrapper start-up with $rt as the runtime, $RUNS runs each, interleaved (ratios against the baseline)"
echo "  $(nproc) cores, kernel $(uname -r); run_dir on tmpfs; wrapper $bin ($("$bin" version | sed 's/^ima-hook //'))"
echo "  floors built with $floor_libc ($floor_cc)"
line "baseline ($rt alone)" base
line "wrapper, new namespace" ns
line "wrapper, pass-through" pass
line "  the same through the Go wrapper" passgo
if [[ -n $extra ]]; then
	line "extra wrapper, new namespace" nsx
	line "extra wrapper, pass-through" passx
fi
echo "  floors, same rounds (bench/floor/):"
line "  exec-only C wrapper" fexec
line "  unshare+fork+wait in C (ABI min)" funshare
line "  exec-only Go program" fgo
line "  Go-validated, C-first" fval
line "  exec-only Go with the design's libraries" fbind
line "  exec-only Go with ima-hook's packages" fimp
echo "  above its floor: namespace $(gap ns fval) ms (goal <= +$NS_GOAL_MS), pass-through $(gap pass fgo) ms (goal <= +$PASS_GOAL_MS)"
[[ -z $extra ]] || echo "  extra wrapper:   namespace $(gap nsx fval) ms, pass-through $(gap passx fgo) ms"
echo "  pass-through: $(gap pass fexec) ms above the exec-only C floor (the C pre-filter's work); through the Go wrapper $(gap passgo fgo) ms above exec-only Go,"
echo "    of which $(gap fbind fgo) ms what any Go wrapper of this design links (C stage, SM2 x509, TOML, JSON, pflag), $(gap fimp fbind) ms ima-hook's other packages, $(gap passgo fimp) ms its own work"
# A verdict, as the other benches print theirs; the exit status says only
# whether the bench ran.
if within ns fval "$NS_GOAL_MS" && within pass fgo "$PASS_GOAL_MS"; then
	echo "  goals met"
else
	echo "  goals NOT met"
fi
