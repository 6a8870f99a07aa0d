/*
 * instrument.c — the runtime's and a registry's metrics (TEL-C11):
 * after known work (processes spawned, messages sent, exits of every
 * reason; registrations, joins, updates, an owner's death) the exported
 * values equal fdn_runtime_stats, fdn_registry_stats, fdn_registry_count
 * and fdn_registry_owner_count exactly once quiescent, including what
 * happened before instrumenting, and repeated collections add nothing.
 * Also: a second instrumentation is FDN_EEXIST; a removed collector
 * freezes its metrics and frees its context; either destroy order leaks
 * nothing; out of memory at every allocation returns FDN_ENOMEM and a
 * retry reuses what the failed call made.  Collectors run through the
 * internal fdn__tel_collect, as an export runs them.
 */
#include <foundation/registry.h>
#include <foundation/runtime.h>
#include <foundation/telemetry.h>

#include "telemetry/internal.h"

#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Polls cond every millisecond for up to 10 seconds; true if it held. */
#define POLL_UNTIL(cond)                                                     \
    ({                                                                       \
        bool ok_ = false;                                                    \
        for (int i_ = 0; i_ < 10000; i_++) {                                 \
            if (cond) {                                                      \
                ok_ = true;                                                  \
                break;                                                       \
            }                                                                \
            struct timespec ts_ = {0, 1000000};                              \
            nanosleep(&ts_, NULL);                                           \
        }                                                                    \
        ok_;                                                                 \
    })

enum { TAG_STOP = 7, TAG_NOISE = 8 };

/* Ignores everything but TAG_STOP, whose payload is the reason to stop
 * with. */
static fdn_next_t worker_handle(fdn_ctx_t *ctx, void *state,
                                const fdn_msg_t *msg)
{
    (void)state;
    if (msg->kind == FDN_MSG_USER && msg->tag == TAG_STOP &&
        msg->size == sizeof(fdn_reason_t)) {
        fdn_reason_t r;
        memcpy(&r, msg->data, sizeof r);
        return fdn_stop(ctx, r);
    }
    return FDN_CONTINUE;
}

static const fdn_behaviour_t worker = {
    .init = NULL,
    .handle = worker_handle,
    .terminate = NULL,
    .name = "tel-worker",
};

static fdn_pid_t spawn_worker(fdn_runtime_t *rt)
{
    fdn_pid_t pid = FDN_PID_NONE;
    cr_assert_eq(fdn_spawn(rt, NULL, &worker, NULL, NULL, &pid), FDN_OK);
    return pid;
}

static fdn_runtime_t *runtime_new(unsigned schedulers)
{
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = schedulers;
    fdn_runtime_t *rt;
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    return rt;
}

/* A series of metric name: its default series (value NULL) or the one
 * whose only label has value v. */
static fdn_series_t *series(fdn_telemetry_t *t, const char *name,
                            const char *v)
{
    fdn_metric_t *m = fdn_metric_find(t, name);
    cr_assert_not_null(m, "no metric %s", name);
    if (v == NULL) {
        fdn_series_t *s = fdn_metric_default(m);
        cr_assert_not_null(s, "%s has labels", name);
        return s;
    }
    const char *values[1] = {v};
    fdn_series_t *s = NULL;
    cr_assert_eq(fdn_metric_series(m, values, 1, &s), FDN_OK);
    return s;
}

static uint64_t counter(fdn_telemetry_t *t, const char *name, const char *v)
{
    return fdn_counter_value(series(t, name, v));
}

static int64_t gauge(fdn_telemetry_t *t, const char *name, const char *v)
{
    fdn_series_value_t sv;
    cr_assert_eq(fdn_series_read(series(t, name, v), &sv), FDN_OK);
    cr_assert_eq(sv.kind, FDN_METRIC_GAUGE, "%s is not a gauge", name);
    return sv.gauge_int;
}

/* Collects, then checks every runtime metric against fdn_runtime_stats
 * (the runtime is quiescent). */
static void expect_runtime_matches(fdn_telemetry_t *t, fdn_runtime_t *rt)
{
    fdn__tel_collect(t);
    fdn_runtime_stats_t st;
    fdn_runtime_stats(rt, &st);
    cr_expect_eq(gauge(t, "fdn_processes_alive", NULL), (int64_t)st.live);
    cr_expect_eq(counter(t, "fdn_processes_spawned_total", NULL), st.spawned);
    cr_expect_eq(counter(t, "fdn_process_exits_total", "normal"),
                 st.exited_normal);
    cr_expect_eq(counter(t, "fdn_process_exits_total", "shutdown"),
                 st.exited_shutdown);
    cr_expect_eq(counter(t, "fdn_process_exits_total", "killed"),
                 st.exited_killed);
    cr_expect_eq(counter(t, "fdn_process_exits_total", "other"),
                 st.exited_other);
    cr_expect_eq(counter(t, "fdn_messages_sent_total", NULL),
                 st.messages_sent);
    cr_expect_eq(gauge(t, "fdn_schedulers", NULL), (int64_t)st.schedulers);
    for (unsigned i = 0; i < st.schedulers; i++) {
        char v[16];
        snprintf(v, sizeof v, "%u", i);
        cr_expect_eq(gauge(t, "fdn_scheduler_run_queue_length", v),
                     (int64_t)fdn_runtime_runq_len(rt, i));
    }
    cr_expect_eq(fdn_metric_series_count(
                     fdn_metric_find(t, "fdn_scheduler_run_queue_length")),
                 st.schedulers);
}

/* Sends pid a TAG_STOP with reason r from ctx. */
static void stop_with(fdn_ctx_t *ctx, fdn_pid_t pid, fdn_reason_t r)
{
    cr_assert_eq(fdn_send(ctx, pid, TAG_STOP, &r, sizeof r), FDN_OK);
}

static bool exited_at_least(fdn_runtime_t *rt, uint64_t n)
{
    fdn_runtime_stats_t st;
    fdn_runtime_stats(rt, &st);
    return st.exited >= n;
}

/* Checks: TEL-C11 */
Test(telemetry_instrument, runtime_metrics_equal_the_runtime_stats)
{
    fdn_runtime_t *rt = runtime_new(2);
    fdn_telemetry_t *t;
    cr_assert_eq(fdn_telemetry_create(NULL, &t), FDN_OK);
    /* Work before instrumenting counts too. */
    fdn_pid_t early[3];
    for (int i = 0; i < 3; i++)
        early[i] = spawn_worker(rt);
    uint64_t id = 0;
    cr_assert_eq(fdn_telemetry_instrument_runtime(t, rt, &id), FDN_OK);
    cr_assert_neq(id, 0);

    fdn_ctx_t *ctx;
    cr_assert_eq(fdn_attach(rt, &ctx), FDN_OK);
    enum { N = 10, M = 50 };
    fdn_pid_t w[N];
    for (int i = 0; i < N; i++)
        w[i] = spawn_worker(rt);
    for (int i = 0; i < M; i++)
        cr_assert_eq(fdn_send(ctx, w[i % N], TAG_NOISE, &i, sizeof i),
                     FDN_OK);
    /* Exits of every reason: 2 normal, 2 other, 2 shutdown, 3 killed. */
    stop_with(ctx, w[0], FDN_REASON_NORMAL);
    stop_with(ctx, w[1], FDN_REASON_NORMAL);
    stop_with(ctx, w[2], FDN_REASON_USER + 7);
    stop_with(ctx, w[3], FDN_REASON_USER + 8);
    cr_assert_eq(fdn_exit(rt, ctx, w[4], FDN_REASON_SHUTDOWN), FDN_OK);
    cr_assert_eq(fdn_exit(rt, ctx, w[5], FDN_REASON_SHUTDOWN), FDN_OK);
    for (int i = 6; i < 9; i++)
        cr_assert_eq(fdn_exit(rt, ctx, w[i], FDN_REASON_KILL), FDN_OK);
    for (int i = 0; i < 9; i++)
        cr_assert(POLL_UNTIL(!fdn_alive(rt, w[i])), "worker %d lives", i);
    cr_assert(POLL_UNTIL(exited_at_least(rt, 9)));

    fdn__tel_collect(t);
    cr_expect_eq(counter(t, "fdn_processes_spawned_total", NULL), 3 + N + 1);
    cr_expect_eq(gauge(t, "fdn_processes_alive", NULL), 3 + 1 + 1);
    cr_expect_eq(counter(t, "fdn_process_exits_total", "normal"), 2);
    cr_expect_eq(counter(t, "fdn_process_exits_total", "other"), 2);
    cr_expect_eq(counter(t, "fdn_process_exits_total", "shutdown"), 2);
    cr_expect_eq(counter(t, "fdn_process_exits_total", "killed"), 3);
    cr_expect(counter(t, "fdn_messages_sent_total", NULL) >= M + 4);
    cr_expect_eq(gauge(t, "fdn_schedulers", NULL), 2);
    expect_runtime_matches(t, rt);
    /* Collecting again adds nothing. */
    expect_runtime_matches(t, rt);
    cr_expect_eq(counter(t, "fdn_process_exits_total", "killed"), 3);

    /* More work, then the end of everything. */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fdn_exit(rt, ctx, early[i], FDN_REASON_KILL), FDN_OK);
    cr_assert_eq(fdn_exit(rt, ctx, w[9], FDN_REASON_KILL), FDN_OK);
    cr_assert(POLL_UNTIL(exited_at_least(rt, 13)));
    expect_runtime_matches(t, rt);
    cr_expect_eq(counter(t, "fdn_process_exits_total", "killed"), 7);
    fdn_detach(ctx);
    cr_assert(POLL_UNTIL(exited_at_least(rt, 14)));
    expect_runtime_matches(t, rt);
    cr_expect_eq(gauge(t, "fdn_processes_alive", NULL), 0);

    /* Remove, then destroy the runtime: the metrics keep their values. */
    cr_assert_eq(fdn_telemetry_collector_remove(t, id), FDN_OK);
    cr_assert_eq(fdn_telemetry_collector_remove(t, id), FDN_ENOENT);
    fdn_runtime_destroy(rt);
    fdn__tel_collect(t);
    cr_expect_eq(counter(t, "fdn_processes_spawned_total", NULL), 14);
    fdn_telemetry_destroy(t);
}

/* Registry work of every kind; a dies at the end. */
static void registry_work(fdn_runtime_t *rt, fdn_registry_t *reg,
                          fdn_registry_ns_t *u, fdn_registry_ns_t *d,
                          fdn_pid_t a, fdn_pid_t b)
{
    char key[16];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "a%d", i);
        cr_assert_eq(fdn_registry_register(u, key, a, NULL, NULL), FDN_OK);
    }
    cr_assert_eq(fdn_registry_register(u, "b0", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(u, "b1", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(u, "b1", a, NULL, NULL), FDN_EEXIST);
    cr_assert_eq(fdn_registry_unregister(u, "a4", a), FDN_OK);
    fdn_meta_t m;
    memset(&m, 0, sizeof m);
    cr_assert_eq(fdn_meta_set_int(&m, "n", 1), FDN_OK);
    cr_assert_eq(fdn_registry_update(u, "a0", a, &m, FDN_REGISTRY_REPLACE),
                 FDN_OK);
    cr_assert_eq(fdn_registry_update(u, "b0", b, &m, FDN_REGISTRY_MERGE),
                 FDN_OK);
    cr_assert_eq(fdn_registry_touch(u, "b1", b), FDN_OK);
    cr_assert_eq(fdn_registry_join(d, "g", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_join(d, "g", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_join(d, "h", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_leave(d, "h", b), FDN_OK);
    /* a holds a0..a3 and its membership of g: 5 cleanups. */
    cr_assert_eq(fdn_exit(rt, NULL, a, FDN_REASON_KILL), FDN_OK);
    cr_assert(POLL_UNTIL(!fdn_alive(rt, a)));
    (void)reg;
}

/* Collects, then checks every registry metric against the registry. */
static void expect_registry_matches(fdn_telemetry_t *t, fdn_registry_t *reg,
                                    const char *const *names, size_t n)
{
    fdn__tel_collect(t);
    fdn_registry_stats_t st;
    fdn_registry_stats(reg, &st);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "register"),
                 st.registrations);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "unregister"),
                 st.unregistrations);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "join"),
                 st.joins);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "leave"),
                 st.leaves);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "update"),
                 st.updates);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "touch"),
                 st.touches);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "evict"),
                 st.evictions);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "expire"),
                 st.expirations);
    cr_expect_eq(counter(t, "fdn_registry_cleanups_total", NULL),
                 st.cleanups);
    cr_expect_eq(gauge(t, "fdn_registry_owners", NULL),
                 (int64_t)fdn_registry_owner_count(reg));
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(gauge(t, "fdn_registry_entries", names[i]),
                     (int64_t)fdn_registry_count(
                         fdn_registry_namespace_find(reg, names[i])),
                     "entries of %s", names[i]);
}

/* Checks: TEL-C11 */
Test(telemetry_instrument, registry_metrics_equal_the_registry_counts)
{
    fdn_runtime_t *rt = runtime_new(2);
    fdn_registry_t *reg;
    cr_assert_eq(fdn_registry_create(rt, NULL, &reg), FDN_OK);
    fdn_registry_ns_t *u, *d;
    cr_assert_eq(fdn_registry_namespace(reg, "u", &u), FDN_OK);
    fdn_pid_t a = spawn_worker(rt), b = spawn_worker(rt);
    /* Before instrumenting: counted too. */
    cr_assert_eq(fdn_registry_register(u, "early", b, NULL, NULL), FDN_OK);

    fdn_telemetry_t *t;
    cr_assert_eq(fdn_telemetry_create(NULL, &t), FDN_OK);
    /* "d" is created later; "missing" never is, and is not created. */
    static const char *const names[] = {"u", "d", "missing"};
    uint64_t id;
    cr_assert_eq(fdn_telemetry_instrument_registry(t, reg, names, 3, &id),
                 FDN_OK);
    expect_registry_matches(t, reg, names, 3);
    cr_expect_eq(gauge(t, "fdn_registry_entries", "u"), 1);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "register"), 1);

    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    o.kind = FDN_REGISTRY_DUPLICATE;
    cr_assert_eq(fdn_registry_namespace_opts(reg, "d", &o, &d), FDN_OK);
    registry_work(rt, reg, u, d, a, b);

    expect_registry_matches(t, reg, names, 3);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "register"),
                 1 + 7);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "unregister"),
                 1);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "join"), 3);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "leave"), 1);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "update"), 2);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "touch"), 1);
    cr_expect_eq(counter(t, "fdn_registry_cleanups_total", NULL), 5);
    cr_expect_eq(gauge(t, "fdn_registry_owners", NULL), 1);
    cr_expect_eq(gauge(t, "fdn_registry_entries", "u"), 3); /* early b0 b1 */
    cr_expect_eq(gauge(t, "fdn_registry_entries", "d"), 1); /* g: b */
    cr_expect_eq(gauge(t, "fdn_registry_entries", "missing"), 0);
    cr_assert_null(fdn_registry_namespace_find(reg, "missing"));
    /* Collecting again adds nothing. */
    expect_registry_matches(t, reg, names, 3);
    cr_expect_eq(counter(t, "fdn_registry_cleanups_total", NULL), 5);

    /* The other order: destroy the hub first (it frees the collector),
     * then the registry and the runtime. */
    fdn_telemetry_destroy(t);
    cr_assert_eq(fdn_exit(rt, NULL, b, FDN_REASON_KILL), FDN_OK);
    cr_assert(POLL_UNTIL(fdn_registry_total(reg) == 0));
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
}

/* Checks: TEL-C11 */
Test(telemetry_instrument, registry_without_namespaces)
{
    fdn_runtime_t *rt = runtime_new(1);
    fdn_registry_t *reg;
    cr_assert_eq(fdn_registry_create(rt, NULL, &reg), FDN_OK);
    fdn_telemetry_t *t;
    cr_assert_eq(fdn_telemetry_create(NULL, &t), FDN_OK);
    cr_assert_eq(fdn_telemetry_instrument_registry(t, reg, NULL, 0, NULL),
                 FDN_OK);
    fdn_registry_ns_t *u;
    cr_assert_eq(fdn_registry_namespace(reg, "u", &u), FDN_OK);
    fdn_pid_t a = spawn_worker(rt);
    cr_assert_eq(fdn_registry_register(u, "k", a, NULL, NULL), FDN_OK);
    expect_registry_matches(t, reg, NULL, 0);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "register"), 1);
    cr_expect_eq(fdn_metric_series_count(
                     fdn_metric_find(t, "fdn_registry_entries")),
                 0);
    fdn_telemetry_destroy(t);
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
}

/* Checks: TEL-C11 */
Test(telemetry_instrument, bad_arguments_and_double_instrumentation)
{
    fdn_runtime_t *rt = runtime_new(1);
    fdn_registry_t *reg, *reg2;
    cr_assert_eq(fdn_registry_create(rt, NULL, &reg), FDN_OK);
    cr_assert_eq(fdn_registry_create(rt, NULL, &reg2), FDN_OK);
    fdn_telemetry_t *t;
    cr_assert_eq(fdn_telemetry_create(NULL, &t), FDN_OK);

    cr_expect_eq(fdn_telemetry_instrument_runtime(NULL, rt, NULL),
                 FDN_EINVAL);
    cr_expect_eq(fdn_telemetry_instrument_runtime(t, NULL, NULL), FDN_EINVAL);
    cr_expect_eq(fdn_telemetry_instrument_registry(NULL, reg, NULL, 0, NULL),
                 FDN_EINVAL);
    cr_expect_eq(fdn_telemetry_instrument_registry(t, NULL, NULL, 0, NULL),
                 FDN_EINVAL);
    cr_expect_eq(fdn_telemetry_instrument_registry(t, reg, NULL, 1, NULL),
                 FDN_EINVAL);
    static const char *const bad1[] = {"ok", NULL};
    static const char *const bad2[] = {""};
    char longname[FDN_REGISTRY_NS_MAX + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *bad3[] = {longname};
    cr_expect_eq(fdn_telemetry_instrument_registry(t, reg, bad1, 2, NULL),
                 FDN_EINVAL);
    cr_expect_eq(fdn_telemetry_instrument_registry(t, reg, bad2, 1, NULL),
                 FDN_EINVAL);
    cr_expect_eq(fdn_telemetry_instrument_registry(t, reg, bad3, 1, NULL),
                 FDN_EINVAL);
    static const char *const bad4[] = {"ok", "bad\xff"}; /* not UTF-8 */
    cr_expect_eq(fdn_telemetry_instrument_registry(t, reg, bad4, 2, NULL),
                 FDN_EINVAL);
    /* Refused calls made nothing. */
    fdn_telemetry_stats_t ts;
    fdn_telemetry_stats(t, &ts);
    cr_expect_eq(ts.metrics, 0); /* (the hub's own is not counted) */

    uint64_t rid, gid;
    cr_assert_eq(fdn_telemetry_instrument_runtime(t, rt, &rid), FDN_OK);
    cr_expect_eq(fdn_telemetry_instrument_runtime(t, rt, NULL), FDN_EEXIST);
    cr_assert_eq(fdn_telemetry_instrument_registry(t, reg, NULL, 0, &gid),
                 FDN_OK);
    cr_expect_eq(fdn_telemetry_instrument_registry(t, reg, NULL, 0, NULL),
                 FDN_EEXIST);
    cr_expect_eq(fdn_telemetry_instrument_registry(t, reg2, NULL, 0, NULL),
                 FDN_EEXIST);
    fdn_telemetry_stats(t, &ts);
    uint64_t metrics = ts.metrics;
    /* Still refused once the collectors are gone: one of each per hub. */
    cr_assert_eq(fdn_telemetry_collector_remove(t, rid), FDN_OK);
    cr_assert_eq(fdn_telemetry_collector_remove(t, gid), FDN_OK);
    cr_expect_eq(fdn_telemetry_instrument_runtime(t, rt, NULL), FDN_EEXIST);
    cr_expect_eq(fdn_telemetry_instrument_registry(t, reg2, NULL, 0, NULL),
                 FDN_EEXIST);
    fdn_telemetry_stats(t, &ts);
    cr_expect_eq(ts.metrics, metrics);
    fdn_telemetry_destroy(t);

    /* A metric of one of the names, of another kind: FDN_EEXIST; of the
     * same shape: taken over. */
    cr_assert_eq(fdn_telemetry_create(NULL, &t), FDN_OK);
    fdn_metric_opts_t mo;
    fdn_metric_opts_init(&mo, FDN_METRIC_COUNTER, "fdn_processes_alive", "");
    fdn_metric_t *m;
    cr_assert_eq(fdn_metric_create(t, &mo, &m), FDN_OK);
    cr_expect_eq(fdn_telemetry_instrument_runtime(t, rt, NULL), FDN_EEXIST);
    fdn_metric_opts_init(&mo, FDN_METRIC_GAUGE, "fdn_registry_owners", "");
    cr_assert_eq(fdn_metric_create(t, &mo, &m), FDN_OK);
    cr_expect_eq(fdn_telemetry_instrument_registry(t, reg, NULL, 0, NULL),
                 FDN_OK);
    fdn__tel_collect(t);
    cr_expect_eq(fdn_metric_find(t, "fdn_registry_owners"), m);
    fdn_telemetry_destroy(t);

    fdn_registry_destroy(reg2);
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
}

/* A removed collector runs no more: its metrics keep the values of its
 * last run, and its context goes back to the allocator at once. */
/* Checks: TEL-C11 */
Test(telemetry_instrument, removal_freezes_and_frees)
{
    fdn_failing_allocator_t *fa;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_telemetry_opts_t to;
    fdn_telemetry_opts_init(&to);
    to.allocator = fdn_failing_allocator_get(fa);
    fdn_telemetry_t *t;
    cr_assert_eq(fdn_telemetry_create(&to, &t), FDN_OK);
    fdn_runtime_t *rt = runtime_new(1);
    fdn_registry_t *reg;
    cr_assert_eq(fdn_registry_create(rt, NULL, &reg), FDN_OK);
    fdn_registry_ns_t *u;
    cr_assert_eq(fdn_registry_namespace(reg, "u", &u), FDN_OK);
    static const char *const names[] = {"u"};
    uint64_t rid, gid;
    cr_assert_eq(fdn_telemetry_instrument_runtime(t, rt, &rid), FDN_OK);
    cr_assert_eq(fdn_telemetry_instrument_registry(t, reg, names, 1, &gid),
                 FDN_OK);
    fdn_pid_t a = spawn_worker(rt);
    cr_assert_eq(fdn_registry_register(u, "k", a, NULL, NULL), FDN_OK);
    fdn__tel_collect(t);
    cr_expect_eq(counter(t, "fdn_processes_spawned_total", NULL), 1);
    cr_expect_eq(gauge(t, "fdn_registry_entries", "u"), 1);

    int64_t live = fdn_failing_allocator_live(fa);
    cr_assert_eq(fdn_telemetry_collector_remove(t, rid), FDN_OK);
    cr_assert_eq(fdn_telemetry_collector_remove(t, gid), FDN_OK);
    /* Each collector was two allocations: its record and its context. */
    cr_expect_eq(fdn_failing_allocator_live(fa), live - 4);

    fdn_pid_t b = spawn_worker(rt);
    cr_assert_eq(fdn_registry_register(u, "k2", b, NULL, NULL), FDN_OK);
    fdn__tel_collect(t);
    cr_expect_eq(counter(t, "fdn_processes_spawned_total", NULL), 1);
    cr_expect_eq(gauge(t, "fdn_registry_entries", "u"), 1);
    cr_expect_eq(counter(t, "fdn_registry_operations_total", "register"), 1);

    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
    fdn_telemetry_destroy(t);
    cr_expect_eq(fdn_failing_allocator_live(fa), 0);
    fdn_failing_allocator_destroy(fa);
}

/* Out of memory at each allocation of an instrumentation in turn: the
 * call returns FDN_ENOMEM, and a retry succeeds, reusing the metrics the
 * failed call made; the values are then exact; nothing leaks. */
/* Checks: TEL-C11 */
Test(telemetry_instrument, out_of_memory_at_every_allocation)
{
    fdn_runtime_t *rt = runtime_new(2);
    fdn_registry_t *reg;
    cr_assert_eq(fdn_registry_create(rt, NULL, &reg), FDN_OK);
    fdn_registry_ns_t *u;
    cr_assert_eq(fdn_registry_namespace(reg, "u", &u), FDN_OK);
    fdn_pid_t a = spawn_worker(rt);
    cr_assert_eq(fdn_registry_register(u, "k", a, NULL, NULL), FDN_OK);
    static const char *const names[] = {"u", "v"};
    for (int which = 0; which < 2; which++) {
        bool done = false;
        for (uint64_t k = 1; !done && k < 1000; k++) {
            fdn_failing_allocator_t *fa;
            cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
            fdn_telemetry_opts_t to;
            fdn_telemetry_opts_init(&to);
            to.allocator = fdn_failing_allocator_get(fa);
            fdn_telemetry_t *t;
            cr_assert_eq(fdn_telemetry_create(&to, &t), FDN_OK);
            fdn_failing_allocator_arm(fa, k, true);
            int rc = which == 0
                         ? fdn_telemetry_instrument_runtime(t, rt, NULL)
                         : fdn_telemetry_instrument_registry(t, reg, names, 2,
                                                             NULL);
            fdn_failing_allocator_arm(fa, 0, false);
            if (rc == FDN_OK) {
                done = true;
            } else {
                cr_assert_eq(rc, FDN_ENOMEM, "allocation %llu: %d",
                             (unsigned long long)k, rc);
                rc = which == 0
                         ? fdn_telemetry_instrument_runtime(t, rt, NULL)
                         : fdn_telemetry_instrument_registry(t, reg, names, 2,
                                                             NULL);
                cr_assert_eq(rc, FDN_OK, "retry after allocation %llu: %d",
                             (unsigned long long)k, rc);
            }
            if (which == 0) {
                expect_runtime_matches(t, rt);
            } else {
                expect_registry_matches(t, reg, names, 2);
                cr_expect_eq(gauge(t, "fdn_registry_entries", "u"), 1);
            }
            fdn_telemetry_destroy(t);
            cr_expect_eq(fdn_failing_allocator_live(fa), 0);
            fdn_failing_allocator_destroy(fa);
        }
        cr_assert(done, "instrumentation %d never succeeded", which);
    }
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
}

typedef struct {
    fdn_runtime_t *rt;
    _Atomic int *done;
    int rounds;
} churn_t;

/* Attaches and detaches over and over: every exit is NORMAL. */
static void *attach_churn(void *arg)
{
    churn_t *c = arg;
    for (int i = 0; i < c->rounds; i++) {
        fdn_ctx_t *ctx;
        if (fdn_attach(c->rt, &ctx) == FDN_OK)
            fdn_detach(ctx);
    }
    atomic_fetch_add(c->done, 1);
    return NULL;
}

/* Checks: TEL-C11 */
Test(telemetry_instrument, exits_in_flight_never_count_as_other)
{
    /* Collections racing exits of a known reason: an exit caught between
     * its two counts must never land in "other", which a counter could
     * not take back. */
    fdn_runtime_t *rt = runtime_new(2);
    fdn_telemetry_t *t = NULL;
    cr_assert_eq(fdn_telemetry_create(NULL, &t), FDN_OK);
    cr_assert_eq(fdn_telemetry_instrument_runtime(t, rt, NULL), FDN_OK);
    enum { THREADS = 4 };
    _Atomic int done = 0;
    churn_t c = {.rt = rt, .done = &done, .rounds = 3000};
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, attach_churn, &c), 0);
    uint64_t collections = 0;
    while (atomic_load(&done) < THREADS) {
        fdn_telemetry_collect(t);
        collections++;
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    fdn_telemetry_collect(t);
    fdn_runtime_stats_t st;
    fdn_runtime_stats(rt, &st);
    cr_expect_eq(st.exited_other, 0);
    cr_expect_eq(counter(t, "fdn_process_exits_total", "other"), 0,
                 "after %llu collections",
                 (unsigned long long)collections);
    cr_expect_eq(counter(t, "fdn_process_exits_total", "normal"),
                 st.exited_normal);
    cr_expect_geq(st.exited_normal, (uint64_t)THREADS * 3000);
    fdn_telemetry_destroy(t);
    fdn_runtime_destroy(rt);
}
