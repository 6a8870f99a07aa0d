/*
 * basic.c — unit tests of the registry's single-threaded contract: bad
 * input, namespaces, uniqueness, counts, unregister ownership, find, keys,
 * entry size and memory reclamation.
 */
#include "unit/registry/reg_helpers.h"

#include "registry/registry_internal.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <unistd.h>

/* Checks: REG-C1 */
Test(registry_basic, bad_input_gets_clear_codes)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns;
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);

    char longkey[FDN_REGISTRY_KEY_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';

    cr_expect_eq(fdn_registry_create(NULL, NULL, &fx.reg), FDN_EINVAL);
    cr_expect_eq(fdn_registry_namespace(NULL, "x", &ns), FDN_EINVAL);
    cr_expect_eq(fdn_registry_namespace(fx.reg, NULL, &ns), FDN_EINVAL);
    cr_expect_eq(fdn_registry_namespace(fx.reg, "", &ns), FDN_EINVAL);
    char longns[FDN_REGISTRY_NS_MAX + 2];
    memset(longns, 'n', sizeof longns - 1);
    longns[sizeof longns - 1] = '\0';
    cr_expect_eq(fdn_registry_namespace(fx.reg, longns, &ns), FDN_ETOOBIG);

    cr_expect_eq(fdn_registry_register(NULL, "k", p, NULL, NULL), FDN_EINVAL);
    cr_expect_eq(fdn_registry_register(ns, NULL, p, NULL, NULL), FDN_EINVAL);
    cr_expect_eq(fdn_registry_register(ns, "", p, NULL, NULL), FDN_EINVAL);
    cr_expect_eq(fdn_registry_register(ns, "k", FDN_PID_NONE, NULL, NULL),
                 FDN_EINVAL);
    cr_expect_eq(fdn_registry_register(ns, longkey, p, NULL, NULL),
                 FDN_ETOOBIG);
    cr_expect_eq(fdn_registry_lookup(ns, NULL, NULL, NULL), FDN_EINVAL);
    cr_expect_eq(fdn_registry_lookup(ns, "", NULL, NULL), FDN_EINVAL);
    cr_expect_eq(fdn_registry_lookup(ns, longkey, NULL, NULL), FDN_ETOOBIG);
    cr_expect_eq(fdn_registry_unregister(ns, NULL, p), FDN_EINVAL);
    cr_expect_eq(fdn_registry_unregister(ns, "k", FDN_PID_NONE), FDN_EINVAL);
    cr_expect_eq(fdn_registry_unregister(ns, longkey, p), FDN_ETOOBIG);
    fdn_meta_value_t v = {.type = FDN_META_INT, .as.i = 1};
    size_t found;
    cr_expect_eq(fdn_registry_find(ns, NULL, &v, NULL, 0, &found),
                 FDN_EINVAL);
    cr_expect_eq(fdn_registry_find(ns, "f", NULL, NULL, 0, &found),
                 FDN_EINVAL);
    cr_expect_eq(fdn_registry_find(ns, "f", &v, NULL, 3, &found), FDN_EINVAL);
    cr_expect_eq(fdn_registry_keys(NULL, p, NULL, NULL), FDN_EINVAL);
    cr_expect_eq(fdn_registry_keys(fx.reg, FDN_PID_NONE, NULL, NULL),
                 FDN_EINVAL);

    /* Exactly the maximum key length is accepted. */
    longkey[FDN_REGISTRY_KEY_MAX] = '\0';
    cr_expect_eq(fdn_registry_register(ns, longkey, p, NULL, NULL), FDN_OK);
    cr_expect_eq(fdn_registry_count(ns), 1);
    cr_expect_eq(fdn_registry_count(NULL), 0);
    cr_expect_eq(fdn_registry_total(NULL), 0);
    fdn_registry_destroy(NULL);
    reg_fixture_down(&fx);
}

/* Checks: REG-C2 */
Test(registry_basic, namespace_same_handle_and_limit)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_destroy(fx.reg);
    fdn_registry_opts_t o;
    fdn_registry_opts_init(&o);
    o.max_namespaces = 3;
    cr_assert_eq(fdn_registry_create(fx.rt, &o, &fx.reg), FDN_OK);

    fdn_registry_ns_t *a, *a2, *b, *c, *d = NULL;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "a", &a), FDN_OK);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "a", &a2), FDN_OK);
    cr_assert_eq(a, a2);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "b", &b), FDN_OK);
    cr_assert_neq(a, b);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "c", &c), FDN_OK);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "d", &d), FDN_ELIMIT);
    cr_assert_null(d);
    /* Existing names still resolve at the limit. */
    cr_assert_eq(fdn_registry_namespace(fx.reg, "b", &a2), FDN_OK);
    cr_assert_eq(a2, b);
    reg_fixture_down(&fx);
}

/* Checks: REG-I1 REG-I3 */
Test(registry_basic, unique_keys_and_counts)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns, *other;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "other", &other), FDN_OK);
    fdn_pid_t p1 = reg_spawn_idle(fx.rt), p2 = reg_spawn_idle(fx.rt);

    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(fdn_registry_register(ns, key, i % 2 ? p1 : p2, NULL,
                                           NULL),
                     FDN_OK);
    }
    for (int i = 0; i < 10; i++)
        cr_assert_eq(fdn_registry_register(other, "x", p1, NULL, NULL),
                     i == 0 ? FDN_OK : FDN_EEXIST);
    cr_assert_eq(fdn_registry_count(ns), 100);
    cr_assert_eq(fdn_registry_count(other), 1);
    cr_assert_eq(fdn_registry_total(fx.reg), 101);

    /* A second registration of a taken key, by anyone, fails and reports
     * the holder; nothing changes. */
    fdn_pid_t winner = FDN_PID_NONE;
    cr_assert_eq(fdn_registry_register(ns, "k3", p2, NULL, &winner),
                 FDN_EEXIST);
    cr_assert_eq(winner, p1);
    winner = FDN_PID_NONE;
    cr_assert_eq(fdn_registry_register(ns, "k3", p1, NULL, &winner),
                 FDN_EEXIST);
    cr_assert_eq(winner, p1);
    cr_assert_eq(fdn_registry_count(ns), 100);

    /* Count equals the entries reachable by lookup. */
    uint64_t reachable = 0;
    for (int i = 0; i < 200; i++) {
        fdn_pid_t got;
        snprintf(key, sizeof key, "k%d", i);
        if (fdn_registry_lookup(ns, key, &got, NULL) == FDN_OK) {
            reachable++;
            cr_assert_eq(got, i % 2 ? p1 : p2);
        }
    }
    cr_assert_eq(reachable, fdn_registry_count(ns));

    for (int i = 0; i < 100; i += 2) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(fdn_registry_unregister(ns, key, p2), FDN_OK);
    }
    cr_assert_eq(fdn_registry_count(ns), 50);
    cr_assert_eq(fdn_registry_total(fx.reg), 51);
    reg_fixture_down(&fx);
}

/* Checks: REG-S2 */
Test(registry_basic, namespaces_are_isolated)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *a, *b;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "a", &a), FDN_OK);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "b", &b), FDN_OK);
    fdn_pid_t p1 = reg_spawn_idle(fx.rt), p2 = reg_spawn_idle(fx.rt);
    fdn_meta_t ma, mb, got;
    memset(&ma, 0, sizeof ma);
    memset(&mb, 0, sizeof mb);
    cr_assert_eq(fdn_meta_set_str(&ma, "ns", "a"), FDN_OK);
    cr_assert_eq(fdn_meta_set_str(&mb, "ns", "b"), FDN_OK);

    cr_assert_eq(fdn_registry_register(a, "same", p1, &ma, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(b, "same", p2, &mb, NULL), FDN_OK);
    fdn_pid_t pid;
    cr_assert_eq(fdn_registry_lookup(a, "same", &pid, &got), FDN_OK);
    cr_assert_eq(pid, p1);
    cr_assert_str_eq(fdn_meta_get(&got, "ns")->as.s, "a");
    cr_assert_eq(fdn_registry_lookup(b, "same", &pid, &got), FDN_OK);
    cr_assert_eq(pid, p2);
    cr_assert_str_eq(fdn_meta_get(&got, "ns")->as.s, "b");

    cr_assert_eq(fdn_registry_register(a, "only-a", p1, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_lookup(b, "only-a", NULL, NULL), FDN_ENOENT);
    /* Unregistering in b does not touch a. */
    cr_assert_eq(fdn_registry_unregister(b, "only-a", p1), FDN_ENOENT);
    cr_assert_eq(fdn_registry_unregister(b, "same", p2), FDN_OK);
    cr_assert_eq(fdn_registry_lookup(a, "same", &pid, NULL), FDN_OK);
    cr_assert_eq(pid, p1);
    cr_assert_eq(fdn_registry_count(a), 2);
    cr_assert_eq(fdn_registry_count(b), 0);
    fdn_meta_value_t v = {.type = FDN_META_STR};
    strcpy(v.as.s, "a");
    size_t found = 99;
    cr_assert_eq(fdn_registry_find(b, "ns", &v, NULL, 0, &found), FDN_OK);
    cr_assert_eq(found, 0);
    reg_fixture_down(&fx);
}

/* Checks: REG-S6 */
Test(registry_basic, unregister_only_by_owner)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    fdn_pid_t p1 = reg_spawn_idle(fx.rt), p2 = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_register(ns, "k", p1, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_unregister(ns, "k", p2), FDN_ENOENT);
    fdn_pid_t pid;
    cr_assert_eq(fdn_registry_lookup(ns, "k", &pid, NULL), FDN_OK);
    cr_assert_eq(pid, p1);
    cr_assert_eq(fdn_registry_count(ns), 1);
    cr_assert_eq(fdn_registry_unregister(ns, "absent", p1), FDN_ENOENT);
    cr_assert_eq(fdn_registry_unregister(ns, "k", p1), FDN_OK);
    cr_assert_eq(fdn_registry_unregister(ns, "k", p1), FDN_ENOENT);
    cr_assert_eq(fdn_registry_lookup(ns, "k", &pid, NULL), FDN_ENOENT);
    cr_assert_eq(fdn_registry_count(ns), 0);
    /* The key is free again, for anyone. */
    cr_assert_eq(fdn_registry_register(ns, "k", p2, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_keys(fx.reg, p1, NULL, NULL), 0);
    cr_assert_eq(fdn_registry_keys(fx.reg, p2, NULL, NULL), 1);
    reg_fixture_down(&fx);
}

/* Checks: REG-S3 */
Test(registry_basic, lookup_copies_the_registered_meta)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    fdn_meta_t m, got;
    memset(&m, 0, sizeof m);
    cr_assert_eq(fdn_meta_set_int(&m, "i", -5), FDN_OK);
    cr_assert_eq(fdn_meta_set_str(&m, "s", "str"), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "k", p, &m, NULL), FDN_OK);
    /* The registry keeps a copy: changing the caller's map changes nothing. */
    cr_assert_eq(fdn_meta_set_int(&m, "i", 99), FDN_OK);
    memset(&got, 0xab, sizeof got);
    cr_assert_eq(fdn_registry_lookup(ns, "k", NULL, &got), FDN_OK);
    cr_assert_eq(got.count, 2);
    cr_assert_eq(fdn_meta_get(&got, "i")->as.i, -5);
    cr_assert_str_eq(fdn_meta_get(&got, "s")->as.s, "str");
    /* NULL meta registers an empty map. */
    cr_assert_eq(fdn_registry_register(ns, "empty", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_lookup(ns, "empty", NULL, &got), FDN_OK);
    cr_assert_eq(got.count, 0);
    reg_fixture_down(&fx);
}

/* Checks: REG-S3 */
Test(registry_basic, lookup_expands_every_field_count)
{
    /* Entries store only the fields in use; a lookup must give back the
     * same map for every count, with the unused slots zeroed. */
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    static const fdn_meta_field_t zero_field;
    for (uint32_t n = 0; n <= FDN_META_MAX; n++) {
        fdn_meta_t m, got;
        memset(&m, 0, sizeof m);
        char name[8], key[8];
        for (uint32_t i = 0; i < n; i++) {
            snprintf(name, sizeof name, "f%u", i);
            if (i % 2 == 0)
                cr_assert_eq(fdn_meta_set_int(&m, name, 1000 + i), FDN_OK);
            else
                cr_assert_eq(fdn_meta_set_str(&m, name, name), FDN_OK);
        }
        snprintf(key, sizeof key, "k%u", n);
        cr_assert_eq(fdn_registry_register(ns, key, p, &m, NULL), FDN_OK);
        memset(&got, 0xab, sizeof got);
        fdn_pid_t owner = FDN_PID_NONE;
        cr_assert_eq(fdn_registry_lookup(ns, key, &owner, &got), FDN_OK);
        cr_assert_eq(owner, p);
        cr_assert_eq(got.count, n);
        for (uint32_t i = 0; i < n; i++) {
            cr_assert_str_eq(got.fields[i].name, m.fields[i].name);
            cr_assert(fdn_meta_value_equal(&got.fields[i].value,
                                           &m.fields[i].value),
                      "field %u of %u differs", i, n);
        }
        for (uint32_t i = n; i < FDN_META_MAX; i++)
            cr_assert(memcmp(&got.fields[i], &zero_field,
                             sizeof zero_field) == 0,
                      "slot %u of a %u-field map is not zeroed", i, n);
    }
    reg_fixture_down(&fx);
}

/* Checks: REG-C3 */
Test(registry_basic, find_matches_type_and_value_and_reports_total)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    enum { NPROC = 10 };
    fdn_pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        pids[i] = reg_spawn_idle(fx.rt);
        fdn_meta_t m;
        memset(&m, 0, sizeof m);
        /* Even processes have role "map", odd ones "reduce"; "n" is an
         * int for everyone but i == 3, where it is the double 1.0. */
        cr_assert_eq(fdn_meta_set_str(&m, "role", i % 2 ? "reduce" : "map"),
                     FDN_OK);
        if (i == 3)
            cr_assert_eq(fdn_meta_set_double(&m, "n", 1.0), FDN_OK);
        else
            cr_assert_eq(fdn_meta_set_int(&m, "n", 1), FDN_OK);
        char key[16];
        snprintf(key, sizeof key, "w%d", i);
        cr_assert_eq(fdn_registry_register(ns, key, pids[i], &m, NULL),
                     FDN_OK);
    }
    fdn_meta_value_t v = {.type = FDN_META_STR};
    strcpy(v.as.s, "map");
    fdn_pid_t out[NPROC];
    size_t found = 0;
    cr_assert_eq(fdn_registry_find(ns, "role", &v, out, NPROC, &found),
                 FDN_OK);
    cr_assert_eq(found, NPROC / 2);
    bool seen[NPROC] = {false};
    for (size_t j = 0; j < found; j++) {
        int idx = -1;
        for (int i = 0; i < NPROC; i++)
            if (pids[i] == out[j])
                idx = i;
        cr_assert(idx >= 0 && idx % 2 == 0 && !seen[idx]);
        seen[idx] = true;
    }
    /* Beyond cap: only cap pids written, total still reported. */
    fdn_pid_t two[3] = {0, 0, 0};
    cr_assert_eq(fdn_registry_find(ns, "role", &v, two, 2, &found), FDN_OK);
    cr_assert_eq(found, NPROC / 2);
    cr_assert_neq(two[0], FDN_PID_NONE);
    cr_assert_neq(two[1], FDN_PID_NONE);
    cr_assert_eq(two[2], FDN_PID_NONE);
    /* Type matters: the int 1 matches nine entries, the double one. */
    fdn_meta_value_t vi = {.type = FDN_META_INT, .as.i = 1};
    fdn_meta_value_t vd = {.type = FDN_META_DOUBLE, .as.d = 1.0};
    cr_assert_eq(fdn_registry_find(ns, "n", &vi, NULL, 0, &found), FDN_OK);
    cr_assert_eq(found, NPROC - 1);
    cr_assert_eq(fdn_registry_find(ns, "n", &vd, out, NPROC, &found),
                 FDN_OK);
    cr_assert_eq(found, 1);
    cr_assert_eq(out[0], pids[3]);
    cr_assert_eq(fdn_registry_find(ns, "absent", &vi, NULL, 0, &found),
                 FDN_OK);
    cr_assert_eq(found, 0);
    reg_fixture_down(&fx);
}

struct key_list {
    int n;
    char keys[16][40];
};

static void collect_key(void *arg, const char *ns_name, const char *key)
{
    struct key_list *l = arg;
    if (l->n < 16)
        snprintf(l->keys[l->n], sizeof l->keys[0], "%s/%s", ns_name, key);
    l->n++;
}

static bool has_key(const struct key_list *l, const char *s)
{
    for (int i = 0; i < l->n && i < 16; i++)
        if (strcmp(l->keys[i], s) == 0)
            return true;
    return false;
}

/* Checks: REG-I2 */
Test(registry_basic, keys_lists_exactly_the_owners_entries)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *a, *b;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "a", &a), FDN_OK);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "b", &b), FDN_OK);
    fdn_pid_t p1 = reg_spawn_idle(fx.rt), p2 = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_register(a, "x", p1, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(b, "x", p1, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(a, "y", p1, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(a, "z", p2, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(a, "y", p2, NULL, NULL), FDN_EEXIST);

    struct key_list l = {0};
    cr_assert_eq(fdn_registry_keys(fx.reg, p1, collect_key, &l), 3);
    cr_assert_eq(l.n, 3);
    cr_assert(has_key(&l, "a/x"));
    cr_assert(has_key(&l, "b/x"));
    cr_assert(has_key(&l, "a/y"));
    memset(&l, 0, sizeof l);
    cr_assert_eq(fdn_registry_keys(fx.reg, p2, collect_key, &l), 1);
    cr_assert(has_key(&l, "a/z"));
    cr_assert_eq(fdn_registry_unregister(a, "y", p1), FDN_OK);
    memset(&l, 0, sizeof l);
    cr_assert_eq(fdn_registry_keys(fx.reg, p1, collect_key, &l), 2);
    cr_assert_not(has_key(&l, "a/y"));
    /* A pid that never registered owns nothing. */
    fdn_pid_t p3 = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_keys(fx.reg, p3, collect_key, &l), 0);
    /* A dead pid cannot register: every entry's owner was alive. */
    reg_kill(fx.rt, p3);
    cr_assert_eq(fdn_registry_register(a, "dead", p3, NULL, NULL),
                 FDN_ENOPROC);
    cr_assert_eq(fdn_registry_lookup(a, "dead", NULL, NULL), FDN_ENOENT);
    cr_assert_eq(fdn_registry_keys(fx.reg, p3, NULL, NULL), 0);
    reg_fixture_down(&fx);
}

/*
 * An allocator for the REG-I4 test: delegates to the default allocator,
 * counts live blocks, and records the sizes requested by the one thread
 * whose thread-local size_log is set, so the runtime's and liburcu's other
 * threads never touch the log.
 */
typedef struct size_log {
    size_t sizes[16];
    size_t n;
} size_log_t;

static _Thread_local size_log_t *size_log;
/* Relaxed: a statistic; the final read follows fdn_registry_destroy (its
 * rcu_barrier waits for every deferred free) and fdn_runtime_destroy (which
 * joins its threads). */
static _Atomic int64_t size_log_live;

static void *size_log_alloc(void *ctx, size_t n)
{
    (void)ctx;
    void *p = fdn_allocator_default()->alloc(fdn_allocator_default()->ctx, n);
    if (p != NULL)
        atomic_fetch_add_explicit(&size_log_live, 1, memory_order_relaxed);
    if (p != NULL && size_log != NULL && size_log->n < 16)
        size_log->sizes[size_log->n++] = n;
    return p;
}

static void size_log_release(void *ctx, void *p)
{
    (void)ctx;
    if (p != NULL)
        atomic_fetch_sub_explicit(&size_log_live, 1, memory_order_relaxed);
    fdn_allocator_default()->release(fdn_allocator_default()->ctx, p);
}

/* Checks: REG-I4 */
Test(registry_basic, entry_bytes_is_header_fields_and_key)
{
    size_t header = fdn_registry_entry_bytes(0) - 1;
    size_t field = sizeof(fdn_meta_field_t);
    /* The formula, for every key length and field count: the header and
     * key, then (with fields) padding to 8 bytes and the fields. */
    for (size_t k = 0; k <= FDN_REGISTRY_KEY_MAX; k++) {
        cr_assert_eq(fdn_registry_entry_bytes(k),
                     fdn_registry_entry_bytes_meta(k, 0));
        cr_assert_eq(fdn_registry_entry_bytes(k), header + k + 1);
        size_t padded = (header + k + 1 + 7) & ~(size_t)7;
        for (uint32_t n = 1; n <= FDN_META_MAX; n++)
            cr_assert_eq(fdn_registry_entry_bytes_meta(k, n),
                         padded + n * field);
    }
    size_t most =
        fdn_registry_entry_bytes_meta(FDN_REGISTRY_KEY_MAX, FDN_META_MAX);
    cr_assert_leq(header, 55);
    if (sizeof(void *) == 8) {
        /* The numbers specs/registry.md states (LP64). */
        cr_assert_eq(header, 55);
        cr_assert_eq(field, 80);
        cr_assert_eq(fdn_registry_entry_bytes(16), 72);
        cr_assert_eq(most, 824);
    }
    fprintf(stderr,
            "entry bytes: header %zu + %zu per field + key + 1; "
            "no metadata, 8-byte key: %zu; largest: %zu\n",
            header, field, fdn_registry_entry_bytes(8), most);

    /* A registration takes one block of the registry's pool (slab.h):
     * the entry's bytes rounded up to 16, cut from the calling thread's
     * stripe's chunk; it asks the allocator for nothing, or for one chunk
     * when the stripe has no room. */
    fdn_allocator_t a = {size_log_alloc, size_log_release, NULL};
    atomic_store_explicit(&size_log_live, 0, memory_order_relaxed);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 1;
    o.allocator = &a;
    fdn_runtime_t *rt;
    fdn_registry_t *reg;
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    cr_assert_eq(fdn_registry_create(rt, NULL, &reg), FDN_OK);
    cr_assert_eq(fdn_registry_namespace(reg, "ns", &ns), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(rt);
    /* The first registration also makes the owner record and the pool's
     * first chunk. */
    size_log_t first = {.n = 0};
    size_log = &first;
    cr_assert_eq(fdn_registry_register(ns, "first", p, NULL, NULL), FDN_OK);
    size_log = NULL;
    bool chunk_seen = false;
    for (size_t i = 0; i < first.n; i++)
        chunk_seen |= first.sizes[i] == SLAB_CHUNK_BYTES;
    cr_assert(chunk_seen, "the first entry took no chunk");
    char key[FDN_REGISTRY_KEY_MAX + 1];
    for (uint32_t n = 0; n <= FDN_META_MAX; n++) {
        fdn_meta_t m;
        memset(&m, 0, sizeof m);
        char name[8];
        for (uint32_t i = 0; i < n; i++) {
            snprintf(name, sizeof name, "f%u", i);
            cr_assert_eq(fdn_meta_set_int(&m, name, i), FDN_OK);
        }
        /* Keys of 1 to FDN_REGISTRY_KEY_MAX bytes. */
        size_t klen = 1 + (size_t)n * (FDN_REGISTRY_KEY_MAX - 1) / FDN_META_MAX;
        memset(key, 'a' + (int)n, klen);
        key[klen] = '\0';
        size_t bytes = fdn_registry_entry_bytes_meta(klen, n);
        size_t want = fdn__slab_block_bytes(bytes);
        cr_assert(want % 16 == 0 && want >= bytes && want < bytes + 16);
        size_log_t log = {.n = 0};
        size_log = &log;
        cr_assert_eq(fdn_registry_register(ns, key, p, &m, NULL), FDN_OK);
        size_log = NULL;
        /* Nothing, or one chunk (a class this registry had no chunk of). */
        cr_assert_leq(log.n, 1, "%zu allocations for one entry", log.n);
        if (log.n == 1)
            cr_assert_eq(log.sizes[0], SLAB_CHUNK_BYTES);
        /* The entry's block lies in a chunk of its class. */
        fdn__rcu_read_lock();
        struct reg_entry *e = fdn__reg_table_find(
            ns, key, klen, FDN_PID_NONE, fdn__reg_hash_key(reg, key, klen));
        cr_assert_not_null(e);
        struct slab_chunk *c =
            fdn__slab_chunk_of(fdn__reg_block(e), e->slab_where);
        cr_assert_eq(((size_t)c->k + 1) * 16, want,
                     "a %zu-byte block for %zu bytes (%u fields, key %zu)",
                     ((size_t)c->k + 1) * 16, bytes, n, klen);
        cr_assert_eq(((char *)fdn__reg_block(e) - (char *)c -
                      (ptrdiff_t)SLAB_CHUNK_HEADER) % (ptrdiff_t)want, 0);
        fdn__rcu_read_unlock();
    }
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
    cr_assert_eq(atomic_load_explicit(&size_log_live, memory_order_relaxed),
                 0);
}

/* Checks: REG-L2 */
Test(registry_basic, removed_entries_are_reclaimed)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    /* The first registration makes the owner record, its monitor and the
     * pool's first chunk, which live on; measure after it. */
    cr_assert_eq(fdn_registry_register(ns, "first", p, NULL, NULL), FDN_OK);
    int64_t base = fdn_failing_allocator_live(fx.fa);
    cr_assert_eq(fdn__slab_chunks(&fx.reg->slab), 1);
    /* Enough entries for several chunks. */
    enum { N = 4000 };
    size_t per_chunk = (SLAB_CHUNK_BYTES - SLAB_CHUNK_HEADER) /
                       fdn__slab_block_bytes(fdn_registry_entry_bytes(5));
    cr_assert_gt(N, 3 * per_chunk);
    char key[16];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%04d", i);
        cr_assert_eq(fdn_registry_register(ns, key, p, NULL, NULL), FDN_OK);
    }
    cr_assert_geq(fdn__slab_chunks(&fx.reg->slab), N / per_chunk);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%04d", i);
        cr_assert_eq(fdn_registry_unregister(ns, key, p), FDN_OK);
    }
    /* Freed after a grace period, by liburcu's call_rcu thread, into
     * their chunks; every chunk emptied goes back to the allocator but
     * the stripe's last one with room, here the first entry's.  The
     * table shrank meanwhile, its old blocks freed after grace periods
     * too: the registry holds what it held before. */
    fdn__rcu_barrier();
    cr_assert_eq(fdn__slab_chunks(&fx.reg->slab), 1);
    cr_assert_eq(fdn_failing_allocator_live(fx.fa), base,
                 "live %" PRId64 ", expected %" PRId64,
                 fdn_failing_allocator_live(fx.fa), base);
    /* One in, one out, many times: the kept chunk serves, and nothing is
     * allocated (every allocation would fail). */
    fdn_failing_allocator_arm(fx.fa, 1, true);
    for (int i = 0; i < 3 * (int)per_chunk; i++) {
        snprintf(key, sizeof key, "r%04d", i);
        cr_assert_eq(fdn_registry_register(ns, key, p, NULL, NULL), FDN_OK,
                     "round %d", i);
        cr_assert_eq(fdn_registry_unregister(ns, key, p), FDN_OK);
        if (i % 64 == 0)
            fdn__rcu_barrier(); /* the frees catch up */
    }
    fdn_failing_allocator_arm(fx.fa, 0, false);
    fdn__rcu_barrier();
    cr_assert_eq(fdn_failing_allocator_live(fx.fa), base);
    reg_fixture_down(&fx); /* destroy gives every chunk back: live == 0 */
}

/* Checks: REG-S14 */
Test(registry_basic, a_key_is_found_only_exactly)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    /* Every length (the compare takes words of 8 and 4 bytes and single
     * bytes by length), each key a run of one letter. */
    char key[FDN_REGISTRY_KEY_MAX + 1], probe[FDN_REGISTRY_KEY_MAX + 1];
    for (size_t len = 1; len <= FDN_REGISTRY_KEY_MAX; len++) {
        memset(key, 'a' + (int)(len % 26), len);
        key[len] = '\0';
        cr_assert_eq(fdn_registry_register(ns, key, p, NULL, NULL), FDN_OK);
    }
    for (size_t len = 1; len <= FDN_REGISTRY_KEY_MAX; len++) {
        memset(key, 'a' + (int)(len % 26), len);
        key[len] = '\0';
        fdn_pid_t got = FDN_PID_NONE;
        cr_assert_eq(fdn_registry_lookup(ns, key, &got, NULL), FDN_OK,
                     "length %zu", len);
        cr_assert_eq(got, p);
        /* One byte changed, at each position: another key. */
        for (size_t i = 0; i < len; i++) {
            memcpy(probe, key, len + 1);
            probe[i] = (char)(probe[i] ^ 0x20);
            cr_assert_eq(fdn_registry_lookup(ns, probe, NULL, NULL),
                         FDN_ENOENT, "length %zu, byte %zu changed", len, i);
        }
    }
    reg_fixture_down(&fx);
    /* The compare itself: lookups above rarely reach it with a wrong key,
     * the hash telling most keys apart first, so check it directly for
     * every length and every differing byte. */
    char a[FDN_REGISTRY_KEY_MAX + 1], b[FDN_REGISTRY_KEY_MAX + 1];
    for (size_t len = 1; len <= FDN_REGISTRY_KEY_MAX; len++) {
        for (size_t i = 0; i < len; i++)
            a[i] = (char)('!' + (i * 7 + len) % 90);
        a[len] = '\0';
        memcpy(b, a, len + 1);
        cr_assert(fdn__reg_key_eq(a, b, len), "length %zu", len);
        for (size_t i = 0; i < len; i++) {
            b[i] = (char)(b[i] ^ 0x40);
            cr_assert(!fdn__reg_key_eq(a, b, len), "length %zu, byte %zu",
                      len, i);
            b[i] = a[i];
        }
    }
}

/* Checks: REG-S15 */
Test(registry_basic, last_seen_is_the_clock_at_the_write)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *plain, *ttl;
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    o.ttl_ns = 3600 * FDN_NS_PER_S;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "plain", &plain), FDN_OK);
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "ttl", &o, &ttl),
                 FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    const fdn_clock_t *clk = fdn_runtime_clock(fx.rt);
    cr_assert_eq(fdn_registry_register(plain, "k", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(ttl, "k", p, NULL, NULL), FDN_OK);
    /* Enough rounds, with pauses, to cross several kernel ticks: in the
     * ttl namespace a clock that lags by up to a tick fails. */
    uint64_t plain_prev = 0, lag_max = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t before = fdn_clock_now(clk), seen;
        cr_assert_eq(fdn_registry_touch(ttl, "k", p), FDN_OK);
        cr_assert_eq(fdn_registry_touch(plain, "k", p), FDN_OK);
        uint64_t after = fdn_clock_now(clk);
        cr_assert_eq(fdn_registry_get(ttl, "k", p, NULL, &seen), FDN_OK);
        cr_assert(seen >= before && seen <= after,
                  "round %d: ttl last-seen %" PRIu64 " outside [%" PRIu64
                  ", %" PRIu64 "]", i, seen, before, after);
        cr_assert_eq(fdn_registry_get(plain, "k", p, NULL, &seen), FDN_OK);
        cr_assert_leq(seen, after, "round %d: plain last-seen %" PRIu64
                      " after the clock %" PRIu64, i, seen, after);
        cr_assert_geq(seen, plain_prev, "round %d: last-seen went back", i);
        plain_prev = seen;
        if (before > seen && before - seen > lag_max)
            lag_max = before - seen;
        if (i % 100 == 0)
            usleep(500);
    }
    cr_log_info("plain namespace: last-seen lagged the clock by at most "
                "%" PRIu64 " us", lag_max / 1000);
    reg_fixture_down(&fx);
}
