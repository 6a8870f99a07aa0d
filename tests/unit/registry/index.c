/*
 * index.c — white-box tests of the secondary index (src/registry/index.c):
 * the value order, and inserts, removals and range scans checked against a
 * brute-force model over random data, plus out-of-memory behaviour.
 */
#include "unit/registry/rq_helpers.h"

#include "registry/registry_internal.h"

#include <math.h>

static int sign(int c)
{
    return (c > 0) - (c < 0);
}

/* Checks: REG-C14 */
Test(registry_index, value_order_within_and_across_types)
{
    fdn_meta_value_t a, b;
    a = vint(-3), b = vint(7);
    cr_assert_eq(sign(fdn__meta_value_cmp(&a, &b)), -1);
    cr_assert_eq(sign(fdn__meta_value_cmp(&b, &a)), 1);
    cr_assert_eq(fdn__meta_value_cmp(&a, &a), 0);
    a = vint(INT64_MIN), b = vint(INT64_MAX);
    cr_assert_eq(sign(fdn__meta_value_cmp(&a, &b)), -1);
    a = vdbl(-0.0), b = vdbl(0.0);
    cr_assert_eq(fdn__meta_value_cmp(&a, &b), 0, "-0.0 and 0.0 are equal");
    /* NaN orders after every number, infinity included, and equals
     * itself, so the index has a total order. */
    a = vdbl(NAN), b = vdbl(INFINITY);
    cr_assert_eq(sign(fdn__meta_value_cmp(&a, &b)), 1);
    cr_assert_eq(sign(fdn__meta_value_cmp(&b, &a)), -1);
    b = vdbl(NAN);
    cr_assert_eq(fdn__meta_value_cmp(&a, &b), 0);
    a = vdbl(-INFINITY), b = vdbl(-1e308);
    cr_assert_eq(sign(fdn__meta_value_cmp(&a, &b)), -1);
    a = vbool(false), b = vbool(true);
    cr_assert_eq(sign(fdn__meta_value_cmp(&a, &b)), -1);
    cr_assert_eq(fdn__meta_value_cmp(&b, &b), 0);
    a = vstr("abc"), b = vstr("abd");
    cr_assert_eq(sign(fdn__meta_value_cmp(&a, &b)), -1);
    a = vstr("ab"), b = vstr("abc");
    cr_assert_eq(sign(fdn__meta_value_cmp(&a, &b)), -1);
    a = vstr("\xff"), b = vstr("a");
    cr_assert_eq(sign(fdn__meta_value_cmp(&a, &b)), 1, "bytes are unsigned");
    /* Different types order by type number, whatever the values. */
    a = vint(1000), b = vdbl(-1000.0);
    cr_assert_eq(sign(fdn__meta_value_cmp(&a, &b)), -1);
    a = vstr(""), b = vbool(true);
    cr_assert_eq(sign(fdn__meta_value_cmp(&a, &b)), 1);
}

/* ---- a brute-force model ------------------------------------------------ */

enum { NLINKS = 3000 };

struct model {
    struct reg_index *ix;
    fdn_meta_type_t type;
    struct reg_ix_link links[NLINKS];
    bool is_in[NLINKS];          /* inserted (under a value or none) */
    fdn_meta_value_t val[NLINKS]; /* the value it was inserted with */
    bool has_val[NLINKS];        /* val is set (else inserted with NULL) */
    unsigned char seen[NLINKS];  /* scan visits */
};

static const double doubles[] = {-1.5, -0.0, 0.0, 2.25, 1e300, -1e300};

/* A random value, mostly of type t (small domain, so values repeat), some
 * of another type (which the index must ignore). */
static fdn_meta_value_t random_value(unsigned long long *s, fdn_meta_type_t t)
{
    if (reg_rand(s) % 10 == 0)
        t = (fdn_meta_type_t)(1 + (t % 4)); /* the next type */
    switch (t) {
    case FDN_META_INT:
        return vint((int64_t)(reg_rand(s) % 41) - 20);
    case FDN_META_DOUBLE: {
        unsigned r = (unsigned)(reg_rand(s) % 12);
        if (r < 6)
            return vdbl(doubles[r]);
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
    case FDN_META_STR: {
        char buf[8];
        snprintf(buf, sizeof buf, "s%02u", (unsigned)(reg_rand(s) % 30));
        return vstr(buf);
    }
    case FDN_META_NONE:
        break;
    }
    return vint(0);
}

/* What the index must hold for link i: under a value of the index's type. */
static bool model_indexed(const struct model *m, int i)
{
    return m->is_in[i] && m->has_val[i] && m->val[i].type == m->type;
}

static bool model_in_range(const struct model *m, int i,
                           const fdn_meta_value_t *lo, bool lo_open,
                           const fdn_meta_value_t *hi, bool hi_open)
{
    if (!model_indexed(m, i))
        return false;
    if (lo != NULL) {
        int c = fdn__meta_value_cmp(&m->val[i], lo);
        if (c < 0 || (lo_open && c == 0))
            return false;
    }
    if (hi != NULL) {
        int c = fdn__meta_value_cmp(&m->val[i], hi);
        if (c > 0 || (hi_open && c == 0))
            return false;
    }
    return true;
}

static bool mark_seen(void *arg, struct reg_ix_link *l)
{
    struct model *m = arg;
    ptrdiff_t i = l - m->links;
    cr_assert(i >= 0 && i < NLINKS, "scan gave a foreign link");
    m->seen[i]++;
    return true;
}

/* Checks size, each link's value, count_eq and one random range scan. */
static void model_check(struct model *m, unsigned long long *s)
{
    uint64_t size = 0;
    for (int i = 0; i < NLINKS; i++) {
        if (model_indexed(m, i)) {
            size++;
            cr_assert_neq(m->links[i].val, NULL);
            cr_assert_eq(fdn__rix_count_eq(m->ix, &m->val[i]) > 0, true);
        } else if (m->is_in[i]) {
            cr_assert_eq(m->links[i].val, NULL);
        }
    }
    cr_assert_eq(fdn__rix_size(m->ix), size);
    /* count_eq of a random value against the model. */
    fdn_meta_value_t v = random_value(s, m->type);
    uint64_t eq = 0;
    for (int i = 0; i < NLINKS; i++)
        if (model_in_range(m, i, &v, false, &v, false))
            eq++;
    cr_assert_eq(fdn__rix_count_eq(m->ix, &v), eq);
    /* A random range, each bound absent, open or closed. */
    fdn_meta_value_t lo = random_value(s, m->type);
    fdn_meta_value_t hi = random_value(s, m->type);
    const fdn_meta_value_t *plo = reg_rand(s) % 4 == 0 ? NULL : &lo;
    const fdn_meta_value_t *phi = reg_rand(s) % 4 == 0 ? NULL : &hi;
    bool lo_open = reg_rand(s) % 2, hi_open = reg_rand(s) % 2;
    memset(m->seen, 0, sizeof m->seen);
    uint64_t visited =
        fdn__rix_scan(m->ix, plo, lo_open, phi, hi_open, mark_seen, m);
    uint64_t want = 0;
    for (int i = 0; i < NLINKS; i++) {
        bool in = model_in_range(m, i, plo, lo_open, phi, hi_open);
        want += in;
        cr_assert_eq(m->seen[i], in ? 1 : 0, "link %d visited %u times",
                     i, m->seen[i]);
    }
    cr_assert_eq(visited, want);
    cr_assert_eq(fdn__rix_scan(m->ix, plo, lo_open, phi, hi_open, NULL, NULL),
                 want, "the count-only scan disagrees");
}

static void model_run(fdn_meta_type_t type, unsigned long long seed)
{
    fdn_failing_allocator_t *fa;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    struct model *m = calloc(1, sizeof *m);
    cr_assert_not_null(m);
    m->type = type;
    cr_assert_eq(fdn__rix_create(fdn_failing_allocator_get(fa), type, &m->ix),
                 FDN_OK);
    unsigned long long s = seed;
    for (int round = 0; round < 40; round++) {
        for (int k = 0; k < 500; k++) {
            int i = (int)(reg_rand(&s) % NLINKS);
            if (m->is_in[i]) {
                fdn__rix_remove(m->ix, &m->links[i]);
                m->is_in[i] = false;
                cr_assert_eq(m->links[i].val, NULL);
                /* Removing again is harmless (the link is under none). */
                fdn__rix_remove(m->ix, &m->links[i]);
            } else {
                m->has_val[i] = reg_rand(&s) % 8 != 0;
                m->val[i] = random_value(&s, type);
                cr_assert_eq(fdn__rix_insert(m->ix, &m->links[i],
                                             m->has_val[i] ? &m->val[i]
                                                           : NULL),
                             FDN_OK);
                m->is_in[i] = true;
            }
        }
        model_check(m, &s);
    }
    for (int i = 0; i < NLINKS; i++)
        if (m->is_in[i] && reg_rand(&s) % 2)
            fdn__rix_remove(m->ix, &m->links[i]);
    /* Destroy frees the value nodes still there, and nothing else. */
    fdn__rix_destroy(m->ix);
    cr_assert_eq(fdn_failing_allocator_live(fa), 0);
    free(m);
    fdn_failing_allocator_destroy(fa);
}

/* Checks: REG-I7 */
Test(registry_index, index_agrees_with_a_model_int)
{
    model_run(FDN_META_INT, reg_seed("query index int"));
}

/* Checks: REG-I7 */
Test(registry_index, index_agrees_with_a_model_double)
{
    model_run(FDN_META_DOUBLE, reg_seed("query index double"));
}

/* Checks: REG-I7 */
Test(registry_index, index_agrees_with_a_model_str)
{
    model_run(FDN_META_STR, reg_seed("query index str"));
}

/* Checks: REG-I7 */
Test(registry_index, index_agrees_with_a_model_bool)
{
    model_run(FDN_META_BOOL, reg_seed("query index bool"));
}

static bool stop_after_three(void *arg, struct reg_ix_link *l)
{
    (void)l;
    int *n = arg;
    return ++*n < 3;
}

/* Checks: REG-I7 */
Test(registry_index, scan_stops_when_fn_says_so)
{
    struct reg_index *ix;
    cr_assert_eq(fdn__rix_create(fdn_allocator_default(), FDN_META_INT, &ix),
                 FDN_OK);
    struct reg_ix_link links[10];
    for (int i = 0; i < 10; i++) {
        fdn_meta_value_t v = vint(i % 4);
        cr_assert_eq(fdn__rix_insert(ix, &links[i], &v), FDN_OK);
    }
    int n = 0;
    cr_assert_eq(fdn__rix_scan(ix, NULL, false, NULL, false,
                               stop_after_three, &n),
                 3);
    cr_assert_eq(n, 3);
    fdn_meta_value_t one = vint(1), two = vint(2);
    /* (1, 2]: the values 2 only; [1, 2): the values 1 only. */
    cr_assert_eq(fdn__rix_scan(ix, &one, true, &two, false, NULL, NULL), 2);
    cr_assert_eq(fdn__rix_scan(ix, &one, false, &two, true, NULL, NULL), 3);
    cr_assert_eq(fdn__rix_scan(ix, &two, false, &one, false, NULL, NULL), 0,
                 "an empty range visits nothing");
    fdn_meta_value_t s = vstr("1");
    cr_assert_eq(fdn__rix_count_eq(ix, &s), 0, "another type is no value");
    for (int i = 0; i < 10; i++)
        fdn__rix_remove(ix, &links[i]);
    cr_assert_eq(fdn__rix_size(ix), 0);
    fdn__rix_destroy(ix);
}

/* Checks: REG-I7 */
Test(registry_index, out_of_memory_changes_nothing)
{
    fdn_failing_allocator_t *fa;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    const fdn_allocator_t *a = fdn_failing_allocator_get(fa);
    struct reg_index *ix = NULL;
    fdn_failing_allocator_arm(fa, 1, true);
    cr_assert_eq(fdn__rix_create(a, FDN_META_STR, &ix), FDN_ENOMEM);
    cr_assert_eq(ix, NULL);
    fdn_failing_allocator_arm(fa, 0, false);
    cr_assert_eq(fdn__rix_create(a, FDN_META_STR, &ix), FDN_OK);
    struct reg_ix_link l1, l2, l3;
    fdn_meta_value_t x = vstr("x"), y = vstr("y");
    cr_assert_eq(fdn__rix_insert(ix, &l1, &x), FDN_OK);
    int64_t live = fdn_failing_allocator_live(fa);
    fdn_failing_allocator_arm(fa, 1, true);
    /* A new value needs a node: refused, and the index is as it was. */
    cr_assert_eq(fdn__rix_insert(ix, &l2, &y), FDN_ENOMEM);
    cr_assert_eq(l2.val, NULL);
    cr_assert_eq(fdn__rix_size(ix), 1);
    cr_assert_eq(fdn__rix_count_eq(ix, &y), 0);
    cr_assert_eq(fdn_failing_allocator_live(fa), live);
    fdn__rix_remove(ix, &l2); /* safe on a refused link */
    /* A known value allocates nothing, so it still works. */
    cr_assert_eq(fdn__rix_insert(ix, &l3, &x), FDN_OK);
    cr_assert_eq(fdn__rix_count_eq(ix, &x), 2);
    fdn_failing_allocator_arm(fa, 0, false);
    fdn__rix_remove(ix, &l1);
    fdn__rix_remove(ix, &l3);
    cr_assert_eq(fdn_failing_allocator_live(fa), live - 1,
                 "the emptied value's node is freed");
    fdn__rix_destroy(ix);
    cr_assert_eq(fdn_failing_allocator_live(fa), 0);
    fdn_failing_allocator_destroy(fa);
}
