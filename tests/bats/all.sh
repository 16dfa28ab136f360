#!/usr/bin/env bash
# Runs every bats suite (run.sh: all suites on the emulated kernel's default
# switches) and then the switch matrix (switches.sh: a focused suite per
# switch in its other setting), streaming both, and ends with one line that
# adds them up, the closing line CI reads:
#
#   bats: N passed, N failed[, N skipped]
#
# Exit status 0 only if both runs succeeded and their summaries were found.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

total_p=0 total_f=0 total_s=0 status=0
# add_summary FILE: the last "N passed, N failed[, N skipped]" line of FILE
# (a word and a colon may stand before it) added to the totals; none is a
# failure, since a runner that printed no summary did not finish.
add_summary() {
	local line
	line=$(grep -E '([0-9]+) passed, ([0-9]+) failed' "$1" | tail -n1)
	if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)? ]]; then
		total_p=$((total_p + BASH_REMATCH[1]))
		total_f=$((total_f + BASH_REMATCH[2]))
		total_s=$((total_s + ${BASH_REMATCH[4]:-0}))
	else
		echo "all.sh: no summary line from $2" >&2
		total_f=$((total_f + 1))
		status=1
	fi
}

"$here/run.sh" 2>&1 | tee "$tmp/suites"
((PIPESTATUS[0] == 0)) || status=1
add_summary "$tmp/suites" run.sh

"$here/switches.sh" 2>&1 | tee "$tmp/switches"
((PIPESTATUS[0] == 0)) || status=1
add_summary "$tmp/switches" switches.sh

sum="bats: $total_p passed, $total_f failed"
((total_s > 0)) && sum+=", $total_s skipped"
echo "$sum"
exit "$status"
