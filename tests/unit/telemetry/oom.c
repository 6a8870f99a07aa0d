/*
 * oom.c — fault injection for the metric core: every allocation of hub,
 * metric and series creation fails in turn (FDN_ENOMEM, nothing left
 * behind), recording allocates nothing, and running out of cells refuses
 * new series while old ones keep working.
 */
#include "unit/telemetry/tel_helpers.h"

#include "telemetry/internal.h"

#include <stdio.h>

static int build(fdn_telemetry_t *t)
{
    static const char *const names[] = {"a", "b"};
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "h", "h");
    fdn_metric_t *m;
    int rc = fdn_metric_create(t, &o, &m);
    if (rc != FDN_OK)
        return rc;
    fdn_metric_opts_init(&o, FDN_METRIC_SUMMARY, "s", "h");
    o.label_names = names;
    o.n_labels = 2;
    if ((rc = fdn_metric_create(t, &o, &m)) != FDN_OK)
        return rc;
    /* Enough series to grow the table and the order array. */
    for (int i = 0; i < 20; i++) {
        char buf[8];
        snprintf(buf, sizeof buf, "%d", i);
        const char *v[] = {buf, "x"};
        fdn_series_t *s;
        if ((rc = fdn_metric_series(m, v, 2, &s)) != FDN_OK)
            return rc;
        fdn_metric_observe(s, i);
    }
    return FDN_OK;
}

/* Checks: TEL-F1 */
Test(telemetry_oom, every_failed_allocation_is_enomem_and_leaks_nothing)
{
    fdn_failing_allocator_t *fa;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_telemetry_opts_t o;
    fdn_telemetry_opts_init(&o);
    o.allocator = fdn_failing_allocator_get(fa);
    /* Count the allocations of a full run. */
    fdn_telemetry_t *t;
    cr_assert_eq(fdn_telemetry_create(&o, &t), FDN_OK);
    cr_assert_eq(build(t), FDN_OK);
    fdn_telemetry_destroy(t);
    cr_assert_eq(fdn_failing_allocator_live(fa), 0);
    uint64_t total = fdn_failing_allocator_calls(fa);
    cr_assert_gt(total, 20);
    for (uint64_t n = 1; n <= total; n++) {
        fdn_failing_allocator_arm(fa, n, false);
        t = NULL;
        int rc = fdn_telemetry_create(&o, &t);
        if (rc == FDN_OK) {
            rc = build(t);
            cr_expect(rc == FDN_OK || rc == FDN_ENOMEM, "n=%llu rc=%d",
                      (unsigned long long)n, rc);
            /* After a failure the hub still works: retry succeeds. */
            fdn_failing_allocator_arm(fa, 0, false);
            if (rc == FDN_ENOMEM)
                cr_expect_eq(build(t) == FDN_OK ||
                                 build(t) == FDN_EEXIST,
                             true);
            fdn_telemetry_destroy(t);
        } else {
            cr_expect_eq(rc, FDN_ENOMEM, "n=%llu", (unsigned long long)n);
            cr_expect_null(t);
        }
        cr_expect_eq(fdn_failing_allocator_live(fa), 0, "leak at n=%llu",
                     (unsigned long long)n);
    }
    fdn_failing_allocator_destroy(fa);
}

/* Checks: TEL-S2 */
Test(telemetry_oom, recording_and_finding_series_allocate_nothing)
{
    fdn_failing_allocator_t *fa;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_telemetry_opts_t o;
    fdn_telemetry_opts_init(&o);
    o.allocator = fdn_failing_allocator_get(fa);
    fdn_telemetry_t *t;
    cr_assert_eq(fdn_telemetry_create(&o, &t), FDN_OK);
    static const char *const names[] = {"k"};
    fdn_metric_opts_t mo;
    fdn_metric_opts_init(&mo, FDN_METRIC_COUNTER, "c_total", "h");
    mo.label_names = names;
    mo.n_labels = 1;
    fdn_metric_t *m;
    cr_assert_eq(fdn_metric_create(t, &mo, &m), FDN_OK);
    const char *v = "x";
    fdn_series_t *s;
    cr_assert_eq(fdn_metric_series(m, &v, 1, &s), FDN_OK);
    fdn_series_t *g = fdn_metric_default(tel_metric(t, FDN_METRIC_GAUGE,
                                                    "g"));
    fdn_series_t *h = fdn_metric_default(tel_metric(t, FDN_METRIC_HISTOGRAM,
                                                    "h"));
    /* From here every allocation fails. */
    fdn_failing_allocator_arm(fa, 1, true);
    for (int i = 0; i < 1000; i++) {
        fdn_series_t *again;
        cr_assert_eq(fdn_metric_series(m, &v, 1, &again), FDN_OK);
        fdn_counter_inc(again);
        fdn_gauge_add(g, 1);
        fdn_metric_observe(h, i);
    }
    cr_expect_eq(fdn_failing_allocator_calls(fa), 0);
    cr_expect_eq(fdn_counter_value(s), 1000);
    fdn_failing_allocator_arm(fa, 0, false);
    fdn_telemetry_destroy(t);
    cr_expect_eq(fdn_failing_allocator_live(fa), 0);
    fdn_failing_allocator_destroy(fa);
}

/* Checks: TEL-F2, TEL-I4 */
Test(telemetry_oom, running_out_of_cells_refuses_new_series_only)
{
    fdn_telemetry_opts_t o;
    fdn_telemetry_opts_init(&o);
    o.max_cells = 11; /* one for c_total's refusal counter, made with it */
    fdn_telemetry_t *t;
    cr_assert_eq(fdn_telemetry_create(&o, &t), FDN_OK);
    static const char *const names[] = {"k"};
    fdn_metric_opts_t mo;
    fdn_metric_opts_init(&mo, FDN_METRIC_COUNTER, "c_total", "h");
    mo.label_names = names;
    mo.n_labels = 1;
    fdn_metric_t *m;
    cr_assert_eq(fdn_metric_create(t, &mo, &m), FDN_OK);
    fdn_series_t *s[10];
    int made = 0;
    for (int i = 0; i < 10; i++) {
        char buf[8];
        snprintf(buf, sizeof buf, "%d", i);
        const char *v = buf;
        int rc = fdn_metric_series(m, &v, 1, &s[made]);
        if (rc == FDN_OK)
            made++;
        else
            cr_expect_eq(rc, FDN_ENOMEM);
    }
    cr_expect_eq(made, 10);
    const char *v = "more";
    fdn_series_t *x;
    cr_expect_eq(fdn_metric_series(m, &v, 1, &x), FDN_ENOMEM);
    /* A histogram needs nb + 3 cells: refused too. */
    fdn_metric_opts_init(&mo, FDN_METRIC_HISTOGRAM, "h", "h");
    fdn_metric_t *hm;
    cr_expect_eq(fdn_metric_create(t, &mo, &hm), FDN_ENOMEM);
    cr_expect_null(fdn_metric_find(t, "h"));
    /* A gauge needs no cells. */
    fdn_metric_opts_init(&mo, FDN_METRIC_GAUGE, "g", "h");
    cr_expect_eq(fdn_metric_create(t, &mo, &hm), FDN_OK);
    for (int i = 0; i < made; i++)
        fdn_counter_add(s[i], (uint64_t)i + 1);
    for (int i = 0; i < made; i++)
        cr_expect_eq(fdn_counter_value(s[i]), (uint64_t)i + 1);
    fdn_telemetry_stats_t st;
    fdn_telemetry_stats(t, &st);
    cr_expect_eq(st.cells_used, 11);
    fdn_telemetry_destroy(t);
}

/* Checks: TEL-S3, TEL-F2 */
Test(telemetry_oom, a_refusal_is_counted_when_no_cell_is_left)
{
    /* The refusal counter's series is made with the metric: a refusal
     * when every cell is taken is still exported. */
    fdn_telemetry_opts_t o;
    fdn_telemetry_opts_init(&o);
    o.max_cells = 2;
    fdn_telemetry_t *t;
    cr_assert_eq(fdn_telemetry_create(&o, &t), FDN_OK);
    static const char *const names[] = {"k"};
    fdn_metric_opts_t mo;
    fdn_metric_opts_init(&mo, FDN_METRIC_COUNTER, "a_total", "h");
    mo.label_names = names;
    mo.n_labels = 1;
    mo.max_series = 1;
    fdn_metric_t *m;
    cr_assert_eq(fdn_metric_create(t, &mo, &m), FDN_OK);
    const char *v1 = "one", *v2 = "two";
    fdn_series_t *s;
    cr_assert_eq(fdn_metric_series(m, &v1, 1, &s), FDN_OK);
    cr_assert_eq(fdn_metric_series(m, &v2, 1, &s), FDN_ELIMIT);
    cr_assert_eq(fdn_metric_refused(m), 1);
    char *text;
    cr_assert_eq(fdn_telemetry_prometheus(t, &text, NULL), FDN_OK);
    cr_expect(strstr(text, "\nfdn_telemetry_series_refused_total{metric="
                           "\"a_total\"} 1\n") != NULL,
              "%s", text);
    fdn_telemetry_free(t, text);
    /* A second labelled metric needs a cell for its own counter. */
    mo.name = "b_total";
    cr_expect_eq(fdn_metric_create(t, &mo, &m), FDN_ENOMEM);
    cr_expect_null(fdn_metric_find(t, "b_total"));
    fdn_telemetry_destroy(t);
}
