/*
 * query.c — fdn_registry_query and fdn_registry_find against a brute-force
 * filter over a few thousand random entries: every term on indexed, plain
 * and DUPLICATE namespaces, random AND/OR trees (shared terms too), paging
 * in pages of 7, and indexes kept exact through updates, removals, an
 * owner's death, eviction and expiry.  query_plan.c checks the rest of the contract.
 *
 * The requirement ids are the drafts in specs/drafts/registry-query.md,
 * written REG_Qn in test names until they move into specs/registry.md.
 */
#include "unit/registry/rq_helpers.h"

#include "registry/registry_internal.h"

#include <math.h>

/* ---- the brute-force model ----------------------------------------------- */

/* The header's comparison rule, written independently of query.c: same
 * type only; NaN, NONE and unknown types compare with nothing. */
static bool model_cmp(const fdn_meta_value_t *a, const fdn_meta_value_t *b,
                      int *c)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case FDN_META_INT:
        *c = a->as.i < b->as.i ? -1 : a->as.i > b->as.i;
        return true;
    case FDN_META_DOUBLE:
        if (isnan(a->as.d) || isnan(b->as.d))
            return false;
        *c = a->as.d < b->as.d ? -1 : a->as.d > b->as.d;
        return true;
    case FDN_META_BOOL:
        *c = (int)a->as.b - (int)b->as.b;
        return true;
    case FDN_META_STR:
        *c = strcmp(a->as.s, b->as.s);
        return true;
    default:
        return false;
    }
}

static bool model_match(const fdn_rq_t *q, uint32_t t, const fdn_meta_t *m)
{
    const fdn_rq_t *x = &q[t];
    if (x->op == FDN_RQ_ALL)
        return true;
    if (x->op == FDN_RQ_AND)
        return model_match(q, x->a, m) && model_match(q, x->b, m);
    if (x->op == FDN_RQ_OR)
        return model_match(q, x->a, m) || model_match(q, x->b, m);
    const fdn_meta_value_t *v = fdn_meta_get(m, x->field);
    if (v == NULL)
        return false;
    int c, d;
    switch (x->op) {
    case FDN_RQ_EXISTS:
        return true;
    case FDN_RQ_EQ:
        return model_cmp(v, &x->value, &c) && c == 0;
    case FDN_RQ_LT:
        return model_cmp(v, &x->value, &c) && c < 0;
    case FDN_RQ_LE:
        return model_cmp(v, &x->value, &c) && c <= 0;
    case FDN_RQ_GT:
        return model_cmp(v, &x->value, &c) && c > 0;
    case FDN_RQ_GE:
        return model_cmp(v, &x->value, &c) && c >= 0;
    case FDN_RQ_RANGE:
        return model_cmp(v, &x->value, &c) && c >= 0 &&
               model_cmp(v, &x->high, &d) && d <= 0;
    case FDN_RQ_IN:
        for (uint32_t k = 0; k < x->nset; k++)
            if (model_cmp(v, &x->set[k], &c) && c == 0)
                return true;
        return false;
    default:
        return false;
    }
}

enum { NENT = 3000, NOWNERS = 8, NBUF = NENT + 8 };

struct ent {
    char key[16];
    fdn_pid_t pid;
    fdn_meta_t meta;
    bool is_live;
};

/* The fields: i, d, s, b are indexed in the "ix" namespaces; n never is. */
static const char *const field_names[] = {"i", "d", "s", "b", "n", "zz"};
static const fdn_meta_type_t field_types[] = {
    FDN_META_INT,  FDN_META_DOUBLE, FDN_META_STR,
    FDN_META_BOOL, FDN_META_INT,    FDN_META_INT};

static fdn_meta_value_t random_of_type(unsigned long long *s,
                                       fdn_meta_type_t t)
{
    static const double ds[] = {-1.5, -0.0, 0.0, 2.25, 1e300, -1e300};
    switch (t) {
    case FDN_META_INT:
        return vint((int64_t)(reg_rand(s) % 21) - 10);
    case FDN_META_DOUBLE: {
        unsigned r = (unsigned)(reg_rand(s) % 16);
        if (r < 6)
            return vdbl(ds[r]);
        if (r == 6)
            return vdbl(NAN);
        if (r == 7)
            return vdbl(INFINITY);
        if (r == 8)
            return vdbl(-INFINITY);
        return vdbl((double)(int)(reg_rand(s) % 40) / 4.0 - 5.0);
    }
    case FDN_META_BOOL:
        return vbool(reg_rand(s) % 2);
    default: {
        char buf[8];
        snprintf(buf, sizeof buf, "s%02u", (unsigned)(reg_rand(s) % 20));
        return vstr(buf);
    }
    }
}

static void random_meta(unsigned long long *s, fdn_meta_t *m)
{
    memset(m, 0, sizeof *m);
    for (int f = 0; f < 5; f++) {
        if (reg_rand(s) % 5 == 0)
            continue; /* the field is absent */
        fdn_meta_value_t v = random_of_type(s, field_types[f]);
        fdn_meta_field_t *fl = &m->fields[m->count++];
        snprintf(fl->name, sizeof fl->name, "%s", field_names[f]);
        fl->value = v;
    }
}

/* A random term tree in q (at most FDN_RQ_MAX terms), returning the root.
 * Values are mostly of the field's type; sets live in pool. */
struct qgen {
    fdn_rq_t q[FDN_RQ_MAX];
    uint32_t n;
    fdn_meta_value_t pool[256];
    uint32_t npool;
};

static uint32_t gen_term(struct qgen *g, unsigned long long *s, int depth)
{
    if (g->n > 0 && reg_rand(s) % 6 == 0)
        return (uint32_t)(reg_rand(s) % g->n); /* share an earlier term */
    if (depth > 0 && g->n + 3 < FDN_RQ_MAX && reg_rand(s) % 2) {
        uint32_t a = gen_term(g, s, depth - 1);
        uint32_t b = gen_term(g, s, depth - 1);
        fdn_rq_t *t = &g->q[g->n];
        memset(t, 0, sizeof *t);
        t->op = reg_rand(s) % 2 ? FDN_RQ_AND : FDN_RQ_OR;
        t->a = a;
        t->b = b;
        return g->n++;
    }
    fdn_rq_t *t = &g->q[g->n];
    memset(t, 0, sizeof *t);
    unsigned f = (unsigned)(reg_rand(s) % 6);
    t->field = field_names[f];
    fdn_meta_type_t ty = field_types[f];
    if (reg_rand(s) % 10 == 0)
        ty = field_types[(f + 1) % 4]; /* a value of another type */
    t->op = (fdn_rq_op_t)(reg_rand(s) % 9);
    t->value = random_of_type(s, ty);
    t->high = random_of_type(s, ty);
    if (t->op == FDN_RQ_IN) {
        t->nset = (uint32_t)(reg_rand(s) % 5);
        if (g->npool + t->nset > 256)
            t->nset = 0;
        t->set = &g->pool[g->npool];
        for (uint32_t k = 0; k < t->nset; k++)
            g->pool[g->npool++] = random_of_type(s, ty);
        if (t->nset > 1 && reg_rand(s) % 3 == 0)
            g->pool[g->npool - 1] = g->pool[g->npool - 2]; /* repeated */
    }
    return g->n++;
}

static void gen_query(struct qgen *g, unsigned long long *s)
{
    g->n = 0;
    g->npool = 0;
    uint32_t root = gen_term(g, s, 3);
    if (root != g->n - 1) {
        /* The root must be the last term: wrap a shared pick. */
        fdn_rq_t *t = &g->q[g->n];
        memset(t, 0, sizeof *t);
        t->op = FDN_RQ_AND;
        t->a = t->b = root;
        g->n++;
    }
}

/* Every match of q in ns through pages of page (SIZE_MAX: one call). */
static size_t query_all(fdn_registry_ns_t *ns, const fdn_rq_t *q, size_t nq,
                        size_t page, fdn_registry_match_t *out, size_t cap)
{
    size_t total = 0;
    const fdn_registry_match_t *after = NULL;
    for (;;) {
        size_t want = page == SIZE_MAX ? cap - total : page;
        cr_assert_leq(total + want, cap, "the buffer is too small");
        size_t n = 0;
        bool more = false;
        cr_assert_eq(fdn_registry_query(ns, q, nq, after, out + total, want,
                                        &n, &more),
                     FDN_OK);
        cr_assert_leq(n, want);
        total += n;
        if (!more)
            break;
        cr_assert_eq(n, want, "a short page with more to come");
        after = &out[total - 1];
    }
    return total;
}

static size_t model_all(const struct ent *ents, size_t nent,
                        const fdn_rq_t *q, size_t nq,
                        fdn_registry_match_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < nent; i++) {
        if (!ents[i].is_live ||
            !model_match(q, (uint32_t)(nq - 1), &ents[i].meta))
            continue;
        snprintf(out[n].key, sizeof out[n].key, "%s", ents[i].key);
        out[n].pid = ents[i].pid;
        n++;
    }
    qsort(out, n, sizeof *out, match_cmp);
    return n;
}

static bool is_same(const fdn_registry_match_t *got, size_t ngot,
                    const fdn_registry_match_t *want, size_t nwant)
{
    if (ngot != nwant)
        return false;
    for (size_t i = 0; i < ngot; i++)
        if (match_cmp(&got[i], &want[i]) != 0)
            return false;
    return true;
}

static void expect_same(const fdn_registry_match_t *got, size_t ngot,
                        const fdn_registry_match_t *want, size_t nwant,
                        const char *what, int query)
{
    cr_assert_eq(ngot, nwant, "%s, query %d: %zu matches, want %zu", what,
                 query, ngot, nwant);
    for (size_t i = 0; i < ngot; i++)
        cr_assert(strcmp(got[i].key, want[i].key) == 0 &&
                      got[i].pid == want[i].pid,
                  "%s, query %d: match %zu is (%s, %llu), want (%s, %llu)",
                  what, query, i, got[i].key,
                  (unsigned long long)got[i].pid, want[i].key,
                  (unsigned long long)want[i].pid);
}

/* ---- the random agreement test ------------------------------------------ */

struct world {
    reg_fixture_t fx;
    fdn_pid_t owners[NOWNERS];
    fdn_registry_ns_t *ns[3]; /* ix (UNIQUE), plain, dup (DUPLICATE, ix) */
    struct ent *ents[3];
    fdn_registry_match_t *got, *want;
};

static const char *const ns_names[] = {"ix", "plain", "dup"};

static void world_up(struct world *w)
{
    reg_fixture_up(&w->fx, 1);
    for (int i = 0; i < NOWNERS; i++)
        w->owners[i] = reg_spawn_idle(w->fx.rt);
    for (int k = 0; k < 3; k++) {
        fdn_registry_ns_opts_t o;
        fdn_registry_ns_opts_init(&o);
        o.kind = k == 2 ? FDN_REGISTRY_DUPLICATE : FDN_REGISTRY_UNIQUE;
        if (k != 1)
            for (int f = 0; f < 5; f++)
                cr_assert_eq(fdn_registry_ns_opts_field(&o, field_names[f],
                                                        field_types[f],
                                                        false, f < 4),
                             FDN_OK);
        cr_assert_eq(fdn_registry_namespace_opts(w->fx.reg, ns_names[k], &o,
                                                 &w->ns[k]),
                     FDN_OK);
        w->ents[k] = calloc(NENT, sizeof *w->ents[k]);
        cr_assert_not_null(w->ents[k]);
    }
    w->got = calloc(NBUF, sizeof *w->got);
    w->want = calloc(NBUF, sizeof *w->want);
    cr_assert(w->got != NULL && w->want != NULL);
}

static void world_down(struct world *w)
{
    for (int k = 0; k < 3; k++)
        free(w->ents[k]);
    free(w->got);
    free(w->want);
    reg_fixture_down(&w->fx);
}

/* Entry i of namespace k: unique keys in ix and plain; in dup, keys from a
 * smaller pool, so groups have several members. */
static void world_put(struct world *w, int k, size_t i,
                      unsigned long long *s)
{
    struct ent *e = &w->ents[k][i];
    if (k == 2)
        snprintf(e->key, sizeof e->key, "g%03zu", i % 700);
    else
        snprintf(e->key, sizeof e->key, "k%04llu-%zu",
                 (unsigned long long)(reg_rand(s) % 10000), i);
    e->pid = w->owners[k == 2 ? i / 700 % NOWNERS : reg_rand(s) % NOWNERS];
    random_meta(s, &e->meta);
    int rc = k == 2 ? fdn_registry_join(w->ns[k], e->key, e->pid, &e->meta,
                                        NULL)
                    : fdn_registry_register(w->ns[k], e->key, e->pid,
                                            &e->meta, NULL);
    cr_assert_eq(rc, FDN_OK, "put %s: %s", e->key, fdn_errname(rc));
    e->is_live = true;
}

static void dump_value(const fdn_meta_value_t *v)
{
    switch (v->type) {
    case FDN_META_INT:
        fprintf(stderr, "%lld", (long long)v->as.i);
        break;
    case FDN_META_DOUBLE:
        fprintf(stderr, "%gd", v->as.d);
        break;
    case FDN_META_BOOL:
        fprintf(stderr, "%s", v->as.b ? "true" : "false");
        break;
    case FDN_META_STR:
        fprintf(stderr, "\"%s\"", v->as.s);
        break;
    default:
        fprintf(stderr, "?");
    }
}

/* Prints a query, to replay a failure by hand. */
static void dump_query(const struct qgen *g)
{
    static const char *const ops[] = {"ALL", "EQ",    "LT", "LE",
                                      "GT",  "GE",    "RANGE", "IN",
                                      "EXISTS", "AND", "OR"};
    for (uint32_t t = 0; t < g->n; t++) {
        const fdn_rq_t *x = &g->q[t];
        fprintf(stderr, "  [%u] %s", t, ops[x->op]);
        if (x->op == FDN_RQ_AND || x->op == FDN_RQ_OR) {
            fprintf(stderr, " %u %u\n", x->a, x->b);
            continue;
        }
        if (x->op != FDN_RQ_ALL)
            fprintf(stderr, " %s", x->field);
        if (x->op >= FDN_RQ_EQ && x->op <= FDN_RQ_RANGE) {
            fprintf(stderr, " ");
            dump_value(&x->value);
        }
        if (x->op == FDN_RQ_RANGE) {
            fprintf(stderr, " ");
            dump_value(&x->high);
        }
        for (uint32_t k = 0; x->op == FDN_RQ_IN && k < x->nset; k++) {
            fprintf(stderr, " ");
            dump_value(&x->set[k]);
        }
        fprintf(stderr, "\n");
    }
}

static int pid_cmp(const void *a, const void *b)
{
    fdn_pid_t x = *(const fdn_pid_t *)a, y = *(const fdn_pid_t *)b;
    return x < y ? -1 : x > y;
}

/* fdn_registry_find(field, value) of an EQ term against the model. */
static void world_check_find(struct world *w, int k, const fdn_rq_t *eq)
{
    static fdn_pid_t got[NENT], want[NENT];
    size_t nw = 0;
    for (size_t i = 0; i < NENT; i++)
        if (w->ents[k][i].is_live && model_match(eq, 0, &w->ents[k][i].meta))
            want[nw++] = w->ents[k][i].pid;
    size_t found = 0;
    cr_assert_eq(fdn_registry_find(w->ns[k], eq->field, &eq->value, got,
                                   NENT, &found),
                 FDN_OK);
    cr_assert_eq(found, nw, "find %s in %s: %zu, want %zu", eq->field,
                 ns_names[k], found, nw);
    qsort(got, found, sizeof got[0], pid_cmp);
    qsort(want, nw, sizeof want[0], pid_cmp);
    cr_assert(memcmp(got, want, nw * sizeof want[0]) == 0);
}

/* Runs nqueries random queries on every namespace against the model; the
 * first npaged also page through in pages of 7. */
static void world_check(struct world *w, unsigned long long *s,
                        int nqueries, int npaged)
{
    struct qgen g;
    for (int qi = 0; qi < nqueries; qi++) {
        gen_query(&g, s);
        for (int k = 0; k < 3; k++) {
            size_t nw = model_all(w->ents[k], NENT, g.q, g.n, w->want);
            size_t ng =
                query_all(w->ns[k], g.q, g.n, SIZE_MAX, w->got, NBUF);
            if (!is_same(w->got, ng, w->want, nw))
                dump_query(&g);
            expect_same(w->got, ng, w->want, nw, ns_names[k], qi);
            if (qi < npaged) {
                ng = query_all(w->ns[k], g.q, g.n, 7, w->got, NBUF);
                expect_same(w->got, ng, w->want, nw, ns_names[k], qi);
            }
            if (g.q[0].op == FDN_RQ_EQ)
                world_check_find(w, k, &g.q[0]);
        }
    }
}

/* Checks: REG-C14 */
Test(query, random_queries_agree_with_brute_force,
     .timeout = 120)
{
    unsigned long long s = reg_seed("query random queries");
    struct world w;
    world_up(&w);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < NENT; i++)
            world_put(&w, k, i, &s);
    world_check(&w, &s, 300, 20);
    world_down(&w);
}

/* Checks: REG-I7 */
Test(query, indexes_stay_exact_through_updates_and_removal,
     .timeout = 120)
{
    unsigned long long s = reg_seed("query updates");
    struct world w;
    world_up(&w);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < NENT; i++)
            world_put(&w, k, i, &s);
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 3; k++) {
            for (size_t i = 0; i < NENT; i++) {
                struct ent *e = &w.ents[k][i];
                unsigned r = (unsigned)(reg_rand(&s) % 6);
                if (!e->is_live) {
                    if (r < 2)
                        world_put(&w, k, i, &s);
                } else if (r == 0) {
                    cr_assert_eq(fdn_registry_unregister(w.ns[k], e->key,
                                                         e->pid),
                                 FDN_OK);
                    e->is_live = false;
                } else if (r == 1) {
                    random_meta(&s, &e->meta);
                    cr_assert_eq(fdn_registry_update(w.ns[k], e->key, e->pid,
                                                     &e->meta,
                                                     FDN_REGISTRY_REPLACE),
                                 FDN_OK);
                }
            }
        }
        world_check(&w, &s, 60, 3);
    }
    /* An owner's death takes its entries out of the indexes too. */
    reg_kill(w.fx.rt, w.owners[1]);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < NENT; i++)
            if (w.ents[k][i].pid == w.owners[1])
                w.ents[k][i].is_live = false;
    world_check(&w, &s, 60, 3);
    world_down(&w);
}

/* Checks: REG-C14 */
Test(query, pages_of_seven_list_every_match_once_in_order)
{
    unsigned long long s = reg_seed("query paging");
    struct world w;
    world_up(&w);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < NENT; i++)
            world_put(&w, k, i, &s);
    fdn_rq_t all = {.op = FDN_RQ_ALL};
    for (int k = 0; k < 3; k++) {
        size_t nw = query_all(w.ns[k], &all, 1, SIZE_MAX, w.want, NBUF);
        cr_assert_eq(nw, NENT);
        for (size_t i = 1; i < nw; i++)
            cr_assert_lt(match_cmp(&w.want[i - 1], &w.want[i]), 0,
                         "results are not in (key, pid) order");
        size_t ng = query_all(w.ns[k], &all, 1, 7, w.got, NBUF);
        expect_same(w.got, ng, w.want, nw, ns_names[k], -1);
        /* A page of 0 only says whether a match lies past the cursor. */
        size_t n = 99;
        bool more = false;
        cr_assert_eq(fdn_registry_query(w.ns[k], &all, 1, NULL, NULL, 0, &n,
                                        &more),
                     FDN_OK);
        cr_assert(n == 0 && more);
        cr_assert_eq(fdn_registry_query(w.ns[k], &all, 1, &w.want[nw - 1],
                                        w.got, 7, &n, &more),
                     FDN_OK);
        cr_assert(n == 0 && !more, "nothing lies past the last match");
        /* The cursor need not be a match: it is a position. */
        fdn_registry_match_t mid = w.want[nw / 2];
        mid.pid = 0;
        cr_assert_eq(fdn_registry_query(w.ns[k], &all, 1, &mid, w.got, 1, &n,
                                        &more),
                     FDN_OK);
        cr_assert(n == 1 && more);
        cr_assert_eq(match_cmp(&w.got[0], &w.want[nw / 2]), 0);
    }
    world_down(&w);
}

/* ---- eviction and expiry --------------------------------------------------- */

/* Every entry of ns has x; the index must hold exactly them. */
static void expect_index_exact(fdn_registry_ns_t *ns, uint64_t want)
{
    cr_assert_eq(fdn_registry_count(ns), want);
    cr_assert_eq(fdn__rix_size(ns->indexes[0]), want, "index holds %llu",
                 (unsigned long long)fdn__rix_size(ns->indexes[0]));
    fdn_rq_t q = {.op = FDN_RQ_EXISTS, .field = "x"};
    static fdn_registry_match_t out[256];
    size_t n = 0;
    cr_assert_eq(fdn_registry_query(ns, &q, 1, NULL, out, 256, &n, NULL),
                 FDN_OK);
    cr_assert_eq(n, want);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(fdn_registry_get(ns, out[i].key, out[i].pid, NULL, NULL),
                     FDN_OK, "%s is in the index but not the namespace",
                     out[i].key);
}

/* Checks: REG-I7 */
Test(query, eviction_and_expiry_keep_indexes_exact)
{
    fdn_failing_allocator_t *fa;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_clock_t *clock;
    cr_assert_eq(fdn_clock_virtual_create(0, &clock), FDN_OK);
    fdn_runtime_opts_t ro;
    fdn_runtime_opts_init(&ro);
    ro.schedulers = 1;
    ro.allocator = fdn_failing_allocator_get(fa);
    ro.clock = clock;
    fdn_runtime_t *rt;
    cr_assert_eq(fdn_runtime_create(&ro, &rt), FDN_OK);
    fdn_registry_opts_t go;
    fdn_registry_opts_init(&go);
    go.sweep_interval_ns = FDN_INFINITY; /* sweeps only when called */
    fdn_registry_t *reg;
    cr_assert_eq(fdn_registry_create(rt, &go, &reg), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(rt);
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "x", FDN_META_INT, true,
                                            true),
                 FDN_OK);
    o.max_entries = 50;
    o.on_full = FDN_REGISTRY_EVICT_LRU;
    fdn_registry_ns_t *lru;
    cr_assert_eq(fdn_registry_namespace_opts(reg, "lru", &o, &lru), FDN_OK);
    o.max_entries = 0;
    o.on_full = FDN_REGISTRY_REJECT;
    o.ttl_ns = 1000;
    fdn_registry_ns_t *ttl;
    cr_assert_eq(fdn_registry_namespace_opts(reg, "ttl", &o, &ttl), FDN_OK);
    for (int i = 0; i < 200; i++) {
        fdn_meta_t m;
        memset(&m, 0, sizeof m);
        cr_assert_eq(fdn_meta_set_int(&m, "x", i % 5), FDN_OK);
        char key[16];
        snprintf(key, sizeof key, "e%03d", i);
        cr_assert_eq(fdn_registry_register(lru, key, p, &m, NULL), FDN_OK);
        cr_assert_eq(fdn_clock_advance(clock, 1), FDN_OK);
    }
    expect_index_exact(lru, 50);
    for (int i = 0; i < 40; i++) {
        fdn_meta_t m;
        memset(&m, 0, sizeof m);
        cr_assert_eq(fdn_meta_set_int(&m, "x", i % 5), FDN_OK);
        char key[16];
        snprintf(key, sizeof key, "t%03d", i);
        cr_assert_eq(fdn_registry_register(ttl, key, p, &m, NULL), FDN_OK);
        if (i == 19)
            cr_assert_eq(fdn_clock_advance(clock, 600), FDN_OK);
    }
    cr_assert_eq(fdn_clock_advance(clock, 500), FDN_OK);
    cr_assert_eq(fdn_registry_sweep(ttl), 20);
    expect_index_exact(ttl, 20);
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
    cr_expect_eq(fdn_failing_allocator_live(fa), 0);
    fdn_failing_allocator_destroy(fa);
    fdn_clock_destroy(clock);
}
