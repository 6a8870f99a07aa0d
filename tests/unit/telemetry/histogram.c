/*
 * histogram.c — unit tests of histograms and summaries: bucket edges
 * (explicit and log-linear), cumulative buckets, quantiles on empty, one
 * and many samples, p99.9 against p99, the stated relative error on random
 * data (seeded; FDN_SEED replays a run).
 */
#include "unit/telemetry/tel_helpers.h"

#include "telemetry/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t test_seed(void)
{
    const char *e = getenv("FDN_SEED");
    uint64_t s = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);
    fprintf(stderr, "histogram: seed %llu (FDN_SEED replays)\n",
            (unsigned long long)s);
    return s;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Checks: TEL-S8, TEL-I3 */
Test(telemetry_histogram, explicit_bounds_are_less_or_equal)
{
    fdn_telemetry_t *t = tel_new();
    const double b[] = {0.1, 0.5, 1, 5};
    fdn_series_t *s = fdn_metric_default(tel_hist(t, "h_seconds", b, 4));
    /* Exactly on each bound, just above, below everything, +-Inf. */
    const double v[] = {0.1, 0.5, 1, 5, 0.10000000000000002, 5.000001,
                        -3, INFINITY, -INFINITY, 0};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        fdn_metric_observe(s, v[i]);
    double up[8];
    uint64_t cum[8];
    size_t n;
    cr_assert_eq(fdn_series_buckets(s, up, cum, 8, &n), FDN_OK);
    cr_assert_eq(n, 5);
    /* le 0.1: 0.1, -3, -Inf, 0 */
    cr_expect_eq(up[0], 0.1);
    cr_expect_eq(cum[0], 4);
    /* le 0.5: + 0.5, 0.10000000000000002 */
    cr_expect_eq(cum[1], 6);
    cr_expect_eq(cum[2], 7);   /* + 1 */
    cr_expect_eq(cum[3], 8);   /* + 5 */
    cr_expect(isinf(up[4]));
    cr_expect_eq(cum[4], 10);  /* + 5.000001, +Inf */
    for (size_t i = 1; i < n; i++)
        cr_expect_geq(cum[i], cum[i - 1]);
    fdn_series_value_t val;
    fdn_series_read(s, &val);
    cr_expect_eq(val.count, cum[n - 1]);
    cr_expect(isnan(val.sum)); /* +Inf + -Inf */
    cr_expect_eq(val.min, -INFINITY);
    cr_expect_eq(val.max, INFINITY);
    /* cap smaller than the count: n says how many there are. */
    cr_assert_eq(fdn_series_buckets(s, up, cum, 2, &n), FDN_OK);
    cr_expect_eq(n, 5);
    cr_expect_eq(cum[1], 6);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-S8, TEL-I3 */
Test(telemetry_histogram, log_linear_bounds_are_less_or_equal)
{
    fdn_telemetry_t *t = tel_new();
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "l_seconds", "h");
    o.log_bits = 2;
    o.log_min = 1;
    o.log_max = 8;
    fdn_metric_t *m;
    cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    /* Buckets: (-inf,1], (1,1.25], (1.25,1.5], (1.5,1.75], (1.75,2],
     * (2,2.5], ... (7,8], (8,+Inf). */
    cr_assert_eq(m->nb, 3u * 4 + 2);
    cr_expect_eq(m->bounds[0], 1.0);
    cr_expect_eq(m->bounds[1], 1.25);
    cr_expect_eq(m->bounds[4], 2.0);
    cr_expect_eq(m->bounds[5], 2.5);
    cr_expect_eq(m->bounds[12], 8.0);
    for (uint32_t i = 0; i + 1 < m->nb; i++) {
        double ub = m->bounds[i];
        /* The bound itself is in its own bucket, the next double above
         * in the next one. */
        cr_expect_eq(fdn__tel_bucket_of(m, ub), i, "bound %g", ub);
        cr_expect_eq(fdn__tel_bucket_of(m, nextafter(ub, INFINITY)), i + 1,
                     "above %g", ub);
        if (i > 0)
            cr_expect_eq(fdn__tel_bucket_of(m, nextafter(ub, 0)), i,
                         "below %g", ub);
    }
    cr_expect_eq(fdn__tel_bucket_of(m, 0), 0);
    cr_expect_eq(fdn__tel_bucket_of(m, -5), 0);
    cr_expect_eq(fdn__tel_bucket_of(m, -INFINITY), 0);
    cr_expect_eq(fdn__tel_bucket_of(m, 1e300), m->nb - 1);
    cr_expect_eq(fdn__tel_bucket_of(m, INFINITY), m->nb - 1);

    fdn_series_t *s = fdn_metric_default(m);
    fdn_metric_observe(s, 2.0);
    fdn_metric_observe(s, 2.0);
    fdn_metric_observe(s, 2.5);
    fdn_metric_observe(s, 100);
    double up[16];
    uint64_t cum[16];
    size_t n;
    cr_assert_eq(fdn_series_buckets(s, up, cum, 16, &n), FDN_OK);
    /* Only buckets holding values, and +Inf. */
    cr_assert_eq(n, 3);
    cr_expect_eq(up[0], 2.0);
    cr_expect_eq(cum[0], 2);
    cr_expect_eq(up[1], 2.5);
    cr_expect_eq(cum[1], 3);
    cr_expect(isinf(up[2]));
    cr_expect_eq(cum[2], 4);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-C2 */
Test(telemetry_histogram, log_range_rounds_to_powers_of_two)
{
    fdn_telemetry_t *t = tel_new();
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "r", "h");
    o.log_bits = 1;
    o.log_min = 0.3; /* -> 0.25 */
    o.log_max = 5;   /* -> 8 */
    fdn_metric_t *m;
    cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    cr_expect_eq(m->log_min, 0.25);
    cr_expect_eq(m->log_max, 8.0);
    cr_expect_eq(m->nb, 5u * 2 + 2);
    /* One bound given, the other left at its default. */
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "lo_only", "h");
    o.log_min = 0.5;
    cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    cr_expect_eq(m->log_min, 0.5);
    cr_expect_eq(m->log_max, 0x1p20);
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "hi_only", "h");
    o.log_max = 10;
    cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    cr_expect_eq(m->log_min, 0x1p-20);
    cr_expect_eq(m->log_max, 16.0);
    /* A lone bound on the wrong side of the other's default. */
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "bad_lo", "h");
    o.log_min = 0x1p21;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    /* Defaults: 3 bits, 2^-20 .. 2^20. */
    fdn_metric_t *d = tel_metric(t, FDN_METRIC_HISTOGRAM, "d");
    cr_expect_eq(d->log_bits, 3u);
    cr_expect_eq(d->log_min, 0x1p-20);
    cr_expect_eq(d->log_max, 0x1p20);
    cr_expect_eq(d->nb, 40u * 8 + 2);
    fdn_metric_t *sm = tel_metric(t, FDN_METRIC_SUMMARY, "s");
    cr_expect_eq(sm->log_bits, 5u);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-C4 */
Test(telemetry_histogram, quantiles_of_empty_and_one_sample)
{
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *s = fdn_metric_default(tel_metric(t, FDN_METRIC_SUMMARY,
                                                    "s_seconds"));
    const double b[] = {1, 2};
    fdn_series_t *h = fdn_metric_default(tel_hist(t, "h_seconds", b, 2));
    const double qs[] = {0, 0.5, 0.99, 0.999, 1};
    double q;
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(fdn_series_quantile(s, qs[i], &q), FDN_OK);
        cr_expect(isnan(q), "empty q=%g gave %g", qs[i], q);
        cr_assert_eq(fdn_series_quantile(h, qs[i], &q), FDN_OK);
        cr_expect(isnan(q));
    }
    fdn_metric_observe(s, 0.0123);
    fdn_metric_observe(h, 1.5);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(fdn_series_quantile(s, qs[i], &q), FDN_OK);
        cr_expect_eq(q, 0.0123, "one sample q=%g gave %g", qs[i], q);
        cr_assert_eq(fdn_series_quantile(h, qs[i], &q), FDN_OK);
        cr_expect_eq(q, 1.5);
    }
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-C4 */
Test(telemetry_histogram, p999_and_p99_are_told_apart)
{
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *s = fdn_metric_default(tel_metric(t, FDN_METRIC_SUMMARY,
                                                    "lat_seconds"));
    /* 10000 samples: 9900 at 1 ms, 90 at 100 ms, 10 at 2 s.  p99 is the
     * 9900th (1 ms), p99.9 the 9990th (100 ms), max 2 s. */
    for (int i = 0; i < 9900; i++)
        fdn_metric_observe(s, 0.001);
    for (int i = 0; i < 90; i++)
        fdn_metric_observe(s, 0.1);
    for (int i = 0; i < 10; i++)
        fdn_metric_observe(s, 2.0);
    double p99, p999, p9999, p100;
    fdn_series_quantile(s, 0.99, &p99);
    fdn_series_quantile(s, 0.999, &p999);
    fdn_series_quantile(s, 0.9999, &p9999);
    fdn_series_quantile(s, 1, &p100);
    double err = 1.0 / 64; /* 2^-(5+1) */
    cr_expect_leq(fabs(p99 - 0.001) / 0.001, err, "p99 %g", p99);
    cr_expect_leq(fabs(p999 - 0.1) / 0.1, err, "p99.9 %g", p999);
    cr_expect_leq(fabs(p9999 - 2.0) / 2.0, err, "p99.99 %g", p9999);
    cr_expect_eq(p100, 2.0);
    fdn_telemetry_destroy(t);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Checks: TEL-C4 */
Test(telemetry_histogram, quantile_error_is_within_the_stated_bound)
{
    uint64_t seed = test_seed() | 1;
    fdn_telemetry_t *t = tel_new();
    for (unsigned bits = 1; bits <= 8; bits++) {
        char name[32];
        snprintf(name, sizeof name, "q%u", bits);
        fdn_metric_opts_t o;
        fdn_metric_opts_init(&o, FDN_METRIC_SUMMARY, name, "h");
        o.log_bits = bits;
        /* 14 powers of two: even 8 bits stay under the bucket maximum. */
        o.log_min = 0x1p-7;
        o.log_max = 0x1p7;
        fdn_metric_t *m;
        cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK);
        fdn_series_t *s = fdn_metric_default(m);
        enum { N = 2000 };
        static double v[N];
        for (int i = 0; i < N; i++) {
            /* Log-uniform over 1e-2 .. 1e2. */
            double u = (double)(xorshift(&seed) >> 11) * 0x1p-53;
            v[i] = pow(10.0, -2.0 + 4.0 * u);
            fdn_metric_observe(s, v[i]);
        }
        qsort(v, N, sizeof *v, cmp_double);
        double bound = ldexp(1.0, -(int)(bits + 1));
        for (int k = 0; k <= 1000; k++) {
            double q = k / 1000.0;
            double r = ceil(q * N);
            size_t rank = r < 1 ? 1 : (size_t)r;
            double exact = v[rank - 1];
            double est;
            cr_assert_eq(fdn_series_quantile(s, q, &est), FDN_OK);
            cr_assert_leq(fabs(est - exact) / exact, bound * (1 + 1e-12),
                          "bits %u q %g: est %.17g exact %.17g", bits, q,
                          est, exact);
        }
    }
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-C4 */
Test(telemetry_histogram, explicit_quantiles_interpolate)
{
    fdn_telemetry_t *t = tel_new();
    const double b[] = {10, 20, 30};
    fdn_series_t *s = fdn_metric_default(tel_hist(t, "e", b, 3));
    /* 10 values in (10, 20]: 11..20. */
    for (int i = 11; i <= 20; i++)
        fdn_metric_observe(s, i);
    double q;
    fdn_series_quantile(s, 0.5, &q);
    /* rank 5 of 10 in bucket (max(10, min=11), min(20, max=20)] = 11..20,
     * interpolated: 11 + 9 * 5 / 10 = 15.5 */
    cr_expect_float_eq(q, 15.5, 1e-12);
    fdn_series_quantile(s, 0, &q);
    cr_expect_eq(q, 11.0);
    fdn_series_quantile(s, 1, &q);
    cr_expect_eq(q, 20.0);

    /* Infinite samples: a bucket with an infinite edge answers with its
     * finite one, never NaN. */
    fdn_series_t *inf = fdn_metric_default(tel_hist(t, "inf", b, 3));
    fdn_metric_observe(inf, -INFINITY);
    fdn_metric_observe(inf, 15);
    fdn_metric_observe(inf, INFINITY);
    fdn_series_quantile(inf, 0.25, &q);
    cr_expect_eq(q, 10.0, "q=0.25 gave %g", q);
    fdn_series_quantile(inf, 0.5, &q);
    cr_expect_eq(q, 15.0, "q=0.5 gave %g", q);
    fdn_series_quantile(inf, 0.9, &q);
    cr_expect_eq(q, 30.0, "q=0.9 gave %g", q);
    fdn_series_quantile(inf, 0, &q);
    cr_expect_eq(q, -INFINITY);
    fdn_series_quantile(inf, 1, &q);
    cr_expect_eq(q, INFINITY);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-I3 */
Test(telemetry_histogram, summary_sum_count_min_max)
{
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *s = fdn_metric_default(tel_metric(t, FDN_METRIC_SUMMARY,
                                                    "s"));
    double sum = 0;
    for (int i = 1; i <= 100; i++) {
        fdn_metric_observe(s, i * 0.5);
        sum += i * 0.5;
    }
    fdn_series_value_t v;
    fdn_series_read(s, &v);
    cr_expect_eq(v.kind, FDN_METRIC_SUMMARY);
    cr_expect_eq(v.count, 100);
    cr_expect_eq(v.sum, sum);
    cr_expect_eq(v.min, 0.5);
    cr_expect_eq(v.max, 50.0);
    /* A summary has no buckets to list. */
    size_t n;
    cr_expect_eq(fdn_series_buckets(s, NULL, NULL, 0, &n), FDN_EINVAL);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-I3 */
Test(telemetry_histogram, big_log_histogram_reads_without_the_stack_buffer)
{
    fdn_telemetry_t *t = tel_new();
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "big", "h");
    o.log_bits = 8;
    o.log_min = 1;
    o.log_max = 4096;
    fdn_metric_t *m;
    cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    cr_expect_gt(m->nb, 64u);
    fdn_series_t *s = fdn_metric_default(m);
    for (int i = 0; i < 1000; i++)
        fdn_metric_observe(s, i);
    fdn_series_value_t v;
    cr_assert_eq(fdn_series_read(s, &v), FDN_OK);
    cr_expect_eq(v.count, 1000);
    cr_expect_eq(v.sum, 999.0 * 1000 / 2);
    fdn_telemetry_destroy(t);
}
