#!/usr/bin/env bash
# Runs the quick unit tests and the wordfreq showcase under valgrind's
# memcheck and fails on any memory error or definite/indirect leak.
#
# Usage: scripts/valgrind.sh [builddir]   (default: build; `make valgrind`)
#
# Which programs.  Every test CTest labels "quick" whose command is an ELF
# executable inside the build directory (the Criterion unit tests; scripts
# and the Python property tests are not ours to trace), then wordfreq on
# /usr/share/common-licenses with chaos on, its result checked against the
# coreutils pipeline by examples/wordfreq/compare.sh.
#
# Criterion runs each test in a worker process that it starts by re-executing
# the test binary, so valgrind runs with --trace-children=yes and one log per
# process.  Criterion ignores a worker's exit status when the test itself
# passed, so valgrind's --error-exitcode cannot be relied on: this script
# reads every log's ERROR SUMMARY instead (with
# --errors-for-leak-kinds=definite,indirect a leak counts as an error there).
# Known third-party leaks (liburcu's call_rcu thread) are suppressed by
# examples/wordfreq/valgrind.supp, which explains each entry.
#
# Prints one line per program and a summary; exits non-zero on any error,
# leak, test failure or missing log.  Logs are kept when something fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-build}"
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
if [ ! -f "$build/CTestTestfile.cmake" ]; then
    echo "valgrind.sh: $build is not a configured build directory (make build first)" >&2
    exit 2
fi
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind not installed (make deps)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "valgrind.sh: python3 not installed (make deps)" >&2; exit 2; }

logs="$(mktemp -d "${TMPDIR:-/tmp}/fdn-valgrind.XXXXXX")"
# shellcheck disable=SC2054  # the commas are inside option values
vg_opts=(--trace-children=yes --leak-check=full
         --errors-for-leak-kinds=definite,indirect --error-exitcode=1
         --show-leak-kinds=definite,indirect --num-callers=30)
supp="$root/examples/wordfreq/valgrind.supp"
[ -f "$supp" ] && vg_opts+=(--suppressions="$supp")
# Per-program time limit: memcheck is 20-50x slower than a native run.
limit="${VALGRIND_TIMEOUT:-1800}"

# The quick ELF test executables, one path per line.
mapfile -t tests < <(ctest --test-dir "$build" --show-only=json-v1 -L quick 2>/dev/null |
    python3 -c '
import json, os, sys
build = os.path.realpath(sys.argv[1])
for t in json.load(sys.stdin)["tests"]:
    cmd = t.get("command") or []
    if not cmd:
        continue
    exe = os.path.realpath(cmd[0])
    if not exe.startswith(build + os.sep) or not os.access(exe, os.X_OK):
        continue
    with open(exe, "rb") as f:
        if f.read(4) != b"\x7fELF":
            continue
    print(exe)
' "$build")
if [ "${#tests[@]}" -eq 0 ]; then
    echo "valgrind.sh: no quick test executables found in $build" >&2
    exit 2
fi

failures=0
summary=()

# check_logs <name>: scans $logs/<name>.*.log; sets procs (logs found) and
# bad (processes with errors, or 1 if there is no log at all) and writes the
# problems to $problems.
check_logs() {
    local name="$1" n=0 f errs
    bad=0
    problems="$logs/$name.problems"
    : >"$problems"
    for f in "$logs/$name".*.log; do
        [ -e "$f" ] || continue
        n=$((n + 1))
        errs="$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$f" | tail -n1)"
        if [ -z "$errs" ]; then
            echo "    $f: no ERROR SUMMARY (the process was killed?)" >>"$problems"
            bad=$((bad + 1))
        elif [ "$errs" -ne 0 ]; then
            {
                echo "    $f: $errs error(s):"
                grep -E '== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and|Argument|[0-9,]+ bytes in [0-9,]+ blocks are (definitely|indirectly))' "$f" |
                    head -n 5 | sed 's/^/      /' || true
            } >>"$problems"
            bad=$((bad + 1))
        fi
    done
    if [ "$n" -eq 0 ]; then
        echo "    no valgrind log for $name" >>"$problems"
        bad=1
    fi
    procs=$n
}

for exe in "${tests[@]}"; do
    name="$(basename "$exe")"
    start=$(date +%s)
    status=0
    timeout "$limit" valgrind "${vg_opts[@]}" --log-file="$logs/$name.%p.log" \
        "$exe" --jobs 1 --timeout "$limit" >"$logs/$name.out" 2>&1 || status=$?
    secs=$(( $(date +%s) - start ))
    tests_line="$(grep -E 'Synthesis' "$logs/$name.out" | tail -n1 | sed 's/.*Synthesis: //' || true)"
    check_logs "$name"
    if [ "$status" -ne 0 ] || [ "$bad" -ne 0 ]; then
        failures=$((failures + 1))
        line="FAIL  $name: exit $status, $bad process(es) with errors of $procs; ${tests_line:-no Criterion summary} (${secs}s)"
    else
        line="ok    $name: $procs processes clean; $tests_line (${secs}s)"
    fi
    echo "$line"
    cat "$problems"
    if [ "$status" -ne 0 ]; then
        tail -n 5 "$logs/$name.out" | sed 's/^/    /'
    fi
    summary+=("$line")
done

# The showcase, its output checked against coreutils.
wordfreq="$build/examples/wordfreq/wordfreq"
corpus=/usr/share/common-licenses
if [ -x "$wordfreq" ] && [ -d "$corpus" ]; then
    wrapper="$logs/wordfreq-vg"
    {
        echo '#!/bin/sh'
        printf 'exec valgrind'
        printf ' %q' "${vg_opts[@]}" --log-file="$logs/wordfreq.%p.log" "$wordfreq"
        echo ' "$@"'
    } >"$wrapper"
    chmod +x "$wrapper"
    start=$(date +%s)
    status=0
    timeout "$limit" "$root/examples/wordfreq/compare.sh" "$wrapper" \
        --chaos 20 --agents 4 -- "$corpus" >"$logs/wordfreq.out" 2>&1 || status=$?
    secs=$(( $(date +%s) - start ))
    verdict="$(grep -Eo '^(MATCH|MISMATCH)' "$logs/wordfreq.out" | head -n1 || true)"
    check_logs wordfreq
    if [ "$status" -ne 0 ] || [ "$bad" -ne 0 ]; then
        failures=$((failures + 1))
        line="FAIL  wordfreq $corpus: compare exit $status (${verdict:-no verdict}), $bad process(es) with errors (${secs}s)"
    else
        line="ok    wordfreq $corpus: ${verdict}, clean (${secs}s)"
    fi
    echo "$line"
    cat "$problems"
    [ "$status" -ne 0 ] && tail -n 5 "$logs/wordfreq.out" | sed 's/^/    /'
    summary+=("$line")
else
    failures=$((failures + 1))
    line="FAIL  wordfreq: $wordfreq or $corpus missing"
    echo "$line"
    summary+=("$line")
fi

echo
echo "valgrind summary (${#summary[@]} programs):"
printf '  %s\n' "${summary[@]}"
if [ "$failures" -ne 0 ]; then
    echo "valgrind.sh: $failures program(s) FAILED; logs kept in $logs" >&2
    exit 1
fi
rm -rf "$logs"
echo "valgrind.sh: no memory errors, no definite or indirect leaks"
