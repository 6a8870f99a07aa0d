/*
 * fault.c — runtime unit tests: allocation-failure sweeps and bad
 * arguments.
 *
 * A sweep fails the N-th allocation of one call for N = 1, 2, ... until the
 * call succeeds.  Every failure must return FDN_ENOMEM and leave nothing
 * behind: the process count, the live allocation count and the test's
 * mailbox are as before, and the runtime keeps working.
 */
#include <criterion/criterion.h>
#include <foundation/runtime.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { T_DATA = 1, T_STOP = 2 };
enum { MAX_SWEEP = 64 };

static fdn_failing_allocator_t *fa;
static fdn_runtime_t *rt;
static fdn_ctx_t *me;

static atomic_long handled;
static atomic_int reply_rc;
static atomic_int inits;

static void setup(void)
{
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 2;
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
    atomic_store(&handled, 0);
    atomic_store(&reply_rc, 1);
    atomic_store(&inits, 0);
}

static void teardown(void)
{
    fdn_failing_allocator_arm(fa, 0, false);
    if (me)
        fdn_detach(me);
    me = NULL;
    if (rt) {
        cr_expect_eq(fdn_runtime_process_count(rt), 0);
        fdn_runtime_destroy(rt);
    }
    rt = NULL;
    cr_expect_eq(fdn_failing_allocator_live(fa), 0, "leaked %lld allocations",
                 (long long)fdn_failing_allocator_live(fa));
    fdn_failing_allocator_destroy(fa);
}

TestSuite(fault, .init = setup, .fini = teardown);

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void wait_dead(fdn_pid_t pid)
{
    for (int i = 0; i < 5000 && fdn_alive(rt, pid); i++)
        sleep_ms(1);
    cr_assert(!fdn_alive(rt, pid));
}

static void expect_empty_mailbox(void)
{
    fdn_msg_t *m;
    int rc = fdn_receive(me, 5 * FDN_NS_PER_MS, &m);
    if (rc == FDN_OK)
        cr_assert_fail("unexpected message kind %d tag %u", (int)m->kind,
                       m->tag);
    cr_assert_eq(rc, FDN_ETIMEDOUT);
}

/* A server: counts USER messages, replies to calls (recording the reply's
 * result), stops on T_STOP. */
static fdn_next_t srv_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    (void)arg;
    (void)state;
    atomic_fetch_add(&inits, 1);
    return FDN_CONTINUE;
}

static fdn_next_t srv_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    if (m->kind == FDN_MSG_CALL) {
        atomic_store(&reply_rc, fdn_reply(ctx, m, 0, m->data, m->size));
        return FDN_CONTINUE;
    }
    if (m->kind == FDN_MSG_USER && m->tag == T_STOP)
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    atomic_fetch_add(&handled, 1);
    return FDN_CONTINUE;
}
static const fdn_behaviour_t srv = {.init = srv_init, .handle = srv_handle};

static fdn_pid_t spawn_srv(void)
{
    fdn_pid_t p;
    cr_assert_eq(fdn_spawn(rt, NULL, &srv, NULL, NULL, &p), FDN_OK);
    return p;
}

/* Arms failure N (sticky or not) and returns the live count before. */
static int64_t arm(uint64_t n, bool sticky)
{
    int64_t live = fdn_failing_allocator_live(fa);
    fdn_failing_allocator_arm(fa, n, sticky);
    return live;
}

static void disarm(void)
{
    fdn_failing_allocator_arm(fa, 0, false);
}

/* Checks: RT-F1, RT-S10 */
Test(fault, spawn_with_link_and_monitor)
{
    for (int sticky = 0; sticky < 2; sticky++) {
        bool ok = false;
        for (uint64_t n = 1; n <= MAX_SWEEP && !ok; n++) {
            uint64_t procs = fdn_runtime_process_count(rt);
            int before_inits = atomic_load(&inits);
            fdn_ref_t ref = 0;
            fdn_pid_t p = FDN_PID_NONE;
            fdn_spawn_opts_t o = {.size = sizeof o, .link = true,
                                  .monitor = &ref};
            int64_t live = arm(n, sticky);
            int rc = fdn_spawn(rt, me, &srv, NULL, &o, &p);
            disarm();
            if (rc == FDN_OK) {
                ok = true;
                cr_assert_eq(fdn_runtime_process_count(rt), procs + 1);
                cr_assert_eq(fdn_send(me, p, T_STOP, NULL, 0), FDN_OK);
                fdn_msg_t *m;
                cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
                cr_assert_eq(m->kind, FDN_MSG_DOWN);
                cr_assert_eq(m->ref, ref);
                fdn_msg_free(me, m);
                wait_dead(p);
                /* Pops (and drops) the NORMAL link signal queued after
                 * the DOWN, which holds one allocation until then. */
                expect_empty_mailbox();
                cr_assert_eq(fdn_failing_allocator_live(fa), live);
                break;
            }
            cr_assert_eq(rc, FDN_ENOMEM, "N=%llu: %s", (unsigned long long)n,
                         fdn_errname(rc));
            cr_assert_eq(p, FDN_PID_NONE);
            cr_assert_eq(fdn_runtime_process_count(rt), procs);
            cr_assert_eq(atomic_load(&inits), before_inits,
                         "init ran for a failed spawn");
            cr_assert_eq(fdn_failing_allocator_live(fa), live, "N=%llu",
                         (unsigned long long)n);
            expect_empty_mailbox();
        }
        cr_assert(ok, "spawn never succeeded");
    }
}

static atomic_int owned_frees;
static void owned_free(void *data, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    atomic_fetch_add(&owned_frees, 1);
    free(data);
}

/* Checks: RT-F1, RT-S10, RT-C2 */
Test(fault, send_and_send_owned)
{
    fdn_pid_t p = spawn_srv();
    char payload[200] = {0};
    for (int owned = 0; owned < 2; owned++) {
        bool ok = false;
        for (uint64_t n = 1; n <= MAX_SWEEP && !ok; n++) {
            long h0 = atomic_load(&handled);
            atomic_store(&owned_frees, 0);
            int *d = malloc(sizeof *d);
            int64_t live = arm(n, true);
            int rc = owned ? fdn_send_owned(me, p, T_DATA, d, sizeof *d,
                                            owned_free, NULL)
                           : fdn_send(me, p, T_DATA, payload, sizeof payload);
            disarm();
            if (rc == FDN_OK) {
                ok = true;
                for (int i = 0; i < 5000 && atomic_load(&handled) == h0; i++)
                    sleep_ms(1);
                cr_assert_eq(atomic_load(&handled), h0 + 1);
                if (owned) {
                    for (int i = 0; i < 5000 && atomic_load(&owned_frees) == 0;
                         i++)
                        sleep_ms(1);
                    cr_assert_eq(atomic_load(&owned_frees), 1);
                } else {
                    free(d);
                }
                for (int i = 0;
                     i < 5000 && fdn_failing_allocator_live(fa) != live; i++)
                    sleep_ms(1);
                cr_assert_eq(fdn_failing_allocator_live(fa), live);
                break;
            }
            cr_assert_eq(rc, FDN_ENOMEM);
            cr_assert_eq(fdn_failing_allocator_live(fa), live);
            sleep_ms(2);
            cr_assert_eq(atomic_load(&handled), h0, "a failed send delivered");
            cr_assert_eq(atomic_load(&owned_frees), 0,
                         "a failed send ran the destructor");
            free(d);
        }
        cr_assert(ok);
    }
    cr_assert_eq(fdn_send(me, p, T_STOP, NULL, 0), FDN_OK);
    wait_dead(p);
}

/* Checks: RT-F1, RT-S10 */
Test(fault, monitor_and_link)
{
    fdn_pid_t p = spawn_srv();
    for (int what = 0; what < 2; what++) {
        bool ok = false;
        for (uint64_t n = 1; n <= MAX_SWEEP && !ok; n++) {
            fdn_ref_t ref = 0;
            int64_t live = arm(n, n % 2 == 0);
            int rc = what == 0 ? fdn_monitor(me, p, &ref) : fdn_link(me, p);
            disarm();
            if (rc == FDN_OK) {
                ok = true;
                if (what == 0)
                    cr_assert_eq(fdn_demonitor(me, ref), FDN_OK);
                else
                    cr_assert_eq(fdn_unlink(me, p), FDN_OK);
                cr_assert_eq(fdn_failing_allocator_live(fa), live);
                break;
            }
            cr_assert_eq(rc, FDN_ENOMEM, "%s N=%llu: %s",
                         what ? "link" : "monitor", (unsigned long long)n,
                         fdn_errname(rc));
            cr_assert_eq(fdn_failing_allocator_live(fa), live);
        }
        cr_assert(ok);
    }
    /* No monitor or link survived a failure: an abnormal death sends us
     * nothing and does not kill us. */
    cr_assert_eq(fdn_exit(rt, NULL, p, FDN_REASON_USER + 1), FDN_OK);
    wait_dead(p);
    expect_empty_mailbox();
    cr_assert(fdn_alive(rt, fdn_self(me)));
}

/* Checks: RT-F1, RT-S10, RT-S8 */
Test(fault, send_after)
{
    fdn_pid_t self = fdn_self(me);
    /* The first sweep also fails the timer table's growth; the second runs
     * with the table grown, so undoing the timer restores the count. */
    for (int round = 0; round < 2; round++) {
        bool ok = false;
        for (uint64_t n = 1; n <= MAX_SWEEP && !ok; n++) {
            fdn_ref_t ref = 0;
            int64_t live = arm(n, false);
            int rc = fdn_send_after(rt, me, self, FDN_NS_PER_S * 3600, 1, "x",
                                    1, &ref);
            disarm();
            if (rc == FDN_OK) {
                ok = true;
                cr_assert_eq(fdn_cancel_timer(rt, ref), FDN_OK);
                if (round == 1)
                    cr_assert_eq(fdn_failing_allocator_live(fa), live);
                break;
            }
            cr_assert_eq(rc, FDN_ENOMEM);
            cr_assert_eq(ref, 0);
            cr_assert_eq(fdn_failing_allocator_live(fa), live);
        }
        cr_assert(ok);
    }
    /* Still usable: a short timer fires. */
    fdn_ref_t ref;
    cr_assert_eq(fdn_send_after(rt, me, self, FDN_NS_PER_MS, 2, NULL, 0, &ref),
                 FDN_OK);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->ref, ref);
    fdn_msg_free(me, m);
}

/* Checks: RT-F1, RT-S10 */
Test(fault, call)
{
    fdn_pid_t p = spawn_srv();
    int q = 42;
    bool ok = false;
    for (uint64_t n = 1; n <= MAX_SWEEP && !ok; n++) {
        atomic_store(&reply_rc, 1);
        fdn_msg_t *r = NULL;
        int64_t live = arm(n, false);
        int rc = fdn_call(me, p, 3, &q, sizeof q, 200 * FDN_NS_PER_MS, &r);
        disarm();
        if (rc == FDN_OK) {
            ok = true;
            int v;
            memcpy(&v, r->data, sizeof v);
            cr_assert_eq(v, q);
            fdn_msg_free(me, r);
            /* The server frees the request after its handler returns,
             * which may be after we got the reply. */
            for (int i = 0;
                 i < 5000 && fdn_failing_allocator_live(fa) != live; i++)
                sleep_ms(1);
            cr_assert_eq(fdn_failing_allocator_live(fa), live);
            break;
        }
        if (rc == FDN_ETIMEDOUT) {
            /* The failure hit the server's reply, not the call. */
            cr_assert_eq(atomic_load(&reply_rc), FDN_ENOMEM,
                         "N=%llu: timed out with reply rc %d",
                         (unsigned long long)n, atomic_load(&reply_rc));
        } else {
            cr_assert_eq(rc, FDN_ENOMEM, "N=%llu: %s", (unsigned long long)n,
                         fdn_errname(rc));
        }
        cr_assert_null(r);
        for (int i = 0; i < 5000 && fdn_failing_allocator_live(fa) != live; i++)
            sleep_ms(1);
        cr_assert_eq(fdn_failing_allocator_live(fa), live, "N=%llu",
                     (unsigned long long)n);
        expect_empty_mailbox();
    }
    cr_assert(ok);
    cr_assert_eq(fdn_send(me, p, T_STOP, NULL, 0), FDN_OK);
    wait_dead(p);
}

/* Checks: RT-F1 */
Test(fault, runtime_create_and_attach)
{
    /* Give up the fixture's runtime; sweep creating a fresh one. */
    fdn_detach(me);
    me = NULL;
    fdn_runtime_destroy(rt);
    rt = NULL;
    cr_assert_eq(fdn_failing_allocator_live(fa), 0);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 2;
    o.allocator = fdn_failing_allocator_get(fa);
    fdn_runtime_t *r2 = NULL;
    for (uint64_t n = 1; n <= MAX_SWEEP; n++) {
        arm(n, false);
        int rc = fdn_runtime_create(&o, &r2);
        disarm();
        if (rc == FDN_OK)
            break;
        cr_assert_eq(rc, FDN_ENOMEM, "N=%llu: %s", (unsigned long long)n,
                     fdn_errname(rc));
        cr_assert_eq(fdn_failing_allocator_live(fa), 0, "N=%llu",
                     (unsigned long long)n);
    }
    cr_assert_not_null(r2);
    rt = r2;
    /* The first attach also grows the table. */
    bool ok = false;
    for (uint64_t n = 1; n <= MAX_SWEEP && !ok; n++) {
        int64_t live = arm(n, false);
        int rc = fdn_attach(rt, &me);
        disarm();
        if (rc == FDN_OK) {
            ok = true;
            break;
        }
        me = NULL;
        cr_assert_eq(rc, FDN_ENOMEM);
        cr_assert_eq(fdn_failing_allocator_live(fa), live);
        cr_assert_eq(fdn_runtime_process_count(rt), 0);
    }
    cr_assert(ok);
    /* Usable: a call round trip. */
    fdn_pid_t p = spawn_srv();
    fdn_msg_t *r;
    cr_assert_eq(fdn_call(me, p, 1, NULL, 0, 5 * FDN_NS_PER_S, &r), FDN_OK);
    fdn_msg_free(me, r);
    cr_assert_eq(fdn_send(me, p, T_STOP, NULL, 0), FDN_OK);
    wait_dead(p);
}

static void dummy_down(void *arg, fdn_pid_t pid, fdn_reason_t reason)
{
    (void)arg;
    (void)pid;
    (void)reason;
}

/* Checks: RT-C1 */
Test(fault, bad_arguments_are_einval)
{
    fdn_pid_t p = spawn_srv();
    fdn_pid_t out;
    fdn_ref_t ref;
    fdn_msg_t *m;
    int x = 0;
    fdn_runtime_t *r2;
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    cr_assert_eq(fdn_runtime_create(&o, NULL), FDN_EINVAL);
    o.size = 0;
    cr_assert_eq(fdn_runtime_create(&o, &r2), FDN_EINVAL);

    const fdn_behaviour_t no_handle = {.handle = NULL};
    cr_assert_eq(fdn_spawn(NULL, NULL, &srv, NULL, NULL, &out), FDN_EINVAL);
    cr_assert_eq(fdn_spawn(rt, NULL, NULL, NULL, NULL, &out), FDN_EINVAL);
    cr_assert_eq(fdn_spawn(rt, NULL, &no_handle, NULL, NULL, &out), FDN_EINVAL);
    fdn_spawn_opts_t so = {.size = 0};
    cr_assert_eq(fdn_spawn(rt, NULL, &srv, NULL, &so, &out), FDN_EINVAL);
    so.size = sizeof so;
    so.link = true;
    cr_assert_eq(fdn_spawn(rt, NULL, &srv, NULL, &so, &out), FDN_EINVAL);
    so.link = false;
    so.monitor = &ref;
    cr_assert_eq(fdn_spawn(rt, NULL, &srv, NULL, &so, &out), FDN_EINVAL);

    cr_assert_eq(fdn_send(NULL, p, 1, &x, sizeof x), FDN_EINVAL);
    cr_assert_eq(fdn_send(me, p, 1, NULL, 4), FDN_EINVAL);
    cr_assert_eq(fdn_send_owned(NULL, p, 1, &x, sizeof x, NULL, NULL),
                 FDN_EINVAL);
    cr_assert_eq(fdn_send_owned(me, p, 1, NULL, 4, NULL, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_exit(NULL, NULL, p, FDN_REASON_USER), FDN_EINVAL);
    cr_assert_eq(fdn_link(NULL, p), FDN_EINVAL);
    cr_assert_eq(fdn_unlink(NULL, p), FDN_EINVAL);
    cr_assert_eq(fdn_monitor(NULL, p, &ref), FDN_EINVAL);
    cr_assert_eq(fdn_monitor(me, p, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_demonitor(NULL, 1), FDN_EINVAL);
    cr_assert_eq(fdn_monitor_fn(NULL, p, dummy_down, NULL, &ref), FDN_EINVAL);
    cr_assert_eq(fdn_monitor_fn(rt, p, NULL, NULL, &ref), FDN_EINVAL);
    cr_assert_eq(fdn_monitor_fn(rt, p, dummy_down, NULL, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_monitor_fn_cancel(NULL, p, 1), FDN_EINVAL);
    cr_assert_eq(fdn_call(NULL, p, 1, NULL, 0, 1, &m), FDN_EINVAL);
    cr_assert_eq(fdn_call(me, p, 1, NULL, 0, 1, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_call(me, p, 1, NULL, 4, 1, &m), FDN_EINVAL);
    cr_assert_eq(fdn_reply(NULL, NULL, 0, NULL, 0), FDN_EINVAL);
    cr_assert_eq(fdn_reply(me, NULL, 0, NULL, 0), FDN_EINVAL);
    fdn_msg_t not_call = {.kind = FDN_MSG_USER, .from = p};
    cr_assert_eq(fdn_reply(me, &not_call, 0, NULL, 0), FDN_EINVAL);
    fdn_ctx_t *c2;
    cr_assert_eq(fdn_attach(NULL, &c2), FDN_EINVAL);
    cr_assert_eq(fdn_attach(rt, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_receive(NULL, 0, &m), FDN_EINVAL);
    cr_assert_eq(fdn_receive(me, 0, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_send_after(NULL, NULL, p, 1, 1, NULL, 0, &ref), FDN_EINVAL);
    cr_assert_eq(fdn_send_after(rt, NULL, FDN_PID_NONE, 1, 1, NULL, 0, &ref),
                 FDN_EINVAL);
    cr_assert_eq(fdn_send_after(rt, NULL, p, 1, 1, NULL, 4, &ref), FDN_EINVAL);
    cr_assert_eq(fdn_cancel_timer(NULL, 1), FDN_EINVAL);
    cr_assert_eq(fdn_clock_advance(fdn_clock_monotonic(), 1), FDN_EINVAL);
    cr_assert_eq(fdn_clock_advance(NULL, 1), FDN_EINVAL);
    cr_assert_eq(fdn_clock_virtual_create(0, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_failing_allocator_create(0, false, NULL), FDN_EINVAL);
    /* Nothing above changed anything: the server still works. */
    cr_assert_eq(fdn_call(me, p, 1, NULL, 0, 5 * FDN_NS_PER_S, &m), FDN_OK);
    fdn_msg_free(me, m);
    /* NULL-tolerant calls. */
    fdn_msg_free(me, NULL);
    fdn_msg_free(NULL, NULL);
    fdn_runtime_destroy(NULL);
    fdn_clock_destroy(NULL);
    cr_assert_not_null(fdn_strerror(FDN_EINVAL));
    cr_assert_str_eq(fdn_errname(FDN_EINVAL), "FDN_EINVAL");
    cr_assert_eq(fdn_send(me, p, T_STOP, NULL, 0), FDN_OK);
    wait_dead(p);
}
