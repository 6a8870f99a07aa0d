// bench/peers/node/telemetry.js — the Node.js side of bench/bench_telemetry.c:
// the same recordings with prom-client (the version pinned in package.json
// beside this file), printing `RESULT name=... value=... unit=...` lines in
// the same format, under the same names.
//
//   counter.inc()                       tel_counter_inc_ns  (TEL-P1, TEL-P5)
//   histogram.observe(v), 10 bounds     tel_hist_explicit_ns (TEL-P2, TEL-P5)
//   summary.observe(v)                  tel_summary_ns      (TEL-P5)
//   counter.labels(a).inc()             tel_labels1_ns      (TEL-P5)
//   counter.labels(a, b).inc()          tel_labels2_ns      (TEL-P5)
//   emitter.emit() to 1 listener, to 0  tel_emit_1_ns, tel_emit_0_ns (TEL-P3)
//
// prom-client has no log-linear histogram, so tel_hist_log_ns has no figure
// here.  Nor has two threads on one metric (TEL-P4): a registry lives in one
// JavaScript thread, worker_threads cannot share it, and prom-client's
// cluster mode keeps one registry per process and sums them when scraped,
// which is separate counters rather than one; the script says so and
// prints no figure.
//
// Run: node bench/peers/node/telemetry.js   (scripts/bench.sh installs
// prom-client with `npm ci` in this directory first).
//
// The method is bench_telemetry.c's: each case is warmed up (here also long
// enough for V8's optimising compiler), calibrated so that one repetition
// takes about 40 ms, then timed REPS times, the cases taking turns within
// each repetition; each figure is the median.  The observed values, label
// values, bucket bounds and event are the same as on the C side.  Every
// count is checked after timing; a wrong one exits non-zero with no figure.
'use strict';

const client = require('prom-client');
const { EventEmitter } = require('events');

const REPS = 7;
const REP_NS = 40e6;
const CALIBRATE_NS = 10e6;
const WARMUP_NS = 200e6;
const VALUES = 4096;

// prom-client's default buckets without the last (10 bounds, as the C side).
const BOUNDS10 = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

// Log-uniform over [0.001, 20] by the golden-ratio sequence, as in C.
const values = new Float64Array(VALUES);
for (let i = 0; i < VALUES; i++) {
  let f = i * 0.6180339887498949;
  f -= Math.floor(f);
  values[i] = Math.exp(Math.log(1e-3) + Math.log(2e4) * f);
}
const methods = ['GET', 'POST', 'PUT', 'DELETE'];
const codes = ['200', '404', '500', '503'];

function nowNs() {
  return Number(process.hrtime.bigint());
}

function result(name, value, unit) {
  console.log(`RESULT name=${name} value=${value.toFixed(3)} unit=${unit}`);
}

function fail(what) {
  console.error(`bench: ${what}`);
  process.exit(1);
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

// ---- The operations, each a loop of n ----------------------------------

function opCounter(c, n) {
  for (let i = 0; i < n; i++) c.inc();
}

function opObserve(h, n) {
  for (let i = 0; i < n; i++) h.observe(values[i & (VALUES - 1)]);
}

function opLabels1(c, n) {
  for (let i = 0; i < n; i++) c.labels(methods[i & 3]).inc();
}

function opLabels2(c, n) {
  for (let i = 0; i < n; i++) c.labels(methods[i & 3], codes[(i >> 2) & 3]).inc();
}

// Emitting 'bench.event' with one measurement (a prebuilt object, as the C
// side passes a prebuilt array).
const measurement = { duration: 1234.0 };
function opEmit(ee, n) {
  for (let i = 0; i < n; i++) ee.emit('bench.event', measurement);
}

// ---- Timing ------------------------------------------------------------

function timeRun(run, arg, n) {
  const t0 = nowNs();
  run(arg, n);
  return nowNs() - t0;
}

function calibrate(c) {
  let n = 1000;
  let ns;
  // Warm-up: V8 compiles the loop with its optimising compiler only after
  // it has run a while.
  const until = nowNs() + WARMUP_NS;
  while (nowNs() < until) {
    c.run(c.arg, 10000);
    c.done += 10000;
  }
  for (;;) {
    ns = timeRun(c.run, c.arg, n);
    c.done += n;
    if (ns >= CALIBRATE_NS) break;
    n *= 2;
  }
  c.n = Math.max(1000, Math.floor(REP_NS / Math.max(ns / n, 0.1)));
}

function runCases(cases) {
  for (const c of cases) calibrate(c);
  for (let r = 0; r < REPS; r++) {
    for (const c of cases) {
      c.ns.push(timeRun(c.run, c.arg, c.n) / c.n);
      c.done += c.n;
    }
  }
  for (const c of cases) result(c.name, median(c.ns), 'ns');
}

function mkcase(name, run, arg) {
  return { name, run, arg, n: 0, done: 0, ns: [] };
}

async function valueOf(metric, suffix) {
  const m = await metric.get();
  let total = 0;
  for (const v of m.values) {
    if (suffix === undefined || v.metricName === m.name + suffix) total += v.value;
  }
  return total;
}

function check(what, got, want) {
  if (got !== want) fail(`${what}: counted ${got}, ran ${want}`);
}

// Checks: TEL-P1, TEL-P2, TEL-P5 (the recordings, one thread).
async function benchRecord() {
  const registers = [new client.Registry()];
  const counter = new client.Counter({ name: 'bench_counter_total', help: 'bench', registers });
  const hist = new client.Histogram({ name: 'bench_hist', help: 'bench', buckets: BOUNDS10, registers });
  const summary = new client.Summary({ name: 'bench_summary', help: 'bench', registers });
  const lab1 = new client.Counter({
    name: 'bench_labels1_total', help: 'bench', labelNames: ['method'], registers,
  });
  const lab2 = new client.Counter({
    name: 'bench_labels2_total', help: 'bench', labelNames: ['method', 'code'], registers,
  });
  const cases = [
    mkcase('tel_counter_inc_ns', opCounter, counter),
    mkcase('tel_hist_explicit_ns', opObserve, hist),
    mkcase('tel_summary_ns', opObserve, summary),
    mkcase('tel_labels1_ns', opLabels1, lab1),
    mkcase('tel_labels2_ns', opLabels2, lab2),
  ];
  runCases(cases);
  result('tel_counter_inc_rate', 1e9 / median(cases[0].ns), 'op/s');

  // Counts are doubles in prom-client, exact below 2^53.
  check('counter', await valueOf(counter), cases[0].done);
  check('histogram', await valueOf(hist, '_count'), cases[1].done);
  check('summary', await valueOf(summary, '_count'), cases[2].done);
  check('labelled counter (1 label)', await valueOf(lab1), cases[3].done);
  check('labelled counter (2 labels)', await valueOf(lab2), cases[4].done);
  check('labelled series', (await lab2.get()).values.length, 16);
}

// Checks: TEL-P3 (the closest Node analogue: EventEmitter.emit).
function benchEmit() {
  const none = new EventEmitter();
  const one = new EventEmitter();
  let calls = 0;
  one.on('bench.event', () => {
    calls++;
  });
  const cases = [mkcase('tel_emit_0_ns', opEmit, none), mkcase('tel_emit_1_ns', opEmit, one)];
  runCases(cases);
  check('listener calls', calls, cases[1].done);
}

// Checks: TEL-P4 (no figure: see the top of this file).
function benchThreads() {
  console.log('tel_counter_rate_2t, tel_hist_rate_2t: n/a (a prom-client registry cannot be shared by threads)');
}

async function main() {
  const w = process.argv[2] || 'all';
  const all = w === 'all';
  if (!all && !['record', 'emit', 'threads'].includes(w)) {
    console.error('usage: node telemetry.js [all|record|emit|threads]');
    process.exit(2);
  }
  console.log(`node ${process.version}, prom-client ${require('prom-client/package.json').version}`);
  if (all || w === 'record') await benchRecord();
  if (all || w === 'emit') benchEmit();
  if (all || w === 'threads') benchThreads();
}

main().catch((e) => fail(e.stack || String(e)));
