/*
 * from_event.c — metrics fed by events: each metric kind, labels from
 * string, integer and double metadata, events lacking what the metric
 * needs, refused label sets, bad arguments, detach, out of memory.
 */
#include "unit/telemetry/ev_helpers.h"

#include "unit/telemetry/locale_helpers.h"

#include <math.h>

static ev_fixture_t fx;

static void setup(void) { ev_fixture_up(&fx); }
static void teardown(void) { ev_fixture_down(&fx); }

static fdn_metric_t *make(fdn_metric_kind_t kind, const char *name,
                          const char *const *labels, size_t n_labels)
{
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, kind, name, "help");
    o.label_names = labels;
    o.n_labels = n_labels;
    fdn_metric_t *m = NULL;
    cr_assert_eq(fdn_metric_create(fx.t, &o, &m), FDN_OK);
    return m;
}

static void emit_m(const char *name, const char *m_name, double v)
{
    fdn_telemetry_measurement_t m[2] = {{"other", -1}, {m_name, v}};
    fdn_telemetry_emit(fx.t, name, m, 2, NULL, 0);
}

static uint64_t misuse(void)
{
    fdn_telemetry_stats_t st;
    fdn_telemetry_stats(fx.t, &st);
    return st.misuse;
}

/* Checks: TEL-C7 */
Test(telemetry_from_event, counter_counts_events_or_adds_the_measurement,
     .init = setup, .fini = teardown)
{
    fdn_metric_t *count = make(FDN_METRIC_COUNTER, "req_total", NULL, 0);
    fdn_metric_t *bytes = make(FDN_METRIC_COUNTER, "req_bytes_total", NULL, 0);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, count, "http.req.stop",
                                                 NULL, NULL, 0, NULL),
                 FDN_OK);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, bytes, "http.req.stop",
                                                 "bytes", NULL, 0, NULL),
                 FDN_OK);
    emit_m("http.req.stop", "bytes", 10);
    emit_m("http.req.stop", "bytes", 2.6); /* rounds to 3 */
    emit_m("http.req.stop", "rows", 5);    /* no "bytes": counted only */
    emit_m("http.req.start", "bytes", 100); /* another event */
    emit_m("http.req", "bytes", 100);
    emit_m("http.req.stop.x", "bytes", 100);
    cr_assert_eq(fdn_counter_value(fdn_metric_default(count)), 3);
    cr_assert_eq(fdn_counter_value(fdn_metric_default(bytes)), 13);

    /* Negative and NaN values are skipped and counted as misuse. */
    uint64_t before = misuse();
    emit_m("http.req.stop", "bytes", -1);
    emit_m("http.req.stop", "bytes", NAN);
    cr_assert_eq(misuse(), before + 2);
    cr_assert_eq(fdn_counter_value(fdn_metric_default(bytes)), 13);
    /* Huge values saturate. */
    emit_m("http.req.stop", "bytes", 1e30);
    cr_assert_eq(fdn_counter_value(fdn_metric_default(bytes)), UINT64_MAX);
    cr_assert_eq(fdn_counter_value(fdn_metric_default(count)), 6);
    cr_assert_eq(ev_failures(fx.t), 0);
    cr_assert_eq(ev_handlers(fx.t), 2);
}

/* Checks: TEL-C7 */
Test(telemetry_from_event, gauge_takes_the_last_value, .init = setup,
     .fini = teardown)
{
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, "queue_len", "help");
    fdn_metric_t *ig, *dg;
    cr_assert_eq(fdn_metric_create(fx.t, &o, &ig), FDN_OK);
    o.name = "load";
    o.is_double = true;
    cr_assert_eq(fdn_metric_create(fx.t, &o, &dg), FDN_OK);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, ig, "q", "len", NULL,
                                                 0, NULL), FDN_OK);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, dg, "q", "len", NULL,
                                                 0, NULL), FDN_OK);
    emit_m("q", "len", 7);
    emit_m("q", "len", 3.75);
    emit_m("q", "other_len", 100); /* lacks "len": nothing */
    fdn_series_value_t v;
    cr_assert_eq(fdn_series_read(fdn_metric_default(ig), &v), FDN_OK);
    cr_assert_eq(v.gauge_int, 4);
    cr_assert_eq(fdn_gauge_value(fdn_metric_default(dg)), 3.75);
}

/* Checks: TEL-C7 */
Test(telemetry_from_event, histogram_and_summary_observe, .init = setup,
     .fini = teardown)
{
    static const double bounds[3] = {1, 5, 10};
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, "latency", "help");
    o.buckets = bounds;
    o.n_buckets = 3;
    fdn_metric_t *h, *s;
    cr_assert_eq(fdn_metric_create(fx.t, &o, &h), FDN_OK);
    fdn_metric_opts_init(&o, FDN_METRIC_SUMMARY, "latency_summary", "help");
    cr_assert_eq(fdn_metric_create(fx.t, &o, &s), FDN_OK);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, h, "op.stop",
                                                 "duration", NULL, 0, NULL),
                 FDN_OK);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, s, "op.stop",
                                                 "duration", NULL, 0, NULL),
                 FDN_OK);
    emit_m("op.stop", "duration", 0.5);
    emit_m("op.stop", "duration", 5);
    emit_m("op.stop", "duration", 7);
    emit_m("op.stop", "size", 7); /* lacks "duration" */
    fdn_series_value_t v;
    cr_assert_eq(fdn_series_read(fdn_metric_default(h), &v), FDN_OK);
    cr_assert_eq(v.count, 3);
    cr_assert_eq(v.sum, 12.5);
    double upper[8];
    uint64_t cum[8];
    size_t nb = 0;
    cr_assert_eq(fdn_series_buckets(fdn_metric_default(h), upper, cum, 8,
                                    &nb), FDN_OK);
    cr_assert_eq(nb, 4);
    uint64_t want[4] = {1, 2, 3, 3};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(cum[i], want[i], "bucket %zu: %llu", i,
                     (unsigned long long)cum[i]);
    cr_assert_eq(fdn_series_read(fdn_metric_default(s), &v), FDN_OK);
    cr_assert_eq(v.count, 3);
    cr_assert_eq(v.sum, 12.5);
    cr_assert_eq(v.min, 0.5);
    cr_assert_eq(v.max, 7);
}

/* Checks: TEL-C7 */
Test(telemetry_from_event, labels_from_string_and_number_metadata,
     .init = setup, .fini = teardown)
{
    static const char *const labels[4] = {"method", "status", "shard",
                                          "ratio"};
    static const char *const keys[4] = {"method", "code", "shard", "r"};
    fdn_metric_t *m = make(FDN_METRIC_COUNTER, "http_total", labels, 4);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, m, "http.done", NULL,
                                                 keys, 4, NULL), FDN_OK);
    fdn_telemetry_meta_t md[5] = {
        FDN_TMETA_I("code", 200), FDN_TMETA_S("method", "GET"),
        FDN_TMETA_S("ignored", "x"), FDN_TMETA_U("shard", 18446744073709551615u),
        FDN_TMETA_D("r", 0.1),
    };
    fdn_telemetry_emit(fx.t, "http.done", NULL, 0, md, 5);
    fdn_telemetry_emit(fx.t, "http.done", NULL, 0, md, 5);
    md[0] = FDN_TMETA_I("code", -5);
    md[4] = FDN_TMETA_D("r", 1.0 / 3.0);
    fdn_telemetry_emit(fx.t, "http.done", NULL, 0, md, 5);
    cr_assert_eq(fdn_metric_series_count(m), 2);

    fdn_series_t *s = NULL;
    const char *v1[4] = {"GET", "200", "18446744073709551615", "0.1"};
    cr_assert_eq(fdn_metric_series(m, v1, 4, &s), FDN_OK);
    cr_assert_eq(fdn_counter_value(s), 2);
    const char *v2[4] = {"GET", "-5", "18446744073709551615",
                         "0.3333333333333333"};
    cr_assert_eq(fdn_metric_series(m, v2, 4, &s), FDN_OK);
    cr_assert_eq(fdn_counter_value(s), 1);
    cr_assert_eq(fdn_metric_series_count(m), 2, "lookups created nothing");
    /* A string that is not UTF-8 is refused as a label value: the event
     * is misuse and records nothing. */
    uint64_t before = misuse();
    md[1] = FDN_TMETA_S("method", "G\xffT");
    fdn_telemetry_emit(fx.t, "http.done", NULL, 0, md, 5);
    cr_assert_eq(misuse(), before + 1);
    cr_assert_eq(fdn_metric_series_count(m), 2);
    cr_assert_eq(ev_failures(fx.t), 0);
}

/* Checks: TEL-C7, TEL-C8 */
Test(telemetry_from_event, doubles_in_labels_ignore_the_locale,
     .init = setup, .fini = teardown)
{
    /* A program with a decimal-comma locale still gets "0.5", as the
     * export writes it. */
    static const char *const labels[1] = {"x"};
    static const char *const keys[1] = {"x"};
    fdn_metric_t *m = make(FDN_METRIC_COUNTER, "loc_total", labels, 1);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, m, "loc", NULL, keys,
                                                 1, NULL), FDN_OK);
    char dir[64];
    bool is_comma = tel_decimal_comma_locale(dir, sizeof dir);
    char probe[8];
    snprintf(probe, sizeof probe, "%.1f", 0.5);
    fdn_telemetry_meta_t md[1] = {FDN_TMETA_D("x", 0.5)};
    fdn_telemetry_emit(fx.t, "loc", NULL, 0, md, 1);
    tel_locale_restore(dir);
    if (is_comma)
        cr_assert_str_eq(probe, "0,5", "the locale is not in effect");
    else
        cr_log_info("no decimal-comma locale: checked the \"C\" one only");
    const char *v[1] = {"0.5"};
    fdn_series_t *s = NULL;
    cr_assert_eq(fdn_metric_series(m, v, 1, &s), FDN_OK);
    cr_assert_eq(fdn_counter_value(s), 1);
    cr_assert_eq(fdn_metric_series_count(m), 1);
}

/* Checks: TEL-C7 */
Test(telemetry_from_event, a_skipped_value_creates_no_series,
     .init = setup, .fini = teardown)
{
    static const char *const labels[1] = {"table"};
    static const char *const keys[1] = {"table"};
    fdn_metric_t *m = make(FDN_METRIC_COUNTER, "q_rows_total", labels, 1);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, m, "db.query", "rows",
                                                 keys, 1, NULL), FDN_OK);
    uint64_t before = misuse();
    fdn_telemetry_meta_t md[1] = {FDN_TMETA_S("table", "users")};
    fdn_telemetry_measurement_t neg[1] = {{"rows", -5}};
    fdn_telemetry_emit(fx.t, "db.query", neg, 1, md, 1);
    cr_assert_eq(misuse(), before + 1);
    cr_assert_eq(fdn_metric_series_count(m), 0);
    fdn_telemetry_measurement_t pos[1] = {{"rows", 5}};
    fdn_telemetry_emit(fx.t, "db.query", pos, 1, md, 1);
    cr_assert_eq(fdn_metric_series_count(m), 1);

    /* NaN: skipped before the series by a histogram, a summary and an
     * integer gauge; a double gauge takes it. */
    static const fdn_metric_kind_t kinds[] = {
        FDN_METRIC_HISTOGRAM, FDN_METRIC_SUMMARY, FDN_METRIC_GAUGE};
    static const char *const names[] = {"q_h", "q_s", "q_g"};
    fdn_telemetry_measurement_t nan_m[1] = {{"rows", NAN}};
    for (size_t i = 0; i < 3; i++) {
        fdn_metric_t *k = make(kinds[i], names[i], labels, 1);
        cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, k, "db.nan",
                                                     "rows", keys, 1, NULL),
                     FDN_OK);
    }
    before = misuse();
    fdn_telemetry_emit(fx.t, "db.nan", nan_m, 1, md, 1);
    cr_assert_eq(misuse(), before + 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(fdn_metric_series_count(fdn_metric_find(fx.t, names[i])),
                     0, "%s", names[i]);
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_GAUGE, "q_d", "help");
    o.label_names = labels;
    o.n_labels = 1;
    o.is_double = true;
    fdn_metric_t *d;
    cr_assert_eq(fdn_metric_create(fx.t, &o, &d), FDN_OK);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, d, "db.nan", "rows",
                                                 keys, 1, NULL),
                 FDN_OK);
    fdn_telemetry_emit(fx.t, "db.nan", nan_m, 1, md, 1);
    cr_assert_eq(fdn_metric_series_count(d), 1);
}

/* Checks: TEL-C7 */
Test(telemetry_from_event, an_event_lacking_a_key_records_nothing,
     .init = setup, .fini = teardown)
{
    static const char *const labels[1] = {"table"};
    fdn_metric_t *m = make(FDN_METRIC_HISTOGRAM, "query_seconds", labels, 1);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, m, "db.query",
                                                 "duration", labels, 1, NULL),
                 FDN_OK);
    fdn_telemetry_measurement_t dur[1] = {{"duration", 0.5}};
    fdn_telemetry_meta_t other[1] = {FDN_TMETA_S("tablespace", "t")};
    fdn_telemetry_meta_t null_s[1] = {FDN_TMETA_S("table", NULL)};
    fdn_telemetry_meta_t good[1] = {FDN_TMETA_S("table", "users")};
    fdn_telemetry_emit(fx.t, "db.query", dur, 1, NULL, 0);
    fdn_telemetry_emit(fx.t, "db.query", dur, 1, other, 1);
    fdn_telemetry_emit(fx.t, "db.query", dur, 1, null_s, 1);
    fdn_telemetry_emit(fx.t, "db.query", NULL, 0, good, 1);
    cr_assert_eq(fdn_metric_series_count(m), 0);
    cr_assert_eq(ev_failures(fx.t), 0, "a lacking event is not a failure");
    cr_assert_eq(ev_handlers(fx.t), 1);
    fdn_telemetry_emit(fx.t, "db.query", dur, 1, good, 1);
    cr_assert_eq(fdn_metric_series_count(m), 1);
}

/* Checks: TEL-C7 TEL-S3 */
Test(telemetry_from_event, a_refused_label_set_keeps_the_handler,
     .init = setup, .fini = teardown)
{
    static const char *const labels[1] = {"user"};
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "logins_total", "help");
    o.label_names = labels;
    o.n_labels = 1;
    o.max_series = 1;
    fdn_metric_t *m;
    cr_assert_eq(fdn_metric_create(fx.t, &o, &m), FDN_OK);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, m, "login", NULL,
                                                 labels, 1, NULL), FDN_OK);
    fdn_telemetry_meta_t a[1] = {FDN_TMETA_S("user", "ann")};
    fdn_telemetry_meta_t b[1] = {FDN_TMETA_S("user", "bob")};
    fdn_telemetry_emit(fx.t, "login", NULL, 0, a, 1);
    fdn_telemetry_emit(fx.t, "login", NULL, 0, b, 1);
    fdn_telemetry_emit(fx.t, "login", NULL, 0, b, 1);
    fdn_telemetry_emit(fx.t, "login", NULL, 0, a, 1);
    cr_assert_eq(fdn_metric_series_count(m), 1);
    cr_assert_eq(fdn_metric_refused(m), 2);
    cr_assert_eq(ev_failures(fx.t), 0);
    cr_assert_eq(ev_handlers(fx.t), 1);
    fdn_series_t *s;
    const char *ann[1] = {"ann"};
    cr_assert_eq(fdn_metric_series(m, ann, 1, &s), FDN_OK);
    cr_assert_eq(fdn_counter_value(s), 2);
}

/* Checks: TEL-C7 TEL-C5 */
Test(telemetry_from_event, bad_arguments_attach_nothing, .init = setup,
     .fini = teardown)
{
    static const char *const labels[1] = {"k"};
    static const char *const null_key[1] = {NULL};
    static const char *const empty_key[1] = {""};
    fdn_metric_t *c = make(FDN_METRIC_COUNTER, "c_total", labels, 1);
    fdn_metric_t *g = make(FDN_METRIC_GAUGE, "g", NULL, 0);
    fdn_telemetry_t *other = NULL;
    cr_assert_eq(fdn_telemetry_create(NULL, &other), FDN_OK);
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_COUNTER, "x_total", "help");
    fdn_metric_t *foreign;
    cr_assert_eq(fdn_metric_create(other, &o, &foreign), FDN_OK);

    cr_assert_eq(fdn_telemetry_metric_from_event(NULL, c, "e", NULL, labels,
                                                 1, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, NULL, "e", NULL,
                                                 labels, 1, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, foreign, "e", NULL,
                                                 NULL, 0, NULL), FDN_EINVAL);
    const char *bad_names[] = {NULL, "", "e.*", "*", "a..b", "a.", "e*"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, c, bad_names[i],
                                                     NULL, labels, 1, NULL),
                     FDN_EINVAL, "name %zu", i);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, g, "e", NULL, NULL, 0,
                                                 NULL), FDN_EINVAL,
                 "a gauge needs a measurement");
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, g, "e", "", NULL, 0,
                                                 NULL), FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, c, "e", NULL, NULL, 0,
                                                 NULL), FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, c, "e", NULL, NULL, 1,
                                                 NULL), FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, g, "e", "v", labels, 1,
                                                 NULL), FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, c, "e", NULL, null_key,
                                                 1, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, c, "e", NULL,
                                                 empty_key, 1, NULL),
                 FDN_EINVAL);
    cr_assert_eq(ev_handlers(fx.t), 0);
    fdn_telemetry_destroy(other);
}

/* Checks: TEL-C7 TEL-F1 */
Test(telemetry_from_event, detach_and_out_of_memory, .init = setup,
     .fini = teardown)
{
    fdn_metric_t *m = make(FDN_METRIC_COUNTER, "ev_total", NULL, 0);
    int64_t live = fdn_failing_allocator_live(fx.fa);
    int failures = 0;
    uint64_t id = 0;
    for (uint64_t at = 1;; at++) {
        fdn_failing_allocator_arm(fx.fa, at, false);
        int rc = fdn_telemetry_metric_from_event(fx.t, m, "ev", NULL, NULL, 0,
                                                 &id);
        fdn_failing_allocator_arm(fx.fa, 0, false);
        if (rc == FDN_OK)
            break;
        cr_assert_eq(rc, FDN_ENOMEM);
        cr_assert_eq(fdn_failing_allocator_live(fx.fa), live);
        cr_assert_eq(ev_handlers(fx.t), 0);
        failures++;
    }
    cr_assert_eq(failures, 3, "the context, the record and the array");
    fdn_telemetry_emit(fx.t, "ev", NULL, 0, NULL, 0);
    cr_assert_eq(fdn_counter_value(fdn_metric_default(m)), 1);
    /* Detached: nothing more is recorded, and its context is freed. */
    cr_assert_eq(fdn_telemetry_detach(fx.t, id), FDN_OK);
    cr_assert_eq(fdn_failing_allocator_live(fx.fa), live);
    fdn_telemetry_emit(fx.t, "ev", NULL, 0, NULL, 0);
    cr_assert_eq(fdn_counter_value(fdn_metric_default(m)), 1);
    /* One left attached is freed by destroy (the fixture checks). */
    cr_assert_eq(fdn_telemetry_metric_from_event(fx.t, m, "ev", NULL, NULL,
                                                 0, NULL), FDN_OK);
}
