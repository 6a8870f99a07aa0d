/*
 * replay.c — runtime unit tests: deterministic runtimes.  The same program
 * with the same seed makes the same handler calls in the same order; other
 * seeds explore other orders; time moves only when nothing is ready.
 */
#include <criterion/criterion.h>
#include <foundation/runtime.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { T_GO = 1, T_NOTE = 2, T_ORDER = 3, T_POKE = 4, T_TICK = 5, T_ARM = 6 };

#define RACERS 6
#define NOTES 5
#define TOTAL (RACERS * NOTES)

/* ---- the program under test ------------------------------------------ */

struct recorder {
    fdn_pid_t driver;
    uint32_t n;
    uint16_t order[TOTAL]; /* id << 8 | seq, in arrival order */
};

static fdn_next_t recorder_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    *state = arg;
    return FDN_CONTINUE;
}

static fdn_next_t recorder_handle(fdn_ctx_t *ctx, void *state,
                                  const fdn_msg_t *m)
{
    struct recorder *r = state;
    if (m->kind == FDN_MSG_USER && m->tag == T_NOTE && r->n < TOTAL) {
        uint16_t v;
        memcpy(&v, m->data, sizeof v);
        r->order[r->n++] = v;
        if (r->n == TOTAL)
            fdn_send(ctx, r->driver, T_ORDER, r->order, sizeof r->order);
    }
    return FDN_CONTINUE;
}
static const fdn_behaviour_t recorder_b = {
    .init = recorder_init, .handle = recorder_handle, .name = "recorder"};

struct racer {
    uint8_t id;
    uint8_t seq;
    fdn_pid_t recorder;
    fdn_pid_t next; /* another racer it pokes between notes */
};

static fdn_next_t racer_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    *state = arg;
    return FDN_CONTINUE;
}

/* On GO or POKE: write one note to the recorder (until NOTES) and poke the
 * next racer, so the order of notes depends on who runs when. */
static fdn_next_t racer_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    struct racer *r = state;
    if (m->kind == FDN_MSG_USER && (m->tag == T_GO || m->tag == T_POKE) &&
        r->seq < NOTES) {
        uint16_t v = (uint16_t)(r->id << 8 | r->seq++);
        fdn_send(ctx, r->recorder, T_NOTE, &v, sizeof v);
        fdn_send(ctx, r->next, T_POKE, NULL, 0);
        fdn_send(ctx, fdn_self(ctx), T_POKE, NULL, 0);
    }
    return FDN_CONTINUE;
}
static const fdn_behaviour_t racer_b = {
    .init = racer_init, .handle = racer_handle, .name = "racer"};

struct run {
    uint64_t seed;
    uint64_t digest;
    uint16_t order[TOTAL];
};

static fdn_runtime_t *det_runtime(uint64_t seed)
{
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.deterministic = true;
    o.seed = seed;
    fdn_runtime_t *rt;
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    return rt;
}

/* Runs the racers program once on a fresh deterministic runtime. */
static struct run run_racers(uint64_t seed)
{
    fdn_runtime_t *rt = det_runtime(seed);
    fdn_ctx_t *me;
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
    static struct recorder rec;
    static struct racer racers[RACERS];
    memset(&rec, 0, sizeof rec);
    rec.driver = fdn_self(me);
    fdn_pid_t rp, pids[RACERS];
    cr_assert_eq(fdn_spawn(rt, NULL, &recorder_b, &rec, NULL, &rp), FDN_OK);
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (struct racer){.id = (uint8_t)i, .recorder = rp};
        cr_assert_eq(fdn_spawn(rt, NULL, &racer_b, &racers[i], NULL, &pids[i]),
                     FDN_OK);
    }
    for (int i = 0; i < RACERS; i++)
        racers[i].next = pids[(i + 1) % RACERS];
    for (int i = 0; i < RACERS; i++)
        cr_assert_eq(fdn_send(me, pids[i], T_GO, NULL, 0), FDN_OK);
    /* This thread is the scheduler while it waits. */
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, FDN_INFINITY, &m), FDN_OK);
    cr_assert_eq(m->tag, T_ORDER);
    struct run r = {.seed = fdn_runtime_seed(rt)};
    memcpy(r.order, m->data, sizeof r.order);
    fdn_msg_free(me, m);
    /* Let the pokes die down, so the digest covers the whole run. */
    uint64_t turns;
    cr_assert_eq(fdn_runtime_run(rt, 0, &turns), FDN_OK);
    r.digest = fdn_runtime_trace_digest(rt);
    cr_assert_neq(r.digest, 0);
    fdn_detach(me);
    fdn_runtime_destroy(rt);
    return r;
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Checks: RT-C15, RT-S13 */
Test(replay, same_seed_same_run_other_seeds_other_runs)
{
    struct run a = run_racers(42), b = run_racers(42);
    cr_assert_eq(a.seed, 42);
    cr_assert_eq(memcmp(a.order, b.order, sizeof a.order), 0,
                 "seed 42 replayed a different order");
    cr_assert_eq(a.digest, b.digest);
    /* Every note arrived exactly once, whatever the order. */
    uint16_t sorted[TOTAL];
    memcpy(sorted, a.order, sizeof sorted);
    qsort(sorted, TOTAL, sizeof sorted[0], cmp_u16);
    for (int i = 0; i < RACERS; i++)
        for (int j = 0; j < NOTES; j++)
            cr_assert_eq(sorted[i * NOTES + j], (uint16_t)(i << 8 | j));
    /* Other seeds explore other orders. */
    int distinct = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct run c = run_racers(seed);
        cr_assert_eq(c.seed, seed);
        if (memcmp(c.order, a.order, sizeof a.order) != 0) {
            distinct++;
            cr_assert_neq(c.digest, a.digest);
        }
    }
    cr_log_info("20 other seeds: %d orders differ from seed 42's", distinct);
    cr_assert_geq(distinct, 15);
}

/* Checks: RT-C16 */
Test(replay, seed_is_reported_and_fdn_seed_overrides_it)
{
    unsetenv("FDN_SEED");
    struct run a = run_racers(0);
    cr_assert_neq(a.seed, 0, "a seed is picked and reported");
    struct run b = run_racers(a.seed);
    cr_assert_eq(b.digest, a.digest, "the reported seed replays the run");
    cr_assert_eq(setenv("FDN_SEED", "0x1234", 1), 0);
    struct run c = run_racers(99);
    cr_assert_eq(c.seed, 0x1234, "FDN_SEED overrides opts.seed");
    struct run d = run_racers(0x1234);
    unsetenv("FDN_SEED");
    cr_assert_eq(c.digest, d.digest);
    /* Not deterministic: no seed, no digest, no fdn_runtime_run. */
    fdn_runtime_t *rt;
    cr_assert_eq(fdn_runtime_create(NULL, &rt), FDN_OK);
    cr_assert_eq(fdn_runtime_seed(rt), 0);
    cr_assert_eq(fdn_runtime_trace_digest(rt), 0);
    cr_assert_eq(fdn_runtime_run(rt, 0, NULL), FDN_ENOTSUP);
    fdn_runtime_destroy(rt);
    cr_assert_eq(fdn_runtime_run(NULL, 0, NULL), FDN_EINVAL);
}

/* ---- time ------------------------------------------------------------- */

static fdn_next_t ticker(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    fdn_pid_t *driver = state;
    if (m->kind == FDN_MSG_USER && m->tag == T_ARM) {
        uint64_t delay;
        memcpy(&delay, m->data, sizeof delay);
        fdn_send_after(NULL, ctx, fdn_self(ctx), delay, T_TICK, NULL, 0, NULL);
    } else if (m->kind == FDN_MSG_USER && m->tag == T_TICK) {
        uint64_t now = fdn_clock_now(fdn_runtime_clock(fdn_ctx_runtime(ctx)));
        fdn_send(ctx, *driver, T_TICK, &now, sizeof now);
    }
    return FDN_CONTINUE;
}
static fdn_next_t ticker_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    *state = arg;
    return FDN_CONTINUE;
}
static const fdn_behaviour_t ticker_b = {
    .init = ticker_init, .handle = ticker, .name = "ticker"};

/* Checks: RT-C15, RT-L7 */
Test(replay, time_moves_only_when_nothing_is_ready)
{
    cr_assert_eq(setenv("FDN_SEED", "", 1), 0); /* empty: ignored */
    fdn_runtime_t *rt = det_runtime(7);
    fdn_clock_t *clk = fdn_runtime_clock(rt);
    cr_assert(fdn_clock_is_virtual(clk), "a virtual clock of its own");
    fdn_ctx_t *me;
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
    fdn_pid_t driver = fdn_self(me), t;
    cr_assert_eq(fdn_spawn(rt, NULL, &ticker_b, &driver, NULL, &t), FDN_OK);
    uint64_t t0 = fdn_clock_now(clk);
    uint64_t delay = 3 * FDN_NS_PER_S;
    cr_assert_eq(fdn_send(me, t, T_ARM, &delay, sizeof delay), FDN_OK);
    /* A receive with a shorter timeout: the clock moves to its deadline,
     * not beyond, and the timer has not fired. */
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, FDN_NS_PER_S, &m), FDN_ETIMEDOUT);
    cr_assert_eq(fdn_clock_now(clk), t0 + FDN_NS_PER_S);
    /* Without a deadline: the clock jumps to the timer, exactly. */
    cr_assert_eq(fdn_receive(me, FDN_INFINITY, &m), FDN_OK);
    cr_assert_eq(m->tag, T_TICK);
    uint64_t fired;
    memcpy(&fired, m->data, sizeof fired);
    fdn_msg_free(me, m);
    cr_assert_eq(fired, t0 + delay);
    cr_assert_eq(fdn_clock_now(clk), t0 + delay);
    /* Nothing ready, no timer: a wait without a deadline could never be
     * answered. */
    cr_assert_eq(fdn_receive(me, FDN_INFINITY, &m), FDN_EDEADLK);
    /* A call is driven the same way. */
    cr_assert_eq(fdn_call(me, t, 0, NULL, 0, 5 * FDN_NS_PER_S, &m),
                 FDN_ETIMEDOUT, "the ticker never replies");
    cr_assert_eq(fdn_clock_now(clk), t0 + delay + 5 * FDN_NS_PER_S);
    fdn_detach(me);
    /* Destroy runs the turns in which the ticker dies. */
    fdn_runtime_destroy(rt);
    unsetenv("FDN_SEED");
}

/* Checks: RT-C15, RT-C1 */
Test(replay, run_and_bad_options)
{
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.deterministic = true;
    o.clock = fdn_clock_monotonic();
    fdn_runtime_t *rt;
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_EINVAL,
                 "a real clock cannot be deterministic");
    fdn_clock_t *clk;
    cr_assert_eq(fdn_clock_virtual_create(500, &clk), FDN_OK);
    fdn_failing_allocator_t *fa;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    o.clock = clk;
    o.allocator = fdn_failing_allocator_get(fa);
    o.seed = 5;
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    cr_assert_eq(fdn_runtime_clock(rt), clk, "a given virtual clock is used");
    fdn_runtime_stats_t st;
    fdn_runtime_stats(rt, &st);
    cr_assert_eq(st.schedulers, 1);
    /* From a plain thread: spawn and run, no attached thread at all. */
    static struct recorder rec;
    memset(&rec, 0, sizeof rec);
    fdn_pid_t rp;
    cr_assert_eq(fdn_spawn(rt, NULL, &recorder_b, &rec, NULL, &rp), FDN_OK);
    fdn_ctx_t *me;
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
    for (uint16_t i = 0; i < 10; i++)
        cr_assert_eq(fdn_send(me, rp, T_NOTE, &i, sizeof i), FDN_OK);
    fdn_detach(me);
    uint64_t turns;
    cr_assert_eq(fdn_runtime_run(rt, 3, &turns), FDN_OK);
    cr_assert_eq(turns, 3, "max_turns bounds the run");
    cr_assert_eq(rec.n, 3);
    cr_assert_eq(fdn_runtime_run(rt, 0, &turns), FDN_OK);
    cr_assert_eq(turns, 7);
    cr_assert_eq(rec.n, 10);
    for (uint16_t i = 0; i < 10; i++)
        cr_assert_eq(rec.order[i], i, "one sender, in order (RT-S1)");
    cr_assert_eq(fdn_runtime_run(rt, 0, &turns), FDN_OK);
    cr_assert_eq(turns, 0);
    fdn_runtime_destroy(rt);
    fdn_clock_destroy(clk);
    cr_assert_eq(fdn_failing_allocator_live(fa), 0);
    fdn_failing_allocator_destroy(fa);
}
