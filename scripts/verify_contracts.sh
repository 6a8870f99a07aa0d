#!/usr/bin/env bash
# The contract gate (one of the project's three gates): every requirement id defined in
# specs/*.md is named by at least one test or benchmark, and no test or
# benchmark names an id that no spec defines.
#
# An id is defined by a spec list item that starts with it in bold
# ("- **RT-S1** ..."; scripts/verify_specifications.sh checks the form).  A
# test or benchmark names an id by writing it as a whole word anywhere in a
# source file under tests/ or bench/ (by convention in a comment directly
# above the test: "/* Checks: RT-S1, RT-L2 */").  Source files are C, C++
# (the CAF peers), headers, Python, shell, Elixir/Erlang and CMake files; prose (*.md) and recorded
# output (bench/out/) do not count, since naming an id there checks nothing.
# Unknown ids are looked for with the prefixes the specs use.
#
# Prints the uncovered and unknown ids with where they are, and exits
# non-zero if there are any.  Works from any directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

shopt -s nullglob
specs=(specs/*.md)
shopt -u nullglob
if [ "${#specs[@]}" -eq 0 ]; then
    echo "verify_contracts: no specs under specs/" >&2
    exit 1
fi

# Defined ids, one "ID file:line" per line.
defined="$(awk '
    /^[-*+][ \t]+\*\*[A-Z][A-Z0-9]*-[ISLPCF][1-9][0-9]*\*\*/ {
        line = $0
        sub(/^[-*+][ \t]+\*\*/, "", line)
        sub(/\*\*.*/, "", line)
        print line " " FILENAME ":" FNR
    }' "${specs[@]}")"
if [ -z "$defined" ]; then
    echo "verify_contracts: the specs define no requirement ids" >&2
    exit 1
fi
prefixes="$(printf '%s\n' "$defined" | sed 's/-.*//' | sort -u | paste -sd'|')"

# Every source file under tests/ and bench/.
sources=()
for dir in tests bench; do
    [ -d "$dir" ] || continue
    while IFS= read -r -d '' f; do
        sources+=("$f")
    done < <(find "$dir" -path bench/out -prune -o -type f \
        \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \
           -o -name '*.py' -o -name '*.sh' \
           -o -name '*.exs' -o -name '*.ex' -o -name '*.erl' \
           -o -name '*.cmake' -o -name CMakeLists.txt \) -print0 | sort -z)
done

# Named ids, one "ID file:line" per line: every whole word with a spec prefix
# and any letters and digits after the dash (so that a mistyped section
# letter shows up as unknown rather than being ignored).
named=""
if [ "${#sources[@]}" -gt 0 ]; then
    named="$(grep -HnowE "($prefixes)-[A-Z]+[0-9]+" "${sources[@]}" |
        awk -F: '{ print $3 " " $1 ":" $2 }' || true)"
fi

defined_ids="$(printf '%s\n' "$defined" | awk '{ print $1 }' | sort -u)"
named_ids="$(printf '%s\n' "$named" | awk 'NF { print $1 }' | sort -u)"

uncovered="$(comm -23 <(printf '%s\n' "$defined_ids") <(printf '%s\n' "$named_ids") | sed '/^$/d')"
unknown="$(comm -13 <(printf '%s\n' "$defined_ids") <(printf '%s\n' "$named_ids") | sed '/^$/d')"

ndef="$(printf '%s\n' "$defined_ids" | sed '/^$/d' | wc -l)"
nuncov="$(printf '%s' "$uncovered" | grep -c . || true)"
nunknown="$(printf '%s' "$unknown" | grep -c . || true)"
echo "verify_contracts: $ndef ids defined in ${#specs[@]} spec(s); $((ndef - nuncov)) named by tests or benchmarks (${#sources[@]} source files)"

if [ "$nuncov" -gt 0 ]; then
    echo "verify_contracts: $nuncov id(s) named by no test or benchmark:"
    while IFS= read -r id; do
        where="$(printf '%s\n' "$defined" | awk -v id="$id" '$1 == id { print $2; exit }')"
        echo "  $id  ($where)"
    done <<<"$uncovered"
fi
if [ "$nunknown" -gt 0 ]; then
    echo "verify_contracts: $nunknown id(s) named by tests or benchmarks but defined in no spec:"
    while IFS= read -r id; do
        where="$(printf '%s\n' "$named" | awk -v id="$id" '$1 == id { printf "%s%s", sep, $2; sep = ", " }')"
        echo "  $id  ($where)"
    done <<<"$unknown"
fi

if [ "$nuncov" -gt 0 ] || [ "$nunknown" -gt 0 ]; then
    echo "verify_contracts: FAILED" >&2
    exit 1
fi
echo "verify_contracts: OK"
