#!/usr/bin/env bash
# compare.sh — runs wordfreq --all on some paths and checks its output
# against the coreutils pipeline over exactly the files wordfreq accepts
# (regular files, found as `find -H PATH -type f` finds them, that are
# readable and hold no NUL byte).  Paths that do not exist, directories find
# cannot enter and unreadable files are reported and left out of both sides
# (wordfreq skips them too).  Prints MATCH or MISMATCH and wordfreq's report;
# exits 0 on a match, 1 otherwise.
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

# The expected counts first.  The files: find over each PATH that exists
# (a missing one is reported and skipped, as wordfreq does); what find
# cannot enter (an unreadable directory) it reports, and the search goes on.
: >"$tmp/files"
: >"$tmp/skipped"
for p in "$@"; do
    if [ ! -e "$p" ]; then
        echo "compare: skipped $p: no such file or directory" >>"$tmp/skipped"
        continue
    fi
    find -H "$p" -type f -print0 >>"$tmp/files" 2>"$tmp/find-err" || true
    sed 's/^find: /compare: skipped (find) /' "$tmp/find-err" >>"$tmp/skipped"
done
sort -z "$tmp/files" -o "$tmp/files"

# Each accepted file through tr on its own (with a newline after it, so
# words never join across files), then the pipeline.
: >"$tmp/words"
accepted=0
binary=0
while IFS= read -r -d '' f; do
    if [ ! -r "$f" ]; then
        echo "compare: skipped $f: unreadable" >>"$tmp/skipped"
        continue
    fi
    # A text file is one that tr's NUL deletion leaves unchanged.
    if ! tr -d '\000' <"$f" | cmp -s - "$f"; then
        binary=$((binary + 1))
        continue
    fi
    tr -cs 'A-Za-z' '\n' <"$f" >>"$tmp/words"
    echo >>"$tmp/words"
    accepted=$((accepted + 1))
done <"$tmp/files"
tr 'A-Z' 'a-z' <"$tmp/words" | sed '/^$/d' | sort | uniq -c |
    awk '{ print $1 " " $2 }' | sort -k1,1nr -k2,2 >"$tmp/want"
cat "$tmp/skipped"
[ "$binary" -eq 0 ] || echo "compare: skipped $binary binary files"

# wordfreq itself: exit 0 (nothing skipped) or 2 (something skipped) are
# both a completed run, and so is 1 when nothing could be read and the
# pipeline found no file to read either.
rc=0
"$bin" --all "${flags[@]}" "$@" >"$tmp/got" 2>"$tmp/report" || rc=$?
if [ "$rc" -eq 1 ] && [ "$accepted" -eq 0 ] &&
    grep -q '^wordfreq: nothing could be read' "$tmp/report"; then
    echo "compare: wordfreq exited 1 (nothing could be read), and the" \
         "pipeline found no readable file either"
elif [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
    echo "MISMATCH: wordfreq exited with $rc"
    cat "$tmp/report"
    exit 1
fi

# Both must have read the same number of files.
got_files=$(sed -n 's/^wordfreq: files \([0-9]*\),.*/\1/p' "$tmp/report")
if [ "$got_files" != "$accepted" ]; then
    echo "MISMATCH: wordfreq read ${got_files:-?} files, the pipeline" \
         "$accepted"
    cat "$tmp/report"
    exit 1
fi

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
