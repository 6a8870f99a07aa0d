#!/usr/bin/env bash
# scripts/bench.sh — runs every benchmark side by side with its BEAM peer in
# one run on this machine, then prints the comparison table and writes it,
# with the raw output, to bench/out/latest.txt.
#
# Usage: scripts/bench.sh <builddir>
#
# Each workload runs the C program (bench/bench_*.c, built in <builddir>/bench)
# and then the Elixir peer (bench/peers/*.exs), both on 2 schedulers.  Every
# program prints `RESULT name=<metric> value=<number> unit=<unit>` lines; a
# program that fails or prints no figure shows as FAIL / n/a in the table:
# nothing is hidden and every figure is printed as measured.
set -u

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/bench
PEERS=$ROOT/bench/peers
OUT=$ROOT/bench/out
mkdir -p "$OUT"
RAW=$(mktemp)        # everything the programs printed, for latest.txt
RESULTS=$(mktemp)    # lines "<side> <metric> <value> <unit>"
STATUS=$(mktemp)     # lines "<side> <workload> <exit status>"
trap 'rm -f "$RAW" "$RESULTS" "$STATUS"' EXIT

# The BEAM gets the same 2 schedulers as the C runtime, and a process limit
# large enough for skynet's 1,111,111 processes.
ERL_FLAGS="+S 2:2 +P 4000000"
LIMIT=180 # seconds per program

for prog in bench_runtime bench_registry; do
    if [ ! -x "$BIN/$prog" ]; then
        echo "bench.sh: $BIN/$prog is missing; build first (make bench)" >&2
        exit 1
    fi
done
if ! command -v elixir >/dev/null; then
    echo "bench.sh: elixir not found (apt-get install elixir)" >&2
    exit 1
fi

# run <side> <workload> <command...>: runs one program, echoes its output,
# and records its RESULT lines and exit status.
run() {
    local side=$1 workload=$2 rc
    shift 2
    echo "== $side $workload: $*" | tee -a "$RAW"
    local t0=$SECONDS
    timeout "$LIMIT" "$@" >"$RAW.one" 2>&1
    rc=$?
    cat "$RAW.one" | tee -a "$RAW"
    echo "   (exit $rc, $((SECONDS - t0)) s)" | tee -a "$RAW"
    awk -v side="$side" '/^RESULT /{
        n = ""; v = ""; u = ""
        for (i = 2; i <= NF; i++) {
            split($i, kv, "=")
            if (kv[1] == "name") n = kv[2]
            else if (kv[1] == "value") v = kv[2]
            else if (kv[1] == "unit") u = kv[2]
        }
        if (n != "" && v != "") print side, n, v, u
    }' "$RAW.one" >>"$RESULTS"
    echo "$side $workload $rc" >>"$STATUS"
    rm -f "$RAW.one"
}

c_rt() { run Foundation "$1" "$BIN/bench_runtime" "$1"; }
c_reg() { run Foundation "$1" "$BIN/bench_registry" "$1"; }
beam_rt() { run BEAM "$1" elixir --erl "$ERL_FLAGS" "$PEERS/runtime.exs" "$1"; }
beam_reg() { run BEAM "$1" elixir --erl "$ERL_FLAGS" "$PEERS/registry.exs" "$1"; }
# Supervisor (SUP-P1): bench/bench_supervisor.c, bench/peers/supervisor.exs.
c_sup() { run Foundation "$1" "$BIN/bench_supervisor" "$1"; }
beam_sup() { run BEAM "$1" elixir --erl "$ERL_FLAGS" "$PEERS/supervisor.exs" "$1"; }

START=$SECONDS
{
    echo "Foundation benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host: $(uname -srm), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "BEAM: $(elixir --version 2>/dev/null | grep -E '^(Erlang|Elixir)' | tr '\n' ' ')"
} | tee -a "$RAW"

# C first, then the BEAM, workload by workload, in the same run.
c_rt skynet;        beam_rt skynet
c_rt pingpong;      beam_rt pingpong
c_rt many_to_one;   beam_rt many_to_one
c_rt idle;          beam_rt idle
c_rt alive
c_reg lookup;       beam_reg lookup
c_reg lookup_scale
c_reg register;     beam_reg register
c_reg cleanup;      beam_reg cleanup
c_sup restart;      beam_sup restart

# The table.  Rows: id | label | metric | kind | target, where kind is
#   higher  - a rate; ratio = Foundation/BEAM
#   lower   - a cost; ratio = BEAM/Foundation
#   derived:<a>:<b>  - C only: the row's value is a/b of two C metrics
# and target is "ratio>=X" (on the ratio), "<=X" (on Foundation's value) or
# "-" (shown for information).  In the ratio column > 1 always means
# Foundation is better.
TABLE=$(mktemp)
cat >"$TABLE" <<'EOF'
RT-P1|skynet 1M: spawn rate (proc/s)|rt_skynet_rate|higher|ratio>=5
RT-P1|skynet 1M: wall time (ms)|rt_skynet_wall|lower|-
RT-P2|ping-pong (round trips/s)|rt_pingpong_rate|higher|ratio>=5
RT-P3|many-to-one, 4 senders (msg/s)|rt_many_to_one_rate|higher|ratio>=5
RT-P4 RT-I4|idle process: RSS growth (B/proc)|rt_idle_bytes_rss|lower|<=256
RT-P4|idle process: heap (B/proc; C allocator, BEAM erlang:memory)|rt_idle_bytes_heap|lower|-
RT-P4|idle process: Process.info memory (B/proc)|rt_idle_bytes_info|lower|-
RT-P5|fdn_alive, 1k live (ns/call)|rt_alive_ns_1k|lower|-
RT-P5|fdn_alive, 1M live (ns/call)|rt_alive_ns_1m|lower|-
RT-P5|fdn_alive cost 1M / 1k (x)|rt_alive_ns_1m|derived:rt_alive_ns_1m:rt_alive_ns_1k|<=2
REG-P1|lookups, 2 threads, 100k keys (lookup/s)|reg_lookup_rate_2t|higher|ratio>=5
REG-P4|lookups, 1 thread, 1k keys (lookup/s)|reg_lookup_rate_1k|higher|-
REG-P4|lookups, 1 thread, 1M keys (lookup/s)|reg_lookup_rate_1m|higher|-
REG-P4|lookup rate 1k / 1M (x)|reg_lookup_rate_1k|derived:reg_lookup_rate_1k:reg_lookup_rate_1m|<=2
REG-P2|registrations, 2 owners, 100k keys (reg/s)|reg_register_rate|higher|ratio>=5
REG-P3 REG-L1|cleanup: kill -> lookup misses, p50 (us)|reg_cleanup_p50|lower|-
REG-P3 REG-L1|cleanup: kill -> lookup misses, p99 (us)|reg_cleanup_p99|lower|<=50
REG-P3|cleanup: kill -> entry removed, p50 (us)|reg_cleanup_removed_p50|lower|-
REG-P3|cleanup: kill -> entry removed, p99 (us)|reg_cleanup_removed_p99|lower|-
SUP-P1|restart: kill -> replacement answers, p50 (us)|sup_restart_p50|lower|ratio>=5
SUP-P1|restart: kill -> replacement answers, p99 (us)|sup_restart_p99|lower|ratio>=5
SUP-P1|restarts, one at a time (restart/s)|sup_restart_rate|higher|-
EOF

REPORT=$(mktemp)
awk -F'|' -v results="$RESULTS" '
BEGIN {
    while ((getline line < results) > 0) {
        split(line, r, " ")
        val[r[1] SUBSEP r[2]] = r[3]
    }
}
function get(side, m) { return ((side SUBSEP m) in val) ? val[side SUBSEP m] : "" }
function fmt(x) {
    if (x == "") return "n/a"
    x += 0
    if (x >= 1e6) return sprintf("%.2f M", x / 1e6)
    if (x >= 1e4) return sprintf("%.0f", x)
    if (x >= 100) return sprintf("%.1f", x)
    return sprintf("%.3g", x)
}
{
    id = $1; label = $2; m = $3; kind = $4; target = $5
    f = get("Foundation", m); b = get("BEAM", m); ratio = ""; rlabel = ""
    if (kind ~ /^derived:/) {
        split(kind, d, ":")
        x = get("Foundation", d[2]); y = get("Foundation", d[3])
        f = (x != "" && y != "" && y + 0 != 0) ? x / y : ""
        b = ""
    } else if (f != "" && b != "" && f + 0 != 0 && b + 0 != 0) {
        if (kind == "higher") { ratio = f / b; rlabel = " (F/B)" }
        else { ratio = b / f; rlabel = " (B/F)" }
    }
    met = "-"
    if (target ~ /^ratio>=/) {
        t = substr(target, 8) + 0
        met = (ratio == "") ? "n/a" : (ratio >= t ? "yes" : "NO")
        tshow = ">= " t "x BEAM"
    } else if (target ~ /^<=/) {
        t = substr(target, 3) + 0
        met = (f == "") ? "n/a" : (f + 0 <= t ? "yes" : "NO")
        tshow = "<= " t
    } else tshow = "-"
    rshow = (ratio == "") ? "-" : sprintf("%.2fx%s", ratio, rlabel)
    printf "%-13s | %-60s | %12s | %12s | %14s | %-12s | %s\n", id, label, fmt(f), fmt(b), rshow, tshow, met
}' "$TABLE" >"$REPORT"
rm -f "$TABLE"

{
    echo
    echo "Ratio: > 1 means Foundation is better (F/B for rates, B/F for costs)."
    printf "%-13s | %-60s | %12s | %12s | %14s | %-12s | %s\n" \
        "id" "metric" "Foundation" "BEAM" "ratio" "target" "met?"
    printf '%.0s-' $(seq 1 140); echo
    cat "$REPORT"
    missed=$(awk -F'|' '$7 ~ /NO/' "$REPORT" | wc -l)
    echo
    echo "targets missed: $missed"
    failed=$(awk '$3 != 0 {print "  " $1 " " $2 " exited " $3}' "$STATUS")
    if [ -n "$failed" ]; then
        echo
        echo "Programs that failed (their figures are n/a above):"
        echo "$failed"
    fi
    echo
    echo "total time: $((SECONDS - START)) s"
} | tee -a "$RAW"
rm -f "$REPORT"

cp "$RAW" "$OUT/latest.txt"
echo "written: $OUT/latest.txt"

# Exit status: 1 if a benchmark program failed (its figures are missing);
# with FDN_BENCH_STRICT=1 (scripts/verify_implementation.sh), also 2 if a
# performance target was missed.  A plain `make bench` reports misses in
# the table and exits 0 so that the figures are always printed and kept.
if awk '$3 != 0 {bad = 1} END {exit !bad}' "$STATUS"; then
    rm -f "$STATUS"
    exit 1
fi
rm -f "$STATUS"
missed=$(grep -c '^targets missed: [1-9]' "$OUT/latest.txt" || true)
if [ "${FDN_BENCH_STRICT:-0}" = 1 ] && [ "$missed" -gt 0 ]; then
    echo "bench: performance targets missed (FDN_BENCH_STRICT=1)" >&2
    exit 2
fi
exit 0
