#!/usr/bin/env bash
# compare.sh — runs wordfreq --all on some paths and checks its output
# against the coreutils pipeline over exactly the files wordfreq accepts
# (regular files, found as `find -H PATH -type f` finds them, that are
# readable and hold no NUL byte).  Prints MATCH or MISMATCH and wordfreq's
# report; exits 0 on a match, 1 otherwise.
#
# usage: compare.sh WORDFREQ [wordfreq flags...] -- PATH...
set -euo pipefail
export LC_ALL=C

if [ $# -lt 3 ]; then
    echo "usage: compare.sh WORDFREQ [flags...] -- PATH..." >&2
    exit 64
fi
bin=$1
shift
flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    flags+=("$1")
    shift
done
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || { echo "compare.sh: no PATH given" >&2; exit 64; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wordfreq-compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# wordfreq itself: exit 0 (nothing skipped) or 2 (something skipped) are
# both a completed run.
rc=0
"$bin" --all "${flags[@]}" "$@" >"$tmp/got" 2>"$tmp/report" || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
    echo "MISMATCH: wordfreq exited with $rc"
    cat "$tmp/report"
    exit 1
fi

# The expected counts: each accepted file through tr on its own (with a
# newline after it, so words never join across files), then the pipeline.
find -H "$@" -type f -print0 | sort -z >"$tmp/files"
: >"$tmp/words"
while IFS= read -r -d '' f; do
    [ -r "$f" ] || continue
    # A text file is one that tr's NUL deletion leaves unchanged.
    tr -d '\000' <"$f" | cmp -s - "$f" || continue
    tr -cs 'A-Za-z' '\n' <"$f" >>"$tmp/words"
    echo >>"$tmp/words"
done <"$tmp/files"
tr 'A-Z' 'a-z' <"$tmp/words" | sed '/^$/d' | sort | uniq -c |
    awk '{ print $1 " " $2 }' | sort -k1,1nr -k2,2 >"$tmp/want"

if cmp -s "$tmp/got" "$tmp/want"; then
    echo "MATCH ($(wc -l <"$tmp/want") distinct words)"
    status=0
else
    echo "MISMATCH (wordfreq $(wc -l <"$tmp/got") lines, pipeline" \
         "$(wc -l <"$tmp/want") lines); first differences:"
    diff "$tmp/want" "$tmp/got" | head -20 || true
    status=1
fi
cat "$tmp/report"
exit "$status"
