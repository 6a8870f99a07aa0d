/*
 * telemetry/from_event.c — metrics fed by events, as Elixir's
 * telemetry_metrics defines them: an internal handler, attached to one
 * exact event name, that records each event into a metric.
 *
 *   counter    no measurement: +1 per event (telemetry_metrics' counter);
 *              a measurement: + its value rounded to the nearest integer,
 *              saturating (telemetry_metrics' sum); a negative or NaN
 *              value records nothing and counts as misuse
 *   gauge      the measurement's value (last_value); NaN into an
 *              integer gauge records nothing and counts as misuse
 *   histogram  observes the value (distribution); NaN: as the gauge's
 *   summary    observes the value (summary); NaN: as the gauge's
 * A value skipped so is skipped before the series is found, so it creates
 * none.
 *
 * Label values come from the event's metadata: strings as they are,
 * integers in decimal, doubles in the shortest form that reads back (and
 * "NaN", "+Inf", "-Inf"), in the "C" locale.  An event that lacks the
 * measurement or one of the keys records nothing; so does a label set the
 * metric refuses (fdn_metric_series counts it), a string value it refuses
 * (too long, not UTF-8: counted as misuse) or one that cannot be created
 * for want of memory.  None of these makes the handler fail: a failing handler is
 * detached for good, and one odd event must not stop the metric.
 *
 * The handler's context is one allocation (the keys and the measurement
 * name copied after it), freed by the events code once the handler can no
 * longer run: after detach's grace period, or at the hub's destroy.  The
 * metric outlives it (metrics are freed after the handlers).  The handler
 * runs on the emitting thread; it finds an existing series lock-free and
 * records without locks (TEL-S2), so it adds no lock to emit.
 */
#include "telemetry/internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

struct from_event {
    /* Immutable after attach. */
    fdn_metric_t *m;
    fdn_series_t *dflt;      /* the series of a metric without labels */
    const char *measurement; /* NULL: count events */
    size_t n_keys;
    const char *keys[FDN_METRIC_MAX_LABELS];
    char strings[];          /* the copies keys and measurement point to */
};

/* The measurement called name in ev, into *v; false if there is none. */
static bool find_measurement(const fdn_telemetry_event_t *ev,
                             const char *name, double *v)
{
    for (size_t i = 0; i < ev->n_measurements; i++) {
        const char *n = ev->measurements[i].name;
        if (n != NULL && strcmp(n, name) == 0) {
            *v = ev->measurements[i].value;
            return true;
        }
    }
    return false;
}

/* The first metadata entry of ev with key, or NULL. */
static const fdn_telemetry_meta_t *find_meta(const fdn_telemetry_event_t *ev,
                                             const char *key)
{
    for (size_t i = 0; i < ev->n_metadata; i++) {
        const char *k = ev->metadata[i].key;
        if (k != NULL && strcmp(k, key) == 0)
            return &ev->metadata[i];
    }
    return NULL;
}

/* Counts one misuse of t (an event that could not be recorded). */
static void count_misuse(fdn_telemetry_t *t)
{
    /* Relaxed: a statistic. */
    atomic_fetch_add_explicit(&t->misuse, 1, memory_order_relaxed);
}

/* Adds a counter measurement, v >= 0 (see the file comment). */
static void counter_add_value(fdn_series_t *s, double v)
{
    double r = round(v);
    fdn_counter_add(s, r >= 0x1p64 ? UINT64_MAX : (uint64_t)r);
}

static int from_event_handler(const fdn_telemetry_event_t *ev, void *ctx)
{
    const struct from_event *f = ctx;
    double v = 0;
    if (f->measurement != NULL && !find_measurement(ev, f->measurement, &v))
        return 0;
    /* Checked before the series is found, so that a skipped event does
     * not create one: a counter takes no negative or NaN value, a
     * histogram, a summary or an integer gauge no NaN (a double gauge may
     * hold NaN). */
    if (f->measurement != NULL) {
        fdn_metric_kind_t kind = fdn_metric_kind(f->m);
        bool skip = kind == FDN_METRIC_COUNTER
                        ? !(v >= 0)
                        : isnan(v) && !(kind == FDN_METRIC_GAUGE &&
                                        f->m->is_double);
        if (skip) {
            count_misuse(f->m->t);
            return 0;
        }
    }
    fdn_series_t *s = f->dflt;
    if (f->n_keys > 0) {
        char num[FDN_METRIC_MAX_LABELS][32];
        const char *values[FDN_METRIC_MAX_LABELS];
        for (size_t i = 0; i < f->n_keys; i++) {
            const fdn_telemetry_meta_t *md = find_meta(ev, f->keys[i]);
            if (md == NULL)
                return 0;
            switch (md->kind) {
            case FDN_TMETA_STR:
                if (md->v.s == NULL)
                    return 0;
                values[i] = md->v.s;
                break;
            case FDN_TMETA_INT:
                snprintf(num[i], sizeof num[i], "%" PRId64, md->v.i);
                values[i] = num[i];
                break;
            case FDN_TMETA_UINT:
                snprintf(num[i], sizeof num[i], "%" PRIu64, md->v.u);
                values[i] = num[i];
                break;
            case FDN_TMETA_DOUBLE:
                fdn__tel_format_double(num[i], md->v.d);
                values[i] = num[i];
                break;
            default:
                return 0; /* not a kind we know: as if missing */
            }
        }
        /* FDN_ELIMIT is counted by fdn_metric_series itself; a value it
         * refuses (too long, not UTF-8) is the event's misuse. */
        int rc = fdn_metric_series(f->m, values, f->n_keys, &s);
        if (rc == FDN_EINVAL)
            count_misuse(f->m->t);
        if (rc != FDN_OK)
            return 0;
    }
    switch (fdn_metric_kind(f->m)) {
    case FDN_METRIC_COUNTER:
        if (f->measurement == NULL)
            fdn_counter_inc(s);
        else
            counter_add_value(s, v);
        break;
    case FDN_METRIC_GAUGE:
        fdn_gauge_set_double(s, v);
        break;
    case FDN_METRIC_HISTOGRAM:
    case FDN_METRIC_SUMMARY:
        fdn_metric_observe(s, v);
        break;
    }
    return 0;
}

static void from_event_release(const fdn_allocator_t *a, void *ctx)
{
    fdn__free(a, ctx);
}

int fdn_telemetry_metric_from_event(fdn_telemetry_t *t, fdn_metric_t *m,
                                    const char *event_name,
                                    const char *measurement,
                                    const char *const *label_keys,
                                    size_t n_label_keys, uint64_t *id)
{
    if (t == NULL || m == NULL || m->t != t || event_name == NULL)
        return FDN_EINVAL;
    /* An exact name: no "*" (the rest is checked by attach). */
    if (strchr(event_name, '*') != NULL)
        return FDN_EINVAL;
    if (measurement == NULL ? m->kind != FDN_METRIC_COUNTER
                            : *measurement == '\0')
        return FDN_EINVAL;
    if (n_label_keys != m->n_labels || (n_label_keys > 0 && label_keys == NULL))
        return FDN_EINVAL;
    size_t bytes = measurement != NULL ? strlen(measurement) + 1 : 0;
    for (size_t i = 0; i < n_label_keys; i++) {
        if (label_keys[i] == NULL || label_keys[i][0] == '\0')
            return FDN_EINVAL;
        bytes += strlen(label_keys[i]) + 1;
    }
    struct from_event *f = fdn__alloc(t->alloc, sizeof *f + bytes);
    if (f == NULL)
        return FDN_ENOMEM;
    f->m = m;
    f->dflt = fdn_metric_default(m);
    f->n_keys = n_label_keys;
    char *p = f->strings;
    f->measurement = NULL;
    if (measurement != NULL) {
        size_t n = strlen(measurement) + 1;
        memcpy(p, measurement, n);
        f->measurement = p;
        p += n;
    }
    for (size_t i = 0; i < n_label_keys; i++) {
        size_t n = strlen(label_keys[i]) + 1;
        memcpy(p, label_keys[i], n);
        f->keys[i] = p;
        p += n;
    }
    int rc = fdn__tel_attach(t, event_name, from_event_handler, f,
                             from_event_release, id);
    if (rc != FDN_OK)
        fdn__free(t->alloc, f);
    return rc;
}
