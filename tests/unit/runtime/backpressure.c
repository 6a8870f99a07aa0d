/*
 * backpressure.c — runtime unit tests: bounded mailboxes (FDN_EFULL),
 * fdn_send_wait, runtime messages past the bound, the high-water mark,
 * and exact balance of sent and handled messages under contention.
 *
 * A "gate" process blocks inside its first handler call until the test
 * opens it (bounded by a deadline), so the test can fill its mailbox while
 * nothing drains it.
 */
#include "unit/runtime/rt_fixture.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

enum { T_BLOCK = 1, T_MSG = 2, T_TIMER = 3, T_STOP = 4 };

static void setup(void)
{
    rt_up(false);
}

static void teardown(void)
{
    rt_down();
}

TestSuite(backpressure, .init = setup, .fini = teardown);

/* ---- the gate ----------------------------------------------------------- */

struct gate {
    _Atomic bool is_blocked; /* inside the T_BLOCK handler */
    _Atomic bool is_open;    /* the test lets it go on */
    _Atomic uint64_t handled_msgs; /* T_MSG handled */
    _Atomic uint64_t timers;
    _Atomic uint64_t exits;  /* trapped EXIT messages */
};

static fdn_next_t gate_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    fdn_trap_exit(ctx, true);
    *state = arg;
    return FDN_CONTINUE;
}

static fdn_next_t gate_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    struct gate *g = state;
    if (m->kind == FDN_MSG_EXIT) {
        atomic_fetch_add_explicit(&g->exits, 1, memory_order_relaxed);
        return FDN_CONTINUE;
    }
    if (m->kind != FDN_MSG_USER)
        return FDN_CONTINUE;
    switch (m->tag) {
    case T_BLOCK: {
        /* Release/acquire: pairs with wait_blocked / open_gate. */
        atomic_store_explicit(&g->is_blocked, true, memory_order_release);
        uint64_t deadline = now_ns() + 20 * FDN_NS_PER_S;
        while (!atomic_load_explicit(&g->is_open, memory_order_acquire) &&
               now_ns() < deadline)
            sched_yield();
        atomic_store_explicit(&g->is_blocked, false, memory_order_release);
        break;
    }
    case T_MSG:
        atomic_fetch_add_explicit(&g->handled_msgs, 1, memory_order_relaxed);
        break;
    case T_TIMER:
        atomic_fetch_add_explicit(&g->timers, 1, memory_order_relaxed);
        break;
    case T_STOP:
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    default:
        break;
    }
    return FDN_CONTINUE;
}
static const fdn_behaviour_t gate_b = {
    .init = gate_init, .handle = gate_handle, .name = "gate"};

static struct gate g_gate;


/* Spawns a gate with the given bound and blocks it in its handler. */
static fdn_pid_t blocked_gate(uint32_t max_mailbox)
{
    memset(&g_gate, 0, sizeof g_gate);
    fdn_spawn_opts_t so = {.size = sizeof so, .max_mailbox = max_mailbox};
    fdn_pid_t pid;
    cr_assert_eq(fdn_spawn(rt, NULL, &gate_b, &g_gate, &so, &pid), FDN_OK);
    cr_assert_eq(fdn_send(me, pid, T_BLOCK, NULL, 0), FDN_OK);
    WAIT_FOR(atomic_load_explicit(&g_gate.is_blocked, memory_order_acquire));
    return pid;
}

static void open_gate(void)
{
    atomic_store_explicit(&g_gate.is_open, true, memory_order_release);
}

static void stop_and_wait(fdn_pid_t pid)
{
    fdn_ref_t mref;
    cr_assert_eq(fdn_monitor(me, pid, &mref), FDN_OK);
    cr_assert_eq(fdn_send_wait(me, pid, T_STOP, NULL, 0, 10 * FDN_NS_PER_S),
                 FDN_OK);
    for (;;) {
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, 10 * FDN_NS_PER_S, &m), FDN_OK);
        bool is_down = m->kind == FDN_MSG_DOWN && m->ref == mref;
        fdn_msg_free(me, m);
        if (is_down)
            break;
    }
}

static _Atomic int g_freed;
static void count_free(void *data, size_t size, void *arg)
{
    (void)data;
    (void)size;
    (void)arg;
    atomic_fetch_add_explicit(&g_freed, 1, memory_order_relaxed);
}

/* ---- tests ---------------------------------------------------------------- */

/* Checks: RT-C9, RT-C13 */
Test(backpressure, bounded_mailbox_refuses_user_messages_at_the_bound)
{
    fdn_pid_t g = blocked_gate(4);
    cr_assert_eq(info(g).max_mailbox, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(fdn_send(me, g, T_MSG, &i, sizeof i), FDN_OK);
    int x = 5;
    cr_assert_eq(fdn_send(me, g, T_MSG, &x, sizeof x), FDN_EFULL);
    /* A refused zero-copy send takes nothing: no destructor call. */
    atomic_store(&g_freed, 0);
    static char owned[8];
    cr_assert_eq(fdn_send_owned(me, g, T_MSG, owned, sizeof owned, count_free,
                                NULL),
                 FDN_EFULL);
    cr_assert_eq(atomic_load(&g_freed), 0);
    /* A request is a user message too. */
    fdn_ref_t r;
    cr_assert_eq(fdn_request(me, g, T_MSG, NULL, 0, FDN_INFINITY, &r),
                 FDN_EFULL);
    fdn_msg_t *reply;
    cr_assert_eq(fdn_call(me, g, T_MSG, NULL, 0, FDN_NS_PER_S, &reply),
                 FDN_EFULL);
    cr_assert_eq(info(g).requests, 0);
    fdn_process_info_t i = info(g);
    cr_assert_eq(i.mailbox_len, 4);
    cr_assert_eq(i.mailbox_hwm, 4);
    cr_assert_eq(i.monitored_by, 0, "the refused call left no monitor");

    /* Runtime messages are never refused: an exit signal (trapped) and a
     * timer message get in past the bound. */
    cr_assert_eq(fdn_exit(rt, me, g, FDN_REASON_USER), FDN_OK);
    fdn_ref_t tref;
    cr_assert_eq(fdn_send_after(rt, me, g, 0, T_TIMER, NULL, 0, &tref), FDN_OK);
    WAIT_FOR(info(g).mailbox_len == 6);
    cr_assert_eq(fdn_send(me, g, T_MSG, &x, sizeof x), FDN_EFULL);
    open_gate();
    WAIT_FOR(atomic_load(&g_gate.handled_msgs) == 4 &&
             atomic_load(&g_gate.timers) == 1 &&
             atomic_load(&g_gate.exits) == 1);
    WAIT_FOR(info(g).mailbox_len == 0);
    /* Room again. */
    cr_assert_eq(fdn_send(me, g, T_MSG, &x, sizeof x), FDN_OK);
    WAIT_FOR(atomic_load(&g_gate.handled_msgs) == 5);
    i = info(g);
    cr_assert_geq(i.mailbox_hwm, 4);
    cr_assert_leq(i.mailbox_hwm, 6);
    stop_and_wait(g);
}

/* Checks: RT-C10 */
Test(backpressure, send_wait_times_out_on_a_full_mailbox)
{
    fdn_pid_t g = blocked_gate(1);
    int v = 1;
    cr_assert_eq(fdn_send(me, g, T_MSG, &v, sizeof v), FDN_OK);
    uint64_t t0 = now_ns();
    cr_assert_eq(fdn_send_wait(me, g, T_MSG, &v, sizeof v, 30 * FDN_NS_PER_MS),
                 FDN_ETIMEDOUT);
    cr_assert_geq(now_ns() - t0, 30 * FDN_NS_PER_MS);
    cr_assert_eq(info(g).mailbox_len, 1, "nothing sent on timeout");
    /* Unbounded and not full: it is fdn_send. */
    open_gate();
    WAIT_FOR(info(g).mailbox_len == 0);
    cr_assert_eq(fdn_send_wait(me, g, T_MSG, &v, sizeof v, 0), FDN_OK);
    WAIT_FOR(atomic_load(&g_gate.handled_msgs) == 2);
    /* Bad arguments. */
    cr_assert_eq(fdn_send_wait(NULL, g, T_MSG, NULL, 0, 0), FDN_EINVAL);
    cr_assert_eq(fdn_send_wait(me, g, T_MSG, NULL, 4, 0), FDN_EINVAL);
    stop_and_wait(g);
}

/* A second attached thread waits in fdn_send_wait; it is woken by the
 * receiver taking a message, and returns FDN_OK. */
struct waiter {
    fdn_pid_t to;
    uint64_t timeout_ns;
    _Atomic int rc;       /* INT32_MIN while waiting */
    _Atomic bool is_started;
    _Atomic fdn_pid_t pid; /* the waiter's own pid */
    bool is_sender;       /* plain sends until killed, instead of one wait */
    _Atomic bool is_killed;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    fdn_ctx_t *ctx;
    if (fdn_attach(rt, &ctx) != FDN_OK) {
        atomic_store(&w->rc, -9999);
        return NULL;
    }
    atomic_store(&w->pid, fdn_self(ctx));
    atomic_store(&w->is_started, true);
    int v = 7;
    if (w->is_sender) {
        /* Send nothing until told the kill was made, then once. */
        while (!atomic_load(&w->is_killed))
            sched_yield();
        atomic_store(&w->rc, fdn_send(ctx, w->to, T_MSG, &v, sizeof v));
        fdn_detach(ctx);
        return NULL;
    }
    int rc = fdn_send_wait(ctx, w->to, T_MSG, &v, sizeof v, w->timeout_ns);
    atomic_store(&w->rc, rc);
    fdn_detach(ctx);
    return NULL;
}

/* A gate bounded at 1 and full, and a second attached thread blocked in
 * fdn_send_wait (no deadline) to it. */
static fdn_pid_t full_gate_with_waiter(struct waiter *w, pthread_t *th)
{
    fdn_pid_t g = blocked_gate(1);
    int v = 1;
    cr_assert_eq(fdn_send(me, g, T_MSG, &v, sizeof v), FDN_OK);
    memset(w, 0, sizeof *w);
    w->to = g;
    w->timeout_ns = FDN_INFINITY;
    atomic_init(&w->rc, INT32_MIN);
    atomic_init(&w->pid, FDN_PID_NONE);
    cr_assert_eq(pthread_create(th, NULL, waiter_main, w), 0);
    WAIT_FOR(atomic_load(&w->is_started));
    return g;
}

/* Checks: RT-C10 */
Test(backpressure, send_wait_is_woken_when_the_receiver_takes_a_message)
{
    struct waiter w;
    pthread_t th;
    fdn_pid_t g = full_gate_with_waiter(&w, &th);
    /* Still full: it waits (for a while at least). */
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 30 * FDN_NS_PER_MS, &m), FDN_ETIMEDOUT);
    cr_assert_eq(atomic_load(&w.rc), INT32_MIN);
    open_gate();
    WAIT_FOR(atomic_load(&w.rc) != INT32_MIN);
    cr_assert_eq(atomic_load(&w.rc), FDN_OK);
    pthread_join(th, NULL);
    WAIT_FOR(atomic_load(&g_gate.handled_msgs) == 2);
    stop_and_wait(g);
}

/* Checks: RT-C10 */
Test(backpressure, send_wait_returns_noproc_when_the_receiver_dies)
{
    struct waiter w;
    pthread_t th;
    fdn_pid_t g = full_gate_with_waiter(&w, &th);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 20 * FDN_NS_PER_MS, &m), FDN_ETIMEDOUT);
    /* KILL takes effect when the handler returns: open it then. */
    cr_assert_eq(fdn_exit(rt, me, g, FDN_REASON_KILL), FDN_OK);
    open_gate();
    WAIT_FOR(atomic_load(&w.rc) != INT32_MIN);
    cr_assert_eq(atomic_load(&w.rc), FDN_ENOPROC);
    pthread_join(th, NULL);
}

/* Destroying the runtime wakes a thread waiting in fdn_send_wait: it gets
 * FDN_ESHUTDOWN, detaches, and destroy completes. */
/* Checks: RT-C10, RT-F3 */
Test(backpressure, destroy_wakes_a_waiting_sender)
{
    struct waiter w;
    pthread_t th;
    (void)full_gate_with_waiter(&w, &th);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 20 * FDN_NS_PER_MS, &m), FDN_ETIMEDOUT);
    fdn_detach(me);
    me = NULL;
    open_gate(); /* lets destroy stop the gate after the waiter is gone */
    fdn_runtime_destroy(rt);
    cr_assert_eq(atomic_load(&w.rc), FDN_ESHUTDOWN);
    pthread_join(th, NULL);
    /* Teardown destroys again: make it a fresh, empty runtime. */
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 1;
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
}

/* From a process callback fdn_send_wait never blocks: FDN_ETHREAD. */
static _Atomic int g_cb_rc = INT32_MIN;
static fdn_next_t try_wait(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    if (m->kind == FDN_MSG_USER && m->tag == T_MSG) {
        fdn_pid_t to;
        memcpy(&to, m->data, sizeof to);
        atomic_store(&g_cb_rc, fdn_send_wait(ctx, to, T_MSG, NULL, 0, 0));
        return FDN_STOP;
    }
    return FDN_CONTINUE;
}

/* Checks: RT-C10, RT-C1 */
Test(backpressure, send_wait_from_a_process_is_ethread)
{
    static const fdn_behaviour_t b = {.handle = try_wait, .name = "tw"};
    fdn_pid_t p;
    cr_assert_eq(fdn_spawn(rt, NULL, &b, NULL, NULL, &p), FDN_OK);
    fdn_pid_t self = fdn_self(me);
    cr_assert_eq(fdn_send(me, p, T_MSG, &self, sizeof self), FDN_OK);
    WAIT_FOR(atomic_load(&g_cb_rc) != INT32_MIN);
    cr_assert_eq(atomic_load(&g_cb_rc), FDN_ETHREAD);
    WAIT_FOR(!fdn_alive(rt, p));
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 20 * FDN_NS_PER_MS, &m), FDN_ETIMEDOUT,
                 "nothing was sent");
}

/* ---- contention: counts balance exactly ---------------------------------- */

#define SENDERS 4
#define PER_SENDER 20000

struct counter {
    _Atomic uint64_t got[SENDERS];
    _Atomic uint64_t bad_order;
    uint32_t last[SENDERS];
};

static fdn_next_t counter_handle(fdn_ctx_t *ctx, void *state,
                                 const fdn_msg_t *m)
{
    (void)ctx;
    struct counter *c = state;
    if (m->kind != FDN_MSG_USER || m->tag != T_MSG || m->size != 8)
        return FDN_CONTINUE;
    uint32_t v[2];
    memcpy(v, m->data, sizeof v);
    if (v[0] >= SENDERS)
        return FDN_CONTINUE;
    /* Per sender, values arrive in the order sent (RT-S1). */
    if (v[1] != c->last[v[0]])
        atomic_fetch_add_explicit(&c->bad_order, 1, memory_order_relaxed);
    c->last[v[0]] = v[1] + 1;
    atomic_fetch_add_explicit(&c->got[v[0]], 1, memory_order_relaxed);
    return FDN_CONTINUE;
}
static fdn_next_t counter_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    *state = arg;
    return FDN_CONTINUE;
}
static const fdn_behaviour_t counter_b = {
    .init = counter_init, .handle = counter_handle, .name = "counter"};

struct sender {
    fdn_pid_t to;
    uint32_t id;
    bool is_waiting; /* fdn_send_wait; else fdn_send, retrying EFULL */
    pthread_barrier_t *start;
    uint64_t ok, full;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    fdn_ctx_t *ctx;
    if (fdn_attach(rt, &ctx) != FDN_OK)
        return NULL;
    pthread_barrier_wait(s->start);
    for (uint32_t i = 0; i < PER_SENDER;) {
        uint32_t v[2] = {s->id, i};
        int rc = s->is_waiting
                     ? fdn_send_wait(ctx, s->to, T_MSG, v, sizeof v, FDN_INFINITY)
                     : fdn_send(ctx, s->to, T_MSG, v, sizeof v);
        if (rc == FDN_OK) {
            s->ok++;
            i++;
        } else if (rc == FDN_EFULL) {
            s->full++;
            sched_yield();
        } else {
            break;
        }
    }
    fdn_detach(ctx);
    return NULL;
}

static void run_contention(uint32_t max_mailbox, bool is_waiting)
{
    static struct counter c;
    memset(&c, 0, sizeof c);
    fdn_spawn_opts_t so = {.size = sizeof so, .max_mailbox = max_mailbox};
    fdn_pid_t to;
    cr_assert_eq(fdn_spawn(rt, NULL, &counter_b, &c, &so, &to), FDN_OK);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, SENDERS);
    struct sender s[SENDERS];
    pthread_t th[SENDERS];
    for (uint32_t i = 0; i < SENDERS; i++) {
        s[i] = (struct sender){.to = to, .id = i, .is_waiting = is_waiting,
                               .start = &start};
        cr_assert_eq(pthread_create(&th[i], NULL, sender_main, &s[i]), 0);
    }
    uint64_t full = 0;
    for (uint32_t i = 0; i < SENDERS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(s[i].ok, PER_SENDER, "sender %u sent %" PRIu64, i,
                     s[i].ok);
        full += s[i].full;
    }
    pthread_barrier_destroy(&start);
    for (uint32_t i = 0; i < SENDERS; i++)
        WAIT_FOR(atomic_load(&c.got[i]) >= PER_SENDER);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 20 * FDN_NS_PER_MS, &m), FDN_ETIMEDOUT);
    for (uint32_t i = 0; i < SENDERS; i++)
        cr_assert_eq(atomic_load(&c.got[i]), PER_SENDER,
                     "sender %u: sent %d, handled %" PRIu64, i, PER_SENDER,
                     atomic_load(&c.got[i]));
    cr_assert_eq(atomic_load(&c.bad_order), 0);
    fdn_process_info_t i = info(to);
    cr_assert_eq(i.mailbox_len, 0);
    if (max_mailbox > 0)
        cr_assert_leq(i.mailbox_hwm, max_mailbox, "the bound held");
    cr_log_info("max_mailbox %u, %s: %" PRIu64 " EFULL retries, hwm %u",
                max_mailbox, is_waiting ? "send_wait" : "send", full,
                i.mailbox_hwm);
    cr_assert_eq(fdn_exit(rt, me, to, FDN_REASON_KILL), FDN_OK);
    WAIT_FOR(!fdn_alive(rt, to));
}

/* Checks: RT-S13, RT-S1 */
Test(backpressure, counts_balance_unbounded)
{
    run_contention(0, false);
}

/* Checks: RT-S13, RT-C9 */
Test(backpressure, counts_balance_bounded_with_retries)
{
    run_contention(8, false);
}

/* Checks: RT-S13, RT-C10 */
Test(backpressure, counts_balance_bounded_with_send_wait)
{
    run_contention(8, true);
}

/* An attached thread killed while it waits in fdn_send_wait is woken and
 * gets FDN_ENOPROC at once, its death complete (newcomer review: it slept
 * on, then sent). */
/* Checks: RT-C10, RT-S4 */
Test(backpressure, a_killed_waiting_sender_wakes_with_noproc)
{
    struct waiter w;
    pthread_t th;
    fdn_pid_t g = full_gate_with_waiter(&w, &th);
    fdn_pid_t wp = atomic_load(&w.pid);
    fdn_ref_t mref;
    cr_assert_eq(fdn_monitor(me, wp, &mref), FDN_OK);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 20 * FDN_NS_PER_MS, &m), FDN_ETIMEDOUT);
    cr_assert_eq(atomic_load(&w.rc), INT32_MIN, "still waiting");
    cr_assert_eq(fdn_exit(rt, me, wp, FDN_REASON_KILL), FDN_OK);
    WAIT_FOR(atomic_load(&w.rc) != INT32_MIN);
    cr_assert_eq(atomic_load(&w.rc), FDN_ENOPROC);
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->kind, FDN_MSG_DOWN);
    cr_assert_eq(m->reason, FDN_REASON_KILLED);
    fdn_msg_free(me, m);
    pthread_join(th, NULL);
    cr_assert_eq(info(g).mailbox_len, 1, "the killed thread sent nothing");
    open_gate();
    stop_and_wait(g);
}

/* The next call of a killed attached thread fails with FDN_ENOPROC and
 * runs its death: DOWN, not alive, before the thread ever receives. */
/* Checks: RT-S4, RT-C2 */
Test(backpressure, a_killed_attached_thread_dies_at_its_next_call)
{
    struct waiter w = {.to = FDN_PID_NONE, .timeout_ns = 0};
    atomic_init(&w.rc, INT32_MIN);
    atomic_init(&w.pid, FDN_PID_NONE);
    atomic_init(&w.is_killed, false);
    w.is_sender = true;
    w.to = fdn_self(me);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, waiter_main, &w), 0);
    WAIT_FOR(atomic_load(&w.pid) != FDN_PID_NONE);
    fdn_pid_t wp = atomic_load(&w.pid);
    fdn_ref_t mref;
    cr_assert_eq(fdn_monitor(me, wp, &mref), FDN_OK);
    cr_assert_eq(fdn_exit(rt, me, wp, FDN_REASON_KILL), FDN_OK);
    atomic_store(&w.is_killed, true);
    WAIT_FOR(atomic_load(&w.rc) != INT32_MIN);
    cr_assert_eq(atomic_load(&w.rc), FDN_ENOPROC);
    cr_assert(!fdn_alive(rt, wp));
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->kind, FDN_MSG_DOWN, "kind %d tag %u", (int)m->kind, m->tag);
    cr_assert_eq(m->reason, FDN_REASON_KILLED);
    fdn_msg_free(me, m);
    pthread_join(th, NULL);
}

/* Checks: RT-C17 */
Test(backpressure, notify_gets_past_the_bound_in_order)
{
    fdn_pid_t g = blocked_gate(2);
    int x = 1;
    cr_assert_eq(fdn_send(me, g, T_MSG, &x, sizeof x), FDN_OK);
    cr_assert_eq(fdn_send(me, g, T_MSG, &x, sizeof x), FDN_OK);
    cr_assert_eq(fdn_send(me, g, T_MSG, &x, sizeof x), FDN_EFULL);
    /* Service notifications are never refused. */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(fdn_runtime_notify(rt, g, T_MSG, &i, sizeof i), FDN_OK);
    WAIT_FOR(info(g).mailbox_len == 7);
    open_gate();
    WAIT_FOR(atomic_load(&g_gate.handled_msgs) == 7);
    stop_and_wait(g);
    /* The order, from an attached receiver; and the error cases. */
    for (int i = 0; i < 50; i++)
        cr_assert_eq(fdn_runtime_notify(rt, fdn_self(me), 9, &i, sizeof i),
                     FDN_OK);
    for (int i = 0; i < 50; i++) {
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, 10 * FDN_NS_PER_S, &m), FDN_OK);
        cr_assert_eq(m->kind, FDN_MSG_USER);
        cr_assert_eq(m->tag, 9);
        cr_assert_eq(m->from, FDN_PID_NONE);
        cr_assert_eq(*(const int *)m->data, i);
        fdn_msg_free(me, m);
    }
    cr_assert_eq(fdn_runtime_notify(rt, g, T_MSG, &x, sizeof x), FDN_ENOPROC);
    cr_assert_eq(fdn_runtime_notify(rt, FDN_PID_NONE, 1, NULL, 0),
                 FDN_ENOPROC);
    cr_assert_eq(fdn_runtime_notify(NULL, g, 1, NULL, 0), FDN_EINVAL);
    cr_assert_eq(fdn_runtime_notify(rt, fdn_self(me), 1, NULL, 4),
                 FDN_EINVAL);
}
