#!/usr/bin/env bash
# Runs the switch matrix (tests/bats/switch-matrix): each line's suite on
# the emulated kernel its switches describe, through run.sh with
# IH_EMU_SWITCHES (honoured by ih_setup in helpers.bash) and BATS_FILTER.
# Ends with the totals over all lines:
#
#   switches: N settings; N passed, N failed[, N skipped]
#
# Exit status 0 only if every line's run succeeded.
# Environment: SWITCH_MATRIX (default tests/bats/switch-matrix),
# SWITCH_ONLY (a regex: run only the lines it matches).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
matrix=${SWITCH_MATRIX:-$here/switch-matrix}
[[ -r $matrix ]] || { echo "switches.sh: no matrix file $matrix" >&2; echo "0 passed, 1 failed"; exit 1; }

total_p=0 total_f=0 total_s=0 lines=0 status=0
while IFS= read -r line || [[ -n $line ]]; do
	line=${line%%#*}
	[[ $line =~ ^[[:space:]]*$ ]] && continue
	[[ -n ${SWITCH_ONLY:-} && ! $line =~ ${SWITCH_ONLY} ]] && continue
	read -r switches suite filter <<<"$line"
	if [[ -z ${suite:-} || ! -f $here/$suite ]]; then
		echo "switches.sh: bad matrix line (no suite $here/${suite:-?}): $line" >&2
		total_f=$((total_f + 1)) status=1
		continue
	fi
	lines=$((lines + 1))
	echo "# === switches $switches: $suite${filter:+ (filter: $filter)}"
	set +e
	out=$(IH_EMU_SWITCHES=$switches BATS_FILTER=${filter:-} "$here/run.sh" "$here/$suite" 2>&1 </dev/null)
	rc=$?
	set -e
	printf '%s\n' "$out"
	summary=$(tail -n1 <<<"$out")
	if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
		total_p=$((total_p + BASH_REMATCH[1]))
		total_f=$((total_f + BASH_REMATCH[2]))
		total_s=$((total_s + ${BASH_REMATCH[4]:-0}))
	else
		total_f=$((total_f + 1))
	fi
	((rc == 0)) || status=1
done <"$matrix"

if ((lines == 0)); then
	echo "switches.sh: no matrix line ran" >&2
	status=1
	total_f=$((total_f > 0 ? total_f : 1))
fi
sum="switches: $lines settings; $total_p passed, $total_f failed"
((total_s > 0)) && sum+=", $total_s skipped"
echo "$sum"
exit "$status"
