/*
 * lifecycle.c — runtime unit tests: destroy, shutdown of attached threads,
 * counters, idle sleeping, work stealing, fairness and the freeing of
 * messages queued to a dying process.
 *
 * Each test builds its own runtime (the options differ) on a failing
 * allocator that never fails, so every test can check that destroy leaves
 * no allocation behind.
 */
#include <criterion/criterion.h>
#include <foundation/runtime.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { T_WORK = 1, T_STOP = 2, T_PING = 3, T_PONG = 4, T_GO = 5 };

static fdn_failing_allocator_t *fa;
static fdn_runtime_t *rt;
static fdn_ctx_t *me;

static void make_runtime(unsigned schedulers)
{
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = schedulers;
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
}

/* Destroys the runtime (if the test did not) and checks nothing leaked. */
static void teardown(void)
{
    if (me != NULL) {
        fdn_detach(me);
        me = NULL;
    }
    if (rt != NULL) {
        fdn_runtime_destroy(rt);
        rt = NULL;
    }
    if (fa != NULL) {
        cr_expect_eq(fdn_failing_allocator_live(fa), 0,
                     "leaked %lld allocations",
                     (long long)fdn_failing_allocator_live(fa));
        fdn_failing_allocator_destroy(fa);
        fa = NULL;
    }
}

TestSuite(lifecycle, .fini = teardown);

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void wait_dead(fdn_pid_t pid)
{
    for (int i = 0; i < 5000 && fdn_alive(rt, pid); i++)
        sleep_ms(1);
    cr_assert(!fdn_alive(rt, pid));
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * FDN_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
    return fdn_clock_now(fdn_clock_monotonic());
}

/* ---- terminate on destroy -------------------------------------------- */

enum { NPROC = 100 };
static atomic_int terms[NPROC];
static atomic_long terms_total;
static atomic_long term_reason_shutdown;

static fdn_next_t idx_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    *state = arg;
    return FDN_CONTINUE;
}

static fdn_next_t idle_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    if (m->kind == FDN_MSG_USER && m->tag == T_STOP)
        return fdn_stop(ctx, FDN_REASON_USER + 1);
    if (m->kind == FDN_MSG_USER && m->tag == T_PING)
        fdn_send(ctx, m->from, T_PONG, NULL, 0);
    return FDN_CONTINUE;
}

static void idx_term(fdn_ctx_t *ctx, void *state, fdn_reason_t reason)
{
    (void)ctx;
    long i = (long)(intptr_t)state;
    atomic_fetch_add(&terms[i], 1);
    atomic_fetch_add(&terms_total, 1);
    if (reason == FDN_REASON_SHUTDOWN)
        atomic_fetch_add(&term_reason_shutdown, 1);
}

static const fdn_behaviour_t counted = {
    .init = idx_init, .handle = idle_handle, .terminate = idx_term};

static void check_balance(uint64_t want_live)
{
    fdn_runtime_stats_t st;
    fdn_runtime_stats(rt, &st);
    cr_assert_eq(st.spawned - st.exited, st.live);
    cr_assert_eq(st.live, want_live, "live %llu, want %llu",
                 (unsigned long long)st.live, (unsigned long long)want_live);
    cr_assert_eq(fdn_runtime_process_count(rt), want_live);
}

/* Checks: RT-L6, RT-I3 */
Test(lifecycle, destroy_runs_each_terminate_once_and_frees_all)
{
    make_runtime(2);
    atomic_store(&terms_total, 0);
    atomic_store(&term_reason_shutdown, 0);
    for (int i = 0; i < NPROC; i++)
        atomic_store(&terms[i], 0);
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
    check_balance(1);
    fdn_pid_t p[NPROC];
    for (int i = 0; i < NPROC; i++)
        cr_assert_eq(fdn_spawn(rt, NULL, &counted, (void *)(intptr_t)i, NULL,
                               &p[i]),
                     FDN_OK);
    check_balance(1 + NPROC);
    /* Give the runtime things to free: queued messages, monitors, links,
     * callback-free timers. */
    for (int i = 0; i < NPROC; i++) {
        fdn_ref_t ref;
        cr_assert_eq(fdn_monitor(me, p[i], &ref), FDN_OK);
        char buf[64] = {0};
        cr_assert_eq(fdn_send(me, p[i], T_WORK, buf, sizeof buf), FDN_OK);
        cr_assert_eq(fdn_send_after(rt, me, p[i], FDN_NS_PER_S * 3600, T_WORK,
                                    buf, sizeof buf, NULL),
                     FDN_OK);
    }
    /* Stop ten now: quiescent balance at 1 + NPROC - 10. */
    for (int i = 0; i < 10; i++)
        cr_assert_eq(fdn_send(me, p[i], T_STOP, NULL, 0), FDN_OK);
    for (int i = 0; i < 10; i++)
        wait_dead(p[i]);
    check_balance(1 + NPROC - 10);
    cr_assert_eq(atomic_load(&terms_total), 10);
    for (int i = 0; i < 10; i++) {
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, FDN_NS_PER_S, &m), FDN_OK);
        cr_assert_eq(m->kind, FDN_MSG_DOWN);
        cr_assert_eq(m->reason, FDN_REASON_USER + 1);
        fdn_msg_free(me, m);
    }
    fdn_detach(me);
    me = NULL;
    check_balance(NPROC - 10);
    fdn_runtime_destroy(rt);
    rt = NULL;
    cr_assert_eq(atomic_load(&terms_total), NPROC);
    for (int i = 0; i < NPROC; i++)
        cr_assert_eq(atomic_load(&terms[i]), 1, "terminate of %d ran %d times",
                     i, atomic_load(&terms[i]));
    cr_assert_eq(atomic_load(&term_reason_shutdown), NPROC - 10);
    cr_assert_eq(fdn_failing_allocator_live(fa), 0, "leaked %lld",
                 (long long)fdn_failing_allocator_live(fa));
}

/* ---- attached thread woken by destroy -------------------------------- */

struct blocked {
    atomic_int ready;
    int recv_rc, recv_again_rc, spawn_rc, timer_rc;
};

static void *blocked_thread(void *arg)
{
    struct blocked *b = arg;
    fdn_ctx_t *c;
    if (fdn_attach(rt, &c) != FDN_OK) {
        atomic_store(&b->ready, -1);
        return NULL;
    }
    atomic_store(&b->ready, 1);
    fdn_msg_t *m;
    b->recv_rc = fdn_receive(c, FDN_INFINITY, &m);
    /* Destroy has begun: further operations refuse, none hangs (RT-F3). */
    b->recv_again_rc = fdn_receive(c, FDN_INFINITY, &m);
    fdn_pid_t p;
    b->spawn_rc = fdn_spawn(rt, c, &counted, (void *)(intptr_t)0, NULL, &p);
    b->timer_rc = fdn_send_after(rt, c, fdn_self(c), 1, 1, NULL, 0, NULL);
    fdn_detach(c);
    return NULL;
}

/* Checks: RT-F3, RT-L6 */
Test(lifecycle, destroy_wakes_a_blocked_receive_with_eshutdown)
{
    make_runtime(2);
    atomic_store(&terms_total, 0);
    atomic_store(&terms[0], 0);
    fdn_pid_t p;
    cr_assert_eq(fdn_spawn(rt, NULL, &counted, (void *)(intptr_t)0, NULL, &p),
                 FDN_OK);
    struct blocked b = {.recv_rc = 1, .recv_again_rc = 1, .spawn_rc = 1,
                        .timer_rc = 1};
    atomic_init(&b.ready, 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, blocked_thread, &b), 0);
    for (int i = 0; i < 5000 && atomic_load(&b.ready) == 0; i++)
        sleep_ms(1);
    cr_assert_eq(atomic_load(&b.ready), 1);
    check_balance(2);
    sleep_ms(20); /* let it reach the futex; correctness does not rely on it */
    fdn_runtime_destroy(rt);
    rt = NULL;
    pthread_join(th, NULL);
    cr_assert_eq(b.recv_rc, FDN_ESHUTDOWN);
    cr_assert_eq(b.recv_again_rc, FDN_ESHUTDOWN);
    cr_assert_eq(b.spawn_rc, FDN_ESHUTDOWN);
    cr_assert_eq(b.timer_rc, FDN_ESHUTDOWN);
    cr_assert_eq(atomic_load(&terms_total), 1);
}

/* ---- idle schedulers sleep ------------------------------------------- */

/* Checks: RT-L4 */
Test(lifecycle, idle_schedulers_sleep)
{
    make_runtime(2);
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
    fdn_pid_t p;
    cr_assert_eq(fdn_spawn(rt, NULL, &counted, (void *)(intptr_t)0, NULL, &p),
                 FDN_OK);
    /* Some work wakes the schedulers. */
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(fdn_send(me, p, T_PING, NULL, 0), FDN_OK);
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, FDN_NS_PER_S, &m), FDN_OK);
        cr_assert_eq(m->tag, T_PONG);
        fdn_msg_free(me, m);
    }
    fdn_runtime_stats_t s0, s1;
    fdn_runtime_stats(rt, &s0);
    uint64_t deadline = mono_ns() + 2 * FDN_NS_PER_S;
    do {
        sleep_ms(1);
        fdn_runtime_stats(rt, &s1);
    } while (s1.sleeps <= s0.sleeps && mono_ns() < deadline);
    cr_assert_gt(s1.sleeps, s0.sleeps, "schedulers never went to sleep");
    /* Idle window: the whole process uses little CPU. */
    uint64_t c0 = cpu_ns();
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 300 * FDN_NS_PER_MS, &m), FDN_ETIMEDOUT);
    uint64_t used = cpu_ns() - c0;
    fdn_runtime_stats_t s2;
    fdn_runtime_stats(rt, &s2);
    cr_assert_lt(used, 30 * FDN_NS_PER_MS, "idle runtime burnt %llu us of CPU",
                 (unsigned long long)(used / 1000));
    cr_assert_gt(s2.sleeps, s1.sleeps, "sleeps did not grow while idle");
    cr_assert_eq(fdn_send(me, p, T_STOP, NULL, 0), FDN_OK);
    wait_dead(p);
}

/* ---- work stealing --------------------------------------------------- */

static atomic_long busy_done;

static void spin_us(uint64_t us)
{
    uint64_t end = mono_ns() + us * FDN_NS_PER_US;
    while (mono_ns() < end)
        ;
}

static fdn_next_t busy_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    (void)m;
    spin_us(100);
    atomic_fetch_add(&busy_done, 1);
    return fdn_stop(ctx, FDN_REASON_NORMAL);
}
static const fdn_behaviour_t busy = {.handle = busy_handle};

enum { NBUSY = 1000 };

static fdn_next_t spawner_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    if (m->kind != FDN_MSG_USER || m->tag != T_GO)
        return FDN_CONTINUE;
    /* All children become runnable on this scheduler's queue. */
    for (int i = 0; i < NBUSY; i++) {
        fdn_pid_t c;
        if (fdn_spawn(NULL, ctx, &busy, NULL, NULL, &c) != FDN_OK ||
            fdn_send(ctx, c, T_WORK, NULL, 0) != FDN_OK)
            atomic_fetch_add(&busy_done, 1000000);
    }
    return fdn_stop(ctx, FDN_REASON_NORMAL);
}
static const fdn_behaviour_t spawner = {.handle = spawner_handle};

/* Checks: RT-L5 */
Test(lifecycle, idle_scheduler_steals_work)
{
    make_runtime(2);
    atomic_store(&busy_done, 0);
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
    fdn_runtime_stats_t s0;
    fdn_runtime_stats(rt, &s0);
    fdn_pid_t sp;
    cr_assert_eq(fdn_spawn(rt, NULL, &spawner, NULL, NULL, &sp), FDN_OK);
    cr_assert_eq(fdn_send(me, sp, T_GO, NULL, 0), FDN_OK);
    uint64_t deadline = mono_ns() + 20 * FDN_NS_PER_S;
    while (atomic_load(&busy_done) < NBUSY && mono_ns() < deadline)
        sleep_ms(1);
    cr_assert_eq(atomic_load(&busy_done), NBUSY);
    wait_dead(sp);
    for (int i = 0; i < 5000 && fdn_runtime_process_count(rt) != 1; i++)
        sleep_ms(1);
    check_balance(1);
    fdn_runtime_stats_t s1;
    fdn_runtime_stats(rt, &s1);
    cr_assert_gt(s1.steals, s0.steals, "no steal in %d queued processes",
                 NBUSY);
}

/* ---- fairness --------------------------------------------------------- */

static atomic_long flood_handled;

static atomic_int flood_gate;

/* The first message (T_GO) holds the only scheduler until the test opens
 * the gate, so the whole flood and the ping are queued before anything is
 * handled, however fast or slow the sender is (valgrind serialises threads).
 */
static fdn_next_t slow_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)ctx;
    (void)state;
    if (m->tag == T_GO) {
        uint64_t deadline = mono_ns() + 30 * FDN_NS_PER_S;
        while (!atomic_load(&flood_gate) && mono_ns() < deadline)
            sleep_ms(1);
        return FDN_CONTINUE;
    }
    spin_us(1);
    atomic_fetch_add(&flood_handled, 1);
    return FDN_CONTINUE;
}
static const fdn_behaviour_t slow = {.handle = slow_handle};

/* Answers a ping with how much of the flood had been handled when the
 * ping was: read by main later, the count would also hold whatever the
 * scheduler handled meanwhile (under valgrind, all of it). */
static fdn_next_t probe_handle(fdn_ctx_t *ctx, void *state,
                               const fdn_msg_t *m)
{
    (void)state;
    if (m->kind == FDN_MSG_USER && m->tag == T_STOP)
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    if (m->kind == FDN_MSG_USER && m->tag == T_PING) {
        long handled = atomic_load(&flood_handled);
        fdn_send(ctx, m->from, T_PONG, &handled, sizeof handled);
    }
    return FDN_CONTINUE;
}
static const fdn_behaviour_t probe = {.handle = probe_handle};

/* Checks: RT-L3 */
Test(lifecycle, a_flooded_process_does_not_starve_others)
{
    enum { FLOOD = 200000 };
    make_runtime(1);
    atomic_store(&flood_handled, 0);
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
    fdn_pid_t f, e;
    cr_assert_eq(fdn_spawn(rt, NULL, &slow, NULL, NULL, &f), FDN_OK);
    cr_assert_eq(fdn_spawn(rt, NULL, &probe, NULL, NULL, &e), FDN_OK);
    atomic_store(&flood_gate, 0);
    cr_assert_eq(fdn_send(me, f, T_GO, NULL, 0), FDN_OK);
    for (int i = 0; i < FLOOD; i++)
        cr_assert_eq(fdn_send(me, f, T_WORK, &i, sizeof i), FDN_OK);
    cr_assert_eq(fdn_send(me, e, T_PING, NULL, 0), FDN_OK);
    atomic_store(&flood_gate, 1);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 10 * FDN_NS_PER_S, &m), FDN_OK);
    long handled;
    cr_assert_eq(m->tag, T_PONG);
    cr_assert_eq(m->from, e);
    cr_assert_eq(m->size, sizeof handled);
    memcpy(&handled, m->data, sizeof handled);
    fdn_msg_free(me, m);
    cr_assert_lt(handled, FLOOD,
                 "the ping waited for the whole flood (%ld handled)", handled);
    /* Kill the flooded process with its mailbox still full (RT-F4). */
    cr_assert_eq(fdn_exit(rt, me, f, FDN_REASON_KILL), FDN_OK);
    cr_assert_eq(fdn_send(me, e, T_STOP, NULL, 0), FDN_OK);
    wait_dead(f);
    wait_dead(e);
    check_balance(1);
}

/* ---- RT-F4: queued owned messages of a dying process ------------------ */

enum { NOWNED = 200 };
static atomic_int freed[NOWNED];
static atomic_bool gate_open;

static void owned_free(void *data, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    int i = *(int *)data;
    atomic_fetch_add(&freed[i], 1);
    free(data);
}

static fdn_next_t gate_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    (void)m;
    /* The first message holds the process until the test has queued the
     * rest, then it dies with them all in its mailbox. */
    uint64_t end = mono_ns() + 10 * FDN_NS_PER_S;
    while (!atomic_load(&gate_open) && mono_ns() < end)
        ;
    return fdn_stop(ctx, FDN_REASON_USER + 4);
}
static const fdn_behaviour_t gate = {.handle = gate_handle};

/* Checks: RT-F4, RT-C2 */
Test(lifecycle, dying_process_frees_queued_owned_messages_once)
{
    for (int kill = 0; kill < 2; kill++) {
        make_runtime(2);
        cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
        for (int i = 0; i < NOWNED; i++)
            atomic_store(&freed[i], 0);
        atomic_store(&gate_open, false);
        fdn_pid_t g;
        cr_assert_eq(fdn_spawn(rt, NULL, &gate, NULL, NULL, &g), FDN_OK);
        cr_assert_eq(fdn_send(me, g, T_WORK, NULL, 0), FDN_OK);
        for (int i = 0; i < NOWNED; i++) {
            int *d = malloc(sizeof *d);
            *d = i;
            cr_assert_eq(fdn_send_owned(me, g, T_WORK, d, sizeof *d, owned_free,
                                        NULL),
                         FDN_OK);
        }
        if (kill)
            cr_assert_eq(fdn_exit(rt, me, g, FDN_REASON_KILL), FDN_OK);
        atomic_store(&gate_open, true);
        wait_dead(g);
        for (int i = 0; i < NOWNED; i++)
            cr_assert_eq(atomic_load(&freed[i]), 1,
                         "destructor of message %d ran %d times", i,
                         atomic_load(&freed[i]));
        /* After death: refused, not taken, destructor not run. */
        int *d = malloc(sizeof *d);
        *d = 0;
        cr_assert_eq(fdn_send_owned(me, g, T_WORK, d, sizeof *d, owned_free,
                                    NULL),
                     FDN_ENOPROC);
        cr_assert_eq(atomic_load(&freed[0]), 1);
        free(d);
        teardown();
        for (int i = 0; i < NOWNED; i++)
            cr_assert_eq(atomic_load(&freed[i]), 1);
    }
}
