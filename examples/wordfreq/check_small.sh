#!/usr/bin/env bash
# check_small.sh — the quick ctest of wordfreq: a small generated corpus
# (mixed case, punctuation, long words, a file without a final newline, an
# empty file, a binary file that must be skipped, a nested directory), counted
# with chaos at 50 kills per second, compared with the coreutils pipeline.
#
# usage: check_small.sh WORDFREQ
set -euo pipefail
export LC_ALL=C
bin=${1:?usage: check_small.sh WORDFREQ}
here=$(cd "$(dirname "$0")" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wordfreq-small.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/corpus/sub/deeper"

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
grep -q 'skipped 1 (0 unreadable, 1 binary)' <<<"$out"
