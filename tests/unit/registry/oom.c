/*
 * oom.c — fault injection: every allocation a register makes is failed in
 * turn, and each failure must return FDN_ENOMEM and change nothing.
 */
#include "unit/registry/reg_helpers.h"

#include "registry/registry_internal.h"

/* Allocations held, less the entry pool's chunks: a chunk a failed
 * register took stays in the pool for later entries (slab.h), and is no
 * leak; anything else still held is. */
static int64_t held(reg_fixture_t *fx)
{
    return fdn_failing_allocator_live(fx->fa) -
           (int64_t)fdn__slab_chunks(&fx->reg->slab);
}

/* What a failed register must leave unchanged. */
static void expect_unchanged(reg_fixture_t *fx, fdn_registry_ns_t *ns,
                             const char *key, fdn_pid_t pid, uint64_t count,
                             int keys, int64_t live)
{
    cr_assert_eq(fdn_registry_count(ns), count);
    cr_assert_eq(fdn_registry_lookup(ns, key, NULL, NULL), FDN_ENOENT);
    cr_assert_eq(fdn_registry_keys(fx->reg, pid, NULL, NULL), keys);
    cr_assert_eq(held(fx), live, "a failed register leaked %lld allocations",
                 (long long)(held(fx) - live));
}

/*
 * Sweeps fail_at = 1, 2, ... over one register call until it succeeds.
 * Returns how many failures were injected.
 */
static int sweep_register(reg_fixture_t *fx, fdn_registry_ns_t *ns,
                          const char *key, fdn_pid_t pid, bool is_sticky)
{
    uint64_t count = fdn_registry_count(ns);
    int keys = fdn_registry_keys(fx->reg, pid, NULL, NULL);
    fdn_meta_t m;
    memset(&m, 0, sizeof m);
    cr_assert_eq(fdn_meta_set_str(&m, "role", "worker"), FDN_OK);
    for (uint64_t at = 1; at < 100; at++) {
        int64_t live = held(fx);
        fdn_failing_allocator_arm(fx->fa, at, is_sticky);
        int rc = fdn_registry_register(ns, key, pid, &m, NULL);
        uint64_t calls = fdn_failing_allocator_calls(fx->fa);
        fdn_failing_allocator_arm(fx->fa, 0, false);
        if (rc == FDN_OK) {
            /* Succeeded: the armed failure was past its last allocation. */
            cr_assert_lt(calls, at);
            fdn_meta_t got;
            fdn_pid_t owner;
            cr_assert_eq(fdn_registry_lookup(ns, key, &owner, &got), FDN_OK);
            cr_assert_eq(owner, pid);
            cr_assert_str_eq(fdn_meta_get(&got, "role")->as.s, "worker");
            cr_assert_eq(fdn_registry_count(ns), count + 1);
            cr_assert_eq(fdn_registry_keys(fx->reg, pid, NULL, NULL),
                         keys + 1);
            return (int)at - 1;
        }
        cr_assert_eq(rc, FDN_ENOMEM, "fail_at %llu: %s",
                     (unsigned long long)at, fdn_errname(rc));
        expect_unchanged(fx, ns, key, pid, count, keys, live);
    }
    cr_assert_fail("register never succeeded");
    return -1;
}

/* Checks: REG-F1 */
Test(registry_oom, every_failed_allocation_of_register_is_enomem)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx.rt);

    /* An empty pool: the entry's block needs the pool's first chunk,
     * which is the first allocation; failing it changes nothing. */
    int64_t live = fdn_failing_allocator_live(fx.fa);
    fdn_failing_allocator_arm(fx.fa, 1, false);
    cr_assert_eq(fdn_registry_register(ns, "first", p, NULL, NULL),
                 FDN_ENOMEM);
    fdn_failing_allocator_arm(fx.fa, 0, false);
    cr_assert_eq(fdn__slab_chunks(&fx.reg->slab), 0);
    expect_unchanged(&fx, ns, "first", p, 0, 0, live);
    /* Give the pool its chunk (through another owner), so that the sweeps
     * below reach every later allocation: a chunk a failed register took
     * stays, and would shift them. */
    fdn_pid_t warm = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_register(ns, "warm", warm, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn__slab_chunks(&fx.reg->slab), 1);

    /* First registration of a pid: the owner record and the runtime's
     * callback monitor. */
    int first = sweep_register(&fx, ns, "first", p, false);
    cr_assert_geq(first, 2, "expected record + monitor allocations");
    /* Later registrations of the same pid: the entry comes from the
     * pool's chunk, so nothing is allocated and nothing can fail. */
    int later = sweep_register(&fx, ns, "second", p, false);
    cr_assert_eq(later, 0);
    /* Sticky failures: every allocation from the N-th on fails. */
    fdn_pid_t q = reg_spawn_idle(fx.rt);
    cr_assert_eq(sweep_register(&fx, ns, "sticky", q, true), first);
    fprintf(stderr, "register allocations: first of a pid %d, later %d\n",
            first, later);

    /* A failed register leaves the owner's death handling intact. */
    reg_kill(fx.rt, p);
    reg_kill(fx.rt, q);
    reg_kill(fx.rt, warm);
    cr_assert_eq(fdn_registry_count(ns), 0);
    reg_fixture_down(&fx);
}

/* Out of memory in namespace and registry creation (no REG id covers it:
 * REG-F1 is about register). */
Test(registry_oom, namespace_and_create_fail_cleanly)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_ns_t *ns = NULL;
    int64_t live = fdn_failing_allocator_live(fx.fa);
    /* Two blocks: the namespace and its table. */
    for (uint64_t at = 1; at <= 2; at++) {
        fdn_failing_allocator_arm(fx.fa, at, false);
        cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_ENOMEM);
        fdn_failing_allocator_arm(fx.fa, 0, false);
        cr_assert_null(ns);
        cr_assert_eq(fdn_failing_allocator_live(fx.fa), live);
    }
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);

    /* Three blocks: the registry, its namespace array, its owner table
     * (the name source the runtime keeps is a fourth). */
    for (uint64_t at = 1; at <= 4; at++) {
        fdn_registry_t *r2 = NULL;
        fdn_failing_allocator_arm(fx.fa, at, false);
        cr_assert_eq(fdn_registry_create(fx.rt, NULL, &r2), FDN_ENOMEM);
        fdn_failing_allocator_arm(fx.fa, 0, false);
        cr_assert_null(r2);
        cr_assert_eq(fdn_failing_allocator_live(fx.fa), live + 2);
    }
    /* No more: with the fifth failing, creation succeeds. */
    fdn_registry_t *r2 = NULL;
    fdn_failing_allocator_arm(fx.fa, 5, false);
    cr_assert_eq(fdn_registry_create(fx.rt, NULL, &r2), FDN_OK);
    fdn_failing_allocator_arm(fx.fa, 0, false);
    fdn_registry_destroy(r2);
    reg_fixture_down(&fx);
}
