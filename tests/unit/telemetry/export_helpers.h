/*
 * export_helpers.h — what the export tests (prom.c, json.c,
 * http.c) share: a hub on a counting allocator whose teardown checks
 * that nothing is left, metric shorthands, and reading one number out of
 * an exposition.
 */
#ifndef FDN_TEST_EXPORT_HELPERS_H
#define FDN_TEST_EXPORT_HELPERS_H

#include <criterion/criterion.h>

#include "foundation/telemetry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tel_fx {
    fdn_failing_allocator_t *fa; /* never fails unless armed; counts */
    fdn_telemetry_t *t;
} tel_fx_t;

static inline void tel_up(tel_fx_t *fx)
{
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fx->fa), FDN_OK);
    fdn_telemetry_opts_t o;
    fdn_telemetry_opts_init(&o);
    o.allocator = fdn_failing_allocator_get(fx->fa);
    o.max_cells = 1u << 16;
    cr_assert_eq(fdn_telemetry_create(&o, &fx->t), FDN_OK);
}

/* Destroys the hub and checks every byte it took was given back. */
static inline void tel_down(tel_fx_t *fx)
{
    fdn_telemetry_destroy(fx->t);
    cr_assert_eq(fdn_failing_allocator_live(fx->fa), 0,
                 "%lld allocations left after destroy",
                 (long long)fdn_failing_allocator_live(fx->fa));
    fdn_failing_allocator_destroy(fx->fa);
}

static inline fdn_metric_t *tel_metric(fdn_telemetry_t *t,
                                       fdn_metric_kind_t kind,
                                       const char *name, const char *help,
                                       const char *const *labels,
                                       size_t n_labels)
{
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, kind, name, help);
    o.label_names = labels;
    o.n_labels = n_labels;
    fdn_metric_t *m = NULL;
    cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK, "creating %s", name);
    return m;
}

static inline fdn_metric_t *tel_create(fdn_telemetry_t *t,
                                       const fdn_metric_opts_t *o)
{
    fdn_metric_t *m = NULL;
    cr_assert_eq(fdn_metric_create(t, o, &m), FDN_OK, "creating %s",
                 o->name);
    return m;
}

static inline fdn_series_t *tel_series(fdn_metric_t *m,
                                       const char *const *values, size_t n)
{
    fdn_series_t *s = NULL;
    cr_assert_eq(fdn_metric_series(m, values, n, &s), FDN_OK);
    return s;
}

/* The exposition of t (free with fdn_telemetry_free); checks its length
 * and that it ends with a newline. */
static inline char *tel_expo(fdn_telemetry_t *t)
{
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(fdn_telemetry_prometheus(t, &text, &len), FDN_OK);
    cr_assert_not_null(text);
    cr_assert_eq(len, strlen(text));
    cr_assert(len > 0 && text[len - 1] == '\n');
    return text;
}

/*
 * The value of the sample line that starts with head (the metric name and
 * labels up to the space, e.g. "x_bucket{le=\"+Inf\"}"), read as a double
 * into *v; false when there is no such line.
 */
static inline bool tel_sample(const char *text, const char *head, double *v)
{
    size_t n = strlen(head);
    const char *p = text;
    while (*p) {
        if (strncmp(p, head, n) == 0 && p[n] == ' ') {
            *v = strtod(p + n + 1, NULL);
            return true;
        }
        const char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return false;
}

#endif /* FDN_TEST_EXPORT_HELPERS_H */
