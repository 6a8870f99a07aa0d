/*
 * race.c — unit tests of concurrent registration: exactly one winner per key
 * and lookups that only ever see whole registrations.
 */
#include "unit/registry/reg_helpers.h"

#include <pthread.h>
#include <stdatomic.h>

enum { RACERS = 8, RACE_ROUNDS = 200 };

struct racer {
    fdn_registry_ns_t *ns;
    pthread_barrier_t *start;
    fdn_pid_t pid;
    int rc[RACE_ROUNDS];
    fdn_pid_t winner[RACE_ROUNDS];
};

static void *race_register(void *arg)
{
    struct racer *r = arg;
    char key[24];
    for (int round = 0; round < RACE_ROUNDS; round++) {
        snprintf(key, sizeof key, "race-%d", round);
        pthread_barrier_wait(r->start);
        r->winner[round] = FDN_PID_NONE;
        r->rc[round] =
            fdn_registry_register(r->ns, key, r->pid, NULL, &r->winner[round]);
    }
    return NULL;
}

/* Checks: REG-S1 REG-I1 */
Test(registry_race, exactly_one_winner_per_key)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    fdn_registry_ns_t *ns;
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &ns), FDN_OK);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACERS);
    static struct racer r[RACERS];
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i].ns = ns;
        r[i].start = &start;
        r[i].pid = reg_spawn_idle(fx.rt);
    }
    for (int i = 0; i < RACERS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, race_register, &r[i]), 0);
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);

    char key[24];
    for (int round = 0; round < RACE_ROUNDS; round++) {
        int winners = 0;
        fdn_pid_t won = FDN_PID_NONE;
        for (int i = 0; i < RACERS; i++) {
            if (r[i].rc[round] == FDN_OK) {
                winners++;
                won = r[i].pid;
            }
        }
        cr_assert_eq(winners, 1, "round %d: %d winners", round, winners);
        for (int i = 0; i < RACERS; i++) {
            if (r[i].rc[round] == FDN_OK)
                continue;
            cr_assert_eq(r[i].rc[round], FDN_EEXIST);
            cr_assert_eq(r[i].winner[round], won);
        }
        fdn_pid_t got;
        snprintf(key, sizeof key, "race-%d", round);
        cr_assert_eq(fdn_registry_lookup(ns, key, &got, NULL), FDN_OK);
        cr_assert_eq(got, won);
    }
    cr_assert_eq(fdn_registry_count(ns), RACE_ROUNDS);
    reg_fixture_down(&fx);
}

/*
 * Writers repeatedly register one key with a self-consistent map (a = i,
 * b = 3 * i, s = "v<i>", owner = pids[i % NOWN]) and unregister it; readers
 * check that every lookup returns a map and pid from one registration.
 */
enum { NOWN = 4, WRITERS = 2, READERS = 2, WRITES = 20000 };

struct torn {
    fdn_registry_ns_t *ns;
    fdn_pid_t pids[NOWN];
    pthread_barrier_t start;
    _Atomic int writers_left;
    _Atomic long seen;   /* lookups that found an entry */
    _Atomic long torn;   /* inconsistent ones */
};

struct writer_arg {
    struct torn *t;
    int id;
};

static void *torn_writer(void *arg)
{
    struct writer_arg *wa = arg;
    struct torn *t = wa->t;
    pthread_barrier_wait(&t->start);
    for (int n = 0; n < WRITES; n++) {
        int i = n * WRITERS + wa->id;
        fdn_meta_t m;
        memset(&m, 0, sizeof m);
        char s[16];
        snprintf(s, sizeof s, "v%d", i);
        fdn_meta_set_int(&m, "a", i);
        fdn_meta_set_int(&m, "b", 3 * (int64_t)i);
        fdn_meta_set_str(&m, "s", s);
        fdn_pid_t owner = t->pids[i % NOWN];
        if (fdn_registry_register(t->ns, "hot", owner, &m, NULL) == FDN_OK)
            fdn_registry_unregister(t->ns, "hot", owner);
    }
    /* Release: pairs with the readers' acquire load; nothing is published
     * through it, it only ends their loops. */
    atomic_fetch_sub_explicit(&t->writers_left, 1, memory_order_release);
    return NULL;
}

static void *torn_reader(void *arg)
{
    struct torn *t = arg;
    pthread_barrier_wait(&t->start);
    /* Acquire: pairs with the writers' release decrement. */
    while (atomic_load_explicit(&t->writers_left, memory_order_acquire) > 0) {
        fdn_meta_t m;
        fdn_pid_t pid;
        if (fdn_registry_lookup(t->ns, "hot", &pid, &m) != FDN_OK)
            continue;
        /* Relaxed: independent counters read after the join. */
        atomic_fetch_add_explicit(&t->seen, 1, memory_order_relaxed);
        const fdn_meta_value_t *a = fdn_meta_get(&m, "a");
        const fdn_meta_value_t *b = fdn_meta_get(&m, "b");
        const fdn_meta_value_t *s = fdn_meta_get(&m, "s");
        char want[16] = "";
        bool ok = m.count == 3 && a && b && s && a->type == FDN_META_INT &&
                  b->type == FDN_META_INT && s->type == FDN_META_STR;
        if (ok) {
            snprintf(want, sizeof want, "v%d", (int)a->as.i);
            ok = b->as.i == 3 * a->as.i && strcmp(s->as.s, want) == 0 &&
                 pid == t->pids[a->as.i % NOWN];
        }
        if (!ok)
            atomic_fetch_add_explicit(&t->torn, 1, memory_order_relaxed);
    }
    return NULL;
}

/* Checks: REG-S3 */
Test(registry_race, lookups_never_see_a_half_written_entry)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 2);
    static struct torn t;
    memset(&t, 0, sizeof t);
    cr_assert_eq(fdn_registry_namespace(fx.reg, "ns", &t.ns), FDN_OK);
    for (int i = 0; i < NOWN; i++)
        t.pids[i] = reg_spawn_idle(fx.rt);
    atomic_init(&t.writers_left, WRITERS);
    pthread_barrier_init(&t.start, NULL, WRITERS + READERS);
    pthread_t th[WRITERS + READERS];
    struct writer_arg wa[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        wa[i].t = &t;
        wa[i].id = i;
        cr_assert_eq(pthread_create(&th[i], NULL, torn_writer, &wa[i]), 0);
    }
    for (int i = 0; i < READERS; i++)
        cr_assert_eq(
            pthread_create(&th[WRITERS + i], NULL, torn_reader, &t), 0);
    for (int i = 0; i < WRITERS + READERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&t.start);
    fprintf(stderr, "torn-read test: %ld lookups found an entry\n",
            atomic_load_explicit(&t.seen, memory_order_relaxed));
    cr_assert_eq(atomic_load_explicit(&t.torn, memory_order_relaxed), 0);
    cr_assert_eq(fdn_registry_count(t.ns), 0);
    reg_fixture_down(&fx);
}
