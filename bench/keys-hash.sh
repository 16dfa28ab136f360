#!/usr/bin/env bash
# Content-hashing throughput of pkg/keys (HashFile, what the appraisal
# preflight uses) against sha256sum on the same files in the same run
# (issue 6 point 5: goal >= 80% of sha256sum).
#
#   baseline: sha256sum over FILES files totalling about SIZE_MIB MiB
#   keys:     pkg/keys.HashFile (sha256) over the same files, one after the
#             other on one core, as sha256sum does
#
# Both tools' digests must agree. The page cache is warmed first, then
# RUNS (default 5) runs of each are interleaved (A B, B A, ...) so drift of
# a shared machine hits both alike. Prints the medians of wall and CPU
# (user+sys) time, and the throughput ratios keys/sha256sum (>= 1 means
# faster than sha256sum).
#
# Needs Go, coreutils and GNU time (/usr/bin/time).
set -euo pipefail

RUNS=${RUNS:-5}
FILES=${FILES:-1000}
SIZE_MIB=${SIZE_MIB:-256}
GOAL=${GOAL:-0.80}

repo=$(cd "$(dirname "$0")/.." && pwd)
[[ -x /usr/bin/time ]] || { echo "bench/keys-hash.sh: GNU time missing (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d /tmp/ima-hook-keys-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Files of varied sizes (a rootfs has many small and a few large ones):
# every 10th file is 10 times the others.
big=$(((FILES + 9) / 10))
per=$((SIZE_MIB * 1024 * 1024 / (FILES + 9 * big)))
mkdir -p "$work/tree"
for ((i = 0; i < FILES; i++)); do
	n=$per
	((i % 10 == 0)) && n=$((per * 10))
	head -c "$n" /dev/urandom >"$work/tree/f$i"
done
find "$work/tree" -type f | sort >"$work/list"
mapfile -t files <"$work/list"
total=$(du -cb "${files[@]}" | tail -1 | cut -f1)

(cd "$repo" && go test -c -o "$work/keys.test" ./pkg/keys)

run_sha256sum() { xargs -a "$work/list" sha256sum >"$work/out.sha256sum"; }
run_keys() { IMAHOOK_HASH_FILES="$work/list" "$work/keys.test" -test.run '^TestHashFilesOnce$' >"$work/out.keys"; }

# measure NAME FUNC: appends "wall cpu" to $work/NAME.times
measure() {
	/usr/bin/time -f "%e %U %S" -o "$work/t" bash -c "$(declare -f "$2"); work=$work; $2"
	awk '{print $1, $2 + $3}' "$work/t" >>"$work/$1.times"
}

# Warm the page cache and check that both tools agree.
run_sha256sum
run_keys
grep -E '^[0-9a-f]{64}  ' "$work/out.keys" >"$work/out.keys.sums"
if ! diff -q "$work/out.sha256sum" "$work/out.keys.sums" >/dev/null; then
	echo "bench/keys-hash.sh: digests differ between sha256sum and pkg/keys" >&2
	exit 1
fi

for ((r = 0; r < RUNS; r++)); do
	if ((r % 2 == 0)); then
		measure sha256sum run_sha256sum
		measure keys run_keys
	else
		measure keys run_keys
		measure sha256sum run_sha256sum
	fi
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }
base_wall=$(cut -d' ' -f1 "$work/sha256sum.times" | median)
base_cpu=$(cut -d' ' -f2 "$work/sha256sum.times" | median)
keys_wall=$(cut -d' ' -f1 "$work/keys.times" | median)
keys_cpu=$(cut -d' ' -f2 "$work/keys.times" | median)

awk -v total="$total" -v files="$FILES" -v runs="$RUNS" -v goal="$GOAL" \
	-v bw="$base_wall" -v bc="$base_cpu" -v kw="$keys_wall" -v kc="$keys_cpu" 'BEGIN {
	mib = total / 1048576
	printf "files: %d, %.0f MiB, %d interleaved runs each (page cache warm)\n", files, mib, runs
	printf "sha256sum:      wall %.2f s (%.0f MiB/s)  cpu %.2f s\n", bw, mib / (bw > 0 ? bw : 1e-9), bc
	printf "pkg/keys sha256: wall %.2f s (%.0f MiB/s)  cpu %.2f s\n", kw, mib / (kw > 0 ? kw : 1e-9), kc
	rw = (kw > 0) ? bw / kw : 0
	rc = (kc > 0) ? bc / kc : 0
	printf "throughput ratio keys/sha256sum: wall %.2f, cpu %.2f (goal >= %.2f)\n", rw, rc, goal
	exit !(rw >= goal)
}'
