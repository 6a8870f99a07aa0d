/*
 * stats.c — fdn_registry_stats (REG-C17): every kind of change is counted
 * once, refused writes and batch rollbacks are not, the counts balance
 * with the entries, and two threads writing at once lose nothing; and
 * fdn_registry_namespace_find (REG-C2), which never creates.  Time is a
 * virtual clock, for the ttl.
 */
#include "unit/registry/reg_helpers.h"

#include <pthread.h>

static fdn_failing_allocator_t *fa;
static fdn_clock_t *clk;
static fdn_runtime_t *rt;
static fdn_registry_t *reg;

static void setup(void)
{
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    cr_assert_eq(fdn_clock_virtual_create(FDN_NS_PER_S, &clk), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 2;
    o.clock = clk;
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    fdn_registry_opts_t ro;
    fdn_registry_opts_init(&ro);
    ro.sweep_interval_ns = FDN_INFINITY; /* the tests sweep */
    cr_assert_eq(fdn_registry_create(rt, &ro, &reg), FDN_OK);
}

static void teardown(void)
{
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
    fdn_clock_destroy(clk);
    cr_expect_eq(fdn_failing_allocator_live(fa), 0);
    fdn_failing_allocator_destroy(fa);
}

/* The balance every quiescent registry keeps (fdn_registry_stats_t). */
static void expect_balanced(const fdn_registry_stats_t *s)
{
    uint64_t removed = s->unregistrations + s->leaves + s->cleanups +
                       s->evictions + s->expirations;
    cr_expect_eq(s->registrations + s->joins - removed, s->entries,
                 "added %llu, removed %llu, entries %llu",
                 (unsigned long long)(s->registrations + s->joins),
                 (unsigned long long)removed,
                 (unsigned long long)s->entries);
    cr_expect_eq(s->entries, fdn_registry_total(reg));
    cr_expect_eq(s->owners, fdn_registry_owner_count(reg));
}

static fdn_meta_t meta_int(const char *name, int64_t v)
{
    fdn_meta_t m;
    memset(&m, 0, sizeof m);
    cr_assert_eq(fdn_meta_set_int(&m, name, v), FDN_OK);
    return m;
}

/* Checks: REG-C17 */
Test(registry_stats, counts_every_kind_of_change_once, .init = setup,
     .fini = teardown)
{
    fdn_registry_stats_t s;
    fdn_registry_stats(reg, &s);
    cr_assert_eq(s.registrations + s.joins + s.entries + s.owners, 0);
    cr_assert_eq(s.namespaces, 0);

    fdn_registry_ns_t *u, *d, *full, *ttl;
    cr_assert_eq(fdn_registry_namespace(reg, "u", &u), FDN_OK);
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    o.kind = FDN_REGISTRY_DUPLICATE;
    cr_assert_eq(fdn_registry_namespace_opts(reg, "d", &o, &d), FDN_OK);
    fdn_registry_ns_opts_init(&o);
    o.max_entries = 2;
    o.on_full = FDN_REGISTRY_EVICT_LRU;
    cr_assert_eq(fdn_registry_namespace_opts(reg, "full", &o, &full), FDN_OK);
    fdn_registry_ns_opts_init(&o);
    o.ttl_ns = FDN_NS_PER_S;
    cr_assert_eq(fdn_registry_namespace_opts(reg, "ttl", &o, &ttl), FDN_OK);

    fdn_pid_t a = reg_spawn_idle(rt), b = reg_spawn_idle(rt);
    fdn_pid_t dead = reg_spawn_idle(rt);
    reg_kill(rt, dead);

    /* UNIQUE: 3 registrations, 1 unregistration, 2 updates, 1 touch. */
    fdn_meta_t m1 = meta_int("x", 1), m2 = meta_int("y", 2);
    cr_assert_eq(fdn_registry_register(u, "k1", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(u, "k2", a, &m1, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(u, "k3", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_unregister(u, "k1", a), FDN_OK);
    cr_assert_eq(fdn_registry_update(u, "k2", a, &m2, FDN_REGISTRY_MERGE),
                 FDN_OK);
    cr_assert_eq(fdn_registry_update(u, "k3", b, &m1, FDN_REGISTRY_REPLACE),
                 FDN_OK);
    cr_assert_eq(fdn_registry_touch(u, "k2", a), FDN_OK);
    /* Refused: none of these is counted. */
    cr_assert_eq(fdn_registry_register(u, "k2", b, NULL, NULL), FDN_EEXIST);
    cr_assert_eq(fdn_registry_register(u, "kd", dead, NULL, NULL),
                 FDN_ENOPROC);
    cr_assert_eq(fdn_registry_unregister(u, "k2", b), FDN_ENOENT);
    cr_assert_eq(fdn_registry_update(u, "nope", a, &m1, FDN_REGISTRY_MERGE),
                 FDN_ENOENT);
    cr_assert_eq(fdn_registry_touch(u, "nope", a), FDN_ENOENT);
    cr_assert_eq(fdn_registry_join(u, "g", a, NULL, NULL), FDN_ENOTSUP);

    /* A batch: 3 registrations; a refused batch (k2 is taken) rolls back
     * the keys it inserted before k2 and counts nothing. */
    const char *ok_keys[] = {"b1", "b2", "b3"};
    const char *bad_keys[] = {"c1", "c2", "k2"};
    fdn_registry_reply_t reply;
    cr_assert_eq(fdn_registry_register_batch(u, ok_keys, NULL, 3, b, &reply),
                 FDN_OK);
    cr_assert_eq(fdn_registry_register_batch(u, bad_keys, NULL, 3, b, &reply),
                 FDN_EEXIST);
    cr_assert_eq(reply.failed, 2);

    /* DUPLICATE: 3 joins, 1 leave, and 1 unregister (a leave too). */
    cr_assert_eq(fdn_registry_join(d, "g", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_join(d, "g", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_join(d, "h", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_join(d, "g", a, NULL, NULL), FDN_EEXIST);
    cr_assert_eq(fdn_registry_leave(d, "g", a), FDN_OK);
    cr_assert_eq(fdn_registry_unregister(d, "h", b), FDN_OK);

    /* Eviction: 3 registrations into a namespace of 2 evict 1. */
    cr_assert_eq(fdn_registry_register(full, "e1", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(full, "e2", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(full, "e3", b, NULL, NULL), FDN_OK);

    /* Expiry: 2 registrations, both expire and are swept. */
    cr_assert_eq(fdn_registry_register(ttl, "t1", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(ttl, "t2", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_clock_advance(clk, 2 * FDN_NS_PER_S), FDN_OK);
    cr_assert_eq(fdn_registry_sweep(ttl), 2);

    fdn_registry_stats(reg, &s);
    cr_expect_eq(s.registrations, 3 + 3 + 3 + 2);
    cr_expect_eq(s.unregistrations, 1);
    cr_expect_eq(s.joins, 3);
    cr_expect_eq(s.leaves, 2);
    cr_expect_eq(s.updates, 2);
    cr_expect_eq(s.touches, 1);
    cr_expect_eq(s.evictions, 1);
    cr_expect_eq(s.expirations, 2);
    cr_expect_eq(s.cleanups, 0);
    cr_expect_eq(s.namespaces, 4);
    cr_expect_eq(s.owners, 2);
    /* u: k2, k3, b1..b3; d: g/b; full: two of e1..e3. */
    cr_expect_eq(s.entries, 5 + 1 + 2);
    expect_balanced(&s);

    /* a dies: its entries are cleanups (k2 in u, e2 in full; e1 was
     * evicted, its join of g was left, t1 expired). */
    reg_kill(rt, a);
    fdn_registry_stats(reg, &s);
    cr_expect_eq(s.cleanups, 2);
    cr_expect_eq(s.owners, 1);
    cr_expect_eq(s.entries, 6);
    expect_balanced(&s);
    reg_kill(rt, b);
    fdn_registry_stats(reg, &s);
    cr_expect_eq(s.cleanups, 2 + 6);
    cr_expect_eq(s.entries, 0);
    cr_expect_eq(s.owners, 0);
    expect_balanced(&s);
}

/* Checks: REG-C17 */
Test(registry_stats, null_arguments, .init = setup, .fini = teardown)
{
    fdn_registry_stats_t s;
    memset(&s, 0xff, sizeof s);
    fdn_registry_stats(NULL, &s);
    cr_expect_eq(s.registrations, 0);
    cr_expect_eq(s.entries, 0);
    cr_expect_eq(s.namespaces, 0);
    fdn_registry_stats(reg, NULL); /* does nothing */
}

typedef struct churn {
    pthread_barrier_t *go;
    fdn_registry_ns_t *ns;
    fdn_pid_t pid;
    int id;
    int rounds;
    uint64_t kept; /* registrations left in place */
} churn_t;

/* Registers rounds keys, unregistering every other one. */
static void *churn_thread(void *arg)
{
    churn_t *c = arg;
    char key[32];
    pthread_barrier_wait(c->go);
    for (int i = 0; i < c->rounds; i++) {
        snprintf(key, sizeof key, "t%d-%d", c->id, i);
        if (fdn_registry_register(c->ns, key, c->pid, NULL, NULL) != FDN_OK)
            continue;
        if (i % 2 == 0)
            fdn_registry_unregister(c->ns, key, c->pid);
        else
            c->kept++;
    }
    return NULL;
}

/* Checks: REG-C17 */
Test(registry_stats, concurrent_writers_lose_no_count, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(reg, "c", &ns), FDN_OK);
    enum { THREADS = 4, ROUNDS = 5000 };
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, THREADS);
    churn_t c[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        c[i] = (churn_t){.go = &go, .ns = ns, .pid = reg_spawn_idle(rt),
                         .id = i, .rounds = ROUNDS};
        cr_assert_eq(pthread_create(&th[i], NULL, churn_thread, &c[i]), 0);
    }
    uint64_t kept = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        kept += c[i].kept;
    }
    pthread_barrier_destroy(&go);
    cr_assert_eq(kept, THREADS * ROUNDS / 2);
    fdn_registry_stats_t s;
    fdn_registry_stats(reg, &s);
    cr_expect_eq(s.registrations, THREADS * ROUNDS);
    cr_expect_eq(s.unregistrations, THREADS * ROUNDS / 2);
    cr_expect_eq(s.entries, kept);
    cr_expect_eq(fdn_registry_count(ns), kept);
    expect_balanced(&s);
    for (int i = 0; i < THREADS; i++)
        reg_kill(rt, c[i].pid);
    fdn_registry_stats(reg, &s);
    cr_expect_eq(s.cleanups, kept);
    cr_expect_eq(s.entries, 0);
    expect_balanced(&s);
}

/* Checks: REG-C2 */
Test(registry_stats, namespace_find_never_creates, .init = setup,
     .fini = teardown)
{
    cr_assert_null(fdn_registry_namespace_find(reg, "x"));
    cr_assert_null(fdn_registry_namespace_find(NULL, "x"));
    cr_assert_null(fdn_registry_namespace_find(reg, NULL));
    fdn_registry_stats_t s;
    fdn_registry_stats(reg, &s);
    cr_expect_eq(s.namespaces, 0);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(reg, "x", &ns), FDN_OK);
    cr_expect_eq(fdn_registry_namespace_find(reg, "x"), ns);
    cr_assert_null(fdn_registry_namespace_find(reg, "y"));
}
