#!/usr/bin/env bash
# Runs every bench/*.sh (except this one) in name order and reports which
# failed. Each script prints its own ratios against a baseline measured in
# the same run (docs/testing.md "Benchmarks").
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
failed=()
n=0
for s in "$here"/*.sh; do
	[[ $(basename "$s") == run.sh ]] && continue
	n=$((n + 1))
	echo "=== bench/$(basename "$s")"
	if ! bash "$s"; then
		failed+=("$(basename "$s")")
	fi
	echo
done
echo "bench: $n scripts, ${#failed[@]} failed${failed:+ (${failed[*]})}"
((${#failed[@]} == 0))
