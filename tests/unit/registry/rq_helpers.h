/*
 * rq_helpers.h — shared helpers of the query and index tests: value
 * constructors and the (key, pid) order of results.
 */
#ifndef FDN_TESTS_RQ_HELPERS_H
#define FDN_TESTS_RQ_HELPERS_H

#include "unit/registry/reg_helpers.h"

static inline fdn_meta_value_t vint(int64_t i)
{
    fdn_meta_value_t v = {.type = FDN_META_INT, .as.i = i};
    return v;
}
static inline fdn_meta_value_t vdbl(double d)
{
    fdn_meta_value_t v = {.type = FDN_META_DOUBLE, .as.d = d};
    return v;
}
static inline fdn_meta_value_t vbool(bool b)
{
    fdn_meta_value_t v = {.type = FDN_META_BOOL, .as.b = b};
    return v;
}
static inline fdn_meta_value_t vstr(const char *s)
{
    fdn_meta_value_t v = {.type = FDN_META_STR};
    snprintf(v.as.s, sizeof v.as.s, "%s", s);
    return v;
}

/* Orders results as fdn_registry_query does: key bytewise, then pid. */
static inline int match_cmp(const void *pa, const void *pb)
{
    const fdn_registry_match_t *a = pa, *b = pb;
    int k = strcmp(a->key, b->key);
    if (k != 0)
        return k;
    return a->pid < b->pid ? -1 : a->pid > b->pid;
}

#endif /* FDN_TESTS_RQ_HELPERS_H */
