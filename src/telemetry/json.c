/*
 * telemetry/json.c — the JSON snapshot, built with jansson:
 *
 *   {"metrics": [{"name", "type", "help", "labels": [label names],
 *                 "series": [{"labels": {name: value},
 *                             counters and gauges: "value",
 *                             histograms and summaries: "count", "sum",
 *                             "min", "max", then "buckets":
 *                             [[le, cumulative], ...] (histograms) or
 *                             "quantiles": {"0.5": v, ...} (summaries)}]}],
 *    "stats": {fdn_telemetry_stats' fields}}
 *
 * It reads what the exposition reads (prom.c says how, without locks) and
 * lists the same buckets and quantiles.  Numbers JSON cannot hold become
 * strings: non-finite doubles "NaN", "+Inf", "-Inf"; counters above
 * INT64_MAX (jansson's integers are int64) their exact decimal.  User text
 * is repaired to valid UTF-8 first (prom.c), since jansson refuses
 * anything else.
 *
 * Memory.  jansson allocates the tree with its own allocator (malloc
 * unless the program set another with json_set_alloc_funcs); the text is
 * dumped straight into a buffer from the hub's allocator, so
 * fdn_telemetry_free frees it.
 */
#include "telemetry/internal.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>

typedef struct jctx {
    fdn__tel_buf_t text; /* scratch for repaired user text */
    bool is_ok;          /* false once any allocation failed */
} jctx_t;

static json_t *jdouble(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "+Inf" : "-Inf");
    return json_real(v);
}

static json_t *ju64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char num[32];
    snprintf(num, sizeof num, "%" PRIu64, v);
    return json_string(num);
}

/* User text s as a JSON string (NULL when out of memory). */
static json_t *jtext(jctx_t *c, const char *s)
{
    c->text.len = 0;
    fdn__tel_buf_put_text(&c->text, s, FDN__TEL_RAW);
    fdn__tel_buf_put(&c->text, "", 0);
    if (c->text.failed)
        return NULL;
    return json_stringn(c->text.p, c->text.len);
}

/* Both take v's reference, also when they fail (or v is NULL). */
static void jset(jctx_t *c, json_t *obj, const char *key, json_t *v)
{
    if (json_object_set_new(obj, key, v) != 0)
        c->is_ok = false;
}
static void jappend(jctx_t *c, json_t *arr, json_t *v)
{
    if (json_array_append_new(arr, v) != 0)
        c->is_ok = false;
}

/* The histogram or summary fields of series object js from view h. */
static void hist_fields(jctx_t *c, json_t *js, const fdn_metric_t *m,
                        const fdn__tel_hist_t *h)
{
    jset(c, js, "count", ju64(h->count));
    jset(c, js, "sum", jdouble(h->sum));
    jset(c, js, "min", jdouble(h->min));
    jset(c, js, "max", jdouble(h->max));
    if (m->kind == FDN_METRIC_HISTOGRAM) {
        json_t *arr = json_array();
        jset(c, js, "buckets", arr);
        if (arr == NULL)
            return;
        uint64_t cum = 0;
        for (uint32_t i = 0; i < m->nb && c->is_ok; i++) {
            cum += h->counts[i];
            if (m->is_log && h->counts[i] == 0 && i != m->nb - 1)
                continue; /* as the exposition lists them */
            json_t *pair = json_array();
            jappend(c, arr, pair);
            if (pair == NULL)
                return;
            jappend(c, pair, jdouble(m->bounds[i]));
            jappend(c, pair, ju64(cum));
        }
        return;
    }
    json_t *q = json_object();
    jset(c, js, "quantiles", q);
    if (q == NULL)
        return;
    for (size_t i = 0; i < m->n_quantiles; i++) {
        char key[32];
        fdn__tel_format_double(key, m->quantiles[i]);
        jset(c, q, key, jdouble(fdn__tel_hist_quantile(m, h,
                                                       m->quantiles[i])));
    }
}

static void series_json(jctx_t *c, json_t *arr, const fdn_metric_t *m,
                        const fdn_series_t *s, uint64_t *counts)
{
    json_t *js = json_object();
    jappend(c, arr, js);
    if (js == NULL)
        return;
    json_t *labels = json_object();
    jset(c, js, "labels", labels);
    if (labels == NULL)
        return;
    for (size_t i = 0; i < m->n_labels; i++)
        jset(c, labels, m->label_names[i], jtext(c, s->values[i]));
    switch (m->kind) {
    case FDN_METRIC_COUNTER:
        jset(c, js, "value", ju64(fdn_counter_value(s)));
        break;
    case FDN_METRIC_GAUGE: {
        fdn_series_value_t v;
        (void)fdn_series_read(s, &v);
        jset(c, js, "value", s->is_double ? jdouble(v.gauge)
                                          : json_integer(v.gauge_int));
        break;
    }
    default: {
        fdn__tel_hist_t h = {.counts = counts};
        fdn__tel_hist_read(s, &h);
        hist_fields(c, js, m, &h);
        break;
    }
    }
}

static void metric_json(jctx_t *c, json_t *arr, const fdn_metric_t *m)
{
    json_t *jm = json_object();
    jappend(c, arr, jm);
    if (jm == NULL)
        return;
    jset(c, jm, "name", json_string(m->name));
    jset(c, jm, "type", json_string(fdn__tel_kind_name(m->kind)));
    jset(c, jm, "help", jtext(c, m->help));
    json_t *names = json_array();
    jset(c, jm, "labels", names);
    json_t *series = json_array();
    jset(c, jm, "series", series);
    if (names == NULL || series == NULL)
        return;
    for (size_t i = 0; i < m->n_labels; i++)
        jappend(c, names, json_string(m->label_names[i]));

    uint64_t stack[64];
    uint64_t *counts = stack;
    if ((m->kind == FDN_METRIC_HISTOGRAM || m->kind == FDN_METRIC_SUMMARY) &&
        m->nb > 64) {
        counts = fdn__alloc(c->text.alloc, sizeof *counts * m->nb);
        if (counts == NULL) {
            c->is_ok = false;
            return;
        }
    }
    /* Acquire: pairs with the release store of n_series in metric.c. */
    uint32_t n = atomic_load_explicit(&m->n_series, memory_order_acquire);
    for (uint32_t i = 0; i < n && c->is_ok; i++)
        series_json(c, series, m, fdn__tel_series_at(m, i), counts);
    if (counts != stack)
        fdn__free(c->text.alloc, counts);
}

static json_t *stats_json(jctx_t *c, const fdn_telemetry_t *t)
{
    fdn_telemetry_stats_t st;
    fdn_telemetry_stats(t, &st);
    json_t *o = json_object();
    if (o == NULL) {
        c->is_ok = false;
        return NULL;
    }
    jset(c, o, "metrics", ju64(st.metrics));
    jset(c, o, "series", ju64(st.series));
    jset(c, o, "series_refused", ju64(st.series_refused));
    jset(c, o, "cells_used", ju64(st.cells_used));
    jset(c, o, "cells_max", ju64(st.cells_max));
    jset(c, o, "handlers", ju64(st.handlers));
    jset(c, o, "handler_failures", ju64(st.handler_failures));
    jset(c, o, "misuse", ju64(st.misuse));
    jset(c, o, "slots", ju64(st.slots));
    return o;
}

int fdn_telemetry_json(fdn_telemetry_t *t, char **out, size_t *len)
{
    if (t == NULL || out == NULL)
        return FDN_EINVAL;
    *out = NULL;
    if (len)
        *len = 0;
    fdn__tel_collect(t);
    jctx_t c = {.text = {.alloc = t->alloc}, .is_ok = true};
    json_t *root = json_object();
    json_t *metrics = json_array();
    if (root == NULL) {
        json_decref(metrics);
        return FDN_ENOMEM;
    }
    jset(&c, root, "metrics", metrics);
    /* Acquire: pairs with the release store of n_metrics in
     * fdn_metric_create, so metrics[i] is complete for every i < n. */
    uint32_t n = atomic_load_explicit(&t->n_metrics, memory_order_acquire);
    for (uint32_t i = 0; i < n && c.is_ok; i++)
        metric_json(&c, metrics, t->metrics[i]);
    if (c.is_ok)
        jset(&c, root, "stats", stats_json(&c, t));
    fdn__free(t->alloc, c.text.p);

    char *p = NULL;
    size_t size = 0;
    if (c.is_ok) {
        /* Measured first, then dumped into the hub's memory. */
        size = json_dumpb(root, NULL, 0, JSON_COMPACT);
        p = size ? fdn__alloc(t->alloc, size + 1) : NULL;
        if (p != NULL && json_dumpb(root, p, size, JSON_COMPACT) == size) {
            p[size] = '\0';
        } else {
            fdn__free(t->alloc, p);
            p = NULL;
        }
    }
    json_decref(root);
    if (p == NULL)
        return FDN_ENOMEM;
    *out = p;
    if (len)
        *len = size;
    return FDN_OK;
}
