#!/usr/bin/env bash
# check_small.sh — the quick ctest of wordfreq: a small generated corpus
# (mixed case, punctuation, long words, a file without a final newline, an
# empty file, a binary file that must be skipped, a nested directory), counted
# with chaos at 50 kills per second, compared with the coreutils pipeline;
# then the command line's edges: decimal-only numbers, missing values,
# special files, paths that cannot be read, and compare.sh over paths that
# do not exist.
#
# usage: check_small.sh WORDFREQ
set -euo pipefail
export LC_ALL=C
bin=${1:?usage: check_small.sh WORDFREQ}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
here=$(cd "$(dirname "$0")" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wordfreq-small.XXXXXX")
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/corpus/sub/deeper"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Runs wordfreq with the given arguments; sets $rc, $out (stdout) and $err
# (stderr).  A run that takes longer than 30 s (a FIFO opened for reading
# would wait forever) is a failure.
run() {
    rc=0
    timeout 30 "$bin" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" -ne 124 ] || fail "wordfreq $* hung"
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

# expect CODE PATTERN ARGS...: wordfreq ARGS exits CODE and its stderr
# holds the fixed string PATTERN.
expect() {
    local code=$1 pattern=$2
    shift 2
    run "$@"
    [ "$rc" -eq "$code" ] || fail "wordfreq $*: exit $rc, want $code: $err"
    grep -qF -- "$pattern" <<<"$err" ||
        fail "wordfreq $*: stderr lacks '$pattern': $err"
    echo "ok: wordfreq $* -> exit $rc, '$pattern'"
}

# A deterministic pseudo-random text of about 3 MB, so it spans many 256 KiB
# chunks and the chaos process has time to kill mappers.
awk 'BEGIN {
    srand(7);
    split("the of and to a in is it that Foundation BEAM actor mailbox " \
          "supervisor Chaos monitor link PID registry word WORD Word " \
          "x y z aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", w, " ");
    n = length(w);
    seps[1] = " "; seps[2] = ", "; seps[3] = ".\n"; seps[4] = "--";
    seps[5] = "3"; seps[6] = "\t"; seps[7] = "_"; seps[8] = "é";
    for (i = 0; i < 450000; i++)
        printf "%s%s", w[int(rand() * n) + 1], seps[int(rand() * 8) + 1];
}' >"$tmp/corpus/big.txt"
printf 'Hello, hello HELLO\nno-final-newline' >"$tmp/corpus/sub/a.txt"
: >"$tmp/corpus/sub/empty.txt"
printf 'binary\000file words words\n' >"$tmp/corpus/sub/deeper/blob.bin"
printf '%s' "$(head -c 20000 /dev/zero | tr '\0' 'q')" \
    >"$tmp/corpus/sub/deeper/longword.txt"
cp "$tmp/corpus/big.txt" "$tmp/corpus/sub/deeper/copy.txt"

out=$("$here/compare.sh" "$bin" --chaos 50 --agents 4 --seed 1 -- \
      "$tmp/corpus") || { echo "$out"; exit 1; }
echo "$out"
# The binary file must have been reported and skipped.
grep -q 'skipped 1 (0 unreadable, 1 binary, 0 not regular)' <<<"$out" ||
    fail "the binary file was not reported as skipped"
# The chaos report states the requested rate, the achieved one, and
# accounts for every strike made: strikes = kills + skipped.
line=$(grep '^wordfreq: chaos requested 50 kills/s, achieved ' <<<"$out") ||
    fail "no chaos report line"
read -r strikes kills skipped < <(sed -n \
    's/.*strikes \([0-9]*\) = kills \([0-9]*\) + skipped \([0-9]*\) .*/\1 \2 \3/p' \
    <<<"$line")
[ -n "${strikes:-}" ] && [ "$strikes" -eq $((kills + skipped)) ] ||
    fail "chaos strikes do not add up: $line"
grep -q "^wordfreq: agents 4, chunks [0-9]*, kills $kills," <<<"$out" ||
    fail "the kill counts of the two report lines differ"

# Numbers are decimal only: leading zeros are decimal, no hex, sign, space
# or trailing junk.
run --top 010 "$tmp/corpus/big.txt"
[ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 10 ] ||
    fail "--top 010 printed $(wc -l <"$tmp/out") lines (exit $rc), want 10"
echo "ok: wordfreq --top 010 -> 10 lines"
expect 0 'agents 8,' --agents 08 "$tmp/corpus/sub/a.txt"
expect 0 'chaos requested 2.5 kills/s' --chaos 2.5 "$tmp/corpus/sub/a.txt"
for bad in "--agents 0x10" "--agents 0" "--agents 1025" "--agents +3" \
           "--agents -3" "--agents 5x" "--top 1e3" "--seed 0x1" \
           "--chaos 0x10" "--chaos 1e3" "--chaos inf" "--chaos nan" \
           "--chaos -1" "--chaos 1.2.3" "--chaos ." "--chaos 100001"; do
    read -r flag value <<<"$bad"
    expect 64 "$flag wants a decimal" "$flag" "$value" "$tmp/corpus/sub/a.txt"
done
expect 64 '--agents wants a decimal' --agents ' 5' "$tmp/corpus/sub/a.txt"
expect 64 '--agents wants a decimal' --agents '' "$tmp/corpus/sub/a.txt"

for bad in "--metrics-port 65536" "--metrics-port 0x50" "--metrics-port -1" \
           "--metrics-port 80a"; do
    read -r flag value <<<"$bad"
    expect 64 "$flag wants a decimal" "$flag" "$value" "$tmp/corpus/sub/a.txt"
done
expect 64 '--metrics-out wants a file name' --metrics-out '' \
    "$tmp/corpus/sub/a.txt"

# A missing value names the long option.
for flag in --agents --chaos --top --seed --metrics-port --metrics-out; do
    expect 64 "$flag needs a value" "$flag"
done

# Telemetry: the report's figures come from the hub, and the optional
# exports either work or say why not, without changing the exit status
# (a.txt holds 6 words: hello x3, no, final, newline).
expect 0 'words 6 (4 distinct)' --metrics-port 0 \
    --metrics-out "$tmp/metrics.prom" "$tmp/corpus/sub/a.txt"
grep -q '^wordfreq: map time per chunk over 1 chunks mapped' <<<"$err" ||
    fail "no map time line: $err"
grep -q '^wordfreq: runtime: processes spawned [1-9]' <<<"$err" ||
    fail "no runtime line: $err"
grep -q 'registry: registrations [1-9][0-9]*, unregistrations 0' <<<"$err" ||
    fail "no registry line: $err"
if grep -q 'warning: --metrics-out' <<<"$err"; then
    echo "note: --metrics-out not available: $(grep 'warning: --metrics-out' <<<"$err")"
else
    grep -qx 'wordfreq_words_total 6' "$tmp/metrics.prom" ||
        fail "--metrics-out: no wordfreq_words_total 6 in the file"
    grep -q '^fdn_registry_cleanups_total [1-9]' "$tmp/metrics.prom" ||
        fail "--metrics-out: no registry cleanups in the file"
    echo "ok: --metrics-out wrote the exposition"
fi
grep -q 'serving metrics at http://127.0.0.1:[1-9][0-9]*/metrics\|warning: --metrics-port 0: cannot serve' \
    <<<"$err" || fail "--metrics-port 0 said nothing: $err"
expect 0 'warning: --metrics-out /nonexistent/dir/m.prom' \
    --metrics-out /nonexistent/dir/m.prom "$tmp/corpus/sub/a.txt"
expect 64 'unknown option or unexpected value: --bogus' --bogus

# Special files are "not regular", never opened (a FIFO would hang), and
# nothing readable at all is an error (exit 1), not "something skipped".
mkfifo "$tmp/fifo"
expect 1 'skipped 1 (0 unreadable, 0 binary, 1 not regular)' /dev/null
grep -qF 'skipped /dev/null: not a regular file' <<<"$err" ||
    fail "/dev/null not reported as not a regular file"
expect 1 'skipped 1 (0 unreadable, 0 binary, 1 not regular)' "$tmp/fifo"
expect 1 'nothing could be read' "$tmp/fifo"
expect 1 'nothing could be read' /nonexistent
expect 1 'skipped 1 (1 unreadable, 0 binary, 0 not regular)' /nonexistent
expect 2 'skipped 2 (1 unreadable, 0 binary, 1 not regular)' \
    "$tmp/corpus/sub/a.txt" /nonexistent "$tmp/fifo"
expect 0 'skipped 0 (0 unreadable, 0 binary, 0 not regular)' \
    "$tmp/corpus/sub/a.txt"
# A directory holding only a FIFO: ignored inside a directory, as by
# `find -type f`; nothing skipped, nothing counted.
mkdir "$tmp/fifodir"
mkfifo "$tmp/fifodir/pipe"
expect 0 'files 0,' "$tmp/fifodir"

# compare.sh compares over the paths that exist, and reports the others.
cmp_out=$("$here/compare.sh" "$bin" -- /nonexistent "$tmp/corpus/sub") ||
    fail "compare.sh with a missing path: $cmp_out"
grep -q '^MATCH' <<<"$cmp_out" && grep -qF 'skipped /nonexistent' \
    <<<"$cmp_out" || fail "compare.sh with a missing path: $cmp_out"
cmp_out=$("$here/compare.sh" "$bin" -- /nonexistent) ||
    fail "compare.sh with only a missing path: $cmp_out"
grep -q '^MATCH (0 distinct words)' <<<"$cmp_out" ||
    fail "compare.sh with only a missing path: $cmp_out"
echo "ok: compare.sh over missing paths"

# An unreadable directory: as the current user if not root (root reads
# everything), else as nobody if setpriv can switch to it.
mkdir -p "$tmp/locked/in"
echo "secret words" >"$tmp/locked/in/s.txt"
chmod 000 "$tmp/locked"
as_user=()
if [ "$(id -u)" -eq 0 ]; then
    if command -v setpriv >/dev/null &&
        chmod 755 "$tmp" "$tmp/corpus" "$tmp/corpus/sub" &&
        setpriv --reuid=65534 --regid=65534 --clear-groups \
            test -x "$bin" -a -r "$tmp/corpus/sub/a.txt" 2>/dev/null; then
        as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    else
        echo "note: unreadable-directory check skipped (root, no usable" \
             "setpriv or binary not reachable by nobody)"
    fi
fi
if [ "$(id -u)" -ne 0 ] || [ ${#as_user[@]} -gt 0 ]; then
    cmp_out=$(cd / && "${as_user[@]}" "$here/compare.sh" "$bin" -- \
        "$tmp/locked" "$tmp/corpus/sub/a.txt") ||
        fail "compare.sh with an unreadable directory: $cmp_out"
    grep -q '^MATCH' <<<"$cmp_out" &&
        grep -q "skipped (find) '$tmp/locked': Permission denied" \
            <<<"$cmp_out" ||
        fail "compare.sh with an unreadable directory: $cmp_out"
    echo "ok: compare.sh over an unreadable directory"
fi
echo "check_small: all checks passed"
