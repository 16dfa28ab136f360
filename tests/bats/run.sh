#!/usr/bin/env bash
# Runs the bats suites (tests/bats/*.bats, or the files given) in one bats
# run, so the busybox rootfs is built once, passes the TAP stream through,
# and ends with the one line CI reads:
#
#   N passed, N failed[, N skipped]
#
# Exit status: 0 only if bats succeeded, nothing failed and at least one
# test ran (a run that executed no test is a failure: it means the suites
# were not found or bats died early).
#
# Environment: BATS (default bats), BATS_FILTER (passed as --filter).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# Files given on the command line are relative to the caller's directory.
abs=()
for f in "$@"; do
	case $f in /*) abs+=("$f") ;; *) abs+=("$PWD/$f") ;; esac
done
set -- "${abs[@]}"
cd "$here"

bats=${BATS:-bats}
command -v "$bats" >/dev/null || {
	echo "run.sh: bats is not installed (apt-get install bats, or make deps)" >&2
	echo "0 passed, 1 failed"
	exit 1
}

if (($#)); then
	files=("$@")
else
	shopt -s nullglob
	files=("$here"/*.bats)
fi
if ((${#files[@]} == 0)); then
	echo "run.sh: no .bats files in $here" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

args=(--tap --timing)
[[ -n ${BATS_FILTER:-} ]] && args+=(--filter "$BATS_FILTER")

log=$(mktemp "${TMPDIR:-/tmp}/ima-hook-bats.XXXXXX")
trap 'rm -f "$log"' EXIT

start=$(date +%s)
set +e
"$bats" "${args[@]}" "${files[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
elapsed=$(($(date +%s) - start))

# TAP: "ok N name # skip (reason)" is a skip, "ok N ..." a pass,
# "not ok N ..." a failure. bats --timing appends " in Nms"; tests marked
# "# TODO" would count as passes but the suites use none.
passed=$(grep -cE '^ok [0-9]+' "$log" || true)
skipped=$(grep -cE '^ok [0-9]+ .*# skip' "$log" || true)
failed=$(grep -cE '^not ok [0-9]+' "$log" || true)
passed=$((passed - skipped))
planned=$(sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$log" | head -n1)
ran=$((passed + skipped + failed))

status=0
if ((rc != 0)); then status=1; fi
if ((failed > 0)); then status=1; fi
if ((ran == 0)); then
	echo "run.sh: no test ran" >&2
	status=1
	failed=$((failed > 0 ? failed : 1))
fi
if [[ -n $planned ]] && ((ran < planned)); then
	# bats died part-way: count the tests that never reported as failures.
	echo "run.sh: bats planned $planned tests but reported $ran (bats exit $rc)" >&2
	failed=$((failed + planned - ran))
	status=1
fi
if ((rc != 0 && failed == 0)); then
	echo "run.sh: bats exited $rc without a failing test" >&2
	failed=1
fi

echo "# bats: ${#files[@]} files, ${elapsed}s"
line="$passed passed, $failed failed"
((skipped > 0)) && line+=", $skipped skipped"
echo "$line"
exit "$status"
