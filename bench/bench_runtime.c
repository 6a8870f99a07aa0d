/*
 * bench/bench_runtime.c — the runtime's benchmarks: skynet spawn rate,
 * ping-pong round trips, many-to-one messages, bytes per idle process, the
 * CPU an idle runtime uses and the cost of fdn_alive at 1,000 and
 * 1,000,000 live processes.  Each
 * workload mirrors one in bench/peers/runtime.exs and prints RESULT lines
 * that scripts/bench.sh puts beside the BEAM's.
 *
 * Usage: bench_runtime skynet|pingpong|many_to_one|idle|alive
 * Every runtime uses 2 schedulers, as the BEAM peer runs with +S 2:2.
 */
#include "foundation/runtime.h"

#include "bench_alloc.h"
#include "bench_rt.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdbool.h>


enum {
    TAG_START = 1,  /* begin the workload */
    TAG_RESULT = 2, /* skynet: a child's sum */
    TAG_PING = 3,
    TAG_PONG = 4,
    TAG_DONE = 5,   /* to the attached main thread: finished */
    TAG_MSG = 6     /* many-to-one payload */
};

/* ------------------------------------------------------------------------ */
/* Skynet                                                                   */
/* ------------------------------------------------------------------------ */

#define SKYNET_SIZE 1000000
#define SKYNET_EXPECT INT64_C(499999500000)
#define SKYNET_PROCS 1111111 /* 1 + 10 + ... + 1,000,000 */
#define SKYNET_RUNS 3

typedef struct skynet_node {
    fdn_pid_t parent;
    int64_t num;
    int64_t size;
    int64_t sum;
    int pending;
} skynet_node_t;

static fdn_next_t skynet_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    skynet_node_t *n = malloc(sizeof *n);
    if (n == NULL)
        return fdn_stop(ctx, FDN_REASON_USER);
    *n = *(const skynet_node_t *)arg;
    *state = n;
    return FDN_CONTINUE;
}

static void skynet_terminate(fdn_ctx_t *ctx, void *state, fdn_reason_t reason)
{
    (void)ctx;
    (void)reason;
    free(state);
}

static fdn_next_t skynet_handle(fdn_ctx_t *ctx, void *state,
                                const fdn_msg_t *msg);

static const fdn_behaviour_t skynet_behaviour = {
    .init = skynet_init,
    .handle = skynet_handle,
    .terminate = skynet_terminate,
    .name = "skynet",
};

/* A node either replies its number (a leaf) or spawns ten children, starts
 * them, sums their replies and sends the sum to its parent. */
static fdn_next_t skynet_handle(fdn_ctx_t *ctx, void *state,
                                const fdn_msg_t *msg)
{
    skynet_node_t *n = state;
    int64_t v;

    if (msg->tag == TAG_START) {
        int64_t sub = n->size / 10;
        if (n->size == 1) {
            bench_rt_send(ctx, n->parent, TAG_RESULT, &n->num, sizeof n->num);
            return fdn_stop(ctx, FDN_REASON_NORMAL);
        }
        for (int i = 0; i < 10; i++) {
            skynet_node_t child = {fdn_self(ctx), n->num + i * sub, sub, 0, 0};
            fdn_pid_t pid;
            int rc = fdn_spawn(NULL, ctx, &skynet_behaviour, &child, NULL,
                               &pid);
            if (rc != FDN_OK)
                bench_fail("fdn_spawn", rc);
            bench_rt_send(ctx, pid, TAG_START, NULL, 0);
        }
        n->pending = 10;
        return FDN_CONTINUE;
    }
    memcpy(&v, msg->data, sizeof v);
    n->sum += v;
    if (--n->pending == 0) {
        bench_rt_send(ctx, n->parent, TAG_RESULT, &n->sum, sizeof n->sum);
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    }
    return FDN_CONTINUE;
}

/* Checks: RT-P1 */
static void bench_skynet(void)
{
    fdn_ctx_t *ctx;
    fdn_runtime_t *rt = bench_rt_start(NULL, &ctx);
    uint64_t best = UINT64_MAX;

    for (int run = 0; run < SKYNET_RUNS; run++) {
        skynet_node_t root = {fdn_self(ctx), 0, SKYNET_SIZE, 0, 0};
        fdn_pid_t pid;
        fdn_msg_t *msg;
        int64_t sum;
        uint64_t t0 = bench_now_ns(), dt;
        int rc = fdn_spawn(rt, ctx, &skynet_behaviour, &root, NULL, &pid);
        if (rc != FDN_OK)
            bench_fail("fdn_spawn root", rc);
        bench_rt_send(ctx, pid, TAG_START, NULL, 0);
        msg = bench_rt_receive(ctx);
        dt = bench_now_ns() - t0;
        memcpy(&sum, msg->data, sizeof sum);
        fdn_msg_free(ctx, msg);
        if (sum != SKYNET_EXPECT) {
            fprintf(stderr, "skynet: wrong sum %lld, expected %lld\n",
                    (long long)sum, (long long)SKYNET_EXPECT);
            exit(1);
        }
        if (dt < best)
            best = dt;
        bench_rt_wait_quiescent(rt);
    }
    bench_result("rt_skynet_sum_ok", 1, "bool");
    bench_result("rt_skynet_wall", (double)best / 1e6, "ms");
    bench_result("rt_skynet_rate", SKYNET_PROCS / ((double)best / 1e9),
                 "proc/s");
    fdn_detach(ctx);
    fdn_runtime_destroy(rt);
}

/* ------------------------------------------------------------------------ */
/* Ping-pong                                                                */
/* ------------------------------------------------------------------------ */

#define PINGPONG_N 1000000
#define PINGPONG_RUNS 3

typedef struct pinger {
    fdn_pid_t peer;
    fdn_pid_t main;
    int64_t left;
    uint64_t t0;
} pinger_t;

static fdn_next_t pinger_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    *state = arg;
    return FDN_CONTINUE;
}

/* Sends PING, waits for PONG, PINGPONG_N times; then reports the elapsed
 * time (measured inside the pinger, as the BEAM peer does) to main. */
static fdn_next_t pinger_handle(fdn_ctx_t *ctx, void *state,
                                const fdn_msg_t *msg)
{
    pinger_t *p = state;
    if (msg->tag == TAG_START)
        p->t0 = bench_now_ns();
    else if (--p->left == 0) {
        uint64_t dt = bench_now_ns() - p->t0;
        bench_rt_send(ctx, p->main, TAG_DONE, &dt, sizeof dt);
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    }
    bench_rt_send(ctx, p->peer, TAG_PING, NULL, 0);
    return FDN_CONTINUE;
}

static fdn_next_t ponger_handle(fdn_ctx_t *ctx, void *state,
                                const fdn_msg_t *msg)
{
    (void)state;
    if (msg->tag != TAG_PING)
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    bench_rt_send(ctx, msg->from, TAG_PONG, NULL, 0);
    return FDN_CONTINUE;
}

static const fdn_behaviour_t pinger_behaviour = {
    .init = pinger_init, .handle = pinger_handle, .name = "pinger"};
static const fdn_behaviour_t ponger_behaviour = {
    .handle = ponger_handle, .name = "ponger"};

/* Checks: RT-P2 */
static void bench_pingpong(void)
{
    fdn_ctx_t *ctx;
    fdn_runtime_t *rt = bench_rt_start(NULL, &ctx);
    uint64_t best = UINT64_MAX;

    for (int run = 0; run < PINGPONG_RUNS; run++) {
        pinger_t p = {0, fdn_self(ctx), PINGPONG_N, 0};
        fdn_pid_t ping_pid, pong_pid;
        fdn_msg_t *msg;
        uint64_t dt;
        int rc = fdn_spawn(rt, ctx, &ponger_behaviour, NULL, NULL, &pong_pid);
        if (rc != FDN_OK)
            bench_fail("fdn_spawn ponger", rc);
        p.peer = pong_pid;
        rc = fdn_spawn(rt, ctx, &pinger_behaviour, &p, NULL, &ping_pid);
        if (rc != FDN_OK)
            bench_fail("fdn_spawn pinger", rc);
        bench_rt_send(ctx, ping_pid, TAG_START, NULL, 0);
        msg = bench_rt_receive(ctx);
        memcpy(&dt, msg->data, sizeof dt);
        fdn_msg_free(ctx, msg);
        if (dt < best)
            best = dt;
        bench_rt_send(ctx, pong_pid, TAG_DONE, NULL, 0);
        bench_rt_wait_quiescent(rt);
    }
    bench_result("rt_pingpong_rate", PINGPONG_N / ((double)best / 1e9),
                 "roundtrip/s");
    fdn_detach(ctx);
    fdn_runtime_destroy(rt);
}

/* ------------------------------------------------------------------------ */
/* Many-to-one                                                              */
/* ------------------------------------------------------------------------ */

#define M2O_SENDERS 4
#define M2O_PER_SENDER 500000
#define M2O_RUNS 3

typedef struct sink {
    fdn_pid_t main;
    int64_t left;
} sink_t;

typedef struct blaster {
    fdn_pid_t to;
    int64_t count;
} blaster_t;

/* Counts messages; tells main when all have arrived. */
static fdn_next_t sink_handle(fdn_ctx_t *ctx, void *state,
                              const fdn_msg_t *msg)
{
    sink_t *s = state;
    (void)msg;
    if (--s->left == 0) {
        bench_rt_send(ctx, s->main, TAG_DONE, NULL, 0);
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    }
    return FDN_CONTINUE;
}

/* On START, sends its whole share to the sink in one turn, then exits
 * (as the BEAM peer's sender loops over send/2). */
static fdn_next_t blaster_handle(fdn_ctx_t *ctx, void *state,
                                 const fdn_msg_t *msg)
{
    blaster_t *b = state;
    (void)msg;
    for (int64_t i = 0; i < b->count; i++)
        bench_rt_send(ctx, b->to, TAG_MSG, NULL, 0);
    return fdn_stop(ctx, FDN_REASON_NORMAL);
}

static const fdn_behaviour_t sink_behaviour = {
    .init = bench_rt_state_init, .handle = sink_handle, .name = "sink"};
static const fdn_behaviour_t blaster_behaviour = {
    .init = bench_rt_state_init, .handle = blaster_handle, .name = "blaster"};

/* Checks: RT-P3 */
static void bench_many_to_one(void)
{
    fdn_ctx_t *ctx;
    fdn_runtime_t *rt = bench_rt_start(NULL, &ctx);
    uint64_t best = UINT64_MAX;

    for (int run = 0; run < M2O_RUNS; run++) {
        sink_t s = {fdn_self(ctx), (int64_t)M2O_SENDERS * M2O_PER_SENDER};
        blaster_t b[M2O_SENDERS];
        fdn_pid_t sink_pid, senders[M2O_SENDERS];
        uint64_t t0, dt;
        int rc = fdn_spawn(rt, ctx, &sink_behaviour, &s, NULL, &sink_pid);
        if (rc != FDN_OK)
            bench_fail("fdn_spawn sink", rc);
        for (int i = 0; i < M2O_SENDERS; i++) {
            b[i].to = sink_pid;
            b[i].count = M2O_PER_SENDER;
            rc = fdn_spawn(rt, ctx, &blaster_behaviour, &b[i], NULL,
                           &senders[i]);
            if (rc != FDN_OK)
                bench_fail("fdn_spawn sender", rc);
        }
        t0 = bench_now_ns();
        for (int i = 0; i < M2O_SENDERS; i++)
            bench_rt_send(ctx, senders[i], TAG_START, NULL, 0);
        fdn_msg_free(ctx, bench_rt_receive(ctx));
        dt = bench_now_ns() - t0;
        if (dt < best)
            best = dt;
        bench_rt_wait_quiescent(rt);
    }
    bench_result("rt_many_to_one_rate",
                 (double)M2O_SENDERS * M2O_PER_SENDER / ((double)best / 1e9),
                 "msg/s");
    fdn_detach(ctx);
    fdn_runtime_destroy(rt);
}

/* ------------------------------------------------------------------------ */
/* Idle process memory                                                      */
/* ------------------------------------------------------------------------ */

#define IDLE_N 100000

static fdn_next_t idle_handle(fdn_ctx_t *ctx, void *state,
                              const fdn_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    return FDN_CONTINUE;
}

static const fdn_behaviour_t idle_behaviour = {.handle = idle_handle,
                                               .name = "idle"};

/* Spawns n idle processes from the main thread, failing on any error. */
static fdn_pid_t *spawn_idle(fdn_runtime_t *rt, fdn_ctx_t *ctx, size_t n)
{
    fdn_pid_t *pids = malloc(n * sizeof *pids);
    if (pids == NULL)
        bench_fail("malloc", FDN_ENOMEM);
    for (size_t i = 0; i < n; i++) {
        int rc = fdn_spawn(rt, ctx, &idle_behaviour, NULL, NULL, &pids[i]);
        if (rc != FDN_OK)
            bench_fail("fdn_spawn idle", rc);
    }
    return pids;
}

#define IDLE_CPU_PROCS 4
#define IDLE_CPU_TIMER_NS (3600 * FDN_NS_PER_S)
#define IDLE_CPU_SETTLE_NS (500 * FDN_NS_PER_MS)
#define IDLE_CPU_MEASURE_NS (2 * FDN_NS_PER_S)

/* The CPU an idle runtime burns: a fresh runtime (2 schedulers), a few idle
 * processes and a timer an hour away, left to settle, then the CPU time of
 * the whole process over 2 s of wall time while main waits in
 * fdn_receive.  Reported as a percentage of one CPU, from getrusage and,
 * as a cross check, from /proc/self/stat.
 * Checks: RT-P8 */
static void idle_cpu(void)
{
    fdn_ctx_t *ctx;
    fdn_runtime_t *rt = bench_rt_start(NULL, &ctx);
    fdn_pid_t *pids = spawn_idle(rt, ctx, IDLE_CPU_PROCS);
    fdn_msg_t *msg = NULL;
    fdn_ref_t timer;
    uint64_t c0, s0, t0, c1, s1, t1;
    int rc = fdn_send_after(rt, ctx, pids[0], IDLE_CPU_TIMER_NS, TAG_MSG, NULL,
                            0, &timer);
    if (rc != FDN_OK)
        bench_fail("fdn_send_after", rc);
    rc = fdn_receive(ctx, IDLE_CPU_SETTLE_NS, &msg);
    if (rc != FDN_ETIMEDOUT)
        bench_fail("idle: settling receive", rc);
    c0 = bench_cpu_ns();
    s0 = bench_proc_stat_cpu_ns();
    t0 = bench_now_ns();
    rc = fdn_receive(ctx, IDLE_CPU_MEASURE_NS, &msg);
    c1 = bench_cpu_ns();
    s1 = bench_proc_stat_cpu_ns();
    t1 = bench_now_ns();
    if (rc != FDN_ETIMEDOUT)
        bench_fail("idle: measuring receive", rc);
    bench_result("rt_idle_cpu_pct", 100.0 * (double)(c1 - c0) / (double)(t1 - t0),
                 "%");
    bench_result("rt_idle_cpu_pct_procstat",
                 100.0 * (double)(s1 - s0) / (double)(t1 - t0), "%");
    if (fdn_cancel_timer(rt, timer) != FDN_OK)
        bench_fail("idle: the far timer fired", -1);
    free(pids);
    fdn_detach(ctx);
    fdn_runtime_destroy(rt);
}

/* Checks: RT-P4, RT-I4 */
static void bench_idle(void)
{
    fdn_ctx_t *ctx;
    fdn_runtime_t *rt = bench_rt_start(&bench_counting, &ctx);
    int64_t rss0, rss1, heap0, heap1;
    fdn_runtime_stats_t st;
    fdn_pid_t *pids;

    rss0 = bench_rss_bytes();
    heap0 = bench_counted_bytes();
    pids = spawn_idle(rt, ctx, IDLE_N);
    heap1 = bench_counted_bytes();
    rss1 = bench_rss_bytes();
    fdn_runtime_stats(rt, &st);
    if (fdn_runtime_process_count(rt) != IDLE_N + 1)
        bench_fail("idle process count", -1);
    bench_result("rt_idle_bytes_rss", (double)(rss1 - rss0) / IDLE_N,
                 "B/proc");
    bench_result("rt_idle_bytes_heap", (double)(heap1 - heap0) / IDLE_N,
                 "B/proc");
    bench_result("rt_idle_table_slots", (double)st.table_slots, "slots");
    free(pids);
    fdn_detach(ctx);
    fdn_runtime_destroy(rt);
    idle_cpu();
}

/* ------------------------------------------------------------------------ */
/* fdn_alive cost                                                           */
/* ------------------------------------------------------------------------ */

#define ALIVE_CALLS 20000000

/* Nanoseconds per fdn_alive on random live pids among n. */
static double alive_ns(fdn_runtime_t *rt, const fdn_pid_t *pids, uint32_t n)
{
    uint64_t seed = 0x9e3779b97f4a7c15u, t0;
    uint64_t alive = 0;
    t0 = bench_now_ns();
    for (int i = 0; i < ALIVE_CALLS; i++)
        alive += fdn_alive(rt, pids[bench_rand_below(&seed, n)]);
    t0 = bench_now_ns() - t0;
    if (alive != ALIVE_CALLS)
        bench_fail("fdn_alive on a live pid", -1);
    return (double)t0 / ALIVE_CALLS;
}

/* Checks: RT-P5 */
static void bench_alive(void)
{
    fdn_ctx_t *ctx;
    fdn_runtime_t *rt = bench_rt_start(NULL, &ctx);
    fdn_pid_t *small = spawn_idle(rt, ctx, 1000);
    fdn_pid_t *large;
    double ns_small = alive_ns(rt, small, 1000), ns_large;

    large = spawn_idle(rt, ctx, 1000000 - 1000);
    /* Random pids among all 1,000,000 live processes. */
    large = realloc(large, 1000000 * sizeof *large);
    if (large == NULL)
        bench_fail("realloc", FDN_ENOMEM);
    memcpy(large + (1000000 - 1000), small, 1000 * sizeof *small);
    ns_large = alive_ns(rt, large, 1000000);
    bench_result("rt_alive_ns_1k", ns_small, "ns");
    bench_result("rt_alive_ns_1m", ns_large, "ns");
    free(small);
    free(large);
    fdn_detach(ctx);
    fdn_runtime_destroy(rt);
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "";
    if (strcmp(w, "skynet") == 0)
        bench_skynet();
    else if (strcmp(w, "pingpong") == 0)
        bench_pingpong();
    else if (strcmp(w, "many_to_one") == 0)
        bench_many_to_one();
    else if (strcmp(w, "idle") == 0)
        bench_idle();
    else if (strcmp(w, "alive") == 0)
        bench_alive();
    else {
        fprintf(stderr,
                "usage: bench_runtime skynet|pingpong|many_to_one|idle|alive\n");
        return 2;
    }
    return 0;
}
