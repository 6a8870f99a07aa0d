#!/usr/bin/env bash
# demo.sh — the project's main job, run by `make demo`: wordfreq
# counts the words of real text files with chaos on, and each result is
# checked against the coreutils pipeline.
#
# Each corpus has its own chaos rate.  The licenses (about 240 KB) are
# counted in a few milliseconds, too short for chaos to strike reliably, so
# they are given 20 times over (about 4.7 MB, every file counted 20 times on
# both sides of the comparison) with 500 strikes per second: some 40 ms of
# counting, in which chaos kills about 15 mappers.  The Python documentation
# (about 65 MB, about half a second) gets a moderate 20 per second.  Every
# run prints its report, and the summary at the end repeats each corpus's
# verdict and kills.
#
# usage: scripts/demo.sh BUILDDIR
set -euo pipefail
export LC_ALL=C

build=${1:?usage: scripts/demo.sh BUILDDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$build/examples/wordfreq/wordfreq"
compare="$root/examples/wordfreq/compare.sh"
if [ ! -x "$bin" ]; then
    echo "demo: $bin not found; build first (make build)" >&2
    exit 1
fi

failed=0
summary=()

# run_corpus LABEL RATE PATH...: compares wordfreq --chaos RATE over the
# PATHs with the pipeline and adds a summary line.
run_corpus() {
    local label=$1 rate=$2
    shift 2
    echo "== wordfreq --all --chaos $rate --agents 4 $label"
    if [ ! -d "$1" ]; then
        echo "MISSING: $1 (install python3.11-doc: make deps)"
        summary+=("$label: MISSING")
        failed=1
        return
    fi
    local verdict=MATCH out chaos
    out=$("$compare" "$bin" --chaos "$rate" --agents 4 -- "$@") ||
        { verdict=MISMATCH; failed=1; }
    echo "$out"
    # The report's chaos line: "chaos requested R kills/s, achieved A
    # kills/s over T s (seed S): strikes N = kills K + skipped M ...".
    chaos=$(sed -n 's/^wordfreq: chaos requested \([^ ]*\) kills\/s, achieved \([^ ]*\) kills\/s over \([^ ]*\) s .*= kills \([0-9]*\) + skipped \([0-9]*\).*/kills \4 in \3 s (requested \1\/s, achieved \2\/s; strikes skipped, target not running: \5)/p' <<<"$out")
    summary+=("$label: $verdict, ${chaos:-no chaos report}")
    echo
}

licenses=/usr/share/common-licenses
twenty=()
for _ in $(seq 20); do
    twenty+=("$licenses")
done
run_corpus "$licenses (x20)" 500 "${twenty[@]}"
run_corpus /usr/share/doc/python3.11/html 20 /usr/share/doc/python3.11/html

echo "== top 10 words of /usr/share/common-licenses"
"$bin" --top 10 /usr/share/common-licenses 2>/dev/null

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
    echo "demo: MISMATCH" >&2
    exit 1
fi
echo "demo: every corpus MATCHes the coreutils pipeline"
