#!/usr/bin/env bash
# Cost of checking an IMA policy (pkg/policy), against baselines measured
# in the same run:
#
#   1. in-process: Parse of a 50-rule and a 2048-rule policy against
#      splitting the same 50-rule text into lines and tokens (the least any
#      reader of the text does); ratio = how many times that baseline the
#      full kernel-faithful check costs.
#   2. end to end: `ima-hook policy check` of a 50-rule policy file against
#      `cat` of the same file (process start-up is the baseline), RUNS
#      (default 30) interleaved runs each; ratio of the medians.
#
# Needs Go.
set -euo pipefail

RUNS=${RUNS:-30}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/ima-hook-policy-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

cd "$repo"
go test -c -o "$work/policy.test" ./pkg/policy
(cd pkg/policy && "$work/policy.test" -test.run '^$' -test.bench 'Parse50$|Parse2048$|Tokenize50$|ParseKcmd$' \
	-test.benchtime 2s -test.count 3 -test.benchmem) >"$work/bench.txt"
grep '^Benchmark' "$work/bench.txt"

# median ns/op of benchmark NAME
med() {
	grep "^Benchmark$1-" "$work/bench.txt" | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
p50=$(med Parse50)
p2048=$(med Parse2048)
tok=$(med Tokenize50)
kcmd=$(med ParseKcmd)
awk -v p="$p50" -v t="$tok" -v big="$p2048" -v k="$kcmd" 'BEGIN {
	printf "in-process: Parse 50 rules %.1f us (%.2f us/rule), %.1fx the tokenize baseline (%.1f us)\n", p/1000, p/50000, p/t, t/1000
	printf "in-process: Parse 2048 rules %.2f ms (%.2f us/rule); ParseKcmd %.2f us\n", big/1e6, big/2048000, k/1000
}'

go build -o "$work/ima-hook" ./cmd/ima-hook
{
	echo "# 50-rule container policy"
	awk 'BEGIN {
		split("0x9fa0 0x62656572 0x64626720 0x1021994 0x1cd1 0x42494e4d 0x73636673 0xf97cff8c 0x43415d53 0x27e0eb 0x63677270 0x6e736673 0xde5e81e4", m, " ")
		for (i = 1; i <= 13; i++) print "dont_measure fsmagic=" m[i]
		print "measure func=MMAP_CHECK mask=MAY_EXEC"; print "measure func=BPRM_CHECK mask=MAY_EXEC"
		for (i = 0; i < 35; i++) printf "appraise func=BPRM_CHECK fowner=%d appraise_type=imasig\n", 1000 + i
	}'
} >"$work/p50.policy"
kc=pkg/policy/testdata/oracle/kernel-6.1.config
"$work/ima-hook" policy check --kernel-config "$kc" "$work/p50.policy" >/dev/null

now() { date +%s%N; }
: >"$work/cat.t"
: >"$work/check.t"
for ((i = 0; i < RUNS; i++)); do
	a=$(now); cat "$work/p50.policy" >/dev/null; b=$(now); echo $((b - a)) >>"$work/cat.t"
	a=$(now); "$work/ima-hook" policy check --kernel-config "$kc" "$work/p50.policy" >/dev/null; b=$(now); echo $((b - a)) >>"$work/check.t"
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mc=$(median "$work/cat.t")
mk=$(median "$work/check.t")
awk -v c="$mc" -v k="$mk" -v n="$RUNS" 'BEGIN {
	printf "end to end (%d runs each, medians): ima-hook policy check %.2f ms, cat %.2f ms, ratio %.1f\n", n, k/1e6, c/1e6, k/c
}'
