/*
 * metrics.c — unit tests of the metric core on one thread: names and
 * options, series and labels, the cardinality limit, counters, gauges,
 * misuse, statistics.
 */
#include "unit/telemetry/tel_helpers.h"

#include "telemetry/internal.h"

#include <stdio.h>

/* Checks: TEL-C1 */
Test(telemetry_metrics, names_follow_prometheus_rules)
{
    fdn_telemetry_t *t = tel_new();
    fdn_metric_opts_t o;
    fdn_metric_t *m = NULL;
    static const char *const bad_names[] = {"", "1abc", "a-b", "a b",
                                            "a.b", "é", "a\nb"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, bad_names[i], "h");
        cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL, "name '%s'",
                     bad_names[i]);
        cr_expect_null(m);
    }
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, NULL, "h");
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    char longname[FDN_METRIC_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, longname, "h");
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);

    static const char *const good[] = {"a", "_a", ":a", "a:b_c9", "A_Z"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, good[i], NULL);
        cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_OK, "name '%s'",
                     good[i]);
        cr_expect_eq(fdn_metric_find(t, good[i]), m);
        cr_expect_str_eq(fdn_metric_name(m), good[i]);
        cr_expect_eq(fdn_metric_kind(m), FDN_METRIC_GAUGE);
    }
    /* A second metric of the same name, of any kind. */
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "a", "h");
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EEXIST);

    /* Label names. */
    const char *bad_labels[][2] = {{"__x", NULL}, {"a:b", NULL}, {"1", NULL},
                                   {"", NULL},    {"x", "x"}};
    for (size_t i = 0; i < sizeof bad_labels / sizeof *bad_labels; i++) {
        fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "lab_total", "h");
        o.label_names = bad_labels[i];
        o.n_labels = bad_labels[i][1] ? 2 : 1;
        cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL, "label %zu",
                     i);
    }
    static const char *const le[] = {"le"};
    static const char *const quantile[] = {"quantile"};
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "h_seconds", "h");
    o.label_names = le;
    o.n_labels = 1;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    fdn_metric_opts_init(&o, FDN_METRIC_SUMMARY, "s_seconds", "h");
    o.label_names = quantile;
    o.n_labels = 1;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    /* "le" is fine on a counter, "quantile" on a histogram. */
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "le_total", "h");
    o.label_names = le;
    o.n_labels = 1;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "q_seconds", "h");
    o.label_names = quantile;
    o.n_labels = 1;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "nine_total", "h");
    static const char *const nine[9] = {"a", "b", "c", "d", "e",
                                        "f", "g", "h", "i"};
    o.label_names = nine;
    o.n_labels = 9;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    o.n_labels = 8;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_OK);

    /* Bad kinds, sizes, NULLs. */
    fdn_metric_opts_init(&o, (fdn_metric_kind_t)9, "k", "h");
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "k", "h");
    o.size = 3;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    cr_expect_eq(fdn_metric_create(NULL, &o, &m), FDN_EINVAL);
    cr_expect_eq(fdn_metric_create(t, NULL, &m), FDN_EINVAL);
    cr_expect_null(fdn_metric_find(t, "nope"));
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-C2 */
Test(telemetry_metrics, bucket_and_quantile_options_are_checked)
{
    fdn_telemetry_t *t = tel_new();
    fdn_metric_opts_t o;
    fdn_metric_t *m;
    const double dec[] = {1, 0.5};
    const double dup[] = {1, 1};
    const double inf[] = {1, INFINITY};
    const double nan_b[] = {NAN};
    const double *bad[] = {dec, dup, inf, nan_b};
    size_t badn[] = {2, 2, 2, 1};
    for (size_t i = 0; i < 4; i++) {
        fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "h", "h");
        o.buckets = bad[i];
        o.n_buckets = badn[i];
        cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL, "list %zu",
                     i);
    }
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "h", "h");
    o.buckets = dec;
    o.n_buckets = 0;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    o.buckets = NULL;
    o.n_buckets = 3; /* a count without a list */
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    o.n_buckets = 0;
    o.log_bits = 9;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    o.log_bits = 3;
    o.log_min = 10;
    o.log_max = 1;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    o.log_min = -1;
    o.log_max = 1;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    o.log_min = 1;
    o.log_max = INFINITY;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    /* Too many log-linear buckets: 8 bits over 2^-100..2^100. */
    o.log_bits = 8;
    o.log_min = 0x1p-100;
    o.log_max = 0x1p100;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    o.log_min = 1;
    o.log_max = 1024;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    /* 10 powers of two, 256 buckets each, + first + Inf. */
    cr_expect_eq(m->nb, 10u * 256 + 2);

    const double qbad[] = {0.5, 1.5};
    fdn_metric_opts_init(&o, FDN_METRIC_SUMMARY, "s", "h");
    o.quantiles = qbad;
    o.n_quantiles = 2;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    const double qnan[] = {NAN};
    o.quantiles = qnan;
    o.n_quantiles = 1;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    const double qok[] = {0, 0.25, 1};
    o.quantiles = qok;
    o.n_quantiles = 3;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    cr_expect_eq(m->n_quantiles, 3u);
    /* Default quantiles. */
    fdn_metric_opts_init(&o, FDN_METRIC_SUMMARY, "s2", "h");
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    cr_expect_eq(m->n_quantiles, 4u);
    cr_expect_eq(m->quantiles[3], 0.999);
    /* Repeated quantiles (Prometheus would keep one line), or a list
     * without a count. */
    const double qdup[] = {0.5, 0.9, 0.5};
    fdn_metric_opts_init(&o, FDN_METRIC_SUMMARY, "s3", "h");
    o.quantiles = qdup;
    o.n_quantiles = 3;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    o.n_quantiles = 0;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);

    /* log_bits 7 over the default 40 powers of two passes the bucket
     * limit (5120 > 4096); over a narrower range it is fine. */
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "h7", "h");
    o.log_bits = 7;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL);
    o.log_min = 0x1p-10;
    o.log_max = 0x1p10;
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_OK);

    /* Options of another kind are refused, not ignored. */
    const double one[] = {1};
    const double q[] = {0.5};
    struct {
        fdn_metric_kind_t kind;
        const double *buckets;
        size_t n_buckets;
        unsigned log_bits;
        double log_min;
        const double *quantiles;
        size_t n_quantiles;
        bool is_double;
    } wrong[] = {
        {FDN_METRIC_COUNTER, one, 1, 0, 0, NULL, 0, false},
        {FDN_METRIC_COUNTER, dec, 2, 0, 0, NULL, 0, false}, /* unsorted */
        {FDN_METRIC_COUNTER, NULL, 0, 3, 0, NULL, 0, false},
        {FDN_METRIC_COUNTER, NULL, 0, 0, 0, NULL, 0, true},
        {FDN_METRIC_GAUGE, NULL, 0, 0, 0, q, 1, false},
        {FDN_METRIC_GAUGE, NULL, 0, 0, 1e-3, NULL, 0, false},
        {FDN_METRIC_SUMMARY, one, 1, 0, 0, NULL, 0, false},
        {FDN_METRIC_SUMMARY, NULL, 0, 0, 0, NULL, 0, true},
        {FDN_METRIC_HISTOGRAM, NULL, 0, 0, 0, q, 1, false},
        {FDN_METRIC_HISTOGRAM, one, 1, 3, 0, NULL, 0, false},
        {FDN_METRIC_HISTOGRAM, one, 1, 0, 1e-3, NULL, 0, false},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        fdn_metric_opts_init(&o, wrong[i].kind, "w", "h");
        o.buckets = wrong[i].buckets;
        o.n_buckets = wrong[i].n_buckets;
        o.log_bits = wrong[i].log_bits;
        o.log_min = wrong[i].log_min;
        o.quantiles = wrong[i].quantiles;
        o.n_quantiles = wrong[i].n_quantiles;
        o.is_double = wrong[i].is_double;
        cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EINVAL, "case %zu",
                     i);
    }
    cr_expect_null(fdn_metric_find(t, "w"));
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-C3, TEL-S3, TEL-I4 */
Test(telemetry_metrics, series_by_label_values_and_the_cardinality_limit)
{
    fdn_telemetry_t *t = tel_new();
    static const char *const names[] = {"method", "code"};
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "http_requests_total",
                         "Requests.");
    o.label_names = names;
    o.n_labels = 2;
    o.max_series = 3;
    fdn_metric_t *m;
    cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    cr_expect_null(fdn_metric_default(m));
    cr_expect_eq(fdn_metric_series_count(m), 0);

    fdn_series_t *s1, *s2, *s3, *again, *x = (fdn_series_t *)1;
    const char *v1[] = {"GET", "200"};
    const char *v2[] = {"GET", "500"};
    const char *v3[] = {"POST", "200"};
    const char *v4[] = {"PUT", "200"};
    cr_assert_eq(fdn_metric_series(m, v1, 2, &s1), FDN_OK);
    cr_assert_eq(fdn_metric_series(m, v2, 2, &s2), FDN_OK);
    cr_assert_eq(fdn_metric_series(m, v3, 2, &s3), FDN_OK);
    cr_expect_neq(s1, s2);
    cr_expect_neq(s2, s3);
    /* The same values always give the same series, from other storage. */
    char a[] = "GET", b[] = "200";
    const char *v1b[] = {a, b};
    cr_assert_eq(fdn_metric_series(m, v1b, 2, &again), FDN_OK);
    cr_expect_eq(again, s1);
    fdn_counter_add(s1, 5);
    fdn_counter_inc(again);
    cr_expect_eq(fdn_counter_value(s1), 6);
    cr_expect_eq(fdn_counter_value(s2), 0);

    /* Past the limit: refused, counted, nothing recorded. */
    cr_expect_eq(fdn_metric_series(m, v4, 2, &x), FDN_ELIMIT);
    cr_expect_null(x);
    cr_expect_eq(fdn_metric_series(m, v4, 2, &x), FDN_ELIMIT);
    cr_expect_eq(fdn_metric_refused(m), 2);
    cr_expect_eq(fdn_metric_series_count(m), 3);
    /* Known sets still work at the limit. */
    cr_expect_eq(fdn_metric_series(m, v2, 2, &x), FDN_OK);
    cr_expect_eq(x, s2);
    /* The refusals show in the hub's own counter. */
    fdn_metric_t *refm = fdn_metric_find(t, "fdn_telemetry_series_refused_total");
    cr_assert_not_null(refm);
    const char *mv[] = {"http_requests_total"};
    fdn_series_t *rs;
    cr_assert_eq(fdn_metric_series(refm, mv, 1, &rs), FDN_OK);
    cr_expect_eq(fdn_counter_value(rs), 2);
    fdn_telemetry_stats_t st;
    fdn_telemetry_stats(t, &st);
    cr_expect_eq(st.series_refused, 2);

    /* Bad calls. */
    const char *v_null[] = {"GET", NULL};
    cr_expect_eq(fdn_metric_series(m, v_null, 2, &x), FDN_EINVAL);
    cr_expect_eq(fdn_metric_series(m, v1, 1, &x), FDN_EINVAL);
    cr_expect_eq(fdn_metric_series(m, NULL, 2, &x), FDN_EINVAL);
    cr_expect_eq(fdn_metric_series(m, v1, 2, NULL), FDN_EINVAL);
    cr_expect_eq(fdn_metric_series(NULL, v1, 2, &x), FDN_EINVAL);
    char big[FDN_METRIC_LABEL_VALUE_MAX + 2];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *vbig[] = {big, "200"};
    cr_expect_eq(fdn_metric_series(m, vbig, 2, &x), FDN_EINVAL);
    big[FDN_METRIC_LABEL_VALUE_MAX] = '\0'; /* exactly the maximum */
    o.name = "other_total";
    o.max_series = 0;
    fdn_metric_t *m2;
    cr_assert_eq(fdn_metric_create(t, &o, &m2), FDN_OK);
    cr_expect_eq(fdn_metric_series(m2, vbig, 2, &x), FDN_OK);
    /* The empty string is a value like any other. */
    const char *vempty[] = {"", ""};
    cr_expect_eq(fdn_metric_series(m2, vempty, 2, &x), FDN_OK);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-S7 */
Test(telemetry_metrics, label_values_must_be_utf8_so_none_collide)
{
    /* Repairing bad bytes at export would turn "\xff" and "\xfe" into
     * the same label set as U+FFFD itself, and Prometheus would keep one
     * of the three: invalid values are refused when created. */
    fdn_telemetry_t *t = tel_new();
    static const char *const names[] = {"user"};
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "req_total", "Requests.");
    o.label_names = names;
    o.n_labels = 1;
    fdn_metric_t *m;
    cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    static const char *const bad[] = {
        "\xff", "\xfe", "a\x80", "\xc0\xaf", "\xed\xa0\x80",
        "\xf4\x90\x80\x80", "ab\xe2\x82",
    };
    fdn_series_t *x = (fdn_series_t *)1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(fdn_metric_series(m, &bad[i], 1, &x), FDN_EINVAL,
                     "case %zu", i);
        cr_expect_null(x);
    }
    static const char *const good[] = {
        "\xef\xbf\xbd", "caf\xc3\xa9", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect_eq(fdn_metric_series(m, &good[i], 1, &x), FDN_OK,
                     "case %zu", i);
    cr_expect_eq(fdn_metric_series_count(m), 4);
    cr_expect_eq(fdn_metric_refused(m), 0, "not a cardinality refusal");
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-C3, TEL-I4 */
Test(telemetry_metrics, many_series_grow_the_table_and_keep_order)
{
    fdn_telemetry_t *t = tel_new();
    static const char *const names[] = {"k"};
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "many_total", "h");
    o.label_names = names;
    o.n_labels = 1;
    o.max_series = 5000;
    fdn_metric_t *m;
    cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    static fdn_series_t *made[5000];
    for (int i = 0; i < 5000; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", i);
        const char *v = buf;
        cr_assert_eq(fdn_metric_series(m, &v, 1, &made[i]), FDN_OK);
        fdn_counter_add(made[i], (uint64_t)i);
    }
    cr_expect_eq(fdn_metric_series_count(m), 5000);
    for (int i = 0; i < 5000; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", i);
        const char *v = buf;
        fdn_series_t *s;
        cr_assert_eq(fdn_metric_series(m, &v, 1, &s), FDN_OK);
        cr_assert_eq(s, made[i]);
        cr_assert_eq(fdn__tel_series_at(m, (uint32_t)i), made[i]);
        cr_assert_eq(fdn_counter_value(s), (uint64_t)i);
    }
    const char *one = "x";
    fdn_series_t *s;
    cr_expect_eq(fdn_metric_series(m, &one, 1, &s), FDN_ELIMIT);
    fdn_telemetry_stats_t st;
    fdn_telemetry_stats(t, &st);
    /* The hub's own refused counter is not counted in series; its series
     * for "many_total" takes a cell. */
    cr_expect_eq(st.series, 5000);
    cr_expect_eq(st.cells_used, 5001);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-S4, TEL-I2 */
Test(telemetry_metrics, counters_saturate_and_never_wrap)
{
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *c = fdn_metric_default(tel_metric(t, FDN_METRIC_COUNTER,
                                                    "c_total"));
    cr_assert_not_null(c);
    cr_expect_eq(fdn_counter_value(c), 0);
    fdn_counter_inc(c);
    fdn_counter_add(c, 41);
    cr_expect_eq(fdn_counter_value(c), 42);
    fdn_counter_add(c, 0);
    cr_expect_eq(fdn_counter_value(c), 42);
    fdn_counter_add(c, UINT64_MAX - 43);
    cr_expect_eq(fdn_counter_value(c), UINT64_MAX - 1);
    fdn_counter_add(c, 5);
    cr_expect_eq(fdn_counter_value(c), UINT64_MAX);
    fdn_counter_inc(c);
    cr_expect_eq(fdn_counter_value(c), UINT64_MAX);
    fdn_series_value_t v;
    cr_assert_eq(fdn_series_read(c, &v), FDN_OK);
    cr_expect_eq(v.kind, FDN_METRIC_COUNTER);
    cr_expect_eq(v.counter, UINT64_MAX);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-S4, TEL-I2 */
Test(telemetry_metrics, counter_sum_over_slots_saturates)
{
    /* Two slots each near the top: the read saturates rather than wrap. */
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *c = fdn_metric_default(tel_metric(t, FDN_METRIC_COUNTER,
                                                    "c_total"));
    fdn_counter_add(c, UINT64_MAX / 2 + 10);
    /* Write the shared slot's cell directly, as another thread would. */
    _Atomic uint64_t *shared = c->cells + (size_t)fdn__tel_nslots * c->stride;
    atomic_store(shared, UINT64_MAX / 2 + 10);
    cr_expect_eq(fdn_counter_value(c), UINT64_MAX);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-S10 */
Test(telemetry_metrics, gauges_set_add_integer_and_double)
{
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *g = fdn_metric_default(tel_metric(t, FDN_METRIC_GAUGE,
                                                    "g"));
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, "gd", "h");
    o.is_double = true;
    fdn_metric_t *md;
    cr_assert_eq(fdn_metric_create(t, &o, &md), FDN_OK);
    fdn_series_t *d = fdn_metric_default(md);

    fdn_gauge_set(g, -5);
    fdn_gauge_add(g, 12);
    cr_expect_eq(fdn_gauge_value(g), 7.0);
    fdn_gauge_add(g, -20);
    fdn_series_value_t v;
    fdn_series_read(g, &v);
    cr_expect_eq(v.gauge_int, -13);
    cr_expect_eq(v.gauge, -13.0);
    fdn_gauge_set(g, INT64_MAX);
    fdn_series_read(g, &v);
    cr_expect_eq(v.gauge_int, INT64_MAX);
    /* Doubles on an integer gauge round to nearest and saturate. */
    fdn_gauge_set_double(g, 2.6);
    cr_expect_eq(fdn_gauge_value(g), 3.0);
    fdn_gauge_add_double(g, -1.4);
    cr_expect_eq(fdn_gauge_value(g), 2.0);
    fdn_gauge_set_double(g, 1e300);
    fdn_series_read(g, &v);
    cr_expect_eq(v.gauge_int, INT64_MAX);
    /* add_double rounds as set_double does (halves away from zero) and
     * its sum saturates too. */
    fdn_gauge_set(g, 0);
    fdn_gauge_add_double(g, 2.5);
    cr_expect_eq(fdn_gauge_value(g), 3.0);
    fdn_gauge_set_double(g, 2.5);
    cr_expect_eq(fdn_gauge_value(g), 3.0);
    fdn_gauge_add_double(g, -5.5);
    cr_expect_eq(fdn_gauge_value(g), -3.0);
    fdn_gauge_set(g, 7);
    fdn_gauge_add_double(g, 1e300);
    fdn_series_read(g, &v);
    cr_expect_eq(v.gauge_int, INT64_MAX);
    fdn_gauge_add_double(g, 1);
    fdn_series_read(g, &v);
    cr_expect_eq(v.gauge_int, INT64_MAX, "no wrap past the top");
    fdn_gauge_add_double(g, -1e300);
    fdn_series_read(g, &v);
    cr_expect_eq(v.gauge_int, INT64_MIN);
    fdn_gauge_set(g, INT64_MIN + 1);
    fdn_gauge_add_double(g, -3);
    fdn_series_read(g, &v);
    cr_expect_eq(v.gauge_int, INT64_MIN);
    /* A delta past the int64 range whose sum is within it. */
    fdn_gauge_set(g, -6000000000000000000);
    fdn_gauge_add_double(g, 1e19);
    fdn_series_read(g, &v);
    cr_expect_eq(v.gauge_int, 4000000000000000000);

    fdn_gauge_set_double(d, 0.25);
    fdn_gauge_add_double(d, 0.5);
    cr_expect_eq(fdn_gauge_value(d), 0.75);
    fdn_gauge_add(d, 2);
    cr_expect_eq(fdn_gauge_value(d), 2.75);
    fdn_gauge_set(d, -3);
    cr_expect_eq(fdn_gauge_value(d), -3.0);
    fdn_gauge_set_double(d, INFINITY);
    cr_expect(isinf(fdn_gauge_value(d)));
    fdn_gauge_set_double(d, NAN); /* a double gauge may hold NaN */
    cr_expect(isnan(fdn_gauge_value(d)));
    fdn_telemetry_stats_t st;
    fdn_telemetry_stats(t, &st);
    cr_expect_eq(st.misuse, 0);
    /* NaN into an integer gauge is misuse and changes nothing. */
    fdn_gauge_set(g, 9);
    fdn_gauge_set_double(g, NAN);
    fdn_gauge_add_double(g, NAN);
    cr_expect_eq(fdn_gauge_value(g), 9.0);
    fdn_telemetry_stats(t, &st);
    cr_expect_eq(st.misuse, 2);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-S10 */
Test(telemetry_metrics, recording_into_the_wrong_kind_is_misuse)
{
    fdn_telemetry_t *t = tel_new();
    fdn_series_t *c = fdn_metric_default(tel_metric(t, FDN_METRIC_COUNTER,
                                                    "c_total"));
    fdn_series_t *g = fdn_metric_default(tel_metric(t, FDN_METRIC_GAUGE,
                                                    "g"));
    fdn_series_t *h = fdn_metric_default(tel_metric(t, FDN_METRIC_HISTOGRAM,
                                                    "h"));
    fdn_gauge_set(c, 5);
    fdn_gauge_add(c, 5);
    fdn_metric_observe(c, 1.0);
    fdn_counter_inc(g);
    fdn_metric_observe(g, 1.0);
    fdn_counter_add(h, 3);
    fdn_gauge_set_double(h, 1.0);
    fdn_metric_observe(h, NAN);
    cr_expect_eq(fdn_counter_value(c), 0);
    cr_expect_eq(fdn_gauge_value(g), 0.0);
    fdn_series_value_t v;
    fdn_series_read(h, &v);
    cr_expect_eq(v.count, 0);
    cr_expect(isnan(v.min));
    fdn_telemetry_stats_t st;
    fdn_telemetry_stats(t, &st);
    cr_expect_eq(st.misuse, 8);
    /* NULL series do nothing and are not counted. */
    fdn_counter_inc(NULL);
    fdn_gauge_set(NULL, 1);
    fdn_metric_observe(NULL, 1);
    fdn_telemetry_stats(t, &st);
    cr_expect_eq(st.misuse, 8);
    cr_expect_eq(fdn_series_read(NULL, &v), FDN_EINVAL);
    double q;
    cr_expect_eq(fdn_series_quantile(c, 0.5, &q), FDN_EINVAL);
    cr_expect_eq(fdn_series_quantile(h, 1.5, &q), FDN_EINVAL);
    cr_expect_eq(fdn_series_quantile(h, NAN, &q), FDN_EINVAL);
    size_t n;
    cr_expect_eq(fdn_series_buckets(c, NULL, NULL, 0, &n), FDN_EINVAL);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-I4, TEL-C1 */
Test(telemetry_metrics, hub_options_and_the_metric_limit)
{
    fdn_telemetry_t *t = NULL;
    fdn_telemetry_opts_t o;
    fdn_telemetry_opts_init(&o);
    o.max_metrics = 3; /* the hub's own refused counter is not counted */
    cr_assert_eq(fdn_telemetry_create(&o, &t), FDN_OK);
    tel_metric(t, FDN_METRIC_COUNTER, "a_total");
    tel_metric(t, FDN_METRIC_COUNTER, "b_total");
    tel_metric(t, FDN_METRIC_COUNTER, "c_total");
    fdn_metric_opts_t mo;
    fdn_metric_opts_init(&mo, FDN_METRIC_COUNTER, "d_total", "h");
    fdn_metric_t *m = (fdn_metric_t *)1;
    cr_expect_eq(fdn_metric_create(t, &mo, &m), FDN_ELIMIT);
    cr_expect_null(m);
    fdn_telemetry_stats_t st;
    fdn_telemetry_stats(t, &st);
    cr_expect_eq(st.metrics, 3); /* the hub's own is not counted */
    cr_expect_eq(st.cells_max, 1u << 20);
    cr_expect_geq(st.slots, 8u);
    cr_expect_leq(st.slots, 64u);
    fdn_telemetry_destroy(t);

    o.size = 1;
    cr_expect_eq(fdn_telemetry_create(&o, &t), FDN_EINVAL);
    cr_expect_eq(fdn_telemetry_create(NULL, NULL), FDN_EINVAL);
    fdn_telemetry_destroy(NULL);
    fdn_telemetry_stats(NULL, &st);
    cr_expect_eq(st.metrics, 0);
}

/* Checks: TEL-C1 */
Test(telemetry_metrics, names_that_would_clash_in_the_exposition_are_refused)
{
    fdn_telemetry_t *t = tel_new();
    fdn_metric_opts_t o;
    fdn_metric_t *m;
    tel_metric(t, FDN_METRIC_HISTOGRAM, "lat");
    tel_metric(t, FDN_METRIC_SUMMARY, "dur");
    static const char *const clash[] = {"lat_bucket", "lat_sum", "lat_count",
                                        "dur_sum", "dur_count"};
    for (size_t i = 0; i < sizeof clash / sizeof *clash; i++) {
        fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, clash[i], "h");
        cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EEXIST, "%s",
                     clash[i]);
    }
    /* A summary writes no _bucket; other suffixes are fine. */
    static const char *const fine[] = {"dur_bucket", "lat_total", "lat_",
                                       "lat_counts", "la"};
    for (size_t i = 0; i < sizeof fine / sizeof *fine; i++) {
        fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, fine[i], "h");
        cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_OK, "%s", fine[i]);
    }
    /* The other way round: a histogram whose samples an existing metric
     * already names. */
    tel_metric(t, FDN_METRIC_COUNTER, "req_count");
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "req", "h");
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EEXIST);
    fdn_metric_opts_init(&o, FDN_METRIC_SUMMARY, "req", "h");
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_EEXIST);
    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, "req", "h");
    cr_expect_eq(fdn_metric_create(t, &o, &m), FDN_OK);
    fdn_telemetry_destroy(t);
}
