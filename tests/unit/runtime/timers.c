/*
 * timers.c — runtime unit tests: fdn_send_after and fdn_cancel_timer on a
 * virtual clock.
 *
 * The runtime clock is virtual, so a timer can only fire when the test
 * advances it.  Receive timeouts use the real monotonic clock, so "did not
 * fire" is checked with short bounded receives after each step.
 */
#include <criterion/criterion.h>
#include <foundation/runtime.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static fdn_failing_allocator_t *fa;
static fdn_clock_t *clk;
static fdn_runtime_t *rt;
static fdn_ctx_t *me;

static void setup(void)
{
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    cr_assert_eq(fdn_clock_virtual_create(1000 * FDN_NS_PER_S, &clk), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 2;
    o.clock = clk;
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    cr_assert_eq(fdn_runtime_clock(rt), clk);
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
}

static void teardown(void)
{
    fdn_detach(me);
    cr_expect_eq(fdn_runtime_process_count(rt), 0);
    /* Pending timers are freed by destroy (RT-I3); the clock goes last. */
    fdn_runtime_destroy(rt);
    fdn_clock_destroy(clk);
    cr_expect_eq(fdn_failing_allocator_live(fa), 0, "leaked %lld allocations",
                 (long long)fdn_failing_allocator_live(fa));
    fdn_failing_allocator_destroy(fa);
}

TestSuite(timers, .init = setup, .fini = teardown);

static void expect_nothing(void)
{
    fdn_msg_t *m;
    int rc = fdn_receive(me, 30 * FDN_NS_PER_MS, &m);
    if (rc == FDN_OK)
        cr_assert_fail("a timer fired early: tag %u ref %" PRIx64, m->tag,
                       m->ref);
    cr_assert_eq(rc, FDN_ETIMEDOUT);
}

static void expect_timer(fdn_ref_t ref, uint32_t tag)
{
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK,
                 "timer %u did not fire", tag);
    cr_assert_eq(m->kind, FDN_MSG_USER);
    cr_assert_eq(m->tag, tag);
    cr_assert_eq(m->ref, ref);
    cr_assert_eq(m->from, FDN_PID_NONE);
    fdn_msg_free(me, m);
}

/* Checks: RT-S8, RT-L7 */
Test(timers, fires_only_after_its_deadline)
{
    fdn_ref_t ref = FDN_REF_NONE;
    const char payload[] = "tick";
    cr_assert_eq(fdn_send_after(rt, me, fdn_self(me), 100 * FDN_NS_PER_MS, 7,
                                payload, sizeof payload, &ref),
                 FDN_OK);
    cr_assert_neq(ref, FDN_REF_NONE);
    expect_nothing();
    cr_assert_eq(fdn_clock_advance(clk, 50 * FDN_NS_PER_MS), FDN_OK);
    expect_nothing();
    cr_assert_eq(fdn_clock_advance(clk, 50 * FDN_NS_PER_MS - 1), FDN_OK);
    expect_nothing(); /* one nanosecond before the deadline */
    cr_assert_eq(fdn_clock_advance(clk, 2), FDN_OK);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->kind, FDN_MSG_USER);
    cr_assert_eq(m->tag, 7);
    cr_assert_eq(m->ref, ref);
    cr_assert_eq(m->from, FDN_PID_NONE);
    cr_assert_eq(m->size, sizeof payload);
    cr_assert_str_eq(m->data, payload);
    fdn_msg_free(me, m);
    /* Exactly once, and no longer cancellable. */
    cr_assert_eq(fdn_clock_advance(clk, FDN_NS_PER_S), FDN_OK);
    expect_nothing();
    cr_assert_eq(fdn_cancel_timer(rt, ref), FDN_ENOENT);
}

/* Checks: RT-S8 */
Test(timers, cancelled_timers_never_fire)
{
    fdn_ref_t a, b, c;
    fdn_pid_t self = fdn_self(me);
    cr_assert_eq(fdn_send_after(rt, me, self, 10 * FDN_NS_PER_MS, 1, NULL, 0, &a),
                 FDN_OK);
    cr_assert_eq(fdn_send_after(rt, NULL, self, 20 * FDN_NS_PER_MS, 2, NULL, 0, &b),
                 FDN_OK);
    cr_assert_eq(fdn_send_after(rt, me, self, 30 * FDN_NS_PER_MS, 3, NULL, 0, &c),
                 FDN_OK);
    cr_assert(a != b && b != c && a != c);
    cr_assert_eq(fdn_cancel_timer(rt, a), FDN_OK);
    cr_assert_eq(fdn_cancel_timer(rt, a), FDN_ENOENT);
    cr_assert_eq(fdn_cancel_timer(rt, c), FDN_OK);
    cr_assert_eq(fdn_clock_advance(clk, FDN_NS_PER_S), FDN_OK);
    expect_timer(b, 2);
    expect_nothing();
    cr_assert_eq(fdn_cancel_timer(rt, b), FDN_ENOENT);
    cr_assert_eq(fdn_cancel_timer(rt, c), FDN_ENOENT);
    /* A ref that never existed. */
    cr_assert_eq(fdn_cancel_timer(rt, FDN_REF_NONE), FDN_ENOENT);
    cr_assert_eq(fdn_cancel_timer(rt, a ^ 0x5a5a00), FDN_ENOENT);
}

/* Checks: RT-S8 */
Test(timers, a_reused_timer_record_does_not_answer_an_old_ref)
{
    fdn_pid_t self = fdn_self(me);
    fdn_ref_t old, fresh;
    cr_assert_eq(fdn_send_after(rt, me, self, FDN_NS_PER_MS, 1, NULL, 0, &old),
                 FDN_OK);
    cr_assert_eq(fdn_cancel_timer(rt, old), FDN_OK);
    /* Likely the same record, a new generation. */
    cr_assert_eq(fdn_send_after(rt, me, self, FDN_NS_PER_MS, 2, NULL, 0, &fresh),
                 FDN_OK);
    cr_assert_neq(old, fresh);
    cr_assert_eq(fdn_cancel_timer(rt, old), FDN_ENOENT);
    cr_assert_eq(fdn_clock_advance(clk, 2 * FDN_NS_PER_MS), FDN_OK);
    expect_timer(fresh, 2);
    expect_nothing();
}

/* Checks: RT-S8, RT-L7 */
Test(timers, many_timers_fire_in_deadline_order)
{
    enum { N = 200 };
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("FDN_TEST_SEED");
    if (env != NULL)
        seed = (unsigned)strtoul(env, NULL, 10);
    fprintf(stderr, "timers: seed %u (replay with FDN_TEST_SEED)\n", seed);
    srand(seed);
    /* Distinct delays 1..N ms in random order; the tag is the delay. */
    uint32_t delay[N];
    for (uint32_t i = 0; i < N; i++)
        delay[i] = i + 1;
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = (uint32_t)rand() % (i + 1);
        uint32_t t = delay[i];
        delay[i] = delay[j];
        delay[j] = t;
    }
    fdn_ref_t ref_of[N + 1];
    for (uint32_t i = 0; i < N; i++)
        cr_assert_eq(fdn_send_after(rt, me, fdn_self(me),
                                    delay[i] * FDN_NS_PER_MS, delay[i],
                                    &delay[i], sizeof delay[i],
                                    &ref_of[delay[i]]),
                     FDN_OK);
    /* Half in small steps (each step fires what became due), then the rest
     * in one jump; either way the order is the deadline order. */
    uint32_t next = 1;
    for (uint32_t ms = 1; ms <= N / 2; ms++) {
        cr_assert_eq(fdn_clock_advance(clk, FDN_NS_PER_MS), FDN_OK);
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
        cr_assert_eq(m->tag, next, "got timer %u, want %u", m->tag, next);
        cr_assert_eq(m->ref, ref_of[next]);
        fdn_msg_free(me, m);
        next++;
    }
    cr_assert_eq(fdn_clock_advance(clk, FDN_NS_PER_S), FDN_OK);
    for (; next <= N; next++) {
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
        cr_assert_eq(m->tag, next, "got timer %u, want %u", m->tag, next);
        uint32_t v;
        memcpy(&v, m->data, sizeof v);
        cr_assert_eq(v, next);
        fdn_msg_free(me, m);
    }
    expect_nothing();
}

static fdn_next_t fwd_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    fdn_pid_t to = *(const fdn_pid_t *)state;
    if (m->kind == FDN_MSG_USER && m->tag == 99)
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    fdn_send(ctx, to, m->tag, &m->ref, sizeof m->ref);
    return FDN_CONTINUE;
}
static fdn_next_t fwd_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    *state = arg;
    return FDN_CONTINUE;
}
static const fdn_behaviour_t fwd = {.init = fwd_init, .handle = fwd_handle};

/* Checks: RT-L7, RT-L2 */
Test(timers, timer_refs_are_distinct_from_monitor_refs)
{
    enum { N = 50 };
    fdn_pid_t self = fdn_self(me);
    fdn_pid_t p;
    cr_assert_eq(fdn_spawn(rt, NULL, &fwd, &self, NULL, &p), FDN_OK);
    fdn_ref_t refs[2 * N];
    for (int i = 0; i < N; i++) {
        cr_assert_eq(fdn_monitor(me, p, &refs[2 * i]), FDN_OK);
        cr_assert_eq(fdn_send_after(rt, NULL, p, FDN_NS_PER_MS, 5, NULL, 0,
                                    &refs[2 * i + 1]),
                     FDN_OK);
    }
    for (int i = 0; i < 2 * N; i++) {
        cr_assert_neq(refs[i], FDN_REF_NONE);
        for (int j = 0; j < i; j++)
            cr_assert_neq(refs[i], refs[j], "refs %d and %d collide", i, j);
    }
    /* Neither kind of ref works as the other. */
    cr_assert_eq(fdn_demonitor(me, refs[1]), FDN_ENOENT);
    cr_assert_eq(fdn_cancel_timer(rt, refs[0]), FDN_ENOENT);
    /* The timers reach the process with their refs. */
    cr_assert_eq(fdn_clock_advance(clk, FDN_NS_PER_MS), FDN_OK);
    bool seen[N] = {false};
    for (int k = 0; k < N; k++) {
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
        cr_assert_eq(m->tag, 5);
        fdn_ref_t r;
        memcpy(&r, m->data, sizeof r);
        fdn_msg_free(me, m);
        int idx = -1;
        for (int i = 0; i < N; i++)
            if (refs[2 * i + 1] == r)
                idx = i;
        cr_assert_geq(idx, 0);
        cr_assert(!seen[idx]);
        seen[idx] = true;
    }
    /* Monitors still work with their refs. */
    for (int i = 1; i < N; i++)
        cr_assert_eq(fdn_demonitor(me, refs[2 * i]), FDN_OK);
    cr_assert_eq(fdn_send(me, p, 99, NULL, 0), FDN_OK);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->kind, FDN_MSG_DOWN);
    cr_assert_eq(m->ref, refs[0]);
    fdn_msg_free(me, m);
    for (int i = 0; i < 5000 && fdn_alive(rt, p); i++)
        fdn_receive(me, FDN_NS_PER_MS, &m) == FDN_OK ? fdn_msg_free(me, m)
                                                      : (void)0;
    cr_assert(!fdn_alive(rt, p));
}

/* Checks: RT-I3, RT-L7 */
Test(timers, timers_to_dead_processes_and_pending_at_destroy)
{
    fdn_pid_t self = fdn_self(me);
    fdn_pid_t p;
    cr_assert_eq(fdn_spawn(rt, NULL, &fwd, &self, NULL, &p), FDN_OK);
    fdn_ref_t r;
    cr_assert_eq(fdn_send_after(rt, NULL, p, 5 * FDN_NS_PER_MS, 1, "x", 1, &r),
                 FDN_OK);
    cr_assert_eq(fdn_send(me, p, 99, NULL, 0), FDN_OK);
    for (int i = 0; i < 5000 && fdn_alive(rt, p); i++) {
        fdn_msg_t *m;
        if (fdn_receive(me, FDN_NS_PER_MS, &m) == FDN_OK)
            fdn_msg_free(me, m);
    }
    cr_assert(!fdn_alive(rt, p));
    /* Fires into a dead pid: dropped, freed (teardown checks the bytes). */
    cr_assert_eq(fdn_clock_advance(clk, 10 * FDN_NS_PER_MS), FDN_OK);
    expect_nothing();
    /* Left pending for destroy to free (teardown checks no leak). */
    for (int i = 0; i < 20; i++)
        cr_assert_eq(fdn_send_after(rt, me, self, FDN_NS_PER_S, 1, "pending", 7,
                                    NULL),
                     FDN_OK);
}
