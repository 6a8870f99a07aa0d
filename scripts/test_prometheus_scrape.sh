#!/usr/bin/env bash
# A real Prometheus server scrapes our /metrics and its query API returns
# the values recorded before the scrape (TEL-L2; also TEL-C8, TEL-C10).
#
# Starts tests/integration/tel_serve.c (HTTP on 127.0.0.1, an ephemeral
# port), then `prometheus` scraping it every second into a temporary
# directory, polls http://127.0.0.1:<port>/api/v1/query until the target
# is up and scraped (at most 60 s), and checks exact values: up, a counter,
# a labelled series (also one whose label value holds a quote, a backslash
# and a newline), gauges, a histogram bucket, _sum and _count, a summary's
# _count, a counter at 2^64 - 1, and that Prometheus stored as many samples
# per scrape as the exposition has sample lines (so no line was dropped).
# Finally closes tel_serve's stdin and requires it to exit 0 (under a
# sanitizer build that exit status includes the leak check).
#
# Usage: scripts/test_prometheus_scrape.sh <path to tel_serve>  (ctest)
# Exits 0 on success, 77 (ctest: skipped) when prometheus is not
# installed, 1 on failure.  Every process it started is killed and every
# file removed on every exit path.
set -euo pipefail

serve="${1:?usage: $0 <tel_serve>}"
if ! command -v prometheus >/dev/null 2>&1; then
    echo "test_prometheus_scrape: prometheus not installed (Debian package prometheus); skipped"
    exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "test_prometheus_scrape: python3 is needed to read the query API's JSON" >&2
    exit 1
fi
has_curl=0
command -v curl >/dev/null 2>&1 && has_curl=1

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fdn-prom-scrape.XXXXXX")"
prom_pid=""
serve_pid=""
cleanup() {
    local status=$?
    # The coproc's fds are closed by the shell when it exits; kill what runs.
    for pid in $prom_pid $serve_pid; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $prom_pid $serve_pid; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then
        for f in "$tmp/serve.err" "$tmp/prometheus.log"; do
            [ -s "$f" ] && { echo "--- $f (last lines)"; tail -n 15 "$f"; } >&2
        done
    fi
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    echo "test_prometheus_scrape: $*" >&2
    exit 1
}

# The number of sample lines the exposition has (for the samples check).
samples="$("$serve" --print | grep -cv '^#')"

coproc SERVE { exec "$serve" 2>"$tmp/serve.err"; }
# shellcheck disable=SC2153  # SERVE_PID is set by coproc
serve_pid="$SERVE_PID"
line=""
read -r -t 10 -u "${SERVE[0]}" line || fail "tel_serve printed no port"
port="${line#port }"
if ! [[ "$port" =~ ^[1-9][0-9]*$ ]]; then
    fail "tel_serve printed '$line'"
fi

# A free port for Prometheus's own API: bound by the kernel, then released.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cat >"$tmp/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tel
    static_configs:
      - targets: ['127.0.0.1:$port']
YML

# GET the query API for PromQL expression $1; prints the JSON.
query_json() {
    local url="http://127.0.0.1:$api/api/v1/query"
    if [ "$has_curl" -eq 1 ]; then
        curl -sfG --max-time 3 --data-urlencode "query=$1" "$url"
    else
        python3 - "$url" "$1" <<'PY'
import sys, urllib.parse, urllib.request
url = sys.argv[1] + "?" + urllib.parse.urlencode({"query": sys.argv[2]})
print(urllib.request.urlopen(url, timeout=3).read().decode())
PY
    fi
}

# The value of the one series expression $1 selects ("" if none or more).
value() {
    query_json "$1" 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
r = d.get("data", {}).get("result", [])
if d.get("status") == "success" and len(r) == 1:
    print(r[0]["value"][1])
' || true
}

# Prometheus, on a fresh port; started again if that port got taken.
for _ in 1 2 3; do
    api="$(free_port)"
    prometheus --config.file="$tmp/prometheus.yml" \
        --storage.tsdb.path="$tmp/data" \
        --web.listen-address="127.0.0.1:$api" \
        --log.level=warn >"$tmp/prometheus.log" 2>&1 &
    prom_pid=$!
    sleep 0.5
    kill -0 "$prom_pid" 2>/dev/null && break
    wait "$prom_pid" 2>/dev/null || true
    prom_pid=""
done
[ -n "$prom_pid" ] || fail "prometheus did not start"

# Wait (bounded) until a scrape has landed.
start=$SECONDS
while :; do
    kill -0 "$prom_pid" 2>/dev/null || fail "prometheus exited"
    kill -0 "$serve_pid" 2>/dev/null || fail "tel_serve exited"
    up="$(value 'up{job="tel"}')"
    got="$(value 'tel_requests_total')"
    [ "$up" = 1 ] && [ -n "$got" ] && break
    [ $((SECONDS - start)) -lt 60 ] || fail "no scrape within 60 s (up='$up')"
    sleep 0.5
done
echo "test_prometheus_scrape: first scrape seen after $((SECONDS - start)) s (tel_serve on $port, prometheus on $api)"

failures=0
# expect <PromQL> <value>: numeric equality (NaN equals NaN, +Inf spelled
# as Prometheus spells it).
expect() {
    local got
    got="$(value "$1")"
    if python3 -c '
import math, sys
g, w = sys.argv[1], sys.argv[2]
try:
    gf, wf = float(g), float(w)
except ValueError:
    sys.exit(1)
sys.exit(0 if gf == wf or (math.isnan(gf) and math.isnan(wf)) else 1)
' "$got" "$2"; then
        printf '  ok    %-60s = %s\n' "$1" "$got"
    else
        printf '  FAIL  %-60s = %s, expected %s\n' "$1" "${got:-<none>}" "$2"
        failures=$((failures + 1))
    fi
}

expect 'up{job="tel"}' 1
expect 'tel_requests_total' 42
expect 'tel_jobs_total{queue="fast"}' 7
expect 'tel_jobs_total{queue="slow"}' 3
expect 'tel_jobs_total{queue="a\"b\\c\nd"}' 1
expect 'tel_saturated_total' 18446744073709551615
expect 'tel_queue_depth' 17
expect 'tel_temperature_celsius' -3.5
expect 'tel_headroom_ratio{queue="up"}' +Inf
expect 'tel_request_duration_seconds_bucket{le="0.1"}' 1
expect 'tel_request_duration_seconds_bucket{le="0.5"}' 2
expect 'tel_request_duration_seconds_bucket{le="+Inf"}' 5
expect 'tel_request_duration_seconds_count' 5
expect 'tel_request_duration_seconds_sum' 13.25
expect 'tel_latency_seconds_count{method="get"}' 100
expect 'tel_latency_seconds{method="put",quantile="0.5"}' 0.25
expect 'scrape_samples_scraped{job="tel"}' "$samples"

# Stop tel_serve by closing its stdin: it must stop its server, destroy
# its hub and exit 0.
eval "exec ${SERVE[1]}>&-"
status=0
wait "$serve_pid" || status=$?
serve_pid=""
if [ "$status" -ne 0 ]; then
    echo "  FAIL  tel_serve exited $status after its stdin closed"
    failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] || fail "$failures check(s) failed"
echo "test_prometheus_scrape: OK"
