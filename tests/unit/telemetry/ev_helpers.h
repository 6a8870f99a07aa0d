/*
 * ev_helpers.h — shared by the event, span and from_event tests: a hub on
 * a counting allocator and a virtual clock (so tests check that nothing is
 * left and that times are exact), and a recording handler that copies
 * every event it receives.
 */
#ifndef FDN_TEST_TELEMETRY_EV_HELPERS_H
#define FDN_TEST_TELEMETRY_EV_HELPERS_H

#include <criterion/criterion.h>

#include "foundation/telemetry.h"

#include <stdio.h>
#include <string.h>

#define EV_T0 1000000u /* the virtual clock's start */

typedef struct ev_fixture {
    fdn_failing_allocator_t *fa; /* never fails unless armed */
    fdn_clock_t *clock;          /* virtual, starts at EV_T0 */
    fdn_telemetry_t *t;
} ev_fixture_t;

static inline void ev_fixture_up(ev_fixture_t *fx)
{
    memset(fx, 0, sizeof *fx);
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fx->fa), FDN_OK);
    cr_assert_eq(fdn_clock_virtual_create(EV_T0, &fx->clock), FDN_OK);
    fdn_telemetry_opts_t o;
    fdn_telemetry_opts_init(&o);
    o.clock = fx->clock;
    o.allocator = fdn_failing_allocator_get(fx->fa);
    o.max_cells = 1u << 12;
    cr_assert_eq(fdn_telemetry_create(&o, &fx->t), FDN_OK);
}

/* Destroys the hub and checks that it gave back every allocation. */
static inline void ev_fixture_down(ev_fixture_t *fx)
{
    fdn_telemetry_destroy(fx->t);
    fx->t = NULL;
    cr_assert_eq(fdn_failing_allocator_live(fx->fa), 0,
                 "%lld allocations left",
                 (long long)fdn_failing_allocator_live(fx->fa));
    fdn_failing_allocator_destroy(fx->fa);
    fdn_clock_destroy(fx->clock);
}

static inline uint64_t ev_handlers(fdn_telemetry_t *t)
{
    fdn_telemetry_stats_t st;
    fdn_telemetry_stats(t, &st);
    return st.handlers;
}

static inline uint64_t ev_failures(fdn_telemetry_t *t)
{
    fdn_telemetry_stats_t st;
    fdn_telemetry_stats(t, &st);
    return st.handler_failures;
}

/* ------------------------------------------------------------------------ */
/* A recording handler (one thread at a time)                               */
/* ------------------------------------------------------------------------ */

#define EV_MAX_LOG 16
#define EV_MAX_M 4
#define EV_MAX_MD 40

typedef struct ev_meta_copy {
    char key[32];
    fdn_telemetry_meta_kind_t kind;
    char s[96];
    int64_t i;
    uint64_t u;
    double d;
} ev_meta_copy_t;

typedef struct ev_copy {
    char name[FDN_TELEMETRY_NAME_MAX + 1];
    uint64_t time_ns;
    size_t n_m;
    char m_name[EV_MAX_M][32];
    double m_value[EV_MAX_M];
    size_t n_md;
    ev_meta_copy_t md[EV_MAX_MD];
} ev_copy_t;

typedef struct ev_rec {
    int calls;
    int rc;               /* what the handler returns */
    int *order;           /* when set, appends tag to order[(*n_order)++] */
    int *n_order;
    int tag;
    ev_copy_t ev[EV_MAX_LOG]; /* the first EV_MAX_LOG events received */
} ev_rec_t;

static inline int ev_record(const fdn_telemetry_event_t *ev, void *ctx)
{
    ev_rec_t *r = ctx;
    if (r->order != NULL)
        r->order[(*r->n_order)++] = r->tag;
    if (r->calls < EV_MAX_LOG) {
        ev_copy_t *c = &r->ev[r->calls];
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "%s", ev->name);
        c->time_ns = ev->time_ns;
        c->n_m = ev->n_measurements;
        for (size_t i = 0; i < ev->n_measurements && i < EV_MAX_M; i++) {
            snprintf(c->m_name[i], sizeof c->m_name[i], "%s",
                     ev->measurements[i].name);
            c->m_value[i] = ev->measurements[i].value;
        }
        c->n_md = ev->n_metadata;
        for (size_t i = 0; i < ev->n_metadata && i < EV_MAX_MD; i++) {
            const fdn_telemetry_meta_t *md = &ev->metadata[i];
            ev_meta_copy_t *x = &c->md[i];
            snprintf(x->key, sizeof x->key, "%s", md->key);
            x->kind = md->kind;
            if (md->kind == FDN_TMETA_STR)
                snprintf(x->s, sizeof x->s, "%s", md->v.s);
            x->i = md->v.i;
            x->u = md->v.u;
            x->d = md->v.d;
        }
    }
    r->calls++;
    return r->rc;
}

/* The metadata entry of c with key, checked to exist. */
static inline const ev_meta_copy_t *ev_md(const ev_copy_t *c, const char *key)
{
    for (size_t i = 0; i < c->n_md && i < EV_MAX_MD; i++)
        if (strcmp(c->md[i].key, key) == 0)
            return &c->md[i];
    cr_assert_fail("event %s has no metadata %s", c->name, key);
    return NULL;
}

/* The measurement of c called name, checked to exist. */
static inline double ev_m(const ev_copy_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_m && i < EV_MAX_M; i++)
        if (strcmp(c->m_name[i], name) == 0)
            return c->m_value[i];
    cr_assert_fail("event %s has no measurement %s", c->name, name);
    return 0;
}

#endif /* FDN_TEST_TELEMETRY_EV_HELPERS_H */
