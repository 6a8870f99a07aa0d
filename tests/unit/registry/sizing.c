/*
 * sizing.c — the registry's tables follow their counts (REG-I4): entry
 * tables, group tables and the owner table grow and shrink with what they
 * hold, however one thread spreads its writes over namespaces, and after
 * owners die.
 */
#include "unit/registry/reg_helpers.h"

#include "registry/registry_internal.h"

/* Entries per bucket an entry table keeps between checks (map.c grows
 * past 4 and shrinks below 1/2), with the slack a check's period allows:
 * a check is due within REG_STRIPES * 64 changes. */
#define SLACK (REG_STRIPES * 64)

static void expect_fits(fdn_registry_ns_t *ns, const char *what)
{
    uint64_t n = fdn_registry_count(ns), b = fdn__map_buckets(&ns->table);
    cr_assert_leq(n, 4 * b + SLACK, "%s: %llu entries in %llu buckets", what,
                  (unsigned long long)n, (unsigned long long)b);
    cr_assert(b <= 8 || 2 * n + 2 * SLACK >= b,
              "%s: %llu entries in %llu buckets", what,
              (unsigned long long)n, (unsigned long long)b);
}

/* Checks: REG-I4 */
Test(registry_sizing, one_thread_alternating_namespaces_sizes_both)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *a, *b;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "a", &a), FDN_OK);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "b", &b), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    enum { N = 60000 };
    char key[32];
    /* A per-thread write counter shared by all namespaces once checked a
     * always on odd writes and so never: a stayed at 128 buckets. */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "a%d", i);
        cr_assert_eq(fdn_registry_register(a, key, p, NULL, NULL), FDN_OK);
        snprintf(key, sizeof key, "b%d", i);
        cr_assert_eq(fdn_registry_register(b, key, p, NULL, NULL), FDN_OK);
        if (i % 1000 == 999) {
            expect_fits(a, "a growing");
            expect_fits(b, "b growing");
        }
    }
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "a%d", i);
        cr_assert_eq(fdn_registry_unregister(a, key, p), FDN_OK);
        snprintf(key, sizeof key, "c%d", i);
        cr_assert_eq(fdn_registry_register(b, key, p, NULL, NULL), FDN_OK);
        if (i % 1000 == 999) {
            expect_fits(a, "a shrinking");
            expect_fits(b, "b growing further");
        }
    }
    cr_assert_leq(fdn__map_buckets(&a->table), 2 * SLACK);
    reg_fixture_down(&fx);
}

/* Checks: REG-I4 */
Test(registry_sizing, group_tables_grow_with_alternating_joins)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    o.kind = FDN_REGISTRY_DUPLICATE;
    fdn_registry_ns_t *g, *h;
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "g", &o, &g), FDN_OK);
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "h", &o, &h), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    enum { N = 20000 };
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "g%d", i);
        cr_assert_eq(fdn_registry_join(g, key, p, NULL, NULL), FDN_OK);
        snprintf(key, sizeof key, "h%d", i);
        cr_assert_eq(fdn_registry_join(h, key, p, NULL, NULL), FDN_OK);
    }
    /* One group per key: the group tables (kept at load <= 1 by their
     * fit) hold N groups each. */
    unsigned long gb = atomic_load(&g->groups.buckets);
    unsigned long hb = atomic_load(&h->groups.buckets);
    cr_assert_geq(gb + SLACK, N, "g: %d groups in %lu buckets", N, gb);
    cr_assert_geq(hb + SLACK, N, "h: %d groups in %lu buckets", N, hb);
    expect_fits(g, "g");
    expect_fits(h, "h");
    reg_fixture_down(&fx);
}

/* Checks: REG-I4 REG-L1 */
Test(registry_sizing, tables_shrink_when_owners_die)
{
    /* One scheduler: the deaths run one after another, so no death's fit
     * meets another's resize (a fit skips a table being resized; the
     * next write's check then fits it). */
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    enum { OWNERS = 3000 };
    static fdn_pid_t owners[OWNERS];
    char key[32];
    for (int i = 0; i < OWNERS; i++) {
        owners[i] = reg_spawn_idle(fx.rt);
        for (int k = 0; k < 4; k++) {
            snprintf(key, sizeof key, "o%d.%d", i, k);
            cr_assert_eq(fdn_registry_register(ns, key, owners[i], NULL, NULL),
                         FDN_OK);
        }
    }
    uint64_t owner_buckets = fdn__map_buckets(&fx.reg->owners);
    cr_assert_geq(4 * owner_buckets + SLACK, OWNERS);
    expect_fits(ns, "full");
    for (int i = 0; i < OWNERS; i++)
        cr_assert_eq(fdn_exit(fx.rt, NULL, owners[i], FDN_REASON_KILL), FDN_OK);
    cr_assert(REG_POLL_UNTIL(fdn_registry_count(ns) == 0 &&
                             fdn_registry_owner_count(fx.reg) == 0));
    /* The deaths fitted the tables: nothing waits for a next write. */
    cr_assert(REG_POLL_UNTIL(fdn__map_buckets(&ns->table) <= 8 &&
                             fdn__map_buckets(&fx.reg->owners) <= 8),
              "entry table %llu, owner table %llu buckets",
              (unsigned long long)fdn__map_buckets(&ns->table),
              (unsigned long long)fdn__map_buckets(&fx.reg->owners));
    reg_fixture_down(&fx);
}

/* Checks: REG-I4 */
Test(registry_sizing, the_owner_table_follows_the_owner_count)
{
    /* Owner checks used to ride on namespace checks only: with a big
     * namespace (period 64) whose count swings by one as each new owner
     * registers and leaves, no check came, and 14,000 owners sat in 2,048
     * buckets (the review's case). */
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    fdn_pid_t keeper = reg_spawn_idle(fx.rt);
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(fdn_registry_register(ns, key, keeper, NULL, NULL),
                     FDN_OK);
    }
    enum { OWNERS = 12000 };
    for (int i = 0; i < OWNERS; i++) {
        fdn_pid_t p = reg_spawn_idle(fx.rt);
        cr_assert_eq(fdn_registry_register(ns, "x", p, NULL, NULL), FDN_OK);
        cr_assert_eq(fdn_registry_unregister(ns, "x", p), FDN_OK);
        if (i % 500 == 499) {
            uint64_t n = fdn_registry_owner_count(fx.reg);
            uint64_t b = fdn__map_buckets(&fx.reg->owners);
            cr_assert_leq(n, 4 * b + 64, "%llu owners in %llu buckets",
                          (unsigned long long)n, (unsigned long long)b);
        }
    }
    reg_fixture_down(&fx);
}

/* Checks: REG-I4 REG-L3 */
Test(registry_sizing, a_sweep_fits_the_group_table)
{
    fdn_clock_t *clk;
    cr_assert_eq(fdn_clock_virtual_create(FDN_NS_PER_S, &clk), FDN_OK);
    fdn_failing_allocator_t *fa;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 1;
    o.clock = clk;
    o.allocator = fdn_failing_allocator_get(fa);
    fdn_runtime_t *rt;
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    fdn_registry_opts_t ro;
    fdn_registry_opts_init(&ro);
    ro.sweep_interval_ns = FDN_INFINITY; /* the test sweeps */
    fdn_registry_t *reg;
    cr_assert_eq(fdn_registry_create(rt, &ro, &reg), FDN_OK);
    fdn_registry_ns_opts_t no;
    fdn_registry_ns_opts_init(&no);
    no.kind = FDN_REGISTRY_DUPLICATE;
    no.ttl_ns = FDN_NS_PER_S;
    fdn_registry_ns_t *g;
    cr_assert_eq(fdn_registry_namespace_opts(reg, "g", &no, &g), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(rt);
    char key[32];
    enum { N = 20000 };
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "g%d", i);
        cr_assert_eq(fdn_registry_join(g, key, p, NULL, NULL), FDN_OK);
    }
    cr_assert_geq(atomic_load(&g->groups.buckets) + SLACK, N);
    cr_assert_eq(fdn_clock_advance(clk, 2 * FDN_NS_PER_S), FDN_OK);
    cr_assert_eq(fdn_registry_sweep(g), N);
    cr_assert_eq(fdn_registry_count(g), 0);
    /* The sweep emptied every table, and fitted every one. */
    cr_assert_leq(fdn__map_buckets(&g->table), 8);
    cr_assert_leq(atomic_load(&g->groups.buckets), 64,
                  "%lu group buckets", atomic_load(&g->groups.buckets));
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
    fdn_clock_destroy(clk);
    cr_assert_eq(fdn_failing_allocator_live(fa), 0);
    fdn_failing_allocator_destroy(fa);
}
