/*
 * json.c — the JSON snapshot: parsed back with jansson, every metric,
 * series and value checked, and held against the Prometheus exposition.
 */
#include "unit/telemetry/export_helpers.h"

#include <jansson.h>
#include <math.h>

/* The snapshot of t, parsed; checks its length and NUL. */
static json_t *snapshot(fdn_telemetry_t *t)
{
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(fdn_telemetry_json(t, &text, &len), FDN_OK);
    cr_assert_not_null(text);
    cr_assert_eq(len, strlen(text));
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    cr_assert_not_null(root, "invalid JSON (%s at %d): %s", err.text,
                       err.position, text);
    fdn_telemetry_free(t, text);
    return root;
}

static json_t *metric_named(json_t *root, const char *name)
{
    json_t *ms = json_object_get(root, "metrics");
    cr_assert(json_is_array(ms));
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "name")), name) == 0)
            return m;
    }
    cr_assert_fail("no metric %s", name);
    return NULL;
}

static json_t *series_at(json_t *m, size_t i)
{
    json_t *s = json_array_get(json_object_get(m, "series"), i);
    cr_assert_not_null(s);
    return s;
}

static const char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

static json_int_t int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

static double real_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_number(v), "%s is not a number", key);
    return json_number_value(v);
}

/* Checks: TEL-C9 */
Test(telemetry_json, every_kind_parses_back_with_its_values)
{
    tel_fx_t fx;
    tel_up(&fx);
    fdn_telemetry_t *t = fx.t;
    fdn_metric_opts_t o;
    static const char *const lab[] = {"path", "code"};

    fdn_metric_t *c = tel_metric(t, FDN_METRIC_COUNTER, "j_http_total",
                                 "Answers \\ and\nlines.", lab, 2);
    const char *v1[] = {"/a\"b", "200"};
    const char *v2[] = {"caf\xc3\xa9", "500"};
    fdn_counter_add(tel_series(c, v1, 2), 5);
    fdn_counter_add(tel_series(c, v2, 2), UINT64_MAX);
    fdn_gauge_set(fdn_metric_default(tel_metric(t, FDN_METRIC_GAUGE,
                                                "j_depth", "Depth.", NULL,
                                                0)),
                  -42);
    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, "j_ratio", "Ratio.");
    o.is_double = true;
    fdn_gauge_set_double(fdn_metric_default(tel_create(t, &o)), 0.25);
    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, "j_inf", "Inf.");
    o.is_double = true;
    fdn_gauge_set_double(fdn_metric_default(tel_create(t, &o)), -INFINITY);

    static const double bounds[] = {1, 2};
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "j_wait_seconds", "W.");
    o.buckets = bounds;
    o.n_buckets = 2;
    fdn_series_t *h = fdn_metric_default(tel_create(t, &o));
    fdn_metric_observe(h, 0.5);
    fdn_metric_observe(h, 1);
    fdn_metric_observe(h, 5);

    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "j_size_bytes", "S.");
    o.log_bits = 1;
    o.log_min = 1;
    o.log_max = 8;
    fdn_series_t *z = fdn_metric_default(tel_create(t, &o));
    fdn_metric_observe(z, 3);
    fdn_metric_observe(z, 3);

    static const double qs[] = {0.5, 1};
    fdn_metric_opts_init(&o, FDN_METRIC_SUMMARY, "j_lat_seconds", "L.");
    o.quantiles = qs;
    o.n_quantiles = 2;
    fdn_series_t *l = fdn_metric_default(tel_create(t, &o));
    fdn_metric_observe(l, 2);
    tel_metric(t, FDN_METRIC_SUMMARY, "j_empty_seconds", "E.", NULL, 0);

    json_t *root = snapshot(t);

    json_t *m = metric_named(root, "j_http_total");
    cr_assert_str_eq(str_of(m, "type"), "counter");
    cr_assert_str_eq(str_of(m, "help"), "Answers \\ and\nlines.");
    json_t *names = json_object_get(m, "labels");
    cr_assert_eq(json_array_size(names), 2);
    cr_assert_str_eq(json_string_value(json_array_get(names, 0)), "path");
    cr_assert_str_eq(json_string_value(json_array_get(names, 1)), "code");
    cr_assert_eq(json_array_size(json_object_get(m, "series")), 2);
    json_t *s = series_at(m, 0);
    cr_assert_str_eq(str_of(json_object_get(s, "labels"), "path"), "/a\"b");
    cr_assert_str_eq(str_of(json_object_get(s, "labels"), "code"), "200");
    cr_assert_eq(int_of(s, "value"), 5);
    s = series_at(m, 1);
    /* UTF-8 kept as it is; above INT64_MAX as an exact string. */
    cr_assert_str_eq(str_of(json_object_get(s, "labels"), "path"),
                     "caf\xc3\xa9");
    cr_assert_str_eq(str_of(s, "value"), "18446744073709551615");

    m = metric_named(root, "j_depth");
    cr_assert_str_eq(str_of(m, "type"), "gauge");
    cr_assert_eq(json_array_size(json_object_get(m, "labels")), 0);
    s = series_at(m, 0);
    cr_assert_eq(json_object_size(json_object_get(s, "labels")), 0);
    cr_assert_eq(int_of(s, "value"), -42);
    cr_assert_eq(real_of(series_at(metric_named(root, "j_ratio"), 0),
                         "value"),
                 0.25);
    cr_assert_str_eq(str_of(series_at(metric_named(root, "j_inf"), 0),
                            "value"),
                     "-Inf");

    m = metric_named(root, "j_wait_seconds");
    cr_assert_str_eq(str_of(m, "type"), "histogram");
    s = series_at(m, 0);
    cr_assert_eq(int_of(s, "count"), 3);
    cr_assert_eq(real_of(s, "sum"), 6.5);
    cr_assert_eq(real_of(s, "min"), 0.5);
    cr_assert_eq(real_of(s, "max"), 5);
    json_t *b = json_object_get(s, "buckets");
    cr_assert_eq(json_array_size(b), 3);
    cr_assert_eq(json_number_value(json_array_get(json_array_get(b, 0), 0)),
                 1);
    cr_assert_eq(json_integer_value(json_array_get(json_array_get(b, 0), 1)),
                 2); /* 0.5 and 1 (on the bound) */
    cr_assert_eq(json_number_value(json_array_get(json_array_get(b, 1), 0)),
                 2);
    cr_assert_eq(json_integer_value(json_array_get(json_array_get(b, 1), 1)),
                 2);
    cr_assert_str_eq(
        json_string_value(json_array_get(json_array_get(b, 2), 0)), "+Inf");
    cr_assert_eq(json_integer_value(json_array_get(json_array_get(b, 2), 1)),
                 3);
    cr_assert_null(json_object_get(s, "quantiles"));

    /* Log-linear: the non-empty buckets and +Inf, as the exposition. */
    b = json_object_get(series_at(metric_named(root, "j_size_bytes"), 0),
                        "buckets");
    cr_assert_eq(json_array_size(b), 2);
    cr_assert_eq(json_number_value(json_array_get(json_array_get(b, 0), 0)),
                 3);
    cr_assert_eq(json_integer_value(json_array_get(json_array_get(b, 0), 1)),
                 2);
    cr_assert_str_eq(
        json_string_value(json_array_get(json_array_get(b, 1), 0)), "+Inf");

    m = metric_named(root, "j_lat_seconds");
    cr_assert_str_eq(str_of(m, "type"), "summary");
    s = series_at(m, 0);
    cr_assert_eq(int_of(s, "count"), 1);
    cr_assert_eq(real_of(s, "sum"), 2);
    json_t *q = json_object_get(s, "quantiles");
    cr_assert_eq(json_object_size(q), 2);
    cr_assert_eq(real_of(q, "0.5"), 2);
    cr_assert_eq(real_of(q, "1"), 2);
    cr_assert_null(json_object_get(s, "buckets"));

    s = series_at(metric_named(root, "j_empty_seconds"), 0);
    cr_assert_eq(int_of(s, "count"), 0);
    cr_assert_eq(real_of(s, "sum"), 0);
    cr_assert_str_eq(str_of(s, "min"), "NaN");
    cr_assert_str_eq(str_of(s, "max"), "NaN");
    q = json_object_get(s, "quantiles");
    cr_assert_eq(json_object_size(q), 4);
    cr_assert_str_eq(str_of(q, "0.5"), "NaN");
    cr_assert_str_eq(str_of(q, "0.999"), "NaN");

    /* The stats are fdn_telemetry_stats'. */
    fdn_telemetry_stats_t st;
    fdn_telemetry_stats(t, &st);
    json_t *js = json_object_get(root, "stats");
    cr_assert(json_is_object(js));
    cr_assert_eq(int_of(js, "metrics"), (json_int_t)st.metrics);
    cr_assert_eq(int_of(js, "series"), (json_int_t)st.series);
    cr_assert_eq(int_of(js, "cells_used"), (json_int_t)st.cells_used);
    cr_assert_eq(int_of(js, "cells_max"), (json_int_t)st.cells_max);
    cr_assert_eq(int_of(js, "slots"), (json_int_t)st.slots);
    cr_assert_eq(int_of(js, "series_refused"), 0);
    cr_assert_eq(int_of(js, "misuse"), 0);
    cr_assert_eq(int_of(js, "handlers"), (json_int_t)st.handlers);
    cr_assert_eq(int_of(js, "handler_failures"),
                 (json_int_t)st.handler_failures);
    cr_assert_eq(st.metrics, 8); /* these 8; the hub's own not counted */
    json_decref(root);
    tel_down(&fx);
}

/* The sample lines an exposition has for the series of JSON metric m. */
static size_t lines_of(json_t *m)
{
    const char *type = str_of(m, "type");
    json_t *series = json_object_get(m, "series");
    size_t n = 0, i;
    json_t *s;
    json_array_foreach(series, i, s)
    {
        if (strcmp(type, "histogram") == 0)
            n += json_array_size(json_object_get(s, "buckets")) + 2;
        else if (strcmp(type, "summary") == 0)
            n += json_object_size(json_object_get(s, "quantiles")) + 2;
        else
            n += 1;
    }
    return n;
}

/* Checks: TEL-C9 */
Test(telemetry_json, holds_every_metric_and_series_of_the_exposition)
{
    tel_fx_t fx;
    tel_up(&fx);
    static const char *const lab[] = {"k"};
    fdn_metric_t *c = tel_metric(fx.t, FDN_METRIC_COUNTER, "x_total", "X.",
                                 lab, 1);
    fdn_metric_t *h = tel_metric(fx.t, FDN_METRIC_HISTOGRAM, "x_seconds",
                                 "H.", lab, 1);
    fdn_metric_t *s = tel_metric(fx.t, FDN_METRIC_SUMMARY, "x_lat_seconds",
                                 "S.", lab, 1);
    tel_metric(fx.t, FDN_METRIC_GAUGE, "x_unused", "U.", lab, 1);
    for (int i = 0; i < 20; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%d", i);
        const char *vv[] = {v};
        fdn_counter_add(tel_series(c, vv, 1), (uint64_t)i);
        fdn_metric_observe(tel_series(h, vv, 1), i * 0.37);
        fdn_metric_observe(tel_series(s, vv, 1), i * 1.5);
    }
    char *text = tel_expo(fx.t);
    json_t *root = snapshot(fx.t);

    /* Metric names in the same order as the exposition's TYPE lines, and
     * as many sample lines as the JSON has values. */
    json_t *ms = json_object_get(root, "metrics");
    const char *p = text;
    size_t i, want_lines = 0;
    json_t *m;
    json_array_foreach(ms, i, m)
    {
        char head[128];
        snprintf(head, sizeof head, "# TYPE %s %s\n", str_of(m, "name"),
                 str_of(m, "type"));
        const char *at = strstr(p, head);
        cr_assert_not_null(at, "%s missing or out of order", head);
        p = at + strlen(head);
        want_lines += lines_of(m);
        cr_assert_eq(json_array_size(json_object_get(m, "series")),
                     fdn_metric_series_count(fdn_metric_find(
                         fx.t, str_of(m, "name"))));
    }
    cr_assert_eq(json_array_size(ms), 5);
    size_t lines = 0;
    for (const char *q = text; *q;) {
        if (*q != '#')
            lines++;
        q = strchr(q, '\n') + 1;
    }
    cr_assert_eq(lines, want_lines);

    /* And the values agree: every counter series' line. */
    json_t *jc = metric_named(root, "x_total");
    json_t *se;
    json_array_foreach(json_object_get(jc, "series"), i, se)
    {
        char head[64];
        snprintf(head, sizeof head, "x_total{k=\"%s\"}",
                 str_of(json_object_get(se, "labels"), "k"));
        double v;
        cr_assert(tel_sample(text, head, &v), "no line %s", head);
        cr_assert_eq(v, (double)int_of(se, "value"));
    }
    json_decref(root);
    fdn_telemetry_free(fx.t, text);
    tel_down(&fx);
}

/* Checks: TEL-C9, TEL-F1 */
Test(telemetry_json, out_of_memory_is_enomem_and_leaks_nothing)
{
    tel_fx_t fx;
    tel_up(&fx);
    static const char *const lab[] = {"k"};
    fdn_metric_t *c = tel_metric(fx.t, FDN_METRIC_COUNTER, "o_total", "O.",
                                 lab, 1);
    const char *bad[] = {"caf\xc3\xa9 \\ \"label\""};
    fdn_counter_inc(tel_series(c, bad, 1));
    fdn_metric_t *h = tel_metric(fx.t, FDN_METRIC_HISTOGRAM, "o_seconds",
                                 "H \xfe help.", NULL, 0);
    fdn_metric_observe(fdn_metric_default(h), 0.5);
    fdn_metric_observe(fdn_metric_default(h), 500);
    char *want = NULL;
    cr_assert_eq(fdn_telemetry_json(fx.t, &want, NULL), FDN_OK);
    char *copy = strdup(want);
    fdn_telemetry_free(fx.t, want);
    for (int sticky = 0; sticky < 2; sticky++) {
        int failures = 0;
        for (uint64_t at = 1;; at++) {
            cr_assert_lt(at, 100, "the snapshot never succeeded");
            int64_t live = fdn_failing_allocator_live(fx.fa);
            char *text = (char *)"untouched";
            size_t len = 99;
            fdn_failing_allocator_arm(fx.fa, at, sticky);
            int rc = fdn_telemetry_json(fx.t, &text, &len);
            uint64_t calls = fdn_failing_allocator_calls(fx.fa);
            fdn_failing_allocator_arm(fx.fa, 0, false);
            if (rc == FDN_OK) {
                cr_assert_lt(calls, at);
                cr_assert_str_eq(text, copy);
                fdn_telemetry_free(fx.t, text);
                cr_assert_eq(fdn_failing_allocator_live(fx.fa), live);
                break;
            }
            failures++;
            cr_assert_eq(rc, FDN_ENOMEM);
            cr_assert_null(text);
            cr_assert_eq(len, 0);
            cr_assert_eq(fdn_failing_allocator_live(fx.fa), live,
                         "fail_at %llu leaked", (unsigned long long)at);
        }
        cr_assert_geq(failures, 2);
    }
    free(copy);
    char *text = (char *)"x";
    cr_assert_eq(fdn_telemetry_json(NULL, &text, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_json(fx.t, NULL, NULL), FDN_EINVAL);
    tel_down(&fx);
}
