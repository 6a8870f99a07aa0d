/*
 * registry/meta.c — the small typed metadata map (fdn_meta_t) stored by
 * value in registry entries: setters, lookup by name and value equality.
 *
 * Every setter validates everything before it writes, so a failed call
 * leaves the map exactly as it was (REG-C4).
 */
#include "registry/registry_internal.h"

#include <string.h>

/*
 * Finds the slot a set of `name` writes to: the existing field of that name,
 * or the next free slot.  Returns FDN_OK with *out set, or the error the
 * setter must return (nothing is written either way).
 */
static int meta_slot(fdn_meta_t *m, const char *name, fdn_meta_field_t **out)
{
    if (m == NULL || name == NULL || name[0] == '\0')
        return FDN_EINVAL;
    if (strnlen(name, FDN_META_NAME_MAX + 1) > FDN_META_NAME_MAX)
        return FDN_ETOOBIG;
    if (m->count > FDN_META_MAX)
        return FDN_EINVAL; /* not a map made by these functions */
    for (uint32_t i = 0; i < m->count; i++) {
        if (strcmp(m->fields[i].name, name) == 0) {
            *out = &m->fields[i];
            return FDN_OK;
        }
    }
    if (m->count == FDN_META_MAX)
        return FDN_ELIMIT;
    *out = &m->fields[m->count];
    return FDN_OK;
}

/* Commits a slot returned by meta_slot: names it and counts it if new. */
static void meta_commit(fdn_meta_t *m, fdn_meta_field_t *f, const char *name)
{
    if (f == &m->fields[m->count]) {
        memset(f, 0, sizeof *f);
        memcpy(f->name, name, strlen(name) + 1);
        m->count++;
    }
}

FDN_API int fdn_meta_set_int(fdn_meta_t *m, const char *name, int64_t v)
{
    fdn_meta_field_t *f;
    int rc = meta_slot(m, name, &f);
    if (rc != FDN_OK)
        return rc;
    meta_commit(m, f, name);
    memset(&f->value, 0, sizeof f->value);
    f->value.type = FDN_META_INT;
    f->value.as.i = v;
    return FDN_OK;
}

FDN_API int fdn_meta_set_double(fdn_meta_t *m, const char *name, double v)
{
    fdn_meta_field_t *f;
    int rc = meta_slot(m, name, &f);
    if (rc != FDN_OK)
        return rc;
    meta_commit(m, f, name);
    memset(&f->value, 0, sizeof f->value);
    f->value.type = FDN_META_DOUBLE;
    f->value.as.d = v;
    return FDN_OK;
}

FDN_API int fdn_meta_set_bool(fdn_meta_t *m, const char *name, bool v)
{
    fdn_meta_field_t *f;
    int rc = meta_slot(m, name, &f);
    if (rc != FDN_OK)
        return rc;
    meta_commit(m, f, name);
    memset(&f->value, 0, sizeof f->value);
    f->value.type = FDN_META_BOOL;
    f->value.as.b = v;
    return FDN_OK;
}

FDN_API int fdn_meta_set_str(fdn_meta_t *m, const char *name, const char *v)
{
    if (v == NULL)
        return FDN_EINVAL;
    fdn_meta_field_t *f;
    int rc = meta_slot(m, name, &f);
    if (rc != FDN_OK)
        return rc;
    size_t len = strnlen(v, FDN_META_STR_MAX + 1);
    if (len > FDN_META_STR_MAX)
        return FDN_ETOOBIG;
    /* v may alias the map itself (a field set from another field's
     * string), so copy it out before anything in the map is written. */
    char copy[FDN_META_STR_MAX + 1];
    memcpy(copy, v, len);
    copy[len] = '\0';
    meta_commit(m, f, name);
    memset(&f->value, 0, sizeof f->value);
    f->value.type = FDN_META_STR;
    memcpy(f->value.as.s, copy, len + 1);
    return FDN_OK;
}

FDN_API const fdn_meta_value_t *fdn_meta_get(const fdn_meta_t *m,
                                             const char *name)
{
    if (m == NULL || name == NULL)
        return NULL;
    uint32_t n = m->count <= FDN_META_MAX ? m->count : FDN_META_MAX;
    for (uint32_t i = 0; i < n; i++) {
        if (strncmp(m->fields[i].name, name, FDN_META_NAME_MAX + 1) == 0)
            return &m->fields[i].value;
    }
    return NULL;
}

FDN_API bool fdn_meta_value_equal(const fdn_meta_value_t *a,
                                  const fdn_meta_value_t *b)
{
    if (a == NULL || b == NULL || a->type != b->type)
        return false;
    switch (a->type) {
    case FDN_META_NONE:
        return true;
    case FDN_META_INT:
        return a->as.i == b->as.i;
    case FDN_META_DOUBLE:
        return a->as.d == b->as.d; /* IEEE equality: NaN equals nothing */
    case FDN_META_BOOL:
        return fdn__meta_bool(a) == fdn__meta_bool(b);
    case FDN_META_STR:
        return strncmp(a->as.s, b->as.s, FDN_META_STR_MAX + 1) == 0;
    }
    return false;
}
