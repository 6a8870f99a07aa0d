/*
 * requests.c — runtime unit tests: asynchronous request/reply between
 * processes (fdn_request), timeouts on the runtime clock, the server's
 * death, cancellation, and aliases that drop late replies.
 *
 * A client process makes requests when the test thread tells it to and
 * reports every outcome back; a server process answers at once, holds a
 * request to answer later, ignores it, or dies.  The runtime clock is
 * virtual, so a timeout only fires when the test advances it.
 */
#include "unit/runtime/rt_fixture.h"

#include <inttypes.h>
#include <string.h>

enum {
    /* test → client */
    C_GO = 1,     /* struct go: make a request */
    C_CANCEL = 2, /* fdn_ref_t: cancel it */
    C_STOP = 3,
    /* client → test */
    C_SENT = 10,    /* struct sent: fdn_request's result */
    C_OUTCOME = 11, /* struct outcome */
    C_CANCELLED = 12, /* int: fdn_request_cancel's result */
    /* request tags (client → server) */
    S_ECHO = 20,  /* reply at once with the data */
    S_HOLD = 21,  /* keep it; answer on S_RELEASE */
    S_DIE = 22,   /* die with REASON_SERVER without answering */
    S_IGNORE = 23,
    /* test → server */
    S_RELEASE = 30, /* answer every held request, newest first */
    /* server → test */
    S_REPLIED = 31  /* int: fdn_reply's result for each released one */
};

#define REASON_SERVER (FDN_REASON_USER + 5)
#define MAX_HELD 64

struct go {
    fdn_pid_t server;
    uint32_t tag;
    uint32_t value;
    uint64_t timeout_ns;
};
struct sent {
    int rc;
    fdn_ref_t ref;
};
struct outcome {
    fdn_msg_kind_t kind;
    fdn_ref_t ref;
    fdn_pid_t from;
    fdn_reason_t reason;
    uint32_t value;
};

static void setup(void)
{
    rt_up(true);
}

static void teardown(void)
{
    rt_down();
}

TestSuite(requests, .init = setup, .fini = teardown);

/* ---- the client ------------------------------------------------------- */

static fdn_next_t client_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    *state = arg; /* the observer's pid, boxed */
    return FDN_CONTINUE;
}

static fdn_next_t client_handle(fdn_ctx_t *ctx, void *state,
                                const fdn_msg_t *m)
{
    fdn_pid_t observer = *(const fdn_pid_t *)state;
    if (m->kind == FDN_MSG_USER && m->tag == C_GO) {
        struct go g;
        memcpy(&g, m->data, sizeof g);
        struct sent s = {.ref = FDN_REF_NONE};
        s.rc = fdn_request(ctx, g.server, g.tag, &g.value, sizeof g.value,
                           g.timeout_ns, &s.ref);
        fdn_send(ctx, observer, C_SENT, &s, sizeof s);
    } else if (m->kind == FDN_MSG_USER && m->tag == C_CANCEL) {
        fdn_ref_t ref;
        memcpy(&ref, m->data, sizeof ref);
        int rc = fdn_request_cancel(ctx, ref);
        fdn_send(ctx, observer, C_CANCELLED, &rc, sizeof rc);
    } else if (m->kind == FDN_MSG_USER && m->tag == C_STOP) {
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    } else if (m->kind == FDN_MSG_REPLY || m->kind == FDN_MSG_TIMEOUT ||
               m->kind == FDN_MSG_NOREPLY) {
        struct outcome o = {.kind = m->kind,
                            .ref = m->ref,
                            .from = m->from,
                            .reason = m->reason,
                            .value = 0};
        if (m->kind == FDN_MSG_REPLY && m->size == sizeof o.value)
            memcpy(&o.value, m->data, sizeof o.value);
        fdn_send(ctx, observer, C_OUTCOME, &o, sizeof o);
    }
    return FDN_CONTINUE;
}
static const fdn_behaviour_t client_b = {
    .init = client_init, .handle = client_handle, .name = "client"};

/* ---- the server ------------------------------------------------------- */

struct server {
    fdn_pid_t observer;
    fdn_msg_t held[MAX_HELD]; /* CALL headers kept to answer later */
    uint32_t values[MAX_HELD];
    int nheld;
};

static fdn_next_t server_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    *state = arg;
    return FDN_CONTINUE;
}

static fdn_next_t server_handle(fdn_ctx_t *ctx, void *state,
                                const fdn_msg_t *m)
{
    struct server *s = state;
    if (m->kind == FDN_MSG_CALL) {
        uint32_t v = 0;
        if (m->size == sizeof v)
            memcpy(&v, m->data, sizeof v);
        switch (m->tag) {
        case S_ECHO:
            fdn_reply(ctx, m, S_ECHO, &v, sizeof v);
            break;
        case S_HOLD:
            if (s->nheld < MAX_HELD) {
                s->held[s->nheld] = *m;
                s->held[s->nheld].data = NULL;
                s->held[s->nheld].size = 0;
                s->values[s->nheld++] = v;
            }
            break;
        case S_DIE:
            return fdn_stop(ctx, REASON_SERVER);
        default:
            break;
        }
    } else if (m->kind == FDN_MSG_USER && m->tag == S_RELEASE) {
        while (s->nheld > 0) {
            s->nheld--;
            int rc = fdn_reply(ctx, &s->held[s->nheld], S_HOLD,
                               &s->values[s->nheld], sizeof(uint32_t));
            fdn_send(ctx, s->observer, S_REPLIED, &rc, sizeof rc);
        }
    } else if (m->kind == FDN_MSG_USER && m->tag == C_STOP) {
        return fdn_stop(ctx, FDN_REASON_NORMAL);
    }
    return FDN_CONTINUE;
}
static const fdn_behaviour_t server_b = {
    .init = server_init, .handle = server_handle, .name = "server"};

/* ---- helpers ---------------------------------------------------------- */

static fdn_pid_t g_observer;
static struct server g_srv;

static fdn_pid_t start_client(void)
{
    g_observer = fdn_self(me);
    fdn_pid_t c;
    cr_assert_eq(fdn_spawn(rt, NULL, &client_b, &g_observer, NULL, &c), FDN_OK);
    return c;
}

static fdn_pid_t start_server(void)
{
    memset(&g_srv, 0, sizeof g_srv);
    g_srv.observer = fdn_self(me);
    fdn_pid_t s;
    cr_assert_eq(fdn_spawn(rt, NULL, &server_b, &g_srv, NULL, &s), FDN_OK);
    return s;
}

/* The next message for the test thread, which must have the given tag. */
static void expect(uint32_t tag, void *out, size_t size)
{
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK,
                 "nothing arrived (wanted tag %u)", tag);
    cr_assert_eq(m->tag, tag, "got tag %u, wanted %u", m->tag, tag);
    cr_assert_eq(m->size, size);
    memcpy(out, m->data, size);
    fdn_msg_free(me, m);
}

/* Nothing arrives for the test thread for a while (real time). */
static void expect_nothing(void)
{
    fdn_msg_t *m;
    int rc = fdn_receive(me, 50 * FDN_NS_PER_MS, &m);
    if (rc == FDN_OK)
        cr_assert_fail("unexpected message tag %u", m->tag);
    cr_assert_eq(rc, FDN_ETIMEDOUT);
}

static fdn_ref_t request(fdn_pid_t client, fdn_pid_t server, uint32_t tag,
                         uint32_t value, uint64_t timeout_ns, int want_rc)
{
    struct go g = {.server = server,
                   .tag = tag,
                   .value = value,
                   .timeout_ns = timeout_ns};
    cr_assert_eq(fdn_send(me, client, C_GO, &g, sizeof g), FDN_OK);
    struct sent s;
    expect(C_SENT, &s, sizeof s);
    cr_assert_eq(s.rc, want_rc, "fdn_request: %s", fdn_errname(s.rc));
    if (want_rc == FDN_OK)
        cr_assert_neq(s.ref, FDN_REF_NONE);
    return s.ref;
}

static struct outcome outcome(void)
{
    struct outcome o;
    expect(C_OUTCOME, &o, sizeof o);
    return o;
}


static void stop_and_wait(fdn_pid_t pid)
{
    fdn_ref_t mref;
    cr_assert_eq(fdn_monitor(me, pid, &mref), FDN_OK);
    fdn_send(me, pid, C_STOP, NULL, 0);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->kind, FDN_MSG_DOWN);
    cr_assert_eq(m->ref, mref);
    fdn_msg_free(me, m);
}

/* ---- tests ------------------------------------------------------------ */

/* Checks: RT-C11 */
Test(requests, reply_arrives_with_its_ref)
{
    fdn_pid_t c = start_client(), s = start_server();
    fdn_ref_t r = request(c, s, S_ECHO, 42, FDN_NS_PER_S, FDN_OK);
    struct outcome o = outcome();
    cr_assert_eq(o.kind, FDN_MSG_REPLY);
    cr_assert_eq(o.ref, r);
    cr_assert_eq(o.from, s);
    cr_assert_eq(o.value, 42);
    /* The request is over: no monitor left on either side. */
    cr_assert_eq(info(c).requests, 0);
    cr_assert_eq(info(s).monitored_by, 0);
    /* Nothing else arrives for it, even once its timeout passes. */
    cr_assert_eq(fdn_clock_advance(clk, 2 * FDN_NS_PER_S), FDN_OK);
    expect_nothing();
    stop_and_wait(c);
    stop_and_wait(s);
}

/* Checks: RT-C11, RT-S12 */
Test(requests, timeout_arrives_once_and_the_late_reply_is_dropped)
{
    fdn_pid_t c = start_client(), s = start_server();
    fdn_ref_t r = request(c, s, S_HOLD, 7, 100 * FDN_NS_PER_MS, FDN_OK);
    cr_assert_eq(info(c).requests, 1);
    cr_assert_eq(info(s).monitored_by, 1);
    /* Not before the deadline on the runtime clock. */
    cr_assert_eq(fdn_clock_advance(clk, 99 * FDN_NS_PER_MS), FDN_OK);
    expect_nothing();
    cr_assert_eq(fdn_clock_advance(clk, 1 * FDN_NS_PER_MS), FDN_OK);
    struct outcome o = outcome();
    cr_assert_eq(o.kind, FDN_MSG_TIMEOUT);
    cr_assert_eq(o.ref, r);
    cr_assert_eq(o.from, s);
    cr_assert_eq(info(c).requests, 0);
    cr_assert_eq(info(s).monitored_by, 0, "the monitor left with the request");
    /* The server answers late: its reply succeeds (as in Erlang) and is
     * dropped at the client, never delivered. */
    uint64_t handled = info(c).handled;
    cr_assert_eq(fdn_send(me, s, S_RELEASE, NULL, 0), FDN_OK);
    int rc;
    expect(S_REPLIED, &rc, sizeof rc);
    cr_assert_eq(rc, FDN_OK);
    expect_nothing();
    cr_assert_eq(info(c).handled, handled, "the late reply reached no handler");
    stop_and_wait(c);
    stop_and_wait(s);
}

/* Checks: RT-C11 */
Test(requests, server_death_gives_noreply_with_its_reason)
{
    fdn_pid_t c = start_client(), s = start_server();
    fdn_ref_t r = request(c, s, S_DIE, 0, FDN_INFINITY, FDN_OK);
    struct outcome o = outcome();
    cr_assert_eq(o.kind, FDN_MSG_NOREPLY);
    cr_assert_eq(o.ref, r);
    cr_assert_eq(o.from, s);
    cr_assert_eq(o.reason, REASON_SERVER);
    cr_assert(!fdn_alive(rt, s));
    cr_assert_eq(info(c).requests, 0);
    cr_assert_eq(fdn_clock_advance(clk, 10 * FDN_NS_PER_S), FDN_OK);
    expect_nothing();
    stop_and_wait(c);
}

/* Checks: RT-S12 */
Test(requests, cancel_drops_whatever_comes_later)
{
    fdn_pid_t c = start_client(), s = start_server();
    fdn_ref_t r = request(c, s, S_HOLD, 1, FDN_NS_PER_S, FDN_OK);
    cr_assert_eq(fdn_send(me, c, C_CANCEL, &r, sizeof r), FDN_OK);
    int rc;
    expect(C_CANCELLED, &rc, sizeof rc);
    cr_assert_eq(rc, FDN_OK);
    cr_assert_eq(info(c).requests, 0);
    cr_assert_eq(info(s).monitored_by, 0);
    /* The reply, the timeout: neither arrives. */
    cr_assert_eq(fdn_send(me, s, S_RELEASE, NULL, 0), FDN_OK);
    expect(S_REPLIED, &rc, sizeof rc);
    cr_assert_eq(rc, FDN_OK);
    cr_assert_eq(fdn_clock_advance(clk, 2 * FDN_NS_PER_S), FDN_OK);
    expect_nothing();
    /* A second cancel, or a cancel of a plain monitor's ref, is ENOENT. */
    cr_assert_eq(fdn_send(me, c, C_CANCEL, &r, sizeof r), FDN_OK);
    expect(C_CANCELLED, &rc, sizeof rc);
    cr_assert_eq(rc, FDN_ENOENT);
    stop_and_wait(c);
    stop_and_wait(s);
}

/* Checks: RT-C11, RT-C1 */
Test(requests, bad_arguments_and_dead_servers_fail_at_once)
{
    fdn_pid_t c = start_client(), s = start_server();
    fdn_ref_t ref;
    cr_assert_eq(fdn_request(NULL, s, 1, NULL, 0, 0, &ref), FDN_EINVAL);
    cr_assert_eq(fdn_request(me, s, 1, NULL, 0, 0, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_request(me, s, 1, NULL, 4, 0, &ref), FDN_EINVAL);
    cr_assert_eq(fdn_request(me, fdn_self(me), 1, NULL, 0, 0, &ref),
                 FDN_EINVAL, "a request to oneself could never be answered");
    cr_assert_eq(fdn_request(me, FDN_PID_NONE, 1, NULL, 0, 0, &ref),
                 FDN_ENOPROC);
    cr_assert_eq(fdn_request_cancel(NULL, 1), FDN_EINVAL);
    cr_assert_eq(fdn_request_cancel(me, 12345), FDN_ENOENT);
    stop_and_wait(s);
    request(c, s, S_ECHO, 0, FDN_NS_PER_S, FDN_ENOPROC);
    cr_assert_eq(info(c).requests, 0);
    /* Nothing arrives for a request that failed. */
    cr_assert_eq(fdn_clock_advance(clk, 2 * FDN_NS_PER_S), FDN_OK);
    expect_nothing();
    stop_and_wait(c);
}

/* Many pending requests answered in reverse order: each arrives once,
 * matched to its own ref. */
/* Checks: RT-C11, RT-S12 */
Test(requests, many_pending_answered_out_of_order)
{
    fdn_pid_t c = start_client(), s = start_server();
    enum { N = MAX_HELD };
    fdn_ref_t refs[N];
    for (uint32_t i = 0; i < N; i++)
        refs[i] = request(c, s, S_HOLD, i, FDN_INFINITY, FDN_OK);
    cr_assert_eq(info(c).requests, N);
    cr_assert_eq(info(s).monitored_by, N);
    cr_assert_eq(fdn_send(me, s, S_RELEASE, NULL, 0), FDN_OK);
    bool seen[N] = {false};
    int replied = 0, outcomes = 0;
    while (replied < N || outcomes < N) {
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
        if (m->tag == S_REPLIED) {
            int rc;
            memcpy(&rc, m->data, sizeof rc);
            cr_assert_eq(rc, FDN_OK);
            replied++;
        } else {
            cr_assert_eq(m->tag, C_OUTCOME);
            struct outcome o;
            memcpy(&o, m->data, sizeof o);
            cr_assert_eq(o.kind, FDN_MSG_REPLY);
            cr_assert_lt(o.value, N);
            cr_assert(!seen[o.value], "reply %u delivered twice", o.value);
            seen[o.value] = true;
            cr_assert_eq(o.ref, refs[o.value]);
            outcomes++;
        }
        fdn_msg_free(me, m);
    }
    cr_assert_eq(info(c).requests, 0);
    cr_assert_eq(info(s).monitored_by, 0);
    expect_nothing();
    stop_and_wait(c);
    stop_and_wait(s);
}

/* A requester that dies with requests pending leaves nothing behind: no
 * monitor on the server, no timer, no memory (teardown checks). */
/* Checks: RT-C11, RT-I3 */
Test(requests, requester_death_releases_pending_requests)
{
    fdn_pid_t c = start_client(), s = start_server();
    for (uint32_t i = 0; i < 10; i++)
        request(c, s, S_HOLD, i, i % 2 ? FDN_INFINITY : FDN_NS_PER_S, FDN_OK);
    cr_assert_eq(info(s).monitored_by, 10);
    stop_and_wait(c);
    cr_assert_eq(info(s).monitored_by, 0);
    /* Late replies go to a dead pid: fdn_reply says so, nothing leaks. */
    cr_assert_eq(fdn_send(me, s, S_RELEASE, NULL, 0), FDN_OK);
    for (int i = 0; i < 10; i++) {
        int rc;
        expect(S_REPLIED, &rc, sizeof rc);
        cr_assert_eq(rc, FDN_ENOPROC);
    }
    cr_assert_eq(fdn_clock_advance(clk, 2 * FDN_NS_PER_S), FDN_OK);
    expect_nothing();
    stop_and_wait(s);
}

/* An attached thread may use fdn_request too; the answers come through
 * fdn_receive, and fdn_call keeps working beside it. */
/* Checks: RT-C11, RT-C4 */
Test(requests, attached_thread_requests_through_receive)
{
    fdn_pid_t s = start_server();
    uint32_t v = 99;
    fdn_ref_t r;
    cr_assert_eq(fdn_request(me, s, S_ECHO, &v, sizeof v, FDN_NS_PER_S, &r),
                 FDN_OK);
    /* A synchronous call in between: the reply to r waits its turn. */
    fdn_msg_t *reply;
    cr_assert_eq(fdn_call(me, s, S_ECHO, &v, sizeof v, 5 * FDN_NS_PER_S,
                          &reply),
                 FDN_OK);
    fdn_msg_free(me, reply);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->kind, FDN_MSG_REPLY);
    cr_assert_eq(m->ref, r);
    cr_assert_eq(m->from, s);
    fdn_msg_free(me, m);
    cr_assert_eq(fdn_clock_advance(clk, 2 * FDN_NS_PER_S), FDN_OK);
    expect_nothing();
    /* And a timeout through receive. */
    cr_assert_eq(fdn_request(me, s, S_IGNORE, NULL, 0, 10 * FDN_NS_PER_MS, &r),
                 FDN_OK);
    cr_assert_eq(fdn_clock_advance(clk, 10 * FDN_NS_PER_MS), FDN_OK);
    cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->kind, FDN_MSG_TIMEOUT);
    cr_assert_eq(m->ref, r);
    fdn_msg_free(me, m);
    stop_and_wait(s);
}

/* Out of memory at every allocation of fdn_request: FDN_ENOMEM, and no
 * trace — no bytes, no monitor on the server, nothing arriving later. */
/* Checks: RT-F1, RT-S10 */
Test(requests, allocation_failure_sweep)
{
    fdn_pid_t s = start_server();
    int failures = 0;
    for (uint64_t n = 1;; n++) {
        cr_assert_lt(n, 100);
        int64_t live = fdn_failing_allocator_live(fa);
        fdn_failing_allocator_arm(fa, n, false);
        fdn_ref_t r;
        uint32_t v = (uint32_t)n;
        /* S_HOLD: the server allocates nothing while the failure is armed
         * (it answers on S_RELEASE, sent after disarming). */
        int rc = fdn_request(me, s, S_HOLD, &v, sizeof v, FDN_NS_PER_S, &r);
        /* arm reset the count: it counts the calls since. */
        bool is_past_end = fdn_failing_allocator_calls(fa) < n;
        fdn_failing_allocator_arm(fa, 0, false);
        if (rc != FDN_OK) {
            cr_assert_eq(rc, FDN_ENOMEM, "n=%" PRIu64 ": %s", n,
                         fdn_errname(rc));
            cr_assert_eq(fdn_failing_allocator_live(fa), live,
                         "n=%" PRIu64 ": bytes left behind", n);
            cr_assert_eq(info(s).monitored_by, 0);
            failures++;
            continue;
        }
        cr_assert_eq(fdn_send(me, s, S_RELEASE, NULL, 0), FDN_OK);
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
        cr_assert_eq(m->kind, FDN_MSG_REPLY);
        cr_assert_eq(m->ref, r);
        fdn_msg_free(me, m);
        int replied;
        expect(S_REPLIED, &replied, sizeof replied);
        cr_assert_eq(replied, FDN_OK);
        if (is_past_end)
            break;
    }
    cr_log_info("fdn_request: %d allocations failed cleanly", failures);
    cr_assert_geq(failures, 4, "request, timer message, monitor records");
    expect_nothing();
    stop_and_wait(s);
}
