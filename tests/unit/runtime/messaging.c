/*
 * messaging.c — runtime unit tests: spawn, send, order, zero-copy, calls,
 * attached threads, batching.
 */
#include <criterion/criterion.h>
#include <foundation/runtime.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_PING = 1, TAG_PONG = 2, TAG_SEQ = 3, TAG_STOP = 4, TAG_FWD = 5 };

static fdn_runtime_t *rt;
static fdn_ctx_t *me;

static void setup(void)
{
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 2;
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    cr_assert_eq(fdn_attach(rt, &me), FDN_OK);
}

static void teardown(void)
{
    fdn_detach(me);
    cr_expect_eq(fdn_runtime_process_count(rt), 0);
    fdn_runtime_destroy(rt);
}

/* An echo process: replies to calls, forwards TAG_FWD payload to the pid in
 * the payload, stops on TAG_STOP with the reason in the payload. */
static fdn_next_t echo_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    if (m->kind == FDN_MSG_CALL) {
        fdn_reply(ctx, m, TAG_PONG, m->data, m->size);
        return FDN_CONTINUE;
    }
    if (m->kind == FDN_MSG_USER && m->tag == TAG_PING) {
        fdn_send(ctx, m->from, TAG_PONG, m->data, m->size);
        return FDN_CONTINUE;
    }
    if (m->kind == FDN_MSG_USER && m->tag == TAG_STOP) {
        fdn_reason_t r;
        memcpy(&r, m->data, sizeof r);
        return fdn_stop(ctx, r);
    }
    return FDN_CONTINUE;
}
static const fdn_behaviour_t echo = {.handle = echo_handle, .name = "echo"};

static fdn_pid_t spawn_echo(void)
{
    fdn_pid_t pid;
    cr_assert_eq(fdn_spawn(rt, NULL, &echo, NULL, NULL, &pid), FDN_OK);
    return pid;
}

static void stop_proc(fdn_pid_t pid, fdn_reason_t r)
{
    cr_assert_eq(fdn_send(me, pid, TAG_STOP, &r, sizeof r), FDN_OK);
}

static void wait_dead(fdn_pid_t pid)
{
    for (int i = 0; i < 5000 && fdn_alive(rt, pid); i++) {
        fdn_msg_t *m;
        if (fdn_receive(me, 1000000, &m) == FDN_OK)
            fdn_msg_free(me, m);
    }
    cr_assert(!fdn_alive(rt, pid));
}

TestSuite(messaging, .init = setup, .fini = teardown);

/* Checks: RT-S1, RT-L1 */
Test(messaging, ping_pong_in_order)
{
    fdn_pid_t e = spawn_echo();
    for (uint32_t i = 0; i < 10000; i++)
        cr_assert_eq(fdn_send(me, e, TAG_PING, &i, sizeof i), FDN_OK);
    for (uint32_t i = 0; i < 10000; i++) {
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
        cr_assert_eq(m->tag, TAG_PONG);
        cr_assert_eq(m->from, e);
        uint32_t v;
        memcpy(&v, m->data, sizeof v);
        cr_assert_eq(v, i, "got %u want %u", v, i);
        fdn_msg_free(me, m);
    }
    stop_proc(e, FDN_REASON_NORMAL);
    wait_dead(e);
}

/* Checks: RT-C4 */
Test(messaging, receive_times_out)
{
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, 2 * FDN_NS_PER_MS, &m), FDN_ETIMEDOUT);
    cr_assert_eq(fdn_receive(me, 0, &m), FDN_ETIMEDOUT);
}

/* Checks: RT-C5 */
Test(messaging, attach_twice_is_busy)
{
    fdn_ctx_t *again;
    cr_assert_eq(fdn_attach(rt, &again), FDN_EBUSY);
}

/* Checks: RT-C2 */
Test(messaging, send_to_dead_is_noproc)
{
    fdn_pid_t e = spawn_echo();
    stop_proc(e, FDN_REASON_NORMAL);
    wait_dead(e);
    int x = 1;
    cr_assert_eq(fdn_send(me, e, TAG_PING, &x, sizeof x), FDN_ENOPROC);
    cr_assert_eq(fdn_send(me, FDN_PID_NONE, TAG_PING, &x, sizeof x), FDN_ENOPROC);
    cr_assert_eq(fdn_send(NULL, e, TAG_PING, &x, sizeof x), FDN_EINVAL);
}

static atomic_int frees;
static void count_free(void *data, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    atomic_fetch_add(&frees, 1);
    free(data);
}

/* Checks: RT-C2, RT-S10 */
Test(messaging, owned_send_frees_exactly_once)
{
    atomic_store(&frees, 0);
    fdn_pid_t e = spawn_echo();
    for (int i = 0; i < 100; i++) {
        int *d = malloc(sizeof *d);
        *d = i;
        cr_assert_eq(fdn_send_owned(me, e, 99, d, sizeof *d, count_free, NULL), FDN_OK);
    }
    stop_proc(e, FDN_REASON_NORMAL);
    wait_dead(e);
    cr_assert_eq(atomic_load(&frees), 100);
    /* Failure: not taken, destructor not called. */
    int *d = malloc(sizeof *d);
    cr_assert_eq(fdn_send_owned(me, e, 99, d, sizeof *d, count_free, NULL), FDN_ENOPROC);
    cr_assert_eq(atomic_load(&frees), 100);
    free(d);
}

/* Checks: RT-C4 */
Test(messaging, call_and_reply)
{
    fdn_pid_t e = spawn_echo();
    for (int i = 0; i < 100; i++) {
        fdn_msg_t *r;
        cr_assert_eq(fdn_call(me, e, 7, &i, sizeof i, FDN_NS_PER_S, &r), FDN_OK);
        int v;
        memcpy(&v, r->data, sizeof v);
        cr_assert_eq(v, i);
        fdn_msg_free(me, r);
    }
    stop_proc(e, FDN_REASON_NORMAL);
    wait_dead(e);
}

static fdn_next_t mute_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)ctx;
    (void)state;
    (void)m;
    return FDN_CONTINUE;
}
static const fdn_behaviour_t mute = {.handle = mute_handle};

static fdn_next_t late_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    (void)state;
    if (m->kind == FDN_MSG_CALL) {
        /* Park the request; reply when the poke arrives. */
        fdn_msg_t *copy = malloc(sizeof *copy);
        *copy = *m;
        copy->data = NULL;
        copy->size = 0;
        *(fdn_msg_t **)state = copy;
        return FDN_CONTINUE;
    }
    fdn_msg_t *req = *(fdn_msg_t **)state;
    if (req) {
        fdn_reply(ctx, req, 1, "late", 4);
        free(req);
        *(fdn_msg_t **)state = NULL;
    }
    return FDN_CONTINUE;
}
static fdn_next_t late_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    (void)arg;
    *state = calloc(1, sizeof(fdn_msg_t *));
    return FDN_CONTINUE;
}
static void late_term(fdn_ctx_t *ctx, void *state, fdn_reason_t r)
{
    (void)ctx;
    (void)r;
    free(*(fdn_msg_t **)state);
    free(state);
}
static const fdn_behaviour_t late = {.init = late_init, .handle = late_handle,
                                     .terminate = late_term};

/* Checks: RT-S7, RT-C4 */
Test(messaging, late_reply_is_dropped)
{
    fdn_pid_t l;
    cr_assert_eq(fdn_spawn(rt, NULL, &late, NULL, NULL, &l), FDN_OK);
    fdn_msg_t *r;
    cr_assert_eq(fdn_call(me, l, 1, NULL, 0, 5 * FDN_NS_PER_MS, &r), FDN_ETIMEDOUT);
    cr_assert_eq(fdn_send(me, l, 2, NULL, 0), FDN_OK); /* triggers the reply */
    int x = 42;
    cr_assert_eq(fdn_send(me, me ? fdn_self(me) : 0, 9, &x, sizeof x), FDN_OK);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, FDN_NS_PER_S, &m), FDN_OK);
    /* The first thing we see is our own marker or nothing from the late
     * reply: the reply must never surface. */
    cr_assert_eq(m->kind, FDN_MSG_USER);
    cr_assert_eq(m->tag, 9);
    fdn_msg_free(me, m);
    cr_assert_eq(fdn_receive(me, 20 * FDN_NS_PER_MS, &m), FDN_ETIMEDOUT);
    fdn_exit(rt, NULL, l, FDN_REASON_KILL);
    wait_dead(l);
}

/* Checks: RT-F5 */
Test(messaging, call_to_dying_server_is_noproc)
{
    fdn_pid_t m;
    cr_assert_eq(fdn_spawn(rt, NULL, &mute, NULL, NULL, &m), FDN_OK);
    /* Kill it shortly after the call starts: a timer sends KILL-ish stop. */
    fdn_pid_t e = spawn_echo();
    fdn_msg_t *r;
    fdn_exit(rt, NULL, e, FDN_REASON_KILL);
    int rc = fdn_call(me, e, 1, NULL, 0, 10 * FDN_NS_PER_S, &r);
    cr_assert_eq(rc, FDN_ENOPROC);
    fdn_exit(rt, NULL, m, FDN_REASON_KILL);
    wait_dead(m);
}

static fdn_next_t fail_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)arg;
    (void)state;
    return fdn_stop(ctx, FDN_REASON_USER + 7);
}
static const fdn_behaviour_t failing = {.init = fail_init, .handle = mute_handle};

/* Checks: RT-C3, RT-S10 */
Test(messaging, failed_init_leaves_nothing)
{
    uint64_t before = fdn_runtime_process_count(rt);
    fdn_pid_t pid = 0;
    fdn_ref_t ref;
    fdn_spawn_opts_t o = {.size = sizeof o, .monitor = &ref};
    cr_assert_eq(fdn_spawn(rt, me, &failing, NULL, &o, &pid), FDN_EINIT);
    cr_assert_eq(pid, 0);
    cr_assert_eq(fdn_runtime_process_count(rt), before);
    fdn_msg_t *m;
    cr_assert_eq(fdn_receive(me, FDN_NS_PER_S, &m), FDN_OK);
    cr_assert_eq(m->kind, FDN_MSG_DOWN);
    cr_assert_eq(m->ref, ref);
    cr_assert_eq(m->reason, FDN_REASON_USER + 7);
    fdn_msg_free(me, m);
    cr_assert_eq(fdn_spawn(NULL, NULL, &echo, NULL, NULL, &pid), FDN_EINVAL);
    cr_assert_eq(fdn_spawn(rt, NULL, NULL, NULL, NULL, &pid), FDN_EINVAL);
}

/* A counter process: counts messages, replies with the count to calls. */
static fdn_next_t counter_handle(fdn_ctx_t *ctx, void *state, const fdn_msg_t *m)
{
    uint64_t *n = state;
    if (m->kind == FDN_MSG_CALL) {
        fdn_reply(ctx, m, 0, n, sizeof *n);
        return FDN_CONTINUE;
    }
    (*n)++;
    return FDN_CONTINUE;
}
static fdn_next_t counter_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    (void)ctx;
    (void)arg;
    *state = calloc(1, sizeof(uint64_t));
    return *state ? FDN_CONTINUE : fdn_stop(ctx, FDN_REASON_USER);
}
static void counter_term(fdn_ctx_t *ctx, void *state, fdn_reason_t r)
{
    (void)ctx;
    (void)r;
    free(state);
}
static const fdn_behaviour_t counter = {.init = counter_init,
                                        .handle = counter_handle,
                                        .terminate = counter_term};

struct flood_arg {
    fdn_runtime_t *rt;
    fdn_pid_t to;
    int n;
};
static void *flood_thread(void *p)
{
    struct flood_arg *a = p;
    fdn_ctx_t *c;
    cr_assert_eq(fdn_attach(a->rt, &c), FDN_OK);
    for (int i = 0; i < a->n; i++)
        while (fdn_send(c, a->to, 1, &i, sizeof i) == FDN_ENOMEM)
            ;
    fdn_detach(c);
    return NULL;
}

/* Checks: RT-L1, RT-I2, RT-L3 */
Test(messaging, many_to_one_loses_nothing)
{
    fdn_pid_t c;
    cr_assert_eq(fdn_spawn(rt, NULL, &counter, NULL, NULL, &c), FDN_OK);
    pthread_t th[4];
    struct flood_arg a = {rt, c, 50000};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, flood_thread, &a);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    fdn_msg_t *r;
    cr_assert_eq(fdn_call(me, c, 0, NULL, 0, 10 * FDN_NS_PER_S, &r), FDN_OK);
    uint64_t n;
    memcpy(&n, r->data, sizeof n);
    fdn_msg_free(me, r);
    cr_assert_eq(n, 200000);
    fdn_exit(rt, NULL, c, FDN_REASON_KILL);
    wait_dead(c);
}

/* Checks: RT-S11, RT-L2 */
Test(messaging, down_means_not_alive)
{
    for (int i = 0; i < 200; i++) {
        fdn_pid_t e = spawn_echo();
        fdn_ref_t ref;
        cr_assert_eq(fdn_monitor(me, e, &ref), FDN_OK);
        stop_proc(e, FDN_REASON_USER + 1);
        fdn_msg_t *m;
        cr_assert_eq(fdn_receive(me, 5 * FDN_NS_PER_S, &m), FDN_OK);
        cr_assert_eq(m->kind, FDN_MSG_DOWN);
        cr_assert_eq(m->ref, ref);
        cr_assert_eq(m->reason, FDN_REASON_USER + 1);
        cr_assert(!fdn_alive(rt, e), "DOWN arrived while the pid is alive");
        cr_assert_eq(fdn_send(me, e, TAG_PING, NULL, 0), FDN_ENOPROC);
        fdn_msg_free(me, m);
    }
}
