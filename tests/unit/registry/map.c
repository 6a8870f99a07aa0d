/*
 * map.c — unit tests of the registry's hash table (src/registry/map.h)
 * through its internal API: a sequential model test over colliding hashes,
 * the add_unique / del / replace contract, out of memory, concurrent
 * writers, readers and resizes, and fini.
 *
 * Items are struct item, whose hash is whatever the test stored in it, so
 * a test can choose collisions: the hash's low bits pick the home bucket
 * (all ones: the last bucket of every table, so chains wrap to bucket 0)
 * and its top byte is the slot tag (0 and 1 both give tag 1).  The map's
 * tables are the only allocations made through the tests' allocator, so
 * its counters measure them exactly.
 */
#include "registry/map.h"
#include "registry/registry_internal.h"
#include "unit/registry/reg_helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* ---- items ------------------------------------------------------------ */

struct item {
    uint64_t key;
    uint64_t hash;
    int value;
};

static uint64_t item_hash(const void *p)
{
    return ((const struct item *)p)->hash;
}

static bool item_match(const void *p, const void *arg)
{
    return ((const struct item *)p)->key == *(const uint64_t *)arg;
}

/* Usable from any thread: aborts rather than asserting off the main one. */
static struct item *item_new(uint64_t key, uint64_t hash, int value)
{
    struct item *it = malloc(sizeof *it);
    if (it == NULL)
        abort();
    it->key = key;
    it->hash = hash;
    it->value = value;
    return it;
}

/* splitmix64's finaliser: a well spread hash of a key. */
static uint64_t mix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

#define LOW32 UINT64_C(0xffffffff)
#define MID24 UINT64_C(0x00ffffff00000000)

enum hash_mode {
    HASH_SPREAD,  /* every key its own hash */
    HASH_FEW,     /* homes: the last three buckets; tags vary */
    HASH_ONE,     /* home: the last bucket; every key tag 1 */
};

static uint64_t key_hash(enum hash_mode mode, uint64_t key)
{
    uint64_t h = mix64(key);
    switch (mode) {
    case HASH_FEW:
        return (h & ~LOW32) | (LOW32 - key % 3);
    case HASH_ONE:
        /* Top byte 0 or 1: both are tag 1, so every slot's tag matches. */
        return ((key & 1) << 56) | (h & MID24) | LOW32;
    case HASH_SPREAD:
    default:
        return h;
    }
}

/* ---- an allocator that fails large blocks ------------------------------ */

/* Fails every allocation larger than limit; counts calls and live blocks.
 * Thread safe (the RCU callback thread frees old tables through it). */
struct lim_alloc {
    fdn_allocator_t a;
    _Atomic size_t limit;
    _Atomic long calls;
    _Atomic long live;
};

static void *lim_alloc_fn(void *ctx, size_t n)
{
    struct lim_alloc *la = ctx;
    /* Relaxed: independent counters and a setting the test changes only
     * between map calls; nothing is published through them. */
    atomic_fetch_add_explicit(&la->calls, 1, memory_order_relaxed);
    if (n > atomic_load_explicit(&la->limit, memory_order_relaxed))
        return NULL;
    void *p = malloc(n);
    if (p != NULL)
        atomic_fetch_add_explicit(&la->live, 1, memory_order_relaxed);
    return p;
}

static void lim_release_fn(void *ctx, void *p)
{
    struct lim_alloc *la = ctx;
    if (p == NULL)
        return;
    /* Relaxed: read after fdn__rcu_barrier, which orders the callbacks. */
    atomic_fetch_sub_explicit(&la->live, 1, memory_order_relaxed);
    free(p);
}

static void lim_init(struct lim_alloc *la)
{
    la->a.alloc = lim_alloc_fn;
    la->a.release = lim_release_fn;
    la->a.ctx = la;
    atomic_init(&la->limit, SIZE_MAX);
    atomic_init(&la->calls, 0);
    atomic_init(&la->live, 0);
}

static void lim_set(struct lim_alloc *la, size_t limit)
{
    atomic_store_explicit(&la->limit, limit, memory_order_relaxed);
}

/* Live blocks once every queued RCU callback (old tables) has run. */
static long lim_live(struct lim_alloc *la)
{
    fdn__rcu_barrier();
    return atomic_load_explicit(&la->live, memory_order_relaxed);
}

static long lim_calls(struct lim_alloc *la)
{
    return atomic_load_explicit(&la->calls, memory_order_relaxed);
}

/* ---- small wrappers: one map call in its own critical section ---------- */

static void *map_get(struct reg_map *m, enum hash_mode mode, uint64_t key)
{
    fdn__rcu_read_lock();
    void *got = fdn__map_lookup(m, key_hash(mode, key), item_match, &key);
    fdn__rcu_read_unlock();
    return got;
}

static void *map_add(struct reg_map *m, struct item *it)
{
    fdn__rcu_read_lock();
    void *got = fdn__map_add_unique(m, it->hash, item_match, &it->key, it);
    fdn__rcu_read_unlock();
    return got;
}

static bool map_del(struct reg_map *m, struct item *it)
{
    fdn__rcu_read_lock();
    bool ok = fdn__map_del(m, it->hash, it);
    fdn__rcu_read_unlock();
    return ok;
}

static bool map_replace(struct reg_map *m, struct item *old, struct item *it)
{
    fdn__rcu_read_lock();
    bool ok = fdn__map_replace(m, old->hash, old, it);
    fdn__rcu_read_unlock();
    return ok;
}

static uint64_t map_buckets(struct reg_map *m)
{
    fdn__rcu_read_lock();
    uint64_t b = fdn__map_buckets(m);
    fdn__rcu_read_unlock();
    return b;
}

/* Items a full walk returns (one critical section). */
static uint64_t map_walk_count(struct reg_map *m)
{
    uint64_t n = 0;
    struct reg_map_iter it = {0};
    fdn__rcu_read_lock();
    while (fdn__map_next(m, &it) != NULL)
        n++;
    fdn__rcu_read_unlock();
    return n;
}

/* Removes and frees every item, then checks fini and that no table is
 * left. */
static void map_empty_and_fini(struct reg_map *m, struct lim_alloc *la)
{
    struct reg_map_iter it = {0};
    struct item *x;
    int failed = 0;
    fdn__rcu_read_lock();
    while ((x = fdn__map_next(m, &it)) != NULL)
        failed += !fdn__map_del(m, x->hash, x);
    fdn__rcu_read_unlock();
    cr_assert_eq(failed, 0, "del of a walked item failed");
    /* The walk stays on one table and del never resizes: it saw all. */
    cr_assert_eq(map_walk_count(m), 0);
    fdn__rcu_barrier();
    cr_assert(fdn__map_fini(m), "fini of an emptied map");
    cr_assert_eq(lim_live(la), 0, "tables left after fini");
}

/* ---- 1. sequential model test ------------------------------------------ */

enum { MODEL_KEYS = 160, MODEL_STEPS = 1500 };
enum { OP_ADD, OP_DEL, OP_REPLACE, OP_LOOKUP };

struct model {
    struct reg_map m;
    struct lim_alloc la;
    enum hash_mode mode;
    bool use_fit;
    struct item *at[MODEL_KEYS]; /* key k's item, or NULL */
    uint64_t count, max_count;
    uint64_t buckets;
    int grows, shrinks;
    int next_value;
};

/* Every key's lookup agrees with the model, and a walk returns each
 * present item exactly once and nothing else. */
static void model_check(struct model *md, int step)
{
    static uint8_t seen[MODEL_KEYS];
    int bad_key = -1;
    fdn__rcu_read_lock();
    for (uint64_t k = 0; k < MODEL_KEYS && bad_key < 0; k++)
        if (fdn__map_lookup(&md->m, key_hash(md->mode, k), item_match, &k) !=
            md->at[k])
            bad_key = (int)k;
    fdn__rcu_read_unlock();
    cr_assert_lt(bad_key, 0, "step %d: the lookup of key %d disagrees",
                 step, bad_key);

    memset(seen, 0, sizeof seen);
    uint64_t n = 0;
    bool ok = true;
    struct reg_map_iter it = {0};
    struct item *x;
    fdn__rcu_read_lock();
    while ((x = fdn__map_next(&md->m, &it)) != NULL) {
        n++;
        if (x->key >= MODEL_KEYS || md->at[x->key] != x ||
            seen[x->key]++ != 0)
            ok = false;
    }
    fdn__rcu_read_unlock();
    cr_assert(ok, "step %d: the walk returned an absent or repeated item",
              step);
    cr_assert_eq(n, md->count, "step %d: walk %llu, model %llu", step,
                 (unsigned long long)n, (unsigned long long)md->count);
}

static void model_step(struct model *md, int op, uint64_t k, int step)
{
    uint64_t h = key_hash(md->mode, k);
    struct item *cur = md->at[k];
    struct item absent = {k, h, -1};
    switch (op) {
    case OP_ADD: {
        struct item *it = item_new(k, h, md->next_value++);
        void *got = map_add(&md->m, it);
        if (cur != NULL) {
            cr_assert_eq(got, cur, "step %d: duplicate add of %llu", step,
                         (unsigned long long)k);
            free(it);
        } else {
            cr_assert_eq(got, it, "step %d: add of %llu", step,
                         (unsigned long long)k);
            md->at[k] = it;
            md->count++;
        }
        break;
    }
    case OP_DEL:
        if (cur != NULL) {
            cr_assert(map_del(&md->m, cur), "step %d: del of %llu", step,
                      (unsigned long long)k);
            /* No other thread reads this map: no grace period to wait. */
            free(cur);
            md->at[k] = NULL;
            md->count--;
        } else {
            cr_assert_not(map_del(&md->m, &absent));
        }
        break;
    case OP_REPLACE: {
        struct item *it = item_new(k, h, md->next_value++);
        if (cur != NULL) {
            cr_assert(map_replace(&md->m, cur, it),
                      "step %d: replace of %llu", step,
                      (unsigned long long)k);
            free(cur);
            md->at[k] = it;
        } else {
            cr_assert_not(map_replace(&md->m, &absent, it));
            free(it);
        }
        break;
    }
    default:
        break;
    }
    if (md->count > md->max_count)
        md->max_count = md->count;

    if (md->use_fit) {
        cr_assert(fdn__map_fit(&md->m, md->count));
        uint64_t b = map_buckets(&md->m);
        /* Load kept in [0.5, 4] items per bucket, 8 buckets at least. */
        cr_assert(md->count <= 4 * b && (b == 8 || 2 * md->count >= b),
                  "step %d: %llu items in %llu buckets", step,
                  (unsigned long long)md->count, (unsigned long long)b);
    }
    uint64_t b = map_buckets(&md->m);
    cr_assert_leq(md->count, 7 * b);
    if (b > md->buckets)
        md->grows++;
    if (b < md->buckets)
        md->shrinks++;
    md->buckets = b;
    model_check(md, step);
}

static void model_run(enum hash_mode mode, bool use_fit,
                      unsigned long long seed)
{
    static struct model md;
    memset(&md, 0, sizeof md);
    lim_init(&md.la);
    md.mode = mode;
    md.use_fit = use_fit;
    fdn__rcu_thread_enter();
    cr_assert_eq(fdn__map_init(&md.m, &md.la.a, item_hash), FDN_OK);
    md.buckets = map_buckets(&md.m);
    cr_assert_eq(md.buckets, 8);
    int step = 0;

    /* Fill: every key, so colliding chains get long (HASH_ONE: 153 items
     * overflow past the home bucket, more than its count holds). */
    for (uint64_t k = 0; k < MODEL_KEYS; k++)
        model_step(&md, OP_ADD, k, step++);
    /* Random operations, adds weighted to keep the chains long. */
    for (int i = 0; i < MODEL_STEPS; i++) {
        unsigned long long r = reg_rand(&seed) % 100;
        int op = r < 40 ? OP_ADD : r < 65 ? OP_DEL : r < 85 ? OP_REPLACE
                                                            : OP_LOOKUP;
        model_step(&md, op, reg_rand(&seed) % MODEL_KEYS, step++);
    }
    /* Drain, from a random starting key: every table shrinks back. */
    uint64_t first = reg_rand(&seed) % MODEL_KEYS;
    for (uint64_t i = 0; i < MODEL_KEYS; i++)
        model_step(&md, OP_DEL, (first + i) % MODEL_KEYS, step++);

    cr_assert_eq(md.count, 0);
    cr_assert_eq(md.max_count, MODEL_KEYS);
    cr_assert_gt(md.grows, 0);
    if (use_fit) {
        cr_assert_gt(md.shrinks, 0);
        cr_assert_eq(md.buckets, 8, "fit shrinks an empty map to 8");
    }
    cr_assert(fdn__map_fini(&md.m), "fini of an emptied map");
    cr_assert_eq(lim_live(&md.la), 0, "tables left after fini");
}

/*
 * Random add_unique / del / replace / lookup over 160 keys against an array
 * model, fit after every operation (grow and shrink), for a spread hash,
 * three neighbouring home buckets at the end of the table (chains wrap to
 * bucket 0) and one home bucket with one tag for every key (every slot's
 * tag matches; more than 127 items overflow past one bucket, saturating
 * its count).  After each operation every key's lookup agrees with the
 * model and a walk returns each present item exactly once.
 * Checks: REG-S14 (and the table's part of REG-I1, REG-I3)
 */
Test(registry_map, model_with_fit_after_every_operation)
{
    unsigned long long seed = reg_seed("map model with fit");
    model_run(HASH_SPREAD, true, seed);
    model_run(HASH_FEW, true, seed + 1);
    model_run(HASH_ONE, true, seed + 2);
}

/*
 * The same model without fit: tables grow only when an add finds every
 * slot taken (a full table of 8 buckets, then of 32), and never shrink.
 * Checks: REG-S14 REG-L5 (and the table's part of REG-I1, REG-I3)
 */
Test(registry_map, model_growing_only_when_full)
{
    unsigned long long seed = reg_seed("map model without fit");
    model_run(HASH_SPREAD, false, seed);
    model_run(HASH_FEW, false, seed + 1);
    model_run(HASH_ONE, false, seed + 2);
}

/* ---- 2. duplicates and absent items ------------------------------------ */

/*
 * add_unique of a taken key returns the item already there and inserts
 * nothing; del and replace of an item that is not in the map (another
 * item with the same key, or one already removed) return false and change
 * nothing.  Items with one hash and different keys are distinct.
 * Checks: REG-S14 (and the table's part of REG-I1)
 */
Test(registry_map, add_unique_and_absent_items)
{
    struct lim_alloc la;
    lim_init(&la);
    struct reg_map m;
    fdn__rcu_thread_enter();
    cr_assert_eq(fdn__map_init(&m, &la.a, item_hash), FDN_OK);
    uint64_t h = key_hash(HASH_SPREAD, 1);
    struct item *a = item_new(1, h, 1);
    struct item *b = item_new(1, h, 2);
    struct item *c = item_new(1, h, 3);
    struct item *d = item_new(2, h, 4); /* another key, the same hash */

    cr_assert_eq(map_add(&m, a), a);
    cr_assert_eq(map_add(&m, b), a, "a duplicate returns the existing item");
    cr_assert_eq(map_add(&m, a), a, "adding the same item again");
    cr_assert_eq(map_walk_count(&m), 1);
    cr_assert_eq(map_add(&m, d), d, "the same hash, another key");
    cr_assert_eq(map_walk_count(&m), 2);
    cr_assert_eq(map_get(&m, HASH_SPREAD, 1), a);

    /* b and c have a's key but are not in the map. */
    cr_assert_not(map_del(&m, b));
    cr_assert_not(map_replace(&m, b, c));
    cr_assert_eq(map_get(&m, HASH_SPREAD, 1), a);
    cr_assert_eq(map_walk_count(&m), 2);

    cr_assert(map_replace(&m, a, c));
    cr_assert_eq(map_get(&m, HASH_SPREAD, 1), c);
    cr_assert_not(map_del(&m, a), "a was replaced");
    cr_assert_not(map_replace(&m, a, b), "a was replaced");
    cr_assert_eq(map_get(&m, HASH_SPREAD, 1), c);
    cr_assert(map_del(&m, c));
    cr_assert_not(map_del(&m, c), "c was removed");
    cr_assert_not(map_replace(&m, c, b), "c was removed");
    cr_assert_null(map_get(&m, HASH_SPREAD, 1));
    cr_assert_eq(map_walk_count(&m), 1);
    /* d's lookup goes by d's key through the same hash. */
    fdn__rcu_read_lock();
    uint64_t key2 = 2;
    cr_assert_eq(fdn__map_lookup(&m, h, item_match, &key2), d);
    fdn__rcu_read_unlock();
    cr_assert(map_del(&m, d));
    cr_assert_eq(map_walk_count(&m), 0);

    cr_assert(fdn__map_fini(&m));
    cr_assert_eq(lim_live(&la), 0);
    free(a);
    free(b);
    free(c);
    free(d);
}

/* ---- 3. out of memory -------------------------------------------------- */

/*
 * fdn__map_init that cannot allocate its table returns FDN_ENOMEM and
 * leaves nothing allocated.
 * Checks: REG-F1
 */
Test(registry_map, init_out_of_memory)
{
    struct lim_alloc la;
    lim_init(&la);
    lim_set(&la, 0);
    struct reg_map m;
    fdn__rcu_thread_enter();
    cr_assert_eq(fdn__map_init(&m, &la.a, item_hash), FDN_ENOMEM);
    cr_assert_eq(lim_calls(&la), 1);
    cr_assert_eq(lim_live(&la), 0);
}

/* Every one of the n items of its[] is found and the walk has n items. */
static void expect_all(struct reg_map *m, enum hash_mode mode,
                       struct item **its, int n)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(map_get(m, mode, its[i]->key), its[i], "item %d", i);
    cr_assert_eq(map_walk_count(m), (uint64_t)n);
}

/*
 * With every table allocation failing: fit that would grow returns false
 * and the map stays as it was, and usable; once every slot is taken,
 * add_unique returns NULL and changes nothing (but still returns the
 * existing item for a taken key), while del and replace work.  When
 * memory comes back the map grows and loses nothing.  The same for a fit
 * that would shrink.
 * Checks: REG-L5 REG-F1
 */
Test(registry_map, out_of_memory_leaves_the_map_usable)
{
    enum { FULL = 8 * 7 };
    const enum hash_mode mode = HASH_FEW; /* chains wrap around */
    struct lim_alloc la;
    lim_init(&la);
    struct reg_map m;
    fdn__rcu_thread_enter();
    cr_assert_eq(fdn__map_init(&m, &la.a, item_hash), FDN_OK);
    /* An 8-bucket table is about 600 bytes; 1024 lets no larger one. */
    lim_set(&la, 1024);
    static struct item *its[FULL + 1];
    for (int i = 0; i < FULL; i++) {
        its[i] = item_new((uint64_t)i, key_hash(mode, (uint64_t)i), i);
        cr_assert_eq(map_add(&m, its[i]), its[i], "add %d", i);
        long calls = lim_calls(&la);
        bool ok = fdn__map_fit(&m, (uint64_t)i + 1);
        /* Up to 4 items per bucket fit 8 buckets; more ask for a table. */
        cr_assert_eq(ok, i + 1 <= 32, "fit after %d items", i + 1);
        cr_assert_eq(lim_calls(&la), calls + (i + 1 <= 32 ? 0 : 1));
        cr_assert_eq(map_buckets(&m), 8);
        expect_all(&m, mode, its, i + 1);
    }
    cr_assert_eq(lim_live(&la), 1, "a failed fit left a table behind");

    /* Full: an add must grow the table, and cannot. */
    its[FULL] = item_new(FULL, key_hash(mode, FULL), FULL);
    long calls = lim_calls(&la);
    cr_assert_null(map_add(&m, its[FULL]), "add to a full table");
    cr_assert_eq(lim_calls(&la), calls + 1, "one attempt to grow");
    cr_assert_eq(lim_live(&la), 1);
    cr_assert_null(map_get(&m, mode, FULL));
    expect_all(&m, mode, its, FULL);
    struct item *dup = item_new(7, key_hash(mode, 7), -1);
    cr_assert_eq(map_add(&m, dup), its[7], "a taken key on a full table");
    /* Replace needs no slot; del frees one, which the next add takes. */
    cr_assert(map_replace(&m, its[7], dup));
    struct item *old7 = its[7];
    its[7] = dup;
    free(old7);
    expect_all(&m, mode, its, FULL);
    cr_assert(map_del(&m, its[0]));
    cr_assert_eq(map_add(&m, its[FULL]), its[FULL]);
    free(its[0]);
    its[0] = its[FULL];
    its[FULL] = NULL;
    expect_all(&m, mode, its, FULL);
    cr_assert_eq(map_buckets(&m), 8);

    /* Memory is back: the map grows and keeps every item. */
    lim_set(&la, SIZE_MAX);
    cr_assert(fdn__map_fit(&m, FULL));
    cr_assert_eq(map_buckets(&m), 32);
    cr_assert_eq(lim_live(&la), 1, "the old table was freed");
    expect_all(&m, mode, its, FULL);

    /* A shrink that cannot allocate: false, the map unchanged. */
    for (int i = 5; i < FULL; i++) {
        cr_assert(map_del(&m, its[i]));
        free(its[i]);
    }
    lim_set(&la, 0);
    cr_assert_not(fdn__map_fit(&m, 5));
    cr_assert_eq(map_buckets(&m), 32);
    cr_assert_eq(lim_live(&la), 1);
    expect_all(&m, mode, its, 5);
    /* And the buckets were unlocked: writes still work. */
    struct item *extra = item_new(1000, key_hash(mode, 1000), 0);
    cr_assert_eq(map_add(&m, extra), extra);
    cr_assert(map_del(&m, extra));
    free(extra);
    lim_set(&la, SIZE_MAX);
    cr_assert(fdn__map_fit(&m, 5));
    cr_assert_eq(map_buckets(&m), 8);
    expect_all(&m, mode, its, 5);

    map_empty_and_fini(&m, &la);
    for (int i = 0; i < 5; i++)
        free(its[i]);
}

/* ---- 4. concurrency ---------------------------------------------------- */

/*
 * Writers add, delete and replace volatile keys, which they share, and
 * replace the stable keys each owns; they call fit with the real count
 * and with an eighth and eight times of it, so the table is copied
 * (grown, shrunk or copied at its size) over and over.  Readers look up
 * every stable key without pause and walk the map.  Half the keys live
 * in the last bucket with one tag, so chains wrap and overflow counts
 * change under the readers.
 */
enum {
    CW = 3,           /* writers */
    CR = 2,           /* readers */
    C_STABLE = 48,    /* keys 0 .. 47; stable key k belongs to writer k % CW */
    C_VOLATILE = 96,  /* keys C_VBASE .. C_VBASE + 95, shared */
    C_VBASE = 1000,
    C_OPS = 10000,    /* per writer */
};

static uint64_t conc_hash(uint64_t key)
{
    return key % 2 == 0 ? key_hash(HASH_ONE, key / 2)
                        : key_hash(HASH_SPREAD, key);
}

struct conc {
    struct reg_map m;
    struct lim_alloc la;
    pthread_barrier_t start;
    unsigned long long seed;
    _Atomic int writers_left;
    _Atomic long count;        /* items in the map, for fit */
    _Atomic int gen[C_STABLE]; /* stable key k's newest value */
    /* Readers' results (relaxed: read after the join). */
    _Atomic long lookups, missing, stale, bad, walks, walk_bad;
};

struct conc_writer {
    struct conc *c;
    int id;
    long adds, dels, replaces, fits, oom, fit_fails, errors;
    struct item **retired; /* removed items, freed after the run */
    size_t nretired, cap;
};

static void retire(struct conc_writer *w, struct item *x)
{
    if (w->nretired == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 256;
        w->retired = realloc(w->retired, w->cap * sizeof *w->retired);
        if (w->retired == NULL)
            abort();
    }
    w->retired[w->nretired++] = x;
}

static void conc_fit(struct conc_writer *w, uint64_t count)
{
    /* Outside any critical section, as the registry calls it. */
    if (!fdn__map_fit(&w->c->m, count))
        w->fit_fails++;
    w->fits++;
}

static void conc_write_one(struct conc_writer *w, unsigned long long *rng)
{
    struct conc *c = w->c;
    unsigned long long r = reg_rand(rng) % 100;
    uint64_t k = C_VBASE + reg_rand(rng) % C_VOLATILE;
    uint64_t h = conc_hash(k);
    if (r < 30) {
        struct item *it = item_new(k, h, 0);
        fdn__rcu_read_lock();
        struct item *got = fdn__map_add_unique(&c->m, h, item_match, &k, it);
        if (got != NULL && got != it && got->key != k)
            w->errors++;
        fdn__rcu_read_unlock();
        if (got == it) {
            w->adds++;
            /* Relaxed: only a size hint for fit. */
            atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
        } else {
            if (got == NULL)
                w->oom++;
            free(it); /* never published */
        }
    } else if (r < 55) {
        fdn__rcu_read_lock();
        struct item *x = fdn__map_lookup(&c->m, h, item_match, &k);
        if (x != NULL && fdn__map_del(&c->m, h, x)) {
            w->dels++;
            retire(w, x);
            atomic_fetch_sub_explicit(&c->count, 1, memory_order_relaxed);
        }
        fdn__rcu_read_unlock();
    } else if (r < 75) {
        fdn__rcu_read_lock();
        struct item *x = fdn__map_lookup(&c->m, h, item_match, &k);
        if (x != NULL) {
            struct item *y = item_new(k, h, x->value + 1);
            if (fdn__map_replace(&c->m, h, x, y)) {
                w->replaces++;
                retire(w, x);
            } else {
                free(y); /* x went meanwhile; y never published */
            }
        }
        fdn__rcu_read_unlock();
    } else if (r < 90) {
        /* One of this writer's stable keys: only this writer changes it,
         * so the replace must succeed and be seen at once. */
        k = (uint64_t)w->id + CW * (reg_rand(rng) % (C_STABLE / CW));
        h = conc_hash(k);
        fdn__rcu_read_lock();
        struct item *x = fdn__map_lookup(&c->m, h, item_match, &k);
        if (x == NULL) {
            w->errors++;
        } else {
            struct item *y = item_new(k, h, x->value + 1);
            if (!fdn__map_replace(&c->m, h, x, y)) {
                w->errors++;
                free(y);
            } else {
                w->replaces++;
                retire(w, x);
                /* Release: pairs with the readers' acquire loads; the
                 * replace that published y happens before. */
                atomic_store_explicit(&c->gen[k], y->value,
                                      memory_order_release);
                if (fdn__map_lookup(&c->m, h, item_match, &k) != y)
                    w->errors++;
            }
        }
        fdn__rcu_read_unlock();
    } else {
        long n = atomic_load_explicit(&c->count, memory_order_relaxed);
        uint64_t count = n > 0 ? (uint64_t)n : 0;
        switch (reg_rand(rng) % 3) {
        case 0:
            conc_fit(w, count / 8);
            break;
        case 1:
            conc_fit(w, count * 8);
            break;
        default:
            conc_fit(w, count);
            break;
        }
    }
}

static void *conc_writer_main(void *arg)
{
    struct conc_writer *w = arg;
    struct conc *c = w->c;
    unsigned long long rng = c->seed ^ (0x9e3779b97f4a7c15ULL * (w->id + 1u));
    fdn__rcu_thread_enter();
    pthread_barrier_wait(&c->start);
    for (int n = 0; n < C_OPS; n++) {
        conc_write_one(w, &rng);
        if (n % 4 == 0) {
            long cnt = atomic_load_explicit(&c->count, memory_order_relaxed);
            conc_fit(w, cnt > 0 ? (uint64_t)cnt : 0);
        }
    }
    /* Release: pairs with the readers' acquire load; it only ends their
     * loops. */
    atomic_fetch_sub_explicit(&c->writers_left, 1, memory_order_release);
    return NULL;
}

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(void *const *)a;
    uintptr_t y = (uintptr_t)*(void *const *)b;
    return x < y ? -1 : x > y;
}

/* One walk: every stable key exactly once, every item well formed and at
 * most once.  False if not. */
static bool conc_walk_ok(struct conc *c)
{
    /* Room for more items than the map ever holds at once: a volatile key
     * removed and added again behind the walk may be returned twice. */
    enum { MAXW = 4 * (C_STABLE + C_VOLATILE) };
    void *ptrs[MAXW];
    int stable[C_STABLE];
    memset(stable, 0, sizeof stable);
    size_t n = 0;
    bool ok = true;
    struct reg_map_iter it = {0};
    struct item *x;
    fdn__rcu_read_lock();
    while ((x = fdn__map_next(&c->m, &it)) != NULL) {
        if (n < MAXW)
            ptrs[n] = x;
        n++;
        if (x->hash != conc_hash(x->key))
            ok = false;
        else if (x->key < C_STABLE)
            stable[x->key]++;
        else if (x->key < C_VBASE || x->key >= C_VBASE + C_VOLATILE)
            ok = false;
    }
    fdn__rcu_read_unlock();
    for (int k = 0; k < C_STABLE; k++)
        if (stable[k] != 1)
            ok = false;
    /* Items are never added twice, so no pointer may repeat. */
    if (n <= MAXW) {
        qsort(ptrs, n, sizeof ptrs[0], ptr_cmp);
        for (size_t i = 1; i < n; i++)
            if (ptrs[i] == ptrs[i - 1])
                ok = false;
    }
    return ok;
}

static void *conc_reader_main(void *arg)
{
    struct conc *c = arg;
    fdn__rcu_thread_enter();
    pthread_barrier_wait(&c->start);
    long lookups = 0, missing = 0, stale = 0, bad = 0, walks = 0,
         walk_bad = 0;
    /* Acquire: pairs with the writers' release decrement. */
    for (unsigned round = 0;
         atomic_load_explicit(&c->writers_left, memory_order_acquire) > 0;
         round++) {
        fdn__rcu_read_lock();
        for (uint64_t k = 0; k < C_STABLE; k++) {
            /* Acquire: pairs with the owner's release store after its
             * replace; the item found is that one or a newer one. */
            int g0 = atomic_load_explicit(&c->gen[k], memory_order_acquire);
            struct item *x = fdn__map_lookup(&c->m, conc_hash(k), item_match,
                                             &k);
            int g1 = atomic_load_explicit(&c->gen[k], memory_order_acquire);
            lookups++;
            if (x == NULL)
                missing++;
            else if (x->key != k || x->hash != conc_hash(k))
                bad++;
            else if (x->value < g0 || x->value > g1 + 1)
                stale++;
        }
        fdn__rcu_read_unlock();
        if (round % 8 == 0) {
            walks++;
            walk_bad += !conc_walk_ok(c);
        }
    }
    atomic_fetch_add_explicit(&c->lookups, lookups, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->missing, missing, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->stale, stale, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->bad, bad, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->walks, walks, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->walk_bad, walk_bad, memory_order_relaxed);
    return NULL;
}

static long relaxed_load(_Atomic long *x)
{
    return atomic_load_explicit(x, memory_order_relaxed);
}

/*
 * Concurrent writers, readers and resizes.  Every lookup of a stable key
 * (present for the whole test, only replaced) finds it, and finds the
 * item its owner last replaced it with or a newer one (old or new, never
 * neither and never an older one); every walk returns each stable key
 * exactly once and no item twice.  After the run the map holds exactly
 * the items published and not removed, each key at most once, and no
 * table is left after fini.
 * Checks: REG-S14 REG-L5 REG-F3 REG-S7 (the table's part)
 */
Test(registry_map, concurrent_writers_readers_and_resizes)
{
    static struct conc c;
    memset(&c, 0, sizeof c);
    lim_init(&c.la);
    c.seed = reg_seed("map concurrency");
    fdn__rcu_thread_enter();
    cr_assert_eq(fdn__map_init(&c.m, &c.la.a, item_hash), FDN_OK);
    for (uint64_t k = 0; k < C_STABLE; k++) {
        struct item *it = item_new(k, conc_hash(k), 0);
        cr_assert_eq(map_add(&c.m, it), it);
        atomic_init(&c.gen[k], 0);
    }
    atomic_init(&c.count, C_STABLE);
    cr_assert(fdn__map_fit(&c.m, C_STABLE));
    atomic_init(&c.writers_left, CW);
    pthread_barrier_init(&c.start, NULL, CW + CR);
    static struct conc_writer w[CW];
    pthread_t th[CW + CR];
    for (int i = 0; i < CW; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].c = &c;
        w[i].id = i;
        cr_assert_eq(pthread_create(&th[i], NULL, conc_writer_main, &w[i]),
                     0);
    }
    for (int i = 0; i < CR; i++)
        cr_assert_eq(pthread_create(&th[CW + i], NULL, conc_reader_main, &c),
                     0);
    for (int i = 0; i < CW + CR; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&c.start);

    long adds = 0, dels = 0, replaces = 0, fits = 0, errors = 0, oom = 0,
         fit_fails = 0;
    for (int i = 0; i < CW; i++) {
        adds += w[i].adds;
        dels += w[i].dels;
        replaces += w[i].replaces;
        fits += w[i].fits;
        errors += w[i].errors;
        oom += w[i].oom;
        fit_fails += w[i].fit_fails;
    }
    long resizes = lim_calls(&c.la) - 1;
    fprintf(stderr,
            "map concurrency: %ld adds, %ld dels, %ld replaces, %ld fits, "
            "%ld resizes; %ld lookups, %ld walks\n",
            adds, dels, replaces, fits, resizes, relaxed_load(&c.lookups),
            relaxed_load(&c.walks));
    cr_assert_eq(errors, 0, "writers saw %ld errors", errors);
    cr_assert_eq(oom, 0);
    cr_assert_eq(fit_fails, 0);
    cr_assert_eq(relaxed_load(&c.missing), 0,
                 "%ld lookups of a stable key found nothing",
                 relaxed_load(&c.missing));
    cr_assert_eq(relaxed_load(&c.bad), 0);
    cr_assert_eq(relaxed_load(&c.stale), 0,
                 "%ld lookups found an item older than the last replace",
                 relaxed_load(&c.stale));
    cr_assert_eq(relaxed_load(&c.walk_bad), 0, "%ld bad walks",
                 relaxed_load(&c.walk_bad));
    cr_assert_gt(relaxed_load(&c.lookups), 0);
    cr_assert_gt(relaxed_load(&c.walks), 0);
    cr_assert_gt(resizes, 100, "the table was resized only %ld times",
                 resizes);
    cr_assert_gt(adds, 0);
    cr_assert_gt(dels, 0);

    /* Quiescent: mark removed items, then the walk is exactly the items
     * published and not removed, each key once. */
    for (int i = 0; i < CW; i++)
        for (size_t j = 0; j < w[i].nretired; j++)
            w[i].retired[j]->value = -1;
    static uint8_t seen[C_VBASE + C_VOLATILE];
    memset(seen, 0, sizeof seen);
    long n = 0;
    bool ok = true;
    struct reg_map_iter it = {0};
    struct item *x;
    fdn__rcu_read_lock();
    while ((x = fdn__map_next(&c.m, &it)) != NULL) {
        n++;
        if (x->value < 0 || x->key >= C_VBASE + C_VOLATILE ||
            seen[x->key]++ != 0 ||
            (x->key < C_STABLE &&
             x->value != atomic_load_explicit(&c.gen[x->key],
                                              memory_order_relaxed)))
            ok = false;
    }
    for (uint64_t k = 0; k < C_VBASE + C_VOLATILE; k++) {
        if (k >= C_STABLE && k < C_VBASE)
            continue;
        x = fdn__map_lookup(&c.m, conc_hash(k), item_match, &k);
        if ((x != NULL) != (seen[k] == 1) || (x != NULL && x->key != k))
            ok = false;
    }
    fdn__rcu_read_unlock();
    cr_assert(ok, "the quiescent walk and lookups disagree");
    cr_assert_eq(n, C_STABLE + adds - dels);
    cr_assert_eq(n, relaxed_load(&c.count));

    /* Every removed item's last reader has left: free them. */
    fdn__rcu_synchronize();
    for (int i = 0; i < CW; i++) {
        for (size_t j = 0; j < w[i].nretired; j++)
            free(w[i].retired[j]);
        free(w[i].retired);
    }
    static struct item *live[C_STABLE + C_VOLATILE];
    size_t nlive = 0;
    memset(&it, 0, sizeof it);
    fdn__rcu_read_lock();
    while ((x = fdn__map_next(&c.m, &it)) != NULL)
        live[nlive++] = x;
    fdn__rcu_read_unlock();
    map_empty_and_fini(&c.m, &c.la);
    for (size_t i = 0; i < nlive; i++)
        free(live[i]);
}

/* Racers of the unique-winner test, and a thread that keeps resizing. */
enum { UW = 4, U_ROUNDS = 150, U_KEYS = 32, U_TOTAL = U_ROUNDS * U_KEYS };

struct uniq {
    struct reg_map m;
    struct lim_alloc la;
    pthread_barrier_t round; /* racers and the resizer, at each start */
    pthread_barrier_t done;  /* racers, at each end */
    _Atomic long count;      /* items in the map, for fit */
    struct item *mine[UW][U_TOTAL];
    struct item *got[UW][U_TOTAL];
    /* Racer 0's checks of each finished round, and the resizer's. */
    long bad_winner, bad_lookup, bad_walk, bad_del, fit_fails;
};

struct uniq_racer {
    struct uniq *u;
    int id;
};

/* A quarter of the keys in one home bucket with one tag (a chain, and a
 * path of buckets to lock for an add). */
static uint64_t uniq_hash(uint64_t key)
{
    return key % 4 == 0 ? key_hash(HASH_ONE, key) : key_hash(HASH_SPREAD, key);
}

/* The item of the racer that won key k, or NULL unless exactly one won
 * and every other got the winner's. */
static struct item *uniq_winner(struct uniq *u, uint64_t k)
{
    struct item *won = NULL;
    int winners = 0;
    for (int i = 0; i < UW; i++) {
        if (u->got[i][k] == u->mine[i][k]) {
            winners++;
            won = u->mine[i][k];
        }
    }
    for (int i = 0; i < UW; i++)
        if (u->got[i][k] != won)
            return NULL;
    return winners == 1 ? won : NULL;
}

/* Racer 0, once every racer finished round: the round's keys each have
 * one winner, which lookup returns and a walk holds once; then they go,
 * so the next copies stay small.  Nothing else writes meanwhile. */
static void uniq_check_round(struct uniq *u, int round)
{
    uint8_t seen[U_KEYS] = {0};
    uint64_t first = (uint64_t)round * U_KEYS;
    struct reg_map_iter it = {0};
    struct item *x;
    fdn__rcu_read_lock();
    while ((x = fdn__map_next(&u->m, &it)) != NULL)
        if (x->key < first || x->key >= first + U_KEYS ||
            seen[x->key - first]++ != 0)
            u->bad_walk++;
    for (uint64_t k = first; k < first + U_KEYS; k++) {
        struct item *won = uniq_winner(u, k);
        if (won == NULL) {
            u->bad_winner++;
            continue;
        }
        if (seen[k - first] != 1)
            u->bad_walk++;
        if (fdn__map_lookup(&u->m, won->hash, item_match, &k) != won)
            u->bad_lookup++;
        if (!fdn__map_del(&u->m, won->hash, won))
            u->bad_del++;
        else
            atomic_fetch_sub_explicit(&u->count, 1, memory_order_relaxed);
    }
    fdn__rcu_read_unlock();
}

static void *uniq_racer_main(void *arg)
{
    struct uniq_racer *r = arg;
    struct uniq *u = r->u;
    fdn__rcu_thread_enter();
    for (int round = 0; round < U_ROUNDS; round++) {
        pthread_barrier_wait(&u->round);
        for (int j = 0; j < U_KEYS; j++) {
            /* Half the racers go up the keys, half down. */
            int jj = r->id % 2 == 0 ? j : U_KEYS - 1 - j;
            uint64_t k = (uint64_t)(round * U_KEYS + jj);
            struct item *it = item_new(k, uniq_hash(k), r->id);
            u->mine[r->id][k] = it;
            fdn__rcu_read_lock();
            u->got[r->id][k] =
                fdn__map_add_unique(&u->m, it->hash, item_match, &k, it);
            fdn__rcu_read_unlock();
            if (u->got[r->id][k] == it)
                atomic_fetch_add_explicit(&u->count, 1, memory_order_relaxed);
        }
        /* The barrier orders every racer's results before the check. */
        pthread_barrier_wait(&u->done);
        if (r->id == 0)
            uniq_check_round(u, round);
    }
    return NULL;
}

/* Starts each round with the racers and copies the table eight times
 * meanwhile (shrunk to its items, grown to four times them, four times).
 * A fixed number per round: copies of the whole table back to back
 * starve the racers (once for seconds under ASan). */
static void *uniq_resizer_main(void *arg)
{
    struct uniq *u = arg;
    fdn__rcu_thread_enter();
    for (int round = 0; round < U_ROUNDS; round++) {
        pthread_barrier_wait(&u->round);
        for (int i = 0; i < 4; i++) {
            long n = atomic_load_explicit(&u->count, memory_order_relaxed);
            if (!fdn__map_fit(&u->m, 1))
                u->fit_fails++;
            if (!fdn__map_fit(&u->m, 4 * (uint64_t)(n > 0 ? n : 0) + 64))
                u->fit_fails++;
        }
    }
    return NULL;
}

/*
 * Racers add_unique the same fresh keys at once, round after round, while
 * another thread copies the table (fit with 1 and with four times the
 * count, eight copies a round): for each key exactly one racer gets its
 * own item back and every other gets the winner's, which lookup then
 * returns, and a walk holds each key once.
 * Checks: REG-S14 REG-L5 REG-S1 (the table's part)
 */
Test(registry_map, one_winner_per_key_across_resizes)
{
    static struct uniq u;
    memset(&u, 0, sizeof u);
    lim_init(&u.la);
    fdn__rcu_thread_enter();
    cr_assert_eq(fdn__map_init(&u.m, &u.la.a, item_hash), FDN_OK);
    atomic_init(&u.count, 0);
    pthread_barrier_init(&u.round, NULL, UW + 1);
    pthread_barrier_init(&u.done, NULL, UW);
    static struct uniq_racer r[UW];
    pthread_t th[UW + 1];
    for (int i = 0; i < UW; i++) {
        r[i].u = &u;
        r[i].id = i;
        cr_assert_eq(pthread_create(&th[i], NULL, uniq_racer_main, &r[i]), 0);
    }
    cr_assert_eq(pthread_create(&th[UW], NULL, uniq_resizer_main, &u), 0);
    for (int i = 0; i <= UW; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&u.round);
    pthread_barrier_destroy(&u.done);
    long resizes = lim_calls(&u.la) - 1;
    fprintf(stderr, "map unique race: %d keys, %ld resizes\n", U_TOTAL,
            resizes);

    for (uint64_t k = 0; k < U_TOTAL; k++)
        cr_assert_not_null(uniq_winner(&u, k), "key %llu: not one winner",
                           (unsigned long long)k);
    cr_assert_eq(u.bad_winner, 0);
    cr_assert_eq(u.bad_lookup, 0, "%ld lookups missed the winner",
                 u.bad_lookup);
    cr_assert_eq(u.bad_walk, 0, "%ld keys not held exactly once",
                 u.bad_walk);
    cr_assert_eq(u.bad_del, 0);
    cr_assert_eq(u.fit_fails, 0);
    /* Most rounds copy the table eight times; a fit that finds the table
     * sized already (the count it read was stale) copies nothing. */
    cr_assert_gt(resizes, 4 * U_ROUNDS, "the table was resized only %ld "
                                        "times", resizes);
    cr_assert_eq(map_walk_count(&u.m), 0);
    cr_assert(fdn__map_fini(&u.m));
    cr_assert_eq(lim_live(&u.la), 0);
    /* The winners were removed, the losers never published. */
    fdn__rcu_synchronize();
    for (int i = 0; i < UW; i++)
        for (int k = 0; k < U_TOTAL; k++)
            free(u.mine[i][k]);
}

/* ---- 5. fini ----------------------------------------------------------- */

/*
 * fini returns false for a map that still holds items (and frees its
 * table all the same), true for one emptied, also when overflow counts
 * had saturated on the way.
 * Checks: map.h contract (the table's part of REG-L2)
 */
Test(registry_map, fini_reports_a_non_empty_map)
{
    struct lim_alloc la;
    lim_init(&la);
    struct reg_map m;
    fdn__rcu_thread_enter();
    cr_assert_eq(fdn__map_init(&m, &la.a, item_hash), FDN_OK);
    struct item *its[3];
    for (int i = 0; i < 3; i++) {
        its[i] = item_new((uint64_t)i, key_hash(HASH_SPREAD, (uint64_t)i), i);
        cr_assert_eq(map_add(&m, its[i]), its[i]);
    }
    cr_assert_not(fdn__map_fini(&m), "fini of a map holding 3 items");
    cr_assert_eq(lim_live(&la), 0, "fini freed the table anyway");
    for (int i = 0; i < 3; i++)
        free(its[i]);

    /* 160 items in one home bucket (153 overflow past it), then none. */
    enum { N = 160 };
    static struct item *many[N];
    cr_assert_eq(fdn__map_init(&m, &la.a, item_hash), FDN_OK);
    for (int i = 0; i < N; i++) {
        many[i] = item_new((uint64_t)i, key_hash(HASH_ONE, (uint64_t)i), i);
        cr_assert_eq(map_add(&m, many[i]), many[i]);
    }
    cr_assert_eq(map_walk_count(&m), N);
    for (int i = 0; i < N; i++) {
        cr_assert(map_del(&m, many[i]));
        free(many[i]);
    }
    cr_assert_eq(map_walk_count(&m), 0);
    cr_assert(fdn__map_fini(&m), "fini of a map emptied after overflow");
    cr_assert_eq(lim_live(&la), 0);
}

/* ---- tables beyond 2^16 buckets ---------------------------------------- */

/*
 * A resize into a table of more than 2^16 buckets and back: the items'
 * homes there depend on hash bits above the low 16 (the slot keeps only
 * those, map.c), and every item is found again in both tables, including
 * a chain wrapping from the last bucket of the big table to bucket 0.
 * Checks: REG-S14
 */
Test(registry_map, resize_beyond_2_16_buckets_and_back)
{
    enum { N = 600 };
    static struct item *its[N];
    struct lim_alloc la;
    lim_init(&la);
    struct reg_map m;
    fdn__rcu_thread_enter();
    cr_assert_eq(fdn__map_init(&m, &la.a, item_hash), FDN_OK);
    for (int i = 0; i < N; i++) {
        /* Every fifth key in the last bucket, one tag. */
        enum hash_mode mode = i % 5 == 0 ? HASH_ONE : HASH_SPREAD;
        its[i] = item_new((uint64_t)i, key_hash(mode, (uint64_t)i), i);
        cr_assert_eq(map_add(&m, its[i]), its[i]);
    }
    cr_assert(fdn__map_fit(&m, N));
    uint64_t small = map_buckets(&m);
    cr_assert(fdn__map_fit(&m, UINT64_C(1) << 18));
    cr_assert_eq(map_buckets(&m), UINT64_C(1) << 17);
    for (int i = 0; i < N; i++)
        cr_assert_eq(map_get(&m, i % 5 == 0 ? HASH_ONE : HASH_SPREAD,
                             (uint64_t)i),
                     its[i], "item %d in the big table", i);
    cr_assert_eq(map_walk_count(&m), N);
    cr_assert(fdn__map_fit(&m, N));
    cr_assert_eq(map_buckets(&m), small);
    for (int i = 0; i < N; i++)
        cr_assert_eq(map_get(&m, i % 5 == 0 ? HASH_ONE : HASH_SPREAD,
                             (uint64_t)i),
                     its[i], "item %d after the shrink", i);
    map_empty_and_fini(&m, &la);
    for (int i = 0; i < N; i++)
        free(its[i]);
}

/* ---- regressions ------------------------------------------------------- */

struct fit_race {
    struct reg_map m;
    _Atomic bool stop;
    _Atomic long fits;
};

static void *fit_race_main(void *arg)
{
    struct fit_race *f = arg;
    fdn__rcu_thread_enter();
    /* Acquire: pairs with the release store that ends the test; it orders
     * nothing this thread reads in fit. */
    while (!atomic_load_explicit(&f->stop, memory_order_acquire)) {
        /* Outside any read-side critical section, as write.c calls it.
         * 20 items fit both tables the other thread makes (8 and 32
         * buckets), so this fit never resizes and never takes the
         * mutex. */
        fdn__map_fit(&f->m, 20);
        atomic_fetch_add_explicit(&f->fits, 1, memory_order_relaxed);
    }
    return NULL;
}

/*
 * fdn__map_fit runs in any context, and the registry calls it outside any
 * read-side critical section.  It once loaded m->cur and read the table's
 * mask before taking the resize mutex: a resize in another thread could
 * publish a new table and free the old one after a grace period the first
 * thread did not delay, and when that thread was preempted between its two
 * loads the second was a use after free (TSan reported it every run, ASan
 * now and then).  Here one thread calls fit, outside any critical section
 * and never needing a resize, while this thread resizes the map back and
 * forth.
 * Checks: REG-S14
 */
Test(registry_map, fit_outside_a_critical_section_during_resizes)
{
    static struct fit_race f;
    memset(&f, 0, sizeof f);
    struct lim_alloc la;
    lim_init(&la);
    fdn__rcu_thread_enter();
    cr_assert_eq(fdn__map_init(&f.m, &la.a, item_hash), FDN_OK);
    atomic_init(&f.stop, false);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, fit_race_main, &f), 0);
    cr_assert(REG_POLL_UNTIL(
        atomic_load_explicit(&f.fits, memory_order_relaxed) > 0));
    for (int i = 0; i < 400; i++) {
        /* 8 -> 32 buckets and back; the thread reads each table before
         * it goes (a relaxed counter: that orders nothing either). */
        cr_assert(fdn__map_fit(&f.m, i % 2 == 0 ? 40 : 1));
        long seen = atomic_load_explicit(&f.fits, memory_order_relaxed);
        cr_assert(REG_POLL_UNTIL(atomic_load_explicit(
                                     &f.fits, memory_order_relaxed) >
                                 seen + 1));
        if (i % 20 == 0)
            fdn__rcu_barrier(); /* let the old tables go meanwhile */
    }
    /* Release: pairs with the thread's acquire load. */
    atomic_store_explicit(&f.stop, true, memory_order_release);
    pthread_join(th, NULL);
    cr_assert(fdn__map_fini(&f.m));
    cr_assert_eq(lim_live(&la), 0);
}

/*
 * A count no table could hold is refused like out of memory.  fit for a
 * count above 2^58 once asked for a table whose size in bytes (buckets *
 * 64) wrapped around to a few bytes: the allocation succeeded and the map
 * claimed 2^58 buckets in a block of about a hundred bytes; a count above
 * 2^63 looped for ever holding every bucket lock.  Both must return false
 * and leave the map as it was.
 * Checks: REG-L5
 */
Test(registry_map, fit_with_a_count_no_table_holds)
{
    struct lim_alloc la;
    lim_init(&la);
    lim_set(&la, (size_t)1 << 30); /* nothing beyond 1 GiB */
    struct reg_map m;
    fdn__rcu_thread_enter();
    cr_assert_eq(fdn__map_init(&m, &la.a, item_hash), FDN_OK);
    bool ok = fdn__map_fit(&m, (UINT64_C(1) << 58) + 1);
    uint64_t b = map_buckets(&m);
    cr_assert_not(ok, "fit for 2^58 + 1 items returned true with %llu "
                      "buckets", (unsigned long long)b);
    cr_assert_eq(b, 8);
    cr_assert_not(fdn__map_fit(&m, UINT64_MAX));
    cr_assert_eq(map_buckets(&m), 8);
    cr_assert(fdn__map_fini(&m));
    cr_assert_eq(lim_live(&la), 0);
}

/*
 * Keys are hashed with a seed each registry draws at creation: keys found
 * to share a home bucket (the low 16 bits of the hash) under one
 * registry's seed are spread under another's, so a flood of names
 * computed ahead cannot make one process's lookups walk a long chain.
 * Checks: REG-S14
 */
Test(registry_map, key_hash_is_seeded_per_registry)
{
    reg_fixture_t fx;
    reg_fixture_up(&fx, 1);
    fdn_registry_t *other;
    cr_assert_eq(fdn_registry_create(fx.rt, NULL, &other), FDN_OK);
    cr_assert_neq(fx.reg->seed, other->seed);
    enum { WANT = 40 };
    char key[32];
    size_t len = (size_t)snprintf(key, sizeof key, "x0");
    uint64_t home = fdn__reg_hash_key(fx.reg, key, len) & 0xffff;
    int found = 0, still = 0;
    for (uint32_t i = 1; found < WANT && i < 20000000U; i++) {
        len = (size_t)snprintf(key, sizeof key, "x%u", i);
        if ((fdn__reg_hash_key(fx.reg, key, len) & 0xffff) != home)
            continue;
        found++;
        snprintf(key, sizeof key, "x0");
        uint64_t other_home = fdn__reg_hash_key(other, key, 2) & 0xffff;
        len = (size_t)snprintf(key, sizeof key, "x%u", i);
        still += (fdn__reg_hash_key(other, key, len) & 0xffff) == other_home;
    }
    cr_assert_eq(found, WANT, "found %d keys sharing x0's bucket", found);
    /* By chance each would share it with probability 2^-16. */
    cr_assert_leq(still, 2, "%d of %d colliding keys still collide", still,
                  WANT);
    fdn_registry_destroy(other);
    reg_fixture_down(&fx);
}
