/*
 * signals.c — runtime unit tests: exit signals, links, trap_exit, monitors,
 * demonitor and callback monitors.
 *
 * Most tests drive "relay" processes: a relay obeys commands sent as USER
 * messages (link, unlink, monitor, trap, stop) and reports to the test's
 * attached thread every EXIT or DOWN it receives and its own terminate, so
 * the test can check what a process saw from the outside.
 */
#include "unit/runtime/death.h"

#include <criterion/criterion.h>
#include <foundation/runtime.h>

#include <stdatomic.h>
#include <string.h>
#include <time.h>

enum {
    T_PING = 1, /* relay answers T_PONG */
    T_PONG,
    T_STOP,   /* payload: reason */
    T_LINK,   /* payload: pid; answers T_RC */
    T_UNLINK, /* payload: pid; answers T_RC */
    T_MON,    /* payload: pid; answers T_RC with the ref */
    T_TRAP,   /* payload: int on; answers T_RC with the previous setting */
    T_RC,
    T_SEEN, /* an EXIT or DOWN the relay received */
    T_TERM  /* the relay's terminate ran */
};

/* What a relay reports. */
struct rep {
    int32_t kind;        /* FDN_MSG_EXIT / FDN_MSG_DOWN for T_SEEN */
    int32_t rc;          /* T_RC: the call's result */
    fdn_pid_t from;      /* T_SEEN: the message's from */
    fdn_ref_t ref;       /* T_SEEN: ref; T_RC of T_MON: the new ref */
    fdn_reason_t reason; /* T_SEEN, T_TERM */
    int64_t aux;         /* T_SEEN: callback monitors run so far */
};

static fdn_failing_allocator_t *fa;
static fdn_runtime_t *rt;
static fdn_ctx_t *me;
static fdn_pid_t report_to;

/* Callback monitors that ran, for RT-S9 (read by relays when they see a
 * DOWN or EXIT, so seq_cst keeps the reasoning simple in a test). */
static atomic_long cb_runs;

enum { MAX_TRACKED = 64 };
static fdn_pid_t tracked[MAX_TRACKED];
static int ntracked;

static void setup(void)
{
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 2;
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
    report_to = fdn_self(me);
    atomic_store(&cb_runs, 0);
    ntracked = 0;
}

static void wait_dead(fdn_pid_t pid)
{
    for (int i = 0; i < 5000 && fdn_alive(rt, pid); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    cr_assert(!fdn_alive(rt, pid), "process %llx still alive",
              (unsigned long long)pid);
}

static void teardown(void)
{
    for (int i = 0; i < ntracked; i++) {
        if (fdn_alive(rt, tracked[i]))
            fdn_exit(rt, NULL, tracked[i], FDN_REASON_KILL);
        wait_dead(tracked[i]);
    }
    fdn_detach(me);
    cr_expect_eq(fdn_runtime_process_count(rt), 0);
    fdn_runtime_destroy(rt);
    cr_expect_eq(fdn_failing_allocator_live(fa), 0, "leaked %lld allocations",
                 (long long)fdn_failing_allocator_live(fa));
    fdn_failing_allocator_destroy(fa);
}

TestSuite(signals, .init = setup, .fini = teardown);

static void report(fdn_ctx_t *ctx, uint32_t tag, const struct rep *r)
{
    int rc = fdn_send(ctx, report_to, tag, r, sizeof *r);
    (void)rc; /* the test thread may be gone when a relay dies late */
}

static fdn_next_t relay_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    struct rep r = {0};
    if (m->kind == FDN_MSG_EXIT || m->kind == FDN_MSG_DOWN) {
        r.kind = (int32_t)m->kind;
        r.from = m->from;
        r.ref = m->ref;
        r.reason = m->reason;
        r.aux = atomic_load(&cb_runs);
        report(ctx, T_SEEN, &r);
        return FDN_CONTINUE;
    }
    if (m->kind != FDN_MSG_USER)
        return FDN_CONTINUE;
    fdn_pid_t pid = 0;
    if (m->size >= sizeof pid)
        memcpy(&pid, m->data, sizeof pid);
    switch (m->tag) {
    case T_PING:
        report(ctx, T_PONG, &r);
        break;
    case T_STOP: {
        fdn_reason_t why;
        memcpy(&why, m->data, sizeof why);
        return fdn_stop(ctx, why);
    }
    case T_LINK:
        r.rc = fdn_link(ctx, pid);
        report(ctx, T_RC, &r);
        break;
    case T_UNLINK:
        r.rc = fdn_unlink(ctx, pid);
        report(ctx, T_RC, &r);
        break;
    case T_MON:
        r.rc = fdn_monitor(ctx, pid, &r.ref);
        report(ctx, T_RC, &r);
        break;
    case T_TRAP: {
        int on;
        memcpy(&on, m->data, sizeof on);
        r.rc = fdn_trap_exit(ctx, on != 0);
        report(ctx, T_RC, &r);
        break;
    }
    default:
        break;
    }
    return FDN_CONTINUE;
}

static void relay_term(fdn_ctx_t *ctx, void *state, fdn_reason_t reason)
{
    (void)state;
    struct rep r = {.reason = reason};
    report(ctx, T_TERM, &r);
}

static const fdn_behaviour_t relay = {
    .handle = relay_handle, .terminate = relay_term, .name = "relay"};

/* A relay that reports nothing on terminate (for noise-free DOWN tests). */
static const fdn_behaviour_t quiet = {.handle = relay_handle, .name = "quiet"};

static fdn_pid_t spawn_b(const fdn_behaviour_t *b, bool trap)
{
    fdn_spawn_opts_t o = {.size = sizeof o, .trap_exit = trap};
    fdn_pid_t pid;
    cr_assert_eq(fdn_spawn(rt, NULL, b, NULL, &o, &pid), FDN_OK);
    cr_assert(ntracked < MAX_TRACKED);
    tracked[ntracked++] = pid;
    return pid;
}

static fdn_pid_t spawn_relay(bool trap)
{
    return spawn_b(&relay, trap);
}

/* Receives the next message, which must be a USER message with tag. */
static struct rep expect_rep(uint32_t tag)
{
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK,
                 "no message while waiting for tag %u", tag);
    cr_assert_eq(m->kind, FDN_MSG_USER, "kind %d while waiting for tag %u",
                 (int)m->kind, tag);
    cr_assert_eq(m->tag, tag, "tag %u while waiting for tag %u", m->tag, tag);
    struct rep r;
    cr_assert_eq(m->size, sizeof r);
    memcpy(&r, m->data, sizeof r);
    fdn_msg_free(me, m);
    return r;
}

/* Receives the next message, which must be a DOWN with ref. */
static fdn_reason_t expect_down(fdn_ref_t ref, fdn_pid_t from)
{
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK,
                 "no DOWN arrived");
    cr_assert_eq(m->kind, FDN_MSG_DOWN, "kind %d, tag %u instead of DOWN",
                 (int)m->kind, m->tag);
    cr_assert_eq(m->ref, ref);
    cr_assert_eq(m->from, from);
    fdn_reason_t why = m->reason;
    fdn_msg_free(me, m);
    return why;
}

static void expect_nothing(void)
{
    fdn_msg_t *m;
    int rc = fdn_receive(me, 30 * FDN_NS_PER_MS, &m);
    if (rc == FDN_OK) {
        cr_assert_fail("unexpected message kind %d tag %u reason %lld",
                       (int)m->kind, m->tag, (long long)m->reason);
    }
    cr_assert_eq(rc, FDN_ETIMEDOUT);
}

static void cmd(fdn_pid_t to, uint32_t tag, const void *data, size_t size)
{
    cr_assert_eq(fdn_send(me, to, tag, data, size), FDN_OK);
}

static void cmd_pid(fdn_pid_t to, uint32_t tag, fdn_pid_t arg, int want_rc)
{
    cmd(to, tag, &arg, sizeof arg);
    struct rep r = expect_rep(T_RC);
    cr_assert_eq(r.rc, want_rc, "command %u gave %d, want %d", tag, r.rc,
                 want_rc);
}

static void stop_with(fdn_pid_t to, fdn_reason_t why)
{
    cmd(to, T_STOP, &why, sizeof why);
}

/* A round trip through p: proves p is alive and has handled everything
 * enqueued to it before. */
static void ping(fdn_pid_t p)
{
    cmd(p, T_PING, NULL, 0);
    (void)expect_rep(T_PONG);
    cr_assert(fdn_alive(rt, p));
}

/* Checks: RT-S5 */
Test(signals, link_normal_exit_does_not_kill)
{
    fdn_pid_t a = spawn_relay(false), b = spawn_relay(false);
    cmd_pid(a, T_LINK, b, FDN_OK);
    stop_with(b, FDN_REASON_NORMAL);
    cr_assert_eq(expect_rep(T_TERM).reason, FDN_REASON_NORMAL);
    /* Once b's death is complete its link signal to a is in a's mailbox,
     * so the ping below is handled after it (fdn_alive turns false too
     * early for that: RT-S11). */
    fdn_test_wait_death_complete(rt, b);
    ping(a);
    stop_with(a, FDN_REASON_NORMAL);
    cr_assert_eq(expect_rep(T_TERM).reason, FDN_REASON_NORMAL);
    wait_dead(a);
}

/* Checks: RT-S5, RT-S6 */
Test(signals, link_abnormal_exit_kills_with_that_reason)
{
    const fdn_reason_t reasons[] = {FDN_REASON_SHUTDOWN, FDN_REASON_USER,
                                    FDN_REASON_USER + 42, INT64_MAX};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        fdn_pid_t a = spawn_b(&quiet, false), b = spawn_b(&quiet, false);
        fdn_ref_t ma, mb;
        cr_assert_eq(fdn_monitor(me, a, &ma), FDN_OK);
        cr_assert_eq(fdn_monitor(me, b, &mb), FDN_OK);
        /* Link from either side: both directions carry the signal. */
        if (i % 2 == 0)
            cmd_pid(a, T_LINK, b, FDN_OK);
        else
            cmd_pid(b, T_LINK, a, FDN_OK);
        stop_with(b, reasons[i]);
        cr_assert_eq(expect_down(mb, b), reasons[i]);
        cr_assert_eq(expect_down(ma, a), reasons[i],
                     "linked process died with another reason");
        wait_dead(a);
        wait_dead(b);
    }
}

/* Checks: RT-S5, RT-S6 */
Test(signals, trap_exit_turns_signals_into_messages)
{
    fdn_pid_t a = spawn_relay(false);
    int on = 1;
    cmd(a, T_TRAP, &on, sizeof on);
    cr_assert_eq(expect_rep(T_RC).rc, 0, "trap_exit was already on");
    cmd(a, T_TRAP, &on, sizeof on);
    cr_assert_eq(expect_rep(T_RC).rc, 1, "trap_exit did not stick");

    /* A linked process's exit, normal or not, arrives as EXIT. */
    const fdn_reason_t reasons[] = {FDN_REASON_NORMAL, FDN_REASON_USER + 7,
                                    FDN_REASON_SHUTDOWN};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        fdn_pid_t b = spawn_b(&quiet, false);
        cmd_pid(a, T_LINK, b, FDN_OK);
        stop_with(b, reasons[i]);
        struct rep r = expect_rep(T_SEEN);
        cr_assert_eq(r.kind, FDN_MSG_EXIT);
        cr_assert_eq(r.from, b);
        cr_assert_eq(r.reason, reasons[i]);
        wait_dead(b);
    }
    /* fdn_exit from a process and from no process. */
    cr_assert_eq(fdn_exit(rt, me, a, FDN_REASON_USER + 9), FDN_OK);
    struct rep r = expect_rep(T_SEEN);
    cr_assert_eq(r.kind, FDN_MSG_EXIT);
    cr_assert_eq(r.from, fdn_self(me));
    cr_assert_eq(r.reason, FDN_REASON_USER + 9);
    cr_assert_eq(fdn_exit(rt, NULL, a, FDN_REASON_NORMAL), FDN_OK);
    r = expect_rep(T_SEEN);
    cr_assert_eq(r.kind, FDN_MSG_EXIT);
    cr_assert_eq(r.from, FDN_PID_NONE);
    cr_assert_eq(r.reason, FDN_REASON_NORMAL);
    ping(a);

    /* Trapping off again: an abnormal signal kills. */
    on = 0;
    cmd(a, T_TRAP, &on, sizeof on);
    cr_assert_eq(expect_rep(T_RC).rc, 1);
    cr_assert_eq(fdn_exit(rt, NULL, a, FDN_REASON_USER + 10), FDN_OK);
    cr_assert_eq(expect_rep(T_TERM).reason, FDN_REASON_USER + 10);
    wait_dead(a);
}

/* Checks: RT-S5 */
Test(signals, exit_signal_to_non_trapping_process)
{
    fdn_pid_t a = spawn_relay(false);
    /* NORMAL from another process (or from none) is ignored. */
    cr_assert_eq(fdn_exit(rt, me, a, FDN_REASON_NORMAL), FDN_OK);
    cr_assert_eq(fdn_exit(rt, NULL, a, FDN_REASON_NORMAL), FDN_OK);
    ping(a);
    cr_assert_eq(fdn_exit(rt, me, a, FDN_REASON_USER + 5), FDN_OK);
    cr_assert_eq(expect_rep(T_TERM).reason, FDN_REASON_USER + 5);
    wait_dead(a);
    cr_assert_eq(fdn_exit(rt, me, a, FDN_REASON_USER + 5), FDN_ENOPROC);
    cr_assert_eq(fdn_exit(rt, NULL, a, FDN_REASON_KILL), FDN_ENOPROC);
    cr_assert_eq(fdn_exit(rt, NULL, FDN_PID_NONE, FDN_REASON_KILL),
                 FDN_ENOPROC);
}

/* Checks: RT-S4 */
Test(signals, kill_kills_a_trapping_process_with_killed)
{
    fdn_pid_t a = spawn_relay(true);
    fdn_pid_t w = spawn_relay(true); /* linked watcher, trapping */
    cmd_pid(w, T_LINK, a, FDN_OK);
    fdn_ref_t ref;
    cr_assert_eq(fdn_monitor(me, a, &ref), FDN_OK);
    /* A trapped non-KILL signal does not kill. */
    cr_assert_eq(fdn_exit(rt, NULL, a, FDN_REASON_SHUTDOWN), FDN_OK);
    struct rep r = expect_rep(T_SEEN);
    cr_assert_eq(r.kind, FDN_MSG_EXIT);
    cr_assert_eq(r.reason, FDN_REASON_SHUTDOWN);
    ping(a);

    cr_assert_eq(fdn_exit(rt, me, a, FDN_REASON_KILL), FDN_OK);
    /* terminate, then DOWN to me and the link's EXIT to w. */
    cr_assert_eq(expect_rep(T_TERM).reason, FDN_REASON_KILLED);
    cr_assert_eq(expect_down(ref, a), FDN_REASON_KILLED);
    r = expect_rep(T_SEEN);
    cr_assert_eq(r.kind, FDN_MSG_EXIT);
    cr_assert_eq(r.from, a);
    cr_assert_eq(r.reason, FDN_REASON_KILLED);
    wait_dead(a);
    ping(w);
    fdn_ref_t wr;
    cr_assert_eq(fdn_monitor(me, w, &wr), FDN_OK);
    cr_assert_eq(fdn_exit(rt, NULL, w, FDN_REASON_KILL), FDN_OK);
    cr_assert_eq(expect_rep(T_TERM).reason, FDN_REASON_KILLED);
    cr_assert_eq(expect_down(wr, w), FDN_REASON_KILLED);
    wait_dead(w);
}

/* Checks: RT-S6, RT-L2 */
Test(signals, custom_reasons_arrive_unchanged)
{
    const fdn_reason_t reasons[] = {FDN_REASON_USER, FDN_REASON_USER + 1,
                                    FDN_REASON_USER + 123456789, INT64_MAX};
    fdn_pid_t w = spawn_relay(true);
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        fdn_pid_t t = spawn_b(&quiet, false);
        fdn_ref_t ref;
        cr_assert_eq(fdn_monitor(me, t, &ref), FDN_OK);
        cmd_pid(w, T_LINK, t, FDN_OK);
        stop_with(t, reasons[i]);
        cr_assert_eq(expect_down(ref, t), reasons[i]);
        struct rep r = expect_rep(T_SEEN);
        cr_assert_eq(r.kind, FDN_MSG_EXIT);
        cr_assert_eq(r.from, t);
        cr_assert_eq(r.reason, reasons[i]);
        wait_dead(t);
    }
    /* A trapped exit signal sent with fdn_exit keeps its reason too. */
    cr_assert_eq(fdn_exit(rt, NULL, w, FDN_REASON_USER + 77), FDN_OK);
    struct rep r = expect_rep(T_SEEN);
    cr_assert_eq(r.reason, FDN_REASON_USER + 77);
    ping(w);
}

/* Checks: RT-L2, RT-S3 */
Test(signals, one_down_per_monitor)
{
    enum { NMON = 5 };
    fdn_pid_t t = spawn_b(&quiet, false);
    fdn_pid_t w = spawn_relay(false);
    fdn_ref_t refs[NMON];
    for (int i = 0; i < NMON; i++) {
        cr_assert_eq(fdn_monitor(me, t, &refs[i]), FDN_OK);
        cr_assert_neq(refs[i], FDN_REF_NONE);
        for (int j = 0; j < i; j++)
            cr_assert_neq(refs[i], refs[j], "monitor refs repeat");
    }
    /* A process watcher with two monitors on the same target. */
    fdn_pid_t arg = t;
    cmd(w, T_MON, &arg, sizeof arg);
    fdn_ref_t wref1 = expect_rep(T_RC).ref;
    cmd(w, T_MON, &arg, sizeof arg);
    fdn_ref_t wref2 = expect_rep(T_RC).ref;
    cr_assert_neq(wref1, wref2);

    stop_with(t, FDN_REASON_USER + 3);
    bool seen[NMON] = {false};
    int wseen1 = 0, wseen2 = 0;
    for (int k = 0; k < NMON + 2; k++) {
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
        if (m->kind == FDN_MSG_DOWN) {
            int idx = -1;
            for (int i = 0; i < NMON; i++)
                if (refs[i] == m->ref)
                    idx = i;
            cr_assert_geq(idx, 0, "DOWN with an unknown ref");
            cr_assert(!seen[idx], "two DOWNs for one monitor");
            seen[idx] = true;
            cr_assert_eq(m->from, t);
            cr_assert_eq(m->reason, FDN_REASON_USER + 3);
        } else {
            cr_assert_eq(m->kind, FDN_MSG_USER);
            cr_assert_eq(m->tag, T_SEEN);
            struct rep r;
            memcpy(&r, m->data, sizeof r);
            cr_assert_eq(r.kind, FDN_MSG_DOWN);
            cr_assert_eq(r.from, t);
            cr_assert_eq(r.reason, FDN_REASON_USER + 3);
            if (r.ref == wref1)
                wseen1++;
            else if (r.ref == wref2)
                wseen2++;
            else
                cr_assert_fail("relay saw a DOWN with an unknown ref");
        }
        fdn_msg_free(me, m);
    }
    cr_assert_eq(wseen1, 1);
    cr_assert_eq(wseen2, 1);
    wait_dead(t);
    ping(w);
    expect_nothing();
    /* Delivered monitors are gone. */
    for (int i = 0; i < NMON; i++)
        cr_assert_eq(fdn_demonitor(me, refs[i]), FDN_ENOENT);
}

/* Checks: RT-L2 */
Test(signals, monitor_of_dead_or_unknown_pid_is_noproc_at_once)
{
    fdn_pid_t t = spawn_b(&quiet, false);
    stop_with(t, FDN_REASON_NORMAL);
    wait_dead(t);
    const fdn_pid_t pids[] = {
        t,                                      /* dead */
        ((fdn_pid_t)0xfffffff0u << 32) | 1u,    /* slot 1, future generation */
        ((fdn_pid_t)1 << 32) | 0x7ffffff0u,     /* slot far out of the table */
        FDN_PID_NONE,
    };
    for (size_t i = 0; i < sizeof pids / sizeof pids[0]; i++) {
        fdn_ref_t ref = FDN_REF_NONE;
        cr_assert_eq(fdn_monitor(me, pids[i], &ref), FDN_OK);
        cr_assert_neq(ref, FDN_REF_NONE);
        fdn_msg_t *m;
        /* "At once": already queued when fdn_monitor returns. */
        cr_assert_eq(fdn_receive(me, 0, &m), FDN_OK, "no immediate DOWN for %zu",
                     i);
        cr_assert_eq(m->kind, FDN_MSG_DOWN);
        cr_assert_eq(m->ref, ref);
        cr_assert_eq(m->from, pids[i]);
        cr_assert_eq(m->reason, FDN_REASON_NOPROC);
        fdn_msg_free(me, m);
        cr_assert_eq(fdn_demonitor(me, ref), FDN_ENOENT);
    }
    expect_nothing();
}

/* Checks: RT-S3 */
Test(signals, demonitor_before_death_stops_the_down)
{
    fdn_pid_t t = spawn_b(&quiet, false);
    fdn_ref_t keep, drop;
    cr_assert_eq(fdn_monitor(me, t, &drop), FDN_OK);
    cr_assert_eq(fdn_monitor(me, t, &keep), FDN_OK);
    cr_assert_eq(fdn_demonitor(me, drop), FDN_OK);
    cr_assert_eq(fdn_demonitor(me, drop), FDN_ENOENT);
    stop_with(t, FDN_REASON_USER + 1);
    cr_assert_eq(expect_down(keep, t), FDN_REASON_USER + 1);
    wait_dead(t);
    expect_nothing();
    cr_assert_eq(fdn_demonitor(me, 12345), FDN_ENOENT);
}

/* Checks: RT-S3 */
Test(signals, demonitor_drops_a_queued_down)
{
    for (int round = 0; round < 20; round++) {
        fdn_pid_t t = spawn_b(&quiet, false);
        fdn_ref_t ref, other;
        cr_assert_eq(fdn_monitor(me, t, &ref), FDN_OK);
        cr_assert_eq(fdn_monitor(me, t, &other), FDN_OK);
        cr_assert_eq(fdn_exit(rt, NULL, t, FDN_REASON_KILL), FDN_OK);
        /* Once t is not alive both DOWNs sit in our mailbox. */
        wait_dead(t);
        cr_assert_eq(fdn_demonitor(me, ref), FDN_OK,
                     "a queued DOWN's monitor must still be removable");
        cr_assert_eq(expect_down(other, t), FDN_REASON_KILLED);
        expect_nothing();
        cr_assert_eq(fdn_demonitor(me, other), FDN_ENOENT);
        ntracked = 0;
    }
}

/* Counts runs; a wrong pid or reason counts as a thousand runs so the
 * test thread sees it (Criterion asserts belong on the test thread). */
static void count_cb(void *arg, fdn_pid_t pid, fdn_reason_t reason)
{
    const fdn_pid_t *want = arg;
    bool ok = pid == *want && reason == FDN_REASON_USER + 11;
    atomic_fetch_add(&cb_runs, ok ? 1 : 1000);
}

/* Checks: RT-S9 */
Test(signals, callback_monitors_run_before_down_and_link_signals)
{
    enum { NCB = 3, ROUNDS = 30 };
    fdn_pid_t w = spawn_relay(true);
    for (int round = 0; round < ROUNDS; round++) {
        atomic_store(&cb_runs, 0);
        fdn_pid_t t = spawn_b(&quiet, false);
        static fdn_pid_t target;
        target = t;
        fdn_ref_t cbref[NCB];
        for (int i = 0; i < NCB; i++)
            cr_assert_eq(fdn_monitor_fn(rt, t, count_cb, &target, &cbref[i]),
                         FDN_OK);
        fdn_ref_t mref;
        cr_assert_eq(fdn_monitor(me, t, &mref), FDN_OK);
        cmd_pid(w, T_LINK, t, FDN_OK);
        fdn_pid_t arg = t;
        cmd(w, T_MON, &arg, sizeof arg);
        fdn_ref_t wref = expect_rep(T_RC).ref;

        stop_with(t, FDN_REASON_USER + 11);
        /* Our DOWN: every callback ran before it was sent. */
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
        long seen_runs = atomic_load(&cb_runs);
        cr_assert_eq(m->kind, FDN_MSG_DOWN);
        cr_assert_eq(m->ref, mref);
        cr_assert_eq(m->reason, FDN_REASON_USER + 11);
        fdn_msg_free(me, m);
        cr_assert_eq(seen_runs, NCB, "DOWN arrived after %ld of %d callbacks",
                     seen_runs, NCB);
        /* The relay's DOWN and EXIT, in either order, also came after. */
        bool got_down = false, got_exit = false;
        for (int k = 0; k < 2; k++) {
            struct rep r = expect_rep(T_SEEN);
            cr_assert_eq(r.from, t);
            cr_assert_eq(r.aux, NCB, "watcher saw %d before callbacks ran",
                         r.kind);
            if (r.kind == FDN_MSG_DOWN) {
                cr_assert_eq(r.ref, wref);
                got_down = true;
            } else {
                cr_assert_eq(r.kind, FDN_MSG_EXIT);
                got_exit = true;
            }
        }
        cr_assert(got_down && got_exit);
        wait_dead(t);
        /* Callbacks that ran cannot be cancelled. */
        for (int i = 0; i < NCB; i++)
            cr_assert_eq(fdn_monitor_fn_cancel(rt, t, cbref[i]), FDN_ENOENT);
        cr_assert_eq(atomic_load(&cb_runs), NCB, "a callback ran twice");
        ntracked = 1; /* keep only w */
    }
}

static void never_cb(void *arg, fdn_pid_t pid, fdn_reason_t reason)
{
    (void)arg;
    (void)pid;
    (void)reason;
    atomic_fetch_add(&cb_runs, 1000);
}

/* Checks: RT-S9 */
Test(signals, callback_monitor_on_dead_pid_and_cancel)
{
    fdn_pid_t t = spawn_b(&quiet, false);
    fdn_ref_t ref = FDN_REF_NONE;
    /* Cancel before death: fn never runs. */
    cr_assert_eq(fdn_monitor_fn(rt, t, never_cb, NULL, &ref), FDN_OK);
    cr_assert_neq(ref, FDN_REF_NONE);
    cr_assert_eq(fdn_monitor_fn_cancel(rt, t, ref), FDN_OK);
    cr_assert_eq(fdn_monitor_fn_cancel(rt, t, ref), FDN_ENOENT);
    /* Unknown ref on a live pid; a message monitor's ref is not a callback
     * monitor's. */
    cr_assert_eq(fdn_monitor_fn_cancel(rt, t, ref + 1000), FDN_ENOENT);
    fdn_ref_t mref;
    cr_assert_eq(fdn_monitor(me, t, &mref), FDN_OK);
    cr_assert_eq(fdn_monitor_fn_cancel(rt, t, mref), FDN_ENOENT);

    stop_with(t, FDN_REASON_USER + 2);
    cr_assert_eq(expect_down(mref, t), FDN_REASON_USER + 2);
    wait_dead(t);
    cr_assert_eq(atomic_load(&cb_runs), 0, "a cancelled callback ran");

    /* Dead, never-existing and NONE pids: ENOPROC, fn never runs. */
    const fdn_pid_t pids[] = {t, ((fdn_pid_t)0xfffffff0u << 32) | 1u,
                              ((fdn_pid_t)1 << 32) | 0x7ffffff0u, FDN_PID_NONE};
    for (size_t i = 0; i < sizeof pids / sizeof pids[0]; i++) {
        fdn_ref_t r2 = 77;
        cr_assert_eq(fdn_monitor_fn(rt, pids[i], never_cb, NULL, &r2),
                     FDN_ENOPROC, "pid %zu", i);
        cr_assert_eq(fdn_monitor_fn_cancel(rt, pids[i], r2), FDN_ENOENT);
    }
    cr_assert_eq(atomic_load(&cb_runs), 0);
    expect_nothing();
}

/* Checks: RT-S5 */
Test(signals, link_to_dead_pid_is_noproc)
{
    fdn_pid_t t = spawn_b(&quiet, false);
    stop_with(t, FDN_REASON_NORMAL);
    wait_dead(t);
    cr_assert_eq(fdn_link(me, t), FDN_ENOPROC);
    cr_assert_eq(fdn_link(me, ((fdn_pid_t)0xfffffff0u << 32) | 1u), FDN_ENOPROC);
    cr_assert_eq(fdn_link(me, ((fdn_pid_t)1 << 32) | 0x7ffffff0u), FDN_ENOPROC);
    cr_assert_eq(fdn_link(me, FDN_PID_NONE), FDN_ENOPROC);
    /* From a process too. */
    fdn_pid_t a = spawn_relay(false);
    cmd_pid(a, T_LINK, t, FDN_ENOPROC);
    ping(a);
    /* Unlinking something never linked is fine. */
    cr_assert_eq(fdn_unlink(me, a), FDN_OK);
    cr_assert_eq(fdn_unlink(me, t), FDN_OK);
}

/* Checks: RT-S5 */
Test(signals, unlink_prevents_the_exit_signal)
{
    /* Between two processes, unlinked from either side. */
    for (int side = 0; side < 2; side++) {
        fdn_pid_t a = spawn_relay(false), b = spawn_b(&quiet, false);
        cmd_pid(a, T_LINK, b, FDN_OK);
        cmd_pid(a, T_LINK, b, FDN_OK); /* idempotent: still one link */
        if (side == 0) {
            cmd_pid(a, T_UNLINK, b, FDN_OK);
        } else {
            cmd_pid(b, T_UNLINK, a, FDN_OK);
        }
        fdn_ref_t ref;
        cr_assert_eq(fdn_monitor(me, b, &ref), FDN_OK);
        stop_with(b, FDN_REASON_USER + 1);
        cr_assert_eq(expect_down(ref, b), FDN_REASON_USER + 1);
        wait_dead(b);
        ping(a);
        stop_with(a, FDN_REASON_NORMAL);
        cr_assert_eq(expect_rep(T_TERM).reason, FDN_REASON_NORMAL);
        wait_dead(a);
    }
    /* The attached thread: link, unlink, the target dies abnormally, we
     * live on. */
    fdn_pid_t c = spawn_b(&quiet, false);
    cr_assert_eq(fdn_link(me, c), FDN_OK);
    cr_assert_eq(fdn_unlink(me, c), FDN_OK);
    fdn_ref_t ref;
    cr_assert_eq(fdn_monitor(me, c, &ref), FDN_OK);
    stop_with(c, FDN_REASON_USER + 4);
    cr_assert_eq(expect_down(ref, c), FDN_REASON_USER + 4);
    wait_dead(c);
    expect_nothing();
    cr_assert(fdn_alive(rt, fdn_self(me)));
}

/* Checks: RT-S5 */
Test(signals, linked_attached_thread_dies_of_abnormal_exit)
{
    /* Run on a second attached thread's ctx? The main ctx is enough: after
     * it dies, receive returns ENOPROC and detach still works (teardown). */
    fdn_pid_t c = spawn_b(&quiet, false);
    cr_assert_eq(fdn_link(me, c), FDN_OK);
    stop_with(c, FDN_REASON_USER + 8);
    fdn_msg_t *m = NULL;
    int rc = FDN_OK;
    for (int i = 0; i < 5000 && rc != FDN_ENOPROC; i++) {
        rc = fdn_receive(me, FDN_NS_PER_MS, &m);
        if (rc == FDN_OK)
            fdn_msg_free(me, m);
    }
    cr_assert_eq(rc, FDN_ENOPROC);
    cr_assert(!fdn_alive(rt, report_to));
    wait_dead(c);
}

/* A slow callback monitor: says it is running, then takes 20 ms. */
static _Atomic bool slow_cb_running;
static void slow_cb(void *arg, fdn_pid_t pid, fdn_reason_t reason)
{
    (void)arg;
    (void)pid;
    (void)reason;
    atomic_store_explicit(&slow_cb_running, true, memory_order_release);
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
}

/*
 * Monitoring or linking to a process whose death has begun but whose
 * callback monitors are still running: the noproc DOWN (or FDN_ENOPROC)
 * comes only once its pid is no longer alive, so whoever hears "no such
 * process" finds fdn_alive false (found by the newcomer review: the DOWN
 * came while fdn_alive was still true and services still listed it).
 */
/* Checks: RT-S11, RT-L2 */
Test(signals, noproc_for_a_dying_process_waits_until_it_is_dead)
{
    for (int round = 0; round < 3; round++) {
        fdn_pid_t t = spawn_b(&quiet, false);
        fdn_ref_t cb;
        atomic_store(&slow_cb_running, false);
        cr_assert_eq(fdn_monitor_fn(rt, t, slow_cb, NULL, &cb), FDN_OK);
        stop_with(t, FDN_REASON_USER);
        for (int i = 0; i < 5000 && !atomic_load_explicit(&slow_cb_running,
                                                          memory_order_acquire);
             i++) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
        cr_assert(atomic_load(&slow_cb_running));
        cr_assert(fdn_alive(rt, t), "the callback is still running");
        if (round == 0) {
            fdn_ref_t ref;
            cr_assert_eq(fdn_monitor(me, t, &ref), FDN_OK);
            fdn_msg_t *m;
            cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
            cr_assert_eq(m->kind, FDN_MSG_DOWN);
            cr_assert_eq(m->reason, FDN_REASON_NOPROC);
            fdn_msg_free(me, m);
        } else if (round == 1) {
            cr_assert_eq(fdn_link(me, t), FDN_ENOPROC);
        } else {
            fdn_ref_t ref2;
            cr_assert_eq(fdn_monitor_fn(rt, t, never_cb, NULL, &ref2),
                         FDN_ENOPROC);
        }
        cr_assert(!fdn_alive(rt, t), "round %d: told noproc while alive",
                  round);
        wait_dead(t);
    }
}
