#!/usr/bin/env bash
# The specification gate (one of the project's three gates).  Checks that:
#   1. every module with a public header include/foundation/<m>.h (except
#      common.h) has a spec specs/<m>.md;
#   2. every spec has the six sections: headings naming Invariants, Safety,
#      Liveness, Performance, Contracts and Failure modes;
#   3. every requirement is defined as a list item starting with a bold id,
#      "- **PREFIX-XN** ...", where X is the letter of the section it sits in
#      (I, S, L, P, C, F) and N a number; one prefix per spec; a bold id
#      anywhere else is an error;
#   4. no id is defined twice (within or across specs);
# and then runs scripts/check_models.sh (every Promela model verifies, every
# known-broken one fails).  Works from any directory; exits non-zero with a
# message naming each problem.  SKIP_MODELS=1 skips the model check.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

errors=0
fail() {
    echo "verify_specifications: $*" >&2
    errors=$((errors + 1))
}

# 1. A spec for every module header.
shopt -s nullglob
headers=(include/foundation/*.h)
specs=(specs/*.md)
shopt -u nullglob
if [ "${#headers[@]}" -eq 0 ]; then
    fail "no public headers under include/foundation/"
fi
for h in "${headers[@]}"; do
    m="$(basename "$h" .h)"
    [ "$m" = common ] && continue
    [ -f "specs/$m.md" ] || fail "module '$m' ($h) has no spec specs/$m.md"
done

# 2-4. Sections and ids, spec by spec.  The awk program prints one line per
# defined id ("ID file:line") on stdout and one line per problem on stderr
# (its exit status is the number of problems, capped).
all_ids=""
for spec in "${specs[@]}"; do
    out="$(mktemp)"
    status=0
    awk -v file="$spec" '
        function problem(msg) {
            printf "verify_specifications: %s:%d: %s\n", file, FNR, msg > "/dev/stderr"
            nproblems++
        }
        BEGIN { section = ""; nproblems = 0; prefix = "" }
        /^#+[ \t]/ {
            h = $0
            section = ""
            if (h ~ /^##+[ \t]/) {
                if (h ~ /Invariants/)         { section = "I"; seen["I"] = 1 }
                else if (h ~ /Safety/)        { section = "S"; seen["S"] = 1 }
                else if (h ~ /Liveness/)      { section = "L"; seen["L"] = 1 }
                else if (h ~ /Performance/)   { section = "P"; seen["P"] = 1 }
                else if (h ~ /Contracts/)     { section = "C"; seen["C"] = 1 }
                else if (h ~ /Failure modes/) { section = "F"; seen["F"] = 1 }
            }
            next
        }
        # A requirement definition: a list item whose text starts bold.
        /^[-*+][ \t]+\*\*/ {
            line = $0
            sub(/^[-*+][ \t]+\*\*/, "", line)
            end = index(line, "**")
            if (end == 0) { problem("unterminated bold at list start"); next }
            id = substr(line, 1, end - 1)
            rest = substr(line, end + 2)
            if (id !~ /^[A-Z][A-Z0-9]*-[ISLPCF][1-9][0-9]*$/) {
                problem("malformed requirement id \"" id "\" (want PREFIX-[ISLPCF]N)")
                next
            }
            p = id; sub(/-.*/, "", p)
            letter = id; sub(/^[A-Z0-9]*-/, "", letter); letter = substr(letter, 1, 1)
            if (prefix == "") prefix = p
            else if (p != prefix)
                problem("id " id " has prefix " p "; this spec uses " prefix)
            if (section == "")
                problem("id " id " is not under one of the six section headings")
            else if (letter != section)
                problem("id " id " sits in the section for " section " ids")
            if (id in defined)
                problem("id " id " defined twice in this spec (first at line " defined[id] ")")
            defined[id] = FNR; ndefined++
            print id " " file ":" FNR
            # A second bold id on the same line would be a second definition.
            if (rest ~ /\*\*[A-Z][A-Z0-9]*-[A-Z][0-9]*\*\*/)
                problem("more than one bold id on one line")
            next
        }
        # A bold id anywhere else is a definition in the wrong place.
        /\*\*[A-Z][A-Z0-9]*-[A-Z][0-9]+\*\*/ {
            problem("bold requirement id not at the start of a list item")
        }
        END {
            split("I S L P C F", letters, " ")
            split("Invariants Safety Liveness Performance Contracts", names, " ")
            names[6] = "Failure modes"
            for (i = 1; i <= 6; i++)
                if (!(letters[i] in seen)) {
                    printf "verify_specifications: %s: no \"%s\" section heading\n", file, names[i] > "/dev/stderr"
                    nproblems++
                }
            if (ndefined == 0) {
                printf "verify_specifications: %s: defines no requirement ids\n", file > "/dev/stderr"
                nproblems++
            }
            exit (nproblems > 100 ? 100 : nproblems)
        }
    ' "$spec" >"$out" || status=$?
    if [ "$status" -ne 0 ]; then
        errors=$((errors + status))
    fi
    n="$(wc -l <"$out")"
    echo "verify_specifications: $spec: $n requirement ids"
    all_ids="$all_ids$(cat "$out")"$'\n'
    rm -f "$out"
done
if [ "${#specs[@]}" -eq 0 ]; then
    fail "no specs under specs/"
fi

# 4. Duplicates across specs.
dups="$(printf '%s' "$all_ids" | awk 'NF { n[$1]++; where[$1] = where[$1] " " $2 }
        END { for (id in n) if (n[id] > 1) print id ":" where[id] }' | sort)"
if [ -n "$dups" ]; then
    while IFS= read -r d; do
        fail "duplicate requirement id $d"
    done <<<"$dups"
fi

if [ "$errors" -ne 0 ]; then
    echo "verify_specifications: FAILED ($errors problem(s))" >&2
    exit 1
fi
echo "verify_specifications: specs complete and well-formed"

# The models.
if [ "${SKIP_MODELS:-0}" != 1 ]; then
    "$root/scripts/check_models.sh"
else
    echo "verify_specifications: models not re-run (SKIP_MODELS=1: make test ran them as the ctest model_check)"
fi
echo "verify_specifications: OK"
