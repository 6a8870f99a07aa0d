/*
 * groups.c — duplicate-key namespaces (process groups): join, leave,
 * members, dispatch, owner death; namespace options and kinds.
 */
#include "unit/registry/reg_helpers.h"

#include <pthread.h>

static reg_fixture_t fx;

static void setup(void) { reg_fixture_up(&fx, 2); }
static void teardown(void) { reg_fixture_down(&fx); }

static fdn_registry_ns_t *group_ns(const char *name)
{
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    o.kind = FDN_REGISTRY_DUPLICATE;
    fdn_registry_ns_t *ns = NULL;
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, name, &o, &ns), FDN_OK);
    return ns;
}

static bool has_pid(const fdn_pid_t *pids, size_t n, fdn_pid_t p)
{
    for (size_t i = 0; i < n; i++)
        if (pids[i] == p)
            return true;
    return false;
}

/* Checks: REG-I5 REG-C7 */
Test(registry_groups, join_leave_members, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns = group_ns("workers");
    fdn_pid_t a = reg_spawn_idle(fx.rt), b = reg_spawn_idle(fx.rt),
              c = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_join(ns, "pool", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_join(ns, "pool", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_join(ns, "pool", c, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_join(ns, "other", a, NULL, NULL), FDN_OK);
    /* A pid is a member at most once. */
    fdn_registry_reply_t reply;
    cr_assert_eq(fdn_registry_join(ns, "pool", b, NULL, &reply), FDN_EEXIST);
    cr_assert_eq(reply.winner, b);
    fdn_pid_t pids[8];
    size_t found = 0;
    cr_assert_eq(fdn_registry_members(ns, "pool", pids, 8, &found), FDN_OK);
    cr_assert_eq(found, 3);
    cr_assert(has_pid(pids, 3, a) && has_pid(pids, 3, b) &&
              has_pid(pids, 3, c));
    /* found reports the total beyond cap. */
    cr_assert_eq(fdn_registry_members(ns, "pool", pids, 1, &found), FDN_OK);
    cr_assert_eq(found, 3);
    cr_assert_eq(fdn_registry_count(ns), 4);

    cr_assert_eq(fdn_registry_leave(ns, "pool", b), FDN_OK);
    cr_assert_eq(fdn_registry_leave(ns, "pool", b), FDN_ENOENT);
    cr_assert_eq(fdn_registry_members(ns, "pool", pids, 8, &found), FDN_OK);
    cr_assert_eq(found, 2);
    cr_assert(!has_pid(pids, 2, b));
    cr_assert_eq(fdn_registry_count(ns), 3);
    cr_assert_eq(fdn_registry_keys(fx.reg, a, NULL, NULL), 2);

    /* The last member leaving removes the group. */
    cr_assert_eq(fdn_registry_leave(ns, "other", a), FDN_OK);
    cr_assert_eq(fdn_registry_members(ns, "other", NULL, 0, &found), FDN_OK);
    cr_assert_eq(found, 0);
    cr_assert_eq(fdn_registry_join(ns, "other", c, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_members(ns, "other", pids, 8, &found), FDN_OK);
    cr_assert_eq(found, 1);
    cr_assert_eq(pids[0], c);
}

/* Checks: REG-I5 REG-C7 REG-L1 */
Test(registry_groups, owner_death_leaves_every_group, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns = group_ns("g");
    fdn_pid_t a = reg_spawn_idle(fx.rt), b = reg_spawn_idle(fx.rt);
    char key[16];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(fdn_registry_join(ns, key, a, NULL, NULL), FDN_OK);
        cr_assert_eq(fdn_registry_join(ns, key, b, NULL, NULL), FDN_OK);
    }
    cr_assert_eq(fdn_registry_count(ns), 100);
    reg_kill(fx.rt, a);
    cr_assert(REG_POLL_UNTIL(fdn_registry_count(ns) == 50));
    fdn_pid_t pids[4];
    size_t found;
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(fdn_registry_members(ns, key, pids, 4, &found), FDN_OK);
        cr_assert_eq(found, 1);
        cr_assert_eq(pids[0], b);
    }
    cr_assert_eq(fdn_registry_keys(fx.reg, a, NULL, NULL), 0);
}

struct tally {
    int calls;
    fdn_pid_t seen[16];
    int64_t weight_sum;
};

static void tally_fn(void *arg, const char *key, fdn_pid_t pid,
                     const fdn_meta_field_t *fields, uint32_t nfields)
{
    struct tally *t = arg;
    cr_assert_str_eq(key, "pool");
    if (t->calls < 16)
        t->seen[t->calls] = pid;
    t->calls++;
    for (uint32_t i = 0; i < nfields; i++)
        if (strcmp(fields[i].name, "w") == 0)
            t->weight_sum += fields[i].value.as.i;
}

/* Checks: REG-C7 */
Test(registry_groups, dispatch_calls_each_member_once, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns = group_ns("d");
    fdn_pid_t p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = reg_spawn_idle(fx.rt);
        fdn_meta_t m = {0};
        cr_assert_eq(fdn_meta_set_int(&m, "w", i + 1), FDN_OK);
        cr_assert_eq(fdn_registry_join(ns, "pool", p[i], &m, NULL), FDN_OK);
    }
    struct tally t = {0};
    cr_assert_eq(fdn_registry_dispatch(ns, "pool", tally_fn, &t), 5);
    cr_assert_eq(t.calls, 5);
    cr_assert_eq(t.weight_sum, 15);
    for (int i = 0; i < 5; i++)
        cr_assert(has_pid(t.seen, 5, p[i]));
    cr_assert_eq(fdn_registry_dispatch(ns, "nobody", tally_fn, &t), 0);

    /* On a unique namespace dispatch reaches the one owner, if any. */
    fdn_registry_ns_t *u;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "u", &u), FDN_OK);
    cr_assert_eq(fdn_registry_register(u, "pool", p[0], NULL, NULL), FDN_OK);
    struct tally t2 = {0};
    cr_assert_eq(fdn_registry_dispatch(u, "pool", tally_fn, &t2), 1);
    cr_assert_eq(t2.seen[0], p[0]);
    size_t found;
    cr_assert_eq(fdn_registry_members(u, "pool", NULL, 0, &found), FDN_OK);
    cr_assert_eq(found, 1);
}

/* Checks: REG-C6 */
Test(registry_groups, namespace_options_and_kinds, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *g = group_ns("g");
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    o.kind = FDN_REGISTRY_DUPLICATE;
    fdn_registry_ns_t *again = NULL;
    /* Same options: the same namespace; other options: FDN_EEXIST. */
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "g", &o, &again), FDN_OK);
    cr_assert_eq(again, g);
    o.max_entries = 10;
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "g", &o, &again),
                 FDN_EEXIST);
    /* Without options the existing one is returned whatever it is. */
    cr_assert_eq(fdn_registry_namespace(fx.reg, "g", &again), FDN_OK);
    cr_assert_eq(again, g);
    cr_assert_eq(fdn_registry_ns_kind(g), FDN_REGISTRY_DUPLICATE);
    cr_assert_str_eq(fdn_registry_ns_name(g), "g");

    /* Bad options. */
    fdn_registry_ns_opts_init(&o);
    o.kind = (fdn_registry_kind_t)7;
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "x", &o, &again),
                 FDN_EINVAL);
    fdn_registry_ns_opts_init(&o);
    o.on_full = FDN_REGISTRY_EVICT_LRU; /* evicting needs a limit */
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "x", &o, &again),
                 FDN_EINVAL);
    fdn_registry_ns_opts_init(&o);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "a", FDN_META_INT, true,
                                            false), FDN_OK);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "a", FDN_META_STR, false,
                                            false), FDN_EINVAL);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "b", FDN_META_NONE, false,
                                            false), FDN_EINVAL);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "", FDN_META_INT, false,
                                            false), FDN_EINVAL);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "a-name-that-is-far-too-long",
                                            FDN_META_INT, false, false),
                 FDN_ETOOBIG);
    for (int i = 0; i < FDN_REGISTRY_INDEX_MAX; i++) {
        char n[8];
        snprintf(n, sizeof n, "i%d", i);
        cr_assert_eq(fdn_registry_ns_opts_field(&o, n, FDN_META_INT, false,
                                                true), FDN_OK);
    }
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "one-more", FDN_META_INT,
                                            false, true), FDN_ELIMIT);

    /* Kind mismatches. */
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    fdn_registry_ns_t *u;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "u", &u), FDN_OK);
    cr_assert_eq(fdn_registry_join(u, "k", p, NULL, NULL), FDN_ENOTSUP);
    cr_assert_eq(fdn_registry_leave(u, "k", p), FDN_ENOTSUP);
    cr_assert_eq(fdn_registry_register(g, "k", p, NULL, NULL), FDN_ENOTSUP);
    cr_assert_eq(fdn_registry_lookup(g, "k", NULL, NULL), FDN_ENOTSUP);
    const char *keys[] = {"k"};
    cr_assert_eq(fdn_registry_register_batch(g, keys, NULL, 1, p, NULL),
                 FDN_ENOTSUP);
    /* Bad input to the group calls. */
    cr_assert_eq(fdn_registry_join(g, "", p, NULL, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_registry_join(g, "k", FDN_PID_NONE, NULL, NULL),
                 FDN_EINVAL);
    cr_assert_eq(fdn_registry_members(g, NULL, NULL, 0, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_registry_members(g, "k", NULL, 3, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_registry_dispatch(NULL, "k", NULL, NULL), FDN_EINVAL);
}

/* Checks: REG-I5 REG-C7 REG-I2 */
Test(registry_groups, get_by_key_and_pid, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns = group_ns("g");
    fdn_pid_t a = reg_spawn_idle(fx.rt), b = reg_spawn_idle(fx.rt);
    fdn_meta_t ma = {0}, mb = {0}, out;
    cr_assert_eq(fdn_meta_set_str(&ma, "role", "a"), FDN_OK);
    cr_assert_eq(fdn_meta_set_str(&mb, "role", "b"), FDN_OK);
    cr_assert_eq(fdn_registry_join(ns, "k", a, &ma, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_join(ns, "k", b, &mb, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_get(ns, "k", a, &out, NULL), FDN_OK);
    cr_assert_str_eq(fdn_meta_get(&out, "role")->as.s, "a");
    cr_assert_eq(fdn_registry_get(ns, "k", b, &out, NULL), FDN_OK);
    cr_assert_str_eq(fdn_meta_get(&out, "role")->as.s, "b");
    cr_assert_eq(fdn_registry_get(ns, "nope", b, &out, NULL), FDN_ENOENT);
}

struct joiner {
    fdn_registry_ns_t *ns;
    fdn_pid_t pids[64];
    int n;
};

static void *join_leave_loop(void *arg)
{
    struct joiner *j = arg;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < j->n; i++)
            cr_assert_eq(fdn_registry_join(j->ns, "hot", j->pids[i], NULL,
                                           NULL), FDN_OK);
        for (int i = 0; i < j->n; i++)
            cr_assert_eq(fdn_registry_leave(j->ns, "hot", j->pids[i]),
                         FDN_OK);
    }
    return NULL;
}

#define STABLE 16

/* What a walk of the concurrent test saw: how often each stable member
 * came up, and how many entries in all. */
struct walk {
    const fdn_pid_t *stable;
    int seen[STABLE];
    int total;
};

static void walk_fn(void *arg, const char *key, fdn_pid_t pid,
                    const fdn_meta_field_t *fields, uint32_t nfields)
{
    struct walk *w = arg;
    (void)key;
    (void)fields;
    (void)nfields;
    w->total++;
    for (int i = 0; i < STABLE; i++)
        if (w->stable[i] == pid)
            w->seen[i]++;
}

/* Checks: REG-I5 REG-C7 REG-F3
 * Two threads churn 2 x 32 members through join and leave while the main
 * thread walks the group: every walk meets each of the STABLE members,
 * who stay throughout, exactly once (REG-C7's guarantee for a concurrent
 * dispatch); a churning member may or may not be met.  At the end the
 * group holds only the stable members. */
Test(registry_groups, concurrent_join_leave_balances, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns = group_ns("g");
    fdn_pid_t stable[STABLE];
    for (int i = 0; i < STABLE; i++) {
        stable[i] = reg_spawn_idle(fx.rt);
        cr_assert_eq(fdn_registry_join(ns, "hot", stable[i], NULL, NULL),
                     FDN_OK);
    }
    struct joiner j[2];
    for (int t = 0; t < 2; t++) {
        j[t].ns = ns;
        j[t].n = 32;
        for (int i = 0; i < 32; i++)
            j[t].pids[i] = reg_spawn_idle(fx.rt);
    }
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        pthread_create(&th[t], NULL, join_leave_loop, &j[t]);
    for (int i = 0; i < 2000; i++) {
        struct walk w = {.stable = stable};
        int n = fdn_registry_dispatch(ns, "hot", walk_fn, &w);
        cr_assert_eq(n, w.total);
        cr_assert_geq(w.total, STABLE);
        for (int k = 0; k < STABLE; k++)
            cr_assert_eq(w.seen[k], 1, "walk %d met stable member %d %d times",
                         i, k, w.seen[k]);
    }
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    size_t found;
    cr_assert_eq(fdn_registry_members(ns, "hot", NULL, 0, &found), FDN_OK);
    cr_assert_eq(found, STABLE);
    cr_assert_eq(fdn_registry_count(ns), STABLE);
}
