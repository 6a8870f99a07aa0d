/*
 * sup_test.h — helpers shared by the supervisor tests (except basic.c,
 * which predates them and keeps its own): test children that count their
 * lives, the runtime fixture on a failing allocator (and a virtual clock
 * when asked), bounded waiting, a selective receive, and a barrier that
 * advances the virtual clock and returns once every timer due by then has
 * been delivered.
 *
 * Every test program includes this once; everything is static inline so
 * that a program need not use all of it.
 */
#ifndef FDN_TESTS_SUP_TEST_H
#define FDN_TESTS_SUP_TEST_H

#include "foundation/supervisor.h"

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TAG_CRASH 7u  /* data: fdn_reason_t; the kid stops with it */
#define TAG_PING 8u   /* the kid answers TAG_PONG to the sender */
#define TAG_PONG 9u
#define TAG_PROBE 10u /* the clock barrier's own timers */
#define WAIT_NS (10 * FDN_NS_PER_S)

/* ------------------------------------------------------------------------ */
/* Test children                                                            */
/* ------------------------------------------------------------------------ */

/*
 * What one child spec records about its incarnations.  Written by the
 * child's callbacks on scheduler threads, read by the test thread: every
 * field is atomic.  Stores are release and loads acquire: a test that sees
 * a count also sees the fields written before it.
 */
typedef struct kid {
    int index;                     /* immutable */
    bool traps;                    /* immutable: ignores exit signals */
    atomic_bool fail_init;         /* init fails while set */
    atomic_int starts;             /* successful inits */
    atomic_int terms;              /* terminate calls */
    atomic_int exits_seen;         /* exit signals a trapping kid got */
    _Atomic int64_t last_reason;   /* reason of the last terminate */
    atomic_int term_seq;           /* global order of the last terminate */
    atomic_int start_seq;          /* global order of the last start */
    _Atomic uint64_t pid;          /* pid of the last start */
} kid_t;

/* Orders terminate and start calls across children.  acq_rel RMW chains:
 * the events they number are causally ordered by the supervisor. */
static atomic_int g_term_seq;
static atomic_int g_start_seq;

static inline void kid_reset(kid_t *k, int index, bool traps)
{
    k->index = index;
    k->traps = traps;
    /* Relaxed: no child uses k yet; starting the supervisor afterwards
     * publishes these stores to the threads that run the children. */
    atomic_store_explicit(&k->fail_init, false, memory_order_relaxed);
    atomic_store_explicit(&k->starts, 0, memory_order_relaxed);
    atomic_store_explicit(&k->terms, 0, memory_order_relaxed);
    atomic_store_explicit(&k->exits_seen, 0, memory_order_relaxed);
    atomic_store_explicit(&k->last_reason, -1, memory_order_relaxed);
    atomic_store_explicit(&k->term_seq, 0, memory_order_relaxed);
    atomic_store_explicit(&k->start_seq, 0, memory_order_relaxed);
    atomic_store_explicit(&k->pid, FDN_PID_NONE, memory_order_relaxed);
}

static inline fdn_next_t kid_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    kid_t *k = arg;
    /* Acquire: pairs with the test thread's release store of fail_init. */
    if (atomic_load_explicit(&k->fail_init, memory_order_acquire))
        return fdn_stop(ctx, FDN_REASON_USER + 1);
    if (k->traps)
        fdn_trap_exit(ctx, true);
    *state = k;
    int seq = atomic_fetch_add_explicit(&g_start_seq, 1, memory_order_acq_rel);
    /* Release: pair with the acquire loads in the test thread. */
    atomic_store_explicit(&k->start_seq, seq + 1, memory_order_release);
    atomic_store_explicit(&k->pid, fdn_self(ctx), memory_order_release);
    atomic_fetch_add_explicit(&k->starts, 1, memory_order_release);
    return FDN_CONTINUE;
}

static inline fdn_next_t kid_handle(fdn_ctx_t *ctx, void *state,
                                    const fdn_msg_t *msg)
{
    kid_t *k = state;
    if (msg->kind == FDN_MSG_USER && msg->tag == TAG_CRASH &&
        msg->size == sizeof(fdn_reason_t)) {
        fdn_reason_t reason;
        memcpy(&reason, msg->data, sizeof reason);
        return fdn_stop(ctx, reason);
    }
    if (msg->kind == FDN_MSG_USER && msg->tag == TAG_PING)
        (void)fdn_send(ctx, msg->from, TAG_PONG, NULL, 0);
    if (msg->kind == FDN_MSG_EXIT)
        /* Release: pairs with the acquire load in kid_exits. */
        atomic_fetch_add_explicit(&k->exits_seen, 1, memory_order_release);
    return FDN_CONTINUE;
}

static inline void kid_terminate(fdn_ctx_t *ctx, void *state,
                                 fdn_reason_t reason)
{
    (void)ctx;
    kid_t *k = state;
    int seq = atomic_fetch_add_explicit(&g_term_seq, 1, memory_order_acq_rel);
    /* Release stores: pair with the test thread's acquire loads. */
    atomic_store_explicit(&k->last_reason, reason, memory_order_release);
    atomic_store_explicit(&k->term_seq, seq + 1, memory_order_release);
    atomic_fetch_add_explicit(&k->terms, 1, memory_order_release);
}

static const fdn_behaviour_t kid_behaviour = {
    .init = kid_init,
    .handle = kid_handle,
    .terminate = kid_terminate,
    .name = "test-kid",
};

/* Acquire loads: pair with the release stores in the kid's callbacks. */
static inline int kid_starts(kid_t *k)
{
    return atomic_load_explicit(&k->starts, memory_order_acquire);
}
static inline int kid_terms(kid_t *k)
{
    return atomic_load_explicit(&k->terms, memory_order_acquire);
}
static inline int kid_exits(kid_t *k)
{
    return atomic_load_explicit(&k->exits_seen, memory_order_acquire);
}
static inline int kid_seq(kid_t *k)
{
    return atomic_load_explicit(&k->term_seq, memory_order_acquire);
}
static inline int kid_start_seq(kid_t *k)
{
    return atomic_load_explicit(&k->start_seq, memory_order_acquire);
}
static inline fdn_reason_t kid_reason(kid_t *k)
{
    return atomic_load_explicit(&k->last_reason, memory_order_acquire);
}
static inline fdn_pid_t kid_pid(kid_t *k)
{
    return atomic_load_explicit(&k->pid, memory_order_acquire);
}
static inline void kid_fail_init(kid_t *k, bool on)
{
    /* Release: pairs with the acquire load in kid_init. */
    atomic_store_explicit(&k->fail_init, on, memory_order_release);
}

/* ------------------------------------------------------------------------ */
/* Fixture                                                                  */
/* ------------------------------------------------------------------------ */

static inline uint64_t real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * FDN_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static inline void pause_1ms(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

/* Bounded polling: fails the test if cond is not true within WAIT_NS. */
#define WAIT_FOR(cond)                                                       \
    do {                                                                     \
        uint64_t wait_t0 = real_now();                                       \
        while (!(cond)) {                                                    \
            cr_assert(real_now() - wait_t0 < WAIT_NS, "timed out: %s",      \
                      #cond);                                                \
            pause_1ms();                                                     \
        }                                                                    \
    } while (0)

static fdn_failing_allocator_t *g_fa;
static fdn_clock_t *g_clock;
static fdn_runtime_t *g_rt;
static fdn_ctx_t *g_ctx;

/* Messages received while looking for another one, kept for later. */
#define STASH_MAX 64
static fdn_msg_t *g_stash[STASH_MAX];
static int g_nstash;

/* Creates a runtime (virtual clock if asked) and attaches this thread. */
static inline void setup_rt(bool is_virtual)
{
    /* Relaxed: no runtime exists yet; creating it publishes the stores. */
    atomic_store_explicit(&g_term_seq, 0, memory_order_relaxed);
    atomic_store_explicit(&g_start_seq, 0, memory_order_relaxed);
    g_nstash = 0;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &g_fa), FDN_OK);
    g_clock = NULL;
    if (is_virtual)
        cr_assert_eq(fdn_clock_virtual_create(0, &g_clock), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 2;
    o.clock = g_clock;
    o.allocator = fdn_failing_allocator_get(g_fa);
    cr_assert_eq(fdn_runtime_create(&o, &g_rt), FDN_OK);
    cr_assert_eq(fdn_attach(g_rt, &g_ctx), FDN_OK);
}

/* Waits until only this thread is left, detaches, checks that no process
 * and no byte is left, and destroys everything. */
static inline void teardown_rt(void)
{
    for (int i = 0; i < g_nstash; i++)
        fdn_msg_free(g_ctx, g_stash[i]);
    g_nstash = 0;
    WAIT_FOR(fdn_runtime_process_count(g_rt) == 1);
    fdn_detach(g_ctx);
    WAIT_FOR(fdn_runtime_process_count(g_rt) == 0);
    fdn_runtime_destroy(g_rt);
    cr_assert_eq(fdn_failing_allocator_live(g_fa), 0);
    fdn_failing_allocator_destroy(g_fa);
    fdn_clock_destroy(g_clock);
}

/* ------------------------------------------------------------------------ */
/* Specs and calls                                                          */
/* ------------------------------------------------------------------------ */

static inline fdn_child_spec_t spec(const char *id, kid_t *k,
                                    fdn_restart_t restart,
                                    uint64_t shutdown_ns)
{
    fdn_child_spec_t c = {.id = id,
                          .behaviour = &kid_behaviour,
                          .arg = k,
                          .restart = restart,
                          .shutdown_ns = shutdown_ns};
    return c;
}

static inline fdn_child_spec_t sup_spec(const char *id,
                                        const fdn_supervisor_opts_t *o,
                                        fdn_restart_t restart)
{
    fdn_child_spec_t c = {.id = id,
                          .restart = restart,
                          .type = FDN_SUPERVISOR,
                          .supervisor = o};
    return c;
}

static inline fdn_supervisor_opts_t
sup_opts(fdn_strategy_t strategy, const fdn_child_spec_t *c, size_t n,
         uint32_t intensity, uint64_t period_ns)
{
    fdn_supervisor_opts_t o;
    fdn_supervisor_opts_init(&o);
    o.strategy = strategy;
    o.intensity = intensity;
    o.period_ns = period_ns;
    o.children = c;
    o.nchildren = n;
    return o;
}

static inline fdn_pid_t start_opts(const fdn_supervisor_opts_t *o)
{
    fdn_pid_t sup = FDN_PID_NONE;
    int rc = fdn_supervisor_start(NULL, g_ctx, o, false, &sup);
    cr_assert_eq(rc, FDN_OK, "start: %s", fdn_errname(rc));
    cr_assert_neq(sup, FDN_PID_NONE);
    return sup;
}

static inline fdn_pid_t which(fdn_pid_t sup, const char *id)
{
    fdn_pid_t pid = FDN_PID_NONE;
    int rc = fdn_supervisor_which(g_ctx, sup, id, &pid);
    cr_assert_eq(rc, FDN_OK, "which(%s): %s", id, fdn_errname(rc));
    return pid;
}

static inline fdn_supervisor_stats_t stats(fdn_pid_t sup)
{
    fdn_supervisor_stats_t st;
    int rc = fdn_supervisor_stats(g_ctx, sup, &st);
    cr_assert_eq(rc, FDN_OK, "stats: %s", fdn_errname(rc));
    return st;
}

static inline bool stats_are(fdn_pid_t sup, uint64_t restarts,
                             uint32_t active)
{
    fdn_supervisor_stats_t st = stats(sup);
    return st.restarts == restarts && st.active == active;
}

/* stats_are for a supervisor that may exit meanwhile: false (no failed
 * assertion) if the call fails. */
static inline bool stats_are_or_gone(fdn_pid_t sup, uint64_t restarts,
                                     uint32_t active)
{
    fdn_supervisor_stats_t st;
    return fdn_supervisor_stats(g_ctx, sup, &st) == FDN_OK &&
           st.restarts == restarts && st.active == active;
}

static inline fdn_supervisor_counts_t counts(fdn_pid_t sup)
{
    fdn_supervisor_counts_t n;
    int rc = fdn_supervisor_count_children(g_ctx, sup, &n);
    cr_assert_eq(rc, FDN_OK, "count_children: %s", fdn_errname(rc));
    return n;
}

/* The pid which_children lists for id (FDN_PID_NONE if not running), and
 * checks that id is listed at position `at` (-1: anywhere). */
static inline fdn_pid_t listed_pid(fdn_pid_t sup, const char *id, int at)
{
    fdn_child_info_t *list = NULL;
    size_t n = 0;
    int rc = fdn_supervisor_which_children(g_ctx, sup, &list, &n);
    cr_assert_eq(rc, FDN_OK, "which_children: %s", fdn_errname(rc));
    fdn_pid_t pid = FDN_PID_NONE;
    bool is_found = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].id, id) == 0) {
            cr_assert(at < 0 || (size_t)at == i, "%s listed at %zu", id, i);
            pid = list[i].pid;
            is_found = true;
        }
    }
    fdn_supervisor_children_free(g_rt, list);
    cr_assert(is_found, "%s not listed", id);
    return pid;
}

static inline void crash(fdn_pid_t pid, fdn_reason_t reason)
{
    cr_assert_eq(fdn_send(g_ctx, pid, TAG_CRASH, &reason, sizeof reason),
                 FDN_OK);
}

/* ------------------------------------------------------------------------ */
/* Receiving                                                                */
/* ------------------------------------------------------------------------ */

typedef bool (*msg_pred_fn)(const fdn_msg_t *m, uint64_t a, uint64_t b);

/* Returns the first message (stashed ones first) for which pred holds;
 * keeps the others for later.  Release it with fdn_msg_free. */
static inline fdn_msg_t *await_msg(msg_pred_fn pred, uint64_t a, uint64_t b)
{
    for (int i = 0; i < g_nstash; i++) {
        fdn_msg_t *m = g_stash[i];
        if (pred(m, a, b)) {
            memmove(&g_stash[i], &g_stash[i + 1],
                    (size_t)(g_nstash - i - 1) * sizeof g_stash[0]);
            g_nstash--;
            return m;
        }
    }
    uint64_t t0 = real_now();
    for (;;) {
        cr_assert(real_now() - t0 < WAIT_NS, "no message arrived");
        fdn_msg_t *m = NULL;
        int rc = fdn_receive(g_ctx, 100 * FDN_NS_PER_MS, &m);
        if (rc == FDN_ETIMEDOUT)
            continue;
        cr_assert_eq(rc, FDN_OK, "receive: %s", fdn_errname(rc));
        if (pred(m, a, b))
            return m;
        cr_assert_lt(g_nstash, STASH_MAX, "too many unexpected messages");
        g_stash[g_nstash++] = m;
    }
}

static inline bool is_down(const fdn_msg_t *m, uint64_t ref, uint64_t b)
{
    (void)b;
    return m->kind == FDN_MSG_DOWN && m->ref == ref;
}
static inline bool is_exit(const fdn_msg_t *m, uint64_t pid, uint64_t b)
{
    (void)b;
    return m->kind == FDN_MSG_EXIT && m->from == pid;
}
static inline bool is_user(const fdn_msg_t *m, uint64_t tag, uint64_t ref)
{
    return m->kind == FDN_MSG_USER && m->tag == tag && m->ref == ref;
}
static inline bool is_pong_or_down(const fdn_msg_t *m, uint64_t pid,
                                   uint64_t ref)
{
    return (m->kind == FDN_MSG_USER && m->tag == TAG_PONG && m->from == pid) ||
           (m->kind == FDN_MSG_DOWN && m->ref == ref);
}

/* Receives the DOWN of ref; returns its reason. */
static inline fdn_reason_t await_down(fdn_ref_t ref)
{
    fdn_msg_t *m = await_msg(is_down, ref, 0);
    fdn_reason_t reason = m->reason;
    fdn_msg_free(g_ctx, m);
    return reason;
}

/* Receives an EXIT from pid; returns its reason. */
static inline fdn_reason_t await_exit(fdn_pid_t pid)
{
    fdn_msg_t *m = await_msg(is_exit, pid, 0);
    fdn_reason_t reason = m->reason;
    fdn_msg_free(g_ctx, m);
    return reason;
}

/* Monitors pid and returns the ref. */
static inline fdn_ref_t watch(fdn_pid_t pid)
{
    fdn_ref_t ref;
    cr_assert_eq(fdn_monitor(g_ctx, pid, &ref), FDN_OK);
    return ref;
}

/* Sends sup an exit signal and returns its DOWN reason. */
static inline fdn_reason_t stop_sup(fdn_pid_t sup, fdn_reason_t reason)
{
    fdn_ref_t ref = watch(sup);
    cr_assert_eq(fdn_exit(g_rt, g_ctx, sup, reason), FDN_OK);
    return await_down(ref);
}

/*
 * True if kid process pid answers a ping: it is alive and no kill was
 * marked on it before the ping was sent (a marked kill takes effect
 * before its next message).  False if it dies instead.
 */
static inline bool answers_ping(fdn_pid_t pid)
{
    fdn_ref_t ref = watch(pid);
    cr_assert_eq(fdn_send(g_ctx, pid, TAG_PING, NULL, 0), FDN_OK);
    fdn_msg_t *m = await_msg(is_pong_or_down, pid, ref);
    bool is_pong = m->kind == FDN_MSG_USER;
    fdn_msg_free(g_ctx, m);
    if (is_pong)
        cr_assert_eq(fdn_demonitor(g_ctx, ref), FDN_OK);
    return is_pong;
}

/*
 * Advances the virtual clock by delta_ns and returns once every timer due
 * by then has been delivered to its process: a probe timer due at the new
 * time arrives, and a second timer set after it can only be set once the
 * timer thread's pass that fired the probe (it holds the timer lock while
 * it sends everything due) is over.  A synchronous call to a process
 * afterwards is handled after every timer message it got.
 */
static inline void advance(uint64_t delta_ns)
{
    fdn_ref_t probe;
    cr_assert_eq(fdn_send_after(g_rt, g_ctx, fdn_self(g_ctx), delta_ns,
                                TAG_PROBE, NULL, 0, &probe),
                 FDN_OK);
    cr_assert_eq(fdn_clock_advance(g_clock, delta_ns), FDN_OK);
    fdn_msg_free(g_ctx, await_msg(is_user, TAG_PROBE, probe));
    cr_assert_eq(fdn_send_after(g_rt, g_ctx, fdn_self(g_ctx), 0, TAG_PROBE,
                                NULL, 0, &probe),
                 FDN_OK);
    fdn_msg_free(g_ctx, await_msg(is_user, TAG_PROBE, probe));
}

#endif /* FDN_TESTS_SUP_TEST_H */
