#!/usr/bin/env bash
# The implementation gate (one of the project's three gates): the quick suite with the
# spec and contract gates (make test), the stress tests (make stress), the
# sanitizer builds (make sanitize: ASan+UBSan, then TSan) and the benchmark
# checks of every P requirement (make bench), in that order, stopping at the
# first failure.  Works from any directory; extra arguments are passed to
# every make (e.g. JOBS=1).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# The benchmark step fails when a P target is missed, not only when a
# benchmark program fails.
export FDN_BENCH_STRICT=1
for target in test stress sanitize bench; do
    echo "verify_implementation: make $target"
    start=$(date +%s)
    if ! make "$@" "$target"; then
        echo "verify_implementation: FAILED at 'make $target'" >&2
        exit 1
    fi
    echo "verify_implementation: make $target passed in $(( $(date +%s) - start )) s"
done
echo "verify_implementation: OK (test, stress, sanitize, bench)"
