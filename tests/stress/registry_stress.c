/*
 * registry_stress.c — concurrent register / lookup / unregister from several
 * threads while a killer thread keeps killing and replacing owners; at the
 * end every registry invariant is checked.  The seed is printed; FDN_SEED
 * replays each thread's operation sequence (the interleaving is the OS's).
 */
#include "unit/registry/reg_helpers.h"

#include <pthread.h>
#include <stdatomic.h>

enum {
    NNS = 2,
    NKEYS = 64,
    NOWNERS = 8,
    WORKERS = 3,
    OPS = 3000000,
    MAX_KILLS = 1 << 20
};

struct stress {
    fdn_runtime_t *rt;
    fdn_registry_t *reg;
    fdn_registry_ns_t *ns[NNS];
    /* Current owner of each slot.  Relaxed: a worker may use a pid that was
     * just replaced and killed; the registry must cope (FDN_ENOPROC). */
    _Atomic fdn_pid_t owners[NOWNERS];
    pthread_barrier_t start;
    unsigned long long seed;
    long kills;         /* killer thread only; read after the join */
    fdn_pid_t *killed;  /* the pids it killed, MAX_KILLS slots */
    _Atomic int workers_left;
};

struct worker {
    struct stress *s;
    int id;
    long registered, unregistered, found, bad_rc, bad_pid;
};

static void key_name(char *buf, size_t n, unsigned long long r)
{
    snprintf(buf, n, "key-%llu", r % NKEYS);
}

static void *stress_worker(void *arg)
{
    struct worker *w = arg;
    struct stress *s = w->s;
    unsigned long long rng = s->seed + (unsigned long long)w->id * 7919 + 1;
    char key[32];
    pthread_barrier_wait(&s->start);
    for (int op = 0; op < OPS; op++) {
        unsigned long long r = reg_rand(&rng);
        fdn_registry_ns_t *ns = s->ns[r % NNS];
        key_name(key, sizeof key, r >> 8);
        fdn_pid_t owner = atomic_load_explicit(
            &s->owners[(r >> 20) % NOWNERS], memory_order_relaxed);
        unsigned what = (unsigned)((r >> 32) % 10);
        if (what < 4) {
            fdn_pid_t winner = FDN_PID_NONE;
            int rc = fdn_registry_register(ns, key, owner, NULL, &winner);
            if (rc == FDN_OK)
                w->registered++;
            else if (rc == FDN_EEXIST && winner == FDN_PID_NONE)
                w->bad_pid++;
            else if (rc != FDN_EEXIST && rc != FDN_ENOPROC)
                w->bad_rc++;
        } else if (what < 7) {
            fdn_pid_t pid = FDN_PID_NONE;
            int rc = fdn_registry_lookup(ns, key, &pid, NULL);
            if (rc == FDN_OK) {
                w->found++;
                if (pid == FDN_PID_NONE)
                    w->bad_pid++;
            } else if (rc != FDN_ENOENT) {
                w->bad_rc++;
            }
        } else {
            int rc = fdn_registry_unregister(ns, key, owner);
            if (rc == FDN_OK)
                w->unregistered++;
            else if (rc != FDN_ENOENT)
                w->bad_rc++;
        }
    }
    /* Release: pairs with the killer's acquire; only ends its loop. */
    atomic_fetch_sub_explicit(&s->workers_left, 1, memory_order_release);
    return NULL;
}

static void *stress_killer(void *arg)
{
    struct stress *s = arg;
    unsigned long long rng = s->seed ^ 0xabcdefULL;
    pthread_barrier_wait(&s->start);
    /* Acquire: pairs with the workers' release decrement. */
    while (atomic_load_explicit(&s->workers_left, memory_order_acquire) > 0) {
        unsigned slot = (unsigned)(reg_rand(&rng) % NOWNERS);
        fdn_pid_t fresh = FDN_PID_NONE;
        if (fdn_spawn(s->rt, NULL, &reg_idle_behaviour, NULL, NULL, &fresh) !=
            FDN_OK)
            continue;
        fdn_pid_t old = atomic_exchange_explicit(&s->owners[slot], fresh,
                                                 memory_order_relaxed);
        /* No wait: deaths overlap with the workers' operations. */
        if (fdn_exit(s->rt, NULL, old, FDN_REASON_KILL) == FDN_OK)
            s->killed[s->kills++] = old;
        if (s->kills == MAX_KILLS)
            break;
        /* Pacing only (not synchronisation): let owners live a little so
         * that they collect entries before they die. */
        struct timespec pause = {0, 20000};
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* Checks: REG-F3, REG-I1, REG-I2, REG-I3 */
Test(registry_stress, concurrent_ops_and_deaths_keep_invariants,
     .timeout = 120)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    static struct stress s;
    memset(&s, 0, sizeof s);
    s.rt = fx.rt;
    s.reg = fx.reg;
    s.seed = reg_seed("registry_stress");
    for (int i = 0; i < NNS; i++) {
        char name[8];
        snprintf(name, sizeof name, "ns%d", i);
        cr_assert_eq(fdn_registry_namespace(fx.reg, name, &s.ns[i]), FDN_OK);
    }
    for (int i = 0; i < NOWNERS; i++)
        atomic_init(&s.owners[i], reg_spawn_idle(fx.rt));
    atomic_init(&s.workers_left, WORKERS);
    s.killed = calloc(MAX_KILLS, sizeof *s.killed);
    cr_assert_not_null(s.killed);
    pthread_barrier_init(&s.start, NULL, WORKERS + 1);
    static struct worker w[WORKERS];
    pthread_t th[WORKERS + 1];
    for (int i = 0; i < WORKERS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].s = &s;
        w[i].id = i;
        cr_assert_eq(pthread_create(&th[i], NULL, stress_worker, &w[i]), 0);
    }
    cr_assert_eq(pthread_create(&th[WORKERS], NULL, stress_killer, &s), 0);
    for (int i = 0; i <= WORKERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&s.start);
    for (long i = 0; i < s.kills; i++)
        cr_assert(REG_POLL_UNTIL(!fdn_alive(fx.rt, s.killed[i])));
    free(s.killed);

    long registered = 0, unregistered = 0, found = 0;
    for (int i = 0; i < WORKERS; i++) {
        cr_assert_eq(w[i].bad_rc, 0, "worker %d: unexpected error codes", i);
        cr_assert_eq(w[i].bad_pid, 0, "worker %d: FDN_PID_NONE returned", i);
        registered += w[i].registered;
        unregistered += w[i].unregistered;
        found += w[i].found;
    }
    fprintf(stderr,
            "registry_stress: %ld registered, %ld unregistered, %ld found, "
            "%ld owners killed, %llu left\n",
            registered, unregistered, found, s.kills,
            (unsigned long long)fdn_registry_total(fx.reg));

    /* Quiescent now.  REG-I3: count equals what lookups reach; REG-I2:
     * every entry's owner is a live current owner, and the owners' key
     * lists cover exactly the entries. */
    uint64_t total = 0;
    char key[32];
    for (int n = 0; n < NNS; n++) {
        uint64_t reachable = 0;
        for (unsigned long long k = 0; k < NKEYS; k++) {
            fdn_pid_t pid;
            key_name(key, sizeof key, k);
            if (fdn_registry_lookup(s.ns[n], key, &pid, NULL) != FDN_OK)
                continue;
            reachable++;
            cr_assert(fdn_alive(fx.rt, pid), "entry of a dead owner");
            bool is_current = false;
            for (int o = 0; o < NOWNERS; o++)
                is_current |= atomic_load_explicit(
                                  &s.owners[o], memory_order_relaxed) == pid;
            cr_assert(is_current, "entry of a replaced (killed) owner");
        }
        cr_assert_eq(reachable, fdn_registry_count(s.ns[n]));
        total += reachable;
    }
    cr_assert_eq(total, fdn_registry_total(fx.reg));
    uint64_t listed = 0;
    for (int o = 0; o < NOWNERS; o++) {
        int k = fdn_registry_keys(
            fx.reg, atomic_load_explicit(&s.owners[o], memory_order_relaxed),
            NULL, NULL);
        cr_assert_geq(k, 0);
        listed += (uint64_t)k;
    }
    cr_assert_eq(listed, total);
    /* Registered = unregistered + removed by death + left. */
    cr_assert_geq((uint64_t)(registered - unregistered), total);

    for (int o = 0; o < NOWNERS; o++)
        reg_kill(fx.rt,
                 atomic_load_explicit(&s.owners[o], memory_order_relaxed));
    cr_assert_eq(fdn_registry_total(fx.reg), 0);
    reg_fixture_down(&fx);
}
