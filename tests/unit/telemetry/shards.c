/*
 * shards.c — unit tests of the sharded hot path with real threads: exact
 * counts when threads hammer one counter or histogram, with more threads
 * than exclusive slots, slots given back at thread exit, and series found
 * lock-free while others create them.
 */
#include "unit/telemetry/tel_helpers.h"

#include "telemetry/internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>

enum { ADDS = 200000 };

typedef struct {
    fdn_series_t *c, *h;
    pthread_barrier_t *start;
    unsigned slot;
} worker_t;

static void *hammer(void *arg)
{
    worker_t *w = arg;
    /* Claim the slot before the barrier, so that every thread holds one
     * while all of them are alive. */
    w->slot = fdn__tel_slot();
    pthread_barrier_wait(w->start);
    for (int i = 0; i < ADDS; i++) {
        fdn_counter_inc(w->c);
        if ((i & 7) == 0)
            fdn_metric_observe(w->h, (double)(i & 1023));
    }
    return NULL;
}

static void run_hammer(unsigned nthreads)
{
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *c = fdn_metric_default(tel_metric(t, FDN_METRIC_COUNTER,
                                                    "c_total"));
    const double b[] = {1, 10, 100, 1000};
    fdn_series_t *h = fdn_metric_default(tel_hist(t, "h", b, 4));
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, nthreads);
    pthread_t th[80];
    worker_t w[80];
    for (unsigned i = 0; i < nthreads; i++) {
        w[i] = (worker_t){.c = c, .h = h, .start = &start};
        cr_assert_eq(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    cr_expect_eq(fdn_counter_value(c), (uint64_t)nthreads * ADDS,
                 "%u threads", nthreads);
    fdn_series_value_t v;
    fdn_series_read(h, &v);
    uint64_t per = (ADDS + 7) / 8;
    cr_expect_eq(v.count, (uint64_t)nthreads * per);
    double up[5];
    uint64_t cum[5];
    size_t n;
    fdn_series_buckets(h, up, cum, 5, &n);
    cr_expect_eq(cum[4], v.count);
    /* Exclusive slots were never shared. */
    unsigned shared = 0;
    for (unsigned i = 0; i < nthreads; i++) {
        if (w[i].slot == fdn__tel_nslots) {
            shared++;
            continue;
        }
        for (unsigned j = 0; j < i; j++)
            cr_expect(w[j].slot != w[i].slot ||
                          w[i].slot == fdn__tel_nslots,
                      "threads %u and %u shared slot %u", i, j, w[i].slot);
    }
    if (nthreads > fdn__tel_nslots)
        cr_expect_geq(shared, nthreads - fdn__tel_nslots);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-S1, TEL-I1, TEL-I2 */
Test(telemetry_shards, two_threads_on_one_counter_lose_nothing)
{
    run_hammer(2);
}

/* Checks: TEL-S1, TEL-F3, TEL-I1 */
Test(telemetry_shards, more_threads_than_slots_lose_nothing)
{
    fdn__tel_slots_init();
    /* Threads all alive at once (the barrier), so past the exclusive
     * slots they must share. */
    run_hammer(fdn__tel_nslots + 6);
}

static void *record_once(void *arg)
{
    fdn_counter_inc(arg);
    return NULL;
}

/* Checks: TEL-L3, TEL-I1 */
Test(telemetry_shards, slots_come_back_when_threads_exit)
{
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *c = fdn_metric_default(tel_metric(t, FDN_METRIC_COUNTER,
                                                    "c_total"));
    unsigned before = fdn__tel_slots_in_use();
    /* Many more threads than slots, one after another: each exits before
     * the next starts, so none should ever need the shared slot. */
    for (int i = 0; i < 200; i++) {
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, record_once, c), 0);
        pthread_join(th, NULL);
    }
    cr_expect_eq(fdn_counter_value(c), 200);
    cr_expect_eq(fdn__tel_slots_in_use(), before);
    /* None of it went to the shared slot. */
    _Atomic uint64_t *shared = c->cells + (size_t)fdn__tel_nslots * c->stride;
    cr_expect_eq(atomic_load(shared), 0);
    fdn_telemetry_destroy(t);
}

typedef struct {
    fdn_series_t *c;
    pthread_barrier_t *held;
    _Atomic int started, release, go;
    unsigned first_slot, later_slot;
    uint64_t recorded;
} burst_t;

static void *hold_a_slot(void *arg)
{
    burst_t *b = arg;
    fdn_counter_inc(b->c);
    pthread_barrier_wait(b->held);
    while (!atomic_load(&b->release))
        sched_yield();
    return NULL; /* gives the slot back */
}

static void *outlive_the_burst(void *arg)
{
    burst_t *b = arg;
    fdn_counter_inc(b->c);
    b->first_slot = fdn__tel_slot();
    b->recorded = 1;
    atomic_store(&b->started, 1);
    while (!atomic_load(&b->go))
        sched_yield();
    /* Within 1024 recordings it must find one of the freed slots. */
    for (int i = 0; i < 1024; i++) {
        fdn_counter_inc(b->c);
        b->recorded++;
    }
    b->later_slot = fdn__tel_slot();
    return NULL;
}

/* Checks: TEL-F3, TEL-L3, TEL-S1 */
Test(telemetry_shards, a_thread_leaves_the_shared_slot_when_one_frees)
{
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *c = fdn_metric_default(tel_metric(t, FDN_METRIC_COUNTER,
                                                    "c_total"));
    unsigned n = fdn__tel_nslots;
    cr_assert_eq(fdn__tel_slots_in_use(), 0, "main records nothing");
    burst_t b = {.c = c};
    pthread_barrier_t held;
    pthread_barrier_init(&held, NULL, n + 1);
    b.held = &held;
    pthread_t th[FDN__TEL_SLOTS_MAX], late;
    for (unsigned i = 0; i < n; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, hold_a_slot, &b), 0);
    pthread_barrier_wait(&held);
    cr_assert_eq(fdn__tel_slots_in_use(), n);
    cr_assert_eq(pthread_create(&late, NULL, outlive_the_burst, &b), 0);
    while (!atomic_load(&b.started))
        sched_yield();
    atomic_store(&b.release, 1);
    for (unsigned i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    atomic_store(&b.go, 1);
    pthread_join(late, NULL);
    pthread_barrier_destroy(&held);
    cr_expect_eq(b.first_slot, n, "every exclusive slot was held");
    cr_expect_lt(b.later_slot, n, "still on the shared slot");
    cr_expect_eq(fdn_counter_value(c), n + b.recorded);
    cr_expect_eq(fdn__tel_slots_in_use(), 0);
    fdn_telemetry_destroy(t);
}

typedef struct {
    fdn_metric_t *m;
    pthread_barrier_t *start;
    int id;
} labeller_t;

static void *label_worker(void *arg)
{
    labeller_t *l = arg;
    pthread_barrier_wait(l->start);
    /* Every thread walks the same 500 label values, so they race to
     * create each series; each adds 1 per value. */
    for (int i = 0; i < 500; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "v%d", (i * 7 + l->id) % 500);
        const char *v = buf;
        fdn_series_t *s;
        if (fdn_metric_series(l->m, &v, 1, &s) != FDN_OK)
            return (void *)1;
        fdn_counter_inc(s);
    }
    return NULL;
}

/* Checks: TEL-S1, TEL-C3 */
Test(telemetry_shards, racing_creators_get_one_series_per_label_set)
{
    fdn_telemetry_t *t = tel_new();
    static const char *const names[] = {"k"};
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "race_total", "h");
    o.label_names = names;
    o.n_labels = 1;
    fdn_metric_t *m;
    cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    enum { T = 4 };
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, T);
    pthread_t th[T];
    labeller_t l[T];
    for (int i = 0; i < T; i++) {
        l[i] = (labeller_t){.m = m, .start = &start, .id = i};
        pthread_create(&th[i], NULL, label_worker, &l[i]);
    }
    for (int i = 0; i < T; i++) {
        void *r;
        pthread_join(th[i], &r);
        cr_expect_null(r);
    }
    pthread_barrier_destroy(&start);
    cr_expect_eq(fdn_metric_series_count(m), 500);
    for (uint32_t i = 0; i < 500; i++)
        cr_expect_eq(fdn_counter_value(fdn__tel_series_at(m, i)), T);
    fdn_telemetry_destroy(t);
}

static _Atomic int writers_done;

static void *hammer_then_flag(void *arg)
{
    hammer(arg);
    atomic_fetch_add(&writers_done, 1);
    return NULL;
}

/* Checks: TEL-L1 */
Test(telemetry_shards, readers_run_while_writers_record)
{
    /* A reader never sees a counter go down while writers add, and reads
     * never block them. */
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *c = fdn_metric_default(tel_metric(t, FDN_METRIC_COUNTER,
                                                    "c_total"));
    const double b[] = {1};
    fdn_series_t *h = fdn_metric_default(tel_hist(t, "h", b, 1));
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 3);
    worker_t w[2] = {{.c = c, .h = h, .start = &start},
                     {.c = c, .h = h, .start = &start}};
    pthread_t th[2];
    atomic_store(&writers_done, 0);
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, hammer_then_flag, &w[i]);
    pthread_barrier_wait(&start);
    uint64_t last = 0, reads = 0;
    int done;
    do {
        done = atomic_load(&writers_done);
        uint64_t v = fdn_counter_value(c);
        cr_assert_geq(v, last);
        cr_assert_leq(v, 2u * ADDS);
        /* Both writers' last stores happen before their flag (a seq_cst
         * RMW after them), which this load read: nothing may be missing. */
        if (done == 2)
            cr_assert_eq(v, 2u * ADDS);
        last = v;
        reads++;
    } while (done < 2);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_expect_eq(fdn_counter_value(c), 2u * ADDS);
    fprintf(stderr, "readers_run_while_writers_record: %llu reads\n",
            (unsigned long long)reads);
    pthread_barrier_destroy(&start);
    fdn_telemetry_destroy(t);
}

typedef struct {
    fdn_metric_t *m;
    int n;
    _Atomic int done;
} first_obs_t;

static void *observe_fresh_series(void *arg)
{
    first_obs_t *f = arg;
    for (int i = 0; i < f->n; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", i);
        const char *v = buf;
        fdn_series_t *s;
        if (fdn_metric_series(f->m, &v, 1, &s) == FDN_OK)
            fdn_metric_observe(s, 5.0);
    }
    atomic_store(&f->done, 1);
    return NULL;
}

/* Checks: TEL-I3, TEL-C4 */
Test(telemetry_shards, a_counted_observation_is_in_sum_min_and_max)
{
    /* A reader polls series whose one observation is being recorded: once
     * it counts it, sum, min and max must hold it (no count 1 with min
     * +Inf, max -Inf or sum 0; no infinite or NaN quantile). */
    static const char *const names[] = {"k"};
    const double b[] = {10};
    uint64_t checked = 0;
    /* The window is a few instructions wide; 20 rounds of 20000 fresh
     * series caught the old order (bucket before sum) in 18 of 20 runs on
     * x86, one round in 1 of 5.  A hub per round: 20000 series of 5 cells
     * each fill a fifth of the default cells. */
    for (int round = 0; round < 20; round++) {
        fdn_telemetry_t *t = tel_new();
        char name[32];
        snprintf(name, sizeof name, "first_%d", round);
        fdn_metric_opts_t o;
        fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, name, "h");
        o.label_names = names;
        o.n_labels = 1;
        o.buckets = b;
        o.n_buckets = 1;
        o.max_series = 20000;
        fdn_metric_t *m;
        cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK);
        first_obs_t f = {.m = m, .n = 20000};
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, observe_fresh_series, &f), 0);
        int done;
        do {
            done = atomic_load(&f.done);
            uint32_t n = (uint32_t)fdn_metric_series_count(m);
            if (n == 0)
                continue;
            /* The newest series is the one being recorded. */
            fdn_series_t *s = fdn__tel_series_at(m, n - 1);
            fdn_series_value_t v;
            cr_assert_eq(fdn_series_read(s, &v), FDN_OK);
            if (v.count == 0)
                continue;
            cr_assert_eq(v.count, 1);
            cr_assert_eq(v.min, 5.0, "round %d series %u: count 1, min %g",
                         round, n - 1, v.min);
            cr_assert_eq(v.max, 5.0, "round %d series %u: count 1, max %g",
                         round, n - 1, v.max);
            cr_assert_eq(v.sum, 5.0, "round %d series %u: count 1, sum %g",
                         round, n - 1, v.sum);
            checked++;
        } while (!done);
        pthread_join(th, NULL);
        cr_assert_eq(fdn_metric_series_count(m), 20000);
        fdn_telemetry_destroy(t);
    }
    cr_assert_gt(checked, 0);
}
