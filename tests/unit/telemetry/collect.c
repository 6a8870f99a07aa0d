/*
 * collect.c — collectors: order, removal, and the calls a collector may
 * make back into its hub without deadlocking.
 */
#include "unit/telemetry/tel_helpers.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct {
    fdn_telemetry_t *t;
    fdn_series_t *g;
    int *log;
    int *n_log;
    int tag;
    uint64_t own_id;
    int rc_remove, rc_add;
    char *exposition;
    int rc_export;
} col_t;

static void record_order(fdn_telemetry_t *t, void *ctx)
{
    (void)t;
    col_t *c = ctx;
    c->log[(*c->n_log)++] = c->tag;
    fdn_gauge_add(c->g, 1);
}

/* Checks: TEL-C12 */
Test(telemetry_collect, collectors_run_in_order_before_each_export)
{
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *g = fdn_metric_default(tel_metric(t, FDN_METRIC_GAUGE,
                                                    "runs"));
    int log[16], n = 0;
    col_t a = {.g = g, .log = log, .n_log = &n, .tag = 1};
    col_t b = {.g = g, .log = log, .n_log = &n, .tag = 2};
    uint64_t ida, idb;
    cr_assert_eq(fdn_telemetry_collector_add(t, record_order, &a, &ida),
                 FDN_OK);
    cr_assert_eq(fdn_telemetry_collector_add(t, record_order, &b, &idb),
                 FDN_OK);
    cr_expect_neq(ida, idb);
    char *out;
    cr_assert_eq(fdn_telemetry_prometheus(t, &out, NULL), FDN_OK);
    /* The export saw both runs. */
    cr_expect(strstr(out, "\nruns 2\n") != NULL, "%s", out);
    fdn_telemetry_free(t, out);
    cr_assert_eq(n, 2);
    cr_expect_eq(log[0], 1);
    cr_expect_eq(log[1], 2);
    cr_assert_eq(fdn_telemetry_collector_remove(t, ida), FDN_OK);
    cr_expect_eq(fdn_telemetry_collector_remove(t, ida), FDN_ENOENT);
    fdn_telemetry_collect(t);
    cr_assert_eq(n, 3);
    cr_expect_eq(log[2], 2);
    cr_expect_eq(fdn_telemetry_collector_add(t, NULL, NULL, NULL),
                 FDN_EINVAL);
    cr_expect_eq(fdn_telemetry_collector_add(NULL, record_order, &a, NULL),
                 FDN_EINVAL);
    cr_expect_eq(fdn_telemetry_collector_remove(NULL, 1), FDN_EINVAL);
    fdn_telemetry_collect(NULL);
    fdn_telemetry_destroy(t);
}

static void reentrant(fdn_telemetry_t *t, void *ctx)
{
    col_t *c = ctx;
    fdn_gauge_add(c->g, 1);
    /* Each of these would deadlock on the collectors' lock if the hub did
     * not notice it is inside its own collector. */
    c->rc_remove = fdn_telemetry_collector_remove(t, c->own_id);
    c->rc_add = fdn_telemetry_collector_add(t, reentrant, c, NULL);
    fdn_telemetry_collect(t);
    free(c->exposition);
    c->exposition = NULL;
    char *out;
    size_t len;
    c->rc_export = fdn_telemetry_prometheus(t, &out, &len);
    if (c->rc_export == FDN_OK) {
        c->exposition = strdup(out);
        fdn_telemetry_free(t, out);
    }
}

/* Checks: TEL-C12, TEL-L1 */
Test(telemetry_collect, a_collector_calling_back_never_deadlocks,
     .timeout = 20)
{
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *g = fdn_metric_default(tel_metric(t, FDN_METRIC_GAUGE,
                                                    "runs"));
    col_t c = {.t = t, .g = g};
    cr_assert_eq(fdn_telemetry_collector_add(t, reentrant, &c, &c.own_id),
                 FDN_OK);
    char *out;
    cr_assert_eq(fdn_telemetry_prometheus(t, &out, NULL), FDN_OK);
    fdn_telemetry_free(t, out);
    cr_expect_eq(c.rc_remove, FDN_EBUSY);
    cr_expect_eq(c.rc_add, FDN_EBUSY);
    cr_expect_eq(c.rc_export, FDN_OK);
    /* The nested collect and export ran no collector: one run so far. */
    cr_expect_eq(fdn_gauge_value(g), 1.0);
    cr_assert_not_null(c.exposition);
    cr_expect(strstr(c.exposition, "\nruns 1\n") != NULL, "%s",
              c.exposition);
    free(c.exposition);
    /* Still there, and removable from outside. */
    cr_expect_eq(fdn_telemetry_collector_remove(t, c.own_id), FDN_OK);
    fdn_telemetry_destroy(t);
}

/* A collector that attaches and detaches a handler (each waits for a grace
 * period) while another thread exports from inside an event handler (a
 * read-side critical section). */
typedef struct {
    fdn_telemetry_t *t;
    _Atomic int collector_in, handler_in;
    int rc_attach, rc_detach, rc_export, rc_add, rc_remove;
    int collector_runs;
} crossed_t;

static int noop_handler(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    (void)ctx;
    return 0;
}

static void attaching_collector(fdn_telemetry_t *t, void *ctx)
{
    crossed_t *x = ctx;
    x->collector_runs++;
    if (atomic_load(&x->collector_in))
        return; /* only the first run waits for the handler */
    atomic_store(&x->collector_in, 1);
    while (!atomic_load(&x->handler_in))
        sched_yield();
    uint64_t id;
    x->rc_attach = fdn_telemetry_attach(t, "other", noop_handler, NULL, &id);
    if (x->rc_attach == FDN_OK)
        x->rc_detach = fdn_telemetry_detach(t, id);
}

static int exporting_handler(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    crossed_t *x = ctx;
    while (!atomic_load(&x->collector_in))
        sched_yield();
    atomic_store(&x->handler_in, 1);
    /* The collector holds the collectors' lock and waits for a grace
     * period that this handler holds back: waiting here for the lock would
     * deadlock both threads. */
    char *out;
    x->rc_export = fdn_telemetry_prometheus(x->t, &out, NULL);
    if (x->rc_export == FDN_OK)
        fdn_telemetry_free(x->t, out);
    x->rc_add = fdn_telemetry_collector_add(x->t, attaching_collector, x,
                                            NULL);
    x->rc_remove = fdn_telemetry_collector_remove(x->t, 1);
    return 0;
}

static void *emit_one(void *arg)
{
    crossed_t *x = arg;
    fdn_telemetry_emit(x->t, "scrape.now", NULL, 0, NULL, 0);
    return NULL;
}

/* Checks: TEL-C12, TEL-L1 */
Test(telemetry_collect, a_handler_exporting_while_a_collector_attaches,
     .timeout = 20)
{
    fdn_telemetry_t *t = tel_new();
    crossed_t x = {.t = t};
    uint64_t cid;
    cr_assert_eq(fdn_telemetry_collector_add(t, attaching_collector, &x,
                                             &cid),
                 FDN_OK);
    cr_assert_eq(cid, 1);
    cr_assert_eq(fdn_telemetry_attach(t, "scrape.now", exporting_handler, &x,
                                      NULL),
                 FDN_OK);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, emit_one, &x), 0);
    fdn_telemetry_collect(t); /* runs attaching_collector on this thread */
    pthread_join(th, NULL);
    cr_expect_eq(x.rc_attach, FDN_OK);
    cr_expect_eq(x.rc_detach, FDN_OK);
    /* The handler's export found the collectors busy: it ran none and
     * still exported; its add and remove could not wait and said so. */
    cr_expect_eq(x.rc_export, FDN_OK);
    cr_expect_eq(x.collector_runs, 1);
    cr_expect_eq(x.rc_add, FDN_EBUSY);
    cr_expect_eq(x.rc_remove, FDN_EBUSY);
    /* Outside a reader, with the lock free, all of it works again. */
    cr_expect_eq(fdn_telemetry_collector_remove(t, cid), FDN_OK);
    fdn_telemetry_destroy(t);
}

static void count_run(fdn_telemetry_t *t, void *ctx)
{
    (void)t;
    (*(int *)ctx)++;
}

typedef struct {
    fdn_telemetry_t *t;
    int rc_export, rc_remove;
} in_handler_t;

static int export_from_handler(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    in_handler_t *x = ctx;
    char *out;
    x->rc_export = fdn_telemetry_prometheus(x->t, &out, NULL);
    if (x->rc_export == FDN_OK)
        fdn_telemetry_free(x->t, out);
    fdn_telemetry_collect(x->t);
    x->rc_remove = fdn_telemetry_collector_remove(x->t, 12345);
    return 0;
}

/* Checks: TEL-C12 */
Test(telemetry_collect, collectors_never_run_inside_a_handler, .timeout = 20)
{
    /* Even with the lock free: a collector run inside a handler would run
     * inside a read-side section, where its detach of a handler could not
     * wait, and it could free that handler's context while another thread
     * still runs it. */
    fdn_telemetry_t *t = tel_new();
    int runs = 0;
    cr_assert_eq(fdn_telemetry_collector_add(t, count_run, &runs, NULL),
                 FDN_OK);
    in_handler_t x = {.t = t, .rc_export = -1, .rc_remove = -1};
    cr_assert_eq(fdn_telemetry_attach(t, "dump", export_from_handler, &x,
                                      NULL),
                 FDN_OK);
    fdn_telemetry_emit(t, "dump", NULL, 0, NULL, 0);
    cr_expect_eq(x.rc_export, FDN_OK);
    cr_expect_eq(runs, 0);
    /* The lock was free, so the remove could try it: no such id. */
    cr_expect_eq(x.rc_remove, FDN_ENOENT);
    fdn_telemetry_collect(t);
    cr_expect_eq(runs, 1);
    fdn_telemetry_destroy(t);
}

typedef struct {
    fdn_telemetry_t *self, *other;
    uint64_t other_id, self_id;
    int runs;
    int rc_export, rc_add_self, rc_remove_other;
} cross_hub_t;

static void export_the_other_hub(fdn_telemetry_t *t, void *ctx)
{
    (void)t;
    cross_hub_t *x = ctx;
    x->runs++;
    char *out;
    x->rc_export = fdn_telemetry_prometheus(x->other, &out, NULL);
    if (x->rc_export == FDN_OK)
        fdn_telemetry_free(x->other, out);
    x->rc_add_self = fdn_telemetry_collector_add(x->self, count_run,
                                                 &x->runs, NULL);
    if (x->other_id != 0)
        x->rc_remove_other = fdn_telemetry_collector_remove(x->other,
                                                            x->other_id);
}

/* Checks: TEL-C12, TEL-L1 */
Test(telemetry_collect, two_hubs_whose_collectors_export_each_other,
     .timeout = 20)
{
    fdn_telemetry_t *a = tel_new(), *b = tel_new();
    cross_hub_t xa = {.self = a, .other = b}, xb = {.self = b, .other = a};
    cr_assert_eq(fdn_telemetry_collector_add(a, export_the_other_hub, &xa,
                                             &xa.self_id),
                 FDN_OK);
    cr_assert_eq(fdn_telemetry_collector_add(b, export_the_other_hub, &xb,
                                             &xb.self_id),
                 FDN_OK);
    char *out;
    cr_assert_eq(fdn_telemetry_prometheus(a, &out, NULL), FDN_OK);
    fdn_telemetry_free(a, out);
    /* A's collector ran; the export of B inside it ran none of B's. */
    cr_expect_eq(xa.runs, 1);
    cr_expect_eq(xb.runs, 0);
    cr_expect_eq(xa.rc_export, FDN_OK);
    cr_expect_eq(xa.rc_add_self, FDN_EBUSY);
    cr_assert_eq(fdn_telemetry_prometheus(b, &out, NULL), FDN_OK);
    fdn_telemetry_free(b, out);
    cr_expect_eq(xa.runs, 1);
    cr_expect_eq(xb.runs, 1);
    /* B's lock is free while A's collector runs: removing one of B's
     * collectors from there works. */
    xa.other_id = xb.self_id;
    fdn_telemetry_collect(a);
    cr_expect_eq(xa.rc_remove_other, FDN_OK);
    fdn_telemetry_collect(b);
    cr_expect_eq(xb.runs, 1, "removed");
    fdn_telemetry_destroy(a);
    fdn_telemetry_destroy(b);
}
