/*
 * updates.c — metadata updates (replace, merge, atomic for readers) and
 * namespace schemas.
 */
#include "unit/registry/reg_helpers.h"

#include <pthread.h>
#include <stdatomic.h>

static reg_fixture_t fx;

static void setup(void) { reg_fixture_up(&fx, 2); }
static void teardown(void) { reg_fixture_down(&fx); }

/* Checks: REG-C8 */
Test(registry_updates, replace_and_merge, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "n", &ns), FDN_OK);
    fdn_pid_t a = reg_spawn_idle(fx.rt), b = reg_spawn_idle(fx.rt);
    fdn_meta_t m = {0}, out;
    cr_assert_eq(fdn_meta_set_int(&m, "load", 1), FDN_OK);
    cr_assert_eq(fdn_meta_set_str(&m, "zone", "eu"), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "svc", a, &m, NULL), FDN_OK);

    /* Merge: set load, add health, keep zone. */
    fdn_meta_t d = {0};
    cr_assert_eq(fdn_meta_set_int(&d, "load", 7), FDN_OK);
    cr_assert_eq(fdn_meta_set_str(&d, "health", "ok"), FDN_OK);
    cr_assert_eq(fdn_registry_update(ns, "svc", a, &d, FDN_REGISTRY_MERGE),
                 FDN_OK);
    cr_assert_eq(fdn_registry_lookup(ns, "svc", NULL, &out), FDN_OK);
    cr_assert_eq(out.count, 3);
    cr_assert_eq(fdn_meta_get(&out, "load")->as.i, 7);
    cr_assert_str_eq(fdn_meta_get(&out, "zone")->as.s, "eu");
    cr_assert_str_eq(fdn_meta_get(&out, "health")->as.s, "ok");

    /* Merge with a NONE-typed field removes it. */
    fdn_meta_t rm = {0};
    rm.count = 1;
    strcpy(rm.fields[0].name, "zone");
    rm.fields[0].value.type = FDN_META_NONE;
    cr_assert_eq(fdn_registry_update(ns, "svc", a, &rm, FDN_REGISTRY_MERGE),
                 FDN_OK);
    cr_assert_eq(fdn_registry_lookup(ns, "svc", NULL, &out), FDN_OK);
    cr_assert_eq(out.count, 2);
    cr_assert_null(fdn_meta_get(&out, "zone"));

    /* Replace: the map becomes exactly the new one. */
    fdn_meta_t r = {0};
    cr_assert_eq(fdn_meta_set_bool(&r, "draining", true), FDN_OK);
    cr_assert_eq(fdn_registry_update(ns, "svc", a, &r, FDN_REGISTRY_REPLACE),
                 FDN_OK);
    cr_assert_eq(fdn_registry_lookup(ns, "svc", NULL, &out), FDN_OK);
    cr_assert_eq(out.count, 1);
    cr_assert(fdn_meta_get(&out, "draining")->as.b);
    /* The owner record still lists the key once; death removes it. */
    cr_assert_eq(fdn_registry_keys(fx.reg, a, NULL, NULL), 1);

    /* Only the owner updates. */
    cr_assert_eq(fdn_registry_update(ns, "svc", b, &r, FDN_REGISTRY_REPLACE),
                 FDN_ENOENT);
    cr_assert_eq(fdn_registry_update(ns, "nope", a, &r, FDN_REGISTRY_MERGE),
                 FDN_ENOENT);
    cr_assert_eq(fdn_registry_update(ns, "svc", a, NULL, FDN_REGISTRY_MERGE),
                 FDN_EINVAL);
    cr_assert_eq(fdn_registry_update(ns, "svc", a, &r,
                                     (fdn_registry_update_mode_t)9),
                 FDN_EINVAL);
    reg_kill(fx.rt, a);
    cr_assert(REG_POLL_UNTIL(fdn_registry_count(ns) == 0));
}

/* Checks: REG-C8 */
Test(registry_updates, a_refused_update_changes_nothing,
     .init = setup, .fini = teardown)
{
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "n", &ns), FDN_OK);
    fdn_pid_t a = reg_spawn_idle(fx.rt);
    fdn_meta_t full = {0}, out;
    for (int i = 0; i < FDN_META_MAX; i++) {
        char n[8];
        snprintf(n, sizeof n, "f%d", i);
        cr_assert_eq(fdn_meta_set_int(&full, n, i), FDN_OK);
    }
    cr_assert_eq(fdn_registry_register(ns, "k", a, &full, NULL), FDN_OK);
    fdn_meta_t more = {0};
    cr_assert_eq(fdn_meta_set_int(&more, "extra", 1), FDN_OK);
    cr_assert_eq(fdn_registry_update(ns, "k", a, &more, FDN_REGISTRY_MERGE),
                 FDN_ELIMIT);
    cr_assert_eq(fdn_registry_lookup(ns, "k", NULL, &out), FDN_OK);
    cr_assert_eq(out.count, FDN_META_MAX);
    cr_assert_null(fdn_meta_get(&out, "extra"));
    cr_assert_eq(fdn_registry_meta_bytes(ns),
                 FDN_META_MAX * sizeof(fdn_meta_field_t));
}

/* Checks: REG-C1 REG-C8 REG-C11
 * Found by the newcomer review: a MERGE whose map held a NONE field with
 * an empty name was accepted as a no-op (a malformed map is FDN_EINVAL),
 * and a BOOL whose byte was neither 0 nor 1 reached a bool load
 * (undefined behaviour, which UBSan reported in a query). */
Test(registry_updates, malformed_maps_are_refused, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "n", &ns), FDN_OK);
    fdn_pid_t a = reg_spawn_idle(fx.rt);
    fdn_meta_t m = {0}, out;
    cr_assert_eq(fdn_meta_set_bool(&m, "up", true), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "k", a, &m, NULL), FDN_OK);

    /* MERGE: an empty name, an unterminated one, a name twice, an
     * unknown type; none changes the entry. */
    fdn_meta_t bad;
    memset(&bad, 0, sizeof bad);
    bad.count = 1;
    bad.fields[0].value.type = FDN_META_NONE; /* name "" */
    cr_assert_eq(fdn_registry_update(ns, "k", a, &bad, FDN_REGISTRY_MERGE),
                 FDN_EINVAL);
    memset(bad.fields[0].name, 'x', sizeof bad.fields[0].name);
    cr_assert_eq(fdn_registry_update(ns, "k", a, &bad, FDN_REGISTRY_MERGE),
                 FDN_EINVAL);
    memset(&bad, 0, sizeof bad);
    cr_assert_eq(fdn_meta_set_int(&bad, "v", 1), FDN_OK);
    bad.fields[1] = bad.fields[0];
    bad.count = 2;
    cr_assert_eq(fdn_registry_update(ns, "k", a, &bad, FDN_REGISTRY_MERGE),
                 FDN_EINVAL);
    bad.count = 1;
    bad.fields[0].value.type = (fdn_meta_type_t)9;
    cr_assert_eq(fdn_registry_update(ns, "k", a, &bad, FDN_REGISTRY_MERGE),
                 FDN_EINVAL);
    cr_assert_eq(fdn_registry_lookup(ns, "k", NULL, &out), FDN_OK);
    cr_assert_eq(out.count, 1);

    /* A BOOL byte of 100 (the union written through another member). */
    fdn_meta_t odd = {0};
    cr_assert_eq(fdn_meta_set_bool(&odd, "up", true), FDN_OK);
    memset(&odd.fields[0].value.as, 100, 1);
    cr_assert_eq(fdn_registry_register(ns, "k2", a, &odd, NULL), FDN_EINVAL);
    cr_assert_eq(fdn_registry_update(ns, "k", a, &odd, FDN_REGISTRY_REPLACE),
                 FDN_EINVAL);
    /* In a query such a byte is simply true. */
    fdn_rq_t q = {.op = FDN_RQ_EQ, .field = "up", .value = odd.fields[0].value};
    fdn_registry_match_t hit;
    size_t n;
    cr_assert_eq(fdn_registry_query(ns, &q, 1, NULL, &hit, 1, &n, NULL),
                 FDN_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(hit.key, "k");
}

struct flipper {
    fdn_registry_ns_t *ns;
    fdn_pid_t owner;
    _Atomic bool stop;
    fdn_meta_t m[2];
};

static void *flip_loop(void *arg)
{
    struct flipper *f = arg;
    for (int i = 0; !atomic_load(&f->stop); i++)
        cr_assert_eq(fdn_registry_update(f->ns, "k", f->owner, &f->m[i & 1],
                                         FDN_REGISTRY_REPLACE), FDN_OK);
    return NULL;
}

/* A lookup during updates sees the old map or the new, never a mix. */
/* Checks: REG-S7 REG-S3 */
Test(registry_updates, readers_never_see_a_mix, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "n", &ns), FDN_OK);
    struct flipper f = {.ns = ns, .owner = reg_spawn_idle(fx.rt)};
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < 4; i++) {
            char n[8];
            snprintf(n, sizeof n, "f%d", i);
            cr_assert_eq(fdn_meta_set_int(&f.m[v], n, v * 1000 + i), FDN_OK);
        }
    cr_assert_eq(fdn_registry_register(ns, "k", f.owner, &f.m[0], NULL),
                 FDN_OK);
    pthread_t th;
    pthread_create(&th, NULL, flip_loop, &f);
    int seen[2] = {0, 0};
    for (int r = 0; r < 200000; r++) {
        fdn_meta_t out;
        cr_assert_eq(fdn_registry_lookup(ns, "k", NULL, &out), FDN_OK);
        cr_assert_eq(out.count, 4);
        int v = out.fields[0].value.as.i >= 1000;
        for (int i = 0; i < 4; i++)
            cr_assert_eq(fdn_meta_get(&out, out.fields[i].name)->as.i,
                         v * 1000 + (out.fields[i].name[1] - '0'),
                         "mixed map at read %d", r);
        seen[v]++;
    }
    atomic_store(&f.stop, true);
    pthread_join(th, NULL);
    cr_assert_eq(fdn_registry_count(ns), 1);
}

static fdn_registry_ns_t *schema_ns(bool strict)
{
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "capability", FDN_META_STR,
                                            true, false), FDN_OK);
    cr_assert_eq(fdn_registry_ns_opts_field(&o, "load", FDN_META_INT, false,
                                            false), FDN_OK);
    o.strict = strict;
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, strict ? "strict" : "lax",
                                             &o, &ns), FDN_OK);
    return ns;
}

/* Checks: REG-C11 REG-I8 */
Test(registry_updates, schema_required_types_strict, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *lax = schema_ns(false), *strict = schema_ns(true);
    fdn_pid_t a = reg_spawn_idle(fx.rt);
    fdn_meta_t m = {0};
    /* Missing the required field. */
    cr_assert_eq(fdn_meta_set_int(&m, "load", 1), FDN_OK);
    cr_assert_eq(fdn_registry_register(lax, "k", a, &m, NULL), FDN_ESCHEMA);
    cr_assert_eq(fdn_registry_register(lax, "k", a, NULL, NULL), FDN_ESCHEMA);
    /* Wrong type. */
    cr_assert_eq(fdn_meta_set_int(&m, "capability", 3), FDN_OK);
    cr_assert_eq(fdn_registry_register(lax, "k", a, &m, NULL), FDN_ESCHEMA);
    /* Right. */
    cr_assert_eq(fdn_meta_set_str(&m, "capability", "inference"), FDN_OK);
    cr_assert_eq(fdn_registry_register(lax, "k", a, &m, NULL), FDN_OK);
    /* Undeclared fields: fine when lax, refused when strict. */
    cr_assert_eq(fdn_meta_set_bool(&m, "gpu", true), FDN_OK);
    cr_assert_eq(fdn_registry_register(lax, "k2", a, &m, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(strict, "k2", a, &m, NULL),
                 FDN_ESCHEMA);
    cr_assert_eq(fdn_registry_count(strict), 0);
    /* Updates are checked too, and a refused one changes nothing. */
    fdn_meta_t bad = {0};
    cr_assert_eq(fdn_meta_set_str(&bad, "load", "high"), FDN_OK);
    cr_assert_eq(fdn_registry_update(lax, "k", a, &bad, FDN_REGISTRY_MERGE),
                 FDN_ESCHEMA);
    fdn_meta_t rm = {0};
    rm.count = 1;
    strcpy(rm.fields[0].name, "capability");
    rm.fields[0].value.type = FDN_META_NONE;
    cr_assert_eq(fdn_registry_update(lax, "k", a, &rm, FDN_REGISTRY_MERGE),
                 FDN_ESCHEMA);
    fdn_meta_t out;
    cr_assert_eq(fdn_registry_lookup(lax, "k", NULL, &out), FDN_OK);
    cr_assert_str_eq(fdn_meta_get(&out, "capability")->as.s, "inference");
    cr_assert_eq(fdn_meta_get(&out, "load")->as.i, 1);
    /* A malformed map (a repeated name) is bad input, not a schema
     * mismatch. */
    fdn_meta_t dup = out;
    dup.fields[1] = dup.fields[0];
    cr_assert_eq(fdn_registry_register(lax, "k3", a, &dup, NULL), FDN_EINVAL);
}
