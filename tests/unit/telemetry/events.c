/*
 * events.c — event handlers: pattern matching, attach order, ids,
 * detach (from outside, from inside a handler, from another thread while
 * emits run), failing handlers and the failure event, bad input, and out
 * of memory.
 */
#include "unit/telemetry/ev_helpers.h"
#include "unit/on_valgrind.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static ev_fixture_t fx;

static void setup(void) { ev_fixture_up(&fx); }
static void teardown(void) { ev_fixture_down(&fx); }

static void emit0(const char *name)
{
    fdn_telemetry_emit(fx.t, name, NULL, 0, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* Matching                                                                 */
/* ------------------------------------------------------------------------ */

/* Checks: TEL-I5 TEL-L1 */
Test(telemetry_events, exact_prefix_and_all_match_as_stated,
     .init = setup, .fini = teardown)
{
    static ev_rec_t exact, prefix, all, deep;
    memset(&exact, 0, sizeof exact);
    memset(&prefix, 0, sizeof prefix);
    memset(&all, 0, sizeof all);
    memset(&deep, 0, sizeof deep);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "a.b", ev_record, &exact, NULL),
                 FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "a.b.*", ev_record, &prefix,
                                      NULL), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "*", ev_record, &all, NULL),
                 FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "a.b.c.*", ev_record, &deep,
                                      NULL), FDN_OK);
    cr_assert_eq(ev_handlers(fx.t), 4);

    /* name, then how many times exact, prefix, deep should have run. */
    static const struct {
        const char *name;
        int exact, prefix, deep;
    } cases[] = {
        {"a.b", 1, 1, 0},     {"a.b.c", 0, 1, 1}, {"a.b.c.d", 0, 1, 1},
        {"a.bc", 0, 0, 0},    {"a.bc.d", 0, 0, 0}, {"a", 0, 0, 0},
        {"a.b.cd", 0, 1, 0},  {"b.a.b", 0, 0, 0},  {"a.b.", 0, 1, 0},
        {"x", 0, 0, 0},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    int e = 0, p = 0, d = 0;
    for (int i = 0; i < n; i++) {
        emit0(cases[i].name);
        e += cases[i].exact;
        p += cases[i].prefix;
        d += cases[i].deep;
        /* Each matching handler ran exactly once for this event. */
        cr_assert_eq(exact.calls, e, "%s: exact %d", cases[i].name,
                     exact.calls);
        cr_assert_eq(prefix.calls, p, "%s: prefix %d", cases[i].name,
                     prefix.calls);
        cr_assert_eq(deep.calls, d, "%s: deep %d", cases[i].name,
                     deep.calls);
        cr_assert_eq(all.calls, i + 1, "%s: all %d", cases[i].name,
                     all.calls);
        cr_assert_str_eq(all.ev[i].name, cases[i].name);
    }
    cr_assert(fdn_telemetry_is_listened(fx.t, "a.b.zz"));
    cr_assert(fdn_telemetry_is_listened(fx.t, "anything"));
}

/* Checks: TEL-I5 */
Test(telemetry_events, is_listened_follows_the_patterns,
     .init = setup, .fini = teardown)
{
    static ev_rec_t r;
    memset(&r, 0, sizeof r);
    cr_assert_not(fdn_telemetry_is_listened(fx.t, "a.b"));
    uint64_t id;
    cr_assert_eq(fdn_telemetry_attach(fx.t, "a.b.*", ev_record, &r, &id),
                 FDN_OK);
    cr_assert(fdn_telemetry_is_listened(fx.t, "a.b"));
    cr_assert(fdn_telemetry_is_listened(fx.t, "a.b.c"));
    cr_assert_not(fdn_telemetry_is_listened(fx.t, "a.bc"));
    cr_assert_not(fdn_telemetry_is_listened(fx.t, "a"));
    cr_assert_not(fdn_telemetry_is_listened(fx.t, NULL));
    cr_assert_not(fdn_telemetry_is_listened(fx.t, ""));
    cr_assert_not(fdn_telemetry_is_listened(NULL, "a.b"));
    cr_assert_eq(fdn_telemetry_detach(fx.t, id), FDN_OK);
    cr_assert_not(fdn_telemetry_is_listened(fx.t, "a.b"));
    cr_assert_eq(r.calls, 0);
}

/* Checks: TEL-L1 */
Test(telemetry_events, handlers_run_in_attach_order,
     .init = setup, .fini = teardown)
{
    static ev_rec_t r[4];
    memset(r, 0, sizeof r);
    int order[16], n_order = 0;
    const char *patterns[4] = {"*", "x.y", "x.*", "x.y.*"};
    uint64_t ids[4];
    for (int i = 0; i < 4; i++) {
        r[i].order = order;
        r[i].n_order = &n_order;
        r[i].tag = i;
        cr_assert_eq(fdn_telemetry_attach(fx.t, patterns[i], ev_record,
                                          &r[i], &ids[i]), FDN_OK);
    }
    emit0("x.y");
    cr_assert_eq(n_order, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(order[i], i);

    /* Detach the second; re-attach it: it now runs last. */
    cr_assert_eq(fdn_telemetry_detach(fx.t, ids[1]), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, patterns[1], ev_record, &r[1],
                                      &ids[1]), FDN_OK);
    n_order = 0;
    emit0("x.y");
    int want[4] = {0, 2, 3, 1};
    cr_assert_eq(n_order, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(order[i], want[i], "at %d: %d", i, order[i]);
}

/* ------------------------------------------------------------------------ */
/* Patterns, ids, detach                                                    */
/* ------------------------------------------------------------------------ */

static int nop(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev, (void)ctx;
    return 0;
}

/* Checks: TEL-C5 */
Test(telemetry_events, bad_patterns_are_refused_and_attach_nothing,
     .init = setup, .fini = teardown)
{
    char too_long[FDN_TELEMETRY_NAME_MAX + 2];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    const char *bad[] = {
        NULL, "", ".", "a.", ".a", "a..b", "a*", "a.b*", "*a", "*.a",
        "a.*.b", "**", "a.**", "a.*.*", ".*", "a..*", too_long,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t id = 99;
        cr_assert_eq(fdn_telemetry_attach(fx.t, bad[i], nop, NULL, &id),
                     FDN_EINVAL, "pattern %zu \"%s\"", i,
                     bad[i] ? bad[i] : "(null)");
        cr_assert_eq(id, 99);
    }
    cr_assert_eq(fdn_telemetry_attach(fx.t, "a.b", NULL, NULL, NULL),
                 FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_attach(NULL, "a.b", nop, NULL, NULL),
                 FDN_EINVAL);
    cr_assert_eq(ev_handlers(fx.t), 0);

    /* The longest pattern is accepted, exact and as a prefix. */
    too_long[FDN_TELEMETRY_NAME_MAX] = '\0';
    cr_assert_eq(fdn_telemetry_attach(fx.t, too_long, nop, NULL, NULL),
                 FDN_OK);
    too_long[FDN_TELEMETRY_NAME_MAX - 2] = '.';
    too_long[FDN_TELEMETRY_NAME_MAX - 1] = '*';
    cr_assert_eq(fdn_telemetry_attach(fx.t, too_long, nop, NULL, NULL),
                 FDN_OK);
    const char *good[] = {"*", "a", "a.*", "a.b.c", "a-b.c_d.*", "a b"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert_eq(fdn_telemetry_attach(fx.t, good[i], nop, NULL, NULL),
                     FDN_OK, "pattern %s", good[i]);
    cr_assert_eq(ev_handlers(fx.t), 8);
}

/* Checks: TEL-C5 */
Test(telemetry_events, ids_start_at_one_and_are_never_reused,
     .init = setup, .fini = teardown)
{
    uint64_t a, b, c, d;
    cr_assert_eq(fdn_telemetry_attach(fx.t, "x", nop, NULL, &a), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "x", nop, NULL, &b), FDN_OK);
    cr_assert_eq(a, 1);
    cr_assert_eq(b, 2);
    cr_assert_eq(fdn_telemetry_detach(fx.t, b), FDN_OK);
    cr_assert_eq(fdn_telemetry_detach(fx.t, b), FDN_ENOENT);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "x", nop, NULL, &c), FDN_OK);
    cr_assert_eq(c, 3);
    /* A refused attach takes no id. */
    cr_assert_eq(fdn_telemetry_attach(fx.t, "x.", nop, NULL, NULL),
                 FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "y", nop, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_telemetry_detach(fx.t, a), FDN_OK);
    cr_assert_eq(fdn_telemetry_detach(fx.t, c), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "x", nop, NULL, &d), FDN_OK);
    cr_assert_eq(d, 5);
    cr_assert_eq(fdn_telemetry_detach(fx.t, 0), FDN_ENOENT);
    cr_assert_eq(fdn_telemetry_detach(fx.t, 77), FDN_ENOENT);
    cr_assert_eq(fdn_telemetry_detach(NULL, d), FDN_EINVAL);
    cr_assert_eq(ev_handlers(fx.t), 2);
}

/* Checks: TEL-I5 */
Test(telemetry_events, bad_names_emit_nothing, .init = setup,
     .fini = teardown)
{
    static ev_rec_t r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "*", ev_record, &r, NULL),
                 FDN_OK);
    char name[FDN_TELEMETRY_NAME_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    emit0(NULL);
    emit0("");
    emit0(name); /* one byte too long */
    fdn_telemetry_emit(fx.t, "ok", NULL, 2, NULL, 0);
    fdn_telemetry_emit(fx.t, "ok", NULL, 0, NULL, 1);
    fdn_telemetry_emit(NULL, "ok", NULL, 0, NULL, 0);
    cr_assert_eq(r.calls, 0);
    cr_assert_not(fdn_telemetry_is_listened(fx.t, name));
    name[FDN_TELEMETRY_NAME_MAX] = '\0'; /* the longest good name */
    emit0(name);
    cr_assert_eq(r.calls, 1);
    cr_assert_str_eq(r.ev[0].name, name);
}

/* Checks: TEL-L1 */
Test(telemetry_events, the_event_carries_time_measurements_and_metadata,
     .init = setup, .fini = teardown)
{
    static ev_rec_t r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "db.query", ev_record, &r, NULL),
                 FDN_OK);
    cr_assert_eq(fdn_clock_advance(fx.clock, 1234), FDN_OK);
    fdn_telemetry_measurement_t m[2] = {{"rows", 3}, {"bytes", 4.5}};
    fdn_telemetry_meta_t md[4] = {
        FDN_TMETA_S("table", "users"), FDN_TMETA_I("shard", -2),
        FDN_TMETA_U("conn", 7), FDN_TMETA_D("load", 0.25),
    };
    fdn_telemetry_emit(fx.t, "db.query", m, 2, md, 4);
    cr_assert_eq(r.calls, 1);
    const ev_copy_t *c = &r.ev[0];
    cr_assert_eq(c->time_ns, EV_T0 + 1234);
    cr_assert_eq(c->n_m, 2);
    cr_assert_eq(ev_m(c, "rows"), 3);
    cr_assert_eq(ev_m(c, "bytes"), 4.5);
    cr_assert_eq(c->n_md, 4);
    cr_assert_str_eq(ev_md(c, "table")->s, "users");
    cr_assert_eq(ev_md(c, "shard")->i, -2);
    cr_assert_eq(ev_md(c, "conn")->u, 7);
    cr_assert_eq(ev_md(c, "load")->d, 0.25);
}

/* ------------------------------------------------------------------------ */
/* Failures                                                                 */
/* ------------------------------------------------------------------------ */

/* Checks: TEL-S5 */
Test(telemetry_events, a_failing_handler_is_detached_and_reported,
     .init = setup, .fini = teardown)
{
    static ev_rec_t before, bad, after, watch;
    memset(&before, 0, sizeof before);
    memset(&bad, 0, sizeof bad);
    memset(&after, 0, sizeof after);
    memset(&watch, 0, sizeof watch);
    bad.rc = -7;
    uint64_t bad_id;
    cr_assert_eq(fdn_telemetry_attach(fx.t, "telemetry.handler.*", ev_record,
                                      &watch, NULL), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "job.*", ev_record, &before,
                                      NULL), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "job.done", ev_record, &bad,
                                      &bad_id), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "job.done", ev_record, &after,
                                      NULL), FDN_OK);

    emit0("job.done");
    cr_assert_eq(before.calls, 1);
    cr_assert_eq(bad.calls, 1);
    cr_assert_eq(after.calls, 1, "the handler after the failed one ran");
    cr_assert_eq(watch.calls, 1);
    const ev_copy_t *f = &watch.ev[0];
    cr_assert_str_eq(f->name, "telemetry.handler.failure");
    cr_assert_eq(f->n_md, 4);
    cr_assert_eq(ev_md(f, "handler_id")->kind, FDN_TMETA_UINT);
    cr_assert_eq(ev_md(f, "handler_id")->u, bad_id);
    cr_assert_eq(ev_md(f, "pattern")->kind, FDN_TMETA_STR);
    cr_assert_str_eq(ev_md(f, "pattern")->s, "job.done");
    cr_assert_eq(ev_md(f, "event")->kind, FDN_TMETA_STR);
    cr_assert_str_eq(ev_md(f, "event")->s, "job.done");
    cr_assert_eq(ev_md(f, "error")->kind, FDN_TMETA_INT);
    cr_assert_eq(ev_md(f, "error")->i, -7);
    cr_assert_eq(f->time_ns, EV_T0);
    cr_assert_eq(ev_failures(fx.t), 1);
    cr_assert_eq(ev_handlers(fx.t), 3);

    /* Detached: never called again, and its id is gone. */
    emit0("job.done");
    emit0("job.done");
    cr_assert_eq(bad.calls, 1);
    cr_assert_eq(before.calls, 3);
    cr_assert_eq(after.calls, 3);
    cr_assert_eq(watch.calls, 1);
    cr_assert_eq(fdn_telemetry_detach(fx.t, bad_id), FDN_ENOENT);
}

static _Atomic int greedy_calls;

/* Fails on every event: on "*" it sees its own failure event too. */
static int greedy(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev, (void)ctx;
    atomic_fetch_add(&greedy_calls, 1);
    return 1;
}

/* Checks: TEL-F5 TEL-S5 */
Test(telemetry_events, failing_on_the_failure_event_does_not_recurse,
     .init = setup, .fini = teardown)
{
    static ev_rec_t first, on_failure, watch;
    memset(&first, 0, sizeof first);
    memset(&on_failure, 0, sizeof on_failure);
    memset(&watch, 0, sizeof watch);
    first.rc = 5;
    on_failure.rc = 6;
    uint64_t first_id, on_failure_id;
    cr_assert_eq(fdn_telemetry_attach(fx.t, "x", ev_record, &first,
                                      &first_id), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "telemetry.handler.failure",
                                      ev_record, &on_failure,
                                      &on_failure_id), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "*", ev_record, &watch, NULL),
                 FDN_OK);
    emit0("x");
    /* first failed on x; on_failure failed on first's failure event. */
    cr_assert_eq(first.calls, 1);
    cr_assert_eq(on_failure.calls, 1);
    cr_assert_str_eq(on_failure.ev[0].name, "telemetry.handler.failure");
    cr_assert_eq(ev_md(&on_failure.ev[0], "handler_id")->u, first_id);
    cr_assert_eq(ev_failures(fx.t), 2);
    cr_assert_eq(ev_handlers(fx.t), 1);
    /* watch saw the failure event (first's), then x itself; the failure
     * on the failure event was counted, not reported again. */
    cr_assert_eq(watch.calls, 2);
    cr_assert_str_eq(watch.ev[0].name, "telemetry.handler.failure");
    cr_assert_eq(ev_md(&watch.ev[0], "handler_id")->u, first_id);
    cr_assert_str_eq(watch.ev[1].name, "x");
    emit0("x");
    emit0("telemetry.handler.failure");
    cr_assert_eq(first.calls, 1);
    cr_assert_eq(on_failure.calls, 1);
    cr_assert_eq(watch.calls, 4);

    /* A handler on "*" that always fails: called once, then gone. */
    atomic_store(&greedy_calls, 0);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "*", greedy, NULL, NULL),
                 FDN_OK);
    emit0("y");
    cr_assert_eq(atomic_load(&greedy_calls), 1);
    cr_assert_eq(ev_failures(fx.t), 3);
    /* watch: y, then greedy's failure event. */
    cr_assert_eq(watch.calls, 6);
    cr_assert_str_eq(watch.ev[4].name, "y");
    cr_assert_str_eq(watch.ev[5].name, "telemetry.handler.failure");
    emit0("y");
    cr_assert_eq(atomic_load(&greedy_calls), 1);
    cr_assert_eq(ev_handlers(fx.t), 1);
}

/* ------------------------------------------------------------------------ */
/* Changes from inside a handler                                            */
/* ------------------------------------------------------------------------ */

struct self_detach {
    fdn_telemetry_t *t;
    uint64_t id;      /* the handler to detach */
    int calls;
    int rc;           /* what detach returned */
    uint64_t attach_id;
};

static int detach_on_call(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    struct self_detach *s = ctx;
    s->calls++;
    s->rc = fdn_telemetry_detach(s->t, s->id);
    return 0;
}

static int attach_on_call(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    struct self_detach *s = ctx;
    s->calls++;
    if (s->attach_id == 0)
        s->rc = fdn_telemetry_attach(s->t, "*", nop, NULL, &s->attach_id);
    return 0;
}

/* Checks: TEL-S6 TEL-L1 */
Test(telemetry_events, detach_and_attach_from_inside_a_handler,
     .init = setup, .fini = teardown)
{
    /* A handler detaching itself. */
    struct self_detach self = {.t = fx.t, .rc = 1};
    cr_assert_eq(fdn_telemetry_attach(fx.t, "e", detach_on_call, &self,
                                      &self.id), FDN_OK);
    emit0("e");
    cr_assert_eq(self.calls, 1);
    cr_assert_eq(self.rc, FDN_OK);
    emit0("e");
    cr_assert_eq(self.calls, 1);
    cr_assert_eq(ev_handlers(fx.t), 0);

    /* A handler detaching one attached after it: the later one is not
     * run for this event either (this thread saw the detach). */
    static ev_rec_t later;
    memset(&later, 0, sizeof later);
    struct self_detach other = {.t = fx.t, .rc = 1};
    uint64_t killer;
    cr_assert_eq(fdn_telemetry_attach(fx.t, "e", detach_on_call, &other,
                                      &killer), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "e", ev_record, &later,
                                      &other.id), FDN_OK);
    emit0("e");
    cr_assert_eq(other.calls, 1);
    cr_assert_eq(other.rc, FDN_OK);
    cr_assert_eq(later.calls, 0);
    emit0("e");
    cr_assert_eq(other.rc, FDN_ENOENT);
    cr_assert_eq(later.calls, 0);
    cr_assert_eq(fdn_telemetry_detach(fx.t, killer), FDN_OK);

    /* A handler attaching another: the new one runs from the next event
     * (this emit walks the handlers it started with). */
    struct self_detach att = {.t = fx.t, .rc = 1};
    uint64_t attacher;
    cr_assert_eq(fdn_telemetry_attach(fx.t, "e", attach_on_call, &att,
                                      &attacher), FDN_OK);
    emit0("e");
    cr_assert_eq(att.rc, FDN_OK);
    cr_assert_neq(att.attach_id, 0);
    cr_assert_eq(ev_handlers(fx.t), 2);
    cr_assert_eq(fdn_telemetry_detach(fx.t, att.attach_id), FDN_OK);
    cr_assert_eq(fdn_telemetry_detach(fx.t, attacher), FDN_OK);
    cr_assert_eq(ev_handlers(fx.t), 0);
}

static int emit_inner(const fdn_telemetry_event_t *ev, void *ctx)
{
    fdn_telemetry_t *t = ctx;
    if (strcmp(ev->name, "outer") == 0)
        fdn_telemetry_emit(t, "inner", NULL, 0, NULL, 0);
    return 0;
}

/* Checks: TEL-L1 */
Test(telemetry_events, a_handler_may_emit, .init = setup, .fini = teardown)
{
    static ev_rec_t r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "outer", emit_inner, fx.t, NULL),
                 FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "*", ev_record, &r, NULL),
                 FDN_OK);
    emit0("outer");
    cr_assert_eq(r.calls, 2);
    cr_assert_str_eq(r.ev[0].name, "inner");
    cr_assert_str_eq(r.ev[1].name, "outer");
}

/* ------------------------------------------------------------------------ */
/* Detach while other threads emit                                          */
/* ------------------------------------------------------------------------ */

enum { EMITTERS = 3 };

struct probe {
    _Atomic int running; /* calls in progress */
    _Atomic long calls;
};

struct race {
    fdn_telemetry_t *t;
    pthread_barrier_t start;
    _Atomic bool stop;
    _Atomic long emitted[EMITTERS];
    _Atomic long counted; /* calls of the always-attached counter */
};

struct emitter_arg {
    struct race *r;
    int idx;
};

static int probe_handler(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    struct probe *p = ctx;
    atomic_fetch_add(&p->running, 1);
    atomic_fetch_add(&p->calls, 1);
    /* A little work inside, so that detach often meets a running call. */
    for (volatile int i = 0; i < 50; i++) {
    }
    atomic_fetch_sub(&p->running, 1);
    return 0;
}

static int count_handler(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    struct race *r = ctx;
    atomic_fetch_add(&r->counted, 1);
    return 0;
}

static void *emitter(void *arg)
{
    struct emitter_arg *a = arg;
    pthread_barrier_wait(&a->r->start);
    while (!atomic_load(&a->r->stop)) {
        fdn_telemetry_emit(a->r->t, "hot.event", NULL, 0, NULL, 0);
        atomic_fetch_add(&a->r->emitted[a->idx], 1);
    }
    return NULL;
}

/* Waits (bounded polling, 10 s) until every emitter has emitted at least
 * more events than in base[]. */
static bool wait_emits(struct race *r, const long *base, long more)
{
    for (long spins = 0; spins < 10L * 1000 * 1000; spins++) {
        bool done = true;
        for (int i = 0; i < EMITTERS; i++)
            if (atomic_load(&r->emitted[i]) < base[i] + more)
                done = false;
        if (done)
            return true;
        struct timespec ts = {0, 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* Checks: TEL-S6 TEL-L1 */
Test(telemetry_events, after_detach_returns_the_handler_never_runs,
     .init = setup, .fini = teardown)
{
    static struct race r;
    memset(&r, 0, sizeof r);
    r.t = fx.t;
    pthread_barrier_init(&r.start, NULL, EMITTERS + 1);
    uint64_t counter_id;
    cr_assert_eq(fdn_telemetry_attach(fx.t, "hot.*", count_handler, &r,
                                      &counter_id), FDN_OK);
    pthread_t th[EMITTERS];
    struct emitter_arg args[EMITTERS];
    for (int i = 0; i < EMITTERS; i++) {
        args[i] = (struct emitter_arg){&r, i};
        cr_assert_eq(pthread_create(&th[i], NULL, emitter, &args[i]), 0);
    }
    pthread_barrier_wait(&r.start);

    int rounds = FDN_TEST_ON_VALGRIND() ? 5 : 40;
    for (int round = 0; round < rounds; round++) {
        /* The probe's memory is freed right after detach: ASan and
         * valgrind would see a call that outlived it. */
        struct probe *p = calloc(1, sizeof *p);
        cr_assert_not_null(p);
        uint64_t id;
        cr_assert_eq(fdn_telemetry_attach(fx.t, "hot.event", probe_handler,
                                          p, &id), FDN_OK);
        for (long spins = 0; atomic_load(&p->calls) < 20; spins++) {
            cr_assert_lt(spins, 10L * 1000 * 1000, "probe never called");
            struct timespec ts = {0, 1000};
            nanosleep(&ts, NULL);
        }
        cr_assert_eq(fdn_telemetry_detach(fx.t, id), FDN_OK);
        cr_assert_eq(atomic_load(&p->running), 0, "round %d", round);
        long calls = atomic_load(&p->calls);
        long base[EMITTERS];
        for (int i = 0; i < EMITTERS; i++)
            base[i] = atomic_load(&r.emitted[i]);
        cr_assert(wait_emits(&r, base, 20), "emitters stalled");
        cr_assert_eq(atomic_load(&p->calls), calls, "round %d: called "
                     "after detach", round);
        cr_assert_eq(atomic_load(&p->running), 0);
        free(p);
    }
    atomic_store(&r.stop, true);
    long total = 0;
    for (int i = 0; i < EMITTERS; i++) {
        pthread_join(th[i], NULL);
        total += atomic_load(&r.emitted[i]);
    }
    pthread_barrier_destroy(&r.start);
    /* The handler attached throughout ran exactly once per event. */
    cr_assert_eq(atomic_load(&r.counted), total);
    cr_assert_eq(fdn_telemetry_detach(fx.t, counter_id), FDN_OK);
    cr_assert_eq(ev_handlers(fx.t), 0);
}

enum { FAILERS = 4 };

struct fail_race {
    fdn_telemetry_t *t;
    pthread_barrier_t start;
    _Atomic long bad_calls;
    _Atomic long reports;
};

static int fail_always(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    struct fail_race *f = ctx;
    atomic_fetch_add(&f->bad_calls, 1);
    return -1;
}

static int count_reports(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    struct fail_race *f = ctx;
    atomic_fetch_add(&f->reports, 1);
    return 0;
}

static void *fail_emitter(void *arg)
{
    struct fail_race *f = arg;
    pthread_barrier_wait(&f->start);
    for (int i = 0; i < 200; i++)
        fdn_telemetry_emit(f->t, "boom", NULL, 0, NULL, 0);
    return NULL;
}

/* Checks: TEL-S5 TEL-F5 */
Test(telemetry_events, a_handler_failing_on_many_threads_is_reported_once,
     .init = setup, .fini = teardown)
{
    int rounds = FDN_TEST_ON_VALGRIND() ? 3 : 20;
    for (int round = 0; round < rounds; round++) {
        static struct fail_race f;
        memset(&f, 0, sizeof f);
        f.t = fx.t;
        pthread_barrier_init(&f.start, NULL, FAILERS);
        uint64_t bad, watch;
        cr_assert_eq(fdn_telemetry_attach(fx.t, "boom", fail_always, &f,
                                          &bad), FDN_OK);
        cr_assert_eq(fdn_telemetry_attach(fx.t, "telemetry.handler.failure",
                                          count_reports, &f, &watch),
                     FDN_OK);
        uint64_t failures = ev_failures(fx.t);
        pthread_t th[FAILERS];
        for (int i = 0; i < FAILERS; i++)
            cr_assert_eq(pthread_create(&th[i], NULL, fail_emitter, &f), 0);
        for (int i = 0; i < FAILERS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&f.start);
        /* Threads that ran it before seeing the detach may each have
         * called it once; the failure is counted and reported once. */
        long calls = atomic_load(&f.bad_calls);
        cr_assert(calls >= 1 && calls <= FAILERS, "round %d: %ld calls",
                  round, calls);
        cr_assert_eq(atomic_load(&f.reports), 1, "round %d", round);
        cr_assert_eq(ev_failures(fx.t), failures + 1);
        cr_assert_eq(fdn_telemetry_detach(fx.t, bad), FDN_ENOENT);
        cr_assert_eq(fdn_telemetry_detach(fx.t, watch), FDN_OK);
        cr_assert_eq(ev_handlers(fx.t), 0);
    }
}

/* ------------------------------------------------------------------------ */
/* Out of memory, destroy                                                   */
/* ------------------------------------------------------------------------ */

/* Checks: TEL-F1 TEL-C5 */
Test(telemetry_events, attach_out_of_memory_changes_nothing,
     .init = setup, .fini = teardown)
{
    static ev_rec_t r;
    memset(&r, 0, sizeof r);
    uint64_t first;
    cr_assert_eq(fdn_telemetry_attach(fx.t, "a", ev_record, &r, &first),
                 FDN_OK);
    int64_t live = fdn_failing_allocator_live(fx.fa);
    int failures = 0;
    uint64_t id = 77;
    for (uint64_t at = 1;; at++) {
        fdn_failing_allocator_arm(fx.fa, at, false);
        int rc = fdn_telemetry_attach(fx.t, "b.*", ev_record, &r, &id);
        fdn_failing_allocator_arm(fx.fa, 0, false);
        if (rc == FDN_OK)
            break;
        cr_assert_eq(rc, FDN_ENOMEM);
        cr_assert_eq(id, 77, "a failed attach changes nothing");
        cr_assert_eq(fdn_failing_allocator_live(fx.fa), live);
        cr_assert_eq(ev_handlers(fx.t), 1);
        emit0("b.c");
        cr_assert_eq(r.calls, 0);
        failures++;
    }
    cr_assert_eq(failures, 2, "the record and the array");
    cr_assert_eq(id, first + 1, "failed attaches took no id");
    emit0("b.c");
    cr_assert_eq(r.calls, 1);
}

/* Checks: TEL-F1 TEL-S6 */
Test(telemetry_events, detach_without_memory_still_detaches,
     .init = setup, .fini = teardown)
{
    static ev_rec_t r[3];
    memset(r, 0, sizeof r);
    uint64_t ids[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fdn_telemetry_attach(fx.t, "z", ev_record, &r[i],
                                          &ids[i]), FDN_OK);
    /* Every allocation fails: the smaller array cannot be built. */
    fdn_failing_allocator_arm(fx.fa, 1, true);
    cr_assert_eq(fdn_telemetry_detach(fx.t, ids[1]), FDN_OK);
    cr_assert_eq(fdn_telemetry_detach(fx.t, ids[1]), FDN_ENOENT);
    cr_assert_eq(ev_handlers(fx.t), 2);
    emit0("z");
    cr_assert_eq(r[0].calls, 1);
    cr_assert_eq(r[1].calls, 0);
    cr_assert_eq(r[2].calls, 1);
    cr_assert_not(fdn_telemetry_is_listened(fx.t, "y"));
    fdn_failing_allocator_arm(fx.fa, 0, false);
    /* The next change drops the leftover record. */
    cr_assert_eq(fdn_telemetry_detach(fx.t, ids[0]), FDN_OK);
    emit0("z");
    cr_assert_eq(r[0].calls, 1);
    cr_assert_eq(r[1].calls, 0);
    cr_assert_eq(r[2].calls, 2);
    /* The last detach needs no memory at all. */
    fdn_failing_allocator_arm(fx.fa, 1, true);
    cr_assert_eq(fdn_telemetry_detach(fx.t, ids[2]), FDN_OK);
    fdn_failing_allocator_arm(fx.fa, 0, false);
    cr_assert_eq(ev_handlers(fx.t), 0);
    cr_assert_not(fdn_telemetry_is_listened(fx.t, "z"));
}

/* Checks: TEL-S6 */
Test(telemetry_events, destroy_frees_handlers_and_deferred_lists)
{
    ev_fixture_t f;
    ev_fixture_up(&f);
    struct self_detach self = {.t = f.t, .rc = 1};
    cr_assert_eq(fdn_telemetry_attach(f.t, "e", detach_on_call, &self,
                                      &self.id), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(f.t, "e.*", nop, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(f.t, "*", nop, NULL, NULL), FDN_OK);
    /* The self-detach inside the emit leaves the old array to call_rcu;
     * destroy must wait for it and free the rest. */
    fdn_telemetry_emit(f.t, "e", NULL, 0, NULL, 0);
    cr_assert_eq(self.rc, FDN_OK);
    cr_assert_eq(ev_handlers(f.t), 2);
    ev_fixture_down(&f); /* checks that no allocation is left */
}

/* ------------------------------------------------------------------------ */
/* Waiting for a handler that failed elsewhere                              */
/* ------------------------------------------------------------------------ */

struct slow_fail {
    _Atomic int entered;  /* the slow thread is inside the handler */
    _Atomic int finished; /* ... and has left it */
    pthread_t slow;
};

/* On the slow thread: stays ~100 ms, succeeds.  On any other: fails. */
static int slow_or_fail(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    struct slow_fail *s = ctx;
    if (!pthread_equal(pthread_self(), s->slow))
        return 1;
    atomic_store(&s->entered, 1);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - t0.tv_sec) * 1000000000L +
               (now.tv_nsec - t0.tv_nsec) <
           100000000L);
    atomic_store(&s->finished, 1);
    return 0;
}

static void *emit_slowly(void *arg)
{
    (void)arg;
    emit0("slow");
    return NULL;
}

/* Checks: TEL-S6 */
Test(telemetry_events, detach_of_a_failed_handler_still_waits_for_it,
     .init = setup, .fini = teardown)
{
    /* The handler runs (slowly) on one thread and fails on another, which
     * detaches it without waiting (it is inside emit).  The owner's detach
     * then answers ENOENT, and must still return only after the slow call
     * has left the handler, so that ctx may be freed. */
    static struct slow_fail s;
    memset(&s, 0, sizeof s);
    uint64_t id;
    pthread_t th;
    /* Attach first, then start the slow thread: s.slow is set before the
     * thread runs the handler (pthread_create writes it first). */
    cr_assert_eq(fdn_telemetry_attach(fx.t, "slow", slow_or_fail, &s, &id),
                 FDN_OK);
    cr_assert_eq(pthread_create(&s.slow, NULL, emit_slowly, NULL), 0);
    th = s.slow;
    while (!atomic_load(&s.entered))
        sched_yield();
    emit0("slow"); /* fails here: detached, deferred */
    cr_assert_eq(ev_failures(fx.t), 1);
    cr_assert_eq(fdn_telemetry_detach(fx.t, id), FDN_ENOENT);
    cr_expect_eq(atomic_load(&s.finished), 1,
                 "detach returned while the handler still ran");
    pthread_join(th, NULL);
}

static int fail_plain(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    (void)ctx;
    return 7;
}

struct relay {
    fdn_telemetry_t *t;
    int calls;
};

/* On a failure event: emits "other" (whose handler fails), then fails. */
static int relay_then_fail(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    struct relay *r = ctx;
    r->calls++;
    fdn_telemetry_emit(r->t, "other", NULL, 0, NULL, 0);
    return 9;
}

/* Checks: TEL-S5, TEL-F5 */
Test(telemetry_events, a_failure_inside_a_failure_handler_is_reported,
     .init = setup, .fini = teardown)
{
    static ev_rec_t watch;
    memset(&watch, 0, sizeof watch);
    uint64_t first_id, other_id;
    struct relay r = {.t = fx.t};
    cr_assert_eq(fdn_telemetry_attach(fx.t, "x", fail_plain, NULL,
                                      &first_id), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "telemetry.handler.failure",
                                      relay_then_fail, &r, NULL), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "other", fail_plain, NULL,
                                      &other_id), FDN_OK);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "telemetry.handler.failure",
                                      ev_record, &watch, NULL), FDN_OK);
    emit0("x");
    /* x's handler failed (reported); the relay, on that report, emitted
     * "other", whose handler failed: reported too, though nested in a
     * failure event (the relay, still attached, ran on that report too and
     * failed there: detached and counted, not reported); back in the
     * outer report it fails again, already detached. */
    cr_assert_eq(ev_failures(fx.t), 3);
    cr_assert_eq(r.calls, 2);
    cr_assert_eq(watch.calls, 2);
    cr_expect_eq(ev_md(&watch.ev[0], "handler_id")->u, other_id);
    cr_expect_str_eq(ev_md(&watch.ev[0], "event")->s, "other");
    cr_expect_eq(ev_md(&watch.ev[1], "handler_id")->u, first_id);
    cr_assert_eq(ev_handlers(fx.t), 1);
}

typedef struct {
    fdn_telemetry_t *t;
    uint64_t id;
    _Atomic int stop;
    _Atomic long calls, zero_ids, detached;
} self_detach_t;

/* Reads the id its attacher stored in ctx and detaches itself with it. */
static int detach_myself(const fdn_telemetry_event_t *ev, void *ctx)
{
    (void)ev;
    self_detach_t *x = ctx;
    atomic_fetch_add(&x->calls, 1);
    uint64_t id = x->id;
    if (id == 0)
        atomic_fetch_add(&x->zero_ids, 1);
    else if (fdn_telemetry_detach(x->t, id) == FDN_OK)
        atomic_fetch_add(&x->detached, 1);
    return 0;
}

static void *emit_until_stopped(void *arg)
{
    self_detach_t *x = arg;
    while (!atomic_load(&x->stop))
        fdn_telemetry_emit(x->t, "self", NULL, 0, NULL, 0);
    return NULL;
}

/* Checks: TEL-C5 */
Test(telemetry_events, a_handler_can_read_its_id_from_its_first_call,
     .init = setup, .fini = teardown, .timeout = 120)
{
    /* Another handler is attached first, so this attach retires an array
     * and waits a grace period after publishing: the emitting thread
     * calls the new handler in that window.  *id must already be set. */
    ev_rec_t rec = {0};
    cr_assert_eq(fdn_telemetry_attach(fx.t, "other", ev_record, &rec, NULL),
                 FDN_OK);
    self_detach_t x = {.t = fx.t};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, emit_until_stopped, &x), 0);
    /* Fewer rounds under valgrind, which runs one thread at a time. */
    int rounds = FDN_TEST_ON_VALGRIND() ? 3 : 20;
    for (int round = 0; round < rounds; round++) {
        atomic_store(&x.detached, 0);
        x.id = 0; /* no handler reads it now: the last one was detached */
        cr_assert_eq(fdn_telemetry_attach(fx.t, "self", detach_myself, &x,
                                          &x.id),
                     FDN_OK);
        for (int i = 0; i < 100000 && atomic_load(&x.detached) == 0; i++)
            sched_yield();
        cr_assert_eq(atomic_load(&x.detached), 1, "round %d", round);
        /* Detached by the handler: nothing more reaches it once a detach
         * from here has waited. */
        cr_assert_eq(fdn_telemetry_detach(fx.t, x.id), FDN_ENOENT);
    }
    atomic_store(&x.stop, 1);
    pthread_join(th, NULL);
    cr_expect_eq(atomic_load(&x.zero_ids), 0,
                 "%ld of %ld calls saw no id yet", atomic_load(&x.zero_ids),
                 atomic_load(&x.calls));
}
