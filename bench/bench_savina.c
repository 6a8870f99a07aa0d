/*
 * bench/bench_savina.c — a subset of the Savina actor benchmarks on the
 * process runtime: counting, fork-join throughput, thread ring, chameneos
 * and big.  Each workload mirrors one in bench/peers/savina.exs (the BEAM)
 * and bench/peers/caf/savina.cpp (CAF), with the same parameters, and
 * prints RESULT lines that scripts/bench.sh puts side by side.
 *
 * Usage: bench_savina counting|fjthrput|threadring|chameneos|big
 *
 * Every workload runs SAVINA_RUNS times and reports its best run: a rate
 * and the wall time, measured on the attached main thread from the message
 * that starts the work until the message that says it is done.  Every
 * workload checks its result (counts, sums, hop totals, meeting counts)
 * and exits non-zero when it is wrong.
 */
#include "bench_rt.h"

#include <math.h>
#include <stdbool.h>

#define SAVINA_RUNS 3

enum {
    TAG_START = 1, /* begin (producer, ring head, mall, chameneo, big) */
    TAG_DONE,      /* to main: finished, with the workload's result */
    TAG_INC,       /* counting: one increment */
    TAG_GET,       /* counting: ask for the total */
    TAG_TOTAL,     /* counting: the total */
    TAG_WORK,      /* fork-join: one message (its round number) */
    TAG_NEXT,      /* thread ring: your successor's pid */
    TAG_TOKEN,     /* thread ring: the token (hops left) */
    TAG_STOP,      /* thread ring, big: report and exit */
    TAG_COUNT,     /* thread ring, chameneos: a member's count */
    TAG_MEET,      /* chameneos: a meeting request / the partner's */
    TAG_CHANGE,    /* chameneos: the colour after a meeting */
    TAG_EXIT,      /* chameneos: the mall is closed; big: a worker is done */
    TAG_PING,      /* big */
    TAG_PONG       /* big */
};

/* Reports a run set: the best wall time and the rate of `ops` operations
 * over it. */
static void report(const char *name, uint64_t best_ns, double ops,
                   const char *unit)
{
    char metric[64];
    snprintf(metric, sizeof metric, "sv_%s_rate", name);
    bench_result(metric, ops / ((double)best_ns / 1e9), unit);
    snprintf(metric, sizeof metric, "sv_%s_wall", name);
    bench_result(metric, (double)best_ns / 1e6, "ms");
}

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "bench_savina: check failed: %s\n", what);
        exit(1);
    }
}

/* ------------------------------------------------------------------------ */
/* Counting: one producer sends N increments to a counter, then asks for    */
/* the total.                                                               */
/* ------------------------------------------------------------------------ */

#define COUNTING_N 1000000

typedef struct counter {
    int64_t count;
} counter_t;

typedef struct producer {
    fdn_pid_t counter;
    fdn_pid_t main;
    int64_t n;
} producer_t;

static fdn_next_t counter_handle(fdn_ctx_t *ctx, void *state,
                                 const fdn_msg_t *msg)
{
    counter_t *c = state;
    if (msg->tag == TAG_INC) {
        c->count++;
        return FDN_CONTINUE;
    }
    bench_rt_send(ctx, msg->from, TAG_TOTAL, &c->count, sizeof c->count);
    return fdn_stop(ctx, FDN_REASON_NORMAL);
}

/* On START sends all N increments in one turn (as Savina's producer loops
 * over its sends), then GET; on TOTAL forwards the total to main. */
static fdn_next_t producer_handle(fdn_ctx_t *ctx, void *state,
                                  const fdn_msg_t *msg)
{
    producer_t *p = state;
    if (msg->tag == TAG_START) {
        for (int64_t i = 0; i < p->n; i++)
            bench_rt_send(ctx, p->counter, TAG_INC, NULL, 0);
        bench_rt_send(ctx, p->counter, TAG_GET, NULL, 0);
        return FDN_CONTINUE;
    }
    bench_rt_send(ctx, p->main, TAG_DONE, msg->data, msg->size);
    return fdn_stop(ctx, FDN_REASON_NORMAL);
}

static const fdn_behaviour_t counter_behaviour = {
    .init = bench_rt_state_init, .handle = counter_handle, .name = "counter"};
static const fdn_behaviour_t producer_behaviour = {
    .init = bench_rt_state_init, .handle = producer_handle, .name = "producer"};

/* Checks: RT-P6, RT-P7 */
static void bench_counting(void)
{
    fdn_ctx_t *ctx;
    fdn_runtime_t *rt = bench_rt_start(NULL, &ctx);
    uint64_t best = UINT64_MAX;

    for (int run = 0; run < SAVINA_RUNS; run++) {
        counter_t c = {0};
        producer_t p = {0, fdn_self(ctx), COUNTING_N};
        int64_t total;
        uint64_t t0, dt;
        p.counter = bench_rt_spawn(rt, ctx, &counter_behaviour, &c);
        fdn_pid_t prod = bench_rt_spawn(rt, ctx, &producer_behaviour, &p);
        t0 = bench_now_ns();
        bench_rt_send(ctx, prod, TAG_START, NULL, 0);
        bench_rt_expect(ctx, TAG_DONE, &total, sizeof total);
        dt = bench_now_ns() - t0;
        check(total == COUNTING_N, "counting: total == N");
        if (dt < best)
            best = dt;
        bench_rt_wait_quiescent(rt);
    }
    report("counting", best, COUNTING_N, "msg/s");
    bench_rt_stop(rt, ctx);
}

/* ------------------------------------------------------------------------ */
/* Fork-join throughput: K workers, each sent M messages round robin; each  */
/* message costs a tiny computation.                                        */
/* ------------------------------------------------------------------------ */

#define FJ_WORKERS 60
#define FJ_MESSAGES 20000

typedef struct fj_worker {
    fdn_pid_t main;
    int64_t count;
    int64_t sum; /* of the round numbers received: checks no loss */
    double acc;  /* of the computation, so it cannot be optimised away */
} fj_worker_t;

typedef struct fj_report {
    int64_t count;
    int64_t sum;
    double acc;
} fj_report_t;

typedef struct fj_producer {
    const fdn_pid_t *workers;
    int64_t rounds;
} fj_producer_t;

/* Savina's computation is sin(37.2)^2; the angle here moves with the
 * round number so that no side can fold it into a constant. */
static double fj_compute(int64_t round)
{
    double s = sin(37.2 + 1e-6 * (double)round);
    return s * s;
}

static fdn_next_t fj_worker_handle(fdn_ctx_t *ctx, void *state,
                                   const fdn_msg_t *msg)
{
    fj_worker_t *w = state;
    int64_t round;
    memcpy(&round, msg->data, sizeof round);
    w->acc += fj_compute(round);
    w->sum += round;
    if (++w->count == FJ_MESSAGES) {
        fj_report_t r = {w->count, w->sum, w->acc};
        bench_rt_send(ctx, w->main, TAG_DONE, &r, sizeof r);
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    }
    return FDN_CONTINUE;
}

/* On START sends round r to every worker in turn, for r = 0..M-1. */
static fdn_next_t fj_producer_handle(fdn_ctx_t *ctx, void *state,
                                     const fdn_msg_t *msg)
{
    fj_producer_t *p = state;
    (void)msg;
    for (int64_t r = 0; r < p->rounds; r++)
        for (int k = 0; k < FJ_WORKERS; k++)
            bench_rt_send(ctx, p->workers[k], TAG_WORK, &r, sizeof r);
    return fdn_stop(ctx, FDN_REASON_NORMAL);
}

static const fdn_behaviour_t fj_worker_behaviour = {
    .init = bench_rt_state_init, .handle = fj_worker_handle, .name = "fj"};
static const fdn_behaviour_t fj_producer_behaviour = {
    .init = bench_rt_state_init, .handle = fj_producer_handle,
    .name = "fj_producer"};

/* Checks: RT-P6, RT-P7 */
static void bench_fjthrput(void)
{
    fdn_ctx_t *ctx;
    fdn_runtime_t *rt = bench_rt_start(NULL, &ctx);
    uint64_t best = UINT64_MAX;
    const int64_t expect_sum =
        (int64_t)FJ_MESSAGES * (FJ_MESSAGES - 1) / 2;

    for (int run = 0; run < SAVINA_RUNS; run++) {
        fj_worker_t w[FJ_WORKERS];
        fdn_pid_t pids[FJ_WORKERS];
        fj_producer_t p = {pids, FJ_MESSAGES};
        uint64_t t0, dt;
        for (int k = 0; k < FJ_WORKERS; k++) {
            w[k] = (fj_worker_t){fdn_self(ctx), 0, 0, 0.0};
            pids[k] = bench_rt_spawn(rt, ctx, &fj_worker_behaviour, &w[k]);
        }
        fdn_pid_t prod = bench_rt_spawn(rt, ctx, &fj_producer_behaviour, &p);
        t0 = bench_now_ns();
        bench_rt_send(ctx, prod, TAG_START, NULL, 0);
        for (int k = 0; k < FJ_WORKERS; k++) {
            fj_report_t r;
            bench_rt_expect(ctx, TAG_DONE, &r, sizeof r);
            check(r.count == FJ_MESSAGES, "fjthrput: count == M");
            check(r.sum == expect_sum, "fjthrput: sum of rounds");
            check(r.acc > 0 && r.acc <= FJ_MESSAGES, "fjthrput: computation");
        }
        dt = bench_now_ns() - t0;
        if (dt < best)
            best = dt;
        bench_rt_wait_quiescent(rt);
    }
    report("fjthrput", best, (double)FJ_WORKERS * FJ_MESSAGES, "msg/s");
    bench_rt_stop(rt, ctx);
}

/* ------------------------------------------------------------------------ */
/* Thread ring: N processes in a ring pass a token T hops.                  */
/* ------------------------------------------------------------------------ */

#define RING_N 100
#define RING_HOPS 1000000

typedef struct ring_node {
    fdn_pid_t next;
    fdn_pid_t main;
    int64_t index;
    int64_t count; /* tokens received */
} ring_node_t;

static fdn_next_t ring_handle(fdn_ctx_t *ctx, void *state,
                              const fdn_msg_t *msg)
{
    ring_node_t *n = state;
    int64_t hops;
    switch (msg->tag) {
    case TAG_TOKEN:
        memcpy(&hops, msg->data, sizeof hops);
        n->count++;
        if (hops == 0)
            bench_rt_send(ctx, n->main, TAG_DONE, &n->index, sizeof n->index);
        else {
            hops--;
            bench_rt_send(ctx, n->next, TAG_TOKEN, &hops, sizeof hops);
        }
        return FDN_CONTINUE;
    case TAG_NEXT:
        memcpy(&n->next, msg->data, sizeof n->next);
        return FDN_CONTINUE;
    default: /* TAG_STOP */
        bench_rt_send(ctx, n->main, TAG_COUNT, &n->count, sizeof n->count);
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    }
}

static const fdn_behaviour_t ring_behaviour = {
    .init = bench_rt_state_init, .handle = ring_handle, .name = "ring"};

/* Checks: RT-P6, RT-P7 */
static void bench_threadring(void)
{
    fdn_ctx_t *ctx;
    fdn_runtime_t *rt = bench_rt_start(NULL, &ctx);
    uint64_t best = UINT64_MAX;

    for (int run = 0; run < SAVINA_RUNS; run++) {
        ring_node_t nodes[RING_N];
        fdn_pid_t pids[RING_N];
        int64_t hops = RING_HOPS, last, total = 0;
        uint64_t t0, dt;
        for (int i = 0; i < RING_N; i++) {
            nodes[i] = (ring_node_t){FDN_PID_NONE, fdn_self(ctx), i, 0};
            pids[i] = bench_rt_spawn(rt, ctx, &ring_behaviour, &nodes[i]);
        }
        for (int i = 0; i < RING_N; i++)
            bench_rt_send(ctx, pids[i], TAG_NEXT, &pids[(i + 1) % RING_N],
                          sizeof(fdn_pid_t));
        t0 = bench_now_ns();
        bench_rt_send(ctx, pids[0], TAG_TOKEN, &hops, sizeof hops);
        bench_rt_expect(ctx, TAG_DONE, &last, sizeof last);
        dt = bench_now_ns() - t0;
        check(last == RING_HOPS % RING_N, "threadring: the last holder");
        for (int i = 0; i < RING_N; i++)
            bench_rt_send(ctx, pids[i], TAG_STOP, NULL, 0);
        for (int i = 0; i < RING_N; i++) {
            int64_t c;
            bench_rt_expect(ctx, TAG_COUNT, &c, sizeof c);
            total += c;
        }
        /* The token is received T + 1 times: values T down to 0. */
        check(total == RING_HOPS + 1, "threadring: hop total");
        if (dt < best)
            best = dt;
        bench_rt_wait_quiescent(rt);
    }
    report("threadring", best, RING_HOPS, "hop/s");
    bench_rt_stop(rt, ctx);
}

/* ------------------------------------------------------------------------ */
/* Chameneos: a mall pairs C chameneos for M meetings.                      */
/* ------------------------------------------------------------------------ */

#define CHAM_C 100
#define CHAM_M 200000

enum { RED = 0, YELLOW = 1, BLUE = 2, FADED = 3 };

/* Savina's colour rule: two of the same colour keep it; two different
 * colours both become the third. */
static int64_t complement(int64_t a, int64_t b)
{
    return a == b ? a : 3 - a - b;
}

/* MEET and CHANGE carry the sender's colour and pid, since the mall
 * forwards a MEET to the partner (msg->from is then the mall). */
typedef struct cham_msg {
    int64_t colour;
    fdn_pid_t who;
} cham_msg_t;

typedef struct chameneo {
    fdn_pid_t mall;
    int64_t colour;
    int64_t meetings;
} chameneo_t;

typedef struct mall {
    fdn_pid_t main;
    int64_t left;         /* meetings still to arrange */
    fdn_pid_t waiting;    /* a chameneo waiting for a partner, or NONE */
    int64_t sum;          /* meetings reported by faded chameneos */
    int64_t faded;
    chameneo_t cham[CHAM_C];
} mall_t;

static void cham_meet(fdn_ctx_t *ctx, chameneo_t *c)
{
    cham_msg_t m = {c->colour, fdn_self(ctx)};
    bench_rt_send(ctx, c->mall, TAG_MEET, &m, sizeof m);
}

static fdn_next_t chameneo_handle(fdn_ctx_t *ctx, void *state,
                                  const fdn_msg_t *msg)
{
    chameneo_t *c = state;
    cham_msg_t m;
    switch (msg->tag) {
    case TAG_START:
        cham_meet(ctx, c);
        return FDN_CONTINUE;
    case TAG_MEET: { /* the mall paired us with m.who */
        memcpy(&m, msg->data, sizeof m);
        check(m.colour >= RED && m.colour <= BLUE, "chameneos: colour");
        c->colour = complement(c->colour, m.colour);
        c->meetings++;
        cham_msg_t change = {c->colour, fdn_self(ctx)};
        bench_rt_send(ctx, m.who, TAG_CHANGE, &change, sizeof change);
        cham_meet(ctx, c);
        return FDN_CONTINUE;
    }
    case TAG_CHANGE:
        memcpy(&m, msg->data, sizeof m);
        check(m.colour >= RED && m.colour <= BLUE, "chameneos: colour");
        c->colour = m.colour;
        c->meetings++;
        cham_meet(ctx, c);
        return FDN_CONTINUE;
    default: /* TAG_EXIT */
        c->colour = FADED;
        bench_rt_send(ctx, c->mall, TAG_COUNT, &c->meetings,
                      sizeof c->meetings);
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    }
}

static const fdn_behaviour_t chameneo_behaviour = {
    .init = bench_rt_state_init, .handle = chameneo_handle,
    .name = "chameneo"};

static fdn_next_t mall_handle(fdn_ctx_t *ctx, void *state,
                              const fdn_msg_t *msg)
{
    mall_t *mall = state;
    switch (msg->tag) {
    case TAG_START: /* the mall creates its chameneos, as in Savina */
        for (int i = 0; i < CHAM_C; i++) {
            mall->cham[i] = (chameneo_t){fdn_self(ctx), i % 3, 0};
            fdn_pid_t pid =
                bench_rt_spawn(NULL, ctx, &chameneo_behaviour, &mall->cham[i]);
            bench_rt_send(ctx, pid, TAG_START, NULL, 0);
        }
        return FDN_CONTINUE;
    case TAG_MEET: {
        cham_msg_t m;
        memcpy(&m, msg->data, sizeof m);
        if (mall->left == 0)
            bench_rt_send(ctx, m.who, TAG_EXIT, NULL, 0);
        else if (mall->waiting == FDN_PID_NONE)
            mall->waiting = m.who;
        else {
            mall->left--;
            bench_rt_send(ctx, mall->waiting, TAG_MEET, &m, sizeof m);
            mall->waiting = FDN_PID_NONE;
        }
        return FDN_CONTINUE;
    }
    default: { /* TAG_COUNT */
        int64_t n;
        memcpy(&n, msg->data, sizeof n);
        mall->sum += n;
        if (++mall->faded == CHAM_C) {
            bench_rt_send(ctx, mall->main, TAG_DONE, &mall->sum,
                          sizeof mall->sum);
            return fdn_stop(ctx, FDN_REASON_NORMAL);
        }
        return FDN_CONTINUE;
    }
    }
}

static const fdn_behaviour_t mall_behaviour = {
    .init = bench_rt_state_init, .handle = mall_handle, .name = "mall"};

/* Checks: RT-P6, RT-P7 */
static void bench_chameneos(void)
{
    fdn_ctx_t *ctx;
    fdn_runtime_t *rt = bench_rt_start(NULL, &ctx);
    uint64_t best = UINT64_MAX;
    mall_t *mall = malloc(sizeof *mall);
    if (mall == NULL)
        bench_fail("malloc", FDN_ENOMEM);

    for (int run = 0; run < SAVINA_RUNS; run++) {
        int64_t sum;
        uint64_t t0, dt;
        mall->main = fdn_self(ctx);
        mall->left = CHAM_M;
        mall->waiting = FDN_PID_NONE;
        mall->sum = 0;
        mall->faded = 0;
        fdn_pid_t pid = bench_rt_spawn(rt, ctx, &mall_behaviour, mall);
        t0 = bench_now_ns();
        bench_rt_send(ctx, pid, TAG_START, NULL, 0);
        bench_rt_expect(ctx, TAG_DONE, &sum, sizeof sum);
        dt = bench_now_ns() - t0;
        /* Each meeting counts once for each of its two chameneos. */
        check(sum == 2 * (int64_t)CHAM_M, "chameneos: meetings");
        if (dt < best)
            best = dt;
        bench_rt_wait_quiescent(rt);
    }
    free(mall);
    report("chameneos", best, CHAM_M, "meeting/s");
    bench_rt_stop(rt, ctx);
}

/* ------------------------------------------------------------------------ */
/* Big: N workers each send P pings to random peers and answer pongs; a     */
/* sink counts the workers that finished.                                   */
/* ------------------------------------------------------------------------ */

#define BIG_N 120
#define BIG_P 20000

typedef struct big_worker {
    const fdn_pid_t *peers; /* all N workers; written before START */
    fdn_pid_t sink;
    int64_t id;
    int64_t pings;    /* pings sent */
    int64_t pongs;    /* pongs received */
    int64_t expected; /* whom the outstanding ping went to */
    uint64_t rng;
} big_worker_t;

typedef struct big_sink {
    fdn_pid_t main;
    int64_t done;
    int64_t pongs;
} big_sink_t;

static void big_ping(fdn_ctx_t *ctx, big_worker_t *w)
{
    uint32_t target = bench_rand_below(&w->rng, BIG_N);
    w->expected = target;
    w->pings++;
    bench_rt_send(ctx, w->peers[target], TAG_PING, &w->id, sizeof w->id);
}

static fdn_next_t big_worker_handle(fdn_ctx_t *ctx, void *state,
                                    const fdn_msg_t *msg)
{
    big_worker_t *w = state;
    int64_t who;
    switch (msg->tag) {
    case TAG_PING:
        bench_rt_send(ctx, msg->from, TAG_PONG, &w->id, sizeof w->id);
        return FDN_CONTINUE;
    case TAG_PONG:
        memcpy(&who, msg->data, sizeof who);
        check(who == w->expected, "big: pong from the pinged peer");
        if (++w->pongs == BIG_P)
            bench_rt_send(ctx, w->sink, TAG_EXIT, &w->pongs, sizeof w->pongs);
        else
            big_ping(ctx, w);
        return FDN_CONTINUE;
    case TAG_START:
        big_ping(ctx, w);
        return FDN_CONTINUE;
    default: /* TAG_STOP */
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    }
}

static fdn_next_t big_sink_handle(fdn_ctx_t *ctx, void *state,
                                  const fdn_msg_t *msg)
{
    big_sink_t *s = state;
    int64_t pongs;
    memcpy(&pongs, msg->data, sizeof pongs);
    s->pongs += pongs;
    if (++s->done == BIG_N) {
        bench_rt_send(ctx, s->main, TAG_DONE, &s->pongs, sizeof s->pongs);
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    }
    return FDN_CONTINUE;
}

static const fdn_behaviour_t big_worker_behaviour = {
    .init = bench_rt_state_init, .handle = big_worker_handle, .name = "big"};
static const fdn_behaviour_t big_sink_behaviour = {
    .init = bench_rt_state_init, .handle = big_sink_handle, .name = "sink"};

/* Checks: RT-P6, RT-P7 */
static void bench_big(void)
{
    fdn_ctx_t *ctx;
    fdn_runtime_t *rt = bench_rt_start(NULL, &ctx);
    uint64_t best = UINT64_MAX;

    for (int run = 0; run < SAVINA_RUNS; run++) {
        big_worker_t w[BIG_N];
        fdn_pid_t pids[BIG_N];
        big_sink_t s = {fdn_self(ctx), 0, 0};
        int64_t pongs;
        uint64_t t0, dt;
        fdn_pid_t sink = bench_rt_spawn(rt, ctx, &big_sink_behaviour, &s);
        for (int i = 0; i < BIG_N; i++) {
            w[i] = (big_worker_t){pids, sink, i, 0, 0, -1,
                                  UINT64_C(0x9e3779b97f4a7c15) * (uint64_t)(i + 1)};
            pids[i] = bench_rt_spawn(rt, ctx, &big_worker_behaviour, &w[i]);
        }
        /* pids[] is complete before any START is sent; the sends order
         * these writes before every worker's first read of peers. */
        t0 = bench_now_ns();
        for (int i = 0; i < BIG_N; i++)
            bench_rt_send(ctx, pids[i], TAG_START, NULL, 0);
        bench_rt_expect(ctx, TAG_DONE, &pongs, sizeof pongs);
        dt = bench_now_ns() - t0;
        check(pongs == (int64_t)BIG_N * BIG_P, "big: pongs received");
        for (int i = 0; i < BIG_N; i++) {
            check(w[i].pings == BIG_P, "big: pings sent");
            bench_rt_send(ctx, pids[i], TAG_STOP, NULL, 0);
        }
        if (dt < best)
            best = dt;
        bench_rt_wait_quiescent(rt);
    }
    /* Every ping is answered by a pong: 2 N P messages. */
    report("big", best, 2.0 * BIG_N * BIG_P, "msg/s");
    bench_rt_stop(rt, ctx);
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "";
    if (strcmp(w, "counting") == 0)
        bench_counting();
    else if (strcmp(w, "fjthrput") == 0)
        bench_fjthrput();
    else if (strcmp(w, "threadring") == 0)
        bench_threadring();
    else if (strcmp(w, "chameneos") == 0)
        bench_chameneos();
    else if (strcmp(w, "big") == 0)
        bench_big();
    else {
        fprintf(stderr, "usage: bench_savina "
                        "counting|fjthrput|threadring|chameneos|big\n");
        return 2;
    }
    return 0;
}
