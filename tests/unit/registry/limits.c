/*
 * limits.c — heartbeats and ttl expiry, per-namespace limits (reject or
 * evict the least recently seen), per-owner rate limits and batch
 * registration.  Time is a virtual clock, advanced by the tests.
 */
#include "unit/registry/reg_helpers.h"

#include <pthread.h>
#include <stdatomic.h>

static fdn_failing_allocator_t *fa;
static fdn_clock_t *clk;
static fdn_runtime_t *rt;
static fdn_registry_t *reg;

/* A runtime on a virtual clock and a registry with opts (NULL: none). */
static void up(const fdn_registry_opts_t *ropts)
{
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    cr_assert_eq(fdn_clock_virtual_create(FDN_NS_PER_S, &clk), FDN_OK);
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 2;
    o.clock = clk;
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    cr_assert_eq(fdn_registry_create(rt, ropts, &reg), FDN_OK);
}

static void setup(void)
{
    fdn_registry_opts_t o;
    fdn_registry_opts_init(&o);
    o.sweep_interval_ns = FDN_INFINITY; /* the tests sweep */
    up(&o);
}

static void teardown(void)
{
    fdn_registry_destroy(reg);
    fdn_runtime_destroy(rt);
    fdn_clock_destroy(clk);
    cr_expect_eq(fdn_failing_allocator_live(fa), 0);
    fdn_failing_allocator_destroy(fa);
}

static fdn_registry_ns_t *ns_with(uint64_t max_entries, uint64_t max_bytes,
                                  fdn_registry_on_full_t on_full,
                                  uint64_t ttl)
{
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    o.max_entries = max_entries;
    o.max_meta_bytes = max_bytes;
    o.on_full = on_full;
    o.ttl_ns = ttl;
    static int n;
    char name[16];
    snprintf(name, sizeof name, "ns%d", n++);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace_opts(reg, name, &o, &ns), FDN_OK);
    return ns;
}

/* Checks: REG-C9 REG-S15 */
Test(registry_limits, touch_sets_last_seen, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(reg, "n", &ns), FDN_OK);
    fdn_pid_t a = reg_spawn_idle(rt);
    cr_assert_eq(fdn_registry_register(ns, "k", a, NULL, NULL), FDN_OK);
    uint64_t seen;
    cr_assert_eq(fdn_registry_get(ns, "k", a, NULL, &seen), FDN_OK);
    cr_assert_eq(seen, FDN_NS_PER_S);
    cr_assert_eq(fdn_clock_advance(clk, 5 * FDN_NS_PER_MS), FDN_OK);
    cr_assert_eq(fdn_registry_touch(ns, "k", a), FDN_OK);
    cr_assert_eq(fdn_registry_get(ns, "k", a, NULL, &seen), FDN_OK);
    cr_assert_eq(seen, FDN_NS_PER_S + 5 * FDN_NS_PER_MS);
    fdn_pid_t b = reg_spawn_idle(rt);
    cr_assert_eq(fdn_registry_touch(ns, "k", b), FDN_ENOENT);
    cr_assert_eq(fdn_registry_touch(ns, "nope", a), FDN_ENOENT);
    cr_assert_eq(fdn_registry_touch(ns, "", a), FDN_EINVAL);
    cr_assert_eq(fdn_registry_get(ns, "k", b, NULL, &seen), FDN_ENOENT);
}

/* Checks: REG-S12 REG-L3 */
Test(registry_limits, expired_entries_vanish_and_are_swept,
     .init = setup, .fini = teardown)
{
    fdn_registry_ns_t *ns = ns_with(0, 0, FDN_REGISTRY_REJECT,
                                    100 * FDN_NS_PER_MS);
    fdn_pid_t a = reg_spawn_idle(rt);
    char key[16];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(fdn_registry_register(ns, key, a, NULL, NULL), FDN_OK);
    }
    cr_assert_eq(fdn_clock_advance(clk, 60 * FDN_NS_PER_MS), FDN_OK);
    /* Heartbeats keep k0..k4 alive. */
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(fdn_registry_touch(ns, key, a), FDN_OK);
    }
    cr_assert_eq(fdn_clock_advance(clk, 40 * FDN_NS_PER_MS), FDN_OK);
    /* k5..k9 are expired: invisible at once to every read, before any
     * sweep (reads remove nothing: the count still holds them). */
    fdn_pid_t pid;
    cr_assert_eq(fdn_registry_lookup(ns, "k7", &pid, NULL), FDN_ENOENT);
    cr_assert_eq(fdn_registry_lookup(ns, "k3", &pid, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_foreach(ns, NULL, NULL), 5);
    size_t found;
    cr_assert_eq(fdn_registry_members(ns, "k8", NULL, 0, &found), FDN_OK);
    cr_assert_eq(found, 0);
    cr_assert_eq(fdn_registry_keys(reg, a, NULL, NULL), 5);
    cr_assert_eq(fdn_registry_count(ns), 10);
    /* The sweep removes exactly the expired ones. */
    cr_assert_eq(fdn_registry_sweep(ns), 5);
    cr_assert_eq(fdn_registry_count(ns), 5);
    cr_assert_eq(fdn_registry_sweep(ns), 0);
    cr_assert_eq(fdn_registry_touch(ns, "k7", a), FDN_ENOENT);
    /* An expired key can be registered again by anyone. */
    fdn_pid_t b = reg_spawn_idle(rt);
    cr_assert_eq(fdn_registry_register(ns, "k7", b, NULL, NULL), FDN_OK);
    /* Namespaces without a ttl never expire. */
    fdn_registry_ns_t *plain;
    cr_assert_eq(fdn_registry_namespace(reg, "plain", &plain), FDN_OK);
    cr_assert_eq(fdn_registry_sweep(plain), 0);
}

#define LIMITS_EVENT_TAG 77U

/* Collects the events a listener (the attached main thread) got. */
static int drain_events(fdn_ctx_t *ctx, fdn_registry_event_t *out, int cap)
{
    int n = 0;
    fdn_msg_t *m;
    while (fdn_receive(ctx, 0, &m) == FDN_OK) {
        if (m->tag == LIMITS_EVENT_TAG && n < cap)
            memcpy(&out[n++], m->data, m->size);
        fdn_msg_free(ctx, m);
    }
    return n;
}

/* Checks: REG-S12 REG-S8
 * Found by the newcomer review: an expired entry nobody had swept yet
 * still held its key (FDN_EEXIST naming the invisible owner), could be
 * updated back to life, and counted against a REJECT limit.  Every
 * write to a ttl namespace now removes the expired entries first. */
Test(registry_limits, writes_see_no_expired_entry, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns = ns_with(0, 0, FDN_REGISTRY_REJECT,
                                    100 * FDN_NS_PER_MS);
    fdn_ctx_t *ctx;
    cr_assert_eq(fdn_attach(rt, &ctx), FDN_OK);
    cr_assert_eq(fdn_registry_subscribe(ns, fdn_self(ctx), LIMITS_EVENT_TAG),
                 FDN_OK);
    fdn_pid_t a = reg_spawn_idle(rt), b = reg_spawn_idle(rt);
    cr_assert_eq(fdn_registry_register(ns, "k", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "u", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_clock_advance(clk, 200 * FDN_NS_PER_MS), FDN_OK);
    /* No sweep: the key is free for another owner at once. */
    fdn_registry_reply_t reply = {0};
    cr_assert_eq(fdn_registry_register_ex(ns, "k", b, NULL, &reply), FDN_OK);
    fdn_pid_t pid;
    cr_assert_eq(fdn_registry_lookup(ns, "k", &pid, NULL), FDN_OK);
    cr_assert_eq(pid, b);
    /* "u" went with that write: update, touch and unregister find
     * nothing, and nothing comes back. */
    fdn_meta_t m = {0};
    cr_assert_eq(fdn_meta_set_int(&m, "x", 1), FDN_OK);
    cr_assert_eq(fdn_registry_update(ns, "u", a, &m, FDN_REGISTRY_REPLACE),
                 FDN_ENOENT);
    cr_assert_eq(fdn_registry_touch(ns, "u", a), FDN_ENOENT);
    cr_assert_eq(fdn_registry_unregister(ns, "u", a), FDN_ENOENT);
    cr_assert_eq(fdn_registry_lookup(ns, "u", NULL, NULL), FDN_ENOENT);
    cr_assert_eq(fdn_registry_count(ns), 1);
    cr_assert_eq(fdn_registry_keys(reg, a, NULL, NULL), 0);
    /* The listener saw both expiries, then the new registration. */
    fdn_registry_event_t ev[8];
    int n = drain_events(ctx, ev, 8);
    cr_assert_eq(n, 5, "got %d events", n);
    cr_assert_eq(ev[2].kind, FDN_REGISTRY_UNREGISTERED);
    cr_assert_eq(ev[2].reason, FDN_REGISTRY_EXPIRED);
    cr_assert_eq(ev[3].kind, FDN_REGISTRY_UNREGISTERED);
    cr_assert_eq(ev[3].reason, FDN_REGISTRY_EXPIRED);
    cr_assert_eq(ev[4].kind, FDN_REGISTRY_REGISTERED);
    cr_assert_eq(ev[4].pid, b);

    /* Expired entries count against no limit. */
    fdn_registry_ns_t *full = ns_with(1, 0, FDN_REGISTRY_REJECT,
                                      100 * FDN_NS_PER_MS);
    cr_assert_eq(fdn_registry_register(full, "x", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(full, "y", a, NULL, NULL),
                 FDN_ELIMIT);
    cr_assert_eq(fdn_clock_advance(clk, 100 * FDN_NS_PER_MS), FDN_OK);
    cr_assert_eq(fdn_registry_register(full, "y", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_count(full), 1);

    /* A group: the same pid may join again once its membership
     * expired. */
    fdn_registry_ns_opts_t go;
    fdn_registry_ns_opts_init(&go);
    go.kind = FDN_REGISTRY_DUPLICATE;
    go.ttl_ns = 100 * FDN_NS_PER_MS;
    fdn_registry_ns_t *g;
    cr_assert_eq(fdn_registry_namespace_opts(reg, "gttl", &go, &g), FDN_OK);
    cr_assert_eq(fdn_registry_join(g, "grp", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_join(g, "grp", a, NULL, NULL), FDN_EEXIST);
    cr_assert_eq(fdn_clock_advance(clk, 100 * FDN_NS_PER_MS), FDN_OK);
    cr_assert_eq(fdn_registry_join(g, "grp", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_count(g), 1);
    fdn_detach(ctx);
}

/* Checks: REG-L3 */
Test(registry_limits, the_janitor_sweeps, .fini = teardown)
{
    fdn_registry_opts_t o;
    fdn_registry_opts_init(&o);
    o.sweep_interval_ns = 2 * FDN_NS_PER_MS;
    up(&o);
    fdn_registry_ns_t *ns = ns_with(0, 0, FDN_REGISTRY_REJECT,
                                    10 * FDN_NS_PER_MS);
    fdn_pid_t a = reg_spawn_idle(rt);
    cr_assert_eq(fdn_registry_register(ns, "k", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_clock_advance(clk, 10 * FDN_NS_PER_MS), FDN_OK);
    cr_assert(REG_POLL_UNTIL(fdn_registry_count(ns) == 0));
    cr_assert_eq(fdn_registry_keys(reg, a, NULL, NULL), 0);
}

/* Checks: REG-C10 REG-I6 */
Test(registry_limits, a_full_namespace_rejects, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns = ns_with(3, 0, FDN_REGISTRY_REJECT, 0);
    fdn_pid_t a = reg_spawn_idle(rt);
    cr_assert_eq(fdn_registry_register(ns, "a", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "b", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "c", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "d", a, NULL, NULL), FDN_ELIMIT);
    cr_assert_eq(fdn_registry_count(ns), 3);
    cr_assert_eq(fdn_registry_lookup(ns, "d", NULL, NULL), FDN_ENOENT);
    cr_assert_eq(fdn_registry_unregister(ns, "a", a), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "d", a, NULL, NULL), FDN_OK);

    /* Metadata bytes: two fields fit, a third does not. */
    size_t fb = sizeof(fdn_meta_field_t);
    fdn_registry_ns_t *mb = ns_with(0, 2 * fb, FDN_REGISTRY_REJECT, 0);
    fdn_meta_t m1 = {0}, m2 = {0};
    cr_assert_eq(fdn_meta_set_int(&m1, "x", 1), FDN_OK);
    cr_assert_eq(fdn_meta_set_int(&m2, "x", 1), FDN_OK);
    cr_assert_eq(fdn_meta_set_int(&m2, "y", 2), FDN_OK);
    cr_assert_eq(fdn_registry_register(mb, "one", a, &m1, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(mb, "two", a, &m2, NULL), FDN_ELIMIT);
    cr_assert_eq(fdn_registry_register(mb, "bare", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_meta_bytes(mb), fb);
    /* An update that would pass the limit is refused too. */
    cr_assert_eq(fdn_registry_update(mb, "one", a, &m2, FDN_REGISTRY_REPLACE),
                 FDN_OK); /* 2 fields: exactly at the limit */
    cr_assert_eq(fdn_registry_update(mb, "bare", a, &m1, FDN_REGISTRY_REPLACE),
                 FDN_ELIMIT);
    cr_assert_eq(fdn_registry_meta_bytes(mb), 2 * fb);
}

/* Checks: REG-C10 REG-I6 */
Test(registry_limits, evict_lru_evicts_the_least_recently_seen,
     .init = setup, .fini = teardown)
{
    fdn_registry_ns_t *ns = ns_with(3, 0, FDN_REGISTRY_EVICT_LRU, 0);
    fdn_pid_t a = reg_spawn_idle(rt), b = reg_spawn_idle(rt);
    cr_assert_eq(fdn_registry_register(ns, "a", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "b", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "c", a, NULL, NULL), FDN_OK);
    /* Seeing a makes b the least recently seen. */
    cr_assert_eq(fdn_registry_touch(ns, "a", a), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "d", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_count(ns), 3);
    cr_assert_eq(fdn_registry_lookup(ns, "b", NULL, NULL), FDN_ENOENT);
    cr_assert_eq(fdn_registry_keys(reg, b, NULL, NULL), 0);
    /* Next out: c (registered before a was touched). */
    cr_assert_eq(fdn_registry_register(ns, "e", b, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_lookup(ns, "c", NULL, NULL), FDN_ENOENT);
    cr_assert_eq(fdn_registry_lookup(ns, "a", NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_lookup(ns, "d", NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_lookup(ns, "e", NULL, NULL), FDN_OK);
    /* An entry bigger than the whole limit is refused, evicting nothing. */
    fdn_registry_ns_t *mb =
        ns_with(0, sizeof(fdn_meta_field_t), FDN_REGISTRY_EVICT_LRU, 0);
    fdn_meta_t m2 = {0};
    cr_assert_eq(fdn_meta_set_int(&m2, "x", 1), FDN_OK);
    cr_assert_eq(fdn_meta_set_int(&m2, "y", 2), FDN_OK);
    cr_assert_eq(fdn_registry_register(mb, "k", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(mb, "big", a, &m2, NULL), FDN_ELIMIT);
    cr_assert_eq(fdn_registry_count(mb), 1);
}

/* Checks: REG-C12 */
Test(registry_limits, rate_limits_answer_retry_after, .fini = teardown)
{
    fdn_registry_opts_t o;
    fdn_registry_opts_init(&o);
    o.owner_rate = 10; /* per second */
    o.owner_burst = 3;
    o.sweep_interval_ns = FDN_INFINITY;
    up(&o);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(reg, "n", &ns), FDN_OK);
    fdn_pid_t a = reg_spawn_idle(rt), b = reg_spawn_idle(rt);
    cr_assert_eq(fdn_registry_register(ns, "a1", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "a2", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "a3", a, NULL, NULL), FDN_OK);
    fdn_registry_reply_t reply = {0};
    cr_assert_eq(fdn_registry_register_ex(ns, "a4", a, NULL, &reply),
                 FDN_EAGAIN);
    /* One token refills in 100 ms. */
    cr_assert_gt(reply.retry_after_ns, 99 * FDN_NS_PER_MS);
    cr_assert_leq(reply.retry_after_ns, 100 * FDN_NS_PER_MS + 1);
    cr_assert_eq(fdn_registry_lookup(ns, "a4", NULL, NULL), FDN_ENOENT);
    /* Another owner is not held back. */
    cr_assert_eq(fdn_registry_register(ns, "b1", b, NULL, NULL), FDN_OK);
    /* After the wait the owner may write again. */
    cr_assert_eq(fdn_clock_advance(clk, reply.retry_after_ns), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "a4", a, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "a5", a, NULL, NULL), FDN_EAGAIN);
    /* A batch larger than the burst could never pass. */
    const char *keys[] = {"x1", "x2", "x3", "x4"};
    cr_assert_eq(fdn_registry_register_batch(ns, keys, NULL, 4, b, &reply),
                 FDN_ELIMIT);
    /* Unregistering is never limited. */
    cr_assert_eq(fdn_registry_unregister(ns, "a1", a), FDN_OK);
}

/* Checks: REG-C12 REG-S10
 * Found by the newcomer review: a write refused for another reason (here
 * FDN_EEXIST, a lost race) still spent a token. */
Test(registry_limits, a_refused_write_costs_no_token, .fini = teardown)
{
    fdn_registry_opts_t o;
    fdn_registry_opts_init(&o);
    o.owner_rate = 1;
    o.owner_burst = 2;
    o.sweep_interval_ns = FDN_INFINITY;
    up(&o);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(reg, "n", &ns), FDN_OK);
    fdn_pid_t a = reg_spawn_idle(rt), b = reg_spawn_idle(rt);
    fdn_registry_reply_t reply = {0};
    cr_assert_eq(fdn_registry_register_ex(ns, "held", b, NULL, &reply),
                 FDN_OK);
    cr_assert_eq(fdn_registry_register_ex(ns, "mine", a, NULL, &reply),
                 FDN_OK);
    /* a has one token left; losing to b must not spend it. */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fdn_registry_register_ex(ns, "held", a, NULL, &reply),
                     FDN_EEXIST);
    const char *keys[] = {"held"};
    cr_assert_eq(fdn_registry_register_batch(ns, keys, NULL, 1, a, &reply),
                 FDN_EEXIST);
    cr_assert_eq(fdn_registry_register_ex(ns, "mine2", a, NULL, &reply),
                 FDN_OK);
    cr_assert_eq(fdn_registry_register_ex(ns, "mine3", a, NULL, &reply),
                 FDN_EAGAIN);
}

/* Checks: REG-S9 REG-C16 */
Test(registry_limits, batch_is_all_or_nothing, .init = setup,
     .fini = teardown)
{
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(reg, "n", &ns), FDN_OK);
    fdn_pid_t a = reg_spawn_idle(rt), b = reg_spawn_idle(rt);
    cr_assert_eq(fdn_registry_register(ns, "taken", b, NULL, NULL), FDN_OK);
    const char *keys[] = {"k1", "k2", "taken", "k4"};
    fdn_registry_reply_t reply = {0};
    cr_assert_eq(fdn_registry_register_batch(ns, keys, NULL, 4, a, &reply),
                 FDN_EEXIST);
    cr_assert_eq(reply.failed, 2);
    cr_assert_eq(reply.winner, b);
    cr_assert_eq(fdn_registry_count(ns), 1);
    cr_assert_eq(fdn_registry_keys(reg, a, NULL, NULL), 0);
    cr_assert_eq(fdn_registry_lookup(ns, "k1", NULL, NULL), FDN_ENOENT);
    /* A key given twice fails the batch too. */
    const char *twice[] = {"x", "y", "x"};
    cr_assert_eq(fdn_registry_register_batch(ns, twice, NULL, 3, a, &reply),
                 FDN_EEXIST);
    cr_assert_eq(reply.failed, 2);
    cr_assert_eq(fdn_registry_count(ns), 1);
    /* Bad input, with the index of the bad key. */
    const char *bad[] = {"ok", ""};
    cr_assert_eq(fdn_registry_register_batch(ns, bad, NULL, 2, a, &reply),
                 FDN_EINVAL);
    cr_assert_eq(reply.failed, 1);
    cr_assert_eq(fdn_registry_register_batch(ns, keys, NULL, 0, a, &reply),
                 FDN_EINVAL);
    /* A good batch, with metadata, then the owner's death removes all. */
    const char *good[] = {"g1", "g2", "g3"};
    fdn_meta_t metas[3];
    memset(metas, 0, sizeof metas);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fdn_meta_set_int(&metas[i], "i", i), FDN_OK);
    cr_assert_eq(fdn_registry_register_batch(ns, good, metas, 3, a, &reply),
                 FDN_OK);
    fdn_meta_t out;
    cr_assert_eq(fdn_registry_lookup(ns, "g3", NULL, &out), FDN_OK);
    cr_assert_eq(fdn_meta_get(&out, "i")->as.i, 2);
    cr_assert_eq(fdn_registry_count(ns), 4);
    reg_kill(rt, a);
    cr_assert(REG_POLL_UNTIL(fdn_registry_count(ns) == 1));
    /* A batch into a full namespace is refused whole. */
    fdn_registry_ns_t *small = ns_with(2, 0, FDN_REGISTRY_REJECT, 0);
    cr_assert_eq(fdn_registry_register_batch(small, good, NULL, 3, b, &reply),
                 FDN_ELIMIT);
    cr_assert_eq(fdn_registry_count(small), 0);
}

struct toucher {
    fdn_registry_ns_t *g, *u;
    const fdn_pid_t *pids;
    int n;
    _Atomic bool stop;
};

static void *touch_loop(void *arg)
{
    struct toucher *t = arg;
    for (unsigned i = 0; !atomic_load_explicit(&t->stop, memory_order_acquire);
         i++) {
        (void)fdn_registry_touch(t->g, "grp", t->pids[i % (unsigned)t->n]);
        (void)fdn_registry_touch(t->u, "key", t->pids[0]);
    }
    return NULL;
}

/* Checks: REG-S12 REG-C9
 * Found by the second review: a reader reads the clock before an entry's
 * last-seen time, which a touch may set later meanwhile; the unsigned
 * difference wrapped and the live entry read as expired (short members,
 * missed lookups).  A ttl of an hour, so nothing may ever be missing,
 * on the real clock, while a thread touches everything. */
Test(registry_limits, a_touch_racing_a_read_never_hides_the_entry,
     .fini = teardown)
{
    fdn_registry_opts_t ro;
    fdn_registry_opts_init(&ro);
    ro.sweep_interval_ns = FDN_INFINITY;
    cr_assert_eq(fdn_failing_allocator_create(0, false, &fa), FDN_OK);
    clk = NULL;
    fdn_runtime_opts_t o;
    fdn_runtime_opts_init(&o);
    o.schedulers = 2;
    o.allocator = fdn_failing_allocator_get(fa);
    cr_assert_eq(fdn_runtime_create(&o, &rt), FDN_OK);
    cr_assert_eq(fdn_registry_create(rt, &ro, &reg), FDN_OK);
    fdn_registry_ns_t *u = ns_with(0, 0, FDN_REGISTRY_REJECT,
                                   3600 * FDN_NS_PER_S);
    fdn_registry_ns_opts_t go;
    fdn_registry_ns_opts_init(&go);
    go.kind = FDN_REGISTRY_DUPLICATE;
    go.ttl_ns = 3600 * FDN_NS_PER_S;
    fdn_registry_ns_t *g;
    cr_assert_eq(fdn_registry_namespace_opts(reg, "g", &go, &g), FDN_OK);
    enum { N = 200 };
    static fdn_pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = reg_spawn_idle(rt);
        cr_assert_eq(fdn_registry_join(g, "grp", pids[i], NULL, NULL), FDN_OK);
    }
    cr_assert_eq(fdn_registry_register(u, "key", pids[0], NULL, NULL), FDN_OK);
    static struct toucher t;
    t.g = g;
    t.u = u;
    t.pids = pids;
    t.n = N;
    atomic_store(&t.stop, false);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, touch_loop, &t), 0);
    long short_members = 0, missed = 0, short_keys = 0;
    for (int i = 0; i < 20000; i++) {
        size_t found;
        cr_assert_eq(fdn_registry_members(g, "grp", NULL, 0, &found), FDN_OK);
        short_members += found != N;
        short_members += fdn_registry_dispatch(g, "grp", NULL, NULL) != N;
        missed += fdn_registry_lookup(u, "key", NULL, NULL) != FDN_OK;
        short_keys += fdn_registry_keys(reg, pids[0], NULL, NULL) != 2;
    }
    atomic_store_explicit(&t.stop, true, memory_order_release);
    pthread_join(th, NULL);
    cr_assert_eq(short_members, 0, "%ld walks came up short", short_members);
    cr_assert_eq(missed, 0, "%ld lookups missed", missed);
    cr_assert_eq(short_keys, 0, "%ld keys calls came up short", short_keys);
}
