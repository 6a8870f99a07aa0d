/*
 * registry_stress.c — concurrent register / lookup / unregister, and group
 * joins / leaves, from several threads while a killer thread keeps killing
 * and replacing owners; at the end every registry invariant is checked.
 * The seed is printed; FDN_SEED replays each thread's operation sequence
 * (the interleaving is the OS's).
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

/* Checks: REG-F3 REG-I1 REG-I2 REG-I3 */
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

/*
 * Groups.  Each worker thread owns a few owner slots and joins their pids
 * to one group and removes them again, keeping its own tally, while a
 * killer replaces and kills slot pids at random, so owners die in the
 * middle of joins and leaves.  Between group operations every worker also
 * tries to register each of a set of unique keys once, for a pid that
 * never dies.  After quiescence: no entry names a dead pid, the group
 * holds exactly the memberships the tallies say (joined = left + lost to
 * deaths + still members), and every unique key has exactly one winner.
 */
enum {
    G_WORKERS = 3,
    G_SLOTS = 4,        /* owner slots per worker */
    G_UKEYS = 512,      /* unique keys every worker tries once */
    G_OPS = 5000000,    /* per worker, unless the time budget ends first */
    G_BUDGET_S = 20,
    G_MAX_KILLS = 1 << 20
};

struct gstress {
    fdn_runtime_t *rt;
    fdn_registry_ns_t *groups, *unique;
    /* Slot w * G_SLOTS + j belongs to worker w.  Relaxed: a worker may use
     * a pid that was just replaced and killed; the registry must cope. */
    _Atomic fdn_pid_t slots[G_WORKERS * G_SLOTS];
    fdn_pid_t stable[G_WORKERS]; /* immutable during the run */
    pthread_barrier_t start;
    unsigned long long seed;
    struct timespec deadline;    /* immutable during the run */
    _Atomic int workers_left;
    long kills;                  /* killer only; read after the join */
    fdn_pid_t *killed;
};

struct gworker {
    struct gstress *s;
    int id;
    fdn_pid_t cur[G_SLOTS];   /* the slot pid this worker last used */
    bool is_member[G_SLOTS];  /* cur[j] is in the group, by our joins */
    long joined, left, lost;  /* lost: memberships removed by a death */
    long ops, bad_rc, bad_double, bad_vanished;
    uint16_t order[G_UKEYS];  /* the order this worker tries the keys */
    int next_ukey;
    int8_t won[G_UKEYS];      /* 1: our register of key k returned OK */
    int8_t told[G_UKEYS];     /* FDN_EEXIST: index of the winner named */
};

static void ukey_name(char *buf, size_t n, int k)
{
    snprintf(buf, n, "unique-%d", k);
}

static bool before_deadline(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec < deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec < deadline->tv_nsec);
}

/* The slot's pid changed: the old one was replaced and killed, so its
 * membership (if any) goes with its death. */
static void gworker_sync_slot(struct gworker *w, int j, fdn_pid_t now)
{
    if (w->cur[j] == now)
        return;
    if (w->is_member[j])
        w->lost++;
    w->is_member[j] = false;
    w->cur[j] = now;
}

static void gworker_group_op(struct gworker *w, int j, bool is_join)
{
    struct gstress *s = w->s;
    fdn_pid_t p = w->cur[j];
    if (is_join) {
        int rc = fdn_registry_join(s->groups, "g", p, NULL, NULL);
        if (rc == FDN_OK) {
            if (w->is_member[j])
                w->bad_double++; /* a second membership of one pid */
            w->is_member[j] = true;
            w->joined++;
        } else if (rc == FDN_EEXIST) {
            if (!w->is_member[j])
                w->bad_rc++;     /* a membership we never made */
        } else if (rc != FDN_ENOPROC) {
            w->bad_rc++;
        }
        return;
    }
    int rc = fdn_registry_leave(s->groups, "g", p);
    if (rc == FDN_OK) {
        if (!w->is_member[j])
            w->bad_rc++;
        w->is_member[j] = false;
        w->left++;
    } else if (rc == FDN_ENOENT) {
        if (w->is_member[j]) {
            /* Only a death removes our membership: p must be dying.
             * fdn_alive turns false once its cleanup has finished. */
            w->lost++;
            w->is_member[j] = false;
            if (!REG_POLL_UNTIL(!fdn_alive(s->rt, p)))
                w->bad_vanished++;
        }
    } else {
        w->bad_rc++;
    }
}

static void gworker_unique_op(struct gworker *w)
{
    struct gstress *s = w->s;
    if (w->next_ukey == G_UKEYS)
        return;
    int k = w->order[w->next_ukey++];
    char key[32];
    ukey_name(key, sizeof key, k);
    fdn_pid_t winner = FDN_PID_NONE;
    int rc = fdn_registry_register(s->unique, key, s->stable[w->id], NULL,
                                   &winner);
    if (rc == FDN_OK) {
        w->won[k] = 1;
    } else if (rc == FDN_EEXIST) {
        w->told[k] = -1;
        for (int i = 0; i < G_WORKERS; i++)
            if (winner == s->stable[i])
                w->told[k] = (int8_t)i;
        if (w->told[k] < 0)
            w->bad_rc++;
    } else {
        w->bad_rc++;
    }
}

static void *gstress_worker(void *arg)
{
    struct gworker *w = arg;
    struct gstress *s = w->s;
    /* One replayable shuffle of the unique keys for every worker, so
     * that they tend to reach a key at about the same time. */
    unsigned long long rng = s->seed ^ 0x9e3779b9ULL;
    for (int k = 0; k < G_UKEYS; k++)
        w->order[k] = (uint16_t)k;
    for (int k = G_UKEYS - 1; k > 0; k--) {
        int o = (int)(reg_rand(&rng) % (unsigned long long)(k + 1));
        uint16_t t = w->order[k];
        w->order[k] = w->order[o];
        w->order[o] = t;
    }
    rng = s->seed + (unsigned long long)w->id * 104729 + 3;
    pthread_barrier_wait(&s->start);
    for (int op = 0; op < G_OPS; op++) {
        if (op % 4096 == 0 && !before_deadline(&s->deadline))
            break;
        unsigned long long r = reg_rand(&rng);
        int j = (int)(r % G_SLOTS);
        fdn_pid_t now = atomic_load_explicit(
            &s->slots[w->id * G_SLOTS + j], memory_order_relaxed);
        gworker_sync_slot(w, j, now);
        /* 5 in 10 join, 4 in 10 leave, 1 in 10 a unique register. */
        unsigned what = (unsigned)((r >> 32) % 10);
        if (what < 9)
            gworker_group_op(w, j, what < 5);
        else
            gworker_unique_op(w);
        w->ops++;
    }
    /* The rest of the unique keys, so every key is tried by everyone. */
    while (w->next_ukey < G_UKEYS)
        gworker_unique_op(w);
    /* Release: pairs with the killer's acquire; only ends its loop. */
    atomic_fetch_sub_explicit(&s->workers_left, 1, memory_order_release);
    return NULL;
}

static void *gstress_killer(void *arg)
{
    struct gstress *s = arg;
    unsigned long long rng = s->seed ^ 0x5eedULL;
    pthread_barrier_wait(&s->start);
    /* Acquire: pairs with the workers' release decrement. */
    while (atomic_load_explicit(&s->workers_left, memory_order_acquire) > 0 &&
           s->kills < G_MAX_KILLS) {
        unsigned slot = (unsigned)(reg_rand(&rng) % (G_WORKERS * G_SLOTS));
        fdn_pid_t fresh = FDN_PID_NONE;
        if (fdn_spawn(s->rt, NULL, &reg_idle_behaviour, NULL, NULL, &fresh) !=
            FDN_OK)
            continue;
        fdn_pid_t old = atomic_exchange_explicit(&s->slots[slot], fresh,
                                                 memory_order_relaxed);
        /* No wait: deaths overlap with the workers' joins and leaves. */
        if (fdn_exit(s->rt, NULL, old, FDN_REASON_KILL) == FDN_OK)
            s->killed[s->kills++] = old;
        /* Pacing only (not synchronisation): owners live long enough to
         * join before they die. */
        struct timespec pause = {0, 50000};
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* Counts the entries of fdn_registry_foreach and those of dead pids (no
 * assertion in here: it runs inside a read-side critical section). */
struct gscan {
    fdn_runtime_t *rt;
    uint64_t entries, dead, wrong_key;
};

static void gscan_entry(void *arg, const char *key, fdn_pid_t pid,
                        const fdn_meta_field_t *fields, uint32_t nfields)
{
    (void)fields;
    (void)nfields;
    struct gscan *g = arg;
    g->entries++;
    if (!fdn_alive(g->rt, pid))
        g->dead++;
    if (strcmp(key, "g") != 0 && strncmp(key, "unique-", 7) != 0)
        g->wrong_key++;
}

/* Checks: REG-F3 REG-I2 REG-S1 REG-S4 */
Test(registry_stress, groups_with_deaths_mid_join_balance, .timeout = 120)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    static struct gstress s;
    memset(&s, 0, sizeof s);
    s.rt = fx.rt;
    s.seed = reg_seed("registry_stress groups");
    fdn_registry_ns_opts_t o;
    fdn_registry_ns_opts_init(&o);
    o.kind = FDN_REGISTRY_DUPLICATE;
    cr_assert_eq(fdn_registry_namespace_opts(fx.reg, "groups", &o, &s.groups),
                 FDN_OK);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "unique", &s.unique), FDN_OK);
    for (int i = 0; i < G_WORKERS * G_SLOTS; i++)
        atomic_init(&s.slots[i], reg_spawn_idle(fx.rt));
    for (int i = 0; i < G_WORKERS; i++)
        s.stable[i] = reg_spawn_idle(fx.rt);
    atomic_init(&s.workers_left, G_WORKERS);
    s.killed = calloc(G_MAX_KILLS, sizeof *s.killed);
    cr_assert_not_null(s.killed);
    clock_gettime(CLOCK_MONOTONIC, &s.deadline);
    s.deadline.tv_sec += G_BUDGET_S;
    pthread_barrier_init(&s.start, NULL, G_WORKERS + 1);

    static struct gworker w[G_WORKERS];
    pthread_t th[G_WORKERS + 1];
    for (int i = 0; i < G_WORKERS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].s = &s;
        w[i].id = i;
        for (int j = 0; j < G_SLOTS; j++)
            w[i].cur[j] = atomic_load_explicit(&s.slots[i * G_SLOTS + j],
                                               memory_order_relaxed);
        cr_assert_eq(pthread_create(&th[i], NULL, gstress_worker, &w[i]), 0);
    }
    cr_assert_eq(pthread_create(&th[G_WORKERS], NULL, gstress_killer, &s), 0);
    for (int i = 0; i <= G_WORKERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&s.start);
    for (long i = 0; i < s.kills; i++)
        cr_assert(REG_POLL_UNTIL(!fdn_alive(fx.rt, s.killed[i])));
    free(s.killed);

    /* Quiescent.  Settle the tallies of slots replaced after a worker's
     * last look. */
    long joined = 0, left = 0, lost = 0, ops = 0, members = 0;
    for (int i = 0; i < G_WORKERS; i++) {
        for (int j = 0; j < G_SLOTS; j++)
            gworker_sync_slot(&w[i], j,
                              atomic_load_explicit(&s.slots[i * G_SLOTS + j],
                                                   memory_order_relaxed));
        cr_assert_eq(w[i].bad_rc, 0, "worker %d: unexpected codes", i);
        cr_assert_eq(w[i].bad_double, 0, "worker %d: joined twice", i);
        cr_assert_eq(w[i].bad_vanished, 0,
                     "worker %d: a live owner's membership vanished", i);
        joined += w[i].joined;
        left += w[i].left;
        lost += w[i].lost;
        ops += w[i].ops;
        for (int j = 0; j < G_SLOTS; j++)
            members += w[i].is_member[j];
    }
    fprintf(stderr,
            "registry_stress groups: %ld ops, %ld joined, %ld left, %ld lost "
            "to deaths, %ld members, %ld owners killed\n",
            ops, joined, left, lost, members, s.kills);

    /* No entry names a dead pid, in either namespace. */
    struct gscan scan = {.rt = fx.rt};
    cr_assert_geq(fdn_registry_foreach(s.groups, gscan_entry, &scan), 0);
    cr_assert_geq(fdn_registry_foreach(s.unique, gscan_entry, &scan), 0);
    cr_assert_eq(scan.dead, 0, "%llu entries of dead pids",
                 (unsigned long long)scan.dead);
    cr_assert_eq(scan.wrong_key, 0);
    cr_assert_eq(scan.entries, (uint64_t)members + G_UKEYS);

    /* The group holds exactly the tallied memberships. */
    cr_assert_eq(joined, left + lost + members);
    size_t found = 0;
    cr_assert_eq(fdn_registry_members(s.groups, "g", NULL, 0, &found),
                 FDN_OK);
    cr_assert_eq(found, (size_t)members);
    cr_assert_eq(fdn_registry_count(s.groups), (uint64_t)members);
    for (int i = 0; i < G_WORKERS; i++)
        for (int j = 0; j < G_SLOTS; j++)
            cr_assert_eq(fdn_registry_get(s.groups, "g", w[i].cur[j], NULL,
                                          NULL),
                         w[i].is_member[j] ? FDN_OK : FDN_ENOENT,
                         "worker %d slot %d", i, j);

    /* Exactly one winner per unique key, named by every loser. */
    for (int k = 0; k < G_UKEYS; k++) {
        int wins = 0, by = -1;
        for (int i = 0; i < G_WORKERS; i++)
            if (w[i].won[k]) {
                wins++;
                by = i;
            }
        cr_assert_eq(wins, 1, "key %d: %d winners", k, wins);
        for (int i = 0; i < G_WORKERS; i++)
            if (i != by)
                cr_assert_eq(w[i].told[k], by, "key %d", k);
        char key[32];
        fdn_pid_t got = FDN_PID_NONE;
        ukey_name(key, sizeof key, k);
        cr_assert_eq(fdn_registry_lookup(s.unique, key, &got, NULL), FDN_OK);
        cr_assert_eq(got, s.stable[by]);
    }
    cr_assert_eq(fdn_registry_count(s.unique), G_UKEYS);

    for (int i = 0; i < G_WORKERS * G_SLOTS; i++)
        reg_kill(fx.rt, atomic_load_explicit(&s.slots[i],
                                             memory_order_relaxed));
    for (int i = 0; i < G_WORKERS; i++)
        reg_kill(fx.rt, s.stable[i]);
    cr_assert_eq(fdn_registry_total(fx.reg), 0);
    cr_assert(REG_POLL_UNTIL(fdn_registry_owner_count(fx.reg) == 0));
    reg_fixture_down(&fx);
}
