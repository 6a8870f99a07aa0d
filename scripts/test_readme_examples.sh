#!/usr/bin/env bash
# The README's programs compile and do what it says: the C block after
# "(`hello.c`" and the one after "(`metrics.c`" are cut out of README.md,
# built with the README's in-tree command against the static library, and
# run.  A README example that no longer builds or runs fails the suite.
#
# Usage: scripts/test_readme_examples.sh <build dir>   (run by ctest)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:?usage: $0 <build dir>}"
work="$(mktemp -d "${TMPDIR:-/tmp}/fdn-readme.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The first ```c block after the line naming the file.
extract() {
    awk -v marker="(\`$1\`" '
        index($0, marker) { armed = 1 }
        armed && /^```c$/ { inside = 1; next }
        inside && /^```$/ { exit }
        inside { print }
    ' "$root/README.md" >"$work/$1"
    if [ ! -s "$work/$1" ]; then
        echo "test_readme_examples: no C block for $1 in README.md" >&2
        exit 1
    fi
}

libs="$(pkg-config --libs liburcu-memb liburcu-cds zlib libmicrohttpd jansson)"
for f in hello.c metrics.c; do
    extract "$f"
    # shellcheck disable=SC2086  # libs is a list of flags
    cc -std=c11 -Wall -Wextra -Werror -I"$root/include" "$work/$f" \
        "$build/libfoundation.a" $libs -lpthread -lm -o "$work/${f%.c}"
done

out="$("$work/hello")"
echo "$out"
grep -qx 'hello, back from the echo process' <<<"$out"

out="$("$work/metrics" 0)"
echo "$out"
for want in 'http_requests_total{method="GET",code="200"} 1' \
            'http_request_duration_seconds_count 1' \
            'db.query.stop: ' \
            'serving on port '; do
    if ! grep -qF -- "$want" <<<"$out"; then
        echo "test_readme_examples: metrics.c printed no '$want'" >&2
        exit 1
    fi
done
echo "test_readme_examples: both README programs build and run"
