#!/usr/bin/env bash
# The exposition passes `promtool check metrics` (TEL-C8, TEL-S7): every
# kind of metric, non-finite values, a counter at 2^64 - 1, label values
# and help with quotes, backslashes, newlines and tabs (help also with
# invalid UTF-8, repaired; label values must be UTF-8), all
# from tests/integration/tel_serve.c --print, piped to promtool on stdin.
# promtool parses the text (a malformed line fails it) and lints it (any
# problem it prints fails this test too, even with exit status 0).
#
# Usage: scripts/test_promtool.sh <path to tel_serve>   (run by ctest)
# Exits 0 when promtool accepts it with nothing to say, 77 (ctest: skipped)
# when promtool is not installed, 1 otherwise.
set -euo pipefail

serve="${1:?usage: $0 <tel_serve>}"
if ! command -v promtool >/dev/null 2>&1; then
    echo "test_promtool: promtool not installed (Debian package prometheus); skipped"
    exit 77
fi

text="$(mktemp "${TMPDIR:-/tmp}/fdn-promtool.XXXXXX")"
trap 'rm -f "$text"' EXIT
"$serve" --print >"$text"

# Some things the exposition must hold, so that promtool really read them.
for want in '# TYPE tel_request_duration_seconds histogram' \
            'tel_request_duration_seconds_bucket{le="+Inf"} 5' \
            'tel_saturated_total 18446744073709551615' \
            'tel_jobs_total{queue="a\"b\\c\nd"} 1' \
            'tel_idle_seconds{quantile="0.5"} NaN'; do
    if ! grep -qF -- "$want" "$text"; then
        echo "test_promtool: the exposition lacks the line: $want" >&2
        exit 1
    fi
done

status=0
out="$(promtool check metrics <"$text" 2>&1)" || status=$?
echo "promtool check metrics: exit $status, $(wc -l <"$text") lines checked"
if [ "$status" -ne 0 ] || [ -n "$out" ]; then
    echo "test_promtool: promtool reported:" >&2
    printf '%s\n' "$out" >&2
    exit 1
fi
echo "test_promtool: OK, no problems reported"
