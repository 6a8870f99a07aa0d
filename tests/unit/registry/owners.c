/*
 * owners.c — unit tests of owner death: cleanup in every namespace, dead and
 * dying owners, the DOWN/EXIT ordering guarantee, and destroying a registry
 * while its owners live.
 */
#include "unit/registry/reg_helpers.h"

#include <pthread.h>
#include <stdatomic.h>

/* Checks: REG-L1 REG-I3 */
Test(registry_owners, death_removes_entries_in_every_namespace)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    fdn_registry_ns_t *ns[3];
    const char *names[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fdn_registry_namespace(fx.reg, names[i], &ns[i]),
                     FDN_OK);
    fdn_pid_t victim = reg_spawn_idle(fx.rt), other = reg_spawn_idle(fx.rt);
    char key[16];
    for (int i = 0; i < 30; i++) {
        snprintf(key, sizeof key, "v%d", i);
        cr_assert_eq(fdn_registry_register(ns[i % 3], key, victim, NULL,
                                           NULL),
                     FDN_OK);
        snprintf(key, sizeof key, "o%d", i);
        cr_assert_eq(fdn_registry_register(ns[i % 3], key, other, NULL,
                                           NULL),
                     FDN_OK);
    }
    cr_assert_eq(fdn_registry_total(fx.reg), 60);
    reg_kill(fx.rt, victim);
    /* The pid stops being alive only after its callback monitors ran, so
     * the cleanup is complete now, without waiting. */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(fdn_registry_count(ns[i]), 10);
    cr_assert_eq(fdn_registry_total(fx.reg), 30);
    for (int i = 0; i < 30; i++) {
        fdn_pid_t pid;
        snprintf(key, sizeof key, "v%d", i);
        cr_assert_eq(fdn_registry_lookup(ns[i % 3], key, &pid, NULL),
                     FDN_ENOENT);
        snprintf(key, sizeof key, "o%d", i);
        cr_assert_eq(fdn_registry_lookup(ns[i % 3], key, &pid, NULL),
                     FDN_OK);
        cr_assert_eq(pid, other);
    }
    cr_assert_eq(fdn_registry_keys(fx.reg, victim, NULL, NULL), 0);
    cr_assert_eq(fdn_registry_keys(fx.reg, other, NULL, NULL), 30);
    /* The freed names can be taken by a live process. */
    cr_assert_eq(fdn_registry_register(ns[0], "v0", other, NULL, NULL),
                 FDN_OK);
    reg_fixture_down(&fx);
}

/* Checks: REG-L1 */
Test(registry_owners, owner_without_entries_and_normal_exit)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx.rt);
    /* Register, unregister everything, register again: the owner record
     * outlives a moment with no entries and still cleans up on death. */
    cr_assert_eq(fdn_registry_register(ns, "a", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_unregister(ns, "a", p), FDN_OK);
    cr_assert_eq(fdn_registry_register(ns, "b", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_exit(fx.rt, NULL, p, FDN_REASON_SHUTDOWN), FDN_OK);
    cr_assert(REG_POLL_UNTIL(!fdn_alive(fx.rt, p)));
    cr_assert_eq(fdn_registry_lookup(ns, "b", NULL, NULL), FDN_ENOENT);
    cr_assert_eq(fdn_registry_count(ns), 0);
    cr_assert_eq(fdn_registry_register(ns, "c", p, NULL, NULL), FDN_ENOPROC);
    cr_assert_eq(fdn_registry_count(ns), 0);
    reg_fixture_down(&fx);
}

struct dying_reg {
    fdn_registry_ns_t *ns;
    fdn_pid_t pid;
    pthread_barrier_t *start;
    int ok;      /* registrations that returned FDN_OK */
    int noproc;  /* ... FDN_ENOPROC */
    int other;   /* ... anything else */
    int last_ok;       /* index of the last FDN_OK, or -1 */
    int first_noproc;  /* index of the first FDN_ENOPROC, or 2000 */
};

static void *register_while_dying(void *arg)
{
    struct dying_reg *d = arg;
    char key[24];
    pthread_barrier_wait(d->start);
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        int rc = fdn_registry_register(d->ns, key, d->pid, NULL, NULL);
        if (rc == FDN_OK) {
            d->ok++;
            d->last_ok = i;
        } else if (rc == FDN_ENOPROC) {
            d->noproc++;
            if (d->first_noproc > i)
                d->first_noproc = i;
        }
        else
            d->other++;
    }
    return NULL;
}

/* Checks: REG-S4 REG-I2 */
Test(registry_owners, owner_dying_during_register_leaves_nothing)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    /* Many rounds: each one kills the owner while a thread registers keys
     * for it.  Some rounds kill before the first registration (no owner
     * record yet), some in the middle. */
    for (int round = 0; round < 40; round++) {
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, 2);
        struct dying_reg d = {.ns = ns, .start = &start, .last_ok = -1,
                              .first_noproc = 2000};
        d.pid = reg_spawn_idle(fx.rt);
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, register_while_dying, &d), 0);
        pthread_barrier_wait(&start);
        cr_assert_eq(fdn_exit(fx.rt, NULL, d.pid, FDN_REASON_KILL), FDN_OK);
        pthread_join(t, NULL);
        pthread_barrier_destroy(&start);
        cr_assert(REG_POLL_UNTIL(!fdn_alive(fx.rt, d.pid)));
        cr_assert_eq(d.other, 0);
        cr_assert_eq(d.ok + d.noproc, 2000);
        /* Once ENOPROC was seen it is never followed by OK, and nothing of
         * the dead owner is left. */
        cr_assert_lt(d.last_ok, d.first_noproc);
        cr_assert_eq(fdn_registry_count(ns), 0, "round %d: %llu left", round,
                     (unsigned long long)fdn_registry_count(ns));
        cr_assert_eq(fdn_registry_keys(fx.reg, d.pid, NULL, NULL), 0);
        char key[24];
        for (int i = 0; i < 2000; i++) {
            snprintf(key, sizeof key, "k%d", i);
            cr_assert_eq(fdn_registry_lookup(ns, key, NULL, NULL), FDN_ENOENT);
        }
    }
    reg_fixture_down(&fx);
}

/*
 * The watcher: monitors the owner and links to it with exits trapped, so it
 * gets both a DOWN and an EXIT; on each it looks the key up and records
 * whether the dead owner was still found.  It stops after both.
 */
struct watch {
    fdn_registry_ns_t *ns;
    fdn_pid_t owner;
    char key[32];
    _Atomic int messages;    /* DOWN + EXIT handled */
    _Atomic int still_found; /* lookups that returned the dead owner */
    _Atomic bool is_ready;   /* monitor and link are set up */
};

static fdn_next_t watcher_init(fdn_ctx_t *ctx, void *arg, void **state)
{
    struct watch *w = arg;
    fdn_ref_t ref;
    fdn_trap_exit(ctx, true);
    if (fdn_monitor(ctx, w->owner, &ref) != FDN_OK ||
        fdn_link(ctx, w->owner) != FDN_OK)
        return fdn_stop(ctx, FDN_REASON_USER);
    *state = w;
    /* Release: pairs with the acquire in the test's polling loop. */
    atomic_store_explicit(&w->is_ready, true, memory_order_release);
    return FDN_CONTINUE;
}

static fdn_next_t watcher_handle(fdn_ctx_t *ctx, void *state,
                                 const fdn_msg_t *msg)
{
    struct watch *w = state;
    if ((msg->kind != FDN_MSG_DOWN && msg->kind != FDN_MSG_EXIT) ||
        msg->from != w->owner)
        return FDN_CONTINUE;
    fdn_pid_t pid = FDN_PID_NONE;
    if (fdn_registry_lookup(w->ns, w->key, &pid, NULL) == FDN_OK &&
        pid == w->owner)
        atomic_fetch_add_explicit(&w->still_found, 1, memory_order_relaxed);
    /* Release: pairs with the acquire in the test's polling loop, which then
     * reads still_found (relaxed, ordered by this). */
    int n = atomic_fetch_add_explicit(&w->messages, 1, memory_order_release);
    return n + 1 == 2 ? fdn_stop(ctx, FDN_REASON_NORMAL) : FDN_CONTINUE;
}

static const fdn_behaviour_t watcher_behaviour = {
    .init = watcher_init,
    .handle = watcher_handle,
    .name = "reg-watcher",
};

/* Checks: REG-S5 */
Test(registry_owners, no_lookup_finds_owner_after_down_or_exit)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    enum { ROUNDS = 100, WATCHERS = 3 };
    for (int round = 0; round < ROUNDS; round++) {
        fdn_pid_t owner = reg_spawn_idle(fx.rt);
        struct watch w[WATCHERS];
        fdn_pid_t wp[WATCHERS];
        for (int i = 0; i < WATCHERS; i++) {
            memset(&w[i], 0, sizeof w[i]);
            w[i].ns = ns;
            w[i].owner = owner;
            snprintf(w[i].key, sizeof w[i].key, "r%d-%d", round, i);
            cr_assert_eq(fdn_registry_register(ns, w[i].key, owner, NULL,
                                               NULL),
                         FDN_OK);
        }
        for (int i = 0; i < WATCHERS; i++) {
            cr_assert_eq(fdn_spawn(fx.rt, NULL, &watcher_behaviour, &w[i],
                                   NULL, &wp[i]),
                         FDN_OK);
            cr_assert(REG_POLL_UNTIL(atomic_load_explicit(
                &w[i].is_ready, memory_order_acquire)));
        }
        cr_assert_eq(fdn_exit(fx.rt, NULL, owner, FDN_REASON_KILL), FDN_OK);
        for (int i = 0; i < WATCHERS; i++) {
            cr_assert(REG_POLL_UNTIL(atomic_load_explicit(
                          &w[i].messages, memory_order_acquire) == 2),
                      "round %d watcher %d got %d messages", round, i,
                      atomic_load_explicit(&w[i].messages,
                                           memory_order_acquire));
            cr_assert_eq(atomic_load_explicit(&w[i].still_found,
                                              memory_order_relaxed),
                         0, "round %d: a watcher saw the dead owner", round);
            cr_assert(REG_POLL_UNTIL(!fdn_alive(fx.rt, wp[i])));
        }
    }
    cr_assert_eq(fdn_registry_count(ns), 0);
    reg_fixture_down(&fx);
}

/* Checks: REG-F2 REG-L2 */
Test(registry_owners, destroy_with_live_owners_cancels_monitors)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    enum { N = 20 };
    fdn_pid_t p[N];
    char key[16];
    for (int i = 0; i < N; i++) {
        p[i] = reg_spawn_idle(fx.rt);
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(fdn_registry_register(ns, key, p[i], NULL, NULL),
                     FDN_OK);
    }
    /* Kill half so some callbacks may run while destroy cancels. */
    for (int i = 0; i < N; i += 2)
        cr_assert_eq(fdn_exit(fx.rt, NULL, p[i], FDN_REASON_KILL), FDN_OK);
    fdn_registry_destroy(fx.reg);
    fx.reg = NULL;
    /* The registry's memory is gone; the owners' deaths must not touch it
     * (run under ASan to see a use after free). */
    for (int i = 1; i < N; i += 2)
        reg_kill(fx.rt, p[i]);
    for (int i = 0; i < N; i++)
        cr_assert(REG_POLL_UNTIL(!fdn_alive(fx.rt, p[i])));
    fdn_runtime_destroy(fx.rt);
    cr_assert_eq(fdn_failing_allocator_live(fx.fa), 0);
    fdn_failing_allocator_destroy(fx.fa);
}

/* Checks: REG-F2 REG-L2 */
Test(registry_owners, destroy_while_an_owner_of_many_groups_dies,
     .timeout = 120)
{
    /* A death used to shrink the group tables it emptied, and cds_lfht's
     * resize waits for a grace period, while destroy waited for that
     * callback inside a read-side critical section: both hung (the second
     * review's case, 20,000 groups, destroy 0.5 ms after the kill). */
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    o.kind = FDN_REGISTRY_DUPLICATE;
    fdn_registry_ns_t *g;
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "g", &o, &g), FDN_OK);
    for (int round = 0; round < 3; round++) {
        if (round > 0) {
            cr_assert_eq(fdn_registry_create(fx.rt, NULL, &fx.reg), FDN_OK);
            cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "g", &o, &g),
                         FDN_OK);
        }
        fdn_pid_t p = reg_spawn_idle(fx.rt);
        char key[32];
        for (int i = 0; i < 20000; i++) {
            snprintf(key, sizeof key, "g%d", i);
            cr_assert_eq(fdn_registry_join(g, key, p, NULL, NULL), FDN_OK);
        }
        cr_assert_eq(fdn_exit(fx.rt, NULL, p, FDN_REASON_KILL), FDN_OK);
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
        fdn_registry_destroy(fx.reg);
        fx.reg = NULL;
        cr_assert(REG_POLL_UNTIL(!fdn_alive(fx.rt, p)));
    }
    fdn_runtime_destroy(fx.rt);
    cr_assert_eq(fdn_failing_allocator_live(fx.fa), 0);
    fdn_failing_allocator_destroy(fx.fa);
}

struct names_seen {
    int count;
    char all[256];
};

static void collect_name(void *arg, const char *ns, const char *name)
{
    struct names_seen *s = arg;
    size_t len = strlen(s->all);
    snprintf(s->all + len, sizeof s->all - len, "%s%s/%s", len ? " " : "", ns,
             name);
    s->count++;
}

/* The registry is a runtime name source: fdn_process_names reports every
 * key a process holds, in every namespace, and nothing once it is gone. */
/* Checks: REG-C5 */
Test(registry_owners, process_names_report_the_keys)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    fdn_registry_ns_t *a, *b;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "alpha", &a), FDN_OK);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "beta", &b), FDN_OK);
    fdn_pid_t p = reg_spawn_idle(fx.rt), q = reg_spawn_idle(fx.rt);
    cr_assert_eq(fdn_registry_register(a, "x", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(b, "y", p, NULL, NULL), FDN_OK);
    cr_assert_eq(fdn_registry_register(b, "z", q, NULL, NULL), FDN_OK);
    struct names_seen s = {0};
    cr_assert_eq(fdn_process_names(fx.rt, p, collect_name, &s), FDN_OK);
    cr_assert_eq(s.count, 2, "%s", s.all);
    cr_assert(strstr(s.all, "alpha/x") != NULL, "%s", s.all);
    cr_assert(strstr(s.all, "beta/y") != NULL, "%s", s.all);
    cr_assert_eq(fdn_registry_unregister(a, "x", p), FDN_OK);
    memset(&s, 0, sizeof s);
    cr_assert_eq(fdn_process_names(fx.rt, p, collect_name, &s), FDN_OK);
    cr_assert_eq(s.count, 1);
    cr_assert_str_eq(s.all, "beta/y");
    /* Destroyed, the registry names nobody. */
    fdn_registry_destroy(fx.reg);
    fx.reg = NULL;
    memset(&s, 0, sizeof s);
    cr_assert_eq(fdn_process_names(fx.rt, q, collect_name, &s), FDN_OK);
    cr_assert_eq(s.count, 0);
    reg_fixture_down(&fx);
}
