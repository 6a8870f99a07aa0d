/*
 * pids.c — runtime unit tests: pids are never reused, stale pids reach
 * nothing, and a full process table says so.
 *
 * The runtimes here have a tiny table (max_processes) so that slots are
 * reused quickly; each new life in a slot must get a new pid and must never
 * see a message addressed to an earlier life of that slot.
 */
#include <criterion/criterion.h>
#include <foundation/runtime.h>

#include "runtime/internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { T_DATA = 1, T_STOP = 2 };
enum { LIVES = 600, FLOOD_AHEAD = 256 };

static fdn_failing_allocator_t *fa;
static fdn_runtime_t *rt;
static fdn_ctx_t *me;

/* Per life: messages it received, and messages it received that were
 * addressed to another life (the payload names the intended life). */
static atomic_long received[LIVES];
static atomic_long misdelivered;

static void make_runtime(uint32_t max_processes)
{
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 2;
    o.max_processes = max_processes;
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
}

static pthread_t flood_th;
static bool flood_running;
static atomic_bool flood_stop;

static void teardown(void)
{
    if (flood_running) {
        atomic_store(&flood_stop, true);
        pthread_join(flood_th, NULL);
        flood_running = false;
    }
    fdn_detach(me);
    cr_expect_eq(fdn_runtime_process_count(rt), 0);
    fdn_runtime_destroy(rt);
    cr_expect_eq(fdn_failing_allocator_live(fa), 0, "leaked %lld allocations",
                 (long long)fdn_failing_allocator_live(fa));
    fdn_failing_allocator_destroy(fa);
}

/* Polling step: 100 us, so the many short waits here stay quick. */
static void sleep_tick(void)
{
    struct timespec ts = {0, 100000L};
    nanosleep(&ts, NULL);
}

static void wait_dead(fdn_pid_t pid)
{
    for (int i = 0; i < 50000 && fdn_alive(rt, pid); i++)
        sleep_tick();
    cr_assert(!fdn_alive(rt, pid));
}

/* A life: counts what it receives and checks each message names it. */
static fdn_next_t life_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    *state = arg;
    return FDN_CONTINUE;
}

static fdn_next_t life_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    long idx = (long)(intptr_t)state;
    if (m->kind != FDN_MSG_USER)
        return FDN_CONTINUE;
    if (m->tag == T_STOP)
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    long want;
    memcpy(&want, m->data, sizeof want);
    if (want != idx)
        atomic_fetch_add(&misdelivered, 1);
    atomic_fetch_add(&received[idx], 1);
    return FDN_CONTINUE;
}

static const fdn_behaviour_t life = {
    .init = life_init, .handle = life_handle, .name = "life"};

/* The life the flooder targets: pids[cur] is written before cur is
 * published (release), read after cur is loaded (acquire). */
static fdn_pid_t pids[LIVES];
static atomic_long cur;
static atomic_long sent_ok[LIVES];

static void *flooder(void *unused)
{
    (void)unused;
    fdn_ctx_t *c;
    if (fdn_attach(rt, &c) != FDN_OK)
        return (void *)1;
    while (!atomic_load_explicit(&flood_stop, memory_order_relaxed)) {
        /* Acquire: pairs with the release store of cur in the test. */
        long i = atomic_load_explicit(&cur, memory_order_acquire);
        if (i < 0)
            continue;
        /* At most FLOOD_AHEAD messages in a life's mailbox: enough that
         * sends keep racing with its death, and memory stays bounded when
         * the lives run slower than the flooder (under valgrind, whose
         * one-thread-at-a-time scheduling once let a mailbox grow until
         * the OOM killer stopped the run). */
        if (atomic_load(&sent_ok[i]) - atomic_load(&received[i]) >=
            FLOOD_AHEAD) {
            sched_yield();
            continue;
        }
        int rc = fdn_send(c, pids[i], T_DATA, &i, sizeof i);
        if (rc == FDN_OK)
            atomic_fetch_add(&sent_ok[i], 1);
        else if (rc != FDN_ENOPROC)
            atomic_fetch_add(&misdelivered, 1000000); /* unexpected error */
    }
    fdn_detach(c);
    return NULL;
}

static int cmp_pid(const void *a, const void *b)
{
    fdn_pid_t x = *(const fdn_pid_t *)a, y = *(const fdn_pid_t *)b;
    return x < y ? -1 : x > y;
}

TestSuite(pids, .fini = teardown);

/* Checks: RT-I1, RT-S2 */
Test(pids, stale_pids_never_reach_a_new_life)
{
    make_runtime(64);
    atomic_store(&misdelivered, 0);
    atomic_store(&cur, -1);
    atomic_store(&flood_stop, false);
    for (int i = 0; i < LIVES; i++) {
        atomic_store(&received[i], 0);
        atomic_store(&sent_ok[i], 0);
    }
    /* Keep some long-lived processes so the reused slots vary. */
    enum { KEEP = 20 };
    fdn_pid_t keep[KEEP];
    for (int k = 0; k < KEEP; k++)
        cr_assert_eq(fdn_spawn(rt, NULL, &life, (void *)(intptr_t)(LIVES - 1),
                               NULL, &keep[k]),
                     FDN_OK);

    cr_assert_eq(pthread_create(&flood_th, NULL, flooder, NULL), 0);
    flood_running = true;
    for (long i = 0; i < LIVES - 1; i++) {
        fdn_pid_t p;
        cr_assert_eq(fdn_spawn(rt, NULL, &life, (void *)(intptr_t)i, NULL, &p),
                     FDN_OK);
        cr_assert_neq(p, FDN_PID_NONE);
        pids[i] = p;
        /* Release: pairs with the flooder's acquire load of cur. */
        atomic_store_explicit(&cur, i, memory_order_release);
        /* Let a few messages in, then kill it while the flood goes on, so
         * some sends race with the death and land in the slot. */
        for (int w = 0; w < 20000 && atomic_load(&received[i]) < 3; w++)
            sleep_tick();
        cr_assert_geq(atomic_load(&received[i]), 3, "life %ld got nothing", i);
        if (i % 2 == 0)
            cr_assert_eq(fdn_exit(rt, me, p, FDN_REASON_KILL), FDN_OK);
        else
            cr_assert_eq(fdn_send(me, p, T_STOP, NULL, 0), FDN_OK);
        for (int w = 0; w < 50000 && fdn_alive(rt, p); w++)
            sleep_tick();
        cr_assert(!fdn_alive(rt, p),
                  "life %ld (%s) still alive: received %ld of %ld sent", i,
                  i % 2 ? "stop message" : "kill", atomic_load(&received[i]),
                  atomic_load(&sent_ok[i]));
        /* Stale: not alive, sends refused, monitors get noproc. */
        cr_assert(!fdn_alive(rt, p));
        long x = i;
        cr_assert_eq(fdn_send(me, p, T_DATA, &x, sizeof x), FDN_ENOPROC);
        fdn_ref_t ref;
        cr_assert_eq(fdn_monitor(me, p, &ref), FDN_OK);
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, FDN_NS_PER_S, &m), FDN_OK);
        cr_assert_eq(m->kind, FDN_MSG_DOWN);
        cr_assert_eq(m->reason, FDN_REASON_NOPROC);
        fdn_msg_free(me, m);
    }
    atomic_store(&flood_stop, true);
    void *thr;
    pthread_join(flood_th, &thr);
    flood_running = false;
    cr_assert_null(thr);

    cr_assert_eq(atomic_load(&misdelivered), 0,
                 "%ld messages reached the wrong life",
                 atomic_load(&misdelivered));
    for (int i = 0; i < LIVES - 1; i++)
        cr_assert_leq(atomic_load(&received[i]), atomic_load(&sent_ok[i]));

    /* Every pid distinct, slots reused, generations grown. */
    fdn_pid_t all[LIVES - 1 + KEEP];
    memcpy(all, pids, (LIVES - 1) * sizeof(fdn_pid_t));
    memcpy(all + LIVES - 1, keep, sizeof keep);
    size_t n = sizeof all / sizeof all[0];
    qsort(all, n, sizeof all[0], cmp_pid);
    for (size_t i = 1; i < n; i++)
        cr_assert_neq(all[i], all[i - 1], "pid %llx was reused",
                      (unsigned long long)all[i]);
    bool slot_seen[64] = {false};
    int slots = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = (uint32_t)(all[i] & 0xffffffffu);
        cr_assert_lt(s, 64u);
        cr_assert_neq(all[i] >> 32, 0u, "generation 0 is never a pid");
        if (!slot_seen[s])
            slots++;
        slot_seen[s] = true;
    }
    cr_assert_leq(slots, 64);
    fdn_runtime_stats_t st;
    fdn_runtime_stats(rt, &st);
    cr_assert_leq(st.table_slots, 64u);

    for (int k = 0; k < KEEP; k++) {
        cr_assert(fdn_alive(rt, keep[k]));
        cr_assert_eq(fdn_send(me, keep[k], T_STOP, NULL, 0), FDN_OK);
    }
    for (int k = 0; k < KEEP; k++)
        wait_dead(keep[k]);
    cr_assert_eq(atomic_load(&misdelivered), 0);
}

/* Checks: RT-I1 */
Test(pids, pids_stay_distinct_in_a_one_slot_cycle)
{
    make_runtime(4);
    /* me uses one slot; churn through the rest many times. */
    enum { N = 3000 };
    static fdn_pid_t seen[N];
    for (int i = 0; i < N; i++) {
        fdn_pid_t p;
        cr_assert_eq(fdn_spawn(rt, NULL, &life, (void *)(intptr_t)0, NULL, &p),
                     FDN_OK);
        seen[i] = p;
        cr_assert_eq(fdn_send(me, p, T_STOP, NULL, 0), FDN_OK);
        wait_dead(p);
    }
    qsort(seen, N, sizeof seen[0], cmp_pid);
    for (int i = 1; i < N; i++)
        cr_assert_neq(seen[i], seen[i - 1]);
}

static void *attach_thread(void *out)
{
    fdn_ctx_t *c = NULL;
    int rc = fdn_attach(rt, &c);
    *(int *)out = rc;
    if (rc == FDN_OK)
        fdn_detach(c);
    return NULL;
}

/* Checks: RT-F2 */
Test(pids, full_table_is_elimit)
{
    enum { MAX = 8 };
    make_runtime(MAX);
    fdn_pid_t p[MAX];
    for (int i = 0; i < MAX - 1; i++) /* me holds the eighth slot */
        cr_assert_eq(fdn_spawn(rt, NULL, &life, NULL, NULL, &p[i]), FDN_OK);
    uint64_t before = fdn_runtime_process_count(rt);
    cr_assert_eq(before, MAX);
    int64_t live_before = fdn_failing_allocator_live(fa);

    fdn_pid_t extra = FDN_PID_NONE;
    cr_assert_eq(fdn_spawn(rt, NULL, &life, NULL, NULL, &extra), FDN_ELIMIT);
    cr_assert_eq(extra, FDN_PID_NONE);
    fdn_ref_t ref;
    fdn_spawn_opts_t o = {.size = sizeof o, .link = true, .monitor = &ref};
    cr_assert_eq(fdn_spawn(rt, me, &life, NULL, &o, &extra), FDN_ELIMIT);
    int rc = 0;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, attach_thread, &rc), 0);
    pthread_join(th, NULL);
    cr_assert_eq(rc, FDN_ELIMIT);
    cr_assert_eq(fdn_runtime_process_count(rt), before);
    cr_assert_eq(fdn_failing_allocator_live(fa), live_before);
    /* Nothing was linked or monitored by the failed spawn. */
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 20 * FDN_NS_PER_MS, &m), FDN_ETIMEDOUT);

    /* A free slot makes both work again. */
    cr_assert_eq(fdn_send(me, p[0], T_STOP, NULL, 0), FDN_OK);
    wait_dead(p[0]);
    cr_assert_eq(pthread_create(&th, NULL, attach_thread, &rc), 0);
    pthread_join(th, NULL);
    cr_assert_eq(rc, FDN_OK);
    cr_assert_eq(fdn_spawn(rt, NULL, &life, NULL, NULL, &p[0]), FDN_OK);
    cr_assert_eq(fdn_spawn(rt, NULL, &life, NULL, NULL, &extra), FDN_ELIMIT);
    for (int i = 0; i < MAX - 1; i++)
        cr_assert_eq(fdn_send(me, p[i], T_STOP, NULL, 0), FDN_OK);
    for (int i = 0; i < MAX - 1; i++)
        wait_dead(p[i]);
}

/* A killer that validated an old pid and lost the race with that life's
 * death marks the slot late: the mark must not touch the next life.  (The
 * randomized version of this race is tests/stress/stale_kill.c.) */
static fdn_next_t echo_ping(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    fdn_send(ctx, m->from, m->tag, NULL, 0);
    return FDN_CONTINUE;
}
static const fdn_behaviour_t echo_ping_b = {.handle = echo_ping};

/* Checks: RT-S2, RT-I1 */
Test(pids_kill_mark, late_kill_mark_spares_the_next_life)
{
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.max_processes = 2;
    o.schedulers = 1;
    fdn_runtime_t *r;
    fdn_ctx_t *c;
    fdn_msg_t *m;
    cr_assert_eq(fdn_runtime_create(&o, &r), FDN_OK);
    cr_assert_eq(fdn_attach(r, &c), FDN_OK);
    fdn_pid_t old, young;
    cr_assert_eq(fdn_spawn(r, NULL, &echo_ping_b, NULL, NULL, &old), FDN_OK);
    fdn_ref_t ref;
    cr_assert_eq(fdn_monitor(c, old, &ref), FDN_OK);
    cr_assert_eq(fdn_exit(r, NULL, old, FDN_REASON_USER + 3), FDN_OK);
    cr_assert_eq(fdn_receive(c, 5 * FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->kind, FDN_MSG_DOWN);
    fdn_msg_free(c, m);
    int rc;
    for (int i = 0; (rc = fdn_spawn(r, NULL, &echo_ping_b, NULL, NULL, &young)) ==
                        FDN_ELIMIT && i < 100000;
         i++)
        sched_yield(); /* the old life's slot is released after its DOWN */
    cr_assert_eq(rc, FDN_OK);
    cr_assert_eq(young & 0xffffffffu, old & 0xffffffffu, "same slot");
    /* The late mark, as a killer still holding `old` would make it. */
    fdn__kill_mark(fdn__table_slot(r, old), old, FDN_REASON_KILLED);
    cr_assert_eq(fdn_send(c, young, 7, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_receive(c, 5 * FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->tag, 7, "the young life answered");
    fdn_msg_free(c, m);
    cr_assert(fdn_alive(r, young), "a mark for an older life killed a newer one");
    /* A mark for the young life itself does kill it. */
    cr_assert_eq(fdn_monitor(c, young, &ref), FDN_OK);
    fdn__kill_mark(fdn__table_slot(r, young), young, FDN_REASON_KILLED);
    cr_assert_eq(fdn_send(c, young, 8, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_receive(c, 5 * FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->kind, FDN_MSG_DOWN);
    cr_assert_eq(m->reason, FDN_REASON_KILLED);
    fdn_msg_free(c, m);
    fdn_detach(c);
    fdn_runtime_destroy(r);
}
