/*
 * tel_helpers.h — small helpers shared by the telemetry unit tests.
 */
#ifndef FDN_TESTS_TEL_HELPERS_H
#define FDN_TESTS_TEL_HELPERS_H

#include <criterion/criterion.h>
#include <foundation/telemetry.h>

#include <math.h>

static inline fdn_telemetry_t *tel_new(void)
{
    fdn_telemetry_t *t = NULL;
    cr_assert_eq(fdn_telemetry_create(NULL, &t), FDN_OK);
    return t;
}

/* A metric without labels; asserts it was created. */
static inline fdn_metric_t *tel_metric(fdn_telemetry_t *t,
                                       fdn_metric_kind_t kind,
                                       const char *name)
{
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, kind, name, "test metric");
    fdn_metric_t *m = NULL;
    cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK, "creating %s", name);
    return m;
}

/* A histogram with explicit bounds. */
static inline fdn_metric_t *tel_hist(fdn_telemetry_t *t, const char *name,
                                     const double *b, size_t n)
{
    fdn_metric_opts_t o;
    fdn_metric_opts_init(&o, FDN_METRIC_HISTOGRAM, name, "test histogram");
    o.buckets = b;
    o.n_buckets = n;
    fdn_metric_t *m = NULL;
    cr_assert_eq(fdn_metric_create(t, &o, &m), FDN_OK, "creating %s", name);
    return m;
}

#endif /* FDN_TESTS_TEL_HELPERS_H */
