#!/usr/bin/env bash
# Appraisal preflight over a generated rootfs (issue 6 point 5):
#
#   rootfs:    FILES files (default 10000) of mixed sizes, about SIZE_MIB
#              (default 1024) MiB, in nested directories, each with a sha256
#              security.ima hash value, so that the policy
#              'appraise func=FILE_CHECK' makes the preflight hash every file
#   baseline:  sha256sum over the same files (xargs, one process at a time)
#   preflight: `ima-hook preflight --rootfs DIR` (default workers, and
#              --workers 1 for a one-core comparison)
#
# The page cache is warmed first, then RUNS (default 3) runs of each are
# interleaved so drift of a shared machine hits all alike. Prints medians of
# wall and CPU time, throughput ratios preflight/sha256sum (goal >= 0.80)
# and the preflight's peak RSS from GNU time (goal <= 64 MiB).
# Everything lives under /tmp and is deleted at the end.
#
# Needs Go, coreutils, GNU time (/usr/bin/time), root (security.ima) and a
# /tmp with xattr support.
set -euo pipefail

RUNS=${RUNS:-3}
FILES=${FILES:-10000}
SIZE_MIB=${SIZE_MIB:-1024}
GOAL=${GOAL:-0.80}
RSS_GOAL_MIB=${RSS_GOAL_MIB:-64}

repo=$(cd "$(dirname "$0")/.." && pwd)
[[ -x /usr/bin/time ]] || { echo "bench/preflight.sh: GNU time missing (apt-get install time)" >&2; exit 1; }
[[ $EUID -eq 0 ]] || { echo "bench/preflight.sh: needs root to set security.ima" >&2; exit 1; }

work=$(mktemp -d /tmp/ima-hook-preflight-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

(cd "$repo" && go build -o "$work/ima-hook" ./cmd/ima-hook)

# The generator: a stdlib-only Go program (its own module, so it builds
# offline). Sizes: 80% small (1-64 KiB), 19% medium (64-512 KiB), 1% large
# (1-4 MiB), scaled to SIZE_MIB; deterministic content and layout.
mkdir -p "$work/gen"
cat >"$work/gen/main.go" <<'EOF'
package main

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

func main() {
	root := os.Args[1]
	files, _ := strconv.Atoi(os.Args[2])
	sizeMiB, _ := strconv.ParseFloat(os.Args[3], 64)
	r := rand.New(rand.NewPCG(1, 2))
	sizes := make([]int, files)
	var total float64
	for i := range sizes {
		switch p := r.IntN(100); {
		case p < 80:
			sizes[i] = 1<<10 + r.IntN(63<<10)
		case p < 99:
			sizes[i] = 64<<10 + r.IntN(448<<10)
		default:
			sizes[i] = 1<<20 + r.IntN(3<<20)
		}
		total += float64(sizes[i])
	}
	scale := sizeMiB * (1 << 20) / total
	src := rand.NewChaCha8([32]byte{7})
	buf := make([]byte, 8<<20)
	for i, s := range sizes {
		n := int(float64(s) * scale)
		dir := filepath.Join(root, fmt.Sprintf("d%02d", i%50), fmt.Sprintf("e%02d", i%7))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			panic(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("f%05d", i))
		src.Read(buf[:n])
		if err := os.WriteFile(p, buf[:n], 0o644); err != nil {
			panic(err)
		}
		sum := sha256.Sum256(buf[:n])
		// IMA_XATTR_DIGEST_NG, sha256 (hash_info id 4), digest.
		if err := syscall.Setxattr(p, "security.ima", append([]byte{0x04, 0x04}, sum[:]...), 0); err != nil {
			panic(err)
		}
	}
}
EOF
(cd "$work/gen" && cat >go.mod <<<"module gen" && GOFLAGS=-mod=mod go build -o "$work/genrootfs" .)
"$work/genrootfs" "$work/rootfs" "$FILES" "$SIZE_MIB"
find "$work/rootfs" -type f | sort >"$work/list"
total=$(xargs -a "$work/list" du -cb | awk '/total$/ {s += $1} END {print s}')
count=$(wc -l <"$work/list")

run_sha256sum() { xargs -a "$work/list" sha256sum >/dev/null; }
run_preflight() { "$work/ima-hook" preflight --rootfs "$work/rootfs" --policy-rules 'appraise func=FILE_CHECK' --timeout 30m >"$work/out.preflight"; }
run_preflight1() { "$work/ima-hook" preflight --rootfs "$work/rootfs" --policy-rules 'appraise func=FILE_CHECK' --timeout 30m --workers 1 >"$work/out.preflight1"; }

# measure NAME FUNC: appends "wall cpu maxrss_kib" to $work/NAME.times
measure() {
	/usr/bin/time -f "%e %U %S %M" -o "$work/t" bash -c "$(declare -f "$2"); work=$work; $2"
	awk '{print $1, $2 + $3, $4}' "$work/t" >>"$work/$1.times"
}

# Warm the page cache; the preflight must judge every file and pass them all.
run_sha256sum
run_preflight
if ! grep -q "rootfs: $count files, 0 refused, 0 undecidable, $count pass" "$work/out.preflight"; then
	echo "bench/preflight.sh: the preflight did not pass all $count files:" >&2
	tail -n 3 "$work/out.preflight" >&2
	exit 1
fi

for ((r = 0; r < RUNS; r++)); do
	case $((r % 3)) in
	0) order="sha256sum preflight preflight1" ;;
	1) order="preflight preflight1 sha256sum" ;;
	2) order="preflight1 sha256sum preflight" ;;
	esac
	for m in $order; do measure "$m" "run_$m"; done
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }
col() { cut -d' ' -f"$2" "$work/$1.times" | median; }
maxcol() { cut -d' ' -f"$2" "$work/$1.times" | sort -n | tail -1; }

awk -v total="$total" -v files="$count" -v runs="$RUNS" -v goal="$GOAL" -v rssgoal="$RSS_GOAL_MIB" \
	-v bw="$(col sha256sum 1)" -v bc="$(col sha256sum 2)" \
	-v pw="$(col preflight 1)" -v pc="$(col preflight 2)" -v prss="$(maxcol preflight 3)" \
	-v qw="$(col preflight1 1)" -v qc="$(col preflight1 2)" -v qrss="$(maxcol preflight1 3)" \
	-v workers="$(nproc)" 'BEGIN {
	mib = total / 1048576
	printf "rootfs: %d files, %.0f MiB, every file appraised (sha256 hash); %d interleaved runs each (page cache warm)\n", files, mib, runs
	printf "sha256sum:              wall %6.2f s (%4.0f MiB/s)  cpu %6.2f s\n", bw, mib / (bw > 0 ? bw : 1e-9), bc
	printf "preflight (default):    wall %6.2f s (%4.0f MiB/s)  cpu %6.2f s  peak RSS %.1f MiB\n", pw, mib / (pw > 0 ? pw : 1e-9), pc, prss / 1024
	printf "preflight (1 worker):   wall %6.2f s (%4.0f MiB/s)  cpu %6.2f s  peak RSS %.1f MiB\n", qw, mib / (qw > 0 ? qw : 1e-9), qc, qrss / 1024
	r = (pw > 0) ? bw / pw : 0
	r1 = (qw > 0) ? bw / qw : 0
	rc = (pc > 0) ? bc / pc : 0
	printf "throughput ratio preflight/sha256sum: wall %.2f (1 worker %.2f), cpu %.2f (goal >= %.2f)\n", r, r1, rc, goal
	rss = (prss > qrss ? prss : qrss) / 1024
	printf "peak RSS %.1f MiB (goal <= %d MiB)\n", rss, rssgoal
	exit !(r1 >= goal && rss <= rssgoal)
}'
