/*
 * spans.c — spans: start, stop and exception events, durations on a
 * virtual clock, ids, implicit and explicit parents, out-of-order stops,
 * per-thread chains, and the error cases.
 */
#include "unit/telemetry/ev_helpers.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

static ev_fixture_t fx;
static ev_rec_t rec;

/* Every test attaches rec to "*" and ends with no open span on this
 * thread (the TSan build runs every test in one process). */
static void setup(void)
{
    ev_fixture_up(&fx);
    memset(&rec, 0, sizeof rec);
    cr_assert_eq(fdn_telemetry_attach(fx.t, "*", ev_record, &rec, NULL),
                 FDN_OK);
}

static void teardown(void)
{
    cr_assert_eq(fdn_span_current_id(), 0, "a test left a span open");
    ev_fixture_down(&fx);
}

static void check_ids(const ev_copy_t *c, uint64_t id, uint64_t parent)
{
    cr_assert_eq(ev_md(c, "span_id")->kind, FDN_TMETA_UINT);
    cr_assert_eq(ev_md(c, "span_id")->u, id, "%s: span_id", c->name);
    cr_assert_eq(ev_md(c, "parent_id")->kind, FDN_TMETA_UINT);
    cr_assert_eq(ev_md(c, "parent_id")->u, parent, "%s: parent_id",
                 c->name);
    /* span_id and parent_id come first. */
    cr_assert_str_eq(c->md[0].key, "span_id");
    cr_assert_str_eq(c->md[1].key, "parent_id");
}

/* Checks: TEL-C6 */
Test(telemetry_spans, start_and_stop_emit_exact_times, .init = setup,
     .fini = teardown)
{
    fdn_span_t s;
    fdn_telemetry_meta_t start_md[1] = {FDN_TMETA_S("user", "u1")};
    cr_assert_eq(fdn_span_start(fx.t, &s, "job.run", NULL, start_md, 1),
                 FDN_OK);
    cr_assert_neq(s.id, 0);
    cr_assert_eq(s.parent_id, 0);
    cr_assert(s.is_open);
    cr_assert_eq(fdn_span_current_id(), s.id);
    cr_assert_eq(rec.calls, 1);
    const ev_copy_t *c = &rec.ev[0];
    cr_assert_str_eq(c->name, "job.run.start");
    cr_assert_eq(c->time_ns, EV_T0);
    cr_assert_eq(c->n_m, 1);
    cr_assert_eq(ev_m(c, "monotonic_time"), (double)EV_T0);
    cr_assert_eq(c->n_md, 3);
    check_ids(c, s.id, 0);
    cr_assert_str_eq(c->md[2].key, "user");
    cr_assert_str_eq(c->md[2].s, "u1");

    cr_assert_eq(fdn_clock_advance(fx.clock, 500), FDN_OK);
    fdn_telemetry_meta_t stop_md[2] = {FDN_TMETA_S("result", "ok"),
                                       FDN_TMETA_I("rows", 9)};
    cr_assert_eq(fdn_span_stop(&s, stop_md, 2), FDN_OK);
    cr_assert_not(s.is_open);
    cr_assert_eq(fdn_span_current_id(), 0);
    cr_assert_eq(rec.calls, 2);
    c = &rec.ev[1];
    cr_assert_str_eq(c->name, "job.run.stop");
    cr_assert_eq(c->time_ns, EV_T0 + 500);
    cr_assert_eq(c->n_m, 2);
    cr_assert_eq(ev_m(c, "duration"), 500.0);
    cr_assert_eq(ev_m(c, "monotonic_time"), (double)(EV_T0 + 500));
    cr_assert_eq(c->n_md, 4);
    check_ids(c, s.id, 0);
    cr_assert_str_eq(ev_md(c, "result")->s, "ok");
    cr_assert_eq(ev_md(c, "rows")->i, 9);

    /* Stopping twice, or failing a stopped span, is refused. */
    cr_assert_eq(fdn_span_stop(&s, NULL, 0), FDN_EINVAL);
    cr_assert_eq(fdn_span_exception(&s, "error", "late", NULL, 0),
                 FDN_EINVAL);
    cr_assert_eq(rec.calls, 2);
}

/* Checks: TEL-C6 */
Test(telemetry_spans, exception_carries_kind_and_reason, .init = setup,
     .fini = teardown)
{
    fdn_span_t s, t2;
    cr_assert_eq(fdn_span_start(fx.t, &s, "rpc", NULL, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_clock_advance(fx.clock, 42), FDN_OK);
    fdn_telemetry_meta_t md[1] = {FDN_TMETA_U("attempt", 3)};
    cr_assert_eq(fdn_span_exception(&s, "timeout", "no answer in 5 s", md, 1),
                 FDN_OK);
    cr_assert_eq(rec.calls, 2);
    const ev_copy_t *c = &rec.ev[1];
    cr_assert_str_eq(c->name, "rpc.exception");
    cr_assert_eq(ev_m(c, "duration"), 42.0);
    cr_assert_eq(ev_m(c, "monotonic_time"), (double)(EV_T0 + 42));
    cr_assert_eq(c->n_md, 5);
    check_ids(c, s.id, 0);
    cr_assert_str_eq(c->md[2].key, "kind");
    cr_assert_eq(c->md[2].kind, FDN_TMETA_STR);
    cr_assert_str_eq(c->md[2].s, "timeout");
    cr_assert_str_eq(c->md[3].key, "reason");
    cr_assert_str_eq(c->md[3].s, "no answer in 5 s");
    cr_assert_str_eq(c->md[4].key, "attempt");
    cr_assert_eq(c->md[4].u, 3);
    cr_assert_eq(fdn_span_exception(&s, "x", "y", NULL, 0), FDN_EINVAL);
    cr_assert_eq(fdn_span_stop(&s, NULL, 0), FDN_EINVAL);

    /* NULL kind and reason are empty strings. */
    cr_assert_eq(fdn_span_start(fx.t, &t2, "rpc", NULL, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_span_exception(&t2, NULL, NULL, NULL, 0), FDN_OK);
    c = &rec.ev[3];
    cr_assert_str_eq(ev_md(c, "kind")->s, "");
    cr_assert_str_eq(ev_md(c, "reason")->s, "");
    cr_assert_eq(ev_m(c, "duration"), 0.0);
}

/* Checks: TEL-C6 */
Test(telemetry_spans, parents_implicit_and_explicit, .init = setup,
     .fini = teardown)
{
    fdn_span_t a, b, c, d;
    cr_assert_eq(fdn_span_start(fx.t, &a, "a", NULL, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_clock_advance(fx.clock, 10), FDN_OK);
    cr_assert_eq(fdn_span_start(fx.t, &b, "b", NULL, NULL, 0), FDN_OK);
    cr_assert_eq(b.parent_id, a.id, "implicit: the innermost open span");
    cr_assert_eq(fdn_span_current_id(), b.id);
    cr_assert_eq(fdn_clock_advance(fx.clock, 20), FDN_OK);
    cr_assert_eq(fdn_span_start(fx.t, &c, "c", &a, NULL, 0), FDN_OK);
    cr_assert_eq(c.parent_id, a.id, "explicit parent wins");
    cr_assert_eq(fdn_span_current_id(), c.id);
    cr_assert_eq(fdn_clock_advance(fx.clock, 30), FDN_OK);
    cr_assert_eq(fdn_span_start(fx.t, &d, "d", NULL, NULL, 0), FDN_OK);
    cr_assert_eq(d.parent_id, c.id);
    cr_assert(a.id != b.id && a.id != c.id && a.id != d.id &&
              b.id != c.id && b.id != d.id && c.id != d.id);

    cr_assert_eq(fdn_span_stop(&d, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_span_current_id(), c.id);
    cr_assert_eq(fdn_clock_advance(fx.clock, 40), FDN_OK);
    cr_assert_eq(fdn_span_stop(&c, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_span_current_id(), b.id);
    cr_assert_eq(fdn_span_stop(&b, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_span_stop(&a, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_span_current_id(), 0);

    /* Events: 4 starts, then d, c, b, a stopped. */
    cr_assert_eq(rec.calls, 8);
    check_ids(&rec.ev[0], a.id, 0);
    check_ids(&rec.ev[1], b.id, a.id);
    check_ids(&rec.ev[2], c.id, a.id);
    check_ids(&rec.ev[3], d.id, c.id);
    const char *names[4] = {"d.stop", "c.stop", "b.stop", "a.stop"};
    double durations[4] = {0, 70, 90, 100};
    uint64_t ids[4] = {d.id, c.id, b.id, a.id};
    uint64_t parents[4] = {c.id, a.id, a.id, 0};
    for (int i = 0; i < 4; i++) {
        const ev_copy_t *e = &rec.ev[4 + i];
        cr_assert_str_eq(e->name, names[i]);
        cr_assert_eq(ev_m(e, "duration"), durations[i], "%s: %g", e->name,
                     ev_m(e, "duration"));
        check_ids(e, ids[i], parents[i]);
    }
}

/* Checks: TEL-C6 */
Test(telemetry_spans, a_span_stopped_out_of_order_is_unlinked,
     .init = setup, .fini = teardown)
{
    fdn_span_t a, b, c;
    cr_assert_eq(fdn_span_start(fx.t, &a, "a", NULL, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_span_start(fx.t, &b, "b", NULL, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_span_start(fx.t, &c, "c", NULL, NULL, 0), FDN_OK);
    /* Stop the middle one: c stays current, and its parent stays b. */
    cr_assert_eq(fdn_span_stop(&b, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_span_current_id(), c.id);
    cr_assert_eq(c.parent_id, b.id);
    cr_assert_eq(fdn_span_stop(&b, NULL, 0), FDN_EINVAL);
    cr_assert_eq(fdn_span_stop(&c, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_span_current_id(), a.id, "b was unlinked");
    /* Stop the outermost while an inner one is open. */
    fdn_span_t d;
    cr_assert_eq(fdn_span_start(fx.t, &d, "d", NULL, NULL, 0), FDN_OK);
    cr_assert_eq(d.parent_id, a.id);
    cr_assert_eq(fdn_span_stop(&a, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_span_current_id(), d.id);
    cr_assert_eq(fdn_span_stop(&d, NULL, 0), FDN_OK);
    cr_assert_eq(fdn_span_current_id(), 0);
    fdn_span_t e;
    cr_assert_eq(fdn_span_start(fx.t, &e, "e", NULL, NULL, 0), FDN_OK);
    cr_assert_eq(e.parent_id, 0);
    cr_assert_eq(fdn_span_stop(&e, NULL, 0), FDN_OK);
}

/* Checks: TEL-C6 */
Test(telemetry_spans, bad_arguments_are_refused, .init = setup,
     .fini = teardown)
{
    fdn_span_t s;
    cr_assert_eq(fdn_span_start(NULL, &s, "x", NULL, NULL, 0), FDN_EINVAL);
    cr_assert_eq(fdn_span_start(fx.t, NULL, "x", NULL, NULL, 0), FDN_EINVAL);
    cr_assert_eq(fdn_span_start(fx.t, &s, NULL, NULL, NULL, 0), FDN_EINVAL);
    cr_assert_eq(fdn_span_start(fx.t, &s, "", NULL, NULL, 0), FDN_EINVAL);
    cr_assert_eq(fdn_span_start(fx.t, &s, "x", NULL, NULL, 1), FDN_EINVAL);
    fdn_telemetry_meta_t many[FDN_SPAN_MAX_META + 1];
    for (int i = 0; i <= FDN_SPAN_MAX_META; i++)
        many[i] = FDN_TMETA_I("k", i);
    cr_assert_eq(fdn_span_start(fx.t, &s, "x", NULL, many,
                                FDN_SPAN_MAX_META + 1), FDN_EINVAL);
    cr_assert_eq(fdn_span_stop(NULL, NULL, 0), FDN_EINVAL);
    cr_assert_eq(fdn_span_exception(NULL, "k", "r", NULL, 0), FDN_EINVAL);
    cr_assert_eq(rec.calls, 0);
    cr_assert_eq(fdn_span_current_id(), 0);

    /* A name one byte too long for ".exception" within the event-name
     * limit is refused; the longest one works with every suffix. */
    size_t longest = FDN_TELEMETRY_NAME_MAX - strlen(".exception");
    char name[FDN_TELEMETRY_NAME_MAX + 1];
    memset(name, 's', longest + 1);
    name[longest + 1] = '\0';
    cr_assert_eq(fdn_span_start(fx.t, &s, name, NULL, NULL, 0), FDN_EINVAL);
    name[longest] = '\0';
    cr_assert_eq(fdn_span_start(fx.t, &s, name, NULL, many,
                                FDN_SPAN_MAX_META), FDN_OK);
    cr_assert_eq(rec.ev[0].n_md, 2 + FDN_SPAN_MAX_META);
    cr_assert_eq(rec.ev[0].md[2 + FDN_SPAN_MAX_META - 1].i,
                 FDN_SPAN_MAX_META - 1);
    /* Starting an open span again is refused and changes nothing. */
    uint64_t id = s.id;
    cr_assert_eq(fdn_span_start(fx.t, &s, "again", NULL, NULL, 0),
                 FDN_EINVAL);
    cr_assert_eq(s.id, id);
    cr_assert_eq(fdn_span_current_id(), id);
    cr_assert_eq(fdn_span_stop(&s, NULL, 1), FDN_EINVAL);
    cr_assert(s.is_open);
    cr_assert_eq(fdn_span_exception(&s, NULL, NULL, NULL, 0), FDN_OK);
    cr_assert_eq(rec.calls, 2);
    cr_assert_eq(strlen(rec.ev[1].name), (size_t)FDN_TELEMETRY_NAME_MAX);
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                  */
/* ------------------------------------------------------------------------ */

struct other_stop {
    fdn_span_t *span;
    int rc;
    uint64_t current_before;
    uint64_t child_parent;
};

static void *stop_elsewhere(void *arg)
{
    struct other_stop *o = arg;
    o->current_before = fdn_span_current_id();
    o->rc = fdn_span_stop(o->span, NULL, 0);
    /* This thread's own chain is empty: a span here is a root... */
    fdn_span_t mine;
    if (fdn_span_start(o->span->telemetry, &mine, "mine", NULL, NULL, 0) ==
        FDN_OK) {
        o->child_parent = mine.parent_id;
        fdn_span_stop(&mine, NULL, 0);
    }
    return NULL;
}

/* Checks: TEL-C6 */
Test(telemetry_spans, spans_belong_to_their_thread, .init = setup,
     .fini = teardown)
{
    fdn_span_t s;
    cr_assert_eq(fdn_span_start(fx.t, &s, "main", NULL, NULL, 0), FDN_OK);
    struct other_stop o = {.span = &s, .rc = 1, .child_parent = 99};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, stop_elsewhere, &o), 0);
    pthread_join(th, NULL);
    cr_assert_eq(o.current_before, 0, "another thread has no current span");
    cr_assert_eq(o.rc, FDN_ETHREAD);
    cr_assert_eq(o.child_parent, 0, "...unless given a parent");
    cr_assert(s.is_open);
    cr_assert_eq(fdn_span_current_id(), s.id);
    cr_assert_eq(fdn_span_stop(&s, NULL, 0), FDN_OK);
}

struct stop_race {
    fdn_span_t span;
    _Atomic int started, done;
    int wrong;
};

static void *stop_while_owner_runs(void *arg)
{
    struct stop_race *r = arg;
    while (!atomic_load(&r->started))
        sched_yield();
    while (!atomic_load(&r->done)) {
        int rc = fdn_span_stop(&r->span, NULL, 0);
        if (rc != FDN_ETHREAD && rc != FDN_EINVAL)
            r->wrong++;
    }
    return NULL;
}

/* Checks: TEL-C6 */
Test(telemetry_spans, a_stop_from_another_thread_races_nothing,
     .init = setup, .fini = teardown)
{
    /* The owner starts and stops one span over and over while another
     * thread tries to stop it: the intruder gets FDN_ETHREAD or FDN_EINVAL
     * and never touches the owner's chain (TSan checks the reads). */
    struct stop_race r = {.wrong = 0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, stop_while_owner_runs, &r), 0);
    int owner_failures = 0;
    for (int i = 0; i < 20000; i++) {
        if (fdn_span_start(fx.t, &r.span, "raced", NULL, NULL, 0) != FDN_OK)
            owner_failures++;
        atomic_store(&r.started, 1);
        if (fdn_span_stop(&r.span, NULL, 0) != FDN_OK)
            owner_failures++;
    }
    atomic_store(&r.done, 1);
    pthread_join(th, NULL);
    cr_expect_eq(owner_failures, 0);
    cr_expect_eq(r.wrong, 0);
    cr_expect_eq(fdn_span_current_id(), 0);
}

enum { ID_THREADS = 4, ID_SPANS = 2000 };

struct id_arg {
    fdn_telemetry_t *t;
    pthread_barrier_t *start;
    uint64_t ids[ID_SPANS];
    int failures;
};

static void *make_spans(void *arg)
{
    struct id_arg *a = arg;
    pthread_barrier_wait(a->start);
    for (int i = 0; i < ID_SPANS; i++) {
        fdn_span_t s;
        if (fdn_span_start(a->t, &s, "id", NULL, NULL, 0) != FDN_OK ||
            fdn_span_stop(&s, NULL, 0) != FDN_OK)
            a->failures++;
        a->ids[i] = s.id;
    }
    return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Checks: TEL-C6 */
Test(telemetry_spans, ids_are_unique_across_threads)
{
    ev_fixture_t f;
    ev_fixture_up(&f); /* no handler: spans run without events */
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, ID_THREADS);
    static struct id_arg args[ID_THREADS];
    pthread_t th[ID_THREADS];
    for (int i = 0; i < ID_THREADS; i++) {
        args[i].t = f.t;
        args[i].start = &start;
        args[i].failures = 0;
        cr_assert_eq(pthread_create(&th[i], NULL, make_spans, &args[i]), 0);
    }
    for (int i = 0; i < ID_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    static uint64_t all[ID_THREADS * ID_SPANS];
    size_t n = 0;
    for (int i = 0; i < ID_THREADS; i++) {
        cr_assert_eq(args[i].failures, 0);
        for (int j = 0; j < ID_SPANS; j++)
            all[n++] = args[i].ids[j];
    }
    qsort(all, n, sizeof all[0], cmp_u64);
    cr_assert_neq(all[0], 0);
    for (size_t i = 1; i < n; i++)
        cr_assert_neq(all[i], all[i - 1], "id %llu twice",
                      (unsigned long long)all[i]);
    ev_fixture_down(&f);
}
