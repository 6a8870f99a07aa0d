/*
 * registry/map.c — the registry's hash table of entries (see map.h for
 * the layout and the protocol).
 *
 * Orderings.  Every store to a bucket's control word or slots is made by
 * the bucket's lock holder (or by the resizer into a table nobody else
 * sees yet); the lock is taken with an acquire CAS and given back with a
 * release store, so lock holders see each other's changes.  Readers pair
 * their acquire loads with the holder's release stores: slot before tag
 * on insert, so a visible tag means a visible item (and the item's
 * contents, written before the slot store); the table pointer is
 * published with a release store after the copy is complete.
 */
#include "registry/map.h"

#include <sched.h>
#include <string.h>

#include <urcu/arch.h>

#define MAP_MIN_BUCKETS UINT64_C(8)
/* Load kept in [1 / MAP_SHRINK_BELOW, MAP_GROW_ABOVE] items per bucket;
 * a resize aims at MAP_TARGET_LOAD (at most that many per bucket). */
#define MAP_GROW_ABOVE 4
#define MAP_SHRINK_BELOW 2
#define MAP_TARGET_LOAD 2
#define MAP_SPINS 64
/* A writer meeting a resize spins (then yields) this many times before
 * it sleeps on the resize mutex (wait_resize). */
#define MAP_WAIT_SPINS 4096
/* Far beyond any memory (2^40 buckets of 64 bytes), and low enough that
 * no size computation overflows. */
#define MAP_MAX_BUCKETS (UINT64_C(1) << 40)
/* Tables of at least this many bytes are faulted in at once
 * (fdn__prefault); below, a table spans too few pages to gain. */
#define MAP_PREFAULT_BYTES ((size_t)64 << 10)
/* Tables of at least this many bytes ask for huge pages
 * (fdn__advise_huge); such a block holds at least one aligned 2 MiB. */
#define MAP_HUGE_BYTES ((size_t)4 << 20)
/* How many buckets ahead a resize prefetches. */
#define MAP_AHEAD 8

/* ---- slots (the layout is in map.h) ------------------------------------ */

/* The slot word of item with hash (map.h). */
static uint64_t slot_word(const void *item, uint64_t hash)
{
    uint64_t a = (uint64_t)(uintptr_t)item;
    if ((a & ~MAP_ADDR_MASK) != 0)
        FDN_PANIC("registry map: item address above 2^48");
    return a | ((hash & MAP_LOW_MASK) << MAP_ADDR_BITS);
}

/* ---- control words ----------------------------------------------------- */

/* The first empty slot of a bucket whose control word is ctl, or -1. */
static int free_slot(uint64_t ctl)
{
    for (int s = 0; s < MAP_SLOTS; s++)
        if (fdn__map_slot_tag(ctl, s) == 0)
            return s;
    return -1;
}

/* Adds d (+1 or -1) to the overflow count in ctl; a saturated count
 * stays saturated (readers then merely probe further). */
static uint64_t ovf_add(uint64_t ctl, int d)
{
    uint64_t o = fdn__map_ovf_of(ctl);
    if (o == MAP_OVF_MAX)
        return ctl;
    o = d > 0 ? o + 1 : o - 1;
    return (ctl & ~MAP_OVF_MASK) | (o << MAP_OVF_SHIFT);
}

/* ---- tables ------------------------------------------------------------ */

static struct reg_map_tbl *tbl_new(const fdn_allocator_t *alloc,
                                   uint64_t buckets)
{
    if (buckets == 0 || buckets > MAP_MAX_BUCKETS)
        return NULL; /* as out of memory: the size would not fit */
    size_t bytes = sizeof(struct reg_map_tbl) + 63 +
                   (size_t)buckets * sizeof(struct map_bucket);
    char *block = alloc->alloc(alloc->ctx, bytes);
    if (block == NULL)
        return NULL;
    /* A big table on huge pages (a lookup in a table of a million
     * entries was a TLB miss as well as a cache miss: the same 1,000 hot
     * keys, 28 M lookups/s on 4 KiB pages, 32 M/s on huge pages). */
    if (bytes >= MAP_HUGE_BYTES)
        fdn__advise_huge(block, bytes);
    /* Every bucket is written now (zeroed) and soon (filled). */
    if (bytes >= MAP_PREFAULT_BYTES)
        fdn__prefault(block, bytes);
    memset(block, 0, bytes);
    struct reg_map_tbl *t = (struct reg_map_tbl *)(void *)block;
    uintptr_t first = ((uintptr_t)(block + sizeof *t) + 63) & ~(uintptr_t)63;
    t->b = (struct map_bucket *)first;
    t->mask = buckets - 1;
    t->alloc = alloc;
    atomic_init(&t->frozen, false);
    return t;
}

static void tbl_free_rcu(struct rcu_head *head)
{
    fdn__rcu_callback_begin();
    struct reg_map_tbl *t = caa_container_of(head, struct reg_map_tbl, rcu);
    fdn__free(t->alloc, t);
    fdn__rcu_callback_end();
}

/* ---- bucket locks ------------------------------------------------------ */

static bool bucket_trylock(struct map_bucket *b)
{
    /* Relaxed first look; the CAS acquires the last holder's stores. */
    uint64_t c = atomic_load_explicit(&b->ctl, memory_order_relaxed);
    return (c & MAP_LOCK) == 0 &&
           atomic_compare_exchange_strong_explicit(&b->ctl, &c, c | MAP_LOCK,
                                                   memory_order_acquire,
                                                   memory_order_relaxed);
}

/* The holder's own view of its bucket's control word. */
static uint64_t held_ctl(struct map_bucket *b)
{
    /* Relaxed: only the holder stores it while it is locked. */
    return atomic_load_explicit(&b->ctl, memory_order_relaxed);
}

/* The holder's store of a new control word (still locked); release:
 * readers that see it see the slot stores before it. */
static void held_set(struct map_bucket *b, uint64_t ctl)
{
    atomic_store_explicit(&b->ctl, ctl | MAP_LOCK, memory_order_release);
}

static void bucket_unlock(struct map_bucket *b)
{
    atomic_store_explicit(&b->ctl, held_ctl(b) & ~MAP_LOCK,
                          memory_order_release);
}

static void backoff(unsigned spins)
{
    if (spins < MAP_SPINS)
        caa_cpu_relax();
    else
        sched_yield();
}

/* Waits until the resize that froze t has ended: spinning (and
 * yielding) first, as a copy takes well under a millisecond up to tables
 * of some 100,000 entries and a sleep on the mutex cost the waiter a
 * futex wake-up and two context switches more; then on the resize mutex,
 * which the resizer holds throughout. */
static void wait_resize(struct reg_map *m, struct reg_map_tbl *t)
{
    /* Acquire: pairs with the resizer's publication (a new table) or
     * its unfreezing store (out of memory); either ends the resize. */
    for (unsigned spins = 0; spins < MAP_WAIT_SPINS; spins++) {
        if (atomic_load_explicit(&m->cur, memory_order_acquire) != t ||
            !atomic_load_explicit(&t->frozen, memory_order_acquire))
            return;
        backoff(spins);
    }
    pthread_mutex_lock(&m->resize_mutex);
    pthread_mutex_unlock(&m->resize_mutex);
}

/* Locks t's bucket b, spinning while a writer holds it.  False if t froze
 * for a resize: this waited for the resize to end, and the caller starts
 * again on the new table.  Holds no other bucket lock. */
static bool home_lock(struct reg_map *m, struct reg_map_tbl *t,
                      struct map_bucket *b)
{
    for (unsigned spins = 0;; spins++) {
        if (bucket_trylock(b))
            return true;
        /* Acquire: pairs with the resizer's store; a frozen table's
         * buckets end up locked for good. */
        if (atomic_load_explicit(&t->frozen, memory_order_acquire)) {
            wait_resize(m, t);
            return false;
        }
        backoff(spins);
    }
}

/* Unlocks the path [h, h + held) of t. */
static void path_unlock(struct reg_map_tbl *t, uint64_t h, uint64_t held)
{
    for (uint64_t k = 0; k < held; k++)
        bucket_unlock(fdn__map_bucket(t, h + k));
}

/* Locks the bucket after the locked path [h, h + *held) without waiting;
 * false if it is busy (the caller drops the path and starts again). */
static bool path_extend(struct reg_map_tbl *t, uint64_t h, uint64_t *held)
{
    if (!bucket_trylock(fdn__map_bucket(t, h + *held)))
        return false;
    (*held)++;
    return true;
}

/* ---- reads ------------------------------------------------------------- */

void *fdn__map_next(struct reg_map *m, struct reg_map_iter *it)
{
    if (it->t == NULL) {
        it->t = atomic_load_explicit(&m->cur, memory_order_acquire);
        it->pos = 0;
    }
    struct reg_map_tbl *t = it->t;
    uint64_t end = (t->mask + 1) * MAP_SLOTS;
    while (it->pos < end) {
        uint64_t i = it->pos / MAP_SLOTS;
        int s = (int)(it->pos % MAP_SLOTS);
        it->pos++;
        struct map_bucket *b = &t->b[i];
        uint64_t ctl = atomic_load_explicit(&b->ctl, memory_order_acquire);
        if (fdn__map_slot_tag(ctl, s) == 0)
            continue;
        uint64_t w = atomic_load_explicit(&b->slot[s], memory_order_acquire);
        /* As in probe: an item whose tag is gone was freed from the slot
         * and may be an add's that has not taken effect yet. */
        if (w != 0 &&
            fdn__map_slot_tag(atomic_load_explicit(&b->ctl, memory_order_acquire),
                     s) != 0)
            return fdn__map_slot_item(w);
    }
    return NULL;
}

/* ---- writes ------------------------------------------------------------ */

/* Puts item in the first free slot from bucket h on, counting it as
 * overflow in every full bucket it passes, in a table only the caller
 * writes (a new one being filled).  False if the table is full. */
static bool place_private(struct reg_map_tbl *t, uint64_t hash, void *item)
{
    for (uint64_t d = 0; d <= t->mask; d++) {
        struct map_bucket *b = fdn__map_bucket(t, hash + d);
        uint64_t ctl = atomic_load_explicit(&b->ctl, memory_order_relaxed);
        int s = free_slot(ctl);
        if (s < 0)
            continue;
        for (uint64_t k = 0; k < d; k++) {
            struct map_bucket *p = fdn__map_bucket(t, hash + k);
            atomic_store_explicit(
                &p->ctl,
                ovf_add(atomic_load_explicit(&p->ctl, memory_order_relaxed),
                        1),
                memory_order_relaxed);
        }
        atomic_store_explicit(&b->slot[s], slot_word(item, hash),
                              memory_order_relaxed);
        atomic_store_explicit(&b->ctl,
                              ctl | (fdn__map_tag_of(hash) << (8 * (s + 1))),
                              memory_order_relaxed);
        return true;
    }
    return false;
}

enum { MAP_DONE = 1, MAP_BUSY = 0, MAP_NONE = -1 };

/*
 * With t's bucket h (= hash's home) locked: puts item in the first free
 * slot from h on.  The overflow counts of the buckets it passes go up
 * first, then the slot and (the moment it becomes visible) the tag.
 * Returns MAP_DONE, MAP_BUSY (a later bucket was locked) or MAP_NONE (no
 * free slot); in every case the path is unlocked on return and, unless
 * MAP_DONE, nothing changed.
 */
static int place(struct reg_map_tbl *t, uint64_t h, uint64_t hash,
                 void *item)
{
    uint64_t held = 1;
    for (;;) {
        struct map_bucket *b = fdn__map_bucket(t, h + held - 1);
        uint64_t ctl = held_ctl(b);
        int s = free_slot(ctl);
        if (s >= 0) {
            for (uint64_t k = 0; k + 1 < held; k++) {
                struct map_bucket *p = fdn__map_bucket(t, h + k);
                held_set(p, ovf_add(held_ctl(p), 1));
            }
            atomic_store_explicit(&b->slot[s], slot_word(item, hash),
                                  memory_order_release);
            held_set(b, ctl | (fdn__map_tag_of(hash) << (8 * (s + 1))));
            path_unlock(t, h, held);
            return MAP_DONE;
        }
        if (held > t->mask) {
            path_unlock(t, h, held);
            return MAP_NONE;
        }
        if (!path_extend(t, h, &held)) {
            path_unlock(t, h, held);
            return MAP_BUSY;
        }
    }
}

/*
 * With t's bucket h locked: finds item on its probe path from h, locking
 * the path as it goes.  MAP_DONE: the path [h, h + *held) is locked and
 * item is in its last bucket's slot *slot.  MAP_BUSY / MAP_NONE (busy,
 * not there): the path is unlocked.
 */
static int locate(struct reg_map_tbl *t, uint64_t h, const void *item,
                  uint64_t *held, int *slot)
{
    *held = 1;
    for (;;) {
        struct map_bucket *b = fdn__map_bucket(t, h + *held - 1);
        uint64_t ctl = held_ctl(b);
        for (int s = 0; s < MAP_SLOTS; s++) {
            if (fdn__map_slot_tag(ctl, s) != 0 &&
                fdn__map_slot_item(atomic_load_explicit(&b->slot[s],
                                               memory_order_relaxed)) ==
                    item) {
                *slot = s;
                return MAP_DONE;
            }
        }
        if (fdn__map_ovf_of(ctl) == 0 || *held > t->mask) {
            path_unlock(t, h, *held);
            return MAP_NONE;
        }
        if (!path_extend(t, h, held)) {
            path_unlock(t, h, *held);
            return MAP_BUSY;
        }
    }
}

static bool resize(struct reg_map *m, struct reg_map_tbl *t, uint64_t count);

void fdn__map_prefetch(struct reg_map *m, uint64_t hash)
{
    struct reg_map_tbl *t =
        atomic_load_explicit(&m->cur, memory_order_acquire);
    __builtin_prefetch(fdn__map_bucket(t, hash), 1);
}

/* Grows a full table t (the caller's writes found no free slot): false
 * only if memory ran out. */
static bool grow_full(struct reg_map *m, struct reg_map_tbl *t)
{
    bool ok = true;
    pthread_mutex_lock(&m->resize_mutex);
    if (atomic_load_explicit(&m->cur, memory_order_acquire) == t)
        ok = resize(m, t, (t->mask + 1) * MAP_SLOTS + 1);
    pthread_mutex_unlock(&m->resize_mutex);
    return ok;
}

void *fdn__map_add_unique(struct reg_map *m, uint64_t hash,
                          fdn__map_match_fn match, const void *arg,
                          void *item)
{
    for (unsigned spins = 0;; spins++) {
        struct reg_map_tbl *t =
            atomic_load_explicit(&m->cur, memory_order_acquire);
        uint64_t h = hash & t->mask;
        if (!home_lock(m, t, fdn__map_bucket(t, h)))
            continue;
        /* Every change to this key holds its home bucket, which we hold:
         * what probe finds cannot change until we unlock. */
        void *found = fdn__map_probe(t, hash, match, arg);
        if (found != NULL) {
            bucket_unlock(fdn__map_bucket(t, h));
            return found;
        }
        int r = place(t, h, hash, item);
        if (r == MAP_DONE)
            return item;
        if (r == MAP_NONE && !grow_full(m, t))
            return NULL;
        backoff(spins);
    }
}

/*
 * Locks the probe path of item (added with hash) in the current table,
 * retrying while a bucket on it is busy or the table is resized.  True:
 * the path [*h, *h + *held) of *t is locked and item is in its last
 * bucket's slot *slot.  False: item is not in the map (nothing held).
 */
static bool locate_locked(struct reg_map *m, uint64_t hash, const void *item,
                          struct reg_map_tbl **t, uint64_t *h,
                          uint64_t *held, int *slot)
{
    for (unsigned spins = 0;; spins++) {
        *t = atomic_load_explicit(&m->cur, memory_order_acquire);
        *h = hash & (*t)->mask;
        if (!home_lock(m, *t, fdn__map_bucket(*t, *h)))
            continue;
        int r = locate(*t, *h, item, held, slot);
        if (r != MAP_BUSY)
            return r == MAP_DONE;
        backoff(spins);
    }
}

bool fdn__map_del(struct reg_map *m, uint64_t hash, const void *item)
{
    struct reg_map_tbl *t;
    uint64_t h, held;
    int s;
    if (!locate_locked(m, hash, item, &t, &h, &held, &s))
        return false;
    /* The tag goes first: from then on no reader finds it. */
    struct map_bucket *b = fdn__map_bucket(t, h + held - 1);
    held_set(b, held_ctl(b) & ~(UINT64_C(0xff) << (8 * (s + 1))));
    atomic_store_explicit(&b->slot[s], 0, memory_order_relaxed);
    for (uint64_t k = 0; k + 1 < held; k++) {
        struct map_bucket *p = fdn__map_bucket(t, h + k);
        held_set(p, ovf_add(held_ctl(p), -1));
    }
    path_unlock(t, h, held);
    return true;
}

bool fdn__map_replace(struct reg_map *m, uint64_t hash, const void *old,
                      void *item)
{
    struct reg_map_tbl *t;
    uint64_t h, held;
    int s;
    if (!locate_locked(m, hash, old, &t, &h, &held, &s))
        return false;
    /* Release: publishes item; the tag (same hash) stays. */
    atomic_store_explicit(&fdn__map_bucket(t, h + held - 1)->slot[s],
                          slot_word(item, hash), memory_order_release);
    path_unlock(t, h, held);
    return true;
}

/* ---- resizing ---------------------------------------------------------- */

/* The bucket count for count items: the smallest power of two (at least
 * the minimum) with at most MAP_TARGET_LOAD items per bucket. */
static uint64_t buckets_for(uint64_t count)
{
    uint64_t b = MAP_MIN_BUCKETS;
    while (b * MAP_TARGET_LOAD < count) {
        if (b >= MAP_MAX_BUCKETS)
            return 0; /* too many for any table: tbl_new refuses */
        b <<= 1;
    }
    return b;
}

static bool needs_resize(uint64_t buckets, uint64_t count)
{
    return count > buckets * MAP_GROW_ABOVE ||
           (buckets > MAP_MIN_BUCKETS && count * MAP_SHRINK_BELOW < buckets);
}

/*
 * Replaces t (the current table; caller holds the resize mutex) by a copy
 * sized for max(count, the items t holds).  False if out of memory: t
 * stays current (and unfrozen).
 *
 * The new table is allocated and zeroed before t freezes, sized for count,
 * so writers go on while its pages are faulted in; only if more items
 * arrived meanwhile than it holds at its target load is a bigger one
 * allocated with t frozen.
 */
/* Starts loading the new table's home buckets of the items in t's
 * (locked) bucket i, when the slots tell them (n of at most 2^16
 * buckets): the copy writes to scattered buckets, a cache miss each if
 * taken one after another. */
static void prefetch_homes(struct reg_map_tbl *t, struct reg_map_tbl *n,
                           uint64_t i)
{
    if (n->mask > MAP_LOW_MASK)
        return;
    struct map_bucket *b = &t->b[i];
    uint64_t ctl = held_ctl(b);
    for (int s = 0; s < MAP_SLOTS; s++) {
        if (fdn__map_slot_tag(ctl, s) == 0)
            continue;
        uint64_t w = atomic_load_explicit(&b->slot[s], memory_order_relaxed);
        __builtin_prefetch(&n->b[fdn__map_slot_low(w) & n->mask], 1);
    }
}

static bool resize(struct reg_map *m, struct reg_map_tbl *t, uint64_t count)
{
    uint64_t want = buckets_for(count);
    struct reg_map_tbl *n = tbl_new(m->alloc, want);
    if (n == NULL)
        return false;
    /* Writers that see this and find a bucket locked wait for us. */
    atomic_store_explicit(&t->frozen, true, memory_order_seq_cst);
    uint64_t items = 0;
    for (uint64_t i = 0; i <= t->mask; i++) {
        struct map_bucket *b = &t->b[i];
        /* The buckets were last written on other cores: ask for the
         * ones ahead while this one's lock is taken. */
        if (i + MAP_AHEAD <= t->mask)
            __builtin_prefetch(&t->b[i + MAP_AHEAD], 1);
        for (unsigned spins = 0; !bucket_trylock(b); spins++)
            backoff(spins);
        uint64_t ctl = held_ctl(b);
        for (int s = 0; s < MAP_SLOTS; s++)
            items += fdn__map_slot_tag(ctl, s) != 0;
    }
    if (items > count && buckets_for(items) > want) {
        fdn__free(m->alloc, n);
        n = tbl_new(m->alloc, buckets_for(items));
        if (n == NULL) {
            atomic_store_explicit(&t->frozen, false, memory_order_relaxed);
            path_unlock(t, 0, t->mask + 1);
            return false;
        }
    }
    for (uint64_t i = 0; i <= t->mask; i++) {
        struct map_bucket *b = &t->b[i];
        uint64_t ctl = held_ctl(b);
        if (i + MAP_AHEAD <= t->mask)
            prefetch_homes(t, n, i + MAP_AHEAD);
        for (int s = 0; s < MAP_SLOTS; s++) {
            if (fdn__map_slot_tag(ctl, s) == 0)
                continue;
            uint64_t w =
                atomic_load_explicit(&b->slot[s], memory_order_relaxed);
            void *item = fdn__map_slot_item(w);
            /* The home bucket of a table of at most 2^16 buckets needs
             * only the hash's low 16 bits, which the slot keeps; the tag
             * is the hash's top byte. */
            uint64_t hash = n->mask <= MAP_LOW_MASK
                                ? (fdn__map_slot_tag(ctl, s) << 56) | fdn__map_slot_low(w)
                                : m->hash(item);
            if (!place_private(n, hash, item))
                FDN_PANIC("registry map: new table too small");
        }
    }
    /* Release: a reader of the new table sees the whole copy.  t's
     * buckets stay locked: it is frozen for good, freed after every
     * reader and waiting writer has left it. */
    atomic_store_explicit(&m->cur, n, memory_order_release);
    /* Relaxed: a hint for fdn__map_fit, re-read under the mutex. */
    atomic_store_explicit(&m->buckets, n->mask + 1, memory_order_relaxed);
    fdn__rcu_call(&t->rcu, tbl_free_rcu);
    return true;
}

bool fdn__map_fit(struct reg_map *m, uint64_t count)
{
    /* The bucket count, not the table: outside a read-side critical
     * section the current table may be retired and freed under us. */
    if (!needs_resize(
            atomic_load_explicit(&m->buckets, memory_order_relaxed), count))
        return true;
    if (pthread_mutex_trylock(&m->resize_mutex) != 0)
        return true; /* another thread is resizing */
    bool ok = true;
    /* Under the mutex the current table cannot change or be retired. */
    struct reg_map_tbl *t = atomic_load_explicit(&m->cur, memory_order_acquire);
    if (needs_resize(t->mask + 1, count))
        ok = resize(m, t, count);
    pthread_mutex_unlock(&m->resize_mutex);
    return ok;
}

uint64_t fdn__map_buckets(struct reg_map *m)
{
    return atomic_load_explicit(&m->buckets, memory_order_relaxed);
}

/* ---- lifecycle --------------------------------------------------------- */

int fdn__map_init(struct reg_map *m, const fdn_allocator_t *alloc,
                  fdn__map_hash_fn hash)
{
    m->hash = hash;
    m->alloc = alloc;
    struct reg_map_tbl *t = tbl_new(alloc, MAP_MIN_BUCKETS);
    if (t == NULL)
        return FDN_ENOMEM;
    atomic_init(&m->cur, t);
    atomic_init(&m->buckets, MAP_MIN_BUCKETS);
    pthread_mutex_init(&m->resize_mutex, NULL);
    return FDN_OK;
}

bool fdn__map_fini(struct reg_map *m)
{
    struct reg_map_tbl *t = atomic_load_explicit(&m->cur, memory_order_acquire);
    bool empty = true;
    for (uint64_t i = 0; i <= t->mask; i++)
        empty &= (atomic_load_explicit(&t->b[i].ctl, memory_order_relaxed) &
                  ~MAP_LOCK & ~MAP_OVF_MASK) == 0;
    fdn__free(m->alloc, t);
    pthread_mutex_destroy(&m->resize_mutex);
    return empty;
}
