#!/usr/bin/env bash
# Model-checks every Promela model in specs/models/ with spin, exhaustively.
#
# A model named *_broken*.pml is a known-broken variant kept to show that its
# properties are not vacuous: it must FAIL, and with the assertion named on
# its "expect-violation:" line.  Every other model must verify with no errors
# in every configuration listed on its "spin-config:" lines (a model without
# such lines is checked once with its defaults).  The search is exhaustive:
# no bitstate hashing, no partial-order reduction, and a run that hits the
# memory bound or the depth bound counts as a failure because it did not see
# every state.
#
# Usage: scripts/check_models.sh [model.pml ...]   (default: all models)
# Works from any directory; builds in a temporary directory; exits non-zero
# on any failure.  Environment: SPIN (default spin), CC (default gcc),
# PAN_MEMLIM_MB (default 2048), PAN_DEPTH (default 1000000).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models_dir="$root/specs/models"
spin="${SPIN:-spin}"
cc="${CC:-gcc}"
memlim="${PAN_MEMLIM_MB:-2048}"
depth="${PAN_DEPTH:-1000000}"

command -v "$spin" >/dev/null || { echo "check_models: '$spin' not found (apt-get install spin)" >&2; exit 2; }
command -v "$cc" >/dev/null || { echo "check_models: '$cc' not found" >&2; exit 2; }

if [ "$#" -gt 0 ]; then
    models=("$@")
else
    shopt -s nullglob
    models=("$models_dir"/*.pml)
    shopt -u nullglob
fi
if [ "${#models[@]}" -eq 0 ]; then
    echo "check_models: no models in $models_dir" >&2
    exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/fdn-models.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Models may include each other, so they all live in the work directory.
cp "$models_dir"/*.pml "$work"/

failures=0

# run_one <model file name> <config flags...>: generates, compiles and runs
# pan in a fresh directory; leaves the output in $work/<dir>/out and sets
# $rundir.  Returns pan's exit status (spin or gcc failures return 100).
run_one() {
    local name="$1"; shift
    rundir="$(mktemp -d "$work/run.XXXXXX")"
    cp "$work"/*.pml "$rundir"/
    (
        cd "$rundir"
        if ! "$spin" "$@" -a "$name" >spin.log 2>&1; then
            cat spin.log >out
            exit 100
        fi
        if ! "$cc" -O2 -w -DSAFETY -DNOREDUCE -DMEMLIM="$memlim" \
                -o pan pan.c >cc.log 2>&1; then
            cat cc.log >out
            exit 100
        fi
        ./pan -m"$depth" >out 2>&1
    )
}

summary() {
    # The state count, depth and error count pan printed, on one line.
    local stored depth errs
    stored="$(awk '/states, stored/ {print $1; exit}' "$1")"
    depth="$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$1" | head -n1)"
    errs="$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$1" | head -n1)"
    echo "states stored ${stored:-?}, depth ${depth:-?}, errors ${errs:-?}"
}

for model in "${models[@]}"; do
    name="$(basename "$model")"
    if [ ! -f "$work/$name" ]; then
        cp "$model" "$work/$name"
    fi
    case "$name" in
    *_broken*.pml)
        expect="$(sed -n 's/.*expect-violation:[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*$/\1/p' "$work/$name" | head -n1)"
        if [ -z "$expect" ]; then
            echo "FAIL  $name: broken variant has no 'expect-violation:' line"
            failures=$((failures + 1))
            continue
        fi
        status=0
        run_one "$name" || status=$?
        if [ "$status" -eq 100 ]; then
            echo "FAIL  $name: spin or the compiler failed:"
            sed 's/^/      /' "$rundir/out"
            failures=$((failures + 1))
        elif grep -qF "assertion violated ($expect)" "$rundir/out"; then
            echo "ok    $name fails as intended: assertion violated ($expect); $(summary "$rundir/out")"
        else
            echo "FAIL  $name: expected 'assertion violated ($expect)', got: $(summary "$rundir/out")"
            grep -E '^pan' "$rundir/out" | sed 's/^/      /' || true
            failures=$((failures + 1))
        fi
        ;;
    *)
        # One run per spin-config line; an empty tag, or no tag at all,
        # means the model's defaults.
        configs="$(sed -n 's/.*spin-config:[[:space:]]*//p' "$work/$name")"
        while IFS= read -r cfg; do
            status=0
            # shellcheck disable=SC2086  # the flags are split on purpose
            run_one "$name" $cfg || status=$?
            label="$name ${cfg:-(defaults)}"
            out="$rundir/out"
            if [ "$status" -eq 100 ]; then
                echo "FAIL  $label: spin or the compiler failed:"
                sed 's/^/      /' "$out"
                failures=$((failures + 1))
            elif [ "$status" -ne 0 ] || ! grep -q 'errors: 0$' "$out"; then
                echo "FAIL  $label: $(summary "$out")"
                grep -E '^pan|error' "$out" | sed 's/^/      /' || true
                failures=$((failures + 1))
            elif grep -qE 'max search depth too small|reached -DMEMLIM bound|out of memory' "$out"; then
                echo "FAIL  $label: search incomplete (depth or memory bound); $(summary "$out")"
                failures=$((failures + 1))
            else
                echo "ok    $label: $(summary "$out")"
            fi
        done <<<"$configs"
        ;;
    esac
done

if [ "$failures" -ne 0 ]; then
    echo "check_models: $failures failure(s)" >&2
    exit 1
fi
echo "check_models: all models behave as intended"
