/*
 * prom.c — the Prometheus text exposition: the exact text of every
 * kind of metric, escaping, cumulative buckets, number formatting, and
 * out-of-memory behaviour.
 */
#include "unit/telemetry/export_helpers.h"

#include "telemetry/internal.h"
#include "unit/telemetry/locale_helpers.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* The text from the first of the test's metrics on (the hub's own
 * fdn_telemetry_series_refused_total comes first, checked apart). */
static const char *from(const char *text, const char *first)
{
    const char *p = strstr(text, first);
    cr_assert_not_null(p, "no %s in:\n%s", first, text);
    return p;
}

/* Checks: TEL-C8, TEL-S7, TEL-S8 */
Test(telemetry_prom, exact_text_of_every_kind)
{
    tel_fx_t fx;
    tel_up(&fx);
    fdn_telemetry_t *t = fx.t;
    fdn_metric_opts_t o;

    fdn_counter_add(fdn_metric_default(tel_metric(
                        t, FDN_METRIC_COUNTER, "t_requests_total",
                        "Requests.", NULL, 0)),
                    3);
    fdn_gauge_set(fdn_metric_default(tel_metric(t, FDN_METRIC_GAUGE,
                                                "t_depth", "Depth.", NULL,
                                                0)),
                  -7);
    /* Help with a backslash and a newline (TEL-S7). */
    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, "t_ratio",
                         "Ratio \\ with\nnewline");
    o.is_double = true;
    fdn_gauge_set_double(fdn_metric_default(tel_create(t, &o)), 0.1);

    /* Explicit buckets; 0.25 and 1 lie exactly on bounds (TEL-S8), 3 is
     * past the last one. */
    static const double bounds[] = {0.25, 1, 2.5};
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "t_wait_seconds",
                         "Wait.");
    o.buckets = bounds;
    o.n_buckets = 3;
    fdn_series_t *w = fdn_metric_default(tel_create(t, &o));
    fdn_metric_observe(w, 0.25);
    fdn_metric_observe(w, 0.5);
    fdn_metric_observe(w, 1);
    fdn_metric_observe(w, 3);

    /* Log-linear, 2 buckets per power of two in [1, 8]: bounds 1, 1.5, 2,
     * 3, 4, 6, 8; 3 lies on a bound (TEL-S8); only non-empty buckets and
     * +Inf are listed. */
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "t_size_bytes", "Sizes.");
    o.log_bits = 1;
    o.log_min = 1;
    o.log_max = 8;
    fdn_series_t *z = fdn_metric_default(tel_create(t, &o));
    fdn_metric_observe(z, 0.5);
    fdn_metric_observe(z, 1);
    fdn_metric_observe(z, 3);
    fdn_metric_observe(z, 3);
    fdn_metric_observe(z, 100);

    /* A summary of 1 and 4: the median is 1 (bucket midpoint clamped to
     * min), p90 the midpoint of 4's bucket, p100 the max. */
    static const double qs[] = {0.5, 0.9, 1};
    fdn_metric_opts_init(&o, FDN_METRIC_SUMMARY, "t_latency_seconds",
                         "Latency.");
    o.quantiles = qs;
    o.n_quantiles = 3;
    fdn_series_t *l = fdn_metric_default(tel_create(t, &o));
    fdn_metric_observe(l, 1);
    fdn_metric_observe(l, 4);

    /* Label values with a quote, a backslash, a newline, UTF-8 beyond
     * ASCII and nothing (TEL-S7); series in creation order. */
    static const char *const http_labels[] = {"path", "code"};
    fdn_metric_t *http = tel_metric(t, FDN_METRIC_COUNTER, "t_http_total",
                                    "HTTP answers.", http_labels, 2);
    const char *v1[] = {"x\"y", "200"};
    const char *v2[] = {"back\\slash", "500"};
    const char *v3[] = {"new\nline", "404"};
    const char *v4[] = {"caf\xc3\xa9", ""};
    fdn_counter_add(tel_series(http, v1, 2), 1);
    fdn_counter_add(tel_series(http, v2, 2), 2);
    fdn_counter_add(tel_series(http, v3, 2), 3);
    fdn_counter_add(tel_series(http, v4, 2), 4);

    /* A labelled histogram: its labels come before le. */
    static const char *const op_labels[] = {"op"};
    static const double one[] = {1};
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "t_op_seconds", "Ops.");
    o.buckets = one;
    o.n_buckets = 1;
    o.label_names = op_labels;
    o.n_labels = 1;
    fdn_metric_t *op = tel_create(t, &o);
    const char *rd[] = {"read"};
    fdn_metric_observe(tel_series(op, rd, 1), 0.5);
    fdn_metric_observe(tel_series(op, rd, 1), 2);

    /* A labelled metric with no series yet, and empty help. */
    static const char *const pool[] = {"pool"};
    tel_metric(t, FDN_METRIC_GAUGE, "t_idle", NULL, pool, 1);

    char *text = tel_expo(t);
    cr_assert_eq(strncmp(text,
                         "# HELP fdn_telemetry_series_refused_total ", 42),
                 0, "%s", text);
    /* Each labelled metric has its refusal counter from its creation. */
    cr_assert_not_null(
        strstr(text, "\n# TYPE fdn_telemetry_series_refused_total counter\n"
                     "fdn_telemetry_series_refused_total"
                     "{metric=\"t_http_total\"} 0\n"
                     "fdn_telemetry_series_refused_total"
                     "{metric=\"t_op_seconds\"} 0\n"
                     "fdn_telemetry_series_refused_total"
                     "{metric=\"t_idle\"} 0\n"
                     "# HELP t_requests_total "),
        "%s", text);
    static const char want[] =
        "# HELP t_requests_total Requests.\n"
        "# TYPE t_requests_total counter\n"
        "t_requests_total 3\n"
        "# HELP t_depth Depth.\n"
        "# TYPE t_depth gauge\n"
        "t_depth -7\n"
        "# HELP t_ratio Ratio \\\\ with\\nnewline\n"
        "# TYPE t_ratio gauge\n"
        "t_ratio 0.1\n"
        "# HELP t_wait_seconds Wait.\n"
        "# TYPE t_wait_seconds histogram\n"
        "t_wait_seconds_bucket{le=\"0.25\"} 1\n"
        "t_wait_seconds_bucket{le=\"1\"} 3\n"
        "t_wait_seconds_bucket{le=\"2.5\"} 3\n"
        "t_wait_seconds_bucket{le=\"+Inf\"} 4\n"
        "t_wait_seconds_sum 4.75\n"
        "t_wait_seconds_count 4\n"
        "# HELP t_size_bytes Sizes.\n"
        "# TYPE t_size_bytes histogram\n"
        "t_size_bytes_bucket{le=\"1\"} 2\n"
        "t_size_bytes_bucket{le=\"3\"} 4\n"
        "t_size_bytes_bucket{le=\"+Inf\"} 5\n"
        "t_size_bytes_sum 107.5\n"
        "t_size_bytes_count 5\n"
        "# HELP t_latency_seconds Latency.\n"
        "# TYPE t_latency_seconds summary\n"
        "t_latency_seconds{quantile=\"0.5\"} 1\n"
        "t_latency_seconds{quantile=\"0.9\"} 3.96875\n"
        "t_latency_seconds{quantile=\"1\"} 4\n"
        "t_latency_seconds_sum 5\n"
        "t_latency_seconds_count 2\n"
        "# HELP t_http_total HTTP answers.\n"
        "# TYPE t_http_total counter\n"
        "t_http_total{path=\"x\\\"y\",code=\"200\"} 1\n"
        "t_http_total{path=\"back\\\\slash\",code=\"500\"} 2\n"
        "t_http_total{path=\"new\\nline\",code=\"404\"} 3\n"
        "t_http_total{path=\"caf\xc3\xa9\",code=\"\"} 4\n"
        "# HELP t_op_seconds Ops.\n"
        "# TYPE t_op_seconds histogram\n"
        "t_op_seconds_bucket{op=\"read\",le=\"1\"} 1\n"
        "t_op_seconds_bucket{op=\"read\",le=\"+Inf\"} 2\n"
        "t_op_seconds_sum{op=\"read\"} 2.5\n"
        "t_op_seconds_count{op=\"read\"} 2\n"
        "# HELP t_idle \n"
        "# TYPE t_idle gauge\n";
    cr_assert_str_eq(from(text, "# HELP t_requests_total"), want,
                     "got:\n%s", text);
    fdn_telemetry_free(t, text);
    tel_down(&fx);
}

/* Checks: TEL-C8, TEL-S4 */
Test(telemetry_prom, counter_at_uint64_max_prints_every_digit)
{
    tel_fx_t fx;
    tel_up(&fx);
    fdn_series_t *s = fdn_metric_default(tel_metric(
        fx.t, FDN_METRIC_COUNTER, "t_big_total", "Big.", NULL, 0));
    fdn_counter_add(s, UINT64_MAX - 1);
    fdn_counter_add(s, 7); /* saturates */
    char *text = tel_expo(fx.t);
    cr_assert_not_null(strstr(text, "\nt_big_total 18446744073709551615\n"),
                       "%s", text);
    fdn_telemetry_free(fx.t, text);
    tel_down(&fx);
}

/* Checks: TEL-C8 */
Test(telemetry_prom, empty_summary_quantiles_are_nan)
{
    tel_fx_t fx;
    tel_up(&fx);
    tel_metric(fx.t, FDN_METRIC_SUMMARY, "t_empty_seconds", "Empty.", NULL,
               0);
    char *text = tel_expo(fx.t);
    cr_assert_str_eq(from(text, "# HELP t_empty_seconds"),
                     "# HELP t_empty_seconds Empty.\n"
                     "# TYPE t_empty_seconds summary\n"
                     "t_empty_seconds{quantile=\"0.5\"} NaN\n"
                     "t_empty_seconds{quantile=\"0.9\"} NaN\n"
                     "t_empty_seconds{quantile=\"0.99\"} NaN\n"
                     "t_empty_seconds{quantile=\"0.999\"} NaN\n"
                     "t_empty_seconds_sum 0\n"
                     "t_empty_seconds_count 0\n");
    fdn_telemetry_free(fx.t, text);
    tel_down(&fx);
}

/* Checks: TEL-C8 */
Test(telemetry_prom, non_finite_values_are_spelled_as_prometheus_does)
{
    tel_fx_t fx;
    tel_up(&fx);
    static const char *const k[] = {"k"};
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, "t_g", "G.");
    o.is_double = true;
    o.label_names = k;
    o.n_labels = 1;
    fdn_metric_t *g = tel_create(fx.t, &o);
    const char *a[] = {"a"}, *b[] = {"b"}, *c[] = {"c"};
    fdn_gauge_set_double(tel_series(g, a, 1), INFINITY);
    fdn_gauge_set_double(tel_series(g, b, 1), -INFINITY);
    fdn_gauge_set_double(tel_series(g, c, 1), NAN);
    /* A histogram whose sum is +Inf. */
    static const double bd[] = {1};
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "t_h", "H.");
    o.buckets = bd;
    o.n_buckets = 1;
    fdn_series_t *h = fdn_metric_default(tel_create(fx.t, &o));
    fdn_metric_observe(h, INFINITY);
    char *text = tel_expo(fx.t);
    cr_assert_str_eq(from(text, "t_g{"),
                     "t_g{k=\"a\"} +Inf\n"
                     "t_g{k=\"b\"} -Inf\n"
                     "t_g{k=\"c\"} NaN\n"
                     "# HELP t_h H.\n"
                     "# TYPE t_h histogram\n"
                     "t_h_bucket{le=\"1\"} 0\n"
                     "t_h_bucket{le=\"+Inf\"} 1\n"
                     "t_h_sum +Inf\n"
                     "t_h_count 1\n");
    fdn_telemetry_free(fx.t, text);
    tel_down(&fx);
}

/* The text put_text writes for s in mode (freed by the caller). */
static char *put_text(const char *s, fdn__tel_escape_t mode)
{
    fdn__tel_buf_t b = {.alloc = fdn_allocator_default()};
    fdn__tel_buf_put_text(&b, s, mode);
    fdn__tel_buf_put(&b, "", 0);
    cr_assert(!b.failed);
    return b.p;
}

#define FFFD "\xef\xbf\xbd"

/* Checks: TEL-S7 */
Test(telemetry_prom, user_text_is_escaped_and_made_valid_utf8)
{
    static const struct {
        const char *in, *out;
    } utf8[] = {
        {"plain", "plain"},
        {"h\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", /* 2, 3, 4 bytes */
         "h\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"},
        {"\xef\xbf\xbf|\xf4\x8f\xbf\xbf", "\xef\xbf\xbf|\xf4\x8f\xbf\xbf"},
        {"\xff", FFFD},
        {"\x80x", FFFD "x"},                            /* stray continuation */
        {"\xc0\xaf", FFFD FFFD},                        /* overlong "/" */
        {"\xe0\x80\xaf", FFFD FFFD FFFD},               /* overlong */
        {"\xed\xa0\x80", FFFD FFFD FFFD},               /* a surrogate */
        {"\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD},      /* past U+10FFFF */
        {"ab\xe2\x82", "ab" FFFD FFFD},                 /* cut short */
        {"\xe2\x82z", FFFD FFFD "z"},
    };
    for (size_t i = 0; i < sizeof utf8 / sizeof utf8[0]; i++) {
        char *got = put_text(utf8[i].in, FDN__TEL_LABEL);
        cr_assert_str_eq(got, utf8[i].out, "case %zu", i);
        free(got);
    }
    static const char nasty[] = "a\\b\"c\nd\te";
    char *got = put_text(nasty, FDN__TEL_LABEL);
    cr_assert_str_eq(got, "a\\\\b\\\"c\\nd\te");
    free(got);
    got = put_text(nasty, FDN__TEL_HELP);
    cr_assert_str_eq(got, "a\\\\b\"c\\nd\te");
    free(got);
    got = put_text(nasty, FDN__TEL_RAW);
    cr_assert_str_eq(got, nasty);
    free(got);
}

/* Checks: TEL-C8 */
Test(telemetry_prom, doubles_are_shortest_round_trip)
{
    char buf[32];
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {0.1, "0.1"},
        {1.0 / 3, "0.3333333333333333"},
        {0.1 + 0.2, "0.30000000000000004"},
        {-2.5, "-2.5"},
        {0, "0"},
        {1e21, "1e+21"},
        {123456789012345, "123456789012345"},
        {5e-324, "4.94065645841247e-324"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {NAN, "NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = fdn__tel_format_double(buf, cases[i].v);
        cr_assert_str_eq(buf, cases[i].text);
        cr_assert_eq(n, strlen(cases[i].text));
    }
    /* Random doubles read back exactly (seeded; the seed replays). */
    const char *env = getenv("FDN_TEST_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 10)
                        : (unsigned)time(NULL);
    cr_log_info("doubles_are_shortest_round_trip seed %u "
                "(FDN_TEST_SEED=%u replays it)", seed, seed);
    srand(seed);
    for (int i = 0; i < 2000; i++) {
        uint64_t bits = 0;
        for (int k = 0; k < 4; k++)
            bits = bits << 16 | (uint64_t)(rand() & 0xffff);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        fdn__tel_format_double(buf, v);
        cr_assert_eq(strtod(buf, NULL), v, "seed %u: %s", seed, buf);
    }
}

/* Checks: TEL-C8 */
Test(telemetry_prom, a_decimal_comma_locale_changes_nothing)
{
    tel_fx_t fx;
    tel_up(&fx);
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, "t_half", "Half.");
    o.is_double = true;
    fdn_gauge_set_double(fdn_metric_default(tel_create(fx.t, &o)), 0.5);
    char dir[64];
    bool is_comma = tel_decimal_comma_locale(dir, sizeof dir);
    char probe[32], buf[32];
    snprintf(probe, sizeof probe, "%g", 0.5);
    fdn__tel_format_double(buf, 0.5);
    char *text = tel_expo(fx.t);
    bool has_line = strstr(text, "\nt_half 0.5\n") != NULL;
    fdn_telemetry_free(fx.t, text);
    tel_locale_restore(dir);
    if (is_comma)
        cr_assert_str_eq(probe, "0,5", "the locale is not in effect");
    else
        cr_log_info("no decimal-comma locale: checked the \"C\" one only");
    cr_assert_str_eq(buf, "0.5");
    cr_assert(has_line);
    tel_down(&fx);
}

/* Checks the (non-decreasing, ending at +Inf == _count) buckets of the
 * series whose lines start with prefix (name and labels before le). */
static void check_cumulative(const char *text, const char *name,
                             const char *labels)
{
    char head[256];
    snprintf(head, sizeof head, "%s_bucket{%s", name, labels);
    size_t n = strlen(head);
    double prev = -1, last = -1;
    int lines = 0;
    const char *inf = NULL;
    for (const char *p = text; (p = strstr(p, head)) != NULL; p += n) {
        if (p != text && p[-1] != '\n')
            continue;
        const char *sp = strchr(p, ' ');
        cr_assert_not_null(sp);
        double v = strtod(sp + 1, NULL);
        cr_assert_geq(v, prev, "buckets of %s not cumulative", name);
        prev = last = v;
        lines++;
        if (strncmp(sp - 7, "\"+Inf\"}", 7) == 0)
            inf = p;
    }
    cr_assert_gt(lines, 0);
    cr_assert_not_null(inf, "no +Inf bucket for %s", name);
    char count_head[256];
    snprintf(count_head, sizeof count_head, "%s_count%s%.*s%s", name,
             labels[0] ? "{" : "", labels[0] ? (int)strlen(labels) - 1 : 0,
             labels, labels[0] ? "}" : "");
    double count;
    cr_assert(tel_sample(text, count_head, &count), "no %s", count_head);
    cr_assert_eq(last, count, "%s: +Inf bucket %g, _count %g", name, last,
                 count);
}

typedef struct hist_writers {
    fdn_series_t *s[2];
    atomic_bool stop;
    pthread_barrier_t start;
} hist_writers_t;

static void *observe_loop(void *arg)
{
    hist_writers_t *w = arg;
    pthread_barrier_wait(&w->start);
    unsigned x = 12345;
    while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
        x = x * 1103515245u + 12345u;
        double v = (double)(x >> 8) / (double)(1u << 20); /* 0 .. 16 */
        fdn_metric_observe(w->s[0], v);
        fdn_metric_observe(w->s[1], v);
    }
    return NULL;
}

/* Checks: TEL-I3 */
Test(telemetry_prom, buckets_are_cumulative_and_inf_equals_count)
{
    tel_fx_t fx;
    tel_up(&fx);
    static const double bounds[] = {0.5, 1, 2, 4, 8};
    static const char *const lab[] = {"shard"};
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "t_explicit_seconds",
                         "E.");
    o.buckets = bounds;
    o.n_buckets = 5;
    o.label_names = lab;
    o.n_labels = 1;
    fdn_metric_t *e = tel_create(fx.t, &o);
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "t_loglin_seconds", "L.");
    fdn_metric_t *l = tel_create(fx.t, &o);
    const char *v[] = {"0"};
    hist_writers_t w = {.s = {tel_series(e, v, 1), fdn_metric_default(l)}};
    atomic_init(&w.stop, false);

    /* Quiescent first. */
    for (int i = 0; i < 1000; i++) {
        fdn_metric_observe(w.s[0], i / 100.0);
        fdn_metric_observe(w.s[1], i / 100.0);
    }
    char *text = tel_expo(fx.t);
    check_cumulative(text, "t_explicit_seconds", "shard=\"0\",");
    check_cumulative(text, "t_loglin_seconds", "");
    double c;
    cr_assert(tel_sample(text, "t_explicit_seconds_count{shard=\"0\"}", &c));
    cr_assert_eq(c, 1000);
    fdn_telemetry_free(fx.t, text);

    /* Then while two threads record: every exposition still balances. */
    enum { WRITERS = 2 };
    pthread_t th[WRITERS];
    pthread_barrier_init(&w.start, NULL, WRITERS + 1);
    for (int i = 0; i < WRITERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, observe_loop, &w), 0);
    pthread_barrier_wait(&w.start);
    int rounds = FDN_TEST_ON_VALGRIND() ? 10 : 200;
    for (int r = 0; r < rounds; r++) {
        text = tel_expo(fx.t);
        check_cumulative(text, "t_explicit_seconds", "shard=\"0\",");
        check_cumulative(text, "t_loglin_seconds", "");
        fdn_telemetry_free(fx.t, text);
    }
    atomic_store(&w.stop, true);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&w.start);
    tel_down(&fx);
}

static void set_from_collector(fdn_telemetry_t *t, void *ctx)
{
    int *runs = ctx;
    (*runs)++;
    fdn_gauge_set(fdn_metric_default(fdn_metric_find(t, "t_runs")), *runs);
}

/* Checks: TEL-C8 */
Test(telemetry_prom, collectors_run_before_each_export)
{
    tel_fx_t fx;
    tel_up(&fx);
    tel_metric(fx.t, FDN_METRIC_GAUGE, "t_runs", "Runs.", NULL, 0);
    int runs = 0;
    uint64_t id;
    cr_assert_eq(fdn_telemetry_collector_add(fx.t, set_from_collector, &runs,
                                             &id),
                 FDN_OK);
    for (int i = 1; i <= 3; i++) {
        char *text = tel_expo(fx.t);
        double v;
        cr_assert(tel_sample(text, "t_runs", &v));
        cr_assert_eq(v, i);
        fdn_telemetry_free(fx.t, text);
    }
    cr_assert_eq(fdn_telemetry_collector_remove(fx.t, id), FDN_OK);
    tel_down(&fx);
}

/* Checks: TEL-C8 */
Test(telemetry_prom, bad_arguments)
{
    tel_fx_t fx;
    tel_up(&fx);
    char *text = (char *)"untouched";
    size_t len = 99;
    cr_assert_eq(fdn_telemetry_prometheus(NULL, &text, &len), FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_prometheus(fx.t, NULL, &len), FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_prometheus(fx.t, &text, NULL), FDN_OK);
    cr_assert_not_null(text);
    fdn_telemetry_free(fx.t, text);
    fdn_telemetry_free(fx.t, NULL);
    tel_down(&fx);
}

/* Sweeps fail_at = 1, 2, ... over one export until it succeeds: each
 * failure is FDN_ENOMEM with *out NULL and nothing held. */
static void sweep(tel_fx_t *fx, bool is_sticky, const char *want)
{
    int failures = 0;
    for (uint64_t at = 1; at < 200; at++) {
        int64_t live = fdn_failing_allocator_live(fx->fa);
        char *text = (char *)"untouched";
        size_t len = 99;
        fdn_failing_allocator_arm(fx->fa, at, is_sticky);
        int rc = fdn_telemetry_prometheus(fx->t, &text, &len);
        uint64_t calls = fdn_failing_allocator_calls(fx->fa);
        fdn_failing_allocator_arm(fx->fa, 0, false);
        if (rc == FDN_OK) {
            cr_assert_lt(calls, at);
            cr_assert_str_eq(text, want);
            cr_assert_eq(len, strlen(want));
            fdn_telemetry_free(fx->t, text);
            cr_assert_eq(fdn_failing_allocator_live(fx->fa), live);
            cr_assert_gt(failures, 3, "too few allocations to sweep");
            return;
        }
        failures++;
        cr_assert_eq(rc, FDN_ENOMEM, "fail_at %llu: %s",
                     (unsigned long long)at, fdn_errname(rc));
        cr_assert_null(text);
        cr_assert_eq(len, 0);
        cr_assert_eq(fdn_failing_allocator_live(fx->fa), live,
                     "fail_at %llu leaked %lld allocations",
                     (unsigned long long)at,
                     (long long)(fdn_failing_allocator_live(fx->fa) - live));
    }
    cr_assert_fail("the export never succeeded");
}

/* Checks: TEL-C8, TEL-F1 */
Test(telemetry_prom, out_of_memory_is_enomem_and_leaks_nothing)
{
    tel_fx_t fx;
    tel_up(&fx);
    /* Enough text to grow the buffer several times, and a log-linear
     * histogram with more than 64 buckets (a scratch array). */
    static const char *const lab[] = {"name"};
    fdn_metric_t *c = tel_metric(fx.t, FDN_METRIC_COUNTER, "t_many_total",
                                 "Many.", lab, 1);
    for (int i = 0; i < 300; i++) {
        char v[32];
        snprintf(v, sizeof v, "series-number-%d", i);
        const char *vv[] = {v};
        fdn_counter_add(tel_series(c, vv, 1), (uint64_t)i);
    }
    fdn_metric_t *h = tel_metric(fx.t, FDN_METRIC_HISTOGRAM, "t_ll_seconds",
                                 "LL.", NULL, 0);
    fdn_metric_observe(fdn_metric_default(h), 0.001);
    fdn_metric_observe(fdn_metric_default(h), 1000);
    tel_metric(fx.t, FDN_METRIC_SUMMARY, "t_sum_seconds", "S.", NULL, 0);
    char *want = tel_expo(fx.t);
    /* The expected text lives outside the hub's allocator's count. */
    char *copy = strdup(want);
    fdn_telemetry_free(fx.t, want);
    sweep(&fx, false, copy);
    sweep(&fx, true, copy);
    free(copy);
    tel_down(&fx);
}
