#!/usr/bin/env bash
# demo.sh — the main job (DESIGN.md section 6), run by `make demo`: wordfreq
# counts the words of real text files with chaos on (20 mapper kills per
# second), and each result is checked against the coreutils pipeline.
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

corpora=(/usr/share/common-licenses /usr/share/doc/python3.11/html)
failed=0
for corpus in "${corpora[@]}"; do
    echo "== wordfreq --all --chaos 20 --agents 4 $corpus"
    if [ ! -d "$corpus" ]; then
        echo "MISSING: $corpus (install python3.11-doc: make deps)"
        failed=1
        continue
    fi
    if ! "$compare" "$bin" --chaos 20 --agents 4 -- "$corpus"; then
        failed=1
    fi
    echo
done

echo "== top 10 words of /usr/share/common-licenses"
"$bin" --top 10 /usr/share/common-licenses 2>/dev/null

if [ "$failed" -ne 0 ]; then
    echo "demo: MISMATCH" >&2
    exit 1
fi
echo "demo: every corpus MATCHes the coreutils pipeline"
